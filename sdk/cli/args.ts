import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../errors";

/**
 * Argument parsing shared by the `setpoint` commands: strict flags with "did you mean" for
 * unknown ones, and the help texts of every command and subcommand.
 */

/** Flags of one parseArgs call. */
export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parseFlags} returns for flags `O`. */
export type ParsedFlags<O extends FlagSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/**
 * Parses `args` strictly against `options`, with at most `positionals` arguments that are not flags
 * (e.g. `schema apply PLAN.json`).
 * @throws {InputError} naming an unknown flag and the closest known one, a flag missing its value,
 *   or an argument too many; never echoing a stray argument (it may be a connection URL with a password).
 */
export function parseFlags<O extends FlagSpec>(args: readonly string[], options: O, command: string, positionals = 0): ParsedFlags<O> {
  let parsed: ParsedFlags<O>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: positionals > 0, strict: true }) as ParsedFlags<O>;
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    const message = (cause as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    const see = `see setpoint ${command} --help`;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) {
      const name = unknown.replace(/^-+/, "").replace(/=.*$/, "");
      const guess = suggest(name, Object.keys(options));
      throw new InputError(`unknown option ${unknown.replace(/=.*$/, "")} for "setpoint ${command}"${guess ? `; did you mean --${guess}?` : ""} (${see})`, { propertyPath: name }, { cause });
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      throw new InputError(`unexpected argument for "setpoint ${command}": every value follows its flag, e.g. --url URL (${see})`, {}, { cause });
    }
    throw new InputError(`${message.replace(/'(?!-)[^']*'/g, "(value)")}; ${see}`, {}, { cause });
  }
  if (parsed.positionals.length > positionals) {
    throw new InputError(`unexpected argument for "setpoint ${command}": ${positionals ? `it takes ${positionals} (${command === "schema apply" ? "a plan file saved by `schema plan --out`" : "see its help"}), ` : ""}every other value follows its flag, e.g. --url URL (see setpoint ${command} --help)`, { propertyPath: "arguments" });
  }
  return parsed;
}

/**
 * The candidate closest to `word` by edit distance, when close enough to be a likely typo (at most
 * a third of the word's length, and at least 1, or a prefix of it); else undefined.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  if (bestDistance <= Math.max(1, Math.floor(word.length / 3))) return best;
  const prefix = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return prefix.length === 1 ? prefix[0] : undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** An unknown (sub)command: names it, the closest known one, and where help is. */
export function unknownCommand(word: string, known: readonly string[], parent: string): InputError {
  const guess = suggest(word, known);
  const where = parent ? `setpoint ${parent}` : "setpoint";
  return new InputError(
    `unknown ${parent ? `${parent} ` : ""}command "${word.slice(0, 40)}"${guess ? `; did you mean "${where} ${guess}"?` : ""} (commands: ${known.join(", ")}; see ${where} --help)`,
    { propertyPath: "command" },
  );
}

/** Whether the arguments ask for help (`-h`/`--help` anywhere before a `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (a === "-h" || a === "--help") return true;
  }
  return false;
}

/** How connections are written (every command's help ends with it). */
export const CONNECTION = `Connections (--url, --dev-url, --blue, --green, --pgbouncer-admin) take a URL
  postgres://user:password@host:port/database?sslmode=require
or a libpq connection string, quoted for the shell as one argument:
  "host=db port=5432 dbname=app user=app password='s3cret word' sslmode=require"
(single quotes around a value with spaces; \\' and \\\\ inside them). Passwords are never printed.`;

const TIMEOUTS = `Timeouts of each step (SET LOCAL in the step's transaction):
  lock_timeout        --lock-timeout MS (default 3000); a step that cannot get its lock in time
                      is retried 5 times with backoff, then fails naming the blocking session
                      (pid, application_name, query start, lock mode) and the time waited
  statement_timeout   --statement-timeout MS for quick DDL steps (default 60000);
                      --long-statement-timeout MS for steps that scan or rewrite a table
                      (index builds, validations, rewrites; default 10800000 = 3 h).
                      Each step's value is printed with the plan (--format json: statementTimeoutMs).`;

