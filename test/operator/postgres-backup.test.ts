// The PostgresBackup controller, the backup scheduler and retention against a real API server, the
// node harness running a real 2-instance PostgreSQL cluster and a real S3 server (SeaweedFS): bad
// input (a missing cluster, a cluster without spec.backup, a missing bucket, wrong credentials, an
// unreachable endpoint) fails with a named reason in status and an Event, never showing a
// credential; a backup is taken from the replica (prefer-standby) or the primary over the
// replication protocol into the bucket, with its LSNs, times, timeline and size in status; the
// cluster's status.backup is merged (the cluster controller's fields stay); the cluster's own
// schedule and a PostgresScheduledBackup create PostgresBackups on the cron; retention runs and
// records lastRetentionTime.
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { GROUP, KINDS, VERSION, type PostgresBackupStatus, type PostgresScheduledBackupStatus } from "../../sdk/api/index";
import { readCatalog } from "../../sdk/backup/catalog";
import { openObjectStore } from "../../sdk/backup/store";
import { clusterToolchain, useCluster } from "../support/cluster";
import { toolchainOrSkip } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { startS3Server, type S3Server } from "../support/s3";

const WAIT_MS = 180_000;
const ns = "backups";
const weed = toolchainOrSkip(["weed"]);
const ok = clusterToolchain.skip === undefined && weed.skip === undefined;
const BUCKET = "cluster-backups";

