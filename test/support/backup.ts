// Helpers of the backup tests: the WAL CLI as PostgreSQL runs it (archive_command /
// restore_command, as the server's own unprivileged user), its config file, and a PostgreSQL
// server started on an existing (restored) data directory.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { recoveryFailure } from "../../sdk/backup/restore";
import { BackupError } from "../../sdk/errors";
import { ensurePostgresBinaries } from "../../sdk/postgres/binaries";
import { runIdentity, type Identity } from "../../sdk/postgres/embedded";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import type { S3Server } from "./s3";

const repo = resolve(__dirname, "../..");

/** The user PostgreSQL runs as in the tests (this process's own unless it is root). */
export function serverIdentity(major: PostgresMajor): Identity | undefined {
  return runIdentity("nobody", major);
}

/** A scratch directory the server's user can read (config and credential files live here). */
export function scratchDir(major: PostgresMajor): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "setpoint-backup-"));
  chmodSync(dir, 0o755);
  const id = serverIdentity(major);
  if (id) chownSync(dir, id.uid, id.gid);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes the WAL CLI's config for `bucket`/`prefix` of `s3` into `dir`, with the credentials as two
 * files (a mounted Secret's shape) readable only by the server's user. Returns the config path.
 */
export function writeStoreConfig(dir: string, major: PostgresMajor, s3: Pick<S3Server, "endpoint" | "accessKeyId" | "secretAccessKey">, bucket: string, prefix: string): string {
  const id = serverIdentity(major);
  const own = (file: string): void => {
    if (id) chownSync(file, id.uid, id.gid);
  };
  const keyFile = join(dir, "access-key-id");
  const secretFile = join(dir, "secret-access-key");
  writeFileSync(keyFile, `${s3.accessKeyId}\n`, { mode: 0o600 });
  writeFileSync(secretFile, `${s3.secretAccessKey}\n`, { mode: 0o600 });
  own(keyFile);
  own(secretFile);
  // One file per prefix: several configs may share a directory.
  const config = join(dir, `backup-${prefix.replace(/[^A-Za-z0-9]+/g, "-")}.json`);
  writeFileSync(config, JSON.stringify({ endpoint: s3.endpoint, bucket, prefix, credentials: { kind: "files", accessKeyIdFile: keyFile, secretAccessKeyFile: secretFile } }), { mode: 0o644 });
  own(config);
  return config;
}

/** The WAL CLI as a shell command prefix: `<node> --import tsx …/wal-cli.ts --config FILE`. */
export function walCli(config: string): string {
  const loader = `file://${join(repo, "node_modules/tsx/dist/loader.mjs")}`;
  return `${process.execPath} --import ${loader} ${join(repo, "sdk/backup/wal-cli.ts")} --config ${config}`;
}

/** A PostgreSQL server running on an existing data directory. */
export interface DataDirServer {
  port: number;
  url(database?: string): string;
  /** The server's log so far. */
  log(): string;
  /** The server process; `exitCode` is set once it stopped on its own. */
  child: ChildProcess;
  /** Fast shutdown (immediate after 10 s); leaves the data directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL `major` on `dataDir` (made the server user's, mode 0700) on a free loopback
 * port, and resolves once it accepts connections. During recovery that is once it is consistent.
 * @throws {Error} with the log's tail when it exits or does not answer within `timeoutMs`.
 */
export async function startOnDataDir(major: PostgresMajor, dataDir: string, parameters: Record<string, string | number> = {}, timeoutMs = 120_000): Promise<DataDirServer> {
  const bin = (await ensurePostgresBinaries(major)).binDir;
  const id = serverIdentity(major);
  const runDir = mkdtempSync(join(tmpdir(), "setpoint-backup-run-"));
  chmodSync(runDir, 0o755);
  if (id) {
    chownSync(runDir, id.uid, id.gid);
    await chownTree(dataDir, id);
  }
  chmodSync(dataDir, 0o700);
  const port = await freePort();
  const logFile = join(runDir, "server.log");
  // A hot standby needs these at least as high as its source had them: the embedded servers' values.
  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    port,
    unix_socket_directories: runDir,
    fsync: "off",
    wal_level: "logical",
    max_connections: 300,
    max_worker_processes: 32,
    max_wal_senders: 32,
    max_replication_slots: 32,
    max_logical_replication_workers: 16,
    ...parameters,
  };
  const args = ["-D", dataDir];
  for (const [k, v] of Object.entries(settings)) args.push("-c", `${k}=${String(v)}`);
  const fd = openSync(logFile, "a");
  if (id) chownSync(logFile, id.uid, id.gid);
  const child = spawn(join(bin, "postgres"), args, { stdio: ["ignore", fd, fd], ...(id ?? {}), env: { ...process.env, LC_ALL: "C.UTF-8" } });
  closeSync(fd);
  const log = (): string => {
    try {
      return readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGINT");
      const t = setTimeout(() => child.kill("SIGQUIT"), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(runDir, { recursive: true, force: true });
  };
  process.once("exit", () => child.kill("SIGQUIT"));
  const url = (database = "postgres"): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = log();
      await stop();
      throw new Error(`PostgreSQL ${major} on ${dataDir} exited: ${text.slice(-3000)}`);
    }
    const c = pgClient({ connectionString: url(), connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query("select 1");
      await c.end();
      break;
    } catch {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) {
        const text = log();
        await stop();
        throw new Error(`PostgreSQL ${major} on ${dataDir} did not accept connections within ${timeoutMs} ms: ${text.slice(-3000)}`);
      }
      await sleep(200);
    }
  }
  return { port, url, log, child, stop };
}

/**
 * Waits until a restored server has left recovery (promoted). When it stops instead, or recovery
 * pauses short of its target, throws RECOVERY_FAILED with the server's reason.
 */
export async function waitForPromotion(server: DataDirServer, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = recoveryFailure(server.log());
    if (reason !== undefined || server.child.exitCode !== null) {
      throw new BackupError("RECOVERY_FAILED", `the restored server stopped recovering short of its target: ${reason ?? server.log().slice(-1500)}`);
    }
    const c = pgClient({ connectionString: server.url(), connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      const { rows } = await c.query<{ r: boolean }>("select pg_is_in_recovery() as r");
      if (rows[0]?.r === false) return;
    } catch {
      // restarting or shutting down: look again
    } finally {
      await c.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`the restored server was still in recovery after ${timeoutMs} ms: ${server.log().slice(-2000)}`);
    await sleep(250);
  }
}

async function chownTree(dir: string, id: Identity): Promise<void> {
  await new Promise<void>((res, rej) => {
    const c = spawn("chown", ["-R", `${id.uid}:${id.gid}`, dir], { stdio: "ignore" });
    c.on("error", rej);
    c.on("close", (code) => (code === 0 ? res() : rej(new Error(`chown -R ${dir} exited ${String(code)}`))));
  });
}

/** Makes a directory the server's user owns (a restore destination). */
export function serverOwnedDir(parent: string, name: string, major: PostgresMajor): string {
  const dir = join(parent, name);
  mkdirSync(dir, { mode: 0o700 });
  const id = serverIdentity(major);
  if (id) chownSync(dir, id.uid, id.gid);
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Polls `check` every 250 ms until it is true; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Every key under `prefix` of `store`, sorted. */
export async function objectKeys(store: { list(prefix: string): AsyncIterable<{ key: string }> }, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort();
}
