// Retention on real servers: a PostgreSQL archiving its WAL into a real S3 server (SeaweedFS), three
// base backups with batches of rows and WAL segments between them, and a failed (manifest-less)
// backup from long ago. Retention applied with a window that starts between the second and the
// third backup deletes the first backup, the failed one and the WAL before the second's start, and
// nothing else; then EVERY kept backup is restored, to its own end and to the latest point, and
// holds exactly the rows it should: nothing a kept backup needs was deleted. Bad input (a malformed
// period, wrong credentials) is a named error and deletes nothing. `setpoint backup retention`
// prints the same plan with --dry-run and deletes nothing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { takeBaseBackup } from "../../sdk/backup/base-backup";
import { readCatalog } from "../../sdk/backup/catalog";
import { archiveKey, backupIdFor, manifestKey, parseWalName } from "../../sdk/backup/layout";
import type { BackupManifest } from "../../sdk/backup/manifest";
import { restoreBackup, type RecoveryTarget } from "../../sdk/backup/restore";
import { applyRetention } from "../../sdk/backup/retention";
import { openObjectStore, type ObjectStore } from "../../sdk/backup/store";
import { main } from "../../sdk/cli/main";
import type { BackupError} from "../../sdk/errors";
import { InputError } from "../../sdk/errors";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { objectKeys, scratchDir, serverIdentity, startOnDataDir, until, waitForPromotion, walCli, writeStoreConfig } from "../support/backup";
import { toolchainOrSkip } from "../support/control-plane";
import { edgeMajors } from "../support/postgres";
import { startS3Server, type S3Server } from "../support/s3";

const tc = toolchainOrSkip(["weed"]);
const PREFIX = "clusters/kept";
const BATCH = 200;