describe.runIf(ok)("PostgresBackup controller", { timeout: 600_000 }, () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS, operator: { backupTimings: { scheduleIntervalMs: 2_000, retentionIntervalMs: 3_000 } } });
  let s3: S3Server;
  const backup = (name: string) => env.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresBackup.plural, name }) as Promise<{ metadata: { name: string }; status?: PostgresBackupStatus }>;
  const finished = (name: string) =>
    eventually(`PostgresBackup ${name} finished`, async () => {
      const b = await backup(name);
      return b.status?.phase === "Completed" || b.status?.phase === "Failed" ? b : undefined;
    }, WAIT_MS).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator log:\n${env.lines.slice(-30).join("\n")}`);
    });
  const take = async (name: string, spec: object) => {
    await createCustomObject(env.objects, ns, "PostgresBackup", name, spec);
    return finished(name);
  };
  const events = async (): Promise<string> => JSON.stringify((await env.core.listNamespacedEvent({ namespace: ns })).items.map((e) => [e.reason, e.message]));
  const setBackup = async (backupSpec: object | null): Promise<void> => {
    await env.patch("db", { spec: { backup: backupSpec } });
    const c = await env.read("db");
    // The operator's cache has the new spec once the cluster controller observed it; archiving's
    // restart parameters (archive_mode) roll out to every instance (replicas, then a switchover).
    await env.settled("db", (c as unknown as { metadata: { generation: number } }).metadata.generation, (x) => (x.status?.instances ?? []).filter((i) => i.ready).length === 2);
  };
  afterAll(async () => {
    await s3?.stop();
  });
  const destination = (over: object = {}) => ({ endpoint: s3.endpoint, bucket: BUCKET, prefix: "backups/db", credentials: { secretName: "s3" }, ...over });

  it("refuses a missing cluster and a cluster without spec.backup, by name", async () => {
    s3 = await startS3Server(weed.env!.tools.weed!.path);
    await s3.createBucket(BUCKET);
    const secret = (name: string, secretValue: string) =>
      env.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: secretValue } } });
    await secret("s3", s3.secretAccessKey);
    await secret("s3-wrong", "wrong-secret-value-123");
    // A base backup from a standby needs full_page_writes (the node harness turns it off for speed).
    await env.create("db", { instances: 2, parameters: { full_page_writes: "on" } });
    await env.settled("db", 1, (c) => (c.status?.instances ?? []).filter((i) => i.ready).length === 2);

    const nowhere = await take("nowhere", { cluster: { name: "missing" } });
    expect(nowhere.status).toMatchObject({ phase: "Failed", error: expect.stringContaining("ClusterNotFound") });
    expect(nowhere.status?.conditions?.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "ClusterNotFound" });
    const unconfigured = await take("unconfigured", { cluster: { name: "db" } });
    expect(unconfigured.status).toMatchObject({ phase: "Failed" });
    expect(unconfigured.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "BackupNotConfigured", message: expect.stringContaining("spec.backup") });
  }, 400_000);

  it("names a missing bucket, refused credentials and an unreachable endpoint, never showing a credential", async () => {
    const cases: [string, object, string][] = [
      ["no-bucket", destination({ bucket: "no-such-bucket" }), "BucketNotFound"],
      ["denied", destination({ credentials: { secretName: "s3-wrong" } }), "AccessDenied"],
      ["unreachable", destination({ endpoint: "http://127.0.0.1:1" }), "EndpointUnreachable"],
      ["no-secret", destination({ credentials: { secretName: "absent" } }), "CredentialsNotFound"],
    ];
    for (const [name, dest, reason] of cases) {
      await setBackup({ destination: dest });
      const b = await take(name, { cluster: { name: "db" } });
      expect(b.status?.phase, name).toBe("Failed");
      expect(b.status?.conditions?.find((c) => c.type === "Ready")?.reason, name).toBe(reason);
      for (const text of [JSON.stringify(b.status), await events(), env.lines.join("\n")]) {
        expect(text).not.toContain(s3.secretAccessKey);
        expect(text).not.toContain("wrong-secret-value-123");
      }
    }
    // Nothing was written to the bucket.
    const store = openObjectStore(s3.store(BUCKET, "backups/db"));
    try {
      expect((await readCatalog(store)).backups).toEqual([]);
    } finally {
      store.close();
    }
  }, 400_000);

  it("takes a base backup from the replica (prefer-standby) or the primary, into status and the cluster's status.backup", async () => {
    await setBackup({ destination: destination() });
    const before = await env.read("db");
    const replica = before.status!.instances!.find((i) => i.role === "replica")!.name;
    // The timeline the cluster runs on now (a switchover may have started a new one).
    const primaryIp = await env.podIp(before.status!.currentPrimary!);
    const timeline = (await env.query<{ timeline: number }>("db", primaryIp, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS timeline"))[0]!.timeline;
    const b1 = await take("first", { cluster: { name: "db" } });
    expect(b1.status, JSON.stringify(b1.status)).toMatchObject({ phase: "Completed", instance: replica, role: "replica", timeline });
    expect(b1.status!.beginLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(b1.status!.endLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(b1.status!.sizeBytes).toBeGreaterThan(1_000_000);
    expect(Date.parse(b1.status!.endTime!)).toBeGreaterThanOrEqual(Date.parse(b1.status!.beginTime!));
    expect(typeof b1.status!.usable).toBe("boolean");
    expect(b1.status!.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "Completed" });
    // spec.backup.compression: the next backup's archives gzip-compressed (the first's as they are, the default).
    await setBackup({ destination: destination(), compression: "gzip" });
    const b2 = await take("second", { cluster: { name: "db" }, target: "primary" });
    expect(b2.status).toMatchObject({ phase: "Completed", instance: before.status!.currentPrimary, role: "primary" });
    // The bucket holds both, with the LSNs the status reports.
    const store = openObjectStore(s3.store(BUCKET, "backups/db"));
    try {
      const catalog = await readCatalog(store);
      expect(catalog.backups.map((b) => [b.id, b.manifest?.startLsn, b.manifest?.endLsn])).toEqual([
        [b1.status!.backupId, b1.status!.beginLsn, b1.status!.endLsn],
        [b2.status!.backupId, b2.status!.beginLsn, b2.status!.endLsn],
      ]);
      const archives = catalog.backups.map((b) => b.manifest!.archives);
      expect(archives.map((list) => [...new Set(list.map((a) => a.compression))])).toEqual([["none"], ["gzip"]]);
      // Compressed in the bucket: fewer bytes stored than taken.
      expect(archives[1]!.reduce((n, a) => n + a.storedBytes, 0)).toBeLessThan(archives[1]!.reduce((n, a) => n + a.bytes, 0));
    } finally {
      store.close();
    }
    // status.backup merged: the cluster controller's fields are all still there.
    const after = await eventually("status.backup.lastBackup", async () => {
      const c = await env.read("db");
      return (c.status as { backup?: { lastBackup?: string } } | undefined)?.backup?.lastBackup === "second" ? c : undefined;
    }, WAIT_MS);
    expect((after.status as { backup?: object }).backup).toMatchObject({ lastBackup: "second", lastBackupTime: b2.status!.endTime });
    expect(after.status).toMatchObject({ currentPrimary: before.status!.currentPrimary, readWriteService: before.status!.readWriteService });
    expect(after.status!.instances).toHaveLength(2);
    expect(after.status!.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
  }, 400_000);

  it("creates PostgresBackups on the cluster's schedule and a PostgresScheduledBackup's, and runs retention", async () => {
    await setBackup({ destination: destination(), schedule: "* * * * *", retention: "4w" });
    const scheduledBy = (by: string) =>
      eventually(`a PostgresBackup scheduled by ${by}`, async () => {
        const list = (await env.objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresBackup.plural, labelSelector: `setpoint.dev/scheduled-by=${by}` })) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
        return list.items.length > 0 ? list.items : undefined;
      }, 150_000);
    const fromCluster = await scheduledBy("cluster.db");
    expect(fromCluster[0]!.metadata.annotations?.["setpoint.dev/scheduled-at"]).toMatch(/:00\.000Z$/);
    expect((await finished(fromCluster[0]!.metadata.name)).status?.phase).toBe("Completed");
    await setBackup({ destination: destination(), schedule: null, retention: "4w" });
    const retained = await eventually("status.backup.lastRetentionTime", async () => {
      const c = await env.read("db");
      return (c.status as { backup?: { lastRetentionTime?: string } }).backup?.lastRetentionTime ? c : undefined;
    }, 60_000);
    expect((retained.status as { backup?: object }).backup).toMatchObject({ lastBackup: expect.any(String), lastRetentionTime: expect.any(String) });

    await createCustomObject(env.objects, ns, "PostgresScheduledBackup", "nightly", { cluster: { name: "db" }, schedule: "* * * * *", target: "primary" });
    const fromResource = await scheduledBy("scheduled.nightly");
    const made = await finished(fromResource[0]!.metadata.name);
    expect(made.status).toMatchObject({ phase: "Completed", role: "primary" });
    const read = () => env.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresScheduledBackup.plural, name: "nightly" }) as Promise<{ status?: PostgresScheduledBackupStatus }>;
    const s = await eventually("nightly status", async () => ((await read()).status?.lastBackup ? await read() : undefined), 30_000);
    expect(s.status).toMatchObject({ lastBackup: fromResource[0]!.metadata.name, nextScheduleTime: expect.stringMatching(/:00\.000Z$/) });
    // Suspended: no next time.
    await env.objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresScheduledBackup.plural, name: "nightly", body: { spec: { suspend: true } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await eventually("nightly suspended", async () => ((await read()).status?.nextScheduleTime === undefined ? true : undefined), 30_000);
  }, 600_000);
});
