// A postgresVersion bump and a planned switchover through the managed pooler on real pods (issue
// #18, ADR 0033, 0037): a real node (kubelet + containerd), the instance images of 16 and 17 and
// the pooler image built from their recipes, the operator run by this process, and the cluster
// written by `pulumi up` (real engine, PostgresCluster component). A 3-instance 16 cluster with a
// PgBouncer; four writers commit through `<cluster>-pooler-rw`'s ClusterIP (kube-proxy) while
// - a parameter that needs a restart makes the operator switch the primary over (PAUSE, promote,
//   repoint, RESUME), and then
// - `pulumi up` raises postgresVersion to 17: green is built, synchronized and cut over through the
//   pooler.
// Asserted: 0 failed client transactions, 0 lost rows, the engine's checksums equal. Printed: the
// longest gap between two acknowledgements in each (the write pause the clients saw). Then the
// upgrade is finalized (ADR 0046): blue's pods and claims go, the cluster is served by green.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus, type PostgresUpgradeStatus } from "../../sdk/api/index";
import { ALLOW_DATA_LOSS_ANNOTATION } from "../../sdk/operator/cluster/decisions";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import { recorder } from "../support/cluster";
import { clusterClientConfig, poolerSsl } from "../support/cluster-tls";
import { installCrds } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { majors } from "../support/postgres";
import { createPulumiProject, errorsOf, requireTypeScriptPrelude, summaryOf, type PulumiProject } from "../support/pulumi";
import { realNodeToolchain } from "../support/real-node/gate";
import { importInstanceImage, importPoolerImage } from "../support/real-node/operator";
import { startRealNode, type RealNode } from "../support/real-node/node";
import { startVolumeProvisioner } from "../support/real-node/volumes";
import { startWriter, type Ack, type Writer } from "../support/writer";

const toolchain = realNodeToolchain(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes"]);
const ok = majors().includes(16) && majors().includes(17);
const ns = "default";
const POOLER = "setpoint-pooler:test";

const PROGRAM = `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { PostgresCluster } = require(REPO + "/components/postgres-cluster.ts");
const config = new pulumi.Config();
const kubeconfig = pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8"));
const provider = new k8s.Provider("node", { kubeconfig });
new PostgresCluster("shop", {
  namespace: "${ns}",
  postgresVersion: config.getNumber("postgresVersion") ?? 16,
  instances: 3,
  storage: { size: "1Gi" },
  parameters: { wal_level: "logical", max_connections: config.get("maxConnections") ?? "100" },
  pooler: { instances: 1, image: "${POOLER}" },
  readyTimeout: "15m",
  kubeconfig,
}, { providers: [provider] });
`;

/** The longest gap between two acknowledgements after `from` (ms). */
function longestGap(acks: readonly Ack[], from: number, to = Number.MAX_SAFE_INTEGER): number {
  const sorted = acks.filter((a) => a.at <= to).sort((a, b) => a.at - b.at);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.at > from) gap = Math.max(gap, sorted[i]!.at - sorted[i - 1]!.at);
  return gap;
}

