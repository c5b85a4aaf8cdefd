import { describe, expect, it } from "vitest";
import { instanceHba } from "../../instance/hba";
import { createCertificateAuthority, issueCertificate } from "../../tls/certificates";
import { clusterTlsNames, planClusterTls, serverAltNames, verifiedServerName } from "./tls";

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
    expect(clusterTlsNames("orders")).toEqual({ ca: "orders-ca", server: "orders-server-tls", replication: "orders-replication-tls", operator: "orders-operator-tls" });
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
