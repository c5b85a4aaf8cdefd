import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { pgClient } from "./client";
import { EmbeddedPostgresError } from "../errors";
import { binDirEnv, CACHE_DIR_ENV, ensurePostgresBinaries, findPostgresBinaries } from "./binaries";
import { isSupportedMajor, SUPPORTED_MAJORS, type PostgresMajor } from "./versions";

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /**
   * PostgreSQL major version. Its binaries come from `binDir`, `SETPOINT_PG<major>_BIN_DIR`, a
   * `pg<major>` package alias, or an on-demand install of that major (see `binaries.ts`).
   */
  major: PostgresMajor;
  /** The `bin` directory of PostgreSQL `major` (with `initdb` and `postgres`). @default found as described at `major` */
  binDir?: string;
  /** TCP port on 127.0.0.1. @default a free port chosen by the OS */
  port?: number;
  /** Directory under which the instance directory is created. @default os.tmpdir() */
  baseDir?: string;
  /** Extra server settings (`-c name=value`). */
  parameters?: Readonly<Record<string, string | number>>;
  /**
   * Password of the `postgres` superuser. When set, connections use scram-sha-256; otherwise trust.
   * @default undefined (trust authentication on loopback)
   */
  password?: string;
  /**
   * Operating-system user the server runs as when this process is root (initdb refuses root).
   * @default "nobody"
   */
  runAs?: string;
  /**
   * Keep crash safety (fsync, full page writes). Off by default: embedded servers hold scratch data.
   * @default false
   */
  durable?: boolean;
  /** Milliseconds to wait for the server to accept connections. @default 30000 */
  startTimeoutMs?: number;
  /**
   * Directory where a data directory is initialized once per major and user (and kept) and then
   * copied for each start instead of running initdb (~1 s). It must be reachable by the user the
   * server runs as, like `baseDir`. For throwaway servers only: the copies share one system
   * identifier. Ignored with `password`; if the directory cannot be used, initdb runs.
   * @default undefined (initdb on every start)
   */
  templateDir?: string;
}

/** A running embedded server. */
export interface EmbeddedPostgres {
  readonly major: PostgresMajor;
  readonly host: string;
  readonly port: number;
  /** Full `version()` string reported by the server. */
  readonly version: string;
  /** Instance directory (data directory, socket and log live inside it). */
  readonly dir: string;
  /** Connection URL for `database` (default `postgres`) as the superuser. */
  url(database?: string): string;
  /**
   * Fast shutdown, then removal of the instance directory. Idempotent. With `immediate`, the server
   * quits without its shutdown checkpoint: only for a server whose data is thrown away.
   */
  stop(options?: { immediate?: boolean }): Promise<void>;
}

const INSTANCE_PREFIX = "setpoint-pg-";
const TEMPLATE_PREFIX = "setpoint-initdb-";
const OWNER_FILE = "owner.json";
const running = new Map<string, { child: ChildProcess; dataDir: string }>();
let exitHooksInstalled = false;

/**
 * Absolute path of the `bin` directory holding `initdb` and `postgres` for a major, when present
 * without an install (an explicit directory, a `pg<major>` alias or an earlier on-demand install;
 * see `binaries.ts`). {@link startEmbeddedPostgres} also installs a missing major on demand.
 * @throws {EmbeddedPostgresError} naming every way to provide the binaries when none is present.
 */
export function embeddedBinDir(major: PostgresMajor): string {
  return findPostgresBinaries(major).binDir;
}

/** Majors whose server binaries are present here without an install. */
export function installedMajors(): PostgresMajor[] {
  return SUPPORTED_MAJORS.filter((m) => {
    try {
      return existsSync(join(embeddedBinDir(m), "postgres"));
    } catch {
      return false;
    }
  });
}

const checkedBinaries = new Set<string>();

/**
 * Proves that `bin` holds PostgreSQL `major` and that the server's user can run it (as root, the
 * server runs as an unprivileged user, who may not reach a directory under /root).
 */
