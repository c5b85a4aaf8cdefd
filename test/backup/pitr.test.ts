// Point-in-time recovery end to end on real servers: a source PostgreSQL archiving its WAL to a
// real S3 server (SeaweedFS) through its own archive_command, a base backup streamed into the bucket
// over the replication protocol, a writer committing rows (their commit times recorded by the server),
// a table dropped later; then a restore to a time T before the drop into a new server. The restored
// database holds exactly the rows committed at or before T and the dropped table is back. Bad input
// (missing bucket, wrong credentials, unreachable endpoint, a missing WAL segment, a target before
// the oldest backup) fails with named errors and deletes nothing. `setpoint backup list|describe`
// reads the same bucket.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCatalog } from "../../sdk/backup/catalog";
import { takeBaseBackup } from "../../sdk/backup/base-backup";
import { restoreBackup, type RecoveryTarget } from "../../sdk/backup/restore";
import { openObjectStore, type ObjectStore } from "../../sdk/backup/store";
import type { BackupManifest } from "../../sdk/backup/manifest";
import { main } from "../../sdk/cli/main";
import { BackupError } from "../../sdk/errors";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { objectKeys, scratchDir, serverIdentity, startOnDataDir, until, waitForPromotion, walCli, writeStoreConfig } from "../support/backup";
import { toolchainOrSkip } from "../support/control-plane";
import { edgeMajors } from "../support/postgres";
import { startS3Server, type S3Server } from "../support/s3";

const tc = toolchainOrSkip(["weed"]);
const PREFIX = "clusters/source";

