import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parsePostgresClusterSpec } from "../../api/parse";
import type { PostgresClusterStatus } from "../../api/postgres-cluster";
import { decideMajor, majorUpgradeObject, runningMajor, servingMajor, UPGRADE_APPROVED_ANNOTATION, withMajorUpgrade } from "./major-upgrade";

const spec = (extra: object = {}) => parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "1Gi" }, ...extra });
const pod = (major: string): V1Pod => ({ spec: { containers: [{ name: "postgres", env: [{ name: "SETPOINT_POSTGRES_MAJOR", value: major }] }] } });
const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "shop", namespace: "ns", uid: "u1" } };

describe("runningMajor", () => {
  it("reads the upgrade's source, then status, then an instance pod's environment", () => {
    expect(runningMajor({ postgresVersion: 17, upgrade: { name: "x", green: "g", from: 16, to: 17, phase: "switched" } }, [])).toBe(16);
    expect(runningMajor({ postgresVersion: 15 }, [pod("16")])).toBe(15);
    expect(runningMajor(undefined, [pod("16")])).toBe(16);
    expect(runningMajor(undefined, [])).toBeUndefined();
  });
});

describe("decideMajor", () => {
  const decide = (o: { spec?: ReturnType<typeof spec>; running?: number; status?: PostgresClusterStatus; annotations?: Record<string, string> }) =>
    decideMajor({ cluster: "shop", spec: o.spec ?? spec(), running: o.running, status: o.status, annotations: o.annotations ?? {} });

  it("a new cluster or an unchanged major is left alone", () => {
    expect(decide({ running: undefined })).toEqual({ kind: "same", running: 17 });
    expect(decide({ running: 17 })).toEqual({ kind: "same", running: 17 });
  });
  it("a raise becomes an upgrade to a green sibling, straight through when unsupervised", () => {
    expect(decide({ running: 16 })).toEqual({ kind: "upgrade", from: 16, to: 17, upgrade: "shop-to-17", green: "shop-v17", until: "switched" });
  });
  it("supervised stops at the synchronized gate until the annotation approves that major", () => {
    const supervised = spec({ primaryUpdateStrategy: "supervised" });
    expect(decide({ spec: supervised, running: 16 })).toMatchObject({ kind: "upgrade", until: "synchronized" });
    expect(decide({ spec: supervised, running: 16, annotations: { [UPGRADE_APPROVED_ANNOTATION]: "18" } })).toMatchObject({ until: "synchronized" });
    expect(decide({ spec: supervised, running: 16, annotations: { [UPGRADE_APPROVED_ANNOTATION]: "17" } })).toMatchObject({ until: "switched" });
  });
  it("refuses a downgrade, naming the fix", () => {
    const d = decide({ spec: spec({ postgresVersion: 15 }), running: 16 });
    expect(d).toMatchObject({ kind: "refuse", running: 16, reason: "DowngradeRefused" });
    expect(d.kind === "refuse" && d.message).toMatch(/Set spec\.postgresVersion back to 16/);
  });
  it("refuses a second target while an upgrade is under way", () => {
    const status: PostgresClusterStatus = { upgrade: { name: "shop-to-17", green: "shop-v17", from: 16, to: 17, phase: "replicating" } };
    expect(decide({ spec: spec({ postgresVersion: 18 }), running: 16, status })).toMatchObject({ kind: "refuse", reason: "UpgradeTargetChanged" });
    // Going back to the old major mid-way is refused too (the upgrade must be rolled back first) ...
    expect(decide({ spec: spec({ postgresVersion: 16 }), running: 16, status })).toMatchObject({ kind: "refuse", reason: "UpgradeTargetChanged", message: expect.stringContaining("action: rollback") });
    // ... and accepted once it was.
    expect(decide({ spec: spec({ postgresVersion: 16 }), running: 16, status: { upgrade: { ...status.upgrade!, phase: "rolled-back" } } })).toEqual({ kind: "same", running: 16 });
  });
  it("leaves a cluster given by image alone", () => {
    expect(decide({ spec: spec({ image: "custom:1" }), running: 16 })).toEqual({ kind: "same", running: 17 }); // rolled to the spec's image
  });
});

describe("majorUpgradeObject and status", () => {
  it("is owned by the cluster and names both sides", () => {
    const o = majorUpgradeObject(cluster, { kind: "upgrade", from: 16, to: 17, upgrade: "shop-to-17", green: "shop-v17", until: "synchronized" }) as { metadata: { ownerReferences: { uid: string; controller: boolean }[] }; spec: object };
    expect(o.metadata.ownerReferences).toEqual([expect.objectContaining({ uid: "u1", controller: true })]);
    expect(o.spec).toEqual({ from: { clusterRef: { name: "shop" }, postgresVersion: 16 }, to: { clusterRef: { name: "shop-v17" }, postgresVersion: 17 }, until: "synchronized" });
  });
  it("reports the serving major: the source until traffic switched, then the target", () => {
    const u = { name: "shop-to-17", green: "shop-v17", from: 16, to: 17 };
    expect(servingMajor({ ...u, phase: "synchronized" })).toBe(16);
    expect(servingMajor({ ...u, phase: "switched" })).toBe(17);
    expect(servingMajor({ ...u, phase: "finalized" })).toBe(17);
  });
  it("a refusal sets Degraded with its reason and fix; an unchanged major clears the upgrade block", () => {
    const d = { kind: "refuse", running: 16, reason: "DowngradeRefused", message: "Set spec.postgresVersion back to 16" } as const;
    const s = withMajorUpgrade({ conditions: [] }, { refusal: { reason: d.reason, message: d.message } }, d, 2, new Date(0));
    expect(s.conditions).toEqual([expect.objectContaining({ type: "Degraded", status: "True", reason: "DowngradeRefused", observedGeneration: 2 })]);
    expect(s.postgresVersion).toBe(16);
    const cleared = withMajorUpgrade({ upgrade: { name: "x", green: "g", from: 16, to: 17, phase: "new" } }, undefined, { kind: "same", running: 16 }, 3, new Date(0));
    expect(cleared.upgrade).toBeUndefined();
  });
});
