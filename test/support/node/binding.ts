// What the scheduler does for the stand-in nodes: binds a pod to the node (one Binding object).
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";

/** Binds `pod` to `nodeName`, as kube-scheduler's Binding does. */
export function bindPod(core: CoreV1Api, pod: V1Pod, nodeName: string): Promise<unknown> {
  const name = pod.metadata!.name!;
  return core.createNamespacedPodBinding({
    name,
    namespace: pod.metadata!.namespace!,
    body: { apiVersion: "v1", kind: "Binding", metadata: { name, uid: pod.metadata!.uid }, target: { apiVersion: "v1", kind: "Node", name: nodeName } },
  });
}
