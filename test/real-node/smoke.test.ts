// The real-pod tier's first proof: a real node (containerd + runc + kubelet + kube-proxy +
// kube-scheduler + CoreDNS) joins the test control plane, the scheduler binds a pod to it, the
// kubelet runs it in a container on the harness's bridge, and it becomes Ready; a killed
// container is restarted; teardown leaves no process, mount, interface, iptables rule, cgroup or
// kernel setting behind.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually";
import { realNodeToolchain } from "../support/real-node/gate";
import { run } from "../support/real-node/host";
import { PAUSE_IMAGE, startRealNode, type RealNode } from "../support/real-node/node";

const toolchain = realNodeToolchain();

describe.skipIf(toolchain.skip !== undefined)("real node: a pod on containerd + kubelet", () => {
  let node: RealNode | undefined;
  let core: CoreV1Api;

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  }, 1_200_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    await node?.stop();
  }, 120_000);

  const pod = (name: string): V1Pod => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: [{ name: "main", image: PAUSE_IMAGE, imagePullPolicy: "Never" }],
    },
  });

  it("schedules, runs and readies a pod on the harness's bridge", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("smoke") });
    const ready = await eventually(
      "pod Ready",
      async () => {
        const p = await core.readNamespacedPod({ name: "smoke", namespace: "default" });
        return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
      },
      120_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nkubelet:\n${node!.logTail("kubelet")}\ncontainerd:\n${node!.logTail("containerd")}`);
    });
    expect(ready.spec?.nodeName).toBe(node!.nodeName);
    expect(ready.status?.phase).toBe("Running");
    const [prefix] = node!.podCidr.split(".0/");
    expect(ready.status?.podIP?.startsWith(`${prefix}.`)).toBe(true);
    expect(ready.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  }, 180_000);

  it("restarts a killed container (restartCount 1)", async () => {
    const before = await core.readNamespacedPod({ name: "smoke", namespace: "default" });
    const containerId = before.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    const killed = run("ctr", ["--address", node!.containerdSocket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", containerId]);
    expect(killed.status, killed.out).toBe(0);
    await eventually(
      "restartCount 1 and Ready again",
      async () => {
        const p = await core.readNamespacedPod({ name: "smoke", namespace: "default" });
        return p.status?.containerStatuses?.[0]?.restartCount === 1 && p.status.containerStatuses[0].ready;
      },
      120_000,
      500,
    );
  }, 180_000);

  it("leaves nothing behind after stop", async () => {
    await node!.stop();
    expect(node!.leftovers()).toEqual([]);
  }, 120_000);
});
