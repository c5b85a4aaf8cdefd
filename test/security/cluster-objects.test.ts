// What the cluster controller writes for security (issue 19), against a real API server:
// - the NetworkPolicy: created owned by the cluster, left alone when it matches, put back when
//   someone changed it;
// - the certificates: an authority per cluster and its server, replication and operator leaves in
//   Secrets; nothing issued again while valid; a leaf re-issued when it names the wrong hosts, is
//   past two thirds of its life, or its authority was replaced.
// No NetworkPolicy engine runs on this machine (every one available needs ipset, nftables or eBPF),
// so what is proven here is the object the API server stores: who it admits is the rule set below.
import { X509Certificate } from "node:crypto";
import { CoreV1Api, NetworkingV1Api } from "@kubernetes/client-node";
import { clusterTlsNames, serverAltNames, syncClusterTls } from "../../sdk/operator/cluster/tls";
import { createCertificateAuthority, issueCertificate } from "../../sdk/tls/certificates";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterNetworkPolicy, OPERATOR_POD_LABELS, SAME_NAMESPACE_PEERS, syncNetworkPolicy } from "../../sdk/operator/cluster/network-policy";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);

describe.skipIf(toolchain.skip !== undefined)("the cluster's NetworkPolicy and certificates on a real API server", () => {
  let cp: ControlPlane;
  let net: NetworkingV1Api;
  let core: CoreV1Api;
  const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "orders", namespace: "shop", uid: "0b9c2f43-3c4e-4f7e-9d55-2f0f6b1f2a11" } };
  const desired = clusterNetworkPolicy(cluster, { operator: { namespace: "setpoint-system", podLabels: OPERATOR_POD_LABELS }, allowFrom: SAME_NAMESPACE_PEERS });

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "shop" } } });
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

  it("creates the cluster's authority and certificates, keeps them while valid, and re-issues what must be", async () => {
    const names = clusterTlsNames("orders");
    const read = async (name: string): Promise<Record<string, string>> => {
      const s = await core.readNamespacedSecret({ name, namespace: "shop" });
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    };
    const now = new Date();
    const first = await syncClusterTls(core, cluster, now);
    expect(first.actions.map((a) => (a.kind === "issue" ? a.leaf : a.kind))).toEqual(["create-authority", "server", "replication", "operator"]);
    const ca = await read(names.ca);
    const server = await read(names.server);
    const x509 = new X509Certificate(server["tls.crt"]!);
    expect(x509.verify(new X509Certificate(ca["ca.crt"]!).publicKey)).toBe(true);
    expect(server["ca.crt"]).toBe(ca["ca.crt"]);
    expect(x509.subjectAltName).toContain("DNS:orders-rw.shop.svc");
    expect(x509.subjectAltName).toContain("DNS:orders-pooler-rw.shop.svc.cluster.local");
    expect(new X509Certificate((await read(names.replication))["tls.crt"]!).subject).toBe("CN=streaming_replica");
    expect(new X509Certificate((await read(names.operator))["tls.crt"]!).subject).toBe("CN=postgres");
    const stored = await core.readNamespacedSecret({ name: names.server, namespace: "shop" });
    expect(stored.type).toBe("kubernetes.io/tls");
    expect(stored.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "orders", controller: true });

    expect((await syncClusterTls(core, cluster, now)).actions).toEqual([]);

    // A server certificate with other names (someone replaced it): re-issued with the Services' names.
    const wrong = issueCertificate({ certificatePem: ca["ca.crt"]!, privateKeyPem: ca["ca.key"]! }, { commonName: "x", usage: "server", altNames: ["evil.example"] });
    await core.replaceNamespacedSecret({ name: names.server, namespace: "shop", body: { ...stored, data: undefined, stringData: { "tls.crt": wrong.certificatePem, "tls.key": wrong.privateKeyPem, "ca.crt": ca["ca.crt"]! } } });
    expect((await syncClusterTls(core, cluster, now)).actions).toEqual([{ kind: "issue", leaf: "server", reason: "names-changed" }]);
    expect(new X509Certificate((await read(names.server))["tls.crt"]!).subjectAltName).toBe(serverAltNames("orders", "shop").map((n) => `DNS:${n}`).join(", "));

    // 61 days on, past two thirds of 90: every leaf is renewed, the authority stays.
    const later = new Date(now.getTime() + 61 * 24 * 3600 * 1000);
    expect((await syncClusterTls(core, cluster, later)).actions.map((a) => (a.kind === "issue" ? `${a.leaf}:${a.reason}` : a.kind))).toEqual(["server:expiring", "replication:expiring", "operator:expiring"]);
    expect((await read(names.ca))["ca.crt"]).toBe(ca["ca.crt"]);

    // The authority lost: a new one, and every leaf from it.
    await core.deleteNamespacedSecret({ name: names.ca, namespace: "shop" });
    const again = await syncClusterTls(core, cluster, later);
    expect(again.actions.map((a) => a.kind)).toEqual(["create-authority", "issue", "issue", "issue"]);
    expect(again.caPem).not.toBe(ca["ca.crt"]);
    expect((await read(names.replication))["ca.crt"]).toBe(again.caPem);
  });

  it("issues from a supplied authority without writing it, with extra server names, and refuses a missing one with the fix (spec.tls)", async () => {
    const green = { ...cluster, metadata: { ...cluster.metadata, name: "orders-v17", uid: "5d1f8a2e-9c0b-4b7e-8f3a-1e2d3c4b5a69" } };
    const supplied = createCertificateAuthority({ commonName: "supplied ca" });
    await expect(syncClusterTls(core, green, new Date(), "shared-ca")).rejects.toThrow(/spec\.tls\.authority: Secret shop\/shared-ca does not exist; create it/);
    await core.createNamespacedSecret({ namespace: "shop", body: { metadata: { name: "shared-ca" }, stringData: { "ca.crt": supplied.certificatePem, "ca.key": supplied.privateKeyPem } } });
    const before = (await core.readNamespacedSecret({ name: "shared-ca", namespace: "shop" })).metadata!.resourceVersion;
    const extra = serverAltNames("orders", "shop");
    const r = await syncClusterTls(core, green, new Date(), "shared-ca", extra);
    expect(r.actions.map((a) => (a.kind === "issue" ? a.leaf : a.kind))).toEqual(["server", "replication", "operator"]);
    expect(r.caPem).toBe(supplied.certificatePem);
    // The operator's identity comes back for its own connections; the supplied Secret is untouched and no own authority is made.
    expect(new X509Certificate(r.operatorIdentity.cert).verify(new X509Certificate(supplied.certificatePem).publicKey)).toBe(true);
    expect((await core.readNamespacedSecret({ name: "shared-ca", namespace: "shop" })).metadata!.resourceVersion).toBe(before);
    await expect(core.readNamespacedSecret({ name: "orders-v17-ca", namespace: "shop" })).rejects.toThrow();
    const san = new X509Certificate(Buffer.from((await core.readNamespacedSecret({ name: "orders-v17-server-tls", namespace: "shop" })).data!["tls.crt"]!, "base64")).subjectAltName!;
    expect(san).toContain("DNS:orders-v17-rw.shop.svc");
    expect(san).toContain("DNS:orders-rw.shop.svc");
    expect((await syncClusterTls(core, green, new Date(), "shared-ca", extra)).actions).toEqual([]);
  });
});
