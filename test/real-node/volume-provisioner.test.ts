// The real node's volume provisioner (test/support/real-node/volumes.ts) against a real API server
// (etcd + kube-apiserver; no node: it only creates PersistentVolumes): a claim whose volume could
// not be created once — what a loaded API server does now and then (429, a timeout) — must get its
// volume on a later poll, and a create that reached the server but whose answer was lost must
// count as done. Before, the claim was marked seen before the create and never tried again, so one
// transient error left its pod pending for good: a cluster that never became Ready on real pods.
import { CoreV1Api, type V1PersistentVolume } from "@kubernetes/client-node";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTANCE_UID } from "../../sdk/operator/cluster/objects";
import { startControlPlane, toolchainOrSkip, type ControlPlane } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { provisionedVolumeName, provisionVolumes, type ProvisionerApi } from "../support/real-node/volumes";

const tools = toolchainOrSkip(["etcd", "kube-apiserver"]);
const skip = tools.skip ?? (process.getuid?.() === 0 ? undefined : "needs root (volumes are chowned to the instance user)");

describe.skipIf(skip !== undefined)("the real node's volume provisioner", () => {
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;
  let dir: string;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: tools.env });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    dir = mkdtempSync(join(tmpdir(), "setpoint-volumes-"));
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const claim = async (name: string): Promise<string> =>
    (await core.createNamespacedPersistentVolumeClaim({ namespace: "default", body: { metadata: { name }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } })).metadata!.uid!;
  const volume = (uid: string): Promise<V1PersistentVolume | undefined> => core.readPersistentVolume({ name: provisionedVolumeName(uid) }).catch(() => undefined);

  it("retries a claim whose volume could not be created, and counts a create whose answer was lost as done", async () => {
    const errors: string[] = [];
    let refuse = 2; // the first two creates of `failing` fail before reaching the server
    let loseAnswer = 1; // the first create of `lost` reaches the server, its answer is lost
    const failingUid = await claim("failing");
    const lostUid = await claim("lost");
    const api: ProvisionerApi = {
      listNamespacedPersistentVolumeClaim: (p) => core.listNamespacedPersistentVolumeClaim(p),
      createPersistentVolume: async (p) => {
        const uid = p.body.spec?.claimRef?.uid;
        if (uid === failingUid && refuse-- > 0) throw new Error("HTTP-Code: 429 (injected: the API server throttled the request)");
        const created = await core.createPersistentVolume(p);
        if (uid === lostUid && loseAnswer-- > 0) throw new Error("socket hang up (injected: the answer was lost)");
        return created;
      },
    };
    const stop = provisionVolumes(api, dir, "default", (m) => errors.push(m), 50);
    try {
      const [failing, lost] = await eventually("both claims' volumes", async () => {
        const vs = await Promise.all([volume(failingUid), volume(lostUid)]);
        return vs.every((v) => v !== undefined) ? vs : undefined;
      }, 30_000);
      expect(failing!.spec?.claimRef).toMatchObject({ name: "failing", uid: failingUid });
      expect(lost!.spec?.claimRef).toMatchObject({ name: "lost", uid: lostUid });
      expect(statSync(failing!.spec!.hostPath!.path).uid).toBe(INSTANCE_UID);
      // Settled: the claims stay Pending (no binder runs here), yet nothing is retried any more.
      const settledErrors = await eventually("no error for a while", async () => {
        const before = errors.length;
        await new Promise((r) => setTimeout(r, 500));
        return errors.length === before ? errors.length : undefined;
      }, 10_000);
      expect(errors.filter((e) => e.includes("claim failing"))).toHaveLength(2);
      expect(errors.filter((e) => e.includes("claim lost"))).toHaveLength(1);
      expect(settledErrors).toBe(3);
    } finally {
      stop();
    }
  }, 120_000);
});
