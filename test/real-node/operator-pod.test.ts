// The operator in its own pod on a real node: the objects the Operator component creates (its
// manifests, rendered by the component itself under Pulumi's mock engine and applied through the
// API) run the image built from its recipe (images/recipes.ts), under the Deployment's read-only
// root filesystem and a uid the image's /etc/passwd does not know, and the operator reconciles a
// PostgresSchema through a Service's DNS name. Before the fixes of issue 14 every reconcile failed
// here (EROFS on the dev server's scratch directory; initdb refusing the unknown uid).
import { AppsV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Operator } from "../../components/operator";
import { OPERATOR_IMAGE } from "../../images/recipes";
import { GROUP, KINDS, VERSION, type PostgresSchemaStatus } from "../../sdk/api/index";
import { randomPassword, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { toolchainOrSkip } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { run } from "../support/real-node/host";
import { recipeConfig, recipeRootfs } from "../support/real-node/images";
import { startRealNode, type RealNode } from "../support/real-node/node";
import { majors } from "../support/postgres";

const isRoot = process.getuid?.() === 0;
const toolchain = isRoot
  ? toolchainOrSkip(["etcd", "kube-apiserver", "kube-controller-manager", "kubelet", "kube-proxy", "kube-scheduler", "coredns", "pause"])
  : { skip: "needs root" };
const hasRuntime = run("sh", ["-c", "command -v containerd && command -v runc && command -v debootstrap && test -x /usr/lib/cni/bridge"]).status === 0;
const major = majors().includes(17) ? 17 : majors()[0]!;
const IMAGE = "setpoint-operator:test";

/** The component's Kubernetes objects, as the component declares them (Pulumi's mock engine records its inputs). */
async function operatorManifests(): Promise<KubernetesObject[]> {
  const recorded: pulumi.runtime.MockResourceArgs[] = [];
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        recorded.push(args);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "setpoint",
    "real-node",
    false,
  );
  const operator = new Operator("setpoint", { image: IMAGE, imagePullPolicy: "Never", replicas: 1 });
  await new Promise((resolve) => operator.deploymentName.apply(resolve));
  return recorded
    .filter((r) => r.type.startsWith("kubernetes:"))
    .map((r) => {
      const [, group, kind] = r.type.split(":") as [string, string, string];
      const apiVersion = group.startsWith("core/") ? group.slice("core/".length) : group;
      return { apiVersion, kind, ...(r.inputs as object) } as KubernetesObject;
    });
}

describe.skipIf(toolchain.skip !== undefined || !hasRuntime)("real node: the operator in its pod", () => {
  let node: RealNode | undefined;
  let pg: EmbeddedPostgres | undefined;
  let work: string | undefined;
  const password = randomPassword();

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    work = mkdtempSync(join(node.dir, "operator-image-"));
    recipeRootfs(OPERATOR_IMAGE, join(work, "rootfs"));
    node.importRootfs(join(work, "rootfs"), IMAGE, recipeConfig(OPERATOR_IMAGE));
    rmSync(join(work, "rootfs"), { recursive: true, force: true });
    // The database: a server on the node's address, which pods reach through a Service without a selector.
    const hba = join(work, "pg_hba.conf");
    writeFileSync(hba, `local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ${node.podCidr} scram-sha-256\n`);
    chmodSync(work, 0o755);
    chmodSync(hba, 0o644);
    pg = await startEmbeddedPostgres({ major, password, parameters: { listen_addresses: `127.0.0.1,${node.nodeIp}`, hba_file: hba } });
  }, 1_500_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    await pg?.stop({ immediate: true });
    await node?.stop();
  }, 180_000);

  it("runs the Operator component's Deployment and reconciles a PostgresSchema from its pod", async () => {
    const kc = node!.controlPlane.kubeConfig;
    const client = KubernetesObjectApi.makeApiClient(kc);
    const manifests = await operatorManifests();
    // CRDs first; the rest once they are served.
    for (const m of manifests.filter((o) => o.kind === "CustomResourceDefinition")) await client.create(m);
    await eventually("CRDs served", async () => (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: "default", plural: KINDS.PostgresSchema.plural })) !== undefined);
    for (const m of manifests.filter((o) => o.kind !== "CustomResourceDefinition")) await client.create(m);
    const apps = kc.makeApiClient(AppsV1Api);
    await eventually(
      "the operator Deployment available",
      async () => ((await apps.readNamespacedDeployment({ name: "setpoint-operator", namespace: "setpoint-system" })).status?.availableReplicas ?? 0) >= 1,
      300_000,
      1000,
    );

    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedService({ namespace: "default", body: { metadata: { name: "db" }, spec: { ports: [{ name: "postgres", port: 5432, targetPort: pg!.port }] } } });
    await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
      namespace: "default",
      body: {
        metadata: { name: "db-1", labels: { "kubernetes.io/service-name": "db" } },
        addressType: "IPv4",
        endpoints: [{ addresses: [node!.nodeIp] }],
        ports: [{ name: "postgres", port: pg!.port, protocol: "TCP" }],
      },
    });
    await core.createNamespacedSecret({
      namespace: "default",
      body: { metadata: { name: "db" }, stringData: { uri: `postgres://postgres:${encodeURIComponent(password)}@db.default.svc.cluster.local:5432/postgres` } },
    });
    const objects = kc.makeApiClient(CustomObjectsApi);
    const plural = KINDS.PostgresSchema.plural;
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: "default",
      plural,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "PostgresSchema",
        metadata: { name: "app" },
        spec: { connection: { secretRef: { name: "db" } }, desired: { sql: "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);" } },
      },
    });
    type Obj = { metadata: { generation: number }; status?: PostgresSchemaStatus };
    const ready = await eventually(
      "PostgresSchema Ready",
      async () => {
        const o = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: "default", plural, name: "app" })) as Obj;
        const r = o.status?.conditions?.find((c) => c.type === "Ready");
        if (r?.status !== "True") throw new Error(`Ready: ${JSON.stringify(r)}`);
        return o;
      },
      300_000,
      1000,
    ).catch(async (err: unknown) => {
      const pods = await core.listNamespacedPod({ namespace: "setpoint-system" });
      const name = pods.items[0]?.metadata?.name;
      const log = name ? await core.readNamespacedPodLog({ name, namespace: "setpoint-system" }).catch((e: unknown) => String(e)) : "(no pod)";
      throw new Error(`${(err as Error).message}\noperator log:\n${String(log).slice(-3000)}\nkubelet:\n${node!.logTail("kubelet")}`);
    });
    expect(ready.status?.observedGeneration).toBe(ready.metadata.generation);
    const c = new Client({ connectionString: pg!.url() });
    await c.connect();
    try {
      expect((await c.query("select 1 from pg_tables where tablename = 'accounts'")).rowCount).toBe(1);
    } finally {
      await c.end();
    }
  }, 900_000);
});
