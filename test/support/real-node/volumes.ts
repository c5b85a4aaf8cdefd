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
import { apiStatusCode } from "../../../sdk/reconcile/internal/api-error";
import type { RealNode } from "./node";

/** The calls the provisioner makes. */
export type ProvisionerApi = Pick<CoreV1Api, "listNamespacedPersistentVolumeClaim" | "createPersistentVolume">;

/** The name of the volume provisioned for the claim `uid` (one per claim: a retry finds its own). */
export const provisionedVolumeName = (uid: string): string => `pv-${uid.slice(0, 13)}`;

/**
 * Starts provisioning volumes for the claims of `namespace` on `node` (see {@link provisionVolumes});
 * resolves to a function that stops it.
 */
export function startVolumeProvisioner(node: RealNode, namespace: string, onError: (message: string) => void = () => undefined): () => void {
  return provisionVolumes(node.controlPlane.kubeConfig.makeApiClient(CoreV1Api), join(node.dir, "volumes"), namespace, onError);
}

/**
 * Polls the claims of `namespace` every `intervalMs` and creates a volume (a directory under
 * `volumesDir`) for each one not bound yet. A claim counts as provisioned only once its volume
 * exists (created now, or found by its name: a create whose answer was lost); any failure on the
 * way — the API server throttling (429) or timing out on a loaded machine — is passed to
 * `onError` and the claim is tried again on the next poll, so one transient error never leaves a
 * claim (and its pod) pending for good. Returns a function that stops it.
 */
export function provisionVolumes(core: ProvisionerApi, volumesDir: string, namespace: string, onError: (message: string) => void = () => undefined, intervalMs = 300): () => void {
  let stopped = false;
  const provisioned = new Set<string>();
  const provision = async (pvc: V1PersistentVolumeClaim): Promise<void> => {
    const uid = pvc.metadata!.uid!;
    const dir = join(volumesDir, `${pvc.metadata!.name}-${uid.slice(0, 8)}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, INSTANCE_UID, INSTANCE_UID);
    try {
      await core.createPersistentVolume({
        body: {
          metadata: { name: provisionedVolumeName(uid) },
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
    } catch (err) {
      // Already there: an earlier create reached the server but its answer did not reach us.
      if (apiStatusCode(err) !== 409) throw err;
    }
    provisioned.add(uid);
  };
  void (async () => {
    while (!stopped) {
      try {
        for (const pvc of (await core.listNamespacedPersistentVolumeClaim({ namespace })).items) {
          if (pvc.status?.phase === "Bound" || pvc.metadata?.deletionTimestamp || provisioned.has(pvc.metadata!.uid!)) continue;
          await provision(pvc).catch((err: unknown) => onError(`provisioner: claim ${pvc.metadata!.name}: ${(err as Error).message}; retried on the next poll`));
        }
      } catch (err) {
        onError(`provisioner: ${(err as Error).message}`);
      }
      await sleep(intervalMs);
    }
  })();
  return () => {
    stopped = true;
  };
}