const PROBES = `Data probes: before anything runs, the plan reads the existing rows that a step would fail
on (NULLs under SET NOT NULL, values a type change cannot cast, duplicates under a new UNIQUE or
PRIMARY KEY, rows a new CHECK or FOREIGN KEY rejects) in a read-only transaction, each query under
statement_timeout --probe-timeout MS (default 5000), all within 30 s. Such steps are refused with the
count and one row's primary key (NOT_NULL_VIOLATION, CAST_FAILS, UNIQUE_VIOLATION, CHECK_VIOLATION,
FOREIGN_KEY_VIOLATION: these cannot be allowed; fix the rows first). TYPE_CAST_LOSSY (values the
cast would change) and DATA_UNVERIFIED (a probe did not finish) can be allowed.
--no-sample-keys leaves row keys out of messages; --no-data-probes turns the probes off.`;

/** The flags of `schema plan` and `schema apply`, one help text for both and for `setpoint --help`. */
export const SCHEMA_FLAGS = `  --url URL|CONNINFO     the target database
  --schema PATH         desired state: a .sql file, or a directory of .sql files applied in name order
  --dev-url URL         server for scratch databases that normalize the desired SQL
                        (default: an embedded server of the target's major version)
  --allow-hazards LIST  hazard codes to accept, comma-separated, or "all"
  --offline             plain DDL instead of online-safe forms (empty or offline databases)
  --schemas LIST        schemas to manage (default: those in the desired state)
  --all-schemas         manage every schema of the database (one the desired state lacks is
                        dropped only with DATA_LOSS_DROP_SCHEMA allowed)
  --no-verify           skip the catalog-level check of plan and apply (docs/adr/0014)
  --rename table:S.OLD=NEW | column:S.T.OLD=NEW   declare a rename (repeatable)
  --lock-timeout MS     lock_timeout of each step (default 3000)
  --statement-timeout MS        statement_timeout of quick steps (default 60000)
  --long-statement-timeout MS   statement_timeout of scanning/rewriting steps (default 10800000)
  --probe-timeout MS    statement_timeout of each data probe (default 5000)
  --no-sample-keys      name no row keys in data hazards
  --no-data-probes      skip the data probes`;

const UPGRADE_FLAGS = `  --blue URL / --green URL   the database to upgrade and the new, empty one (superusers)
  --name NAME                which upgrade, when blue has several (default "default")
  --schema PATH              desired schema to create on green (default: copied from blue)
  --format text|json         output format (default text)`;

/** The flags of `upgrade run`, also shown by `setpoint --help`. */
export const UPGRADE_RUN_FLAGS = `${UPGRADE_FLAGS}
  --until schema-ready|synchronized|switched   where to stop (default switched)
  --finalize                 finalize right after switching (no rollback path kept)
  --deadline MS              cutover deadline from fence to switch (default 30000)
  --verify MODE              checksums | counts | none (default checksums)
  --pgbouncer-admin URL --pgbouncer-file PATH --pgbouncer-db NAME [--pgbouncer-user NAME]
                             switch traffic by pausing and repointing PgBouncer (default: blue is
                             closed to logins and the application is repointed by you)
  --allow-objects-not-copied accept blue objects Setpoint cannot create on green`;

const BUCKET_FLAGS = `  --endpoint URL        the S3-compatible endpoint, e.g. https://s3.eu-west-1.amazonaws.com
  --bucket NAME         the bucket
  --prefix PATH         the cluster's key prefix in the bucket (default: the bucket root)
  --region NAME         signing region (default us-east-1)
  --path-style true|false   path-style addressing (default true)
  --format text|json    output (default text)

Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (never flags).`;

