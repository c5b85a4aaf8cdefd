// The PostgresCluster component through the real Pulumi engine and a real API server, with the
// test playing the operator: `pulumi up` must wait until the status says Ready for the
// generation it wrote, and then output the endpoints.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, VERSION, crdManifests } from "../../sdk/api/index";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import type { PulumiProject } from "../support/pulumi";
import { prComment, previewDocument } from "../support/pr-comment";
import { createPulumiProject, errorsOf, requireTypeScriptPrelude, summaryOf } from "../support/pulumi";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"]);
const namespace = "default";

/** A program with one PostgresCluster; `readyTimeout` and the name come from the environment. */
const PROGRAM = `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { PostgresCluster } = require(REPO + "/components/postgres-cluster.ts");

const kubeconfig = pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8"));
const provider = new k8s.Provider("harness", { kubeconfig });
const cluster = new PostgresCluster(process.env.SETPOINT_TEST_CLUSTER, {
  namespace: "${namespace}",
  postgresVersion: 17,
  instances: new pulumi.Config().getNumber("instances") ?? 2,
  storage: { size: "1Gi" },
  readyTimeout: process.env.SETPOINT_TEST_READY_TIMEOUT,
  kubeconfig,
}, { providers: [provider] });
exports.readWriteHost = cluster.readWriteHost;
exports.readOnlyHost = cluster.readOnlyHost;
exports.port = cluster.port;
exports.secretName = cluster.secretName;
`;

interface ClusterObject {
  metadata: { name: string; generation: number };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

describe.skipIf(toolchain.skip !== undefined)("PostgresCluster component (real engine, test as operator)", () => {
  let cp: ControlPlane | undefined;
  const projects: PulumiProject[] = [];
  let api: CustomObjectsApi;
  const ref = { group: GROUP, version: VERSION, namespace, plural: "postgresclusters" };

  const project = async (cluster: string, readyTimeout: string): Promise<PulumiProject> => {
    const p = await createPulumiProject({
      toolchain: toolchain.env!,
      name: `cluster-e2e-${cluster}`,
      files: { "index.js": PROGRAM },
      env: { SETPOINT_TEST_KUBECONFIG: cp!.kubeconfigPath, SETPOINT_TEST_CLUSTER: cluster, SETPOINT_TEST_READY_TIMEOUT: readyTimeout },
    });
    projects.push(p);
    return p;
  };

  /** Waits until the component has created the custom resource. */
  const created = async (name: string, timeoutMs = 120_000): Promise<ClusterObject> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return (await api.getNamespacedCustomObject({ ...ref, name })) as ClusterObject;
      } catch (err) {
        if ((err as { code?: number }).code !== 404 || Date.now() > deadline) throw err;
      }
      await sleep(250);
    }
  };

  const writeStatus = async (obj: ClusterObject, status: Record<string, unknown>): Promise<void> => {
    const live = (await api.getNamespacedCustomObject({ ...ref, name: obj.metadata.name })) as ClusterObject;
    await api.replaceNamespacedCustomObjectStatus({ ...ref, name: obj.metadata.name, body: { ...live, status } });
  };

  const readyCondition = (generation: number) => ({
    type: "Ready",
    status: "True",
    reason: "ClusterHealthy",
    message: "2/2 instances ready",
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    observedGeneration: generation,
  });

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env });
    await installCrds(cp.kubeConfig, crdManifests());
    api = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  }, 180_000);

  afterAll(async () => {
    for (const p of projects) p.cleanup();
    await cp?.stop();
  });

  it("waits for Ready at the current generation, then outputs host, port and secret", async () => {
    const p = await project("orders", "3m");
    let finished = false;
    const up = p.up().finally(() => (finished = true));
    up.catch(() => undefined); // observed below; keeps an early failure from being unhandled

    const obj = await created("orders");
    expect(obj.metadata.generation).toBe(1);
    expect(obj.spec).toMatchObject({ instances: 2, postgresVersion: 17, storage: { size: "1Gi" } });

    // Progressing, then a Ready left over from an older generation: neither may end the wait.
    await writeStatus(obj, {
      observedGeneration: 1,
      conditions: [{ ...readyCondition(1), status: "False", reason: "InstancesStarting", message: "0/2 instances ready" }],
    });
    await writeStatus(obj, { observedGeneration: 0, conditions: [readyCondition(0)] });
    await sleep(4000);
    expect(finished, "pulumi up finished before the cluster was Ready").toBe(false);

    await writeStatus(obj, {
      observedGeneration: 1,
      conditions: [readyCondition(1)],
      readWriteService: "orders-rw",
      readOnlyService: "orders-ro",
      port: 5432,
      secretName: "orders-credentials",
    });
    const events = await up;
    expect(summaryOf(events), errorsOf(events)).toMatchObject({ result: "succeeded", resourceChanges: { create: 4 } });
    expect(await p.outputs()).toEqual({
      readWriteHost: "orders-rw.default.svc",
      readOnlyHost: "orders-ro.default.svc",
      port: 5432,
      secretName: "orders-credentials",
    });
    // The kubeconfig is used to wait, never stored in plain text.
    const kubeconfig = JSON.parse(readFileSync(cp!.kubeconfigPath, "utf8")) as { users: Array<{ user: Record<string, string> }> };
    const clientKey = kubeconfig.users[0]!.user["client-key-data"]!;
    expect(clientKey.length).toBeGreaterThan(100);
    expect(await p.pulumi("stack", "export")).not.toContain(clientKey.slice(0, 64));

    // Nothing changed: the second up neither rewrites the resource nor waits for a new generation.
    const second = await p.up();
    expect(summaryOf(second), errorsOf(second)).toMatchObject({ result: "succeeded", resourceChanges: { same: 4 } });

    // A spec change as a pull request shows it: the real preview's JSON, summarized by pr-comment.
    await p.pulumi("config", "set", "instances", "3");
    const markdown = await prComment(previewDocument(await p.pulumi("preview", "--json")));
    expect(markdown).toMatch(/### PostgresCluster `[^`]+`: update/);
    expect(markdown).toContain("| `spec.instances` | `2` | `3` |");
    expect(markdown).not.toContain("spec.postgresVersion");
  }, 400_000);

  it("fails after readyTimeout with the last Ready condition in the message", async () => {
    const p = await project("stuck", "6s");
    const up = p.up();
    up.catch(() => undefined);
    const obj = await created("stuck");
    await writeStatus(obj, {
      observedGeneration: 1,
      conditions: [{ ...readyCondition(1), status: "False", reason: "ImagePullBackOff", message: "cannot pull image" }],
    });
    await expect(up).rejects.toThrow(/PostgresCluster default\/stuck not Ready for generation 1 after 6s: Ready=False \(ImagePullBackOff: cannot pull image\)/);
  }, 300_000);
});
