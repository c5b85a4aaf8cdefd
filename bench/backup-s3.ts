// `npm run bench:backup -- [--size-mb 256] [--major 15] [--runs 3] [--json FILE] [--rpo-seconds 180] [--rpo-wal-kbps 512]`
// (also `npm run bench:backup-s3`)
//
// The S3 side of backups on a real SeaweedFS server (from `npm run toolchain`), on one source
// loaded with --size-mb of table data (md5 text: compresses about like real rows):
// - base-backup throughput into the bucket against raw `pg_basebackup` to local disk (Debian's
//   client of --major: 15 on bookworm, hence the default major) and against the S3 server's own
//   ceiling (the same tar bytes uploaded by the AWS SDK), with and without gzip, --runs rounds
//   interleaved (see measureBaseBackup; the JSON says what compression each side uses);
// - WAL archive throughput: archiveWal on the server's own segments in-process, and the time of one
//   `wal-cli archive` process (what archive_command pays per segment);
// - restore: download + extract of the base backup, then recovery to the latest WAL and promotion;
// - RPO: the worst archive lag under a steady write load (--rpo-wal-kbps of WAL) for --rpo-seconds
//   with archive_timeout at its default (5m).
// The machine's load average is recorded with the numbers.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { pgClient } from "../sdk/postgres/client";
import { takeBaseBackup } from "../sdk/backup/base-backup";
import { restoreBackup } from "../sdk/backup/restore";
import { openObjectStore } from "../sdk/backup/store";
import { archiveWal } from "../sdk/backup/wal";
import { streamBaseBackup } from "../sdk/instance/basebackup";
import { startEmbeddedPostgres } from "../sdk/postgres/embedded";
import { isSupportedMajor } from "../sdk/postgres/versions";
import { scratchDir, serverIdentity, startOnDataDir, waitForPromotion, walCli, writeStoreConfig } from "../test/support/backup";
import { loadToolchain } from "../test/support/control-plane";
import { startS3Server, type S3Server } from "../test/support/s3";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "size-mb": { type: "string", default: "256" },
    major: { type: "string", default: "15" },
    json: { type: "string" },
    "rpo-seconds": { type: "string", default: "180" },
    "rpo-wal-kbps": { type: "string", default: "512" },
    runs: { type: "string", default: "3" },
  },
});
const sizeMb = Number(values["size-mb"]);
const rpoSeconds = Number(values["rpo-seconds"]);
const rpoWalKbps = Number(values["rpo-wal-kbps"]);
const major = Number(values.major);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || !Number.isFinite(sizeMb) || sizeMb <= 0 || !isSupportedMajor(major) || !(rpoSeconds >= 0) || !(rpoWalKbps > 0)) {
  console.error("usage: bench:backup -- [--size-mb N>0] [--major 14..18] [--runs N>=1] [--json FILE] [--rpo-seconds N>=0] [--rpo-wal-kbps N>0]");
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
  // archive_timeout stays at the default of spec.backup.archiveTimeout (5m): the RPO phase measures
  // the archive lag a steady load sees with it.
  const server = await startEmbeddedPostgres({ major, parameters: { archive_mode: "on", archive_command: `${walCli(config)} archive %p %f`, archive_timeout: "5min", max_wal_size: "2GB" } });
  const result: Record<string, unknown> = { major, sizeMb, loadBefore: loadavg()[0] };
  try {
    const c = pgClient({ connectionString: server.url() });
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
    result.baseBackup = await measureBaseBackup(source, server.host, server.port, s3, bucket, runs);
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
    const restoreFrom = (result.baseBackup as { restoreFrom: string }).restoreFrom;
    const restored = await restoreBackup(store, { target: { kind: "latest" }, backupId: restoreFrom, dataDir: join(dest.dir, "data"), restoreCommand: `${walCli(config)} restore %f %p`, ...(id ? { owner: id } : {}) });
    const fetchSeconds = secs(t);
    const recoveryStart = Date.now();
    const started = await startOnDataDir(major, join(dest.dir, "data"));
    await waitForPromotion(started);
    const recoverySeconds = secs(recoveryStart);
    await started.stop();
    dest.remove();
    result.restore = {
      backup: `${restoreFrom} (compression none, the default)`,
      bytes: restored.bytes,
      segments: restored.plan.segments,
      downloadExtractSeconds: fetchSeconds,
      downloadExtractMbPerSecond: mbps(restored.bytes, fetchSeconds),
      recoverySeconds,
      totalSeconds: fetchSeconds + recoverySeconds,
    };
    console.log(`restore: ${JSON.stringify(result.restore)}`);
    if (rpoSeconds > 0) {
      result.rpo = await measureRpo(server.url(), rpoSeconds, rpoWalKbps);
      console.log(`archive lag under load: ${JSON.stringify(result.rpo)}`);
    }
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

/**
 * Base-backup throughput, `runs` rounds in alternating order so that load on the shared machine
 * falls on every side alike (medians reported, every sample kept):
 * - `pgBasebackup`: raw `pg_basebackup -Fp -X stream` to local disk (no compression; Debian's
 *   client of this major): the reference;
 * - `s3Ceiling`: the same tar bytes (captured in memory first) uploaded by the AWS SDK as one
 *   multipart object, 16 MiB parts, 4 in flight: what this S3 server takes at best, no
 *   PostgreSQL, no hashing, no compression;
 * - `setpoint`: takeBaseBackup with its defaults (stored as it is: no compression);
 * - `setpointGzip`: takeBaseBackup with `compression: "gzip"` (level 1, 8 MiB members on min(4, cores) threads).
 * Throughput is always tar bytes (uncompressed) per second.
 */
async function measureBaseBackup(source: { host: string; port: number; user: string }, host: string, port: number, s3: S3Server, bucket: string, rounds: number): Promise<Record<string, unknown>> {
  const reference = `/usr/lib/postgresql/${major}/bin/pg_basebackup`;
  const hasReference = existsSync(reference);
  const store = openObjectStore(s3.store(bucket, "source"));
  const client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED" });
  // The main archive's tar, as the server sends it, for the ceiling's upload.
  const chunks: Buffer[] = [];
  await streamBaseBackup({ source, wal: false }, async (archive, data) => {
    for await (const chunk of data) if (archive.tablespace === null) chunks.push(chunk);
  });
  const tar = Buffer.concat(chunks);
  chunks.length = 0;
  const sides = ["pgBasebackup", "s3Ceiling", "setpoint", "setpointGzip"].filter((x) => hasReference || x !== "pgBasebackup");
  const samples: { side: string; round: number; seconds: number; bytes: number; storedBytes?: number; loadAverage: number }[] = [];
  let restoreFrom = "";
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const loadAverage = loadavg()[0]!;
        const t = Date.now();
        let bytes = tar.length;
        let storedBytes: number | undefined;
        if (side === "pgBasebackup") {
          const target = mkdtempSync(join(tmpdir(), "setpoint-bench-pgbb-"));
          const r = spawnSync(reference, ["-D", join(target, "data"), "-X", "stream", "--checkpoint=fast", "--no-sync", "--no-manifest", "-Fp", "-d", `host=${host} port=${port} user=postgres`], { encoding: "utf8" });
          const s = secs(t);
          bytes = Number(spawnSync("du", ["-sb", "--exclude=pg_wal", join(target, "data")], { encoding: "utf8" }).stdout.split("\t")[0]);
          rmSync(target, { recursive: true, force: true });
          if (r.status !== 0) throw new Error(`pg_basebackup failed: ${r.stderr}`);
          samples.push({ side, round, seconds: s, bytes, loadAverage });
          console.log(`round ${round + 1} ${side.padEnd(13)} ${s.toFixed(1)} s ${mbps(bytes, s)} MB/s (load ${loadAverage.toFixed(1)})`);
          continue;
        }
        if (side === "s3Ceiling") {
          await rawUpload(client, bucket, `ceiling/${round}.tar`, tar);
        } else {
          const taken = await takeBaseBackup(store, { source, ...(side === "setpointGzip" ? { compression: "gzip" as const } : {}) });
          bytes = taken.manifest.bytes;
          storedBytes = taken.manifest.storedBytes;
          if (side === "setpoint") restoreFrom = taken.manifest.id;
        }
        const s = secs(t);
        samples.push({ side, round, seconds: s, bytes, ...(storedBytes === undefined ? {} : { storedBytes }), loadAverage });
        console.log(`round ${round + 1} ${side.padEnd(13)} ${s.toFixed(1)} s ${mbps(bytes, s)} MB/s (load ${loadAverage.toFixed(1)})`);
        await new Promise((r) => setTimeout(r, 1100)); // backup ids are unique to the second
      }
    }
  } finally {
    store.close();
    client.destroy();
  }
  const median = (side: string): number | undefined => {
    const xs = samples.filter((x) => x.side === side).map((x) => x.bytes / 1e6 / x.seconds).sort((a, b) => a - b);
    return xs.length === 0 ? undefined : Math.round(xs[Math.floor(xs.length / 2)]! * 10) / 10;
  };
  const m = Object.fromEntries(sides.map((x) => [x, median(x)])) as Record<string, number | undefined>;
  const ratio = (a: string, b: string): number | undefined => (m[a] === undefined || m[b] === undefined ? undefined : Math.round((m[a]! / m[b]!) * 100) / 100);
  return {
    tarBytes: tar.length,
    rounds,
    compression: {
      pgBasebackup: hasReference ? "none: plain format (-Fp) to local disk, -X stream, --no-sync" : `not measured: ${reference} is not installed (Debian ships pg_basebackup 15 only; run with --major 15)`,
      s3Ceiling: "none: the same tar bytes from memory, one multipart upload (16 MiB parts, 4 in flight), AWS SDK",
      setpoint: "none (the default): tar stored as it is, sha256 of the tar, 16 MiB parts, 4 in flight",
      setpointGzip: "gzip level 1 in 8 MiB members on min(4, cores) threads, sha256 of the tar, 16 MiB parts, 4 in flight",
    },
    medianMBps: m,
    ratios: {
      setpointVsPgBasebackup: ratio("setpoint", "pgBasebackup"),
      setpointVsS3Ceiling: ratio("setpoint", "s3Ceiling"),
      s3CeilingVsPgBasebackup: ratio("s3Ceiling", "pgBasebackup"),
      setpointGzipVsPgBasebackup: ratio("setpointGzip", "pgBasebackup"),
      setpointGzipVsS3Ceiling: ratio("setpointGzip", "s3Ceiling"),
    },
    target: "setpoint >= 0.8 x pgBasebackup",
    restoreFrom,
    samples: samples.map((x) => ({ ...x, seconds: Math.round(x.seconds * 100) / 100, loadAverage: Math.round(x.loadAverage * 10) / 10 })),
  };
}

