// Backups inside the instance (sdk/instance/backup.ts, ADR 0029), the instance manager run as a
// local process the way a container runs it, against real PostgreSQL and a real S3 server (SeaweedFS):
// - a primary whose pod has a backup destination archives its WAL from its first start (archive_mode
//   written at initdb, archive_command = the image's WAL CLI), credentials only in its environment;
//   a failing archive is recorded with its named reason where the operator reads it.
// - a writer commits rows (commit times kept by the server), a base backup is taken, a table is
//   dropped; a NEW instance with bootstrap.recovery to a time T before the drop restores, replays,
//   promotes on timeline 2 and holds exactly the rows committed at or before T (row by row), the
//   dropped table is back, the new cluster's password works, and its new timeline is archived to
//   ITS OWN prefix (the source's prefix gets nothing of timeline 2).
// - bad input: a target before the oldest backup fails with TARGET_BEFORE_OLDEST_BACKUP in the
//   container's termination message, PGDATA stays empty; a destination equal to the source is refused.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { instanceHba } from "../../sdk/instance/hba";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { takeBaseBackup } from "../../sdk/backup/base-backup";
import { readCatalog } from "../../sdk/backup/catalog";
import { openObjectStore, type ObjectStore } from "../../sdk/backup/store";
import { ARCHIVE_STATUS_FILE, REPLAY_LIMIT } from "../../sdk/instance/backup";
import { REPLICATION_USER } from "../../sdk/operator/cluster/objects";
import { readArchive } from "../../sdk/operator/cluster/instance-sql";
import { hasPasswdEntry, randomPassword } from "../../sdk/postgres/embedded";
import { objectKeys } from "../support/backup";
import { toolchainOrSkip } from "../support/control-plane";
import { runManager, startManager, type ManagerProcess } from "../support/instance";
import { edgeMajors, majors } from "../support/postgres";
import { startS3Server, type S3Server } from "../support/s3";

const tc = toolchainOrSkip(["weed"]);
const root = mkdtempSync(join(tmpdir(), "setpoint-backup-manager-"));
chmodSync(root, 0o755);
const uid = [4242, 4343, 4444, 5151].find((u) => !hasPasswdEntry(u))!;
const identity = process.getuid?.() === 0 ? { uid, gid: uid } : undefined;
// Every major's directory lives under root: removed once, after all of them.
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dir(...parts: string[]): string {
  const d = join(root, ...parts);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  if (identity) chownSync(d, identity.uid, identity.gid);
  return d;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000, server?: ManagerProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (server && server.child.exitCode !== null) throw new Error(`the manager exited while waiting for ${what}: ${server.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${server ? `: ${server.output().slice(-3000)}` : ""}`);
    await sleep(250);
  }
}

let nextPort = 26_400 + Math.floor(Math.random() * 1000);