async function checkBinaries(bin: string, major: PostgresMajor, identity: Identity | undefined): Promise<void> {
  const key = `${bin}\0${identity?.uid ?? "self"}`;
  if (checkedBinaries.has(key)) return;
  let result: { code: number | null; output: string };
  try {
    result = await runAs(join(bin, "postgres"), ["--version"], identity);
  } catch (cause) {
    throw new EmbeddedPostgresError(major, `cannot run ${join(bin, "postgres")}: ${(cause as Error).message}`, { cause });
  }
  const reported = /\(PostgreSQL\) (\d+)/.exec(result.output)?.[1];
  if (result.code !== 0 || reported === undefined) {
    const who = identity ? ` as uid ${identity.uid} (the server's user; this process is root)` : "";
    throw new EmbeddedPostgresError(
      major,
      `cannot run ${join(bin, "postgres")}${who}: ${result.output.trim().slice(-500) || `exit ${String(result.code)}`}; ` +
        `the binaries must be readable and executable by that user (choose another directory with ${CACHE_DIR_ENV} or ${binDirEnv(major)})`,
    );
  }
  if (Number(reported) !== major) {
    throw new EmbeddedPostgresError(major, `${bin} holds PostgreSQL ${reported}, not ${major}; point ${binDirEnv(major)} at a PostgreSQL ${major} bin directory`);
  }
  checkedBinaries.add(key);
}

/**
 * Initializes and starts a packaged PostgreSQL server on 127.0.0.1 in a fresh temporary directory,
 * with `wal_level=logical` and room for replication slots. The server is stopped and its directory
 * removed by `stop()`, and also when this process exits or receives SIGINT/SIGTERM/SIGHUP. Instances
 * left behind by a process that was killed outright are removed the next time one starts.
 * @throws {EmbeddedPostgresError} when binaries are missing, initdb fails or the server does not start.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { major } = options;
  if (!isSupportedMajor(major)) {
    throw new EmbeddedPostgresError(major, `PostgreSQL major ${String(major)} is not supported; use one of ${SUPPORTED_MAJORS.join(", ")}`);
  }
  const baseDir = options.baseDir ?? tmpdir();
  sweepAbandonedInstances(baseDir);
  installExitHooks();
  const identity = runIdentity(options.runAs ?? "nobody", major);
  const bin = (await ensurePostgresBinaries(major, options.binDir === undefined ? {} : { binDir: options.binDir })).binDir;
  await checkBinaries(bin, major, identity);

  const dir = makeInstanceDir(baseDir, major);
  const dataDir = join(dir, "data");
  const logFile = join(dir, "server.log");
  try {
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid }));
    if (identity) chownSync(dir, identity.uid, identity.gid);
    const env = serverEnv(dir, identity, major);
    const copied = options.templateDir !== undefined && options.password === undefined && (await copyTemplate(options.templateDir, bin, major, dataDir, identity, env));
    if (!copied) await initdb(bin, major, dir, dataDir, identity, options.password, env);
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort());
      const child = spawnServer(bin, dataDir, dir, logFile, port, identity, options, env);
      running.set(dir, { child, dataDir });
      try {
        const version = await waitReady(child, port, options.password, logFile, major, options.startTimeoutMs ?? 30_000);
        return makeHandle(major, port, version, dir, options.password);
      } catch (err) {
        await stopChild(dir);
        const portTaken = readTail(logFile).includes("could not bind");
        if (!portTaken || options.port !== undefined || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function makeHandle(major: PostgresMajor, port: number, version: string, dir: string, password: string | undefined): EmbeddedPostgres {
  const auth = password === undefined ? "postgres" : `postgres:${encodeURIComponent(password)}`;
  return {
    major,
    host: "127.0.0.1",
    port,
    version,
    dir,
    url: (database = "postgres") => `postgres://${auth}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: async (options) => {
      await stopChild(dir, options?.immediate ? "SIGQUIT" : "SIGINT");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An operating-system identity a server runs as (uid and gid). */
export interface Identity {
  uid: number;
  gid: number;
}

/**
 * The identity PostgreSQL must run as: `user`'s when this process is root (initdb and postgres
 * refuse root), undefined (this process's own) otherwise.
 * @throws {EmbeddedPostgresError} when running as root and `user` does not exist.
 */
export function runIdentity(user: string, major: number): Identity | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const uid = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", user], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new EmbeddedPostgresError(
      major,
      `running as root, PostgreSQL must run as an unprivileged user, but user "${user}" does not exist; ` +
        `create it or pass runAs with an existing unprivileged user`,
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Creates the instance directory under `baseDir`.
 * @throws {EmbeddedPostgresError} naming the directory and how to choose another when it cannot be
 *   written (a read-only root filesystem in a container, a missing directory, no permission).
 */