/** One multipart upload of `body` with the AWS SDK: 16 MiB parts, 4 in flight. */
async function rawUpload(client: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  const part = 16 * 1024 * 1024;
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const count = Math.ceil(body.length / part);
  const parts: { ETag: string; PartNumber: number }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const n = next++;
        const data = body.subarray(n * part, Math.min(body.length, (n + 1) * part));
        const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n + 1, Body: data, ContentLength: data.length }));
        parts.push({ ETag: r.ETag ?? "", PartNumber: n + 1 });
      }
    }),
  );
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

/**
 * The worst-case archive lag (RPO) under a steady write load: a writer commits rows at a fixed WAL
 * rate for `seconds`; twice a second the current WAL position and pg_stat_archiver's last archived
 * segment are sampled. The lag at a sample is the age of the oldest WAL byte not archived yet: now
 * minus the time of the first sample whose position passed the end of the last archived segment.
 */
async function measureRpo(url: string, seconds: number, walKbps: number): Promise<Record<string, unknown>> {
  const writer = pgClient({ connectionString: url });
  const sampler = pgClient({ connectionString: url });
  await writer.connect();
  await sampler.connect();
  await writer.query("create table if not exists rpo (id bigserial primary key, at timestamptz not null default now(), payload text not null)");
  const segmentBytes = Number((await sampler.query<{ s: string }>("select setting::bigint * (case unit when '8kB' then 8192 when 'MB' then 1048576 else 1 end) as s from pg_settings where name = 'wal_segment_size'")).rows[0]!.s);
  const toBytes = (lsn: string): number => {
    const [hi, lo] = lsn.split("/");
    return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
  };
  const segEnd = (walfile: string | null): number => (walfile === null ? 0 : (parseInt(walfile.slice(8, 16), 16) * (2 ** 32 / segmentBytes) + parseInt(walfile.slice(16, 24), 16) + 1) * segmentBytes);
  let stop = false;
  // ~1 KB of WAL per row (a 700-byte payload plus tuple, index and record overhead).
  const rowsPerTick = Math.max(1, Math.round(walKbps / 10));
  const writing = (async () => {
    while (!stop) {
      const t0 = Date.now();
      await writer.query("insert into rpo (payload) select repeat(md5(random()::text), 22) from generate_series(1, $1::int)", [rowsPerTick]);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t0))));
    }
  })();
  const samples: { t: number; pos: number; archivedEnd: number }[] = [];
  let worst = 0;
  const startPos = toBytes((await sampler.query<{ l: string }>("select pg_current_wal_lsn()::text as l")).rows[0]!.l);
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    const r = await sampler.query<{ l: string; a: string | null }>("select pg_current_wal_lsn()::text as l, (select last_archived_wal from pg_stat_archiver) as a");
    const now = Date.now();
    const pos = toBytes(r.rows[0]!.l);
    const a = r.rows[0]!.a;
    const archivedEnd = a !== null && /^[0-9A-F]{24}$/.test(a) ? segEnd(a) : (samples[samples.length - 1]?.archivedEnd ?? 0);
    samples.push({ t: now, pos, archivedEnd });
    const firstUnarchived = samples.find((s) => s.pos > archivedEnd);
    const lag = firstUnarchived === undefined || pos <= archivedEnd ? 0 : (now - firstUnarchived.t) / 1000;
    if (lag > worst) worst = lag;
    await new Promise((res) => setTimeout(res, 500));
  }
  stop = true;
  await writing;
  const endPos = samples[samples.length - 1]!.pos;
  await writer.end();
  await sampler.end();
  const walMbPerSecond = (endPos - startPos) / 1e6 / ((Date.now() - started) / 1000);
  return {
    seconds,
    archiveTimeout: "5min",
    walMbPerSecond: Math.round(walMbPerSecond * 100) / 100,
    segmentFillSeconds: Math.round((segmentBytes / 1e6 / walMbPerSecond) * 10) / 10,
    worstLagSeconds: Math.round(worst * 10) / 10,
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
