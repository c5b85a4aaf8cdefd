// A static volume provisioner for the real node: each pending PersistentVolumeClaim of a namespace
// gets a hostPath volume under the node's run directory (so the node's teardown removes it), owned
// by the instance image's user (hostPath volumes ignore fsGroup) and pre-bound to the claim;
// kube-controller-manager's binder completes the binding. Shared by the real-pod tests and the
// demos' real-node mode, so both provision volumes the one way.
import { CoreV1Api, type V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { INSTANCE_UID } from "../../../sdk/operator/cluster/objects";
import type { RealNode } from "./node";

/**
 * Starts provisioning volumes for the claims of `namespace` (polled every 300 ms); resolves to a
 * function that stops it. Errors are passed to `onError` and retried on the next poll.
 */
export function startVolumeProvisioner(node: RealNode, namespace: string, onError: (message: string) => void = () => undefined): () => void {
  const core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  let stopped = false;
  const seen = new Set<string>();
  void (async () => {
    while (!stopped) {
      try {
        for (const pvc of (await core.listNamespacedPersistentVolumeClaim({ namespace })).items as V1PersistentVolumeClaim[]) {
          const uid = pvc.metadata!.uid!;
          if (pvc.status?.phase === "Bound" || pvc.metadata?.deletionTimestamp || seen.has(uid)) continue;
          seen.add(uid);
          const dir = join(node.dir, "volumes", `${pvc.metadata!.name}-${uid.slice(0, 8)}`);
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          chownSync(dir, INSTANCE_UID, INSTANCE_UID);
          await core.createPersistentVolume({
            body: {
              metadata: { name: `pv-${uid.slice(0, 13)}` },
              spec: {
                capacity: { storage: pvc.spec!.resources!.requests!.storage! },
                accessModes: pvc.spec!.accessModes!,
                persistentVolumeReclaimPolicy: "Retain",
                storageClassName: pvc.spec?.storageClassName ?? "",
                hostPath: { path: dir, type: "Directory" },
                claimRef: { namespace, name: pvc.metadata!.name!, uid },
              },
            },
          });
        }
      } catch (err) {
        onError(`provisioner: ${(err as Error).message}`);
      }
      await sleep(300);
    }
  })();
  return () => {
    stopped = true;
  };
}
