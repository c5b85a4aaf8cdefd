// The Kubernetes half of the toolchain: a real etcd + kube-apiserver, a CRD with a status
// subresource, and the generation semantics the operator's observedGeneration relies on.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlane, CrdManifest } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);

const group = "setpoint.dev";
const version = "v1alpha1";
const plural = "postgresclusters";
const namespace = "default";

const crd: CrdManifest = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: "Namespaced",
    names: { plural, singular: "postgrescluster", kind: "PostgresCluster", listKind: "PostgresClusterList" },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["instances", "postgresVersion"],
                properties: {
                  instances: { type: "integer", minimum: 1 },
                  postgresVersion: { type: "integer" },
                  parameters: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
              status: {
                type: "object",
                properties: {
                  observedGeneration: { type: "integer", format: "int64" },
                  conditions: {
                    type: "array",
                    items: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

interface PostgresClusterObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; generation?: number; resourceVersion?: string };
  spec: { instances: number; postgresVersion: number; parameters?: Record<string, string> };
  status?: { observedGeneration?: number; conditions?: Array<Record<string, unknown>> };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

describe.skipIf(toolchain.skip !== undefined)("toolchain: etcd + kube-apiserver", () => {
  let cp: ControlPlane | undefined;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env });
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it("serves a CRD whose status subresource leaves metadata.generation alone", async () => {
    await installCrds(cp!.kubeconfigPath, [crd]);
    const api = cp!.kubeConfig.makeApiClient(CustomObjectsApi);
    const name = "orders";
    const ref = { group, version, namespace, plural, name };

    await api.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      body: {
        apiVersion: `${group}/${version}`,
        kind: "PostgresCluster",
        metadata: { name },
        spec: { instances: 1, postgresVersion: 17, parameters: { work_mem: "8MB" } },
      },
    });
    const created = (await api.getNamespacedCustomObject(ref)) as PostgresClusterObject;
    expect(created.spec).toEqual({ instances: 1, postgresVersion: 17, parameters: { work_mem: "8MB" } });
    expect(created.metadata.generation).toBe(1);

    const ready = { type: "Ready", status: "True", reason: "Converged", observedGeneration: 1 };
    const withStatus = (await api.replaceNamespacedCustomObjectStatus({
      ...ref,
      body: { ...created, status: { observedGeneration: 1, conditions: [ready] } },
    })) as PostgresClusterObject;
    expect(withStatus.status?.conditions).toEqual([ready]);
    expect(withStatus.metadata.generation).toBe(1);

    // The status subresource ignores spec changes, and the main resource ignores status.
    const sneaky = (await api.replaceNamespacedCustomObjectStatus({
      ...ref,
      body: { ...withStatus, spec: { ...withStatus.spec, instances: 9 }, status: { observedGeneration: 1 } },
    })) as PostgresClusterObject;
    expect(sneaky.spec.instances).toBe(1);
    expect(sneaky.metadata.generation).toBe(1);

    const scaled = (await api.replaceNamespacedCustomObject({
      ...ref,
      body: { ...sneaky, spec: { ...sneaky.spec, instances: 3 }, status: { observedGeneration: 99 } },
    })) as PostgresClusterObject;
    expect(scaled.metadata.generation).toBe(2);
    expect(scaled.spec.instances).toBe(3);
    expect(scaled.status?.observedGeneration).toBe(1);
  });

  it("stop() terminates both servers and is idempotent", async () => {
    const { etcd, apiserver } = cp!.pids;
    await cp!.stop();
    await cp!.stop();
    expect(alive(etcd), "etcd still running").toBe(false);
    expect(alive(apiserver), "kube-apiserver still running").toBe(false);
  });
});

describe.skipIf(toolchain.skip !== undefined)("toolchain: kube-controller-manager (garbage collector, namespaces)", () => {
  let cp: ControlPlane | undefined;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env, controllers: ["garbagecollector", "namespace"] });
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  });

  /** Polls until `read` rejects with 404. */
  async function gone(read: () => Promise<unknown>, what: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        await read();
      } catch (err) {
        if ((err as { code?: number }).code === 404) return;
        throw err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what} still exists after 60 s`);
  }

  it("completes foreground deletion of an owner and its dependent", async () => {
    const core = cp!.kubeConfig.makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "owner" } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: "dependent",
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid!, blockOwnerDeletion: true }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: "owner", namespace, body: { propagationPolicy: "Foreground" } });
    await gone(() => core.readNamespacedConfigMap({ name: "dependent", namespace }), "dependent");
    await gone(() => core.readNamespacedConfigMap({ name: "owner", namespace }), "owner");
  });

  it("finishes deleting a namespace with objects in it", async () => {
    const core = cp!.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "content" } } });
    await core.deleteNamespace({ name: "doomed" });
    await gone(() => core.readNamespace({ name: "doomed" }), "namespace doomed");
  });

  it("stop() also terminates the controller-manager", async () => {
    const { controllerManager } = cp!.pids;
    expect(controllerManager).toBeDefined();
    await cp!.stop();
    expect(alive(controllerManager!), "kube-controller-manager still running").toBe(false);
  });
});
