// Test and benchmark harness for a real PgBouncer (Debian package `pgbouncer`): one process per
// call, on a free loopback port, with its databases in a separate file that the main config
// %includes, so a traffic switch can rewrite that file and RELOAD. Deliberately free of vitest
// imports (vitest refuses to load outside its runner), so benchmarks can use it too; tests bind
// it to their lifetime with bindToTest().
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import type { onTestFailed, onTestFinished } from "vitest";
import { ensureDebianPackage, type EnsureOptions, type ToolAvailability } from "./debian";

/** Where Debian installs PgBouncer; /usr/sbin is often not on a non-root PATH. */
const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

/** The admin console's user (listed in `admin_users`). */
export const PGBOUNCER_ADMIN_USER = "setpoint_admin";

/** Options of {@link startPgBouncer}. */
export interface PgBouncerOptions {
  /**
   * Initial content of the databases include file: PgBouncer database name -> connection string
   * (`host=127.0.0.1 port=5432 dbname=app`).
   * @default {} (no databases; a switch writes them)
   */
  databases?: Readonly<Record<string, string>>;
  /**
   * Client users and their passwords, besides the admin user. Clients authenticate with
   * SCRAM-SHA-256; PgBouncer logs in to the servers as the same user with the same password
   * (the test servers trust local connections, so any password works there).
   * @default { postgres: <random> }
   */
  users?: Readonly<Record<string, string>>;
  /** Extra `[pgbouncer]` settings, e.g. `{ query_wait_timeout: 30 }`. */
  settings?: Readonly<Record<string, string | number>>;
  /** Operating-system user PgBouncer runs as when this process is root. @default "nobody" */
  runAs?: string;
  /** Milliseconds to wait for the admin console to answer. @default 15000 */
  startTimeoutMs?: number;
}

/** A running PgBouncer. */
export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** Password of {@link PGBOUNCER_ADMIN_USER}. */
  readonly adminPassword: string;
  /** Admin console URL (database `pgbouncer`); contains the admin password. */
  readonly adminUrl: string;
  /** Path of the file holding the `[databases]` section, %included by the main config. */
  readonly databasesFile: string;
  /** Client URL of `database` through PgBouncer as `user`; contains the password. @default user "postgres" */
  url(database: string, user?: string): string;
  /** The last lines PgBouncer wrote to its log (stderr). */
  logTail(lines?: number): string;
  /** Immediate shutdown (SIGTERM, SIGKILL after 5 s), then removal of its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Absolute path of the pgbouncer binary. @throws {Error} naming the package to install. */
export function pgbouncerBinary(): string {
  const onPath = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" });
  if (onPath.status === 0 && onPath.stdout.trim()) return onPath.stdout.trim();
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error("pgbouncer is not installed; install the Debian package: apt-get install -y --no-install-recommends pgbouncer");
  return found;
}

function findPgBouncer(): string | undefined {
  try {
    return pgbouncerBinary();
  } catch {
    return undefined;
  }
}

/**
 * Makes PgBouncer available to the tests that need it, before any test runs (see
 * {@link ensureDebianPackage}): installed, installed now with apt-get, or a one-line reason why
 * not, with which the PgBouncer tests skip.
 */
export function ensurePgBouncer(options: EnsureOptions & { find?: () => string | undefined } = {}): ToolAvailability {
  const what = { tool: "pgbouncer", package: "pgbouncer", purpose: "the upgrade tests' traffic switch", without: "the PgBouncer tests are skipped", find: options.find ?? findPgBouncer };
  return ensureDebianPackage(what, options);
}

/**
 * Starts PgBouncer in `pool_mode = transaction` on 127.0.0.1 and a free port, with an admin
 * console user and SCRAM authentication of clients. Stopped by `stop()`, and killed when this
 * process exits (or, via a watchdog, when it dies without running exit handlers).
 * @throws {Error} carrying the end of PgBouncer's log when it does not start.
 */
export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const bin = pgbouncerBinary();
  const identity = runIdentity(options.runAs ?? "nobody");
  installExitHooks();
  const dir = mkdtempSync(join(scratchDir(), "setpoint-pgbouncer-"));
  const adminPassword = randomBytes(18).toString("base64url");
  const users: Record<string, string> = { postgres: randomBytes(18).toString("base64url"), ...options.users, [PGBOUNCER_ADMIN_USER]: adminPassword };
  const databasesFile = join(dir, "databases.ini");
  const own = (file: string): void => {
    if (identity) chownSync(file, identity.uid, identity.gid);
  };
  own(dir);
  writeFileSync(join(dir, "userlist.txt"), Object.entries(users).map(([u, p]) => `${authQuote(u)} ${authQuote(p)}\n`).join(""), { mode: 0o600 });
  own(join(dir, "userlist.txt"));
  writeFileSync(databasesFile, databasesSection(options.databases ?? {}), { mode: 0o600 });
  own(databasesFile);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const configFile = join(dir, "pgbouncer.ini");
    writeFileSync(configFile, mainConfig(dir, port, databasesFile, options.settings ?? {}), { mode: 0o600 });
    own(configFile);
    const log = new LogBuffer();
    const child = spawn(bin, [configFile], { stdio: ["ignore", "pipe", "pipe"], ...(identity ?? {}) });
    child.stdout.on("data", (d: Buffer) => log.push(d));
    child.stderr.on("data", (d: Buffer) => log.push(d));
    const spawnFailed = new Promise<Error>((resolve) => child.once("error", resolve));
    const entry = { child, dir, watchdog: startWatchdog(child.pid ?? 0, dir) };
    running.add(entry);
    const adminUrl = `postgres://${PGBOUNCER_ADMIN_USER}:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}/pgbouncer`;
    try {
      await Promise.race([
        waitReady(child, adminUrl, log, options.startTimeoutMs ?? 15_000),
        spawnFailed.then((err) => Promise.reject(new Error(`cannot start ${bin}: ${err.message}`, { cause: err }))),
      ]);
    } catch (err) {
      await stopEntry(entry, false);
      if (/could not bind|Address already in use/i.test(log.text()) && attempt < 3) continue;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    let stopped: Promise<void> | undefined;
    return {
      host: "127.0.0.1",
      port,
      pid: child.pid!,
      adminPassword,
      adminUrl,
      databasesFile,
      url: (database, user = "postgres") => {
        const password = users[user];
        if (password === undefined) throw new Error(`PgBouncer harness has no user "${user}"; pass it in options.users`);
        return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
      },
      logTail: (lines = 60) => log.text().split("\n").slice(-lines).join("\n"),
      stop: () => (stopped ??= stopEntry(entry, true)),
    };
  }
}

