/**
 * An operator-managed certificate authority per cluster and the certificates it issues: server
 * certificates naming the cluster's Services (and pod addresses), client certificates for the
 * replication role and the operator. Built with `node:crypto` only (ECDSA P-256 keys, SHA-256
 * signatures) and a small DER encoder, so the operator image needs no OpenSSL command and no
 * third-party library; OpenSSL (PostgreSQL, libpq) and Node's TLS verify them.
 *
 * Profile (RFC 5280): v3; a random positive 128-bit serial; CN-only names; the CA has
 * basicConstraints CA:TRUE and keyCertSign/cRLSign; leaves have CA:FALSE, digitalSignature, the
 * extended key usage of their role (serverAuth or clientAuth) and, for servers, subjectAltName
 * DNS names and IP addresses; subject and authority key identifiers link a leaf to its CA.
 * `notBefore` is backdated five minutes against clock skew between pods.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { InputError } from "../errors";
import * as der from "./der";

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** Key usage bit numbers (RFC 5280 §4.2.1.3). */
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, PEM-encoded. */
export interface KeyPair {
  readonly certificatePem: string;
  /** PKCS#8 PEM. A secret: only in Kubernetes Secrets and files of mode 0600. */
  readonly privateKeyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Options of {@link createCertificateAuthority}. */
export interface AuthorityOptions {
  readonly commonName: string;
  /** @default 3650 */
  readonly validDays?: number;
  /** @default now */
  readonly now?: Date;
}

/** Options of {@link issueCertificate}. */
export interface IssueOptions {
  /** The subject's common name: the role for a client certificate (PostgreSQL's `cert` auth maps it to the user). */
  readonly commonName: string;
  readonly usage: "server" | "client";
  /** DNS names and IP addresses (subjectAltName) of a server certificate. */
  readonly altNames?: readonly string[];
  /** @default 90 */
  readonly validDays?: number;
  /** @default now */
  readonly now?: Date;
}

function checkName(name: string, what: string): void {
  if (name === "" || name.length > 64 || /[\0\n\r]/.test(name)) {
    throw new InputError(`${what} must be 1–64 characters without line breaks, got ${JSON.stringify(name)}`, { propertyPath: what });
  }
}

function checkDays(days: number, what: string): void {
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new InputError(`${what} must be a whole number of days from 1 to 36500, got ${String(days)}`, { propertyPath: what });
}

function name(commonName: string): Buffer {
  return der.sequence(der.set(der.sequence(der.objectIdentifier(OID.commonName), der.utf8String(commonName))));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.objectIdentifier(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** Subject key identifier: SHA-1 of the DER SubjectPublicKeyInfo (RFC 5280 §4.2.1.2 allows any unique method). */
function keyIdentifier(spki: Buffer): Buffer {
  return createHash("sha1").update(spki).digest();
}

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split(".").map(Number));
  // IPv6: expand "::" then 8 groups of 16 bits.
  const [head = "", tail] = address.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function altName(entry: string): Buffer {
  if (isIP(entry) !== 0) return der.implicit(7, ipBytes(entry));
  if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(entry)) {
    throw new InputError(`not a DNS name or IP address for a certificate: ${JSON.stringify(entry)}`, { propertyPath: "altNames" });
  }
  return der.implicit(2, Buffer.from(entry, "ascii"));
}

interface Signer {
  readonly subject: string;
  readonly key: KeyObject;
  readonly keyId: Buffer;
}

function build(subject: string, publicKey: KeyObject, signer: Signer | "self", privateKey: KeyObject, validity: { from: Date; to: Date }, extensions: Buffer[]): string {
  const spki = publicKey.export({ type: "spki", format: "der" });
  const ownId = keyIdentifier(spki);
  const issuer = signer === "self" ? { subject, key: privateKey, keyId: ownId } : signer;
  const algorithm = der.sequence(der.objectIdentifier(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(Buffer.concat([Buffer.from([0x40 | (randomBytes(1)[0]! & 0x3f)]), randomBytes(15)])),
    algorithm,
    name(issuer.subject),
    der.sequence(der.time(validity.from), der.time(validity.to)),
    name(subject),
    spki,
    der.explicit(
      3,
      der.sequence(
        ...extensions,
        extension(OID.subjectKeyIdentifier, false, der.octetString(ownId)),
        extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, issuer.keyId))),
      ),
    ),
  );
  const signature = sign("sha256", tbs, issuer.key);
  const certificate = der.sequence(tbs, algorithm, der.bitString(signature));
  const base64 = certificate.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

function validity(now: Date, days: number): { from: Date; to: Date } {
  return { from: new Date(now.getTime() - BACKDATE_MS), to: new Date(now.getTime() + days * DAY_MS) };
}

