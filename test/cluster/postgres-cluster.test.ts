// The PostgresCluster controller against a real API server (with the garbage collector and the
// PVC-protection controller of kube-controller-manager) and the node harness running real
// PostgreSQL: a 1-instance cluster becomes Ready, the rw Service selects the primary's pod,
// the generated application Secret connects to the bootstrap database, observedGeneration
// follows the spec, and deleting the cluster garbage-collects every child.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubernetesObject } from "@kubernetes/client-node";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import { CLUSTER_LABEL } from "../../sdk/operator/cluster/objects";
import type { LogFields, Logger } from "../../sdk/reconcile/index";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { startNodeHarness, type NodeHarness } from "../support/node/harness";
import { majors } from "../support/postgres";
import { eventually } from "../support/eventually";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 120_000;

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver", "kube-controller-manager"]);
const major = majors().includes(17) ? 17 : majors()[0]!;
const ns = "clusters";
const plural = KINDS.PostgresCluster.plural;

interface ClusterObject {
  metadata: { name: string; generation?: number; uid?: string };
  status?: PostgresClusterStatus;
}

/** Log lines, kept for a failing test's message; secrets never reach them (checked below). */
function recorder(lines: string[]): Logger {
  const push = (level: string) => (message: string, fields?: LogFields) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const make = (base: LogFields): Logger => ({
    debug: () => undefined,
    info: (m, f) => push("info")(m, { ...base, ...f }),
    error: (m, f) => push("error")(m, { ...base, ...f }),
    child: (f) => make({ ...base, ...f }),
  });
  return make({});
}

describe.skipIf(toolchain.skip !== undefined)("PostgresCluster controller", () => {
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
  const readyAt = (name: string, generation: number): Promise<ClusterObject> =>
    eventually(`cluster ${name} Ready at generation ${generation}`, async () => {
      const c = await read(name);
      const ready = c.status?.conditions?.find((x) => x.type === "Ready");
      return c.status?.observedGeneration === generation && ready?.status === "True" && ready.observedGeneration === generation ? c : undefined;
    }, WAIT_MS);
  const secretValue = async (name: string, key: string): Promise<string> =>
    Buffer.from((await core.readNamespacedSecret({ name, namespace: ns })).data![key]!, "base64").toString("utf8");

  it("makes a 1-instance cluster Ready: primary pod, rw Service on it, app Secret that connects", async () => {
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "PostgresCluster",
        metadata: { name: "orders" },
        spec: { instances: 1, postgresVersion: major, storage: { size: "1Gi" }, parameters: { work_mem: "8MB" }, bootstrap: { database: "shop", owner: "shopper" } },
      },
    });
    const cluster = await readyAt("orders", 1).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator log:\n${lines.slice(-30).join("\n")}`);
    });
    expect(cluster.status).toMatchObject({
      observedGeneration: 1,
      currentPrimary: "orders-1",
      instances: [{ name: "orders-1", role: "primary", ready: true }],
      readWriteService: "orders-rw",
      readOnlyService: "orders-ro",
      secretName: "orders-app",
      port: 5432,
    });

    // The rw Service selects exactly the primary's pod.
    const rw = await core.readNamespacedService({ name: "orders-rw", namespace: ns });
    const selector = Object.entries(rw.spec!.selector!).map(([k, v]) => `${k}=${v}`).join(",");
    const selected = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    expect(selected.items.map((p) => p.metadata!.name)).toEqual(["orders-1"]);
    const pod = selected.items[0]!;
    expect(pod.spec!.containers[0]!.image).toBe(`postgres:${major}`);

    // The generated application credentials connect to the bootstrap database, owned by the owner.
    const password = await secretValue("orders-app", "password");
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await secretValue("orders-app", "uri")).toContain("@orders-rw.clusters.svc:5432/shop");
    const client = new Client({ host: pod.status!.podIP!, port: 5432, user: "shopper", password, database: "shop", connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      const rows = (await client.query("select current_user as u, (select pg_get_userbyid(datdba) from pg_database where datname = current_database()) as owner, current_setting('work_mem') as wm")).rows;
      expect(rows).toEqual([{ u: "shopper", owner: "shopper", wm: "8MB" }]);
    } finally {
      await client.end();
    }
    // Passwords never reach the operator's log.
    expect(lines.join("\n")).not.toContain(password);
    expect(lines.join("\n")).not.toContain(await secretValue("orders-superuser", "password"));

    // Every child is controlled by the cluster.
    for (const list of [
      (await core.listNamespacedPod({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
      (await core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
      (await core.listNamespacedService({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
      (await core.listNamespacedSecret({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
    ] as KubernetesObject[][]) {
      expect(list.length).toBeGreaterThan(0);
      for (const o of list) expect(o.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "orders", uid: cluster.metadata.uid, controller: true });
    }
  });

  it("follows a spec change with observedGeneration (the ro Service turned off goes away)", async () => {
    await objects.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural, name: "orders", body: [{ op: "replace", path: "/spec/services/ro", value: false }] },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    const cluster = await readyAt("orders", 2);
    expect(cluster.status?.readOnlyService).toBeUndefined();
    await eventually("ro Service deleted", async () => (await core.listNamespacedService({ namespace: ns })).items.every((s) => s.metadata?.name !== "orders-ro"), WAIT_MS);
  });

  it("garbage-collects every child when the cluster is deleted", async () => {
    await objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: "orders" });
    await eventually("children deleted", async () => {
      const sel = { namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` };
      const counts = [
        (await core.listNamespacedPod(sel)).items.length,
        (await core.listNamespacedPersistentVolumeClaim(sel)).items.length,
        (await core.listNamespacedService(sel)).items.length,
        (await core.listNamespacedSecret(sel)).items.length,
      ];
      return counts.every((n) => n === 0);
    }, WAIT_MS);
    expect(node!.pid(ns, "orders-1")).toBeUndefined();
  });
});
