// TEST INFRASTRUCTURE ONLY: the node harness's stand-in for `pg_basebackup`, which the packaged
// PostgreSQL binaries lack (they ship initdb, pg_ctl and postgres). A replica pod written for the
// real image clones its data with an init container running
// `pg_basebackup -d <conninfo> -D $PGDATA -R -X stream -S <slot>`; the harness plays that init
// container with what it has, against the source pod it runs itself:
//
// 1. Connects to the source over TCP with the init container's credentials and checks that the
//    role may replicate and that the slot exists, then opens a replication connection as
//    pg_basebackup does (IDENTIFY_SYSTEM), so the source's pg_hba.conf decides as it would.
// 2. Starts a non-exclusive backup on the source (pg_backup_start; pg_start_backup on 14) over
//    the source's local socket as its superuser, with the checkpoint mode asked for
//    (`--checkpoint`, spread by default), and keeps that session open.
// 3. Copies the source's data directory file by file, skipping what pg_basebackup skips
//    (postmaster.pid, pg_wal and pg_replslot contents, temporary state).
// 4. Stops the backup (pg_backup_stop), then copies the source's pg_wal segments: the slot has
//    reserved them since before the backup started, so everything from the backup's redo point
//    up to its end is there (the `-X` part).
// 5. Writes backup_label / tablespace_map from pg_backup_stop's result, and with -R
//    standby.signal plus primary_conninfo / primary_slot_name in postgresql.auto.conf.
//
// Nothing in sdk/ depends on this file: the operator writes pods for the real image.
import { chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, appendFileSync, rmSync, chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import type { Identity } from "../../../sdk/postgres/embedded";
import type { PostgresMajor } from "../../../sdk/postgres/versions";

/** What a `pg_basebackup` command line asks for. */
export interface BaseBackupRequest {
  /** Connection parameters from `-d` and `-h` / `-p` / `-U` (the flags win). */
  readonly conninfo: Readonly<Record<string, string>>;
  readonly dataDir: string;
  readonly slot?: string;
  readonly writeRecoveryConf: boolean;
  /** `--checkpoint` / `-c`: pg_basebackup's default is a spread checkpoint. */
  readonly checkpoint: "fast" | "spread";
}

/** The running pod a backup is taken from, as the harness knows it. */
export interface BackupSource {
  readonly major: PostgresMajor;
  readonly dataDir: string;
  /** The source's Unix socket directory (local trust for its superuser). */
  readonly socketDir: string;
  readonly port: number;
  readonly superuser: string;
}

/** A command line the emulation does not understand. */
export class UnsupportedBaseBackupError extends Error {}

/** Parses a `key=value key2=value2` conninfo (values without spaces or quotes, as ours are). */
function parseConninfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.trim().split(/\s+/)) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UnsupportedBaseBackupError(`unsupported conninfo part ${JSON.stringify(part)}`);
    out[part.slice(0, eq)] = part.slice(eq + 1).replace(/^'(.*)'$/, "$1");
  }
  return out;
}

/**
 * Reads the arguments of a `pg_basebackup` invocation (after the program name).
 * @throws {UnsupportedBaseBackupError} for options the emulation does not implement.
 */
export function parseBaseBackupArgs(args: readonly string[]): BaseBackupRequest {
  const conninfo: Record<string, string> = {};
  const flags: Record<string, string> = {};
  let dataDir: string | undefined;
  let slot: string | undefined;
  let writeRecoveryConf = false;
  let checkpoint: "fast" | "spread" = "spread";
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const mode = a.startsWith("--checkpoint=") ? a.slice("--checkpoint=".length) : a === "-c" || a === "--checkpoint" ? args[++i] : undefined;
    if (mode !== undefined) {
      if (mode !== "fast" && mode !== "spread") throw new UnsupportedBaseBackupError(`invalid checkpoint argument ${JSON.stringify(mode)}, must be "fast" or "spread"`);
      checkpoint = mode;
      continue;
    }
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UnsupportedBaseBackupError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "-d":
        Object.assign(conninfo, parseConninfo(value()));
        break;
      case "-h":
        flags.host = value();
        break;
      case "-p":
        flags.port = value();
        break;
      case "-U":
        flags.user = value();
        break;
      case "-D":
        dataDir = value();
        break;
      case "-S":
        slot = value();
        break;
      case "-R":
        writeRecoveryConf = true;
        break;
      case "-X":
        if (value() !== "stream") throw new UnsupportedBaseBackupError("only -X stream is emulated");
        break;
      case "-w":
      case "--no-password":
      case "-P":
      case "--progress":
        break;
      default:
        throw new UnsupportedBaseBackupError(`unsupported pg_basebackup argument ${JSON.stringify(a)}`);
    }
  }
  if (dataDir === undefined) throw new UnsupportedBaseBackupError("pg_basebackup needs -D");
  return { conninfo: { ...conninfo, ...flags }, dataDir, slot, writeRecoveryConf, checkpoint };
}

