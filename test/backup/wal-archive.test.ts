// The WAL archive against a real S3 server (SeaweedFS) and real PostgreSQL servers: the server's
// own archive_command runs the WAL CLI; segments land compressed and checksummed; re-archiving is
// idempotent and a different file of the same name is refused; a data directory copied with the
// low-level backup API recovers through restore_command, and its new timeline's history is archived.
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveWal, restoreWal } from "../../sdk/backup/wal";
import { EXIT_ABORT_RECOVERY, EXIT_NOT_FOUND, walCommand } from "../../sdk/backup/wal-cli";
import { openObjectStore, type ObjectStore } from "../../sdk/backup/store";
import { META } from "../../sdk/backup/layout";
import { BackupError } from "../../sdk/errors";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { scratchDir, serverOwnedDir, startOnDataDir, waitForPromotion, walCli, writeStoreConfig } from "../support/backup";
import { toolchainOrSkip } from "../support/control-plane";
import { edgeMajors } from "../support/postgres";
import { startS3Server, type S3Server } from "../support/s3";

const tc = toolchainOrSkip(["weed"]);

/** Waits until the server reports `name` archived. */
async function waitArchived(c: Client, name: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await c.query<{ last: string | null; failed: string | null; failures: string }>(
      "select last_archived_wal as last, last_failed_wal as failed, failed_count::text as failures from pg_stat_archiver",
    );
    const last = rows[0]?.last;
    if (last !== null && last !== undefined && last >= name) return;
    if (Date.now() > deadline) throw new Error(`${name} not archived within ${timeoutMs} ms: ${JSON.stringify(rows[0])}`);
    await sleep(200);
  }
}

async function switchWal(c: Client): Promise<string> {
  const { rows } = await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name");
  return rows[0]!.name;
}