/**
 * Stops `bouncer` when the current test finishes and prints its log when the test fails. Pass
 * vitest's hooks (this module does not import vitest, so benchmarks can use it).
 */
export function bindToTest(bouncer: PgBouncer, hooks: { onTestFinished: typeof onTestFinished; onTestFailed: typeof onTestFailed }): PgBouncer {
  hooks.onTestFailed(() => console.error(`PgBouncer log (port ${bouncer.port}):\n${bouncer.logTail()}`));
  hooks.onTestFinished(() => bouncer.stop());
  return bouncer;
}

/** The `[databases]` section PgBouncer reads from the include file. */
export function databasesSection(databases: Readonly<Record<string, string>>): string {
  return `[databases]\n${Object.entries(databases).map(([name, connstr]) => `${name} = ${connstr}\n`).join("")}`;
}

function mainConfig(dir: string, port: number, databasesFile: string, settings: Readonly<Record<string, string | number>>): string {
  const all: Record<string, string | number> = {
    listen_addr: "127.0.0.1",
    listen_port: port,
    unix_socket_dir: "", // TCP only: no socket file to clash with other instances
    auth_type: "scram-sha-256",
    auth_file: join(dir, "userlist.txt"),
    admin_users: PGBOUNCER_ADMIN_USER,
    pool_mode: "transaction",
    max_client_conn: 500,
    default_pool_size: 20,
    // Fail fast when a server is down instead of PgBouncer's 15 s login back-off.
    server_login_retry: 1,
    // pgbench and JDBC send it; harmless to accept.
    ignore_startup_parameters: "extra_float_digits",
    ...settings,
  };
  const lines = Object.entries(all).map(([k, v]) => `${k} = ${String(v)}`);
  // The include comes after [pgbouncer]; the included file starts its own [databases] section.
  return `[pgbouncer]\n${lines.join("\n")}\n\n%include ${databasesFile}\n`;
}

/** auth_file fields are double-quoted; a double quote inside is doubled. */
function authQuote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** Keeps the last 256 KiB PgBouncer logged, in memory (the directory is gone after stop()). */
class LogBuffer {
  private chunks: string[] = [];
  private size = 0;
  push(d: Buffer): void {
    this.chunks.push(d.toString("utf8"));
    this.size += d.length;
    while (this.size > 256 * 1024 && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return this.chunks.join("");
  }
}

async function waitReady(child: ChildProcess, adminUrl: string, log: LogBuffer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited during startup (${String(child.exitCode ?? child.signalCode)}):\n${log.text().slice(-3000)}`);
    }
    const client = pgClient({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query("SHOW VERSION");
      return;
    } catch (err) {
      lastError = err;
      await sleep(50);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  // lastError may name the admin URL's user and port but never carries the password.
  throw new Error(`pgbouncer did not answer on its admin console within ${timeoutMs} ms:\n${log.text().slice(-3000)}`, { cause: lastError });
}

interface Entry {
  child: ChildProcess;
  dir: string;
  watchdog: ChildProcess;
}

const running = new Set<Entry>();
let hooksInstalled = false;

async function stopEntry(entry: Entry, removeDir: boolean): Promise<void> {
  running.delete(entry);
  const { child } = entry;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM"); // PgBouncer 1.18: SIGTERM is immediate shutdown, SIGINT waits for clients
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  entry.watchdog.kill();
  if (removeDir) rmSync(entry.dir, { recursive: true, force: true });
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const entry of running) {
      try {
        entry.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      rmSync(entry.dir, { recursive: true, force: true });
    }
    running.clear();
  });
}

/**
 * A shell that kills PgBouncer and removes its directory if this process dies without running its
 * exit handlers (a test worker killed with SIGKILL); it exits on its own once PgBouncer is gone.
 */
function startWatchdog(pid: number, dir: string): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do kill -0 ${pid} 2>/dev/null || exit 0; sleep 1; done; kill -9 ${pid} 2>/dev/null; rm -rf '${dir}'`;
  const dog = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  dog.unref();
  return dog;
}

interface Identity {
  uid: number;
  gid: number;
}

/** PgBouncer refuses to run as root; when we are root it runs as `user`. */
function runIdentity(user: string): Identity | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const uid = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", user], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`running as root, pgbouncer must run as an unprivileged user, but user "${user}" does not exist`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** tmpfs when it has room (configs are tiny; this only avoids disk writes), else the OS temp dir. */
function scratchDir(): string {
  try {
    const st = statfsSync("/dev/shm");
    return st.bavail * st.bsize >= 64 * 1024 ** 2 ? "/dev/shm" : tmpdir();
  } catch {
    return tmpdir();
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