/** A new self-signed certificate authority (a fresh P-256 key). */
export function createCertificateAuthority(options: AuthorityOptions): KeyPair {
  checkName(options.commonName, "commonName");
  const days = options.validDays ?? 3650;
  checkDays(days, "validDays");
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const v = validity(options.now ?? new Date(), days);
  const certificatePem = build(options.commonName, publicKey, "self", privateKey, v, [
    extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
    extension(OID.keyUsage, true, der.namedBits([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN])),
  ]);
  return { certificatePem, privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), notBefore: v.from, notAfter: v.to };
}

/**
 * A certificate signed by `authority` for a server (its names in subjectAltName) or a client (its
 * role in the common name).
 * @throws {InputError} on an invalid name, lifetime, or an authority that is not a CA or has expired.
 */
export function issueCertificate(authority: Pick<KeyPair, "certificatePem" | "privateKeyPem">, options: IssueOptions): KeyPair {
  checkName(options.commonName, "commonName");
  const days = options.validDays ?? 90;
  checkDays(days, "validDays");
  const now = options.now ?? new Date();
  const ca = new X509Certificate(authority.certificatePem);
  if (!ca.ca) throw new InputError("the issuing certificate is not a certificate authority (basicConstraints CA:FALSE)", { propertyPath: "authority" });
  const caKey = createPrivateKey(authority.privateKeyPem);
  if (!ca.checkPrivateKey(caKey)) throw new InputError("the authority's private key does not belong to its certificate", { propertyPath: "authority" });
  const v = validity(now, days);
  if (v.to.getTime() > new Date(ca.validTo).getTime()) {
    throw new InputError(`the certificate would outlive its authority (authority valid until ${new Date(ca.validTo).toISOString()}); rotate the authority first`, { propertyPath: "authority" });
  }
  const subjectOfCa = /CN=([^\n]*)/.exec(ca.subject)?.[1] ?? "";
  const signer: Signer = { subject: subjectOfCa, key: caKey, keyId: keyIdentifier(ca.publicKey.export({ type: "spki", format: "der" })) };
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const alt = options.usage === "server" ? (options.altNames ?? []) : [];
  if (options.usage === "server" && alt.length === 0) throw new InputError("a server certificate needs at least one DNS name or IP address", { propertyPath: "altNames" });
  const certificatePem = build(options.commonName, publicKey, signer, privateKey, v, [
    extension(OID.basicConstraints, true, der.sequence()),
    extension(OID.keyUsage, true, der.namedBits([DIGITAL_SIGNATURE])),
    extension(OID.extKeyUsage, false, der.sequence(der.objectIdentifier(options.usage === "server" ? OID.serverAuth : OID.clientAuth))),
    ...(alt.length > 0 ? [extension(OID.subjectAltName, false, der.sequence(...alt.map(altName)))] : []),
  ]);
  return { certificatePem, privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), notBefore: v.from, notAfter: v.to };
}

/** What a certificate needs. */
export type RenewalDecision =
  | { readonly action: "keep"; readonly renewAt: Date }
  | { readonly action: "renew"; readonly reason: "expiring" | "expired" | "names-changed" | "not-issued-by-authority" };

/**
 * Whether `certificatePem` should be replaced: when it is past two thirds of its lifetime, expired,
 * no longer signed by `authorityPem`, or (servers) its names differ from `altNames`. Renewal at two
 * thirds leaves a third of the lifetime for pods to pick up the new files before the old expire.
 */
export function renewalDecision(certificatePem: string, authorityPem: string, now: Date, altNames?: readonly string[]): RenewalDecision {
  const cert = new X509Certificate(certificatePem);
  const ca = new X509Certificate(authorityPem);
  if (!cert.verify(ca.publicKey)) return { action: "renew", reason: "not-issued-by-authority" };
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  if (now.getTime() >= to) return { action: "renew", reason: "expired" };
  if (altNames !== undefined) {
    const norm = (entry: string): string => (isIP(entry) !== 0 ? ipBytes(entry).toString("hex") : entry.toLowerCase());
    const have = (cert.subjectAltName ?? "").split(", ").filter((s) => s !== "").map((s) => norm(s.replace(/^(DNS|IP Address):/, "")));
    if ([...new Set(have)].sort().join(",") !== [...new Set(altNames.map(norm))].sort().join(",")) return { action: "renew", reason: "names-changed" };
  }
  const renewAt = new Date(from + ((to - from) * 2) / 3);
  return now.getTime() >= renewAt.getTime() ? { action: "renew", reason: "expiring" } : { action: "keep", renewAt };
}
