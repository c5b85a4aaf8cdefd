/**
 * Backups inside the instance (ADR 0029): the WAL archive's wiring for `postgres`, and the restore
 * bootstrap of a cluster created from a backup (`bootstrap.recovery`).
 *
 * Archiving: the controller writes `archive_mode`, `archive_command` ({@link ARCHIVE_COMMAND}) and
 * `archive_timeout` with `ALTER SYSTEM` like every parameter; `archive_command` runs
 * `$SETPOINT_WAL_COMMAND`, which the manager sets in the server's environment to the WAL CLI of
 * the image it runs from (sdk/backup/wal-cli), with the config file it writes next to PGDATA (the
 * destination, no credential: those stay in the environment, from the user's Secret). The CLI
 * records its last failure in {@link ARCHIVE_STATUS_FILE}, which the operator reads over SQL.
 *
 * Restore: an empty PGDATA of a restored cluster's first primary is filled by `restoreBackup`
 * (sdk/backup/restore.ts) into a sibling directory; a private `postgres` (Unix socket in a private
 * directory, no TCP: nobody connects, the readiness probe fails) replays WAL to the target and
 * promotes on a new timeline; then the new cluster's passwords replace the source's, the
 * recovery settings are removed, the server stops, and the directory is renamed into place. A
 * restore that fails (a missing segment, a target the archive does not reach, an unreachable
 * store) leaves PGDATA empty and fails the container with the named reason: never a cluster that
 * comes up short of its target.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../postgres/client";
import type { ObjectStoreOptions } from "../backup/config";
import { archivedWalBytesAfter, describeTarget, planRestore, recoveryFailure, restoreBackup } from "../backup/restore";
import { readCatalog } from "../backup/catalog";
import { openObjectStore } from "../backup/store";
import { ARCHIVE_STATUS_ENV } from "../backup/wal-cli";
import { BackupError, InputError } from "../errors";
import { quoteIdent, quoteLiteral } from "../postgres/quote";
import { confValue, readAutoConf, readParameters, writeParameters, type ParametersWritten } from "./parameters";
import { writeStandbyConfig } from "./basebackup";
import { replicationSource } from "./clone";
import { configurationCheck, InstanceError, moveIntoPlace, scratchSibling } from "./prepare";
import { INSTANCE_ENV, type InstanceSettings } from "./settings";

/** `archive_command` of every archiving instance: the WAL CLI the manager names in the server's environment. */
export const ARCHIVE_COMMAND = `$${INSTANCE_ENV.walCommand} archive %p %f`;

/**
 * `archive_mode` of an archiving cluster: `always`, so a standby archives (idempotently: the
 * same content already there is success) every segment it receives. Then a segment the old primary
 * completed but had not archived when it failed is archived by the standby that has it, and the
 * new primary continues on its timeline with no gap. On a primary `always` is `on`.
 */
export const ARCHIVE_MODE = "always";

/** Where the WAL CLI records its last archive failure, relative to PGDATA (not part of base backups). */
export const ARCHIVE_STATUS_FILE = "pg_stat_tmp/setpoint-archive.json";

/** The archiving parameters of a cluster with `spec.backup` (written with `ALTER SYSTEM`). Pure. */
export function archiveParameters(archiveTimeoutSeconds: number): Record<string, string> {
  return { archive_mode: ARCHIVE_MODE, archive_command: ARCHIVE_COMMAND, archive_timeout: `${String(Math.max(0, Math.round(archiveTimeoutSeconds)))}s` };
}

/**
 * Parameters a restore writes, and the source's replication and archiving settings, that the new
 * cluster never keeps: its controller writes its own (a source's `synchronous_standby_names` would
 * make every commit of the restored server wait for standbys it does not have).
 */
const RECOVERY_KEYS = /^(restore_command|recovery_target\w*|archive_mode|archive_command|archive_timeout|synchronous_standby_names|primary_conninfo|primary_slot_name)$/;

const SHELL_SAFE = /^[A-Za-z0-9_./:@%+=,-]+$/;

