import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { PostgresClusterStatus } from "../../api/postgres-cluster";
import { retirement, servedBy, servedClustersOf, servedStatus } from "./served";

const now = new Date("2026-12-06T18:00:00Z");
const upgrade = { name: "shop-to-17", green: "shop-v17", from: 16, to: 17, phase: "finalized" };
const pod = (name: string, deleting = false): V1Pod => ({ metadata: { name, ...(deleting ? { deletionTimestamp: now } : {}) } });
const claim = (name: string, deleting = false): V1PersistentVolumeClaim => ({ metadata: { name, ...(deleting ? { deletionTimestamp: now } : {}) } });
const greenWith = (ready: "True" | "False", reason = "Ready"): { status: PostgresClusterStatus } => ({
  status: { currentPrimary: "shop-v17-2", conditions: [{ type: "Ready", status: ready, reason, message: ready === "True" ? "ok" : "instance shop-v17-2: connection refused", lastTransitionTime: now.toISOString() }] },
});
const cond = (s: PostgresClusterStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe("servedBy", () => {
  it("is the cluster's own upgrade once finalized, and only then", () => {
    expect(servedBy({ upgrade })).toEqual(upgrade);
    for (const phase of ["synchronized", "switched", "rolled-back", "aborted"]) expect(servedBy({ upgrade: { ...upgrade, phase } })).toBeUndefined();
    expect(servedBy(undefined)).toBeUndefined();
  });
});

describe("retirement", () => {
  it("deletes what is not being deleted yet, and is done only when nothing of the instances is left", () => {
    expect(retirement([pod("shop-2"), pod("shop-1", true)], [claim("shop-1"), claim("shop-2")])).toEqual({
      deletePods: ["shop-2"],
      deleteClaims: ["shop-1", "shop-2"],
      remaining: ["pod shop-1", "pod shop-2", "claim shop-1", "claim shop-2"],
    });
    expect(retirement([], [claim("shop-1", true)])).toEqual({ deletePods: [], deleteClaims: [], remaining: ["claim shop-1"] });
    expect(retirement([], [])).toEqual({ deletePods: [], deleteClaims: [], remaining: [] });
  });
});

describe("servedStatus", () => {
  const previous: PostgresClusterStatus = {
    currentPrimary: "shop-1",
    instances: [{ name: "shop-1", role: "primary", ready: true }],
    postgresVersion: 17,
    effectiveParameters: { work_mem: "4MB" },
    secretName: "shop-app",
    upgrade,
  };

  it("is Ready as green is, with green's primary and none of its own instances; Progressing until the old ones are gone", () => {
    const retiring = servedStatus(previous, { upgrade, green: greenWith("True"), remaining: ["pod shop-1"], wantedMajor: 17 }, 7, now);
    expect(retiring).toMatchObject({ currentPrimary: "shop-v17-2", instances: [], postgresVersion: 17, secretName: "shop-app", observedGeneration: 7, upgrade });
    expect(retiring.effectiveParameters).toBeUndefined(); // the removed instances' settings are not reported as current
    expect(cond(retiring, "Ready")).toMatchObject({ status: "True", reason: "ServedByUpgrade", message: expect.stringContaining("shop-v17 (PostgreSQL 17) serves this cluster's names") });
    expect(cond(retiring, "Progressing")).toMatchObject({ status: "True", reason: "RetiringInstances", message: expect.stringContaining("pod shop-1") });
    const done = servedStatus(retiring, { upgrade, green: greenWith("True"), remaining: [], wantedMajor: 17 }, 7, now);
    expect(cond(done, "Progressing")).toMatchObject({ status: "False", reason: "ServedByUpgrade" });
    expect(cond(done, "Degraded")).toMatchObject({ status: "False" });
  });

  it("is not Ready when green is not, or is gone, and says why", () => {
    const down = servedStatus(previous, { upgrade, green: greenWith("False", "PrimaryNotReady"), remaining: [], wantedMajor: 17 }, 7, now);
    expect(cond(down, "Ready")).toMatchObject({ status: "False", reason: "ServingClusterNotReady", message: expect.stringContaining("PrimaryNotReady: instance shop-v17-2: connection refused") });
    expect(cond(down, "Degraded")?.status).toBe("True");
    const gone = servedStatus(previous, { upgrade, green: undefined, remaining: [], wantedMajor: 17 }, 7, now);
    expect(cond(gone, "Ready")).toMatchObject({ status: "False", reason: "ServingClusterMissing" });
    expect(gone.currentPrimary).toBe("shop-1"); // nothing better to report
  });

  it("refuses another major in the spec with the fix, and keeps serving", () => {
    const s = servedStatus(previous, { upgrade, green: greenWith("True"), remaining: [], wantedMajor: 18 }, 8, now);
    expect(cond(s, "Degraded")).toMatchObject({ status: "True", reason: "ServedByUpgrade", message: expect.stringMatching(/spec\.postgresVersion 18 was not acted on.*Set spec\.postgresVersion back to 17; a further major upgrade is made on shop-v17/) });
    expect(cond(s, "Ready")?.status).toBe("True");
  });
});

describe("servedClustersOf", () => {
  it("maps a green to the clusters it serves in its namespace, and nothing else to anything", () => {
    const clusters = [
      { metadata: { name: "shop", namespace: "prod" }, status: { upgrade } },
      { metadata: { name: "shop", namespace: "dev" }, status: { upgrade } },
      { metadata: { name: "cart", namespace: "prod" }, status: { upgrade: { ...upgrade, name: "cart-to-17", green: "shop-v17", phase: "switched" } } },
      { metadata: { name: "shop-v17", namespace: "prod" }, status: {} },
    ];
    expect(servedClustersOf(clusters, { metadata: { name: "shop-v17", namespace: "prod" } })).toEqual([{ namespace: "prod", name: "shop" }]);
    expect(servedClustersOf(clusters, { metadata: { name: "shop", namespace: "prod" } })).toEqual([]);
  });
});
