// The common ground of the PostgresCluster integration tests (test/cluster/*): a real API server
// (with kube-controller-manager's garbage collector and PVC protection unless told otherwise),
// the CRDs, the node harness running real PostgreSQL, one namespace and the operator watching
// it, started before a file's tests and stopped after them; and helpers to read a cluster, wait
// for it, reach its pods over SQL and write through its rw Service.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig } from "./cluster-tls";
import { afterAll, beforeAll } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../sdk/operator/main";
import type { LogFields, Logger } from "../../sdk/reconcile/index";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import { installCrds, startControlPlane, toolchainOrSkip, type ControlPlane } from "./control-plane";
import { createCustomObject } from "./custom-objects";
import { eventually } from "./eventually";
import { startNodeHarness, type NodeHarness } from "./node/harness";
import { majors } from "./postgres";
import { startWriter, type Writer } from "./writer";

/** The binaries these tests need; `skip` says why they cannot run here. */
export const clusterToolchain = toolchainOrSkip(["etcd", "kube-apiserver", "kube-controller-manager"]);
/** The PostgreSQL major the clusters run: 17, or the highest packaged one. */
export const clusterMajor = majors().includes(17) ? 17 : majors()[0]!;

const plural = KINDS.PostgresCluster.plural;
const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** A PostgresCluster as read from the API server. */
export interface ClusterObject {
  metadata: { name: string; generation?: number; uid?: string; annotations?: Record<string, string> };
  status?: PostgresClusterStatus;
}

