import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { errorReason, SetpointError } from "../errors";
import { parseObjectStoreOptions, type ObjectStoreOptions } from "./config";
import { openObjectStore } from "./store";
import { archiveWal, restoreWal } from "./wal";

/**
 * The WAL archive's command-line entry, for PostgreSQL's `archive_command` and `restore_command`:
 *
 *   archive_command = 'node …/wal-cli.js archive %p %f'
 *   restore_command = 'node …/wal-cli.js restore %f %p'
 *   restore_command = 'node …/wal-cli.js restore %f %p --standby'   (a standby: every failure is "not found")
 *
 * The object store comes from the JSON file named by `--config FILE` or `$SETPOINT_BACKUP_CONFIG`
 * ({@link ObjectStoreOptions}: endpoint, bucket, prefix, region, forcePathStyle, and where the
 * credentials are: environment variables or a mounted Secret's files).
 */

/**
 * Exit status for a restore that must stop recovery: PostgreSQL treats an exit status above 125
 * from `restore_command` as a failure of the command itself and aborts (FATAL), whereas any other
 * non-zero status means "no such file" and ends recovery there, which would bring the server up
 * short of its target on a damaged segment or an unreachable store.
 */
export const EXIT_ABORT_RECOVERY = 126;

/** Exit status of `restore` when the archive has no such file (a normal answer during recovery). */
export const EXIT_NOT_FOUND = 1;

/**
 * Environment variable naming a file where `archive` records its last failure (JSON
 * {@link ArchiveFailure}) and which it removes on success: how the instance's archive health
 * reaches the operator (which reads it over SQL), with the failure's named reason.
 */
export const ARCHIVE_STATUS_ENV = "SETPOINT_ARCHIVE_STATUS";

/** What {@link ARCHIVE_STATUS_ENV}'s file holds after a failed archive. Never a credential. */
export interface ArchiveFailure {
  wal: string;
  /** A {@link BackupError} reason (BUCKET_NOT_FOUND, ACCESS_DENIED, ENDPOINT_UNREACHABLE, …) or ERROR. */
  reason: string;
  message: string;
  time: string;
}

function recordArchiveOutcome(env: NodeJS.ProcessEnv, failure: ArchiveFailure | undefined): void {
  const file = env[ARCHIVE_STATUS_ENV];
  if (!file) return;
  try {
    if (failure === undefined) rmSync(file, { force: true });
    else writeFileSync(file, JSON.stringify(failure), { mode: 0o600 });
  } catch {
    // Health reporting never fails an archive.
  }
}

/** Reads and validates the object store config file. */
export function loadStoreConfig(file: string): ObjectStoreOptions {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new SetpointError("INVALID_INPUT", `cannot read the backup config ${file}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SetpointError("INVALID_INPUT", `the backup config ${file} is not valid JSON`);
  }
  return parseObjectStoreOptions(json, `backup config ${file}`);
}

/**
 * Runs `archive PATH NAME` or `restore NAME PATH` and resolves to the exit status; messages go to
 * `stderr` (PostgreSQL's log), never with a credential.
 */
export async function walCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, stderr: (t: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  const args = [...argv];
  let config = env.SETPOINT_BACKUP_CONFIG;
  const at = args.indexOf("--config");
  if (at >= 0) {
    config = args[at + 1];
    args.splice(at, 2);
  }
  // A standby's restore: the archive is a fallback to streaming, so no failure may stop it.
  const standby = args.indexOf("--standby");
  if (standby >= 0) args.splice(standby, 1);
  const [op, a, b] = args;
  const restoring = op === "restore";
  const failedRestore = standby >= 0 ? EXIT_NOT_FOUND : EXIT_ABORT_RECOVERY;
  if ((op !== "archive" && op !== "restore") || a === undefined || b === undefined || args.length !== 3 || !config) {
    stderr("usage: wal-cli archive PATH NAME | restore NAME PATH [--standby]  [--config FILE] (or SETPOINT_BACKUP_CONFIG=FILE)\n");
    return restoring ? failedRestore : 1;
  }
  try {
    const store = openObjectStore(loadStoreConfig(config));
    try {
      if (!restoring) {
        const r = await archiveWal(store, a, b);
        if (r.status === "already-archived") stderr(`setpoint wal: ${b} was already archived with the same content\n`);
        recordArchiveOutcome(env, undefined);
        return 0;
      }
      const r = await restoreWal(store, a, b);
      return r.found ? 0 : EXIT_NOT_FOUND;
    } finally {
      store.close();
    }
  } catch (err) {
    const reason = errorReason(err);
    const message = err instanceof Error ? err.message : String(err);
    stderr(`setpoint wal ${op} ${restoring ? a : b}: ${reason}: ${message}\n`);
    if (!restoring) recordArchiveOutcome(env, { wal: b, reason, message: message.slice(0, 1000), time: new Date().toISOString() });
    return restoring ? failedRestore : 1;
  }
}

if (require.main === module) {
  void walCommand(process.argv.slice(2)).then((code) => process.exit(code));
}