function makeInstanceDir(baseDir: string, major: PostgresMajor): string {
  try {
    return mkdtempSync(join(baseDir, `${INSTANCE_PREFIX}${major}-`));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    const detail = (cause as Error).message.startsWith(`${code}:`) ? (cause as Error).message : `${code}: ${(cause as Error).message}`;
    throw new EmbeddedPostgresError(
      major,
      `the embedded PostgreSQL ${major} server needs a writable scratch directory, but ${baseDir} is not writable (${detail}); ` +
        `set ${SCRATCH_DIR_ENV} (or TMPDIR) to a writable directory (in a pod with a read-only root filesystem: an emptyDir volume), ` +
        `or pass a dev database URL (--dev-url) instead of using an embedded server`,
      { cause },
    );
  }
}

/**
 * Environment of initdb and the server (this process's, with `LC_ALL=C.UTF-8`). initdb looks up
 * the user it runs as and refuses a user id without an entry in the user database (`could not look
 * up effective user ID`), which is what a container running as an arbitrary `runAsUser` has. For
 * such an id, nss_wrapper (Debian package `libnss-wrapper`) is preloaded with a passwd and a group
 * file written into `dir` that name it `postgres`, the way the official `postgres` image's
 * entrypoint does. Used by the embedded servers and by the instance manager (sdk/instance).
 * @param dir a directory the server's user may read, for the two files (also its home directory).
 * @param identity the server's user when this process is root (see {@link runIdentity}); undefined: this process's own.
 * @throws {EmbeddedPostgresError} when the id has no entry and nss_wrapper is not installed.
 */
export function serverEnv(dir: string, identity: Identity | undefined, major: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, LC_ALL: "C.UTF-8" };
  const uid = identity?.uid ?? process.getuid?.();
  const gid = identity?.gid ?? process.getgid?.();
  if (uid === undefined || gid === undefined || hasPasswdEntry(uid)) return env;
  const library = nssWrapperLibrary();
  if (library === undefined) {
    throw new EmbeddedPostgresError(
      major,
      `user id ${uid} has no entry in /etc/passwd, and PostgreSQL's initdb refuses to run without one; ` +
        `install nss_wrapper (Debian: apt-get install libnss-wrapper; or set ${NSS_WRAPPER_ENV} to libnss_wrapper.so) so Setpoint can provide the entry, ` +
        `or run as a user that has one`,
    );
  }
  const passwd = join(dir, "passwd");
  const group = join(dir, "group");
  writeFileSync(passwd, `postgres:x:${uid}:${gid}:PostgreSQL:${dir}:/bin/false\n`);
  writeFileSync(group, `postgres:x:${gid}:\n`);
  if (identity) {
    chownSync(passwd, identity.uid, identity.gid);
    chownSync(group, identity.uid, identity.gid);
  }
  const preload = [library, ...(base.LD_PRELOAD ?? "").split(/[\s:]+/).filter((x) => x !== "")].join(":");
  return { ...env, LD_PRELOAD: preload, NSS_WRAPPER_PASSWD: passwd, NSS_WRAPPER_GROUP: group };
}

/** Environment variable naming nss_wrapper's library, when it is not in a standard place. */
export const NSS_WRAPPER_ENV = "SETPOINT_NSS_WRAPPER";

/** True when the user database (`getent passwd`, else /etc/passwd) has an entry for `uid`. */
export function hasPasswdEntry(uid: number): boolean {
  const r = spawnSync("getent", ["passwd", String(uid)], { encoding: "utf8" });
  if (r.error === undefined) return r.status === 0;
  if (uid === process.getuid?.()) {
    try {
      userInfo();
      return true;
    } catch {
      return false;
    }
  }
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .some((line) => line.split(":")[2] === String(uid));
  } catch {
    return false;
  }
}

/** Path of nss_wrapper's library ($SETPOINT_NSS_WRAPPER, or where distributions install it), if present. */
export function nssWrapperLibrary(): string | undefined {
  const triplet = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const candidates = [process.env[NSS_WRAPPER_ENV], `/usr/lib/${triplet}/libnss_wrapper.so`, "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so"];
  return candidates.find((c): c is string => c !== undefined && c !== "" && existsSync(c));
}