/** A logger that keeps info and error lines (timestamped) in `lines`, for assertions and a failing test's message. */
export function recorder(lines: string[]): Logger {
  const push = (level: string) => (message: string, fields?: LogFields) => lines.push(`${new Date().toISOString()} ${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const make = (base: LogFields): Logger => ({
    debug: () => undefined,
    info: (m, f) => push("info")(m, { ...base, ...f }),
    error: (m, f) => push("error")(m, { ...base, ...f }),
    child: (f) => make({ ...base, ...f }),
  });
  return make({});
}

/** Options of {@link useCluster}. */
export interface ClusterTestOptions {
  /** The namespace the clusters live in and the operator watches. */
  readonly namespace: string;
  /** Longest wait of {@link ClusterTest.readyAt} and {@link ClusterTest.settled}. */
  readonly waitMs: number;
  /** kube-controller-manager controllers. @default ["garbagecollector", "pvc-protection"] */
  readonly controllers?: string[];
  /** Runs once the CRDs are installed, before the node harness starts (e.g. creates a StorageClass). */
  readonly prepare?: (kubeConfig: KubeConfig) => Promise<void>;
  /** More options of every operator the file starts (e.g. test seams). */
  readonly operator?: Partial<OperatorOptions>;
}

/** What {@link useCluster} gives a test file; the API clients and processes exist once its beforeAll ran. */
export interface ClusterTest {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly objects: CustomObjectsApi;
  readonly node: NodeHarness;
  /** The operator's log lines, oldest first (kept across operator restarts). */
  readonly lines: string[];
  /** Starts the operator on the namespace (beforeAll does; after {@link stopOperator}, a new one). */
  startOperator(): Promise<void>;
  stopOperator(): Promise<void>;
  /** Creates a PostgresCluster of `spec` over defaults (the major under test, 1Gi of storage). */
  create(name: string, spec: object): Promise<unknown>;
  read(name: string): Promise<ClusterObject>;
  /** Patches a PostgresCluster: a JSON patch (a list of operations) or a merge patch (an object). */
  patch(name: string, body: object): Promise<unknown>;
  remove(name: string): Promise<unknown>;
  /** Ready, and `observedGeneration` of both the cluster and its Ready condition at `generation`. */
  readyAt(name: string, generation: number): Promise<ClusterObject>;
  /**
   * Ready and nothing in progress (every wanted instance present and streaming) at `generation`,
   * and `extra` holds; a timeout's message ends with the operator's last 40 log lines.
   */
  settled(name: string, generation: number, extra?: (c: ClusterObject) => boolean): Promise<ClusterObject>;
  secretValue(name: string, key: string): Promise<string>;
  pod(name: string): Promise<V1Pod>;
  podIp(name: string): Promise<string>;
  /** Names of the pods a Service's selector picks, sorted. */
  selectedPods(service: string): Promise<string[]>;
  /** Runs `sql` as the cluster's superuser on the server at `host`. */
  query<T extends object>(cluster: string, host: string, sql: string, params?: unknown[]): Promise<T[]>;
  /** A writer of `(id, note)` rows into `acked` through the pod the cluster's rw Service selects at each connection, as the superuser. */
  startWriter(cluster: string, password: string, firstId?: number): Writer;
}

/** Registers the file's beforeAll (control plane, CRDs, node harness, namespace, operator) and afterAll. */
export function useCluster(options: ClusterTestOptions): ClusterTest {
  const namespace = options.namespace;
  let cp: ControlPlane | undefined;
  let node: NodeHarness | undefined;
  let operator: RunningOperator | undefined;
  let core: CoreV1Api | undefined;
  let objects: CustomObjectsApi | undefined;
  const lines: string[] = [];
  const started = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`${what}: not started (beforeAll has not run)`);
    return value;
  };

  const t: ClusterTest = {
    get kubeConfig() {
      return started("control plane", cp).kubeConfig;
    },
    get core() {
      return started("CoreV1Api", core);
    },
    get objects() {
      return started("CustomObjectsApi", objects);
    },
    get node() {
      return started("node harness", node);
    },
    lines,
    startOperator: async () => {
      operator = await startOperator({ kubeconfig: t.kubeConfig, namespace, metricsPort: 0, metricsHost: "127.0.0.1", logger: recorder(lines), metrics: new MetricsRegistry(), ...options.operator });
    },
    stopOperator: async () => {
      await operator?.stop();
    },
    create: (name, spec) => createCustomObject(t.objects, namespace, "PostgresCluster", name, { postgresVersion: clusterMajor, storage: { size: "1Gi" }, ...spec }),
    read: async (name) => (await t.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name })) as ClusterObject,
    patch: (name, body) => t.objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name, body }, Array.isArray(body) ? JSON_PATCH : MERGE_PATCH),
    remove: (name) => t.objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name }),
    readyAt: (name, generation) =>
      eventually(`cluster ${name} Ready at generation ${generation}`, async () => {
        const c = await t.read(name);
        const ready = c.status?.conditions?.find((x) => x.type === "Ready");
        return c.status?.observedGeneration === generation && ready?.status === "True" && ready.observedGeneration === generation ? c : undefined;
      }, options.waitMs),
    settled: (name, generation, extra = () => true) =>
      eventually(`cluster ${name} Ready and settled at generation ${generation}`, async () => {
        const c = await t.read(name);
        const ready = c.status?.conditions?.find((x) => x.type === "Ready");
        const progressing = c.status?.conditions?.find((x) => x.type === "Progressing");
        return c.status?.observedGeneration === generation && ready?.status === "True" && progressing?.status === "False" && progressing.observedGeneration === generation && extra(c) ? c : undefined;
      }, options.waitMs).catch((err: unknown) => {
        throw new Error(`${String(err)}\noperator log:\n${lines.slice(-40).join("\n")}`);
      }),
    secretValue: async (name, key) => Buffer.from((await t.core.readNamespacedSecret({ name, namespace })).data![key]!, "base64").toString("utf8"),
    pod: (name) => t.core.readNamespacedPod({ name, namespace }),
    podIp: async (name) => (await t.pod(name)).status!.podIP!,
    selectedPods: async (service) => {
      const svc = await t.core.readNamespacedService({ name: service, namespace });
      const selector = Object.entries(svc.spec!.selector!).map(([k, v]) => `${k}=${v}`).join(",");
      return (await t.core.listNamespacedPod({ namespace, labelSelector: selector })).items.map((p) => p.metadata!.name!).sort();
    },
    query: async <T extends object>(cluster: string, host: string, sql: string, params: unknown[] = []): Promise<T[]> => {
      const client = pgClient(await clusterClientConfig(t.core, namespace, cluster, { host, password: await t.secretValue(`${cluster}-superuser`, "password") }));
      await client.connect();
      try {
        return (await client.query<T>(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    startWriter: (cluster, password, firstId = 1) =>
      startWriter(
        async () => {
          const [p] = await t.selectedPods(`${cluster}-rw`);
          if (!p) throw new Error("rw selects no pod");
          return clusterClientConfig(t.core, namespace, cluster, { host: await t.podIp(p), password });
        },
        "acked",
        firstId,
      ),
  };

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: clusterToolchain.env!, controllers: options.controllers ?? ["garbagecollector", "pvc-protection"] });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    await installCrds(cp.kubeConfig, crdManifests());
    await options.prepare?.(cp.kubeConfig);
    node = await startNodeHarness({ kubeConfig: cp.kubeConfig });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await t.startOperator();
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    await node?.stop();
    await cp?.stop();
  }, 120_000);

  return t;
}