/** Help texts by command path (`""`, `schema`, `schema plan`, ...). */
export const HELP: Readonly<Record<string, string>> = {
  backup: `Usage: setpoint backup <command> --endpoint URL --bucket NAME [options]

What a backup bucket holds and what it can restore (no Kubernetes needed).

Commands:
  list       base backups, whether each is usable, and the recoverable window
  describe   the same with the WAL archive per timeline and its gaps; --backup ID for one backup
  retention  what a retention period deletes (--dry-run) or delete it (--apply)

Run "setpoint backup <command> --help" for its options.
`,
  "backup list": `Usage: setpoint backup list --endpoint URL --bucket NAME [--prefix PATH] [options]

Lists the base backups (oldest first): id, usable, timeline, end time, size, and how far the
archived WAL after each reaches; then the window a restore can reach.

Options:
${BUCKET_FLAGS}
`,
  "backup describe": `Usage: setpoint backup describe --endpoint URL --bucket NAME [--prefix PATH] [--backup ID] [options]

Everything \`list\` shows, plus each timeline's archived WAL (first and last segment, archive
times, missing segments, history file). With --backup ID: that backup's manifest (begin and end
LSN and time, archives with their sha256, recoverable window).

Options:
${BUCKET_FLAGS}
  --backup ID           one backup
`,
  "backup retention": `Usage: setpoint backup retention --endpoint URL --bucket NAME --retention PERIOD (--dry-run | --apply) [options]

Base backups that end before the window (now - PERIOD) are deleted, except the newest usable one
before it (a restore to the window's start begins there) and the newest usable backup overall;
then the WAL older than the oldest kept backup's start. Nothing a kept backup needs to reach any
later point is deleted. Deleting is resumable: run it again after an interruption.

Options:
${BUCKET_FLAGS.replace("\n\nCredentials", "\n  --retention PERIOD    12h, 30d, 4w (as spec.backup.retention)\n  --dry-run             print the plan, delete nothing\n  --apply               delete what the plan names\n\nCredentials")}
`,
  schema: `Usage: setpoint schema <command> [options]

Declarative schema changes: plan the SQL that makes a database match .sql files, then apply it.

Commands:
  plan      print the plan (SQL, hazards, timeouts); exit 2 when hazards refuse it
  apply     plan, then apply with --yes (without it: print the plan and stop)
  verify    compare the database's catalogs with the desired state's (exit 1 on a difference)
  inspect   print a database's managed schema as SQL or JSON

Run "setpoint schema <command> --help" for its options.

${CONNECTION}
`,
  "schema plan": `Usage: setpoint schema plan --url URL --schema PATH [options]

Prints the plan that makes the database at --url match --schema. Runs nothing but catalog reads
and read-only data probes.

Options:
${SCHEMA_FLAGS}
  --format text|json|sql   output (default text)
  --out PLAN.json       also save the plan: \`setpoint schema apply PLAN.json --url URL\` runs exactly
                        it, and refuses if the database changed since or the file was edited

${TIMEOUTS}

${PROBES}

${CONNECTION}

Exit codes: 0 ok, 1 error, 2 refused by hazards.
`,
  "schema apply": `Usage: setpoint schema apply --url URL --schema PATH [options] --yes
       setpoint schema apply PLAN.json --url URL [--allow-hazards LIST] [--yes]

Plans, refuses hazards not allowed (before anything runs), applies step by step, then re-plans
to prove the database matches. Without --yes it prints the plan and, on a terminal, asks (y/N)
showing its hazards; elsewhere it stops. With a plan file saved by \`schema plan --out\` it runs
exactly that plan, refusing (nothing run) if the database moved since or the file was edited.

Options:
${SCHEMA_FLAGS}
  -y, --yes             apply without stopping at the plan

${TIMEOUTS}

${PROBES}

${CONNECTION}

Exit codes: 0 ok, 1 error, 2 refused by hazards.
`,
  "schema verify": `Usage: setpoint schema verify --url URL --schema PATH [--dev-url URL] [--schemas LIST] [--format text|json]

Compares the catalogs of the managed schemas (pg_class, pg_attribute, pg_constraint, pg_index, ...,
ACLs, comments) with those of the normalized desired state, by name, whatever the engine models.
Each difference is named UNMODELLED_DIFFERENCE <catalog>.<column> <object> (docs/adr/0014).

Options:
  --url URL|CONNINFO    the target database
  --schema PATH         desired state: a .sql file, or a directory of .sql files
  --dev-url URL         server for scratch databases (default: an embedded server of the target's major)
  --schemas LIST        schemas to compare (default: those in the desired state)
  --format text|json    output (default text)

${CONNECTION}

Exit codes: 0 equal, 1 a difference or an error.
`,
  "schema inspect": `Usage: setpoint schema inspect --url URL [--schemas LIST] [--format sql|json]

Prints the managed objects of a database: as SQL that re-creates them (default) or as the model JSON.

Options:
  --url URL|CONNINFO    the database
  --schemas LIST        schemas to read (default: all but system schemas)
  --format sql|json     output (default sql)

${CONNECTION}
`,
  upgrade: `Usage: setpoint upgrade <command> --blue URL --green URL [options]

Blue-green major-version upgrade through logical replication; state kept in setpoint.upgrades on blue.

Commands:
  plan       preflight checks and the phases left
  run        run (or resume) the upgrade up to --until
  rollback   before the switch: abort; after it: traffic back to blue with green's writes
  finalize   drop the rollback path after a switch
  follow     after a switch: point traffic and the rollback path at green's primary as --green names it now
  forget     drop the upgrade's state: abort before the switch, finalize after (never moves traffic)

Run "setpoint upgrade <command> --help" for its options.

${CONNECTION}
`,
  "upgrade plan": `Usage: setpoint upgrade plan --blue URL --green URL [options]

Runs the preflight checks and prints the steps a run with the same options would take, from the
saved state. Exit 2 when the preflight refuses.

Options:
${UPGRADE_FLAGS}
  --until schema-ready|synchronized|switched   plan a run that stops there (default switched)
  --finalize | --rollback    plan a finalizing run, or a rollback
  --allow-objects-not-copied accept blue objects Setpoint cannot create on green

${CONNECTION}
`,
  "upgrade run": `Usage: setpoint upgrade run --blue URL --green URL [options]

Runs or resumes the upgrade: preflight, schema on green, replication, catch-up, fence, sequences,
verification, switch. Each phase is idempotent; run it again after a failure to resume.

Options:
${UPGRADE_RUN_FLAGS}

${CONNECTION}
`,
  "upgrade rollback": `Usage: setpoint upgrade rollback --blue URL --green URL [--name NAME] [--format text|json]

Before the switch, aborts (every upgrade object dropped, blue serving as before); after it, returns
traffic to blue with every write green took. Safe to repeat; impossible after finalize.

${CONNECTION}
`,
  "upgrade finalize": `Usage: setpoint upgrade finalize --blue URL --green URL [--name NAME] [--format text|json]

Drops the rollback path of a switched upgrade; rollback is impossible afterwards.

${CONNECTION}
`,
  "upgrade follow": `Usage: setpoint upgrade follow --blue URL --green URL [--name NAME] [pgbouncer options] [--format text|json]

After the switch and before finalize, when green's primary has moved (a failover of green, a new
address): points the traffic switch at green as --green names it now and reconnects blue's
rollback subscription to it. When the new primary lacks the rollback path's slot, says so: a
rollback is then refused (UPGRADE_ROLLBACK_PATH_LOST) and finalize is what is left. Idempotent;
does nothing in any other phase.

Options:
  --pgbouncer-admin URL, --pgbouncer-file PATH, --pgbouncer-db NAME, --pgbouncer-user NAME
                        the PgBouncer switch of the run (see "setpoint upgrade run --help")

${CONNECTION}
`,
  "upgrade forget": `Usage: setpoint upgrade forget --blue URL --green URL [--name NAME] [--format text|json]

Drops the upgrade's saved state: before the switch it aborts first, after it it finalizes first.
Never moves traffic.

${CONNECTION}
`,
};

/** Subcommands of each command. */
export const SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  backup: ["list", "describe", "retention"],
  schema: ["plan", "apply", "verify", "inspect"],
  upgrade: ["plan", "run", "rollback", "finalize", "follow", "forget"],
};