describe.skipIf(tc.skip !== undefined).each(edgeMajors(15))("backups in the instance manager on PostgreSQL %i", (major) => {
  let s3: S3Server;
  let source: ObjectStore;
  let restoredStore: ObjectStore;
  let primary: ManagerProcess | undefined;
  let restored: ManagerProcess | undefined;
  const bucket = `mgr-${major}`;
  const password = randomPassword();
  const newPassword = randomPassword();
  const base = dir(`pg${major}`);
  const hba = join(base, "pg_hba.conf");
  writeFileSync(hba, instanceHba({ replicationUser: REPLICATION_USER }) /* the password variant: this server runs without TLS */, { mode: 0o644 });
  const serverArgs = ["-c", `hba_file=${hba}`, "-c", "fsync=off", "-c", "track_commit_timestamp=on"];
  const destination = (prefix: string): string => JSON.stringify({ endpoint: s3.endpoint, bucket, prefix });
  const env = (name: string, port: number, over: Record<string, string> = {}): Record<string, string> => ({
    PGDATA: join(dir(`pg${major}`, name), "pgdata"),
    SETPOINT_POSTGRES_MAJOR: String(major),
    SETPOINT_ROLE: "primary",
    SETPOINT_POD_UID: `pod-${name}`,
    SETPOINT_SUPERUSER_PASSWORD: password,
    PGPORT: String(port),
    SETPOINT_LISTEN_ADDRESSES: "127.0.0.1",
    SETPOINT_SOCKET_DIR: dir(`pg${major}`, name, "run"),
    SETPOINT_TERMINATION_LOG: join(dir(`pg${major}`, name), "termination-log"),
    ...over,
  });
  const port = nextPort++;
  const client = async (p: number, pw: string, database = "postgres"): Promise<Client> => {
    const c = pgClient({ host: "127.0.0.1", port: p, user: "postgres", password: pw, database, connectionTimeoutMillis: 5000 });
    await c.connect();
    return c;
  };
  let target: Date;
  let expectedIds: number[];
  const replicationPassword = randomPassword();

  beforeAll(async () => {
    s3 = await startS3Server(tc.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    source = openObjectStore(s3.store(bucket, "ns/source"));
    restoredStore = openObjectStore(s3.store(bucket, "ns/restored"));
  }, 120_000);

  afterAll(async () => {
    primary?.child.kill("SIGKILL");
    restored?.child.kill("SIGKILL");
    source?.close();
    restoredStore?.close();
    await s3?.stop();
  });

  it("archives from the first start; a writer, a base backup, then a table dropped", async () => {
    const e = env("source", port, {
      SETPOINT_BACKUP_DESTINATION: destination("ns/source"),
      SETPOINT_BACKUP_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    primary = startManager(["run", ...serverArgs], e, identity);
    await until("the primary", async () => (await runManager(["ready"], e, identity)).code === 0, 180_000, primary);
    const c = await client(port, password);
    try {
      expect((await c.query<{ m: string; cmd: string }>("select current_setting('archive_mode') as m, current_setting('archive_command') as cmd")).rows[0]).toEqual({
        m: "always",
        cmd: "$SETPOINT_WAL_COMMAND archive %p %f",
      });
      await c.query(`create role ${REPLICATION_USER} login replication password '${replicationPassword}'`);
      await c.query("create table orders (id int primary key, note text not null)");
      await c.query("create table audit (id int primary key, what text); insert into audit select g, 'row ' || g from generate_series(1, 300) g");
      let stop = false;
      let next = 1;
      const w = await client(port, password);
      const writer = (async () => {
        while (!stop) {
          await w.query("insert into orders values ($1, $2)", [next, `order ${next}`]);
          next++;
          await sleep(5);
        }
      })();
      // A setting of the source (ALTER SYSTEM, so in the backup's postgresql.auto.conf) that a
      // restored cluster with other parameters must not keep.
      await c.query("alter system set statement_timeout = '42s'");
      await c.query("select pg_reload_conf()");
      await until("rows before the backup", async () => next > 50);
      await takeBaseBackup(source, { source: { host: "127.0.0.1", port, user: REPLICATION_USER, password: replicationPassword } });
      const atBackup = next;
      await until("rows after the backup", async () => next > atBackup + 80);
      await c.query("select pg_switch_wal()");
      await until("more rows", async () => next > atBackup + 120);
      target = new Date();
      await sleep(300);
      await c.query("drop table audit");
      const afterDrop = next;
      await until("rows after the drop", async () => next > afterDrop + 40);
      stop = true;
      await writer;
      await w.end();
      expectedIds = (await c.query<{ id: number }>("select id from orders where pg_xact_commit_timestamp(xmin) <= $1::timestamptz order by id", [target.toISOString()])).rows.map((r) => r.id);
      const total = Number((await c.query<{ n: string }>("select count(*)::text as n from orders")).rows[0]!.n);
      expect(expectedIds.length).toBeGreaterThan(atBackup);
      expect(expectedIds.length).toBeLessThan(total);
      const last = (await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name")).rows[0]!.name;
      await until("the last segment archived", async () => ((await c.query<{ l: string | null }>("select last_archived_wal as l from pg_stat_archiver")).rows[0]?.l ?? "") >= last);
      // What the operator reads: the archiver's state, no failure.
      const a = await readArchive(c);
      expect(a).toMatchObject({ failing: false, lastArchivedWal: last });
      expect(a!.failure).toBeUndefined();
    } finally {
      await c.end();
    }
    const objects = await objectKeys(source, "wal/");
    expect(objects.some((k) => /^wal\/00000001\/00000001[0-9A-F]{16}\.gz$/.test(k))).toBe(true);
    // No credential in the manager's output (the server's log included) or in the config it wrote.
    expect(primary.output()).not.toContain(s3.secretAccessKey);
    const written = readdirSync(join(base, "source")).filter((f) => f.startsWith(".setpoint-backup-"));
    expect(written).toHaveLength(1);
    expect(readFileSync(join(base, "source", written[0]!), "utf8")).not.toContain(s3.secretAccessKey);
  }, 400_000);

  it("bootstraps a replica from the object store (the newest base backup, the archive's WAL, then streaming), and clones the primary when the store has no backup", async () => {
    const c = await client(port, password);
    try {
      for (const slot of ["from_store", "from_primary"]) await c.query("select pg_create_physical_replication_slot($1, true)", [slot]);
      const replica = (name: string, slot: string, prefix: string): { env: Record<string, string>; port: number } => {
        const p = nextPort++;
        return {
          port: p,
          env: env(name, p, {
            SETPOINT_ROLE: "replica",
            SETPOINT_PRIMARY_HOST: "127.0.0.1",
            SETPOINT_PRIMARY_PORT: String(port),
            SETPOINT_REPLICATION_USER: REPLICATION_USER,
            SETPOINT_REPLICATION_PASSWORD: replicationPassword,
            SETPOINT_REPLICATION_SLOT: slot,
            SETPOINT_REPLICA_BOOTSTRAP: "object-store",
            SETPOINT_BACKUP_DESTINATION: destination(prefix),
            SETPOINT_BACKUP_ACCESS_KEY_ID: s3.accessKeyId,
            SETPOINT_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey,
          }),
        };
      };
      // Written after the base backup: the replica gets them from the archive or the stream.
      await c.query("create table after_backup (id int primary key); insert into after_backup select generate_series(1, 1000)");
      const fromStore = replica("from-store", "from_store", "ns/source");
      const fromPrimary = replica("from-primary", "from_primary", "ns/empty");
      const managers = [startManager(["run", ...serverArgs], fromStore.env, identity), startManager(["run", ...serverArgs], fromPrimary.env, identity)];
      try {
        for (const [i, r] of [fromStore, fromPrimary].entries()) {
          await until(`replica ${i} ready`, async () => (await runManager(["ready"], r.env, identity)).code === 0, 180_000, managers[i]);
        }
        await c.query("insert into after_backup values (1001)");
        for (const slot of ["from_store", "from_primary"]) {
          await until(`${slot} streaming`, async () => (await c.query("select 1 from pg_stat_replication where application_name = $1 and state = 'streaming'", [slot])).rowCount === 1);
        }
        const lsn = (await c.query<{ l: string }>("select pg_current_wal_lsn()::text as l")).rows[0]!.l;
        for (const r of [fromStore, fromPrimary]) {
          const rc = await client(r.port, password);
          try {
            await until("the replica replayed the primary's last write", async () => (await rc.query("select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok", [lsn])).rows[0]!.ok === true);
            expect((await rc.query<{ n: string; r: boolean }>("select count(*)::text as n, pg_is_in_recovery() as r from after_backup")).rows[0]).toEqual({ n: "1001", r: true });
            expect(Number((await rc.query<{ n: string }>("select count(*)::text as n from orders")).rows[0]!.n)).toBe(Number((await c.query<{ n: string }>("select count(*)::text as n from orders")).rows[0]!.n));
          } finally {
            await rc.end();
          }
        }
        const events = (m: ManagerProcess): { event: string; from?: string; reason?: string; backupId?: string }[] =>
          m.output().split("\n").filter((l) => l.includes('"event":')).map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { event: string });
        // From the store: the backup, not the primary.
        const cloned = events(managers[0]!).filter((e) => e.event === "cloned");
        expect(cloned).toHaveLength(1);
        expect(cloned[0]).toMatchObject({ from: "object-store" });
        expect(cloned[0]!.backupId).toMatch(/\S/);
        // The WAL past the backup came from the archive (PostgreSQL's own line for restore_command's files).
        expect(managers[0]!.output()).toMatch(/restored log file "[0-9A-F]{24}" from archive/);
        // An empty store: named, then the primary's clone.
        const fell = events(managers[1]!).filter((e) => e.event === "replica bootstrap" || e.event === "cloned");
        expect(fell.map((e) => [e.event, e.event === "cloned" ? e.from : e.reason])).toEqual([["replica bootstrap", "BACKUP_NOT_FOUND"], ["cloned", `127.0.0.1:${port}`]]);
        for (const m of managers) expect(m.output()).not.toContain(s3.secretAccessKey);
      } finally {
        for (const m of managers) m.child.kill("SIGTERM");
        for (const m of managers) await m.exited;
      }
    } finally {
      for (const slot of ["from_store", "from_primary"]) await c.query("select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1", [slot]).catch(() => undefined);
      await c.end();
    }
  }, 400_000);

  it("restores a NEW instance to T: exactly the rows committed at or before T, the dropped table back, timeline 2 archived to its own prefix, started on its own parameters", async () => {
    const port2 = nextPort++;
    // The restored cluster's parameters (ADR 0043): a restart parameter that differs from the
    // source's, a reloadable one, and one PostgreSQL refuses (left out, logged).
    const params = join(base, "restored-parameters.json");
    writeFileSync(params, JSON.stringify({ max_connections: "57", work_mem: "5MB", setpoint_no_such_setting: "1" }));
    const e = env("restored", port2, {
      SETPOINT_PARAMETERS_SOURCE: params,
      SETPOINT_SUPERUSER_PASSWORD: newPassword,
      SETPOINT_RECOVERY_SOURCE: destination("ns/source"),
      SETPOINT_RECOVERY_TARGET: JSON.stringify({ kind: "time", time: target.toISOString() }),
      SETPOINT_RECOVERY_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_RECOVERY_SECRET_ACCESS_KEY: s3.secretAccessKey,
      SETPOINT_REPLICATION_USER: REPLICATION_USER,
      SETPOINT_BACKUP_DESTINATION: destination("ns/restored"),
      SETPOINT_BACKUP_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    const started = Date.now();
    restored = startManager(["run", ...serverArgs], e, identity);
    await until("the restored instance", async () => (await runManager(["ready"], e, identity)).code === 0, 300_000, restored);
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`restore of PostgreSQL ${major} to a time: ${seconds.toFixed(1)} s until ready\n`);
    expect(restored.output()).toContain('"kind":"restore"');
    expect(restored.output()).toContain('"event":"recovered"');
    const c = await client(port2, newPassword);
    try {
      const ids = (await c.query<{ id: number }>("select id from orders order by id")).rows.map((r) => r.id);
      expect(ids).toEqual(expectedIds);
      expect(Number((await c.query<{ n: string }>("select count(*)::text as n from audit")).rows[0]!.n)).toBe(300);
      const s = (await c.query<{ r: boolean; tli: string; m: string; rc: string }>(
        "select pg_is_in_recovery() as r, (select timeline_id::text from pg_control_checkpoint()) as tli, current_setting('archive_mode') as m, current_setting('restore_command') as rc",
      )).rows[0]!;
      expect(s).toEqual({ r: false, tli: "2", m: "always", rc: "" });
      // Its own parameters from the first start: nothing waits for a restart.
      const p = (await c.query<{ mc: string; wm: string; st: string; pending: string }>(
        "select current_setting('max_connections') as mc, current_setting('work_mem') as wm, current_setting('statement_timeout') as st, (select count(*)::text from pg_settings where pending_restart) as pending",
      )).rows[0]!;
      // Exactly its own: the source's statement_timeout is gone with the rest of the source's settings.
      expect(p).toEqual({ mc: "57", wm: "5MB", st: "0", pending: "0" });
      // The source's replication role is gone (the operator creates this cluster's with its own password).
      expect((await c.query("select 1 from pg_roles where rolname = $1", [REPLICATION_USER])).rowCount).toBe(0);
      await c.query("select pg_switch_wal()");
    } finally {
      await c.end();
    }
    await expect(client(port2, password)).rejects.toThrow(/password authentication failed/);
    await until("timeline 2 archived to the new prefix", async () => (await objectKeys(restoredStore, "wal/")).some((k) => k.startsWith("wal/00000002/00000002.history")), 120_000);
    expect((await objectKeys(source, "wal/")).filter((k) => k.startsWith("wal/00000002/"))).toEqual([]);
    expect(readFileSync(join(e.PGDATA!, "postgresql.auto.conf"), "utf8")).not.toMatch(/recovery_target|restore_command/);
    expect(existsSync(join(e.PGDATA!, ARCHIVE_STATUS_FILE))).toBe(false);
    expect(restored.output()).not.toContain(s3.secretAccessKey);
    const logged = restored.output().split("\n").filter((l) => l.includes('"event":"parameters"')).map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { written: string[]; refused: { name: string }[] });
    expect(logged.map((l) => [l.written, l.refused.map((r) => r.name)])).toEqual([[["max_connections", "work_mem"], ["setpoint_no_such_setting"]]]);
    restored.child.kill("SIGTERM");
    expect(await restored.exited).toBe(0);
    restored = undefined;
  }, 400_000);

  it("a target before the oldest backup fails the container with TARGET_BEFORE_OLDEST_BACKUP, PGDATA empty; a destination equal to the source is refused", async () => {
    const recovery = {
      SETPOINT_RECOVERY_SOURCE: destination("ns/source"),
      SETPOINT_RECOVERY_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_RECOVERY_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };
    const e = env("early", nextPort++, { ...recovery, SETPOINT_RECOVERY_TARGET: JSON.stringify({ kind: "time", time: "2020-01-01T00:00:00Z" }) });
    const r = await runManager(["run", ...serverArgs], e, identity);
    expect(r.code).toBe(1);
    expect(readFileSync(e.SETPOINT_TERMINATION_LOG!, "utf8")).toMatch(/^TARGET_BEFORE_OLDEST_BACKUP: /);
    expect(existsSync(e.PGDATA!) ? readdirSync(e.PGDATA!) : []).toEqual([]);
    expect(readdirSync(join(base, "early")).filter((f) => f.startsWith(".pgdata"))).toEqual([]);
    expect(r.output).not.toContain(s3.secretAccessKey);

    const same = env("same", nextPort++, {
      ...recovery,
      SETPOINT_BACKUP_DESTINATION: destination("ns/source"),
      SETPOINT_BACKUP_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    const r2 = await runManager(["run", ...serverArgs], same, identity);
    expect(r2.code).toBe(1);
    expect(readFileSync(same.SETPOINT_TERMINATION_LOG!, "utf8")).toMatch(/backup.destination is the recovery source/);
  }, 300_000);

  // One major: it writes ~70 MB of WAL that does not compress.
  it.runIf(major === Math.max(...majors()))("clones the primary instead when the archived WAL since the newest backup weighs more than twice its data (BACKUP_TOO_FAR_BEHIND)", async () => {
    const c = await client(port, password);
    const p = nextPort++;
    const e = env("behind", p, {
      SETPOINT_ROLE: "replica",
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: String(port),
      SETPOINT_REPLICATION_USER: REPLICATION_USER,
      SETPOINT_REPLICATION_PASSWORD: replicationPassword,
      SETPOINT_REPLICATION_SLOT: "behind",
      SETPOINT_REPLICA_BOOTSTRAP: "object-store",
      SETPOINT_BACKUP_DESTINATION: destination("ns/source"),
      SETPOINT_BACKUP_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    let m: ManagerProcess | undefined;
    try {
      await c.query("select pg_create_physical_replication_slot('behind', true)");
      // Random bytes (uncompressible, also in the gzip'd archive) past the limit of the base backup's data.
      const backupBytes = (await readCatalog(source)).backups.filter((b) => b.usable).at(-1)!.manifest!.bytes;
      const rows = Math.ceil((backupBytes * (REPLAY_LIMIT + 0.3)) / 1024);
      await c.query("create table noise (id int primary key, b bytea not null)");
      await c.query(`insert into noise select g, (select string_agg(decode(md5(random()::text || g || k), 'hex'), ''::bytea) from generate_series(1, 64) k) from generate_series(1, ${rows}) g`);
      const last = (await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name")).rows[0]!.name;
      await until("the noise archived", async () => ((await c.query<{ l: string | null }>("select last_archived_wal as l from pg_stat_archiver")).rows[0]?.l ?? "") >= last);
      m = startManager(["run", ...serverArgs], e, identity);
      await until("the replica ready", async () => (await runManager(["ready"], e, identity)).code === 0, 180_000, m);
      const events = m.output().split("\n").filter((l) => /"event":"(replica bootstrap|cloned)"/.test(l)).map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { event: string; reason?: string; from?: string; error?: string });
      expect(events.map((x) => [x.event, x.event === "cloned" ? x.from : x.reason])).toEqual([["replica bootstrap", "BACKUP_TOO_FAR_BEHIND"], ["cloned", `127.0.0.1:${port}`]]);
      expect(events[0]!.error).toMatch(/bytes of archived WAL behind the archive's end.*take a newer base backup/);
      const rc = await client(p, password);
      try {
        expect((await rc.query<{ n: string }>("select count(*)::text as n from noise")).rows[0]!.n).toBe(String(rows));
      } finally {
        await rc.end();
      }
    } finally {
      m?.child.kill("SIGTERM");
      if (m) await m.exited;
      await c.query("select pg_drop_replication_slot('behind') from pg_replication_slots where slot_name = 'behind'").catch(() => undefined);
      await c.query("drop table if exists noise").catch(() => undefined);
      await c.end();
    }
  }, 400_000);

  it("records a failing archive's named reason where the operator reads it (pg_stat_archiver, the WAL waiting in pg_wal)", async () => {
    // The source primary is still running: point its destination at a missing bucket by restarting it.
    primary!.child.kill("SIGTERM");
    await primary!.exited;
    const e = env("source", port, {
      SETPOINT_BACKUP_DESTINATION: JSON.stringify({ endpoint: s3.endpoint, bucket: "no-such-bucket", prefix: "x" }),
      SETPOINT_BACKUP_ACCESS_KEY_ID: s3.accessKeyId,
      SETPOINT_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey,
      SETPOINT_POD_UID: "pod-source-2",
    });
    primary = startManager(["run", ...serverArgs], e, identity);
    await until("the primary again", async () => (await runManager(["ready"], e, identity)).code === 0, 180_000, primary);
    const c = await client(port, password);
    try {
      await c.query("create table more as select g from generate_series(1, 1000) g");
      await c.query("select pg_switch_wal()");
      await until("a failed archive", async () => existsSync(join(e.PGDATA!, ARCHIVE_STATUS_FILE)));
      const failure = JSON.parse(readFileSync(join(e.PGDATA!, ARCHIVE_STATUS_FILE), "utf8")) as { reason: string; wal: string; message: string };
      expect(failure.reason).toBe("BUCKET_NOT_FOUND");
      expect(failure.message).not.toContain(s3.secretAccessKey);
      await until("pg_stat_archiver's failure", async () => (await c.query<{ fw: string | null }>("select last_failed_wal as fw from pg_stat_archiver")).rows[0]?.fw === failure.wal);
      const a = await readArchive(c);
      expect(a).toMatchObject({ failing: true, lastFailedWal: failure.wal, failure: { reason: "BUCKET_NOT_FOUND", wal: failure.wal } });
      expect(a!.pendingFiles).toBeGreaterThan(0);
      expect(a!.pendingBytes).toBe(a!.pendingFiles * 16 * 2 ** 20);
    } finally {
      await c.end();
    }
    primary.child.kill("SIGTERM");
    expect(await primary.exited).toBe(0);
    primary = undefined;
  }, 300_000);
});
