// A base backup over the replication protocol (sdk/instance/basebackup.ts) against real servers of
// every major: a clone that starts as a streaming standby through its slot, with a tablespace
// moved to another location; and what bad input and failures leave behind (nothing).
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError, InputError } from "../../sdk/errors";
import { BaseBackupError, cloneInstance, streamBaseBackup } from "../../sdk/instance/basebackup";
import { embeddedBinDir, randomPassword, runIdentity, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { majors } from "../support/postgres";

const REPLICATION_PASSWORD = "rep'l \\ pw";

async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe.each(majors())("base backup over the replication protocol, PostgreSQL %i", (major) => {
  const identity = runIdentity("nobody", major);
  const owner = identity ?? undefined;
  let primary: EmbeddedPostgres;
  let work: string;
  let standby: ChildProcess | undefined;
  const password = randomPassword();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "setpoint-bb-"));
    if (identity) chownSync(work, identity.uid, identity.gid);
    primary = await startEmbeddedPostgres({ major, password, parameters: { wal_keep_size: "0" } });
    const tsDir = join(work, "ts-source");
    mkdirSync(tsDir, { mode: 0o700 });
    if (identity) chownSync(tsDir, identity.uid, identity.gid);
    const url = primary.url();
    await query(url, `CREATE ROLE streaming_replica LOGIN REPLICATION PASSWORD '${REPLICATION_PASSWORD.replaceAll("'", "''")}'`);
    await query(url, "CREATE ROLE plain_user LOGIN PASSWORD 'plain'");
    await query(url, `CREATE TABLESPACE extra LOCATION '${tsDir}'`);
    await query(url, "CREATE TABLE items (id int PRIMARY KEY, body text)");
    await query(url, "INSERT INTO items SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
    await query(url, "CREATE TABLE far (id int) TABLESPACE extra");
    await query(url, "INSERT INTO far SELECT generate_series(1, 500)");
    await query(url, "SELECT pg_create_physical_replication_slot('replica_1', true)");
  }, 120_000);

  afterAll(async () => {
    standby?.kill("SIGINT");
    if (standby && standby.exitCode === null) await new Promise((r) => standby!.once("exit", r));
    await primary?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const source = () => ({ host: "127.0.0.1", port: primary.port, user: "streaming_replica", password: REPLICATION_PASSWORD, applicationName: "replica_1" });

  it("clones into an empty directory, and the clone streams as a standby through its slot", async () => {
    const pgdata = join(work, "clone");
    const tsTarget = join(work, "ts-clone");
    const result = await cloneInstance({
      source: source(),
      pgdata,
      slot: "replica_1",
      tablespaceMapping: { [join(work, "ts-source")]: tsTarget },
      ...(owner ? { owner } : {}),
    });
    expect(Math.floor(result.serverVersionNum / 10000)).toBe(major);
    expect(result.timeline).toBe(1);
    expect(result.startLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(result.bytes).toBeGreaterThan(4_000_000);
    expect(existsSync(join(pgdata, "standby.signal"))).toBe(true);
    expect(existsSync(join(pgdata, "backup_label"))).toBe(true);
    expect(readdirSync(join(pgdata, "pg_wal")).some((f) => /^[0-9A-F]{24}$/.test(f))).toBe(true);
    expect(readdirSync(tsTarget).length).toBeGreaterThan(0);
    const auto = readFileSync(join(pgdata, "postgresql.auto.conf"), "utf8");
    expect(auto).toContain("primary_slot_name = 'replica_1'");

    const port = await freePort();
    const sock = join(work, "sock");
    mkdirSync(sock, { mode: 0o700 });
    if (identity) chownSync(sock, identity.uid, identity.gid);
    // A hot standby needs the primary's values of these (the embedded server sets some on its command line).
    const must = await query<{ name: string; setting: string }>(
      primary.url(),
      "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')",
    );
    standby = spawn(join(embeddedBinDir(major), "postgres"), ["-D", pgdata, ...must.flatMap((m) => ["-c", `${m.name}=${m.setting}`]), "-c", `port=${port}`, "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${sock}`], {
      stdio: ["ignore", "ignore", openSync(join(work, "standby.log"), "a")],
      ...(identity ?? {}),
      env: { ...process.env, LC_ALL: "C.UTF-8" },
    });
    const standbyUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    await query(primary.url(), "INSERT INTO items VALUES (20001, 'after the clone')");
    let rows: { n: string; rec: boolean; far: string }[] = [];
    for (let i = 0; i < 200; i++) {
      try {
        rows = await query(standbyUrl, "SELECT count(*) AS n, pg_is_in_recovery() AS rec, (SELECT count(*) FROM far) AS far FROM items");
        if (rows[0]?.n === "20001") break;
      } catch {
        // starting up
      }
      await sleep(100);
    }
    if (rows[0]?.n !== "20001") console.log(readFileSync(join(work, "standby.log"), "utf8"));
    expect(rows[0]).toEqual({ n: "20001", rec: true, far: "500" });
    const replication = await query<{ application_name: string; slot: boolean }>(
      primary.url(),
      "SELECT application_name, (SELECT active FROM pg_replication_slots WHERE slot_name = 'replica_1') AS slot FROM pg_stat_replication",
    );
    expect(replication).toEqual([{ application_name: "replica_1", slot: true }]);
  }, 120_000);

  it("streams archives to a consumer: the main directory last holds the WAL, each tablespace has its own", async () => {
    const seen: { tablespace: string | null; bytes: number }[] = [];
    const result = await streamBaseBackup({ source: source() }, async (archive, data) => {
      let bytes = 0;
      for await (const chunk of data) bytes += chunk.length;
      seen.push({ tablespace: archive.tablespace, bytes });
    });
    expect(seen.map((s) => s.tablespace === null)).toEqual([false, true]);
    expect(seen.reduce((a, s) => a + s.bytes, 0)).toBe(result.bytes);
    expect(result.endLsn >= result.startLsn || result.endLsn.length > result.startLsn.length).toBe(true);
  }, 60_000);

  // Bad input and failures: once, on the newest major (registered only there, so nothing is skipped).
  if (major === majors()[majors().length - 1]) {
    it("a consumer that fails stops the transfer, and its error is the one reported", async () => {
      let chunks = 0;
      const failing = streamBaseBackup({ source: source() }, async (_archive, data) => {
        for await (const _chunk of data) if (++chunks === 3) throw new Error("disk full (test)");
      });
      await expect(failing).rejects.toThrow(/disk full \(test\)/);
      // The source is still usable for the next backup (no backup left running).
      const again = await streamBaseBackup({ source: source() }, async (_a, data) => {
        for await (const _c of data) void _c;
      });
      expect(again.bytes).toBeGreaterThan(0);
    }, 60_000);

    it("refuses a non-empty directory without touching it", async () => {
      const pgdata = join(work, "occupied");
      mkdirSync(pgdata);
      writeFileSync(join(pgdata, "keep.txt"), "data");
      await expect(cloneInstance({ source: source(), pgdata })).rejects.toBeInstanceOf(InputError);
      expect(readdirSync(pgdata)).toEqual(["keep.txt"]);
    });

    it("names a wrong password and a role without REPLICATION, and leaves no directory", async () => {
      const pgdata = join(work, "refused");
      const wrong = cloneInstance({ source: { ...source(), password: "wrong" }, pgdata });
      await expect(wrong).rejects.toBeInstanceOf(ConnectionError);
      await expect(wrong).rejects.toThrow(/password/);
      await expect(wrong).rejects.not.toThrow(/wrong/);
      expect(existsSync(pgdata)).toBe(false);
      const notReplication = cloneInstance({ source: { ...source(), user: "plain_user", password: "plain" }, pgdata });
      await expect(notReplication).rejects.toThrow(/REPLICATION|replication/);
      expect(existsSync(pgdata)).toBe(false);
    });

    it("an aborted clone removes what it wrote from an existing empty directory", async () => {
      const pgdata = join(work, "aborted");
      mkdirSync(pgdata);
      const controller = new AbortController();
      const cloning = cloneInstance({ source: source(), pgdata, signal: controller.signal, tablespaceMapping: { [join(work, "ts-source")]: join(work, "ts-aborted") } });
      setTimeout(() => controller.abort(new Error("test abort")), 30);
      await expect(cloning).rejects.toBeInstanceOf(BaseBackupError);
      expect(readdirSync(pgdata)).toEqual([]);
      expect(existsSync(join(work, "ts-aborted"))).toBe(false);
    });
  }
});