describe.skipIf(tc.skip !== undefined).each(edgeMajors(17))("WAL archive on PostgreSQL %i", (major) => {
  let s3: S3Server;
  let store: ObjectStore;
  let server: EmbeddedPostgres;
  let scratch: { dir: string; remove(): void };
  let config: string;
  const bucket = `wal-${major}`;

  beforeAll(async () => {
    s3 = await startS3Server(tc.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    store = openObjectStore(s3.store(bucket, "clusters/a"));
    scratch = scratchDir(major);
    config = writeStoreConfig(scratch.dir, major, s3, bucket, "clusters/a");
    server = await startEmbeddedPostgres({ major, parameters: { archive_mode: "on", archive_command: `${walCli(config)} archive %p %f`, archive_timeout: 0 } });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    store?.close();
    await s3?.stop();
    scratch?.remove();
  });

  it("archives each finished segment through archive_command, gzip-compressed with the sha256 of its content", async () => {
    const c = pgClient({ connectionString: server.url() });
    await c.connect();
    try {
      await c.query("create table t (id int primary key, note text); insert into t select g, repeat('x', 100) from generate_series(1, 20000) g");
      const name = await switchWal(c);
      await waitArchived(c, name);
      const original = readFileSync(join(server.dir, "data", "pg_wal", name));
      const head = await store.head(`wal/00000001/${name}.gz`);
      expect(head?.metadata[META.sha256]).toBe(createHash("sha256").update(original).digest("hex"));
      expect(head?.metadata[META.size]).toBe(String(original.length));
      expect(head!.size).toBeLessThan(original.length / 2);
      const dest = join(scratch.dir, "restored-segment");
      expect(await restoreWal(store, name, dest)).toMatchObject({ found: true, bytes: original.length });
      expect(readFileSync(dest).equals(original)).toBe(true);
      const { rows } = await c.query<{ failed: string }>("select failed_count::text as failed from pg_stat_archiver");
      expect(rows[0]!.failed).toBe("0");
    } finally {
      await c.end();
    }
  });

  it("succeeds when the same segment is archived again, and refuses a different one of the same name", async () => {
    const c = pgClient({ connectionString: server.url() });
    await c.connect();
    try {
      await c.query("insert into t select g, 'y' from generate_series(20001, 30000) g");
      const name = await switchWal(c);
      await waitArchived(c, name);
      const path = join(server.dir, "data", "pg_wal", name);
      const before = await store.head(`wal/00000001/${name}.gz`);
      expect(await archiveWal(store, path, name)).toMatchObject({ status: "already-archived" });
      const forged = join(scratch.dir, name);
      const bytes = readFileSync(path);
      bytes[100] = bytes[100]! ^ 0xff;
      writeFileSync(forged, bytes);
      const err = await archiveWal(store, forged, name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackupError);
      expect((err as BackupError).reason).toBe("ARCHIVE_CONFLICT");
      expect((err as BackupError).message).toContain(name);
      const after = await store.head(`wal/00000001/${name}.gz`);
      expect(after?.metadata[META.sha256]).toBe(before?.metadata[META.sha256]);
      // An unknown name is refused before anything is read or written.
      await expect(archiveWal(store, forged, "not-a-wal-file")).rejects.toThrow(/not a WAL file name/);

      // restore_command's exit status: 0 found, 1 not archived (the end of the archive), 126 for
      // anything that must stop recovery rather than end it (here: a damaged object).
      const err2: string[] = [];
      const dest = join(scratch.dir, "via-cli");
      expect(await walCommand(["restore", name, dest, "--config", config], {}, (t) => err2.push(t))).toBe(0);
      expect(readFileSync(dest).equals(readFileSync(path))).toBe(true);
      expect(await walCommand(["restore", "0000000100000000000000FF", join(scratch.dir, "none"), "--config", config], {}, (t) => err2.push(t))).toBe(EXIT_NOT_FOUND);
      const damaged = `wal/00000001/${name}.gz`;
      const stored = await store.get(damaged);
      const other = openObjectStore(s3.store(bucket, "clusters/damaged"));
      const body = Buffer.from(stored!.body);
      body[body.length - 12] = body[body.length - 12]! ^ 0xff;
      await other.put(damaged, body, stored!.info.metadata);
      other.close();
      const damagedConfig = writeStoreConfig(scratch.dir, major, s3, bucket, "clusters/damaged");
      expect(await walCommand(["restore", name, join(scratch.dir, "bad"), "--config", damagedConfig], {}, (t) => err2.push(t))).toBe(EXIT_ABORT_RECOVERY);
      expect(existsSync(join(scratch.dir, "bad"))).toBe(false);
      expect(err2.join("")).toMatch(/CHECKSUM_MISMATCH/);
      // A standby's restore (--standby): the archive is a fallback to streaming, so the same damage,
      // a store without a config, or none at all is "not found" (the standby streams instead), never fatal.
      expect(await walCommand(["restore", name, join(scratch.dir, "bad"), "--standby", "--config", damagedConfig], {}, (t) => err2.push(t))).toBe(EXIT_NOT_FOUND);
      expect(existsSync(join(scratch.dir, "bad"))).toBe(false);
      expect(await walCommand(["restore", name, join(scratch.dir, "bad"), "--standby"], {}, (t) => err2.push(t))).toBe(EXIT_NOT_FOUND);
      expect(await walCommand(["restore", name, join(scratch.dir, "bad")], {}, (t) => err2.push(t))).toBe(EXIT_ABORT_RECOVERY);
      expect(await walCommand(["restore", name, join(scratch.dir, "via-standby"), "--standby", "--config", config], {}, (t) => err2.push(t))).toBe(0);
      expect(readFileSync(join(scratch.dir, "via-standby")).equals(readFileSync(path))).toBe(true);
      expect(err2.join("")).not.toContain(s3.secretAccessKey);
    } finally {
      await c.end();
    }
  });

  it("recovers a copied data directory through restore_command, then archives the new timeline's history to its own prefix", async () => {
    const c = pgClient({ connectionString: server.url() });
    await c.connect();
    const restoreDir = scratchDir(major);
    let restored: Awaited<ReturnType<typeof startOnDataDir>> | undefined;
    try {
      // The low-level backup API: start, copy the data directory, stop (waits for the WAL to be archived).
      const start = major >= 15 ? "select pg_backup_start('wal-test', true)" : "select pg_start_backup('wal-test', true, false)";
      const stop = major >= 15 ? "select labelfile from pg_backup_stop()" : "select labelfile from pg_stop_backup(false)";
      await c.query(start);
      const dataDir = serverOwnedDir(restoreDir.dir, "data", major);
      rmSync(dataDir, { recursive: true });
      cpSync(join(server.dir, "data"), dataDir, { recursive: true, preserveTimestamps: true });
      for (const f of readdirSync(join(dataDir, "pg_wal"))) rmSync(join(dataDir, "pg_wal", f), { recursive: true, force: true });
      for (const f of ["postmaster.pid", "postmaster.opts"]) rmSync(join(dataDir, f), { force: true });
      await c.query("insert into t select g, 'during' from generate_series(30001, 30100) g");
      const { rows } = await c.query<{ labelfile: string }>(stop);
      writeFileSync(join(dataDir, "backup_label"), rows[0]!.labelfile);
      await c.query("create table after_backup as select 42 as answer");
      await c.query("insert into t select g, 'after' from generate_series(30101, 31000) g");
      const last = await switchWal(c);
      await waitArchived(c, last);
      const expected = await c.query<{ n: string; sum: string }>("select count(*)::text as n, sum(id)::text as sum from t");

      // Recover to the end of the archive; the restored server archives into its own prefix.
      const ownConfig = writeStoreConfig(restoreDir.dir, major, s3, bucket, "clusters/a-restored");
      writeFileSync(join(dataDir, "recovery.signal"), "");
      restored = await startOnDataDir(major, dataDir, {
        restore_command: `${walCli(config)} restore %f %p`,
        archive_mode: "on",
        archive_command: `${walCli(ownConfig)} archive %p %f`,
      });
      await waitForPromotion(restored);
      const r = pgClient({ connectionString: restored.url() });
      await r.connect();
      try {
        const got = await r.query<{ n: string; sum: string }>("select count(*)::text as n, sum(id)::text as sum from t");
        expect(got.rows[0]).toEqual(expected.rows[0]);
        expect((await r.query("select answer from after_backup")).rows).toEqual([{ answer: 42 }]);
        const tli = await r.query<{ tli: number }>("select timeline_id as tli from pg_control_checkpoint()");
        expect(tli.rows[0]!.tli).toBeGreaterThan(1);
        // The new timeline's history file reaches the restored cluster's own prefix, never the source's.
        const own = openObjectStore(s3.store(bucket, "clusters/a-restored"));
        try {
          const history = `${String(2).padStart(8, "0")}.history`;
          const deadline = Date.now() + 60_000;
          while ((await own.head(`wal/00000002/${history}.gz`)) === undefined && Date.now() < deadline) await sleep(250);
          expect(await own.head(`wal/00000002/${history}.gz`)).toBeDefined();
          expect(await store.head(`wal/00000002/${history}.gz`)).toBeUndefined();
        } finally {
          own.close();
        }
      } finally {
        await r.end();
      }
      expect(existsSync(join(dataDir, "recovery.signal"))).toBe(false);
    } finally {
      await c.end();
      await restored?.stop();
      restoreDir.remove();
    }
  });
});
