// Streaming replicas, scaling and failover of a PostgresCluster, against a real API server (with
// the garbage collector and PVC protection) and the node harness running real PostgreSQL (whose
// pg_basebackup init containers the harness emulates, see test/support/node/basebackup.ts):
// - scaling 1 -> 3 gives two streaming replicas behind the ro Service, and a row written on the
//   primary is read on both; scaling 3 -> 2 removes the highest ordinal (pod, claim, slot);
// - with synchronous replication, deleting the primary's pod promotes a replica, repoints the rw
//   Service, makes the other replica follow, and loses no acknowledged row. The failover time
//   (pod deletion or crash to the first write acknowledged by the new primary) is printed; a
//   crashed primary's is measured against the 10 s target (default failoverGrace 5 s).
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import { CLUSTER_LABEL, ROLE_LABEL } from "../../sdk/operator/cluster/objects";
import type { LogFields, Logger } from "../../sdk/reconcile/index";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { startNodeHarness, type NodeHarness } from "../support/node/harness";
import { majors } from "../support/postgres";
import { eventually } from "../support/eventually";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 180_000;

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver", "kube-controller-manager"]);
const major = majors().includes(17) ? 17 : majors()[0]!;
const ns = "replication";
const plural = KINDS.PostgresCluster.plural;
const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

interface ClusterObject {
  metadata: { name: string; generation?: number; uid?: string };
  status?: PostgresClusterStatus;
}

