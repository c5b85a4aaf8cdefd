// `npm run bench:backup-s3 -- [--size-mb 256] [--major 17] [--json FILE]`
//
// The S3 side of backups on a real SeaweedFS server (from `npm run toolchain`), on one source
// loaded with --size-mb of table data (md5 text: compresses about like real rows):
// - base backup into the bucket (BASE_BACKUP → gzip → multipart upload) against the same backup
//   extracted to local disk (no compression, no network) and a plain `cp -a` of the data directory;
// - WAL archive throughput: archiveWal on the server's own segments in-process, and the time of one
//   `wal-cli archive` process (what archive_command pays per segment);
// - restore: download + extract of the base backup, then recovery to the latest WAL and promotion.
// The machine's load average is recorded with the numbers.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { takeBaseBackup } from "../sdk/backup/base-backup";
import { restoreBackup } from "../sdk/backup/restore";
import { openObjectStore } from "../sdk/backup/store";
import { archiveWal } from "../sdk/backup/wal";
import { extractTar, streamBaseBackup } from "../sdk/instance/basebackup";
import { startEmbeddedPostgres } from "../sdk/postgres/embedded";
import { isSupportedMajor } from "../sdk/postgres/versions";
import { scratchDir, serverIdentity, startOnDataDir, waitForPromotion, walCli, writeStoreConfig } from "../test/support/backup";
import { loadToolchain } from "../test/support/control-plane";
import { startS3Server } from "../test/support/s3";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { "size-mb": { type: "string", default: "256" }, major: { type: "string", default: "17" }, json: { type: "string" } },
});
const sizeMb = Number(values["size-mb"]);
const major = Number(values.major);
if (!Number.isFinite(sizeMb) || sizeMb <= 0 || !isSupportedMajor(major)) {
  console.error("usage: bench:backup-s3 -- [--size-mb N>0] [--major 14..18] [--json FILE]");
  process.exit(2);
}

const mbps = (bytes: number, seconds: number): number => Math.round((bytes / 1e6 / seconds) * 10) / 10;
const secs = (since: number): number => (Date.now() - since) / 1000;

