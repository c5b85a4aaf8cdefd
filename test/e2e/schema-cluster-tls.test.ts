// The Schema component against a TLS-only server, as a PostgresCluster's instances are (ADR 0035):
// real PostgreSQL 17 accepting only `hostssl` SCRAM logins with a certificate of a private
// authority that names the rw Service, a real API server holding an app Secret shaped like the
// operator's (`uri` with `sslmode=verify-full`, `ca.crt`), the real Pulumi engine. Two Schemas: one
// from the Secret (the URL's host is a name the certificate carries, verified against `ca.crt`, not
// the system's authorities), one from connection fields that connect to an address and verify the
// Service's name (`ca` + `servername`, libpq's hostaddr). Neither the password nor the authority is
// in the state in plain text; a plaintext login is refused by the server.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, describe, expect, it } from "vitest";
import { runIdentity, startEmbeddedPostgres } from "../../sdk/postgres/embedded";
import { createCertificateAuthority, issueCertificate } from "../../sdk/tls/certificates";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { majors } from "../support/postgres";
import { createPulumiProject, errorsOf, REPO_ROOT, summaryOf } from "../support/pulumi";

const MAJOR = 17;
const SERVICE = "shop-rw.default.svc";
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs", "etcd", "kube-apiserver"]);

const PROGRAM = `
const { Schema } = require("setpoint/components");
const fromSecret = new Schema("from-secret", {
  connection: { secretRef: { name: "shop-app", namespace: "default" }, kubeconfig: process.env.SETPOINT_TEST_KUBECONFIG },
  devUrl: process.env.SETPOINT_TEST_DEV_URL,
  schemas: ["a"],
  sql: "CREATE SCHEMA a; CREATE TABLE a.orders (id int PRIMARY KEY);",
});
const fromFields = new Schema("from-fields", {
  connection: {
    host: "127.0.0.1",
    port: Number(process.env.SETPOINT_TEST_PORT),
    user: "shop",
    password: process.env.SETPOINT_TEST_PASSWORD,
    database: "postgres",
    ca: process.env.SETPOINT_TEST_CA,
    servername: "${SERVICE}",
  },
  devUrl: process.env.SETPOINT_TEST_DEV_URL,
  schemas: ["b"],
  sql: "CREATE SCHEMA b; CREATE TABLE b.items (id int PRIMARY KEY);",
});
exports.hashes = [fromSecret.planHash, fromFields.planHash];
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe.skipIf(toolchain.skip !== undefined || !majors().includes(MAJOR))("Schema against a TLS-only server (a cluster's app Secret and ca.crt)", () => {
  it("connects verify-full with the Secret's ca.crt, and with ca + servername fields to an address; plaintext is refused", async () => {
    if (!existsSync(join(REPO_ROOT, "dist/components/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    const ca = createCertificateAuthority({ commonName: "shop ca" });
    // Like the operator's server certificate: the Service's names, no address.
    const cert = issueCertificate(ca, { commonName: SERVICE, usage: "server", altNames: [SERVICE, "localhost"] });
    const dev = await startEmbeddedPostgres({ major: MAJOR });
    cleanups.push(() => dev.stop());
    const server = await startEmbeddedPostgres({ major: MAJOR });
    cleanups.push(() => server.stop());
    const identity = runIdentity("nobody", MAJOR);
    const tls = join(server.dir, "tls");
    mkdirSync(tls, { mode: 0o700 });
    for (const [file, text] of Object.entries({ "server.crt": cert.certificatePem, "server.key": cert.privateKeyPem })) {
      writeFileSync(join(tls, file), text, { mode: 0o600 });
      if (identity) chownSync(join(tls, file), identity.uid, identity.gid);
    }
    if (identity) chownSync(tls, identity.uid, identity.gid);
    chmodSync(tls, 0o700);
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const admin = pgClient({ connectionString: server.url() });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE shop LOGIN PASSWORD '${password}'`);
      await admin.query("GRANT CREATE ON DATABASE postgres TO shop");
      for (const [k, v] of [
        ["ssl", "on"],
        ["ssl_cert_file", join(tls, "server.crt")],
        ["ssl_key_file", join(tls, "server.key")],
        ["ssl_min_protocol_version", "TLSv1.3"],
      ]) {
        await admin.query(`ALTER SYSTEM SET ${k} = '${v}'`);
      }
      writeFileSync(
        join(server.dir, "data", "pg_hba.conf"),
        // The test's own superuser keeps its plaintext loopback login; the application role gets TLS only.
        ["local all all trust", "host all postgres 127.0.0.1/32 trust", "hostssl all shop 127.0.0.1/32 scram-sha-256", "hostssl all shop ::1/128 scram-sha-256", "host all all 0.0.0.0/0 reject", "host all all ::/0 reject", ""].join("\n"),
      );
      await admin.query("SELECT pg_reload_conf()");
    } finally {
      await admin.end();
    }
    // The server refuses what the Schema used to send: a plaintext login.
    const plain = pgClient({ host: "127.0.0.1", port: server.port, user: "shop", password, database: "postgres", connectionTimeoutMillis: 5000 });
    await expect(plain.connect()).rejects.toThrow(/no encryption|reject/);
    await plain.end().catch(() => undefined);

    const plane = await startControlPlane();
    cleanups.push(() => plane.stop());
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    // The operator's app Secret: a URL whose host the certificate names, verify-full, and the authority.
    const uri = `postgresql://shop:${encodeURIComponent(password)}@localhost:${server.port}/postgres?sslmode=verify-full`;
    await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "shop-app" }, stringData: { uri, "ca.crt": ca.certificatePem, password } } });

    const cache = mkdtempSync(join(tmpdir(), "setpoint-schema-tls-cache-"));
    cleanups.push(() => rmSync(cache, { recursive: true, force: true }));
    const project = await createPulumiProject({
      toolchain: toolchain.env!,
      name: "schema-cluster-tls",
      files: { "index.js": PROGRAM },
      installSetpoint: true,
      env: {
        SETPOINT_CACHE_DIR: cache,
        SETPOINT_TEST_KUBECONFIG: plane.kubeconfigPath,
        SETPOINT_TEST_DEV_URL: dev.url(),
        SETPOINT_TEST_PORT: String(server.port),
        SETPOINT_TEST_PASSWORD: password,
        SETPOINT_TEST_CA: ca.certificatePem,
      },
    });
    cleanups.push(() => project.cleanup());

    const preview = await project.pulumi("preview", "--diff");
    expect(preview).toContain("CREATE TABLE a.orders");
    expect(preview).toContain("CREATE TABLE b.items");
    const up = await project.up();
    expect(summaryOf(up), errorsOf(up)).toMatchObject({ result: "succeeded" });
    const check = pgClient({ connectionString: server.url() });
    await check.connect();
    try {
      const { rows } = await check.query("SELECT schemaname || '.' || tablename AS t, tableowner AS owner FROM pg_tables WHERE schemaname IN ('a', 'b') ORDER BY 1");
      expect(rows).toEqual([
        { t: "a.orders", owner: "shop" },
        { t: "b.items", owner: "shop" },
      ]);
    } finally {
      await check.end();
    }
    const again = await project.up();
    expect(summaryOf(again)?.resourceChanges).toEqual({ same: 5 });

    const exported = await project.pulumi("stack", "export");
    expect(exported).not.toContain(password);
    // The authority comes with the credentials: secret in state too.
    expect(exported).not.toContain(ca.certificatePem.split("\n")[1]!);
  }, 300_000);
});