/**
 * The command line that runs the WAL CLI from the code this manager runs: `node wal-cli.js` in the
 * image; from the sources (tests), through the tsx loader. Words without spaces or shell
 * characters: `archive_command` expands it unquoted.
 * @throws {InstanceError} when a path holds characters a shell would interpret.
 */
export function walCommandLine(env: NodeJS.ProcessEnv = process.env): string {
  const given = env[INSTANCE_ENV.walCommand];
  if (given) return given;
  const ext = extname(__filename);
  const cli = join(__dirname, "..", "backup", `wal-cli${ext}`);
  const words = [process.execPath];
  if (ext === ".ts") words.push("--import", `file://${resolve(__dirname, "../../node_modules/tsx/dist/loader.mjs")}`);
  words.push(cli);
  const bad = words.find((w) => !SHELL_SAFE.test(w));
  if (bad !== undefined) throw new InstanceError("start", `the WAL CLI's path ${JSON.stringify(bad)} holds characters archive_command cannot pass; install Setpoint under a plain path or set ${INSTANCE_ENV.walCommand}`);
  return words.join(" ");
}

/** The WAL CLI's config file for `store` next to PGDATA (no credential: the config names the variables). */
function writeStoreConfig(pgdata: string, what: string, store: ObjectStoreOptions): string {
  const file = join(dirname(pgdata), `.setpoint-${what}-${basename(pgdata)}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(store), { mode: 0o600 });
  return file;
}

/**
 * The server's environment for archiving: `$SETPOINT_WAL_COMMAND`, the config of the destination
 * and the failure record's path. Unchanged without `settings.backup`.
 */
export function archiveEnv(settings: Pick<InstanceSettings, "pgdata" | "backup">, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (settings.backup === undefined) return env;
  return {
    ...env,
    [INSTANCE_ENV.walCommand]: walCommandLine(env),
    SETPOINT_BACKUP_CONFIG: writeStoreConfig(settings.pgdata, "backup", settings.backup),
    [ARCHIVE_STATUS_ENV]: join(settings.pgdata, ARCHIVE_STATUS_FILE),
  };
}

/**
 * Appends the archiving parameters to a new data directory's postgresql.auto.conf (as `ALTER
 * SYSTEM` would), so a new cluster archives from its first start without a restart for
 * `archive_mode`. `archive_timeout` follows from the controller.
 */
export function writeArchiveConf(dataDir: string): void {
  const lines = Object.entries({ archive_mode: ARCHIVE_MODE, archive_command: ARCHIVE_COMMAND }).map(([k, v]) => `${k} = ${confValue(v)}`);
  writeFileSync(join(dataDir, "postgresql.auto.conf"), `${readAutoConf(dataDir)}${lines.join("\n")}\n`);
}

/** What `ALTER SYSTEM` writes at the top of postgresql.auto.conf. */
const AUTO_CONF_HEADER = "# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n";

/** Removes the restore's and the source's archiving settings from postgresql.auto.conf. */
function dropRecoveryConf(dataDir: string): void {
  const kept = readAutoConf(dataDir)
    .split("\n")
    .filter((l) => !/^# Setpoint restore$/.test(l) && !RECOVERY_KEYS.test(l.split("=")[0]!.trim()));
  writeFileSync(join(dataDir, "postgresql.auto.conf"), `${kept.join("\n").replace(/\n+$/, "")}\n`);
}

/** Same bucket and prefix at the same endpoint. */
export function sameStore(a: Pick<ObjectStoreOptions, "endpoint" | "bucket" | "prefix">, b: Pick<ObjectStoreOptions, "endpoint" | "bucket" | "prefix">): boolean {
  const norm = (e: string): string => e.replace(/\/+$/, "").toLowerCase();
  return norm(a.endpoint) === norm(b.endpoint) && a.bucket === b.bucket && (a.prefix ?? "") === (b.prefix ?? "");
}

/** What a restore bootstrap did. */
export interface RestoreBootstrapResult {
  backupId: string;
  target: string;
  bytes: number;
  /** Download and extraction. */
  restoreSeconds: number;
  /** WAL replay to the target and promotion. */
  recoverySeconds: number;
  /** The cluster's parameters written after the promotion, for the first start (ADR 0043). */
  parameters: ParametersWritten;
}

/**
 * Restores `settings.recovery` into an empty PGDATA (see the module documentation).
 * @param bin the major's `bin` directory. @param serverArgs the container's server arguments (the hba file).
 * @throws {BackupError} the planning and store reasons (WAL_SEGMENT_MISSING, TARGET_BEFORE_OLDEST_BACKUP,
 *   ENDPOINT_UNREACHABLE, …) and RECOVERY_FAILED with PostgreSQL's reason; PGDATA stays empty.
 */
export async function restoreBootstrap(settings: InstanceSettings, bin: string, serverArgs: readonly string[], env: NodeJS.ProcessEnv, log: (event: string, fields: Record<string, unknown>) => void): Promise<RestoreBootstrapResult> {
  const recovery = settings.recovery;
  if (recovery === undefined) throw new InstanceError("restore", "no recovery source");
  if (settings.backup !== undefined && sameStore(settings.backup, recovery.source)) {
    throw new InputError(
      `backup.destination is the recovery source (s3://${recovery.source.bucket}/${recovery.source.prefix ?? ""}): a restored cluster archives a new timeline to its own prefix and never writes into its source's; choose another prefix`,
      { propertyPath: "backup.destination.prefix" },
    );
  }
  const walCli = walCommandLine(env);
  const target = scratchSibling(settings.pgdata, "restore");
  mkdirSync(target, { mode: 0o700 });
  const sourceConfig = writeStoreConfig(settings.pgdata, "recovery", recovery.source);
  // A private socket directory (the readiness probe must not find this server), with a short path:
  // a Unix socket's path is limited to 107 bytes.
  const socketDir = mkdtempSync(join(tmpdir(), "sp-restore-"));
  try {
    const store = openObjectStore(recovery.source);
    let restored;
    try {
      restored = await restoreBackup(store, {
        dataDir: target,
        target: recovery.target,
        ...(recovery.backupId ? { backupId: recovery.backupId } : {}),
        restoreCommand: `${walCli} restore %f %p --config ${sourceConfig}`,
      });
    } finally {
      store.close();
    }
    log("restored", { backup: restored.plan.backup.id, target: describeTarget(recovery.target), bytes: restored.bytes, firstWal: restored.plan.firstWal, lastWal: restored.plan.lastWal, seconds: restored.seconds });
    const started = Date.now();
    // The restore's own server: the recovery source's credentials for restore_command; archiving of
    // the new timeline (its history file first) to this cluster's destination once promoted.
    const E = INSTANCE_ENV;
    const serverEnv: NodeJS.ProcessEnv = {
      ...archiveEnv(settings, env),
      [E.recoveryAccessKeyId]: process.env[E.recoveryAccessKeyId] ?? "",
      [E.recoverySecretAccessKey]: process.env[E.recoverySecretAccessKey] ?? "",
    };
    // The failure record lives in the data directory being restored (it moves into place with it).
    if (settings.backup !== undefined) serverEnv[ARCHIVE_STATUS_ENV] = join(target, ARCHIVE_STATUS_FILE);
    const archiving = settings.backup === undefined ? ["-c", "archive_mode=off"] : ["-c", "archive_mode=on", "-c", `archive_command=${ARCHIVE_COMMAND}`];
    // No synchronous standby: the source's setting would hold the statements below forever.
    const args = ["-D", target, "-c", "listen_addresses=", "-c", `port=${String(settings.port)}`, "-c", `unix_socket_directories=${socketDir}`, ...serverArgs, ...archiving, "-c", "synchronous_standby_names="];
    const child = spawn(join(bin, "postgres"), args, { stdio: ["ignore", "inherit", "pipe"], env: serverEnv });
    let serverLog = "";
    child.stderr!.on("data", (d: Buffer) => {
      process.stderr.write(d);
      serverLog = (serverLog + d.toString()).slice(-100_000);
    });
    // A server that could not be spawned reports an 'error' event and may never report 'exit'.
    let spawnError: Error | undefined;
    const exited = new Promise<number | null>((r) => {
      child.once("exit", (code) => r(code));
      child.once("error", (err) => {
        spawnError = err;
        serverLog += `\ncould not start postgres: ${err.message}`;
        r(null);
      });
    });
    try {
      await waitPromoted(settings, socketDir, () => serverLog, () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null);
      await withSocket(settings, socketDir, async (c) => {
        // The new cluster's credentials replace the source's (its Secrets were made for this cluster).
        if (settings.superuserPassword !== undefined) await c.query(`ALTER ROLE ${quoteIdent(settings.superuser)} PASSWORD ${quoteLiteral(settings.superuserPassword)}`);
        const owner = process.env[E.ownerName];
        const ownerPassword = process.env[E.ownerPassword];
        if (owner && ownerPassword && (await c.query("select 1 from pg_roles where rolname = $1", [owner])).rowCount !== 0) {
          await c.query(`ALTER ROLE ${quoteIdent(owner)} PASSWORD ${quoteLiteral(ownerPassword)}`);
        }
        // The source's replication role: the controller creates this cluster's with its own password.
        const replication = process.env[E.replicationUser];
        if (replication) await c.query(`DROP ROLE IF EXISTS ${quoteIdent(replication)}`);
        await c.query("CHECKPOINT");
      });
    } finally {
      if (spawnError === undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
    }
    // Recovery is over (promoted): this cluster's own parameters replace the source's, so the first
    // start runs exactly them and the controller, which resets whatever the spec does not name,
    // finds nothing to change and nothing waiting for a restart (ADR 0043; during recovery hot
    // standby needs settings at least the source's, so they could not be written before). An
    // operator from before ADR 0043 gives none: then only the recovery settings go.
    const own = readParameters(settings.parametersSource);
    if (own.length > 0) writeFileSync(join(target, "postgresql.auto.conf"), AUTO_CONF_HEADER);
    else dropRecoveryConf(target);
    const parameters = await writeParameters(target, own, configurationCheck(bin, serverEnv));
    if (settings.backup !== undefined) writeArchiveConf(target);
    rmSync(join(target, "recovery.signal"), { force: true });
    moveIntoPlace(target, settings.pgdata);
    return { backupId: restored.plan.backup.id, target: describeTarget(recovery.target), bytes: restored.bytes, restoreSeconds: restored.seconds, recoverySeconds: (Date.now() - started) / 1000, parameters };
  } finally {
    rmSync(socketDir, { recursive: true, force: true });
    rmSync(sourceConfig, { force: true });
    rmSync(target, { recursive: true, force: true });
  }
}

/**
 * `restore_command` of a standby bootstrapped from the object store: the WAL CLI in its standby
 * mode (every failure is "not found", so the standby goes on streaming), through the variable the
 * server's environment has while the cluster archives and `false` (not found) once it no longer
 * does — a missing command would exit 127, which PostgreSQL takes as fatal.
 */
export const STANDBY_RESTORE_COMMAND = `\${${INSTANCE_ENV.walCommand}:-false} restore %f %p --standby`;

/** A replica bootstraps from the bucket while the archived WAL after the newest backup is at most this many times the backup's data. */
export const REPLAY_LIMIT = 2;

/** What {@link replicaFromBackup} did. */
export interface ReplicaFromBackupResult {
  backupId: string;
  /** Uncompressed bytes extracted. */
  bytes: number;
  seconds: number;
  parameters: ParametersWritten;
}

/**
 * A new replica from the cluster's own object store instead of a clone of the primary: the newest
 * base backup of `settings.backup` into a sibling directory, then written as a standby of
 * `settings.source` (`standby.signal`, `primary_conninfo`, its slot) that first replays the
 * archive's WAL ({@link STANDBY_RESTORE_COMMAND}, any timeline: `recovery_target_timeline =
 * latest`) and then streams; the cluster's parameters written as after initdb (hot standby needs
 * the primary's, not those of the backup's time); renamed into place when complete. The primary
 * sends nothing but the WAL since the archive's end.
 * @throws {BackupError} the store's or the plan's reason (no backup, unreachable, damaged, or
 *   BACKUP_TOO_FAR_BEHIND: more archived WAL since the backup than {@link REPLAY_LIMIT} times its
 *   data): nothing is left behind, and the caller clones from the primary instead.
 */
export async function replicaFromBackup(settings: InstanceSettings, bin: string, env: NodeJS.ProcessEnv): Promise<ReplicaFromBackupResult> {
  const store = settings.backup;
  const source = settings.source;
  if (store === undefined || source === undefined) throw new InstanceError("clone", "a replica from the object store needs the backup destination and the primary (SETPOINT_BACKUP_DESTINATION, SETPOINT_PRIMARY_HOST)");
  const target = scratchSibling(settings.pgdata, "clone");
  mkdirSync(target, { mode: 0o700 });
  try {
    const opened = openObjectStore(store);
    let restored;
    try {
      // The bucket is chosen only while it is the shorter way: a backup whose archived WAL since
      // weighs more than twice the backup's data replays longer than the primary's clone copies
      // (ADR 0045). Stored sizes overstate a switched segment's WAL (its tail), hence the margin.
      const catalog = await readCatalog(opened);
      const plan = planRestore(catalog, { kind: "latest" });
      const walBytes = archivedWalBytesAfter(catalog.index, plan.backup);
      if (walBytes > REPLAY_LIMIT * plan.backup.bytes) {
        throw new BackupError(
          "BACKUP_TOO_FAR_BEHIND",
          `base backup ${plan.backup.id} (${plan.backup.bytes} bytes of data) is ${walBytes} bytes of archived WAL behind the archive's end, more than ${REPLAY_LIMIT}x its data: replaying it would take longer than a clone; take a newer base backup`,
          { endpoint: store.endpoint, bucket: store.bucket },
        );
      }
      restored = await restoreBackup(opened, { dataDir: target, target: { kind: "latest" }, backupId: plan.backup.id, catalog, restoreCommand: STANDBY_RESTORE_COMMAND });
    } finally {
      opened.close();
    }
    // A standby, not a recovery that ends: the restore's recovery.signal goes, standby.signal and
    // the primary's connection come (appended after the restore's empty ones, so they win).
    rmSync(join(target, "recovery.signal"), { force: true });
    writeStandbyConfig(target, replicationSource(source), source.slot, undefined);
    const parameters = await writeParameters(target, readParameters(settings.parametersSource), configurationCheck(bin, env));
    writeArchiveConf(target);
    moveIntoPlace(target, settings.pgdata);
    return { backupId: restored.plan.backup.id, bytes: restored.bytes, seconds: restored.seconds, parameters };
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

async function withSocket<T>(settings: Pick<InstanceSettings, "port" | "superuser">, socketDir: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = pgClient({ host: socketDir, port: settings.port, user: settings.superuser, database: "postgres", connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Waits until the restore's server has promoted; a server that stops first fails with its reason. */
async function waitPromoted(settings: InstanceSettings, socketDir: string, serverLog: () => string, stopped: () => boolean): Promise<void> {
  for (;;) {
    const reason = recoveryFailure(serverLog());
    if (reason !== undefined || stopped()) {
      throw new BackupError("RECOVERY_FAILED", `recovery stopped short of its target ${describeTarget(settings.recovery!.target)}: ${reason ?? serverLog().slice(-1500)}`, {
        endpoint: settings.recovery!.source.endpoint,
        bucket: settings.recovery!.source.bucket,
      });
    }
    const inRecovery = await withSocket(settings, socketDir, async (c) => (await c.query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]?.r).catch(() => undefined);
    if (inRecovery === false) return;
    await sleep(250);
  }
}
