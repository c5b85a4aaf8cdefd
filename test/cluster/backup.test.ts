// Backups of a PostgresCluster through the operator, against a real API server, the node harness
// running real PostgreSQL and a real S3 server (SeaweedFS on loopback):
// - spec.backup: the instances archive to <namespace>/<cluster> with the credentials of the user's
//   Secret (never in the pod spec or the operator's log), and status.backup shows the archive.
// - a synchronous cluster fails over while a writer commits and WAL is archived; a NEW cluster with
//   bootstrap.recovery to the latest point (from a base backup taken before the failover, across
//   the timeline switch) holds every acknowledged row, with its own credentials working, and
//   archives its own new timeline to its own prefix.
// - a destination equal to the recovery source is refused with a condition.
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig } from "../support/cluster-tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { takeBaseBackup } from "../../sdk/backup/base-backup";
import { openObjectStore, type ObjectStore } from "../../sdk/backup/store";
import { REPLICATION_USER } from "../../sdk/operator/cluster/objects";
import { readOperatorTls } from "../../sdk/operator/cluster/tls";
import { clusterToolchain, useCluster } from "../support/cluster";
import { toolchainOrSkip } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { startS3Server, type S3Server } from "../support/s3";

/** Upper bound of each wait: a restore runs one Node process per WAL file (restore_command), seconds each on a loaded 2-core machine. */
const WAIT_MS = 480_000;
const ns = "backups";
const bucket = "cluster-backups";
const weed = toolchainOrSkip(["weed"]);

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out.sort();
}