describe.skipIf(tc.skip !== undefined).each(edgeMajors(16))("point-in-time recovery from S3 on PostgreSQL %i", (major) => {
  let s3: S3Server;
  let store: ObjectStore;
  let source: EmbeddedPostgres;
  let scratch: { dir: string; remove(): void };
  let config: string;
  let backup: BackupManifest;
  let target: Date;
  let expectedIds: number[];
  let auditRows: number;
  const bucket = `pitr-${major}`;

  beforeAll(async () => {
    s3 = await startS3Server(tc.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    store = openObjectStore(s3.store(bucket, PREFIX));
    scratch = scratchDir(major);
    config = writeStoreConfig(scratch.dir, major, s3, bucket, PREFIX);
    source = await startEmbeddedPostgres({
      major,
      parameters: { archive_mode: "on", archive_command: `${walCli(config)} archive %p %f`, track_commit_timestamp: "on" },
    });

    const c = pgClient({ connectionString: source.url() });
    await c.connect();
    try {
      await c.query("create table orders (id int primary key, note text not null)");
      await c.query("create table audit (id int primary key, what text); insert into audit select g, 'row ' || g from generate_series(1, 500) g");
      auditRows = 500;
      // The writer: one row per transaction, each commit's time kept by the server (track_commit_timestamp).
      let stop = false;
      let next = 1;
      const w = pgClient({ connectionString: source.url() });
      await w.connect();
      const writer = (async () => {
        while (!stop) {
          await w.query("insert into orders values ($1, $2)", [next, `order ${next}`]);
          next++;
          await sleep(5);
        }
      })();
      await until("rows before the backup", async () => next > 100);
      // gzip in blocks of 1 MiB on 2 threads: the archive is many gzip members, which the restore reads whole.
      const taken = await takeBaseBackup(store, { source: { host: source.host, port: source.port, user: "postgres" }, compression: "gzip", gzipThreads: 2, gzipBlockBytes: 1024 * 1024 });
      backup = taken.manifest;
      const atBackup = next;
      await until("rows after the backup", async () => next > atBackup + 100);
      // A segment boundary between the backup and T, so that the archive has a segment in the middle.
      await c.query("select pg_switch_wal()");
      await until("more rows", async () => next > atBackup + 150);
      // T: a millisecond boundary while the writer runs; then the mistake.
      target = new Date(Date.now());
      await sleep(300);
      await c.query("drop table audit");
      const afterDrop = next;
      await until("rows after the drop", async () => next > afterDrop + 50);
      stop = true;
      await writer;
      await w.end();
      const { rows } = await c.query<{ id: number }>("select id from orders where pg_xact_commit_timestamp(xmin) <= $1::timestamptz order by id", [target.toISOString()]);
      expectedIds = rows.map((r) => r.id);
      const total = Number((await c.query<{ n: string }>("select count(*)::text as n from orders")).rows[0]!.n);
      // T lies strictly inside the writes after the backup.
      expect(expectedIds.length).toBeGreaterThan(atBackup);
      expect(expectedIds.length).toBeLessThan(total);
      const last = await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name");
      await until("the last segment archived", async () => {
        const r = await c.query<{ last: string | null }>("select last_archived_wal as last from pg_stat_archiver");
        return (r.rows[0]?.last ?? "") >= last.rows[0]!.name;
      });
    } finally {
      await c.end();
    }
  }, 300_000);

  afterAll(async () => {
    await source?.stop();
    store?.close();
    await s3?.stop();
    scratch?.remove();
  });

  it("lists the backup as usable, with its LSNs, times, size and checksums, and the recoverable window", async () => {
    const catalog = await readCatalog(store);
    expect(catalog.backups.map((b) => b.id)).toEqual([backup.id]);
    const [b] = catalog.backups;
    expect(b).toMatchObject({ usable: true, recoverableFrom: backup.endTime });
    expect(b!.manifest).toMatchObject({ timeline: 1, walIncluded: false, startLsn: backup.startLsn, endLsn: backup.endLsn });
    expect(b!.manifest!.archives[0]).toMatchObject({ tablespace: null, key: `base/${backup.id}/data.tar.gz`, compression: "gzip" });
    expect(b!.manifest!.archives[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b!.manifest!.bytes).toBeGreaterThan(b!.manifest!.storedBytes);
    expect(b!.recoverableUntil! > target.toISOString()).toBe(true);
    expect(catalog.recoverable).toEqual({ from: backup.endTime, until: b!.recoverableUntil });
    expect(catalog.timelines).toHaveLength(1);
    expect(catalog.timelines[0]).toMatchObject({ timeline: 1, missingCount: 0 });

    // The CLI reads the same bucket, with credentials from the environment only.
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    try {
      process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
      const args = ["--endpoint", s3.endpoint, "--bucket", bucket, "--prefix", PREFIX];
      expect(await main(["backup", "list", ...args], io)).toBe(0);
      expect(out.join("")).toContain(`recoverable from ${backup.endTime} to ${b!.recoverableUntil}`);
      expect(out.join("")).toMatch(new RegExp(`${backup.id}\\s+yes\\s+1\\s+${backup.endTime}`));
      out.length = 0;
      expect(await main(["backup", "describe", ...args], io)).toBe(0);
      expect(out.join("")).toMatch(/timeline 1: \d+ segments 0000000100000000000000\w\w \.\. /);
      out.length = 0;
      expect(await main(["backup", "describe", ...args, "--backup", backup.id, "--format", "json"], io)).toBe(0);
      expect(JSON.parse(out.join(""))).toMatchObject({ id: backup.id, usable: true, manifest: { startLsn: backup.startLsn } });
      process.env.AWS_SECRET_ACCESS_KEY = "wrong-secret-value";
      expect(await main(["backup", "list", ...args], io)).toBe(1);
      expect(err.join("")).toMatch(/access denied: cannot open bucket s3:\/\/pitr-\d+\/clusters\/source at http:\/\/127\.0\.0\.1:\d+/);
      expect(err.join("")).not.toContain("wrong-secret-value");
      expect(err.join("")).not.toContain(s3.secretAccessKey);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it("restores to a time before the drop: exactly the rows committed at or before it, and the dropped table", async () => {
    const dir = scratchDir(major);
    let restored: Awaited<ReturnType<typeof startOnDataDir>> | undefined;
    try {
      const dataDir = join(dir.dir, "data");
      const id = serverIdentity(major);
      const result = await restoreBackup(store, {
        target: { kind: "time", time: target.toISOString() },
        dataDir,
        restoreCommand: `${walCli(config)} restore %f %p`,
        ...(id ? { owner: id } : {}),
      });
      expect(result.plan.backup.id).toBe(backup.id);
      const started = Date.now();
      restored = await startOnDataDir(major, dataDir);
      await waitForPromotion(restored);
      console.log(`restore of ${(result.bytes / 1e6).toFixed(1)} MB: download+extract ${result.seconds.toFixed(1)} s, recovery ${((Date.now() - started) / 1000).toFixed(1)} s (${result.plan.segments} segments)`);
      const r = pgClient({ connectionString: restored.url() });
      await r.connect();
      try {
        const { rows } = await r.query<{ id: number }>("select id from orders order by id");
        expect(rows.map((x) => x.id)).toEqual(expectedIds);
        const audit = await r.query<{ n: string }>("select count(*)::text as n from audit");
        expect(Number(audit.rows[0]!.n)).toBe(auditRows);
        expect((await r.query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]!.r).toBe(false);
      } finally {
        await r.end();
      }
    } finally {
      await restored?.stop();
      dir.remove();
    }
  });

  it("refuses bad input with named errors and deletes nothing", async () => {
    const before = await objectKeys(store);
    const dir = scratchDir(major);
    try {
      const attempt = async (s: ObjectStore, t: RecoveryTarget, name: string): Promise<BackupError> => {
        const dataDir = join(dir.dir, name);
        const err = await restoreBackup(s, { target: t, dataDir, restoreCommand: "false" }).then(() => undefined, (e: unknown) => e);
        expect(err, name).toBeInstanceOf(BackupError);
        expect(existsSync(dataDir), `${name} left ${dataDir}`).toBe(false);
        return err as BackupError;
      };
      const at: RecoveryTarget = { kind: "time", time: target.toISOString() };
      const missing = openObjectStore(s3.store("no-such-bucket", PREFIX));
      expect((await attempt(missing, at, "missing-bucket")).reason).toBe("BUCKET_NOT_FOUND");
      missing.close();
      const wrong = openObjectStore({ ...s3.store(bucket, PREFIX), credentials: { kind: "static", accessKeyId: s3.accessKeyId, secretAccessKey: "wrong-secret-value" } });
      const denied = await attempt(wrong, at, "wrong-credentials");
      expect(denied.reason).toBe("ACCESS_DENIED");
      expect(denied.message).not.toContain("wrong-secret-value");
      wrong.close();
      const unreachable = openObjectStore({ ...s3.store(bucket, PREFIX), endpoint: "http://127.0.0.1:1" });
      const down = await attempt(unreachable, at, "unreachable");
      expect(down.reason).toBe("ENDPOINT_UNREACHABLE");
      expect(down.message).toContain("http://127.0.0.1:1");
      unreachable.close();
      const early = await attempt(store, { kind: "time", time: new Date(Date.parse(backup.beginTime) - 60_000).toISOString() }, "too-early");
      expect(early.reason).toBe("TARGET_BEFORE_OLDEST_BACKUP");
      expect(early.message).toContain(backup.endTime);
      const late = await attempt(store, { kind: "time", time: new Date(Date.now() + 3_600_000).toISOString() }, "too-late");
      expect(late.reason).toBe("TARGET_AFTER_ARCHIVE");

      // Copies of the bucket without one segment: one in the middle (refused when planning), and the
      // newest (indistinguishable from WAL not archived yet: PostgreSQL refuses to end recovery short
      // of the target, and the restored server never comes up promoted).
      const catalog = await readCatalog(store);
      const segments = [...catalog.index.get(1)!.keys()].sort((a, b) => (a < b ? -1 : 1));
      const endNo = BigInt(`0x${backup.endWal.slice(16)}`);
      const after = segments.filter((n) => n > endNo);
      expect(after.length).toBeGreaterThanOrEqual(2);
      const keyOf = (n: bigint): string => `wal/00000001/${backup.endWal.slice(0, 16)}${n.toString(16).toUpperCase().padStart(8, "0")}.gz`;
      const copyWithout = async (prefix: string, dropped: string): Promise<ObjectStore> => {
        const copy = openObjectStore(s3.store(bucket, prefix));
        for (const key of before) {
          if (key === dropped) continue;
          const o = await store.get(key);
          await copy.put(key, o!.body, o!.info.metadata);
        }
        return copy;
      };
      const middle = keyOf(after[0]!);
      const gap = await copyWithout("clusters/gap", middle);
      const hole = await attempt(gap, at, "missing-segment");
      expect(hole.reason).toBe("WAL_SEGMENT_MISSING");
      expect(hole.object).toBe(middle.split("/").pop()!.replace(/\.gz$/, ""));
      expect(hole.message).toContain(hole.object!);
      gap.close();

      const newest = keyOf(after[after.length - 1]!);
      const cut = await copyWithout("clusters/cut", newest);
      const cutConfig = writeStoreConfig(dir.dir, major, s3, bucket, "clusters/cut");
      const cutDir = join(dir.dir, "cut");
      const id = serverIdentity(major);
      let outcome: unknown;
      let server: Awaited<ReturnType<typeof startOnDataDir>> | undefined;
      try {
        await restoreBackup(cut, { target: at, dataDir: cutDir, restoreCommand: `${walCli(cutConfig)} restore %f %p`, ...(id ? { owner: id } : {}) });
        server = await startOnDataDir(major, cutDir);
        await waitForPromotion(server);
      } catch (e) {
        outcome = e;
      } finally {
        await server?.stop();
        cut.close();
      }
      expect(outcome, "a restore missing its newest segment came up promoted").toBeInstanceOf(Error);
      const named = outcome instanceof BackupError ? outcome.reason : (outcome as Error).message.match(/recovery ended before configured recovery target was reached/)?.[0];
      expect(["TARGET_AFTER_ARCHIVE", "RECOVERY_FAILED", "recovery ended before configured recovery target was reached"]).toContain(named);

      // A destination that is not empty is refused before anything is read.
      const busy = join(dir.dir, "busy");
      const err = await restoreBackup(store, { target: at, dataDir: dir.dir, restoreCommand: "false" }).then(() => undefined, (e: unknown) => e);
      expect((err as BackupError).reason).toBe("DESTINATION_NOT_EMPTY");
      expect(existsSync(busy)).toBe(false);
      expect(readdirSync(dir.dir).length).toBeGreaterThan(0);
    } finally {
      dir.remove();
    }
    expect(await objectKeys(store)).toEqual(before);
  }, 240_000);
});