function recorder(lines: string[]): Logger {
  const push = (level: string) => (message: string, fields?: LogFields) => lines.push(`${new Date().toISOString()} ${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const make = (base: LogFields): Logger => ({
    debug: () => undefined,
    info: (m, f) => push("info")(m, { ...base, ...f }),
    error: (m, f) => push("error")(m, { ...base, ...f }),
    child: (f) => make({ ...base, ...f }),
  });
  return make({});
}

describe.skipIf(toolchain.skip !== undefined)("PostgresCluster replication", () => {
  let cp: ControlPlane | undefined;
  let node: NodeHarness | undefined;
  let operator: RunningOperator | undefined;
  let core: CoreV1Api;
  let objects: CustomObjectsApi;
  const lines: string[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env!, controllers: ["garbagecollector", "pvc-protection"] });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    await installCrds(cp.kubeConfig, crdManifests());
    node = await startNodeHarness({ kubeConfig: cp.kubeConfig });
    await core.createNamespace({ body: { metadata: { name: ns } } });
    operator = await startOperator({ kubeconfig: cp.kubeConfig, namespace: ns, metricsPort: 0, metricsHost: "127.0.0.1", logger: recorder(lines), metrics: new MetricsRegistry() });
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    await node?.stop();
    await cp?.stop();
  }, 120_000);

  const read = async (name: string): Promise<ClusterObject> =>
    (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name })) as ClusterObject;
  /** Ready, nothing in progress (every wanted instance present and streaming), at `generation`. */
  const settled = (name: string, generation: number): Promise<ClusterObject> =>
    eventually(`cluster ${name} Ready and settled at generation ${generation}`, async () => {
      const c = await read(name);
      const ready = c.status?.conditions?.find((x) => x.type === "Ready");
      const progressing = c.status?.conditions?.find((x) => x.type === "Progressing");
      return c.status?.observedGeneration === generation && ready?.status === "True" && progressing?.status === "False" && progressing.observedGeneration === generation ? c : undefined;
    }, WAIT_MS).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator log:\n${lines.slice(-40).join("\n")}`);
    });
  const secretValue = async (name: string, key: string): Promise<string> =>
    Buffer.from((await core.readNamespacedSecret({ name, namespace: ns })).data![key]!, "base64").toString("utf8");
  const podIp = async (name: string): Promise<string> => (await core.readNamespacedPod({ name, namespace: ns })).status!.podIP!;
  const selectedPods = async (service: string): Promise<string[]> => {
    const svc = await core.readNamespacedService({ name: service, namespace: ns });
    const selector = Object.entries(svc.spec!.selector!).map(([k, v]) => `${k}=${v}`).join(",");
    return (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.map((p) => p.metadata!.name!).sort();
  };
  const query = async <T extends object>(host: string, sql: string, params: unknown[] = []): Promise<T[]> => {
    const client = new Client({ host, port: 5432, user: "postgres", password: await secretValue(`${currentCluster}-superuser`, "password"), database: "postgres", connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  let currentCluster = "orders";
  const create = (name: string, spec: object) =>
    objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "PostgresCluster", metadata: { name }, spec: { postgresVersion: major, storage: { size: "1Gi" }, ...spec } },
    });
  /** A writer: one row per statement through whatever the rw Service selects; records each acknowledged row and who acknowledged it. */
  const startWriter = (cluster: string, password: string, firstId: number) => {
    const acked: { id: number; host: string; at: number }[] = [];
    let stopped = false;
    const done = (async () => {
      let id = firstId;
      let client: Client | undefined;
      let host = "";
      while (!stopped) {
        try {
          if (!client) {
            const [pod] = await selectedPods(`${cluster}-rw`);
            if (!pod) throw new Error("rw selects no pod");
            host = await podIp(pod);
            client = new Client({ host, port: 5432, user: "postgres", password, database: "postgres", connectionTimeoutMillis: 2000, query_timeout: 5000 });
            client.on("error", () => undefined);
            await client.connect();
            if ((await client.query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]!.r) throw new Error("rw selects a replica");
          }
          const next = ++id;
          await client.query("insert into acked values ($1)", [next]);
          acked.push({ id: next, host, at: Date.now() });
          await sleep(20);
        } catch {
          await client?.end().catch(() => undefined);
          client = undefined;
          await sleep(100);
        }
      }
      await client?.end().catch(() => undefined);
    })();
    return {
      acked,
      stop: async () => {
        stopped = true;
        await done;
      },
    };
  };
  const setInstances = (name: string, n: number) =>
    objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name, body: [{ op: "replace", path: "/spec/instances", value: n }] }, JSON_PATCH);

  it("scales 1 -> 3 to two streaming replicas that serve a row written on the primary, then 3 -> 2 removing the highest ordinal", async () => {
    currentCluster = "orders";
    await create("orders", { instances: 1 });
    await settled("orders", 1);
    await setInstances("orders", 3);
    const three = await settled("orders", 2);
    expect(three.status).toMatchObject({
      currentPrimary: "orders-1",
      instances: [
        { name: "orders-1", role: "primary", ready: true },
        { name: "orders-2", role: "replica", ready: true },
        { name: "orders-3", role: "replica", ready: true },
      ],
    });
    for (const i of three.status!.instances!.slice(1)) expect(i.lagBytes).toBeGreaterThanOrEqual(0);
    expect(await selectedPods("orders-rw")).toEqual(["orders-1"]);
    expect(await selectedPods("orders-ro")).toEqual(["orders-2", "orders-3"]);

    const primaryIp = await podIp("orders-1");
    const streaming = await query<{ application_name: string; state: string }>(primaryIp, "select application_name, state from pg_stat_replication order by 1");
    expect(streaming).toEqual([
      { application_name: "orders_2", state: "streaming" },
      { application_name: "orders_3", state: "streaming" },
    ]);
    await query(primaryIp, "create table ping (id int primary key, note text)");
    await query(primaryIp, "insert into ping values (1, 'written on the primary')");
    for (const replica of ["orders-2", "orders-3"]) {
      const ip = await podIp(replica);
      expect((await query<{ r: boolean }>(ip, "select pg_is_in_recovery() as r"))[0]!.r).toBe(true);
      const rows = await eventually(`row replicated to ${replica}`, async () => {
        const r = await query<{ note: string }>(ip, "select note from ping where id = 1").catch(() => []);
        return r.length === 1 ? r : undefined;
      }, WAIT_MS);
      expect(rows).toEqual([{ note: "written on the primary" }]);
    }

    await setInstances("orders", 2);
    const two = await settled("orders", 3);
    expect(two.status?.instances?.map((i) => [i.name, i.role])).toEqual([
      ["orders-1", "primary"],
      ["orders-2", "replica"],
    ]);
    await eventually("orders-3 pod and claim gone, its slot dropped", async () => {
      const sel = { namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` };
      const pods = (await core.listNamespacedPod(sel)).items.map((p) => p.metadata!.name);
      const claims = (await core.listNamespacedPersistentVolumeClaim(sel)).items.map((p) => p.metadata!.name);
      const slots = (await query<{ slot_name: string }>(primaryIp, "select slot_name from pg_replication_slots order by 1")).map((s) => s.slot_name);
      return !pods.includes("orders-3") && !claims.includes("orders-3") && JSON.stringify(slots) === JSON.stringify(["orders_2"]);
    }, WAIT_MS);
    expect(await selectedPods("orders-ro")).toEqual(["orders-2"]);
    await objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: "orders" });
    await eventually("orders pods gone", async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items.length === 0, WAIT_MS);
  }, 600_000);

  it("fails over when the primary's pod is deleted: promotes a replica, repoints rw, the other follows, no acknowledged row lost", async () => {
    currentCluster = "ledger";
    await create("ledger", { instances: 3, synchronous: { number: 1 } });
    const before = await settled("ledger", 1);
    expect(before.status?.currentPrimary).toBe("ledger-1");
    const password = await secretValue("ledger-superuser", "password");
    const oldIp = await podIp("ledger-1");
    await query(oldIp, "create table acked (id int primary key)");

    const writer = startWriter("ledger", password, 0);
    await eventually("writer running", async () => writer.acked.length >= 20, WAIT_MS);

    const deletedAt = Date.now();
    await core.deleteNamespacedPod({ name: "ledger-1", namespace: ns });
    const after = await eventually("a new primary in status", async () => {
      const c = await read("ledger");
      return c.status?.currentPrimary !== undefined && c.status.currentPrimary !== "ledger-1" ? c : undefined;
    }, WAIT_MS);
    const newPrimary = after.status!.currentPrimary!;
    const firstAck = await eventually("writes acknowledged by the new primary", async () => writer.acked.find((a) => a.host !== oldIp && a.at >= deletedAt), WAIT_MS);
    console.log(`failover (primary pod deleted): first write acknowledged by ${newPrimary} ${((firstAck.at - deletedAt) / 1000).toFixed(2)} s after the deletion; ${writer.acked.length} rows acknowledged in all`);
    await sleep(1000);
    await writer.stop();

    expect(await selectedPods("ledger-rw")).toEqual([newPrimary]);
    const newIp = await podIp(newPrimary);
    const present = new Set((await query<{ id: number }>(newIp, "select id from acked")).map((r) => r.id));
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);

    // The cluster comes back to three instances: the other replica follows, the old primary's ordinal is re-cloned.
    const healed = await settled("ledger", 1);
    expect(healed.status?.currentPrimary).toBe(newPrimary);
    expect(healed.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([newPrimary]);
    expect(healed.status?.instances).toHaveLength(3);
    const primaries = [];
    for (const i of healed.status!.instances!) {
      const r = (await query<{ r: boolean }>(await podIp(i.name), "select pg_is_in_recovery() as r"))[0]!.r;
      if (!r) primaries.push(i.name);
    }
    expect(primaries).toEqual([newPrimary]);
    const labels = (await core.listNamespacedPod({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=ledger,${ROLE_LABEL}=primary` })).items.map((p) => p.metadata!.name);
    expect(labels).toEqual([newPrimary]);
    const streaming = await query<{ n: string }>(newIp, "select count(*) as n from pg_stat_replication where state = 'streaming'");
    expect(Number(streaming[0]!.n)).toBe(2);
  }, 600_000);

  it("fails over when the primary's server dies and does not come back: fenced after its grace, a replica promoted, no acknowledged row lost", async () => {
    currentCluster = "ledger";
    const password = await secretValue("ledger-superuser", "password");
    const oldPrimary = (await settled("ledger", 1)).status!.currentPrimary!;
    const oldIp = await podIp(oldPrimary);
    const writer = startWriter("ledger", password, 1_000_000);
    await eventually("writer running", async () => writer.acked.length >= 20, WAIT_MS);

    const crashedAt = Date.now();
    node!.crash(ns, oldPrimary);
    const firstAck = await eventually("writes acknowledged by a new primary", async () => writer.acked.find((a) => a.host !== oldIp && a.at >= crashedAt), WAIT_MS);
    // Status is written at the end of the reconcile that repointed rw: it may trail the first acknowledged write.
    const newPrimary = await eventually("a new primary in status", async () => {
      const p = (await read("ledger")).status?.currentPrimary;
      return p !== undefined && p !== oldPrimary ? p : undefined;
    }, WAIT_MS);
    const failoverS = (firstAck.at - crashedAt) / 1000;
    console.log(`failover (primary server crashed for good, default 5 s failoverGrace): first write acknowledged by ${newPrimary} ${failoverS.toFixed(2)} s after the crash; ${writer.acked.length} rows acknowledged in all`);
    // CloudNativePG's end-to-end target is 10 s; measured 6.2-8.4 s here (printed above, and by
    // demo:cluster). The bound leaves room for a CI machine running other test files meanwhile:
    // it guards against a regression such as the grace no longer ending the wait, not the target.
    expect(failoverS).toBeLessThanOrEqual(15);
    await sleep(1000);
    await writer.stop();
    expect(lines.join("\n")).toContain("PrimaryUnreachable");

    const newIp = await podIp(newPrimary);
    const present = new Set((await query<{ id: number }>(newIp, "select id from acked")).map((r) => r.id));
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);
    const healed = await settled("ledger", 1);
    expect(healed.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([newPrimary]);
    expect(healed.status?.instances).toHaveLength(3);
  }, 600_000);

  it("refuses to fail over an asynchronous cluster (a promotion could lose acknowledged commits) until the cluster is annotated", async () => {
    currentCluster = "audit";
    await create("audit", { instances: 2 });
    await settled("audit", 1);
    node!.crash(ns, "audit-1");
    const refused = await eventually("failover refused in status", async () => {
      const p = (await read("audit")).status?.conditions?.find((c) => c.type === "Progressing");
      return p?.reason === "FailoverRefused" ? p : undefined;
    }, WAIT_MS);
    expect(refused.message).toContain("replication is asynchronous");
    expect(refused.message).toContain("setpoint.dev/allow-data-loss-failover=true");
    expect((await query<{ r: boolean }>(await podIp("audit-2"), "select pg_is_in_recovery() as r"))[0]!.r).toBe(true);
    expect((await read("audit")).status?.currentPrimary).toBe("audit-1");

    await objects.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural, name: "audit", body: { metadata: { annotations: { "setpoint.dev/allow-data-loss-failover": "true" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const promoted = await eventually("audit-2 promoted once allowed", async () => ((await read("audit")).status?.currentPrimary === "audit-2" ? true : undefined), WAIT_MS);
    expect(promoted).toBe(true);
    expect((await query<{ r: boolean }>(await podIp("audit-2"), "select pg_is_in_recovery() as r"))[0]!.r).toBe(false);
    expect(await selectedPods("audit-rw")).toEqual(["audit-2"]);
  }, 600_000);

  it("converges after an operator restart in the middle of a failover (promoted, not yet labelled or repointed)", async () => {
    currentCluster = "ledger";
    const before = await settled("ledger", 1);
    const oldPrimary = before.status!.currentPrimary!;
    const [next] = before.status!.instances!.filter((i) => i.role === "replica").map((i) => i.name);
    await operator!.stop();
    // What the operator had done when it stopped: fenced the old primary, dropped its volume, promoted a replica.
    await core.deleteNamespacedPod({ name: oldPrimary, namespace: ns });
    await eventually(`${oldPrimary} gone`, async () => (await core.listNamespacedPod({ namespace: ns })).items.every((p) => p.metadata?.name !== oldPrimary), WAIT_MS);
    await core.deleteNamespacedPersistentVolumeClaim({ name: oldPrimary, namespace: ns });
    await query(await podIp(next!), "select pg_promote(true, 60)");

    operator = await startOperator({ kubeconfig: cp!.kubeConfig, namespace: ns, metricsPort: 0, metricsHost: "127.0.0.1", logger: recorder(lines), metrics: new MetricsRegistry() });
    // The status still says what the stopped operator last wrote: wait for the new one's view first.
    await eventually("the promoted replica in status", async () => (await read("ledger")).status?.currentPrimary === next, WAIT_MS);
    const healed = await settled("ledger", 1);
    expect(healed.status?.currentPrimary).toBe(next);
    expect(healed.status?.instances).toHaveLength(3);
    expect(healed.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([next]);
    expect(await selectedPods("ledger-rw")).toEqual([next]);
    expect(await selectedPods("ledger-ro")).toEqual(healed.status!.instances!.filter((i) => i.name !== next).map((i) => i.name).sort());
    const nextIp = await podIp(next!);
    expect(Number((await query<{ n: string }>(nextIp, "select count(*) as n from pg_stat_replication where state = 'streaming'"))[0]!.n)).toBe(2);
  }, 600_000);
});
