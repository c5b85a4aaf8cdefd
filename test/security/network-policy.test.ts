// The cluster's NetworkPolicy against a real API server (issue 19): the controller's step creates
// it owned by the cluster, leaves it alone when it matches, and puts back what someone changed.
// No NetworkPolicy engine runs on this machine (every one available needs ipset, nftables or eBPF),
// so what is proven here is the object the API server stores: who it admits is the rule set below.
import { CoreV1Api, NetworkingV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNetworkPolicy, OPERATOR_POD_LABELS, SAME_NAMESPACE_PEERS, syncNetworkPolicy } from "../../sdk/operator/cluster/network-policy";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);

describe.skipIf(toolchain.skip !== undefined)("the cluster's NetworkPolicy on a real API server", () => {
  let cp: ControlPlane;
  let net: NetworkingV1Api;
  const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "orders", namespace: "shop", uid: "0b9c2f43-3c4e-4f7e-9d55-2f0f6b1f2a11" } };
  const desired = clusterNetworkPolicy(cluster, { operator: { namespace: "setpoint-system", podLabels: OPERATOR_POD_LABELS }, allowFrom: SAME_NAMESPACE_PEERS });

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "shop" } } });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it("creates the policy, keeps it, and corrects drift", async () => {
    expect(await syncNetworkPolicy(net, desired)).toBe("Created");
    expect(await syncNetworkPolicy(net, desired)).toBe("Unchanged");
    const stored = await net.readNamespacedNetworkPolicy({ name: "orders-instances", namespace: "shop" });
    expect(stored.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "orders", controller: true });
    expect(stored.spec?.policyTypes).toEqual(["Ingress"]);
    // Port 5432 only, from: the cluster's pods, the operator's pods in its namespace, the cluster's namespace. Nothing else.
    expect(stored.spec?.ingress?.map((r) => ({ from: r._from, ports: r.ports }))).toEqual([
      { from: [{ podSelector: { matchLabels: { "setpoint.dev/cluster": "orders" } } }], ports: [{ protocol: "TCP", port: 5432 }] },
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "setpoint-system" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "setpoint-operator" } } }],
        ports: [{ protocol: "TCP", port: 5432 }],
      },
      { from: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: 5432 }] },
    ]);

    // Someone opens the instances to every namespace: the next reconcile takes it back.
    await net.replaceNamespacedNetworkPolicy({
      name: "orders-instances",
      namespace: "shop",
      body: { ...stored, spec: { ...stored.spec!, ingress: [...stored.spec!.ingress!, { _from: [{ namespaceSelector: {} }] }] } },
    });
    expect(await syncNetworkPolicy(net, desired)).toBe("Updated");
    const fixed = await net.readNamespacedNetworkPolicy({ name: "orders-instances", namespace: "shop" });
    expect(fixed.spec?.ingress).toHaveLength(3);
    expect(JSON.stringify(fixed.spec?.ingress)).not.toContain('"namespaceSelector":{}');
    expect(await syncNetworkPolicy(net, desired)).toBe("Unchanged");
  });
});
