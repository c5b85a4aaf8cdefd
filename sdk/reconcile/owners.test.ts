import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { AlreadyOwnedError, controllerOf, groupOf, setControllerReference } from "./owners";

const owner = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "main", namespace: "db", uid: "u-1" } };
const child: KubernetesObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "main-config", namespace: "db" } };

describe("setControllerReference", () => {
  it("adds a controller reference that blocks owner deletion, without modifying the child", () => {
    const out = setControllerReference(owner, child);
    expect(out.metadata?.ownerReferences).toEqual([
      { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", name: "main", uid: "u-1", controller: true, blockOwnerDeletion: true },
    ]);
    expect(child.metadata).toEqual({ name: "main-config", namespace: "db" });
    expect(controllerOf(out)?.uid).toBe("u-1");
  });

  it("keeps other owners and replaces an earlier reference to the same owner (any version)", () => {
    const other = { apiVersion: "v1", kind: "Service", name: "svc", uid: "u-2" };
    const stale = { apiVersion: "setpoint.dev/v1beta1", kind: "PostgresCluster", name: "main", uid: "u-1" };
    const out = setControllerReference(owner, { ...child, metadata: { ...child.metadata, ownerReferences: [other, stale] } });
    expect(out.metadata?.ownerReferences).toEqual([
      other,
      { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", name: "main", uid: "u-1", controller: true, blockOwnerDeletion: true },
    ]);
    // Setting it again is a no-op.
    expect(setControllerReference(owner, out)).toEqual(out);
  });

  it("refuses a child controlled by someone else, naming the controller", () => {
    const theirs = { apiVersion: "apps/v1", kind: "StatefulSet", name: "other", uid: "u-9", controller: true };
    const taken = { ...child, metadata: { ...child.metadata, ownerReferences: [theirs] } };
    expect(() => setControllerReference(owner, taken)).toThrow(AlreadyOwnedError);
    expect(() => setControllerReference(owner, taken)).toThrow(/already controlled by StatefulSet other \(uid u-9\)/);
  });

  it("refuses an owner without a uid, and an owner in another namespace", () => {
    expect(() => setControllerReference({ ...owner, metadata: { name: "main", namespace: "db" } }, child)).toThrow(/needs apiVersion, kind, metadata.name and metadata.uid/);
    expect(() => setControllerReference(owner, { ...child, metadata: { name: "x", namespace: "other" } })).toThrow(/cross-namespace/);
  });

  it("allows a cluster-scoped owner of a namespaced child", () => {
    const clusterOwner = { apiVersion: "setpoint.dev/v1alpha1", kind: "Tenant", metadata: { name: "t", uid: "u-3" } };
    expect(controllerOf(setControllerReference(clusterOwner, child))?.name).toBe("t");
  });
});

describe("groupOf", () => {
  it("is the part before the slash, empty for the core group", () => {
    expect(groupOf("setpoint.dev/v1alpha1")).toBe("setpoint.dev");
    expect(groupOf("v1")).toBe("");
  });
});