async function initdb(
  bin: string,
  major: number,
  dir: string,
  dataDir: string,
  identity: Identity | undefined,
  password: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const args = ["-D", dataDir, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"];
  if (password === undefined) {
    args.push("--auth=trust");
  } else {
    const pwfile = join(dir, "pwfile");
    writeFileSync(pwfile, password, { mode: 0o600 });
    if (identity) chownSync(pwfile, identity.uid, identity.gid);
    args.push("--auth=scram-sha-256", `--pwfile=${pwfile}`);
  }
  const result = await runAs(join(bin, "initdb"), args, identity, env);
  rmSync(join(dir, "pwfile"), { force: true });
  if (result.code !== 0) {
    throw new EmbeddedPostgresError(major, `initdb for PostgreSQL ${major} failed (exit ${String(result.code)}): ${result.output.trim().slice(-2000)}`);
  }
}

/**
 * Copies the template data directory of `major` (initializing it first when missing) to `dataDir`,
 * owner and modes included. False when the template cannot be made or copied; the caller then runs
 * initdb. The template is initialized in a private directory and renamed into place, so concurrent
 * starters never copy a partial one.
 */
async function copyTemplate(
  templateDir: string,
  bin: string,
  major: PostgresMajor,
  dataDir: string,
  identity: Identity | undefined,
  env: NodeJS.ProcessEnv,
): Promise<boolean> {
  try {
    const template = join(templateDir, `${TEMPLATE_PREFIX}${major}-${identity?.uid ?? process.getuid?.() ?? "user"}`);
    if (!existsSync(join(template, "data", "PG_VERSION"))) {
      mkdirSync(templateDir, { recursive: true });
      const tmp = mkdtempSync(`${template}.tmp-`);
      try {
        if (identity) chownSync(tmp, identity.uid, identity.gid);
        await initdb(bin, major, tmp, join(tmp, "data"), identity, undefined, env);
        renameSync(tmp, template);
      } catch {
        // Another starter may have put its template in place first; use that one if so.
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    if ((await runAs("cp", ["-a", join(template, "data"), dataDir], undefined)).code === 0) return true;
  } catch {
    // fall through to initdb
  }
  rmSync(dataDir, { recursive: true, force: true });
  return false;
}

function spawnServer(
  bin: string,
  dataDir: string,
  dir: string,
  logFile: string,
  port: number,
  identity: Identity | undefined,
  options: EmbeddedPostgresOptions,
  env: NodeJS.ProcessEnv,
): ChildProcess {
  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    port,
    unix_socket_directories: dir,
    wal_level: "logical",
    max_replication_slots: 32,
    max_wal_senders: 32,
    max_logical_replication_workers: 16,
    max_worker_processes: 32,
    max_connections: 300,
    ...(options.durable ? {} : { fsync: "off", full_page_writes: "off", synchronous_commit: "off" }),
    ...options.parameters,
  };
  const args = ["-D", dataDir];
  for (const [k, v] of Object.entries(settings)) args.push("-c", `${k}=${String(v)}`);
  const log = openSync(logFile, "a");
  if (identity) chownSync(logFile, identity.uid, identity.gid);
  const child = spawn(join(bin, "postgres"), args, {
    stdio: ["ignore", log, log],
    ...(identity ?? {}),
    env,
  });
  closeSync(log);
  // A process that could not start (EACCES, EAGAIN) reports it as an 'error' event: kept for
  // waitReady to name, never an uncaught exception of the caller's process.
  child.on("error", (err) => spawnErrors.set(child, err));
  return child;
}

const spawnErrors = new WeakMap<ChildProcess, Error>();

async function waitReady(child: ChildProcess, port: number, password: string | undefined, logFile: string, major: PostgresMajor, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const spawnError = spawnErrors.get(child);
    if (spawnError !== undefined) throw new EmbeddedPostgresError(major, `PostgreSQL ${major} could not be started: ${spawnError.message}`, { cause: spawnError });
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new EmbeddedPostgresError(major, `PostgreSQL ${major} exited during startup: ${readTail(logFile)}`);
    }
    const client = pgClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres", connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      const res = await client.query<{ version: string }>("select version() as version");
      return res.rows[0]?.version ?? "";
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new EmbeddedPostgresError(major, `PostgreSQL ${major} did not accept connections within ${timeoutMs} ms: ${readTail(logFile)}`, { cause: lastError });
}

async function stopChild(dir: string, signal: "SIGINT" | "SIGQUIT" = "SIGINT"): Promise<void> {
  const entry = running.get(dir);
  if (!entry) return;
  running.delete(dir);
  const { child } = entry;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal); // SIGINT: fast shutdown (disconnect clients, checkpoint, exit); SIGQUIT: immediate
  const timer = setTimeout(() => child.kill("SIGQUIT"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Synchronous last-resort stop used on process exit: immediate shutdown, wait for the pid file to go. */
function stopAllSync(): void {
  for (const [dir, { child, dataDir }] of running) {
    try {
      child.kill("SIGQUIT");
    } catch {
      // already gone
    }
    waitForFileGone(join(dataDir, "postmaster.pid"), 5000);
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

function waitForFileGone(file: string, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync(file) && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 20);
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // First among the `exit` listeners: one that calls process.exit() again (vitest's command line
  // does, on SIGINT) ends the process inside the event, and listeners after it never run.
  process.prependListener("exit", stopAllSync);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    // Called before the process's own listeners, so that those are still counted: a `once`
    // listener removes itself before it runs, and counted after it, it looked absent.
    process.prependListener(signal, () => {
      // The process handles the signal itself (the operator's graceful shutdown stops its dev
      // server and exits): leave it to that; the exit hook stops whatever is left.
      if (process.listenerCount(signal) > 1) return;
      // Adding a listener suppresses Node's default exit: restore it.
      stopAllSync();
      process.exit(code);
    });
  }
}

/** Removes instance directories whose owning process no longer exists (left by a killed run). */
export function sweepAbandonedInstances(baseDir: string = tmpdir()): number {
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(baseDir).filter((e) => e.startsWith(INSTANCE_PREFIX));
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const dir = join(baseDir, entry);
    let ownerPid: number | undefined;
    try {
      ownerPid = (JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as { pid: number }).pid;
    } catch {
      continue; // not fully created yet, or not ours
    }
    if (ownerPid !== undefined && isProcessAlive(ownerPid)) continue;
    const pidFile = join(dir, "data", "postmaster.pid");
    if (existsSync(pidFile)) {
      const postmasterPid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      if (Number.isInteger(postmasterPid) && postmasterPid > 0 && isProcessAlive(postmasterPid)) {
        try {
          process.kill(postmasterPid, "SIGQUIT");
        } catch {
          // raced with its exit
        }
        waitForFileGone(pidFile, 5000);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** True when `pid` is a live process; a zombie (exited, not yet reaped) counts as gone. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

function readTail(file: string): string {
  try {
    return readFileSync(file, "utf8").slice(-2000).trim();
  } catch {
    return "(no server log)";
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs a packaged binary as `identity`; resolves to its exit code and combined output.
 * @param env its environment. @default this process's, with `LC_ALL=C.UTF-8`
 */
export function runAs(
  cmd: string,
  args: string[],
  identity: Identity | undefined,
  env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C.UTF-8" },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...(identity ?? {}), env });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Environment variable naming the directory for embedded dev servers' scratch data. */
export const SCRATCH_DIR_ENV = "SETPOINT_SCRATCH_DIR";

/**
 * Where an embedded dev server keeps its scratch data: `$SETPOINT_SCRATCH_DIR` when set, else
 * {@link scratchBaseDir} (tmpfs) when there is one, else the temporary directory (`$TMPDIR`, or
 * `/tmp`). A container with a read-only root filesystem mounts a writable volume there.
 */
export function devScratchDir(): string {
  const configured = process.env[SCRATCH_DIR_ENV];
  return configured !== undefined && configured !== "" ? configured : (scratchBaseDir() ?? tmpdir());
}

/**
 * A directory on tmpfs (`/dev/shm`) with at least 1 GiB free, for scratch servers whose data may
 * be lost: creating relation files there is several times cheaper than on disk. Undefined when
 * there is none.
 */
export function scratchBaseDir(): string | undefined {
  try {
    const st = statfsSync("/dev/shm");
    return st.bavail * st.bsize >= 1024 ** 3 ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}

/** Random, URL-safe password for embedded servers that need password authentication. */
export function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}