describe.skipIf(toolchain.skip !== undefined || !ok)("real node: switchover and postgresVersion 16 -> 17 through the pooler, by pulumi up", () => {
  let node: RealNode | undefined;
  let operator: RunningOperator | undefined;
  let project: PulumiProject | undefined;
  let stopProvisioner = (): void => undefined;
  let writers: Writer[] = [];
  const lines: string[] = [];
  const times: Record<string, number> = {};

  const core = (): CoreV1Api => node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const objects = (): CustomObjectsApi => node!.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
  const read = async (): Promise<{ status?: PostgresClusterStatus }> => (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "shop" })) as never;
  const patch = (kind: "PostgresCluster" | "PostgresUpgrade", name: string, body: object): Promise<unknown> =>
    objects().patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS[kind].plural, name, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  const secret = async (name: string): Promise<string> => Buffer.from((await core().readNamespacedSecret({ name, namespace: ns })).data!.password!, "base64").toString("utf8");
  const podIp = async (name: string): Promise<string> => (await core().readNamespacedPod({ name, namespace: ns })).status!.podIP!;
  const query = async <T extends object>(host: string, sql: string, cluster = "shop"): Promise<T[]> => {
    // A default cluster (ADR 0042: the upgrade needs no superuser password over the network): the superuser comes in by certificate.
    const c = pgClient(await clusterClientConfig(core(), ns, cluster, { host, database: "app" }));
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  /** Prints each writer's failed attempts since `from` and the operator's upgrade and pooler lines, with times. */
  const printErrors = (what: string, from: number): void => {
    const errors = writers.flatMap((w, k) => w.errors.filter((e) => e.at >= from).map((e) => `  writer ${k} ${new Date(e.at).toISOString()} row ${e.id}: ${e.message}`));
    if (errors.length === 0) return;
    const log = lines.filter((l) => l.slice(0, 24) >= new Date(from).toISOString() && /upgrade (progress|checkpoint)|pooler|switchover|cutover|failover|promot|fenc|"controller":"postgresupgrade"/i.test(l));
    console.log(`real node: ${what}: failed attempts:\n${errors.join("\n")}\noperator lines:\n${log.map((l) => `  ${l.slice(0, 400)}`).join("\n")}`);
  };
  const up = async (what: string): Promise<void> => {
    const t = Date.now();
    const events = await project!.up();
    times[`${what}UpS`] = (Date.now() - t) / 1000;
    expect(summaryOf(events), errorsOf(events)).toMatchObject({ result: "succeeded" });
  };

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    let t = Date.now();
    for (const major of [16, 17] as const) importInstanceImage(node, major);
    importPoolerImage(node, POOLER);
    times.imagesS = (Date.now() - t) / 1000;
    await installCrds(node.controlPlane.kubeConfig, crdManifests());
    stopProvisioner = startVolumeProvisioner(node, ns, (m) => lines.push(m));
    operator = await startOperator({ kubeconfig: node.controlPlane.kubeConfig, namespace: ns, metricsPort: 0, metricsHost: "127.0.0.1", logger: recorder(lines), metrics: new MetricsRegistry(), upgradeCheckpoint: (name) => void lines.push(`${new Date().toISOString()} info upgrade checkpoint ${name}`) });
    project = await createPulumiProject({ toolchain: toolchain.env!, name: "real-node-upgrade", files: { "index.js": PROGRAM }, env: { SETPOINT_TEST_KUBECONFIG: node.controlPlane.kubeconfigPath } });
    t = Date.now();
    await up("create");
    times.clusterReadyS = (Date.now() - t) / 1000;
  }, 2_400_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    console.log(`real-pod upgrade times: ${JSON.stringify(times)}`);
    for (const w of writers) await w.stop();
    project?.cleanup();
    stopProvisioner();
    await operator?.stop();
    await node?.stop();
  }, 900_000);

  it("switches over through the pooler for a restart, then raises 16 -> 17 by pulumi up: 0 failed transactions, 0 lost rows, checksums equal", async () => {
    const c0 = await read();
    expect(c0.status).toMatchObject({ postgresVersion: 16, pooler: { readyInstances: 1 } });
    expect(c0.status?.instances?.filter((i) => i.ready)).toHaveLength(3);
    const first = c0.status!.currentPrimary!;
    await query(await podIp(first), "create table acked (id bigint primary key, note text); alter table acked owner to app");
    const svc = await core().readNamespacedService({ name: "shop-pooler-rw", namespace: ns });
    // Through the pooler Service over TLS, verified against the pooler's own certificate (ADR 0044).
    const conn = { host: svc.spec!.clusterIP!, port: svc.spec!.ports![0]!.port, user: "app", password: await secret("shop-app"), database: "app", ssl: await poolerSsl(core(), ns, "shop") };
    writers = Array.from({ length: 4 }, (_, k) => startWriter(conn, "acked", (k + 1) * 1_000_000, 10));
    await eventually("every writer committing through the pooler", async () => writers.every((w) => w.acked.length >= 20), 120_000);

    // A planned switchover (max_connections needs a restart: replicas first, then the primary's role moves).
    const s0 = Date.now();
    await project!.pulumi("config", "set", "maxConnections", "120");
    await up("switchover");
    const afterSwitch = await read();
    expect(afterSwitch.status?.currentPrimary).not.toBe(first);
    const s1 = Date.now();
    const all = () => writers.flatMap((w) => w.acked);
    const switchoverFailures = writers.reduce((n, w) => n + w.failures(), 0);
    printErrors("switchover", s0);
    times.switchoverMaxPauseMs = longestGap(all(), s0, s1);
    console.log(`real node: switchover through the pooler (4 writers): ${switchoverFailures} failed transactions, longest write pause ${times.switchoverMaxPauseMs} ms, primary ${afterSwitch.status?.currentPrimary}`);
    expect(switchoverFailures).toBe(0);

    // postgresVersion 16 -> 17 through pulumi up (unsupervised: up returns once 17 serves the cluster).
    const u0 = Date.now();
    await project!.pulumi("config", "set", "postgresVersion", "17");
    const preview = await project!.pulumi("preview", "--non-interactive");
    expect(preview).toMatch(/major upgrade 16 -> 17 \(blue-green\).*no blocking finding for 17/s);
    await up("upgrade");
    const u1 = Date.now();
    const upgraded = await read();
    expect(upgraded.status).toMatchObject({ postgresVersion: 17, upgrade: { name: "shop-to-17", green: "shop-v17", phase: "switched" } });
    await eventually("every writer committing after the cutover", async () => writers.every((w) => (w.acked.at(-1)?.at ?? 0) > u1 + 500), 120_000);
    for (const w of writers) await w.stop();
    const failures = writers.reduce((n, w) => n + w.failures(), 0);
    printErrors("upgrade", u0);
    const acks = all();
    times.upgradeMaxPauseMs = longestGap(acks, u0);
    const greenPrimary = (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "shop-v17" })) as { status?: PostgresClusterStatus };
    const greenIp = await podIp(greenPrimary.status!.currentPrimary!);
    const present = new Set((await query<{ id: string }>(greenIp, "select id from acked", "shop-v17")).map((r) => Number(r.id)));
    const lost = acks.filter((a) => !present.has(a.id)).length;
    const u = (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural, name: "shop-to-17" })) as { status?: PostgresUpgradeStatus };
    const version = (await query<{ v: string }>(greenIp, "select current_setting('server_version_num') as v", "shop-v17"))[0]!.v;
    console.log(
      `real node: postgresVersion 16 -> 17 by pulumi up through shop-pooler-rw (4 writers, 3 instances): ${failures} failed transactions, ${lost} lost rows of ${acks.length}; ` +
        `longest write pause ${times.upgradeMaxPauseMs} ms; engine write pause ${String(u.status?.writePauseMs)} ms; pulumi up ${times.upgradeUpS} s`,
    );
    expect(version.slice(0, 2)).toBe("17");
    expect(failures).toBe(0);
    expect(lost).toBe(0);
    expect(u.status?.verification).toMatchObject({ equal: true, mismatchedTables: [] });
  }, 2_400_000);

  it("switched, before finalize: green's primary pod deleted — a replica of green is promoted, blue's rw Service and pooler follow it, writes resume through the pooler; the rollback path's failover slot was synchronized to green's standbys (ADR 0050), so it survives: blue's rollback subscription reconnects and green's writes reach blue", async () => {
    const readGreen = async (): Promise<{ status?: PostgresClusterStatus }> => (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "shop-v17" })) as never;
    const readUpgrade = async (): Promise<{ metadata?: { generation?: number }; status?: PostgresUpgradeStatus }> => (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural, name: "shop-to-17" })) as never;
    const before = (await readGreen()).status!.currentPrimary!;
    const svc = await core().readNamespacedService({ name: "shop-pooler-rw", namespace: ns });
    const conn = { host: svc.spec!.clusterIP!, port: svc.spec!.ports![0]!.port, user: "app", password: await secret("shop-app"), database: "app", ssl: await poolerSsl(core(), ns, "shop") };
    const writer = startWriter(conn, "acked", 9_000_000, 10);
    writers.push(writer);
    await eventually("the writer committing through the pooler", async () => (writer.acked.length >= 20 ? true : undefined), 120_000);
    // The rollback path is a failover slot on green's primary (PostgreSQL 17): each standby of
    // green keeps a synchronized copy once the slot has moved past what the standby reserved.
    const standbys = (await core().listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/cluster=shop-v17" })).items.map((p) => p.metadata!.name!).filter((n) => n !== before);
    const s0 = Date.now();
    await eventually(
      "the rollback path's slot synchronized (persistent) on every standby of green",
      async () => {
        for (const standby of standbys) {
          const rows = await query<{ n: number }>(await podIp(standby), "select count(*)::int as n from pg_replication_slots where slot_type = 'logical' and synced and not temporary", "shop-v17");
          if (rows[0]!.n < 1) return undefined;
        }
        return true;
      },
      300_000,
    );
    times.slotSyncedS = (Date.now() - s0) / 1000;
    // The program's cluster replicates asynchronously, and so does green (made from its spec): a
    // failover needs the data-loss annotation (a deleted pod's shutdown sends all its WAL first,
    // so nothing acknowledged is lost here, as asserted below).
    await patch("PostgresCluster", "shop-v17", { metadata: { annotations: { [ALLOW_DATA_LOSS_ANNOTATION]: "true" } } });
    const d0 = Date.now();
    await core().deleteNamespacedPod({ name: before, namespace: ns });
    const promoted = await eventually("another instance of green promoted", async () => {
      const p = (await readGreen()).status?.currentPrimary;
      return p && p !== before ? p : undefined;
    }, 300_000);
    const promotedAt = Date.now();
    const promotedIp = await podIp(promoted);
    const pointed = await eventually("the pooler points at green's new primary", async () => {
      const ini = (await core().readNamespacedConfigMap({ name: "shop-pooler", namespace: ns })).data?.["pgbouncer.ini"] ?? "";
      return ini.includes(`host=${promotedIp} `) ? Date.now() : undefined;
    }, 300_000);
    await eventually("writes acknowledged through the pooler after it moved", async () => writer.acked.find((a) => a.at > pointed), 120_000, 10);
    times.greenFailoverMaxPauseMs = longestGap(writer.acked, d0);
    expect((await core().readNamespacedService({ name: "shop-rw", namespace: ns })).spec?.selector).toEqual({ "setpoint.dev/cluster": "shop-v17", "setpoint.dev/instance": promoted });
    await writer.stop();
    const present = new Set((await query<{ id: string }>(promotedIp, "select id from acked where id >= 9000000", "shop-v17")).map((r) => Number(r.id)));
    const lost = writer.acked.filter((a) => !present.has(a.id)).length;
    printErrors("green failover", d0);
    console.log(`real node: green's primary ${before} deleted while switched: ${promoted} promoted (in status ${(promotedAt - d0) / 1000} s after the deletion); the pooler followed ${(pointed - d0) / 1000} s after it (as first seen); longest write pause through it ${times.greenFailoverMaxPauseMs} ms; ${writer.failures()} failed attempts, ${lost} of ${writer.acked.length} acknowledged rows lost`);
    expect(lost).toBe(0);
    // The slot came with the promotion: the upgrade reconnects blue's rollback subscription to the
    // new primary, never reports the path lost, and a write green takes now reaches blue — what a
    // rollback would carry back.
    const r0 = Date.now();
    await eventually("the rollback path reconnected to green's new primary", async () => {
      const events = (await core().listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "shop-to-17").map((e) => e.reason);
      return events.includes("RollbackPathReconnected") ? true : undefined;
    }, 300_000);
    const app = pgClient(conn);
    await app.connect();
    try {
      await app.query("insert into acked values (-3, 'green, after its failover')");
      expect((await app.query<{ a: string }>("select inet_server_addr()::text as a")).rows[0]!.a.replace(/\/\d+$/, "")).toBe(promotedIp);
    } finally {
      await app.end();
    }
    const bluePrimary = (await core().listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/cluster=shop,setpoint.dev/role=primary" })).items[0]!.metadata!.name!;
    const blueIp = await podIp(bluePrimary);
    await eventually("green's write after the failover on blue (the rollback path carries it)", async () => ((await query<{ n: number }>(blueIp, "select count(*)::int as n from acked where id = -3")).at(0)?.n === 1 ? true : undefined), 300_000);
    times.rollbackPathBackS = (Date.now() - r0) / 1000;
    const u = await readUpgrade();
    expect(u.status?.phase).toBe("switched");
    expect(u.status?.conditions?.find((x) => x.type === "Degraded")?.reason).not.toBe("RollbackPathLost");
    expect(u.status?.conditions?.find((x) => x.type === "Ready")).toMatchObject({ status: "True", reason: "Switched" });
    const events = (await core().listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "shop-to-17").map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(["TrafficFollowedGreen", "RollbackPathReconnected"]));
    expect(events).not.toContain("RollbackPathLost");
    console.log(`real node: the rollback path's slot synchronized to green's standbys ${times.slotSyncedS} s after the writer began; after the failover blue's rollback subscription reads ${promoted} and green's write reached blue ${times.rollbackPathBackS} s after the pooler moved`);
  }, 900_000);

  it("finalize removes blue's three 16 instances and their claims; the cluster is served by green: writes through the pooler land on 17, ro selects green's replicas, pulumi up converges (ADR 0046)", async () => {
    const f0 = Date.now();
    await patch("PostgresUpgrade", "shop-to-17", { spec: { action: "finalize" } });
    const served = await eventually("shop served by shop-v17, its own instances removed", async () => {
      const c = await read();
      const progressing = c.status?.conditions?.find((x) => x.type === "Progressing");
      return c.status?.upgrade?.phase === "finalized" && progressing?.status === "False" && progressing.reason === "ServedByUpgrade" ? c : undefined;
    }, 300_000);
    times.finalizeRetiredS = (Date.now() - f0) / 1000;
    const green = (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "shop-v17" })) as { status?: PostgresClusterStatus };
    expect(served.status).toMatchObject({ postgresVersion: 17, instances: [], currentPrimary: green.status!.currentPrimary });
    expect(served.status?.conditions?.find((x) => x.type === "Ready")).toMatchObject({ status: "True", reason: "ServedByUpgrade" });
    // Blue's pods and claims are gone (the pooler's pod stays); their volumes are released to the storage's reclaim policy.
    const shopPods = (await core().listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/cluster=shop" })).items.map((p) => p.metadata!.name!);
    expect(shopPods.filter((n) => !n.startsWith("shop-pooler-"))).toEqual([]);
    expect(shopPods.filter((n) => n.startsWith("shop-pooler-"))).toHaveLength(1);
    const claims = (await core().listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map((c) => c.metadata!.name!).sort();
    expect(claims).toEqual(["shop-v17-1", "shop-v17-2", "shop-v17-3"]);
    const released = (await core().listPersistentVolume()).items.filter((v) => /^shop-\d+$/.test(v.spec?.claimRef?.name ?? "")).map((v) => v.status?.phase);
    expect(released).toEqual(["Released", "Released", "Released"]);
    // The cluster's names lead to green: ro to its replicas, the pooler to its primary (a write lands on 17).
    const ro = (await core().readNamespacedService({ name: "shop-ro", namespace: ns })).spec?.selector;
    expect(ro).toEqual({ "setpoint.dev/cluster": "shop-v17", "setpoint.dev/role": "replica" });
    const svc = await core().readNamespacedService({ name: "shop-pooler-rw", namespace: ns });
    const app = pgClient({ host: svc.spec!.clusterIP!, port: svc.spec!.ports![0]!.port, user: "app", password: await secret("shop-app"), database: "app", ssl: await poolerSsl(core(), ns, "shop") });
    await app.connect();
    try {
      await app.query("insert into acked values (-1, 'after finalize')");
      expect((await app.query<{ v: string }>("select current_setting('server_version_num') as v")).rows[0]!.v.slice(0, 2)).toBe("17");
    } finally {
      await app.end();
    }
    // pulumi up of the unchanged program: the served cluster counts as serving.
    await up("afterFinalize");
    console.log(`real node: finalize removed shop-1..3 (pods and claims) in ${times.finalizeRetiredS} s; shop served by shop-v17 (primary ${green.status!.currentPrimary}); pulumi up after it ${times.afterFinalizeUpS} s`);
  }, 900_000);
});