/** Top-level entries whose contents pg_basebackup leaves out (the directories themselves are kept). */
const EMPTY_DIRS = new Set(["pg_wal", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans"]);
/** Top-level files pg_basebackup leaves out. */
const SKIP_FILES = new Set(["postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "standby.signal", "recovery.signal", "current_logfiles"]);

function copyTree(from: string, to: string, identity: Identity | undefined, top: boolean): void {
  mkdirSync(to, { recursive: true });
  chmodSync(to, 0o700);
  if (identity) chownSync(to, identity.uid, identity.gid);
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    let st;
    try {
      st = lstatSync(src);
    } catch {
      continue; // removed while we copied (a temporary file): as pg_basebackup, skip it
    }
    if (st.isDirectory()) {
      if (top && EMPTY_DIRS.has(name)) {
        mkdirSync(dst, { recursive: true, mode: 0o700 });
        if (identity) chownSync(dst, identity.uid, identity.gid);
        continue;
      }
      copyTree(src, dst, identity, false);
    } else if (st.isFile()) {
      if ((top && SKIP_FILES.has(name)) || name === "pg_internal.init" || name.startsWith("pgsql_tmp")) continue;
      try {
        copyFileSync(src, dst);
      } catch {
        continue;
      }
      chmodSync(dst, 0o600);
      if (identity) chownSync(dst, identity.uid, identity.gid);
    }
  }
}

/** A value for postgresql.auto.conf, single-quoted. */
function confValue(v: string): string {
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * Emulates `pg_basebackup` into `targetDir` (see the module comment).
 * @param password the init container's PGPASSWORD.
 * @throws when the credentials, the slot or the backup fail, as pg_basebackup exits non-zero.
 */
export async function emulateBaseBackup(request: BaseBackupRequest, password: string | undefined, source: BackupSource, targetDir: string, identity: Identity | undefined): Promise<void> {
  const { host, port, user } = request.conninfo;
  if (!host || !user) throw new UnsupportedBaseBackupError("pg_basebackup needs a host and a user");
  // 1. The replication role's own credentials and privilege, over TCP.
  const check = new Client({ host, port: Number(port ?? source.port), user, password, database: "postgres", connectionTimeoutMillis: 5000 });
  await check.connect();
  try {
    const role = await check.query<{ r: boolean }>("select rolreplication as r from pg_roles where rolname = current_user");
    if (!role.rows[0]?.r) throw new Error(`pg_basebackup: role "${user}" may not replicate`);
    if (request.slot !== undefined) {
      const slot = await check.query("select 1 from pg_replication_slots where slot_name = $1 and slot_type = 'physical'", [request.slot]);
      if (slot.rowCount === 0) throw new Error(`pg_basebackup: replication slot "${request.slot}" does not exist`);
    }
  } finally {
    await check.end().catch(() => undefined);
  }
  // A replication connection, as pg_basebackup opens: pg_hba.conf's `replication` lines apply.
  const replication = new Client({ host, port: Number(port ?? source.port), user, password, database: "replication", replication: "true", connectionTimeoutMillis: 5000 } as ConstructorParameters<typeof Client>[0]);
  await replication.connect();
  try {
    await replication.query("IDENTIFY_SYSTEM");
  } finally {
    await replication.end().catch(() => undefined);
  }
  // 2-5. The backup itself, as the source's superuser over its socket.
  rmSync(targetDir, { recursive: true, force: true });
  const admin = new Client({ host: source.socketDir, port: source.port, user: source.superuser, database: "postgres", connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    const legacy = source.major < 15;
    // The checkpoint mode asked for: a spread checkpoint takes as long as the server's
    // checkpoint_completion_target makes it, as with the real pg_basebackup.
    const fast = request.checkpoint === "fast";
    await admin.query(legacy ? "select pg_start_backup('setpoint harness clone', $1, false)" : "select pg_backup_start('setpoint harness clone', $1)", [fast]);
    copyTree(source.dataDir, targetDir, identity, true);
    const stop = await admin.query<{ labelfile: string; spcmapfile: string | null }>(
      legacy ? "select labelfile, spcmapfile from pg_stop_backup(false, false)" : "select labelfile, spcmapfile from pg_backup_stop(false)",
    );
    const wal = join(source.dataDir, "pg_wal");
    for (const name of readdirSync(wal)) {
      const src = join(wal, name);
      if (!lstatSync(src).isFile()) continue;
      copyFileSync(src, join(targetDir, "pg_wal", name));
      if (identity) chownSync(join(targetDir, "pg_wal", name), identity.uid, identity.gid);
    }
    mkdirSync(join(targetDir, "pg_wal", "archive_status"), { recursive: true, mode: 0o700 });
    const write = (name: string, content: string): void => {
      writeFileSync(join(targetDir, name), content, { mode: 0o600 });
      if (identity) chownSync(join(targetDir, name), identity.uid, identity.gid);
    };
    write("backup_label", stop.rows[0]!.labelfile);
    const map = stop.rows[0]!.spcmapfile;
    if (map) write("tablespace_map", map);
    if (request.writeRecoveryConf) {
      write("standby.signal", "");
      const conn = { ...request.conninfo, ...(password !== undefined ? { password } : {}) };
      const conninfo = Object.entries(conn)
        .map(([k, v]) => `${k}=${/^[A-Za-z0-9_.\-/]+$/.test(v) ? v : `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`}`)
        .join(" ");
      const auto = join(targetDir, "postgresql.auto.conf");
      if (!existsSync(auto)) write("postgresql.auto.conf", "");
      appendFileSync(auto, `primary_conninfo = ${confValue(conninfo)}\n${request.slot !== undefined ? `primary_slot_name = ${confValue(request.slot)}\n` : ""}`);
    }
  } catch (err) {
    // A failed pg_basebackup leaves no half-made directory behind.
    rmSync(targetDir, { recursive: true, force: true });
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
}
