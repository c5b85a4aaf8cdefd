// What the cluster controller writes for security (issue 19), against a real API server:
// - the NetworkPolicy: created owned by the cluster, left alone when it matches, put back when
//   someone changed it;
// - the certificates: an authority per cluster and its server, replication and operator leaves in
//   Secrets; nothing issued again while valid; a leaf re-issued when it names the wrong hosts, is
//   past two thirds of its life, or its authority was replaced.
// - the authority's rotation (ADR 0049): driven through ten years of the operator's clock, every
//   published ca.crt verifies every published certificate across each step (by `openssl verify`),
//   and a cluster that borrows the authority (a major upgrade's green) follows the same steps.
// No NetworkPolicy engine runs on this machine (every one available needs ipset, nftables or eBPF),
// so what is proven here is the object the API server stores: who it admits is the rule set below.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, NetworkingV1Api } from "@kubernetes/client-node";
import { AUTHORITY_OVERLAP_MS, AUTHORITY_REQUEST_ANNOTATION, AUTHORITY_ROTATED_ANNOTATION, AUTHORITY_TRUSTED_SINCE_ANNOTATION, clusterTlsNames, serverAltNames, syncClusterTls, type TlsAction } from "../../sdk/operator/cluster/tls";
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

  it("rotates its authority in three steps, so that no holder of a published ca.crt meets a published certificate it cannot verify; a cluster borrowing the authority follows", async () => {
    const blue = { ...cluster, metadata: { ...cluster.metadata, name: "ledger", uid: "7a3c1e55-2b8d-4c6f-9e1a-3d5b7f9c2e41" } };
    const green = { ...cluster, metadata: { ...cluster.metadata, name: "ledger-v18", uid: "9e4d2c1b-3a5f-4e7d-8c6b-1f2e3d4c5b6a" } };
    const names = clusterTlsNames("ledger");
    const greenNames = clusterTlsNames("ledger-v18");
    const DAY = 24 * 3600 * 1000;
    const work = mkdtempSync(join(tmpdir(), "setpoint-ca-rotation-"));
    const decode = async (name: string): Promise<{ data: Record<string, string>; annotations: Record<string, string> }> => {
      const sec = await core.readNamespacedSecret({ name, namespace: "shop" });
      return { data: Object.fromEntries(Object.entries(sec.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")])), annotations: sec.metadata?.annotations ?? {} };
    };
    /** Every leaf Secret of both clusters: its certificate and its ca.crt. */
    const published = async (): Promise<{ leaf: string; cert: string; trust: string }[]> =>
      Promise.all(
        [names.server, names.replication, names.operator, greenNames.server, greenNames.replication, greenNames.operator].map(async (n) => {
          const d = (await decode(n)).data;
          return { leaf: n, cert: d["tls.crt"]!, trust: d["ca.crt"]! };
        }),
      );
    /** OpenSSL's own chain building, at `at`: does `trust` (a bundle) verify `cert`? */
    const verifies = (trust: string, cert: string, at: Date): boolean => {
      writeFileSync(join(work, "trust.pem"), trust);
      writeFileSync(join(work, "cert.pem"), cert);
      const r = spawnSync("openssl", ["verify", "-attime", String(Math.floor(at.getTime() / 1000)), "-CAfile", join(work, "trust.pem"), join(work, "cert.pem")], { encoding: "utf8" });
      return r.status === 0;
    };
    const kinds = (actions: readonly TlsAction[]): string[] => actions.map((a) => (a.kind === "issue" || a.kind === "trust" ? `${a.kind} ${a.leaf}` : a.kind));
    const sync = async (at: Date): Promise<{ blue: string[]; green: string[] }> => ({
      blue: kinds((await syncClusterTls(core, blue, at, undefined, [], { overlapMs: AUTHORITY_OVERLAP_MS })).actions),
      green: kinds((await syncClusterTls(core, green, at, names.ca, serverAltNames("ledger", "shop"))).actions),
    });
    try {
      const born = new Date("2020-01-01T00:00:00Z");
      await sync(born);
      // The authority is past two thirds of its ten years at `late`; `before` is just short of it.
      const steps: { at: Date; blue: string[]; green: string[]; state: Awaited<ReturnType<typeof published>>; authority: Awaited<ReturnType<typeof decode>> }[] = [
        { at: born, blue: [], green: [], state: await published(), authority: await decode(names.ca) },
      ];
      const late = new Date(born.getTime() + 2500 * DAY);
      const overlap = AUTHORITY_OVERLAP_MS;
      for (const at of [new Date(late.getTime() - 70 * DAY), late, new Date(late.getTime() + overlap / 2), new Date(late.getTime() + overlap), new Date(late.getTime() + overlap + DAY), new Date(late.getTime() + 2 * overlap), new Date(late.getTime() + 2 * overlap + DAY)]) {
        const r = await sync(at);
        steps.push({ at, ...r, state: await published(), authority: await decode(names.ca) });
      }
      const [, before, start, half, moved, , retired, after] = steps;
      expect(before!.blue).toEqual(["issue server", "issue replication", "issue operator"]);
      // Step 1: the leaves due anyway are renewed by the old authority first; then a new one signs,
      // the old one is kept as previous.crt/previous.key, and every ca.crt trusts both. The borrower's
      // leaves, due too, are signed by the previous authority: some holders may trust it alone yet.
      expect(start!.blue).toEqual(["issue server", "issue replication", "issue operator", "rotate-authority", "trust server", "trust replication", "trust operator"]);
      expect(start!.green).toEqual(["issue server", "issue replication", "issue operator"]);
      const authority = start!.authority;
      const old = new X509Certificate(authority.data["previous.crt"]!);
      expect(start!.state.every((p) => new X509Certificate(p.cert).verify(old.publicKey))).toBe(true);
      expect(authority.data["previous.key"]).toBe(before!.authority.data["ca.key"]);
      expect(authority.annotations[AUTHORITY_ROTATED_ANNOTATION]).toBe(late.toISOString());
      expect(new X509Certificate(authority.data["ca.crt"]!).subject).not.toBe(new X509Certificate(authority.data["previous.crt"]!).subject);
      expect(start!.state.every((p) => p.trust.match(/BEGIN CERTIFICATE/g)?.length === 2)).toBe(true);
      expect(half!.blue).toEqual([]);
      expect(half!.green).toEqual([]);
      // Step 2, one overlap later: every leaf of both clusters is issued by the new authority.
      expect(moved!.blue).toEqual(["issue server", "issue replication", "issue operator"]);
      expect(moved!.green).toEqual(["issue server", "issue replication", "issue operator"]);
      const fresh = new X509Certificate(authority.data["ca.crt"]!);
      expect(moved!.state.every((p) => new X509Certificate(p.cert).verify(fresh.publicKey))).toBe(true);
      // Step 3, a second overlap later: the previous authority leaves the bundle, in the borrower too.
      expect(retired!.blue).toEqual(["retire-previous-authority", "trust server", "trust replication", "trust operator"]);
      expect(retired!.green).toEqual(["trust server", "trust replication", "trust operator"]);
      expect(Object.keys(retired!.authority.data).sort()).toEqual(["ca.crt", "ca.key"]);
      expect(retired!.authority.annotations[AUTHORITY_ROTATED_ANNOTATION]).toBeUndefined();
      expect(retired!.state.every((p) => p.trust === `${fresh.toString().trim()}\n`)).toBe(true);
      expect(after!.blue).toEqual([]);
      expect(after!.green).toEqual([]);
      // A rotation on request (setpoint.dev/rotate-authority) starts the same steps, once per value.
      const asked = new Date(after!.at.getTime() + DAY);
      const request = async (value: string): Promise<string[]> => kinds((await syncClusterTls(core, blue, asked, undefined, [], { rotationRequest: value })).actions);
      expect(await request("yearly-2027")).toEqual(["rotate-authority", "trust server", "trust replication", "trust operator"]);
      expect((await decode(names.ca)).annotations[AUTHORITY_REQUEST_ANNOTATION]).toBe("yearly-2027");
      expect(await request("yearly-2027")).toEqual([]);
      // Through the rotation's end the honoured value is kept: the same value never rotates again.
      expect(kinds((await syncClusterTls(core, blue, new Date(asked.getTime() + overlap), undefined, [], { rotationRequest: "yearly-2027" })).actions)).toEqual(["issue server", "issue replication", "issue operator"]);
      expect(kinds((await syncClusterTls(core, blue, new Date(asked.getTime() + 2 * overlap), undefined, [], { rotationRequest: "yearly-2027" })).actions)).toEqual(["retire-previous-authority", "trust server", "trust replication", "trust operator"]);
      expect((await decode(names.ca)).annotations[AUTHORITY_REQUEST_ANNOTATION]).toBe("yearly-2027");
      expect(kinds((await syncClusterTls(core, blue, new Date(asked.getTime() + 3 * overlap), undefined, [], { rotationRequest: "yearly-2027" })).actions)).toEqual([]);
      // The invariant: between any two consecutive steps of the rotation (pods pick up each Secret
      // on their own schedule), every ca.crt of either step verifies every certificate of either
      // step. (From `before` on: the jump from `born` leaves the first leaves long expired.)
      for (let k = 2; k < steps.length; k++) {
        const pair = [...steps[k - 1]!.state, ...steps[k]!.state];
        for (const holder of pair) {
          for (const presented of pair) {
            expect.soft(verifies(holder.trust, presented.cert, steps[k]!.at), `step ${k}: ${holder.leaf}'s ca.crt verifying ${presented.leaf}'s certificate`).toBe(true);
          }
        }
      }
      // And why the overlap matters: a holder that kept the first ca.crt cannot verify the moved leaves.
      expect(verifies(before!.state[0]!.trust, moved!.state[0]!.cert, moved!.at)).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("follows a supplied authority its owner replaced without previous.crt in the same three steps, read from what it published; the supplied Secret is never written", async () => {
    const billing = { ...cluster, metadata: { ...cluster.metadata, name: "billing", uid: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a98" } };
    const names = clusterTlsNames("billing");
    const DAY = 24 * 3600 * 1000;
    const overlap = AUTHORITY_OVERLAP_MS;
    const work = mkdtempSync(join(tmpdir(), "setpoint-ca-supplied-"));
    const born = new Date("2026-01-01T00:00:00Z");
    const first = createCertificateAuthority({ commonName: "owner's first ca", now: born });
    await core.createNamespacedSecret({ namespace: "shop", body: { metadata: { name: "billing-own-ca" }, stringData: { "ca.crt": first.certificatePem, "ca.key": first.privateKeyPem } } });
    const leafState = async (): Promise<{ leaf: string; cert: string; trust: string; mark: string | undefined }[]> =>
      Promise.all(
        [names.server, names.replication, names.operator].map(async (n) => {
          const sec = await core.readNamespacedSecret({ name: n, namespace: "shop" });
          const d = (k: string) => Buffer.from(sec.data![k]!, "base64").toString("utf8");
          return { leaf: n, cert: d("tls.crt"), trust: d("ca.crt"), mark: sec.metadata?.annotations?.[AUTHORITY_TRUSTED_SINCE_ANNOTATION] };
        }),
      );
    const verifies = (trust: string, cert: string, at: Date): boolean => {
      writeFileSync(join(work, "trust.pem"), trust);
      writeFileSync(join(work, "cert.pem"), cert);
      return spawnSync("openssl", ["verify", "-attime", String(Math.floor(at.getTime() / 1000)), "-CAfile", join(work, "trust.pem"), join(work, "cert.pem")], { encoding: "utf8" }).status === 0;
    };
    const sync = async (at: Date): Promise<string[]> =>
      (await syncClusterTls(core, billing, at, "billing-own-ca")).actions.map((a) => (a.kind === "issue" || a.kind === "trust" ? `${a.kind} ${a.leaf}` : a.kind));
    try {
      expect(await sync(born)).toEqual(["issue server", "issue replication", "issue operator"]);
      // The owner replaces the authority in place: a new ca.crt and ca.key, nothing else.
      const replacedAt = new Date(born.getTime() + 30 * DAY);
      const second = createCertificateAuthority({ commonName: "owner's second ca", now: replacedAt });
      await core.replaceNamespacedSecret({ name: "billing-own-ca", namespace: "shop", body: { metadata: { name: "billing-own-ca" }, stringData: { "ca.crt": second.certificatePem, "ca.key": second.privateKeyPem } } });
      const supplied = (await core.readNamespacedSecret({ name: "billing-own-ca", namespace: "shop" })).metadata!.resourceVersion;
      const steps: { at: Date; actions: string[]; state: Awaited<ReturnType<typeof leafState>> }[] = [{ at: replacedAt, actions: [], state: await leafState() }];
      for (const at of [replacedAt, new Date(replacedAt.getTime() + overlap / 2), new Date(replacedAt.getTime() + overlap), new Date(replacedAt.getTime() + overlap + DAY), new Date(replacedAt.getTime() + 2 * overlap), new Date(replacedAt.getTime() + 2 * overlap + DAY)]) {
        steps.push({ at, actions: await sync(at), state: await leafState() });
      }
      const [, trusted, half, moved, quiet, retired, after] = steps;
      const oldKey = new X509Certificate(first.certificatePem).publicKey;
      const newKey = new X509Certificate(second.certificatePem).publicKey;
      // Step 1: the leaves stay the first authority's; every ca.crt trusts both; the clock is marked on the leaves.
      expect(trusted!.actions).toEqual(["trust server", "trust replication", "trust operator"]);
      expect(trusted!.state.every((p) => new X509Certificate(p.cert).verify(oldKey))).toBe(true);
      expect(trusted!.state.every((p) => p.trust.match(/BEGIN CERTIFICATE/g)?.length === 2)).toBe(true);
      expect(trusted!.state.every((p) => p.mark?.startsWith(`${replacedAt.toISOString()} `))).toBe(true);
      expect(half!.actions).toEqual([]);
      // Step 2, one overlap later: the leaves are the new authority's.
      expect(moved!.actions).toEqual(["issue server", "issue replication", "issue operator"]);
      expect(moved!.state.every((p) => new X509Certificate(p.cert).verify(newKey))).toBe(true);
      expect(quiet!.actions).toEqual([]);
      // Step 3, a second overlap later: the first authority leaves the bundles, and the mark goes with it.
      expect(retired!.actions).toEqual(["retire-previous-authority", "trust server", "trust replication", "trust operator"]);
      expect(retired!.state.every((p) => p.trust === `${second.certificatePem.trim()}\n` && p.mark === undefined)).toBe(true);
      expect(after!.actions).toEqual([]);
      // The owner's Secret was only read.
      expect((await core.readNamespacedSecret({ name: "billing-own-ca", namespace: "shop" })).metadata!.resourceVersion).toBe(supplied);
      // Between any two consecutive steps, every ca.crt verifies every certificate.
      for (let k = 1; k < steps.length; k++) {
        const pair = [...steps[k - 1]!.state, ...steps[k]!.state];
        for (const holder of pair) {
          for (const presented of pair) {
            expect.soft(verifies(holder.trust, presented.cert, steps[k]!.at), `step ${k}: ${holder.leaf}'s ca.crt verifying ${presented.leaf}'s certificate`).toBe(true);
          }
        }
      }
      // Without the overlap a holder of the first ca.crt could not verify the moved leaves.
      expect(verifies(steps[0]!.state[0]!.trust, moved!.state[0]!.cert, moved!.at)).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
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