async function main(): Promise<void> {
  if (!isSupportedMajor(major)) return;
  const weed = loadToolchain()?.tools.weed?.path;
  if (!weed) throw new Error("weed is not built; run `npm run toolchain`");
  const s3 = await startS3Server(weed);
  const scratch = scratchDir(major);
  const bucket = "bench";
  await s3.createBucket(bucket);
  const store = openObjectStore(s3.store(bucket, "source"));
  const config = writeStoreConfig(scratch.dir, major, s3, bucket, "source");
  const server = await startEmbeddedPostgres({ major, parameters: { archive_mode: "on", archive_command: `${walCli(config)} archive %p %f`, max_wal_size: "2GB" } });
  const result: Record<string, unknown> = { major, sizeMb, loadBefore: loadavg()[0] };
  try {
    const c = new Client({ connectionString: server.url() });
    await c.connect();
    console.log(`loading ${sizeMb} MB into PostgreSQL ${major}`);
    await c.query("create table data (id bigint, payload text)");
    const rows = Math.round((sizeMb * 1e6) / 170);
    await c.query(`insert into data select g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 17)::text) from generate_series(1, ${rows}) g`);
    await c.query("checkpoint");
    const { rows: size } = await c.query<{ n: string }>("select pg_database_size(current_database())::text as n");
    result.databaseBytes = Number(size[0]!.n);

    // WAL archive, in-process, on copies of the server's own segments (a separate prefix).
    const walDir = join(server.dir, "data", "pg_wal");
    const segs = readdirSync(walDir).filter((f) => /^[0-9A-F]{24}$/.test(f)).slice(0, 8);
    const copies = segs.map((f) => {
      const p = join(scratch.dir, f);
      copyFileSync(join(walDir, f), p);
      return p;
    });
    const walStore = openObjectStore(s3.store(bucket, "wal-bench"));
    let t = Date.now();
    let walBytes = 0;
    let walStored = 0;
    for (const p of copies) {
      const r = await archiveWal(walStore, p);
      walBytes += r.bytes;
      walStored += r.storedBytes;
    }
    const walSeconds = secs(t);
    // One archive_command process (the retried, already-archived path: Node start, config, a HEAD).
    t = Date.now();
    spawnSync("sh", ["-c", `${walCli(writeStoreConfig(scratch.dir, major, s3, bucket, "wal-bench"))} archive ${copies[0]} ${segs[0]}`], { stdio: "ignore" });
    const cliSeconds = secs(t);
    walStore.close();
    result.walArchive = { segments: segs.length, mbPerSecond: mbps(walBytes, walSeconds), compression: Math.round((walBytes / walStored) * 10) / 10, oneProcessSeconds: Math.round(cliSeconds * 100) / 100 };
    console.log(`WAL archive: ${JSON.stringify(result.walArchive)}`);

    const source = { host: server.host, port: server.port, user: "postgres" };
    // Base backup into S3.
    t = Date.now();
    const taken = await takeBaseBackup(store, { source });
    const s3Seconds = secs(t);
    // The same backup to local disk: no compression, no network.
    const local = mkdtempSync(join(tmpdir(), "setpoint-bench-local-"));
    t = Date.now();
    await streamBaseBackup({ source, wal: false }, async (archive, data) => {
      await extractTar(data, join(local, archive.tablespace ?? "data"));
    });
    const localSeconds = secs(t);
    rmSync(local, { recursive: true, force: true });
    // A plain copy of the data directory.
    const copy = mkdtempSync(join(tmpdir(), "setpoint-bench-cp-"));
    t = Date.now();
    spawnSync("cp", ["-a", join(server.dir, "data"), join(copy, "data")]);
    const cpSeconds = secs(t);
    rmSync(copy, { recursive: true, force: true });
    const bytes = taken.manifest.bytes;
    result.baseBackup = {
      bytes,
      storedBytes: taken.manifest.storedBytes,
      s3: { seconds: s3Seconds, mbPerSecond: mbps(bytes, s3Seconds) },
      localDisk: { seconds: localSeconds, mbPerSecond: mbps(bytes, localSeconds) },
      cp: { seconds: cpSeconds, mbPerSecond: mbps(bytes, cpSeconds) },
      s3VsLocalDisk: Math.round((localSeconds / s3Seconds) * 100) / 100,
    };
    console.log(`base backup: ${JSON.stringify(result.baseBackup)}`);

    // Restore to the latest point: wait for the backup's WAL, download + extract, then recovery.
    const last = await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name");
    for (;;) {
      const r = await c.query<{ last: string | null }>("select last_archived_wal as last from pg_stat_archiver");
      if ((r.rows[0]?.last ?? "") >= last.rows[0]!.name) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    await c.end();
    const dest = scratchDir(major);
    const id = serverIdentity(major);
    t = Date.now();
    const restored = await restoreBackup(store, { target: { kind: "latest" }, dataDir: join(dest.dir, "data"), restoreCommand: `${walCli(config)} restore %f %p`, ...(id ? { owner: id } : {}) });
    const fetchSeconds = secs(t);
    const recoveryStart = Date.now();
    const started = await startOnDataDir(major, join(dest.dir, "data"));
    await waitForPromotion(started);
    const recoverySeconds = secs(recoveryStart);
    await started.stop();
    dest.remove();
    result.restore = {
      bytes: restored.bytes,
      segments: restored.plan.segments,
      downloadExtractSeconds: fetchSeconds,
      downloadExtractMbPerSecond: mbps(restored.bytes, fetchSeconds),
      recoverySeconds,
      totalSeconds: fetchSeconds + recoverySeconds,
    };
    console.log(`restore: ${JSON.stringify(result.restore)}`);
    result.loadAfter = loadavg()[0];
  } finally {
    store.close();
    await server.stop();
    await s3.stop();
    scratch.remove();
  }
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  if (values.json) writeFileSync(values.json, `${json}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
