// Certificates from sdk/tls against real PostgreSQL servers (14–18): the server presents a
// certificate of the cluster's authority with TLS 1.3 as the minimum, clients verify it with the
// authority and the host name (libpq's verify-full), and `cert` authentication accepts a client
// certificate of that authority whose common name is the role — and refuses a plaintext
// connection, another authority's certificate and a certificate naming another role.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClientConfig } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIdentity, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { createCertificateAuthority, issueCertificate, type KeyPair } from "../../sdk/tls/certificates";
import { majors } from "../support/postgres";

async function connectWith(config: ClientConfig): Promise<string> {
  const c = pgClient({ ...config, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    const r = await c.query<{ v: string; u: string }>("SELECT (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS v, current_user AS u");
    return `${r.rows[0]!.u} ${r.rows[0]!.v}`;
  } finally {
    // end() never settles on a connection the server already dropped during the handshake.
    await Promise.race([c.end().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
}

describe.each(majors())("TLS with Setpoint's certificates, PostgreSQL %i", (major) => {
  let server: EmbeddedPostgres;
  const ca = createCertificateAuthority({ commonName: "setpoint test ca" });
  const foreignCa = createCertificateAuthority({ commonName: "someone else's ca" });
  const serverCert = issueCertificate(ca, { commonName: "db", usage: "server", altNames: ["localhost", "127.0.0.1"] });
  const appCert = issueCertificate(ca, { commonName: "app", usage: "client" });
  const foreignAppCert = issueCertificate(foreignCa, { commonName: "app", usage: "client" });
  const otherRoleCert = issueCertificate(ca, { commonName: "someone", usage: "client" });
  const client = (cert: KeyPair) => ({ cert: cert.certificatePem, key: cert.privateKeyPem });

  beforeAll(async () => {
    server = await startEmbeddedPostgres({ major });
    const identity = runIdentity("nobody", major);
    const tls = join(server.dir, "tls");
    mkdirSync(tls, { mode: 0o700 });
    const files: Record<string, string> = { "server.crt": serverCert.certificatePem, "server.key": serverCert.privateKeyPem, "ca.crt": ca.certificatePem };
    for (const [file, text] of Object.entries(files)) {
      writeFileSync(join(tls, file), text, { mode: 0o600 });
      if (identity) chownSync(join(tls, file), identity.uid, identity.gid);
    }
    if (identity) chownSync(tls, identity.uid, identity.gid);
    chmodSync(tls, 0o700);
    const admin = pgClient({ connectionString: server.url() });
    await admin.connect();
    try {
      await admin.query("CREATE ROLE app LOGIN");
      await admin.query("CREATE ROLE someone LOGIN");
      for (const [k, v] of [
        ["ssl", "on"],
        ["ssl_cert_file", join(tls, "server.crt")],
        ["ssl_key_file", join(tls, "server.key")],
        ["ssl_ca_file", join(tls, "ca.crt")],
        ["ssl_min_protocol_version", "TLSv1.3"],
      ]) {
        await admin.query(`ALTER SYSTEM SET ${k} = '${v}'`);
      }
      // The test's own rules: the superuser keeps its socket; every TCP role needs TLS and a certificate.
      writeFileSync(
        join(server.dir, "data", "pg_hba.conf"),
        ["local all all trust", "hostssl all postgres 127.0.0.1/32 trust", "hostssl all all 127.0.0.1/32 cert", "host all all 127.0.0.1/32 reject", ""].join("\n"),
      );
      await admin.query("SELECT pg_reload_conf()");
    } finally {
      await admin.end();
    }
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  const base = () => ({ host: "127.0.0.1", port: server.port, database: "postgres" });

  it("verifies the server (authority and host name) and authenticates a client certificate as its role over TLS 1.3", async () => {
    await expect(connectWith({ ...base(), user: "app", ssl: { ca: ca.certificatePem, ...client(appCert) } })).resolves.toBe("app TLSv1.3");
    await expect(connectWith({ ...base(), host: "localhost", user: "app", ssl: { ca: ca.certificatePem, ...client(appCert) } })).resolves.toBe("app TLSv1.3");
  });

  it("refuses what it must: plaintext, another authority's client, a certificate of another role, an unverifiable server", async () => {
    await expect(connectWith({ ...base(), user: "app", ssl: false })).rejects.toThrow(/pg_hba\.conf rejects|no encryption/);
    await expect(connectWith({ ...base(), user: "app", ssl: { ca: ca.certificatePem, ...client(foreignAppCert) } })).rejects.toThrow(/alert unknown ca/);
    await expect(connectWith({ ...base(), user: "app", ssl: { ca: ca.certificatePem, ...client(otherRoleCert) } })).rejects.toThrow(/certificate authentication failed/);
    await expect(connectWith({ ...base(), user: "app", ssl: { ca: foreignCa.certificatePem, ...client(appCert) } })).rejects.toThrow(/self-signed|unable to (get|verify)/);
  });

  it("refuses TLS below 1.3", async () => {
    await expect(connectWith({ ...base(), user: "app", ssl: { ca: ca.certificatePem, ...client(appCert), maxVersion: "TLSv1.2" } })).rejects.toThrow(/alert protocol version/);
  });
});
