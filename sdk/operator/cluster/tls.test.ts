import { describe, expect, it } from "vitest";
import { instanceHba } from "../../instance/hba";
import { createCertificateAuthority, issueCertificate } from "../../tls/certificates";
import { AUTHORITY_OVERLAP_MS, BASE_LEAVES, authorityCommonName, clusterTlsNames, derivePreviousAuthority, issueLeaf, planClusterTls, poolerAltNames, serverAltNames, trustBundle, verifiedPoolerName, verifiedServerName, trustedSinceMark, type TlsAction } from "./tls";
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

  it("reads the authority a supplied one replaced (without previous.crt) from the published bundles, with the rotation's clock from the leaves' mark (ADR 0055)", () => {
    const replaced = createCertificateAuthority({ commonName: "replacement", now });
    const oldTrust = { server: trustBundle(ca.certificatePem), replication: trustBundle(ca.certificatePem), operator: trustBundle(ca.certificatePem) };
    const later = new Date(now.getTime() + 3600_000);
    // First seen: the leaves are the old authority's, which the bundles hold; the clock starts now.
    expect(derivePreviousAuthority(replaced.certificatePem, leaves, oldTrust, [], later)).toEqual({ pem: trustBundle(ca.certificatePem), rotatedAt: later });
    // Marked for this authority: the mark's time; a mark for another authority is not this rotation's.
    const both = { server: trustBundle(replaced.certificatePem, ca.certificatePem) };
    expect(derivePreviousAuthority(replaced.certificatePem, leaves, both, [trustedSinceMark(now, replaced.certificatePem)], later)?.rotatedAt).toEqual(now);
    expect(derivePreviousAuthority(replaced.certificatePem, leaves, both, [trustedSinceMark(now, ca.certificatePem), "garbage"], later)?.rotatedAt).toEqual(later);
    // Every leaf the new authority's: the old one stays only while a mark says the rotation is under way.
    const moved = { server: issueCertificate(replaced, { commonName: "orders", usage: "server", altNames: names, now }).certificatePem };
    expect(derivePreviousAuthority(replaced.certificatePem, moved, both, [trustedSinceMark(now, replaced.certificatePem)], later)).toEqual({ pem: trustBundle(ca.certificatePem), rotatedAt: now });
    expect(derivePreviousAuthority(replaced.certificatePem, moved, both, [], later)).toBeUndefined();
    // An old authority that has expired vouches for nothing: no overlap, the leaves are issued anew.
    expect(derivePreviousAuthority(replaced.certificatePem, leaves, oldTrust, [], new Date(now.getTime() + 11 * 365 * 24 * 3600_000))).toBeUndefined();
    // The plan with a derived previous: trust first, the leaves move after the overlap, the bundles drop it after two.
    const observed = (trust: Record<string, string>, at: Date) => ({ ca: { ...replaced, generated: false, previousPem: ca.certificatePem, rotatedAt: at, previousDerived: true }, leaves, trust });
    expect(planClusterTls(observed(oldTrust, later), names, later).map((a) => a.kind)).toEqual(["trust", "trust", "trust"]);
    const twoOverlaps = new Date(later.getTime() + 2 * AUTHORITY_OVERLAP_MS);
    const bundle = trustBundle(replaced.certificatePem, ca.certificatePem);
    expect(
      planClusterTls({ ca: { ...replaced, generated: false, previousPem: ca.certificatePem, rotatedAt: later, previousDerived: true }, leaves: moved, trust: { server: bundle } }, names, twoOverlaps, ["server"]).map((a) => a.kind),
    ).toEqual(["retire-previous-authority", "trust"]);
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

describe("rotation of the cluster's authority (ADR 0049)", () => {
  const DAY = 24 * 3600 * 1000;
  const born = new Date("2020-01-01T00:00:00Z");
  const cluster = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "orders", namespace: "shop", uid: "u1" } };
  const names = serverAltNames("orders", "shop");
  const old = createCertificateAuthority({ commonName: authorityCommonName(cluster), now: born, validDays: 3650 });
  // Past two thirds of ten years (2026-08-31): 2026-11-05.
  const late = new Date(born.getTime() + 2500 * DAY);
  const oldLeaves = {
    server: issueLeaf(cluster, "server", old, new Date(late.getTime() - DAY)).certificatePem,
    replication: issueLeaf(cluster, "replication", old, new Date(late.getTime() - DAY)).certificatePem,
    operator: issueLeaf(cluster, "operator", old, new Date(late.getTime() - DAY)).certificatePem,
  };
  const trustOld = { server: old.certificatePem, replication: old.certificatePem, operator: old.certificatePem };
  const summary = (actions: TlsAction[]): string[] => actions.map((a) => (a.kind === "issue" || a.kind === "trust" ? `${a.kind} ${a.leaf}: ${a.reason}` : `${a.kind}: ${a.reason}`));

  it("starts a rotation of its own authority past two thirds of its life: the leaves stay and learn to trust both; a supplied authority is never rotated", () => {
    const generated = { ...old, generated: true };
    expect(planClusterTls({ ca: generated, leaves: oldLeaves, trust: trustOld }, names, new Date(late.getTime() - 300 * DAY))).toEqual([]);
    expect(summary(planClusterTls({ ca: generated, leaves: oldLeaves, trust: trustOld }, names, late))).toEqual([
      "rotate-authority: the authority is past two thirds of its lifetime",
      "trust server: trusts the new authority beside the current one",
      "trust replication: trusts the new authority beside the current one",
      "trust operator: trusts the new authority beside the current one",
    ]);
    // A leaf due anyway is renewed by the authority every holder trusts yet, before the rotation.
    const dueOperator = issueLeaf(cluster, "operator", old, new Date(late.getTime() - 80 * DAY)).certificatePem;
    expect(summary(planClusterTls({ ca: generated, leaves: { ...oldLeaves, operator: dueOperator }, trust: trustOld }, names, late))).toEqual([
      "issue operator: expiring",
      "rotate-authority: the authority is past two thirds of its lifetime",
      "trust server: trusts the new authority beside the current one",
      "trust replication: trusts the new authority beside the current one",
      "trust operator: trusts the new authority beside the current one",
    ]);
    // A supplied authority (spec.tls.authority) is its owner's to rotate.
    expect(planClusterTls({ ca: { ...old, generated: false }, leaves: oldLeaves, trust: trustOld }, names, late)).toEqual([]);
  });

  it("rotates on request (setpoint.dev/rotate-authority) in the same steps, once per value, never during a rotation", () => {
    const young = createCertificateAuthority({ commonName: authorityCommonName(cluster), now: late });
    const leavesOfYoung = {
      server: issueLeaf(cluster, "server", young, late).certificatePem,
      replication: issueLeaf(cluster, "replication", young, late).certificatePem,
      operator: issueLeaf(cluster, "operator", young, late).certificatePem,
    };
    const trustYoung = { server: young.certificatePem, replication: young.certificatePem, operator: young.certificatePem };
    const observed = { ca: { ...young, generated: true }, leaves: leavesOfYoung, trust: trustYoung };
    expect(planClusterTls(observed, names, late)).toEqual([]);
    expect(planClusterTls({ ...observed, rotationRequest: "2026-12-07" }, names, late)[0]).toEqual({ kind: "rotate-authority", reason: 'requested (setpoint.dev/rotate-authority: "2026-12-07")', request: "2026-12-07" });
    // The value honoured already: nothing. A supplied authority: nothing.
    expect(planClusterTls({ ...observed, ca: { ...observed.ca, honouredRequest: "2026-12-07" }, rotationRequest: "2026-12-07" }, names, late)).toEqual([]);
    expect(planClusterTls({ ...observed, ca: { ...observed.ca, generated: false }, rotationRequest: "2026-12-07" }, names, late)).toEqual([]);
    // During a rotation a new request waits for it to end.
    const rotating = { ...observed.ca, previousPem: old.certificatePem, rotatedAt: late };
    expect(planClusterTls({ ...observed, ca: rotating, trust: { server: trustBundle(young.certificatePem, old.certificatePem), replication: trustBundle(young.certificatePem, old.certificatePem), operator: trustBundle(young.certificatePem, old.certificatePem) }, rotationRequest: "again" }, names, late)).toEqual([]);
  });

  it("issues the pooler's certificate anew where other leaves only learn the new trust (PgBouncer's reload is then seen by its serial), by the authority every client still trusts", () => {
    const withPooler = [...BASE_LEAVES, "pooler" as const];
    const poolerNames = poolerAltNames("orders", "shop");
    const leaves = { ...oldLeaves, pooler: issueLeaf(cluster, "pooler", old, new Date(late.getTime() - DAY)).certificatePem };
    const trust = { ...trustOld, pooler: old.certificatePem };
    expect(summary(planClusterTls({ ca: { ...old, generated: true }, leaves, trust }, names, late, withPooler, poolerNames)).slice(-2)).toEqual([
      "trust operator: trusts the new authority beside the current one",
      "issue pooler: trusts the new authority beside the current one",
    ]);
    expect(planClusterTls({ ca: { ...old, generated: true }, leaves, trust }, names, late, withPooler, poolerNames).at(-1)).toMatchObject({ signer: "previous" });
    // At the rotation's end: issued by the new authority, as the bundle loses the old one.
    const fresh = createCertificateAuthority({ commonName: authorityCommonName(cluster, late), now: late });
    const bundle = trustBundle(fresh.certificatePem, old.certificatePem);
    const end = new Date(late.getTime() + 2 * AUTHORITY_OVERLAP_MS);
    const current = Object.fromEntries(withPooler.map((l) => [l, issueLeaf(cluster, l, fresh, new Date(late.getTime() + AUTHORITY_OVERLAP_MS)).certificatePem]));
    const retiring = planClusterTls({ ca: { ...fresh, generated: true, previousPem: old.certificatePem, previousKeyPem: old.privateKeyPem, rotatedAt: late }, leaves: current, trust: Object.fromEntries(withPooler.map((l) => [l, bundle])) }, names, end, withPooler, poolerNames);
    expect(summary(retiring)).toEqual([
      "retire-previous-authority: every certificate is the new authority's",
      "trust server: its ca.crt is not the trust bundle",
      "trust replication: its ca.crt is not the trust bundle",
      "trust operator: its ca.crt is not the trust bundle",
      "issue pooler: its ca.crt is not the trust bundle",
    ]);
    expect(retiring.at(-1)).not.toHaveProperty("signer");
  });

  it("re-issues every leaf at once when its authority has already expired (nothing to overlap with)", () => {
    const after = new Date(born.getTime() + 3651 * DAY);
    expect(summary(planClusterTls({ ca: { ...old, generated: true }, leaves: oldLeaves, trust: trustOld }, names, after))).toEqual([
      "rotate-authority: the authority has expired",
      "issue server: issued by the new authority",
      "issue replication: issued by the new authority",
      "issue operator: issued by the new authority",
    ]);
  });

  it("keeps the previous authority's leaves for one overlap, re-issues them after it, and retires the previous authority one overlap later", () => {
    const fresh = createCertificateAuthority({ commonName: authorityCommonName(cluster, late), now: late });
    const rotating = { ...fresh, generated: true, previousPem: old.certificatePem, rotatedAt: late };
    const bundle = trustBundle(fresh.certificatePem, old.certificatePem);
    const trustBoth = { server: bundle, replication: bundle, operator: bundle };
    // Within the overlap: the old leaves stay; a Secret whose ca.crt is not the bundle gets it.
    const during = new Date(late.getTime() + AUTHORITY_OVERLAP_MS - 1000);
    expect(planClusterTls({ ca: rotating, leaves: oldLeaves, trust: trustBoth }, names, during)).toEqual([]);
    expect(summary(planClusterTls({ ca: rotating, leaves: oldLeaves, trust: { ...trustBoth, replication: old.certificatePem } }, names, during))).toEqual(["trust replication: its ca.crt is not the trust bundle"]);
    // A leaf that must change anyway (its names) is issued at once: in the first overlap by the
    // previous authority when its key is kept (a holder may trust it alone yet), else by the new one.
    expect(planClusterTls({ ca: rotating, leaves: oldLeaves, trust: trustBoth }, [...names, "orders-extra"], during)).toEqual([{ kind: "issue", leaf: "server", reason: "names-changed" }]);
    expect(planClusterTls({ ca: { ...rotating, previousKeyPem: old.privateKeyPem }, leaves: { ...oldLeaves, replication: undefined }, trust: trustBoth }, [...names, "orders-extra"], during)).toEqual([
      { kind: "issue", leaf: "server", reason: "names-changed", signer: "previous" },
      { kind: "issue", leaf: "replication", reason: "missing", signer: "previous" },
    ]);
    // After the overlap: every leaf of the previous authority is re-issued, by the new one.
    expect(planClusterTls({ ca: { ...rotating, previousKeyPem: old.privateKeyPem }, leaves: oldLeaves, trust: trustBoth }, names, new Date(late.getTime() + AUTHORITY_OVERLAP_MS)).every((a) => a.kind === "issue" && a.signer === undefined)).toBe(true);
    const next = new Date(late.getTime() + AUTHORITY_OVERLAP_MS);
    expect(summary(planClusterTls({ ca: rotating, leaves: oldLeaves, trust: trustBoth }, names, next))).toEqual([
      "issue server: authority-rotated",
      "issue replication: authority-rotated",
      "issue operator: authority-rotated",
    ]);
    const newLeaves = {
      server: issueLeaf(cluster, "server", fresh, next).certificatePem,
      replication: issueLeaf(cluster, "replication", fresh, next).certificatePem,
      operator: issueLeaf(cluster, "operator", fresh, next).certificatePem,
    };
    // Every leaf new, but the second overlap not over: the previous authority stays trusted.
    expect(planClusterTls({ ca: rotating, leaves: newLeaves, trust: trustBoth }, names, new Date(late.getTime() + 2 * AUTHORITY_OVERLAP_MS - 1000))).toEqual([]);
    // One leaf still the previous authority's: not retired, whatever the time.
    const mixed = { ...newLeaves, operator: oldLeaves.operator };
    expect(summary(planClusterTls({ ca: rotating, leaves: mixed, trust: trustBoth }, names, new Date(late.getTime() + 2 * AUTHORITY_OVERLAP_MS)))).toEqual(["issue operator: authority-rotated"]);
    // Then: retired, and every ca.crt becomes the new authority alone.
    expect(summary(planClusterTls({ ca: rotating, leaves: newLeaves, trust: trustBoth }, names, new Date(late.getTime() + 2 * AUTHORITY_OVERLAP_MS)))).toEqual([
      "retire-previous-authority: every certificate is the new authority's",
      "trust server: its ca.crt is not the trust bundle",
      "trust replication: its ca.crt is not the trust bundle",
      "trust operator: its ca.crt is not the trust bundle",
    ]);
    // A leaf of neither authority is re-issued at once, as outside a rotation.
    const foreign = createCertificateAuthority({ commonName: "someone else", now: late });
    expect(summary(planClusterTls({ ca: rotating, leaves: { ...oldLeaves, server: issueLeaf(cluster, "server", foreign, late).certificatePem }, trust: trustBoth }, names, during))).toEqual(["issue server: not-issued-by-authority"]);
  });

  it("names a rotated authority apart from its predecessor, within 64 characters", () => {
    expect(authorityCommonName(cluster)).toBe("orders.shop setpoint ca");
    expect(authorityCommonName(cluster, late)).toBe("orders.shop setpoint ca 202611050000");
    const long = { ...cluster, metadata: { ...cluster.metadata, name: "a".repeat(60) } };
    expect(authorityCommonName(long, late)).toHaveLength(64);
    expect(authorityCommonName(long, late)).not.toBe(authorityCommonName(long));
    expect(trustBundle("A\n", "B")).toBe("A\nB\n");
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
