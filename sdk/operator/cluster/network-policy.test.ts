import { V1NetworkPolicyIngressRule } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { clusterNetworkPolicy } from "./network-policy";

const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "db", namespace: "apps", uid: "u-1" } };
const operator = { namespace: "setpoint-system", podLabels: { "app.kubernetes.io/name": "setpoint-operator" } };

describe("clusterNetworkPolicy", () => {
  it("selects only the cluster's instances and opens 5432 to the cluster's pods, the operator and the declared peers", () => {
    const app = { podSelector: { matchLabels: { app: "shop" } } };
    const p = clusterNetworkPolicy(cluster, { operator, allowFrom: [app] });
    expect(p.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "db", uid: "u-1", controller: true });
    expect(p.spec?.podSelector).toEqual({ matchLabels: { "setpoint.dev/cluster": "db" }, matchExpressions: [{ key: "setpoint.dev/instance", operator: "Exists" }] });
    expect(p.spec?.policyTypes).toEqual(["Ingress"]);
    const rules = p.spec?.ingress ?? [];
    expect(rules.map((r) => r._from)).toEqual([
      [{ podSelector: { matchLabels: { "setpoint.dev/cluster": "db" } } }],
      [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "setpoint-system" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "setpoint-operator" } } }],
      [app],
    ]);
    expect(rules.every((r) => JSON.stringify(r.ports) === JSON.stringify([{ protocol: "TCP", port: 5432 }]))).toBe(true);
  });

  it("with no declared peers, only the cluster and the operator get in (an empty `from` would mean everyone)", () => {
    const p = clusterNetworkPolicy(cluster, { operator, allowFrom: [] });
    expect(p.spec?.ingress).toHaveLength(2);
    expect(p.spec?.ingress?.every((r) => (r._from ?? []).length > 0)).toBe(true);
  });

  it("uses client-node's model name, which its serializer sends as Kubernetes' `from`", () => {
    expect(V1NetworkPolicyIngressRule.getAttributeTypeMap().find((a) => a.name === "_from")?.baseName).toBe("from");
  });
});
