// Archive and disk metrics from real servers: a PostgreSQL server archiving through the WAL CLI into
// a real S3 server (SeaweedFS), read by the operator's probe (readArchive) and exported by the
// cluster metrics as the operator's /metrics renders them; then the archive pointed at a missing
// bucket, so the failure, the WAL held back and the lag show. The disk collector measures the same
// server and exports its bytes with pg_wal apart.
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWalName } from "../../sdk/backup/layout";
import { DiskCollector } from "../../sdk/operator/cluster/disk";
import { readArchive } from "../../sdk/operator/cluster/instance-sql";
import { clusterMetrics } from "../../sdk/operator/cluster/metrics";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import { scratchDir, until, walCli, writeStoreConfig } from "../support/backup";
import { toolchainOrSkip } from "../support/control-plane";
import { edgeMajors } from "../support/postgres";
import { startS3Server, type S3Server } from "../support/s3";

const tc = toolchainOrSkip(["weed"]);

/** The value of one series in Prometheus text, or undefined when it is not exported. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const have = m[2]!.split(",");
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(m[3]);
  }
  return undefined;
}

describe.skipIf(tc.skip !== undefined).each(edgeMajors(15))("archive and disk metrics on PostgreSQL %i", (major) => {
  let s3: S3Server;
  let server: EmbeddedPostgres;
  let scratch: { dir: string; remove(): void };
  let c: Client;
  const bucket = `metrics-${major}`;
  const labels = { namespace: "ns", cluster: "db" };

  beforeAll(async () => {
    s3 = await startS3Server(tc.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    scratch = scratchDir(major);
    const config = writeStoreConfig(scratch.dir, major, s3, bucket, "db");
    // archive_command is a command-line setting here (ALTER SYSTEM cannot change it): the test
    // breaks the archive through the config file it names.
    server = await startEmbeddedPostgres({ major, parameters: { archive_mode: "on", archive_command: `${walCli(config)} archive %p %f`, archive_timeout: 0 } });
    c = pgClient({ connectionString: server.url() });
    await c.connect();
  }, 180_000);

  afterAll(async () => {
    await c?.end();
    await server?.stop();
    await s3?.stop();
    scratch?.remove();
  });

  it("exports the last archived WAL, its time, no lag and not failing; then a failing archive's WAL, time, the WAL held back and the lag", async () => {
    const registry = new MetricsRegistry();
    const metrics = clusterMetrics(registry);
    await c.query("create table t as select g from generate_series(1, 10000) g");
    const archived = (await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name")).rows[0]!.name;
    await until(`${archived} archived`, async () => ((await c.query<{ a: string | null }>("select last_archived_wal as a from pg_stat_archiver")).rows[0]?.a ?? "") >= archived);
    metrics.archive("ns", "db", await readArchive(c));
    let text = registry.render();
    const seg = parseWalName(archived)!;
    expect(sample(text, "setpoint_backup_last_archived_wal_timeline", labels)).toBe(1);
    expect(sample(text, "setpoint_backup_last_archived_wal_segment", labels)).toBe(Number(seg.kind === "segment" ? seg.segno : -1));
    const archivedAt = sample(text, "setpoint_backup_last_archived_time_seconds", labels)!;
    expect(Math.abs(archivedAt - Date.now() / 1000)).toBeLessThan(120);
    expect(sample(text, "setpoint_backup_archive_failing", labels)).toBe(0);
    expect(sample(text, "setpoint_backup_archive_lag_seconds", labels)).toBe(0);
    expect(sample(text, "setpoint_backup_wal_pending_files", labels)).toBe(0);
    expect(sample(text, "setpoint_backup_last_failed_time_seconds", labels)).toBeUndefined();

    // The archive now goes to a bucket that does not exist (the WAL CLI reads its config on every
    // call; the same prefix rewrites the same file): every attempt fails.
    writeStoreConfig(scratch.dir, major, s3, "no-such-bucket", "db");
    await c.query("insert into t select g from generate_series(1, 1000) g");
    const failed = (await c.query<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name")).rows[0]!.name;
    await until(`${failed} failing`, async () => (await c.query<{ f: string | null }>("select last_failed_wal as f from pg_stat_archiver")).rows[0]?.f === failed, 120_000);
    await sleep(2500); // the oldest waiting file ages
    metrics.archive("ns", "db", await readArchive(c));
    text = registry.render();
    expect(sample(text, "setpoint_backup_archive_failing", labels)).toBe(1);
    const fseg = parseWalName(failed)!;
    expect(sample(text, "setpoint_backup_last_failed_wal_segment", labels)).toBe(Number(fseg.kind === "segment" ? fseg.segno : -1));
    expect(sample(text, "setpoint_backup_last_failed_wal_timeline", labels)).toBe(1);
    expect(sample(text, "setpoint_backup_last_failed_time_seconds", labels)).toBeGreaterThanOrEqual(archivedAt);
    // The last success stays what it was.
    expect(sample(text, "setpoint_backup_last_archived_wal_segment", labels)).toBe(Number(seg.kind === "segment" ? seg.segno : -1));
    const pending = sample(text, "setpoint_backup_wal_pending_files", labels)!;
    expect(pending).toBeGreaterThanOrEqual(1);
    expect(sample(text, "setpoint_backup_wal_pending_bytes", labels)).toBe(pending * 16 * 2 ** 20);
    expect(sample(text, "setpoint_backup_archive_lag_seconds", labels)).toBeGreaterThanOrEqual(2);

    // No archiver to report (spec.backup removed, or no primary): the series go instead of going stale.
    metrics.archive("ns", "db", undefined);
    expect(registry.render()).not.toContain('cluster="db"');
    writeStoreConfig(scratch.dir, major, s3, bucket, "db");
  }, 300_000);

  it("the disk collector exports each instance's bytes with pg_wal apart, and drops the series of an instance that is gone", async () => {
    const registry = new MetricsRegistry();
    const metrics = clusterMetrics(registry);
    let targets = [{ cluster: { namespace: "ns", name: "db" }, instance: "db-1", host: server.host, port: server.port, requestedBytes: 10 * 2 ** 30, password: async () => "" }];
    // The collector's own measurement (measureDisk) of the real server.
    const collector = new DiskCollector({ targets: () => targets, enqueue: () => undefined, metrics });
    await collector.sampleOnce();
    const text = registry.render();
    const instance = { namespace: "ns", cluster: "db", instance: "db-1" };
    const { rows } = await c.query<{ db: string; wal: string }>(
      "select (select sum(pg_database_size(oid)) from pg_database)::bigint::text as db, (select sum(size) from pg_ls_waldir())::bigint::text as wal",
    );
    const wal = sample(text, "setpoint_instance_wal_bytes", instance)!;
    const used = sample(text, "setpoint_instance_disk_used_bytes", instance)!;
    // WAL is recycled in whole segments; the databases may grow by a few pages between the two reads.
    expect(wal).toBe(Number(rows[0]!.wal));
    expect(wal).toBeGreaterThanOrEqual(16 * 2 ** 20);
    expect(Math.abs(used - (Number(rows[0]!.db) + wal))).toBeLessThan(1024 * 1024);
    expect(sample(text, "setpoint_instance_disk_requested_bytes", instance)).toBe(10 * 2 ** 30);
    expect(collector.usage("ns", "db-1")).toMatchObject({ usedBytes: used, walBytes: wal });
    targets = [];
    await collector.sampleOnce();
    expect(registry.render()).not.toContain('instance="db-1"');
  }, 120_000);
});
