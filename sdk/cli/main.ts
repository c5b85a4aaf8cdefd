import { SetpointError } from "../errors";
import { packageVersion } from "../version";
import { CONNECTION, HELP, SCHEMA_FLAGS, UPGRADE_RUN_FLAGS, unknownCommand } from "./args";
import { backupCommand } from "./backup";
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
  schema verify   --url URL --schema PATH [--dev-url URL] [--format text|json]
                  compare the database's catalogs with the desired state's (exit 1 on a difference)
  schema inspect  --url URL [--format sql|json]
  upgrade plan      --blue URL --green URL [--schema PATH] [--until STAGE] [--finalize | --rollback] [--format text|json]
  upgrade run       --blue URL --green URL [--schema PATH] [--until schema-ready|synchronized|switched] [--finalize]
  upgrade rollback  --blue URL --green URL
  upgrade finalize  --blue URL --green URL
  upgrade forget    --blue URL --green URL   (abort before the switch, finalize after; never moves traffic)
  backup list       --endpoint URL --bucket NAME [--prefix PATH]   base backups and the recoverable window
  backup describe   --endpoint URL --bucket NAME [--prefix PATH] [--backup ID]   plus the WAL archive and its gaps
  pr-comment      [--file PREVIEW.json]   Markdown summary of \`pulumi preview --json\` (stdin without --file)

Run "setpoint <command> --help" or "setpoint <command> <subcommand> --help" for details, e.g.
"setpoint schema plan --help" (timeouts of each step, data probes, connection strings).

Schema options (of plan and apply):
${SCHEMA_FLAGS}
  --yes                 apply without stopping at the plan (on a terminal, apply asks instead)
  --out PLAN.json       save the plan: \`schema apply PLAN.json\` runs exactly it, and refuses if
                        the database changed since or the file was edited

Upgrade options (blue-green major-version upgrade; state kept in setpoint.upgrades on blue):
${UPGRADE_RUN_FLAGS}

${CONNECTION}

Options:
  -h, --help      show this help
  -v, --version   print the version

Exit codes: 0 ok, 1 error, 2 refused (by hazards, by the upgrade preflight or state, or because
another runner is running an upgrade of the same blue database).
`;

/**
 * Runs the CLI with `argv` (without the node and script paths) and resolves to the exit code.
 * Never throws: errors are printed to stderr with their fix.
 */
export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  const [command] = argv;
  try {
    if (command === "help" && argv.length > 1) {
      const text = HELP[argv.slice(1).join(" ")];
      if (text === undefined) throw unknownCommand(argv.slice(1).join(" "), Object.keys(HELP), "help");
      io.stdout(text);
      return EXIT.ok;
    }
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
    if (command === "backup") return await backupCommand(argv.slice(1), io);
    throw unknownCommand(command, ["schema", "upgrade", "backup", "pr-comment", "help", "version"], "");
  } catch (err) {
    io.stderr(`setpoint: ${formatError(err)}\n`);
    return err instanceof SetpointError && err.code === "HAZARDS_REFUSED" ? EXIT.refused : EXIT.error;
  }
}

function formatError(err: unknown): string {
  return redactSecrets(err instanceof Error ? err.message : String(err));
}

/**
 * Masks what looks like a password in text bound for the terminal: a URL's `user:password@`, a
 * connection string's `password=...` (quoted or not), a `password` query parameter. Every error
 * already redacts what it knows; this guards the rest (a server or library message echoing input).
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, "$1***@")
    .replace(/(\bpassword\s*=\s*)(?!\*\*\*)(?:'(?:\\.|[^'\\])*'?|\S+)/gi, "$1***")
    .replace(/([?&][^=&\s]*pass[^=&\s]*=)[^&\s]+/gi, "$1***");
}
