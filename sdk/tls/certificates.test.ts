import { X509Certificate, createPrivateKey } from "node:crypto";
import { createServer, connect, type TLSSocket } from "node:tls";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { createCertificateAuthority, issueCertificate, renewalDecision } from "./certificates";
import { objectIdentifier, time, namedBits } from "./der";

describe("der", () => {
  it("encodes object identifiers, key usage bits and both time forms", () => {
    expect(objectIdentifier("1.2.840.10045.4.3.2").toString("hex")).toBe("06082a8648ce3d040302");
    expect(namedBits([0, 5, 6]).toString("hex")).toBe("03020186");
    expect(namedBits([0]).toString("hex")).toBe("03020780");
    expect(time(new Date("2026-12-05T10:11:12Z")).toString("ascii", 2)).toBe("261205101112Z");
    expect(time(new Date("2051-01-02T03:04:05Z")).toString("ascii", 2)).toBe("20510102030405Z");
  });
});

describe("certificates", () => {
  const now = new Date("2026-12-05T12:00:00Z");
  const ca = createCertificateAuthority({ commonName: "setpoint db ca", now });

  it("makes a CA that signs server and client certificates OpenSSL accepts", () => {
    const caCert = new X509Certificate(ca.certificatePem);
    expect(caCert.ca).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    const server = issueCertificate(ca, { commonName: "db-rw", usage: "server", altNames: ["db-rw.default.svc", "db-rw.default.svc.cluster.local", "10.1.2.3"], now });
    const cert = new X509Certificate(server.certificatePem);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkHost("db-rw.default.svc.cluster.local")).toBe("db-rw.default.svc.cluster.local");
    expect(cert.checkHost("other.default.svc")).toBeUndefined();
    expect(cert.checkIP("10.1.2.3")).toBe("10.1.2.3");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(cert.checkPrivateKey(createPrivateKey(server.privateKeyPem))).toBe(true);
    expect(new Date(cert.validTo).getTime() - now.getTime()).toBe(90 * 24 * 3600 * 1000);
    const client = new X509Certificate(issueCertificate(ca, { commonName: "streaming_replica", usage: "client", now }).certificatePem);
    expect(client.subject).toBe("CN=streaming_replica");
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
  });

  it("completes a TLS 1.3 handshake with hostname verification, and a foreign CA is refused", async () => {
    const server = issueCertificate(ca, { commonName: "localhost", usage: "server", altNames: ["localhost", "127.0.0.1"] });
    const tlsServer = createServer({ cert: server.certificatePem, key: server.privateKeyPem, minVersion: "TLSv1.3" }, (s) => s.end("ok"));
    await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
    const port = (tlsServer.address() as { port: number }).port;
    const handshake = (caPem: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s: TLSSocket = connect({ host: "127.0.0.1", port, ca: caPem, servername: "localhost" }, () => resolve(s.getProtocol() ?? ""));
        s.on("error", reject);
      });
    try {
      await expect(handshake(ca.certificatePem)).resolves.toBe("TLSv1.3");
      const foreign = createCertificateAuthority({ commonName: "someone else" });
      await expect(handshake(foreign.certificatePem)).rejects.toThrow(/self-signed|unable to (get|verify)/);
    } finally {
      tlsServer.close();
    }
  });

  it("refuses bad names, lifetimes and authorities", () => {
    expect(() => issueCertificate(ca, { commonName: "x", usage: "server", altNames: ["bad name"] })).toThrow(InputError);
    expect(() => issueCertificate(ca, { commonName: "x", usage: "server" })).toThrow(/at least one/);
    expect(() => issueCertificate(ca, { commonName: "x", usage: "client", validDays: 0 })).toThrow(/validDays/);
    const leaf = issueCertificate(ca, { commonName: "x", usage: "client", now });
    expect(() => issueCertificate(leaf, { commonName: "y", usage: "client", now })).toThrow(/not a certificate authority/);
    const shortCa = createCertificateAuthority({ commonName: "short", validDays: 10, now });
    expect(() => issueCertificate(shortCa, { commonName: "y", usage: "client", now })).toThrow(/outlive its authority/);
  });

  it("decides renewal at two thirds of the lifetime, on expiry, on changed names and on a new authority", () => {
    const names = ["db-rw.default.svc", "10.0.0.7"];
    const cert = issueCertificate(ca, { commonName: "db", usage: "server", altNames: names, validDays: 90, now }).certificatePem;
    const day = 24 * 3600 * 1000;
    expect(renewalDecision(cert, ca.certificatePem, new Date(now.getTime() + 10 * day), names).action).toBe("keep");
    expect(renewalDecision(cert, ca.certificatePem, new Date(now.getTime() + 61 * day), names)).toEqual({ action: "renew", reason: "expiring" });
    expect(renewalDecision(cert, ca.certificatePem, new Date(now.getTime() + 91 * day), names)).toEqual({ action: "renew", reason: "expired" });
    expect(renewalDecision(cert, ca.certificatePem, now, [...names, "db-ro.default.svc"])).toEqual({ action: "renew", reason: "names-changed" });
    const other = createCertificateAuthority({ commonName: "rotated ca", now });
    expect(renewalDecision(cert, other.certificatePem, now, names)).toEqual({ action: "renew", reason: "not-issued-by-authority" });
  });
});
