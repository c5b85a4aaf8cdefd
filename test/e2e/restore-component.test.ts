// A cluster restored from another's backup by `pulumi up` (issue 17): the real Pulumi engine and
// the toolchain's Kubernetes provider against a real API server, the operator, the node harness
// running real PostgreSQL and a real S3 server (SeaweedFS on loopback). One program, two stages:
// the first `up` creates the S3 credentials' Secret (from a Pulumi secret) and a PostgresCluster
// archiving to the bucket; the test writes rows, takes a base backup (PostgresBackup) and picks a
// time T between two batches of rows; the second `up` adds a PostgresCluster with
// `bootstrap.recovery` from the first's prefix to T. `pulumi up` returns once the restored cluster
// is Ready, and it holds exactly the rows committed at or before T (row by row); the S3 secret is
// nowhere in the Pulumi state.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { GROUP, KINDS, VERSION, type PostgresBackupStatus } from "../../sdk/api/index";
import { clusterMajor, useCluster } from "../support/cluster";
import { toolchainOrSkip } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { createPulumiProject, errorsOf, requireTypeScriptPrelude, summaryOf, type PulumiProject } from "../support/pulumi";
import { startS3Server, type S3Server } from "../support/s3";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager", "weed"]);
const ns = "restores";
const bucket = "restores";
/** A restore replays one WAL file per restore_command (a Node process each), seconds each on a loaded machine. */
const WAIT_MS = 480_000;

const PROGRAM = `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { PostgresCluster } = require(REPO + "/components/postgres-cluster.ts");

const namespace = "${ns}";
const config = new pulumi.Config();
const kubeconfig = pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8"));
const provider = new k8s.Provider("harness", { kubeconfig });
const creds = new k8s.core.v1.Secret("s3-creds", {
  metadata: { name: "s3-creds", namespace },
  stringData: { AWS_ACCESS_KEY_ID: config.require("s3AccessKeyId"), AWS_SECRET_ACCESS_KEY: config.requireSecret("s3SecretAccessKey") },
}, { provider });
const store = { endpoint: config.require("s3Endpoint"), bucket: "${bucket}", credentials: { secretName: "s3-creds" } };
const ledger = new PostgresCluster("ledger", {
  namespace,
  postgresVersion: ${clusterMajor},
  instances: 1,
  storage: { size: "1Gi" },
  backup: { destination: store, archiveTimeout: "10s" },
  readyTimeout: "5m",
  kubeconfig,
}, { providers: [provider], dependsOn: [creds] });
exports.ledger = ledger.readWriteHost;
const target = config.get("restoreTo");
if (target) {
  const restored = new PostgresCluster("restored", {
    namespace,
    postgresVersion: ${clusterMajor},
    instances: 1,
    storage: { size: "1Gi" },
    bootstrap: { recovery: { source: { ...store, prefix: "${ns}/ledger" }, target: { time: target } } },
    backup: { destination: store },
    readyTimeout: "8m",
    kubeconfig,
  }, { providers: [provider], dependsOn: [creds, ledger] });
  exports.restored = restored.readWriteHost;
}
`;

describe.skipIf(toolchain.skip !== undefined)(`pulumi up of a cluster restored from another's backup (real engine, operator, PostgreSQL ${clusterMajor}, S3)`, () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  let s3: S3Server | undefined;
  let project: PulumiProject | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    s3 = await startS3Server(toolchain.env!.tools.weed!.path);
    await s3.createBucket(bucket);
    dir = mkdtempSync(join(tmpdir(), "setpoint-restore-e2e-"));
    writeFileSync(join(dir, "kubeconfig"), env.kubeConfig.exportConfig(), { mode: 0o600 });
    project = await createPulumiProject({ toolchain: toolchain.env!, name: "restore-e2e", files: { "index.js": PROGRAM }, env: { SETPOINT_TEST_KUBECONFIG: join(dir, "kubeconfig") } });
  }, 120_000);

  afterAll(async () => {
    project?.cleanup();
    await s3?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("creates a cluster archiving to S3, then one restored from its backup to a time T: exactly the rows committed at or before T", async () => {
    onTestFailed(() => console.error(`operator log:\n${env.lines.slice(-40).join("\n")}`));
    const p = project!;
    await p.pulumi("config", "set", "s3Endpoint", s3!.endpoint);
    await p.pulumi("config", "set", "s3AccessKeyId", s3!.accessKeyId);
    await p.pulumiWithInput(s3!.secretAccessKey, "config", "set", "--secret", "s3SecretAccessKey");
    const first = await p.up();
    expect(summaryOf(first), errorsOf(first)).toMatchObject({ result: "succeeded" });

    const ip = await env.podIp("ledger-1");
    const q = <T extends object>(sql: string): Promise<T[]> => env.query<T>("ledger", ip, sql);
    await q("create table orders (id int primary key, note text not null)");
    await q("insert into orders select g, 'before the backup ' || g from generate_series(1, 100) g");
    await createCustomObject(env.objects, ns, "PostgresBackup", "base-1", { cluster: { name: "ledger" } });
    const backup = await eventually("PostgresBackup base-1 Completed and usable", async () => {
      const b = (await env.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresBackup.plural, name: "base-1" })) as { status?: PostgresBackupStatus };
      if (b.status?.phase === "Failed") throw new Error(`base-1 failed: ${b.status.error}`);
      // Usable once the WAL from its start to its end is archived (the next archive_timeout at the latest).
      return b.status?.phase === "Completed" && b.status.usable === true ? b.status : undefined;
    }, WAIT_MS);
    expect(backup.usable).toBe(true);
    // One row per transaction after the backup; T between the second and third batch.
    for (let i = 101; i <= 150; i++) await q(`insert into orders values (${i}, 'after the backup ${i}')`);
    await sleep(1500);
    const target = new Date();
    await sleep(1500);
    for (let i = 151; i <= 200; i++) await q(`insert into orders values (${i}, 'after T ${i}')`);
    const last = (await q<{ name: string }>("select pg_walfile_name(pg_switch_wal()) as name"))[0]!.name;
    await eventually("the last rows archived", async () => ((await env.read("ledger")).status?.backup?.lastArchivedWal ?? "") >= last, WAIT_MS);
    const expected = (await q<{ id: number; note: string }>("select id, note from orders order by id")).filter((r) => r.id <= 150);

    await p.pulumi("config", "set", "restoreTo", target.toISOString());
    const t = Date.now();
    const second = await p.up();
    const seconds = (Date.now() - t) / 1000;
    expect(summaryOf(second), errorsOf(second)).toMatchObject({ result: "succeeded" });
    expect(await p.outputs()).toMatchObject({ ledger: `ledger-rw.${ns}.svc`, restored: `restored-rw.${ns}.svc` });
    // `pulumi up` returned once the restored cluster was Ready: nothing to wait for here.
    const restored = await env.read("restored");
    expect(restored.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "True" });
    const rows = await env.query<{ id: number; note: string }>("restored", await env.podIp(restored.status!.currentPrimary!), "select id, note from orders order by id");
    expect(rows).toEqual(expected);
    expect(rows).toHaveLength(150);
    expect(await p.pulumi("stack", "export")).not.toContain(s3!.secretAccessKey);
    console.log(`pulumi up of the restored cluster: ${seconds.toFixed(1)} s until Ready (restore to T, 150 rows compared row by row)`);
  }, 1_200_000);
});