describe.skipIf(tc.skip !== undefined).each(edgeMajors(16))("retention on PostgreSQL %i", (major) => {
  let s3: S3Server;
  let store: ObjectStore;
  let source: EmbeddedPostgres;
  let scratch: { dir: string; remove(): void };
  let config: string;
  const backups: BackupManifest[] = [];
  /** Rows committed before each backup began (no writes run during a backup). */
  const rowsAt: number[] = [];
  let totalRows = 0;
  let failedId: string;
  let now: Date;
  let before: string[];
  const bucket = `retention-${major}`;

  beforeAll(async () => {
    s3 = await startS3Server(tc.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    store = openObjectStore(s3.store(bucket, PREFIX));
    scratch = scratchDir(major);
    config = writeStoreConfig(scratch.dir, major, s3, bucket, PREFIX);
    source = await startEmbeddedPostgres({ major, parameters: { archive_mode: "on", archive_command: `${walCli(config)} archive %p %f` } });
    const c = pgClient({ connectionString: source.url() });
    await c.connect();
    try {
      await c.query("create table t (id int primary key, batch int not null, pad text not null)");
      const batch = async (): Promise<void> => {
        await c.query("insert into t select g, $2, repeat('x', 200) from generate_series($1::int + 1, $1::int + $3::int) g", [totalRows, backups.length, BATCH]);
        totalRows += BATCH;
        // Every backup has WAL segments of its own between it and the next (a backup's end switches too).
        await c.query("insert into t select g, -1, 'between' from generate_series($1::int + 1, $1::int + 10) g", [totalRows]);
        totalRows += 10;
        await c.query("select pg_switch_wal()");
      };
      // A failed backup from long ago: an archive without a manifest.
      failedId = backupIdFor(new Date(Date.now() - 3 * 86_400_000));
      await store.put(archiveKey(failedId, null), Buffer.from("partial"), {});
      for (let i = 0; i < 3; i++) {
        await batch();
        rowsAt.push(totalRows);
        // Stored as they are (the default) and gzip-compressed, alternately: restoring each kept backup reads both.
        backups.push((await takeBaseBackup(store, { source: { host: source.host, port: source.port, user: "postgres" }, ...(i === 1 ? { compression: "gzip" as const } : {}) })).manifest);
        await sleep(1100); // backup ids are unique to the second
      }
      await batch();
      // A write first: a switch right after a switch does nothing and names the current segment.
      await c.query("insert into t values ($1, -2, 'tail')", [totalRows + 1]);
      totalRows += 1;
      const last = await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name");
      await until("the last segment archived", async () => {
        const r = await c.query<{ last: string | null }>("select last_archived_wal as last from pg_stat_archiver");
        return (r.rows[0]?.last ?? "") >= last.rows[0]!.name;
      }, 300_000).catch(async (err: unknown) => {
        const r = await c.query("select * from pg_stat_archiver");
        throw new Error(`${String(err)} (${last.rows[0]!.name}): ${JSON.stringify(r.rows[0])}\n${readFileSync(join(source.dir, "server.log"), "utf8").slice(-4000)}`);
      });
    } finally {
      await c.end();
    }
    // The window (1 hour) starts between the second backup's end and the third's begin.
    const mid = (Date.parse(backups[1]!.endTime) + Date.parse(backups[2]!.beginTime)) / 2;
    now = new Date(mid + 3_600_000);
    before = await objectKeys(store);
  }, 600_000);

  afterAll(async () => {
    await source?.stop();
    store?.close();
    await s3?.stop();
    scratch?.remove();
  });

  it("refuses bad input with named errors and deletes nothing", async () => {
    await expect(applyRetention(store, { period: "30 days", now })).rejects.toThrow(InputError);
    const wrong = openObjectStore({ ...s3.store(bucket, PREFIX), credentials: { kind: "static", accessKeyId: s3.accessKeyId, secretAccessKey: "wrong-secret-value" } });
    const err = await applyRetention(wrong, { period: "1h", now }).then(() => undefined, (e: unknown) => e);
    wrong.close();
    expect((err as BackupError).reason).toBe("ACCESS_DENIED");
    expect((err as Error).message).not.toContain("wrong-secret-value");
    const missing = openObjectStore(s3.store("no-such-bucket", PREFIX));
    expect(((await applyRetention(missing, { period: "1h", now }).catch((e: unknown) => e)) as BackupError).reason).toBe("BUCKET_NOT_FOUND");
    missing.close();
    // The CLI: a dry run prints the plan and deletes nothing; --dry-run with --apply is refused.
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const out: string[] = [];
    const errs: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => errs.push(t) };
    try {
      process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
      const args = ["backup", "retention", "--endpoint", s3.endpoint, "--bucket", bucket, "--prefix", PREFIX, "--retention", "1h"];
      expect(await main([...args, "--dry-run"], io)).toBe(0);
      // Real time: every backup is in the last hour, only the failed one (3 days old) goes.
      expect(out.join("")).toContain(`delete  ${failedId}  incomplete and begun before the window`);
      for (const b of backups) expect(out.join("")).toContain(`keep    ${b.id}`);
      // ... and the WAL from before the oldest kept backup's start.
      expect(out.join("")).toContain(`kept from ${backups[0]!.startWal}`);
      expect(out.join("")).toMatch(/dry run: would delete \d+ object\(s\), .*; nothing deleted/);
      expect(await main([...args, "--dry-run", "--apply"], io)).toBe(1);
      expect(errs.join("")).toContain("give exactly one of --dry-run");
      expect(await main([...args.slice(0, -2), "--retention", "30x", "--apply"], io)).toBe(1);
      expect(errs.join("")).toContain(`"30x" is not a retention period`);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
    expect(await objectKeys(store)).toEqual(before);
  });

  it("deletes the backups before the window (but the one covering its start) and the WAL only they need", async () => {
    const dry = await applyRetention(store, { period: "1h", now, dryRun: true });
    expect(await objectKeys(store)).toEqual(before);
    expect(dry.plan.remove.map((r) => r.id).sort()).toEqual([failedId, backups[0]!.id].sort());
    expect(dry.plan.keep.map((k) => k.id)).toEqual([backups[1]!.id, backups[2]!.id]);
    const { plan, deleted } = await applyRetention(store, { period: "1h", now });
    expect(plan).toEqual(dry.plan);
    expect(deleted).toBe(plan.backupObjects.length + plan.walObjects.length);
    const after = await objectKeys(store);
    // Exactly what the plan named is gone.
    expect(after).toEqual(before.filter((k) => !plan.backupObjects.includes(k) && !plan.walObjects.includes(k)));
    expect(after.some((k) => k.startsWith(`base/${backups[0]!.id}/`) || k.startsWith(`base/${failedId}/`))).toBe(false);
    expect(after).toContain(manifestKey(backups[1]!.id));
    // No WAL before the second backup's start remains, and everything from it on does.
    const start = parseWalName(backups[1]!.startWal)!;
    const startNo = start.kind === "segment" ? start.segno : -1n;
    const segnos = (keys: string[]): bigint[] => keys.filter((k) => k.startsWith("wal/")).flatMap((k) => {
      const f = parseWalName(k.split("/").pop()!.replace(/\.gz$/, ""));
      return f && "segno" in f ? [f.segno] : [];
    });
    expect(segnos(after).every((n) => n >= startNo)).toBe(true);
    expect(segnos(plan.walObjects).length).toBeGreaterThanOrEqual(4);
    expect(segnos(before).filter((n) => n >= startNo).sort()).toEqual(segnos(after).sort());
    // Applying again finds nothing more to delete.
    const again = await applyRetention(store, { period: "1h", now });
    expect(again.deleted).toBe(0);
    const catalog = await readCatalog(store);
    expect(catalog.backups.map((b) => [b.id, b.usable])).toEqual([[backups[1]!.id, true], [backups[2]!.id, true]]);
    expect(catalog.timelines[0]!.missingCount).toBe(0);
    // The deleted backup is no longer restorable by name.
    const gone = await restoreBackup(store, { target: { kind: "latest" }, backupId: backups[0]!.id, dataDir: join(scratch.dir, "gone"), restoreCommand: "false" }).catch((e: unknown) => e);
    expect((gone as BackupError).reason).toBe("BACKUP_NOT_FOUND");
  });

  it("restores every kept backup to its end and to the latest point", async () => {
    const restoreCommand = `${walCli(config)} restore %f %p`;
    const id = serverIdentity(major);
    const cases: { backup: number; target: RecoveryTarget; rows: number }[] = [];
    for (const i of [1, 2]) {
      cases.push({ backup: i, target: { kind: "lsn", lsn: backups[i]!.endLsn }, rows: rowsAt[i]! });
      cases.push({ backup: i, target: { kind: "latest" }, rows: totalRows });
    }
    for (const c of cases) {
      const dir = scratchDir(major);
      let server: Awaited<ReturnType<typeof startOnDataDir>> | undefined;
      try {
        const dataDir = join(dir.dir, "data");
        const r = await restoreBackup(store, { target: c.target, backupId: backups[c.backup]!.id, dataDir, restoreCommand, ...(id ? { owner: id } : {}) });
        expect(r.plan.backup.id).toBe(backups[c.backup]!.id);
        server = await startOnDataDir(major, dataDir);
        await waitForPromotion(server);
        const client = pgClient({ connectionString: server.url() });
        await client.connect();
        try {
          const { rows } = await client.query<{ n: string; max: number }>("select count(*)::text as n, max(id) as max from t");
          expect(Number(rows[0]!.n), `backup ${c.backup} to ${c.target.kind}`).toBe(c.rows);
          expect(rows[0]!.max).toBe(c.rows);
        } finally {
          await client.end();
        }
      } finally {
        await server?.stop();
        dir.remove();
      }
    }
  }, 600_000);
});