describe.skipIf(clusterToolchain.skip !== undefined || weed.skip !== undefined)("PostgresCluster backups", () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  let s3: S3Server;
  let source: ObjectStore;
  let restoredStore: ObjectStore;
  const destination = () => ({ endpoint: s3.endpoint, bucket, credentials: { secretName: "s3-creds" } });

  beforeAll(async () => {
    s3 = await startS3Server(weed.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    source = openObjectStore(s3.store(bucket, `${ns}/ledger`));
    restoredStore = openObjectStore(s3.store(bucket, `${ns}/restored`));
  }, 120_000);

  afterAll(async () => {
    source?.close();
    restoredStore?.close();
    await s3?.stop();
  });

  it("archives a synchronous cluster, fails over during archiving, and a new cluster restored to the latest point loses no acknowledged row", async () => {
    await env.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "s3-creds" }, stringData: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } } });
    await env.create("ledger", { instances: 2, synchronous: { number: 1 }, backup: { destination: destination(), archiveTimeout: "10s" } });
    await env.settled("ledger", 1);
    const password = await env.secretValue("ledger-superuser", "password");
    const oldIp = await env.podIp("ledger-1");
    const q = async <T extends object>(ip: string, sql: string): Promise<T[]> => env.query<T>("ledger", ip, sql);
    await q(oldIp, "create table acked (id int primary key, note text)");
    const first = (await q<{ name: string }>(oldIp, "select pg_walfile_name(pg_switch_wal()) as name"))[0]!.name;
    const archived = await eventually("status.backup.lastArchivedWal", async () => {
      const c = await env.read("ledger");
      return (c.status?.backup?.lastArchivedWal ?? "") >= first ? c : undefined;
    }, WAIT_MS);
    expect(archived.status!.backup!.archiveLagSeconds).toBeGreaterThanOrEqual(0);
    expect(archived.status!.conditions!.find((c) => c.type === "Degraded")).toMatchObject({ status: "False" });
    // The credentials stay in the user's Secret: not in a pod spec, not in the operator's log.
    for (const p of ["ledger-1", "ledger-2"]) expect(JSON.stringify(await env.pod(p))).not.toContain(s3.secretAccessKey);
    expect(env.lines.join("\n")).not.toContain(s3.secretAccessKey);

    // pg_hba lets the replication role in over TLS with its certificate only (ADR 0035), as the operator's PostgresBackup does.
    const replicationTls = await readOperatorTls(env.core, ns, "ledger", "replication");
    expect(replicationTls).toBeDefined();
    const { serverName, ca, cert, key } = replicationTls!;
    await takeBaseBackup(source, { source: { host: oldIp, port: 5432, user: REPLICATION_USER, tls: { serverName, ca, cert, key } } });

    const writer = env.startWriter("ledger", password);
    await eventually("writer running", async () => writer.acked.length >= 50, WAIT_MS);
    const deletedAt = Date.now();
    await env.core.deleteNamespacedPod({ name: "ledger-1", namespace: ns });
    const after = await eventually("a new primary", async () => {
      const c = await env.read("ledger");
      return c.status?.currentPrimary !== undefined && c.status.currentPrimary !== "ledger-1" ? c : undefined;
    }, WAIT_MS);
    const newPrimary = after.status!.currentPrimary!;
    await eventually("writes on the new primary", async () => writer.acked.find((a) => a.server !== oldIp && a.at >= deletedAt), WAIT_MS);
    await sleep(1000);
    await writer.stop();
    const newIp = await env.podIp(newPrimary);
    const last = (await q<{ name: string }>(newIp, "select pg_walfile_name(pg_switch_wal()) as name"))[0]!.name;
    expect(last.startsWith("00000002")).toBe(true);
    const lagSeen: number[] = [];
    await eventually("the new timeline archived", async () => {
      const c = await env.read("ledger");
      if (c.status?.backup?.archiveLagSeconds !== undefined) lagSeen.push(c.status.backup.archiveLagSeconds);
      return (c.status?.backup?.lastArchivedWal ?? "") >= last ? c : undefined;
    }, WAIT_MS);
    const walKeys = await keys(source, "wal/");
    expect(walKeys).toContain("wal/00000002/00000002.history.gz");
    console.log(`archive lag seen in status during the failover test: max ${Math.max(0, ...lagSeen).toFixed(1)} s; ${walKeys.length} WAL objects`);

    const started = Date.now();
    await env.create("restored", {
      instances: 2,
      bootstrap: { recovery: { source: { ...destination(), prefix: `${ns}/ledger` } } },
      backup: { destination: destination() },
    });
    const restored = await env.settled("restored", 1).catch((err: unknown) => {
      throw new Error(`${String(err)}\nrestored-1:\n${env.node.logTail(ns, "restored-1").slice(-4000)}`);
    });
    console.log(`restore to the latest point through the operator: ${((Date.now() - started) / 1000).toFixed(1)} s until settled (2 instances)`);
    const ip = await env.podIp(restored.status!.currentPrimary!);
    const present = new Set((await env.query<{ id: number }>("restored", ip, "select id from acked")).map((r) => r.id));
    expect(writer.acked.length).toBeGreaterThan(50);
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);
    // This cluster's own credentials work (the source's were replaced), and it archives its new timeline to its own prefix.
    const app = pgClient(await clusterClientConfig(env.core, ns, "restored", { host: ip, user: "app", password: await env.secretValue("restored-app", "password"), database: "app" }));
    await app.connect();
    await app.end();
    await env.query("restored", ip, "select pg_switch_wal()");
    await eventually("the restored cluster's timeline in its own prefix", async () => (await keys(restoredStore, "wal/")).some((k) => k.startsWith("wal/00000003/")), WAIT_MS);
    expect((await keys(source, "wal/")).filter((k) => k.startsWith("wal/00000003/"))).toEqual([]);
  }, 1_500_000);

  it("refuses a restored cluster whose backup destination is its recovery source", async () => {
    await env.create("echo", {
      bootstrap: { recovery: { source: { ...destination(), prefix: `${ns}/echo` } } },
      backup: { destination: destination() },
    });
    const c = await eventually("a condition", async () => {
      const x = await env.read("echo");
      return x.status?.conditions?.find((k) => k.type === "Ready" && k.status === "False" && k.reason === "InvalidSpec");
    }, WAIT_MS);
    expect(c.message).toContain("is bootstrap.recovery.source");
    expect((await env.core.listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/cluster=echo" })).items).toEqual([]);
  }, 300_000);
});
