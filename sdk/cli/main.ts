import { SetpointError } from "../errors";
import { packageVersion } from "../version";
import { prCommentCommand } from "./pr-comment";
import { schemaCommand } from "./schema";
import { upgradeCommand } from "./upgrade";

/** Where the CLI writes; injectable for tests. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when a person is at a terminal (stdin and stdout are TTYs): the CLI may ask. @default false */
  interactive?: boolean;
  /** Asks a question and resolves to the answer line (only called when `interactive`). */
  prompt?: (question: string) => Promise<string>;
  /** Everything piped into stdin (`pr-comment`). */
  readStdin?: () => Promise<string>;
}

const defaultIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  prompt: async (question) => {
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

/** Exit codes of the `setpoint` command: a stable contract for scripts. */
export const EXIT = { ok: 0, error: 1, refused: 2 } as const;

/** Usage text printed by `setpoint --help` and on unknown commands. */
export const USAGE = `Usage: setpoint <command> [options]

Commands:
  schema plan     --url URL --schema PATH [--dev-url URL] [--allow-hazards CODES|all] [--format text|json|sql] [--out PLAN.json]
  schema apply    --url URL --schema PATH [--dev-url URL] [--allow-hazards CODES|all] [--yes]
  schema apply    PLAN.json --url URL [--allow-hazards CODES|all]   run exactly a saved plan
  schema inspect  --url URL [--format sql|json]
  upgrade plan      --blue URL --green URL [--schema PATH] [--format text|json]
  upgrade run       --blue URL --green URL [--schema PATH] [--until synchronized|switched] [--finalize]
  upgrade rollback  --blue URL --green URL
  upgrade finalize  --blue URL --green URL
  pr-comment      [--file PREVIEW.json]   Markdown summary of \`pulumi preview --json\` (stdin without --file)

Schema options:
  --url URL             the target database (postgres://user:password@host:port/db)
  --schema PATH         desired state: a .sql file, or a directory of .sql files applied in name order
  --dev-url URL         server for scratch databases that normalize the desired SQL
                        (default: an embedded server of the target's major version)
  --allow-hazards LIST  hazard codes to accept, comma-separated, or "all"
  --offline             plain DDL instead of online-safe forms (empty or offline databases)
  --schemas LIST        schemas to manage (default: those in the desired state)
  --rename table:S.OLD=NEW | column:S.T.OLD=NEW   declare a rename (repeatable)
  --lock-timeout MS     lock_timeout for each step (default 3000)
  --yes                 apply without stopping at the plan (on a terminal, apply asks instead)
  --out PLAN.json       save the plan: \`schema apply PLAN.json\` runs exactly it, and refuses if
                        the database changed since or the file was edited

Upgrade options (blue-green major-version upgrade; state kept in setpoint.upgrades on blue):
  --blue URL / --green URL   the database to upgrade and the new, empty one (superusers)
  --name NAME                which upgrade, when blue has several (default "default")
  --deadline MS              cutover deadline from fence to switch (default 30000)
  --verify MODE              checksums | counts | none (default checksums)
  --pgbouncer-admin URL --pgbouncer-file PATH --pgbouncer-db NAME [--pgbouncer-user NAME]
                             switch traffic by pausing and repointing PgBouncer (default: blue is
                             closed to logins and the application is repointed by you)
  --allow-objects-not-copied accept blue objects Setpoint cannot create on green

Options:
  -h, --help      show this help
  -v, --version   print the version

Exit codes: 0 ok, 1 error, 2 refused (by hazards, or by the upgrade preflight).
`;

/**
 * Runs the CLI with `argv` (without the node and script paths) and resolves to the exit code.
 * Never throws: errors are printed to stderr with their fix.
 */
export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  const [command] = argv;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      io.stdout(USAGE);
      return command === undefined ? EXIT.error : EXIT.ok;
    }
    if (command === "-v" || command === "--version" || command === "version") {
      io.stdout(`${packageVersion()}\n`);
      return EXIT.ok;
    }
    if (command === "schema") return await schemaCommand(argv.slice(1), io);
    if (command === "upgrade") return await upgradeCommand(argv.slice(1), io);
    if (command === "pr-comment") return await prCommentCommand(argv.slice(1), io, io.readStdin);
    io.stderr(`setpoint: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.error;
  } catch (err) {
    io.stderr(`setpoint: ${formatError(err)}\n`);
    return err instanceof SetpointError && err.code === "HAZARDS_REFUSED" ? EXIT.refused : EXIT.error;
  }
}

function formatError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
