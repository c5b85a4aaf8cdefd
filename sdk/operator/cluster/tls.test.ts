import { describe, expect, it } from "vitest";
import { instanceHba } from "../../instance/hba";
import { createCertificateAuthority, issueCertificate } from "../../tls/certificates";
import { BASE_LEAVES, clusterTlsNames, issueLeaf, planClusterTls, poolerAltNames, serverAltNames, verifiedPoolerName, verifiedServerName } from "./tls";
import { X509Certificate } from "node:crypto";

describe("the cluster's certificates", () => {
  const now = new Date("2026-12-06T00:00:00Z");
  const ca = createCertificateAuthority({ commonName: "orders ca", now });
  const names = serverAltNames("orders", "shop");
  const leaves = {
    server: issueCertificate(ca, { commonName: "orders", usage: "server", altNames: names, now }).certificatePem,
    replication: issueCertificate(ca, { commonName: "streaming_replica", usage: "client", now }).certificatePem,
    operator: issueCertificate(ca, { commonName: "postgres", usage: "client", now }).certificatePem,
  };

  it("names the Secrets and the hosts the server certificate carries", () => {
    expect(clusterTlsNames("orders")).toEqual({ ca: "orders-ca", server: "orders-server-tls", replication: "orders-replication-tls", operator: "orders-operator-tls", pooler: "orders-pooler-tls" });
    expect(poolerAltNames("orders", "shop")).toEqual(["orders-pooler-rw", "orders-pooler-rw.shop", "orders-pooler-rw.shop.svc", "orders-pooler-rw.shop.svc.cluster.local"]);
    expect(poolerAltNames("orders", "shop")).toContain(verifiedPoolerName("orders", "shop"));
    expect(names.slice(0, 4)).toEqual(["orders-rw", "orders-rw.shop", "orders-rw.shop.svc", "orders-rw.shop.svc.cluster.local"]);
    expect(names).toContain("orders-ro.shop.svc");
    expect(names).toContain("orders-pooler-rw.shop.svc");
    expect(names).toContain(verifiedServerName("orders", "shop"));
  });

  it("plans the authority first, then every leaf that is missing, expiring or from another authority", () => {
    expect(planClusterTls({ leaves: {} }, names, now).map((a) => a.kind)).toEqual(["create-authority", "issue", "issue", "issue"]);
    expect(planClusterTls({ ca, leaves }, names, now)).toEqual([]);
    expect(planClusterTls({ ca, leaves: { ...leaves, operator: undefined } }, names, now)).toEqual([{ kind: "issue", leaf: "operator", reason: "missing" }]);
    expect(planClusterTls({ ca, leaves }, [...names, "orders-extra"], now)).toEqual([{ kind: "issue", leaf: "server", reason: "names-changed" }]);
    const in61Days = new Date(now.getTime() + 61 * 24 * 3600 * 1000);
    expect(planClusterTls({ ca, leaves }, names, in61Days).map((a) => (a.kind === "issue" ? a.reason : a.kind))).toEqual(["expiring", "expiring", "expiring"]);
    const other = createCertificateAuthority({ commonName: "other", now });
    expect(planClusterTls({ ca: other, leaves }, names, now).map((a) => (a.kind === "issue" ? a.reason : a.kind))).toEqual(["not-issued-by-authority", "not-issued-by-authority", "not-issued-by-authority"]);
  });

  it("adds the pooler's own certificate with a pooler: issued when missing, renewed when it names other hosts (ADR 0044)", () => {
    const withPooler = [...BASE_LEAVES, "pooler" as const];
    const poolerNames = poolerAltNames("orders", "shop");
    expect(planClusterTls({ ca, leaves }, names, now, withPooler, poolerNames)).toEqual([{ kind: "issue", leaf: "pooler", reason: "missing" }]);
    const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "orders", namespace: "shop", uid: "u1" } };
    const pair = issueLeaf(cluster, "pooler", ca, now);
    // A server certificate for the pooler Service's names only: not the instances'.
    const x509 = new X509Certificate(pair.certificatePem);
    expect(x509.subjectAltName).toBe(poolerNames.map((n) => `DNS:${n}`).join(", "));
    expect(x509.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(planClusterTls({ ca, leaves: { ...leaves, pooler: pair.certificatePem } }, names, now, withPooler, poolerNames)).toEqual([]);
    expect(planClusterTls({ ca, leaves: { ...leaves, pooler: pair.certificatePem } }, names, now, withPooler, [...poolerNames, "x"])).toEqual([{ kind: "issue", leaf: "pooler", reason: "names-changed" }]);
  });
});

describe("pg_hba.conf with TLS", () => {
  const rows = (text: string): string[][] =>
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.trim().split(/\s+/));

  it("has no host rule: replication, the replication role in a database (ADR 0042) and the superuser by certificate, SCRAM for the rest", () => {
    expect(rows(instanceHba({ replicationUser: "streaming_replica", tls: true }))).toEqual([
      ["local", "all", "all", "trust"],
      ["hostssl", "replication", "streaming_replica", "all", "cert"],
      ["hostssl", "replication", "all", "all", "reject"],
      ["hostssl", "all", "streaming_replica", "all", "cert"],
      ["hostssl", "all", "postgres", "all", "cert"],
      ["hostssl", "all", "all", "all", "scram-sha-256"],
    ]);
    expect(rows(instanceHba({ replicationUser: "streaming_replica", tls: true, superuserPasswordOverNetwork: true }))[4]).toEqual(["hostssl", "all", "postgres", "all", "scram-sha-256"]);
  });
});
