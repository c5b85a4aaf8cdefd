// Secrets hygiene of a full run (issue 19): the real Pulumi engine `pulumi up`s a PostgresCluster
// with a managed role whose password comes from a Pulumi secret through a Kubernetes Secret (and a
// PgBouncer pooler when pgbouncer is installed), reads the application Secret back to build the
// connection URI of a PostgresSchema, adds PostgresSchemas whose URIs (with a real password in
// them) cannot connect or do not parse (their errors reach status) and a PostgresUpgrade that
// cannot start; the operator runs against a real API
// server with the node harness running real PostgreSQL. The role logs in over SCRAM with the
// Secret's password, and a second `pulumi up` with a new password rotates it. Then every place a
// user or an operator can read — the operator's log (its JSON logger, debug lines included), the status of every PostgresCluster,
// PostgresSchema and PostgresUpgrade, every Event, `pulumi stack export` and the console output of
// `pulumi up --diff` — is searched for the actual secrets of the run: every password (the role's, both of them; the
// superuser's, the application owner's, the replication role's, the pooler admin's), the
// secret parts of the SCRAM verifiers on the server, the kubeconfig's private key, and any PEM
// private key. None may appear. (Not swept: `pulumi up --json`, whose engine event stream carries
// Pulumi secrets' plaintext next to their secret signature by Pulumi's design.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig } from "../support/cluster-tls";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { GROUP, KINDS, VERSION } from "../../sdk/api/index";
import { clusterMajor, useCluster } from "../support/cluster";
import { toolchainOrSkip } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { startPoolerNode, type PoolerNode } from "../support/node/pooler-node";
import { createPulumiProject, requireTypeScriptPrelude, type PulumiProject } from "../support/pulumi";
import { sweepSecrets, verifierKeys } from "../support/secrets-sweep";
import { jsonLogger } from "../../sdk/reconcile/internal/logger";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager"]);
const withPooler = inject("pgbouncerMissing") === null;
const ns = "sweep";
const WAIT_MS = 180_000;

const PROGRAM = `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { PostgresCluster } = require(REPO + "/components/postgres-cluster.ts");

const namespace = "${ns}";
const config = new pulumi.Config();
const kubeconfig = pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8"));
const provider = new k8s.Provider("harness", { kubeconfig });
const svcPassword = config.requireSecret("svcPassword");
const svcSecret = new k8s.core.v1.Secret("svc-pw", { metadata: { name: "svc-pw", namespace }, stringData: { password: svcPassword } }, { provider });
const cluster = new PostgresCluster("shop", {
  namespace,
  postgresVersion: ${clusterMajor},
  instances: 1,
  storage: { size: "1Gi" },
  roles: [
    { name: "svc", login: true, inRoles: ["pg_read_all_data"], passwordSecret: { secretName: "svc-pw" }, comment: "the service" },
    { name: "readers" },
  ],
  ${withPooler ? "pooler: { instances: 1 }," : ""}
  readyTimeout: "4m",
  kubeconfig,
}, { providers: [provider], dependsOn: [svcSecret] });

// The application Secret read back: a user building a connection URI from it.
const app = k8s.core.v1.Secret.get("app", pulumi.interpolate\`\${cluster.namespace}/\${cluster.secretName}\`, { provider });
// Read once the cluster is Ready (readWriteHost settles then): dependsOn a component waits for its
// children's creation, not for the operator's pods.
const primary = k8s.core.v1.Pod.get("primary", pulumi.all([cluster.namespace, cluster.clusterName, cluster.readWriteHost]).apply(([ns, n]) => \`\${ns}/\${n}-1\`), { provider });
const field = (key) => app.data.apply((d) => Buffer.from(d[key], "base64").toString("utf8"));
// TLS (ADR 0035): verify-full against the Secret's authority and name, connecting to the primary's address.
const uri = pulumi.secret(pulumi.interpolate\`postgresql://\${field("username")}:\${field("password").apply(encodeURIComponent)}@\${field("host")}:5432/\${field("dbname")}?hostaddr=\${primary.status.podIP}&sslmode=verify-full\`);
const schemaUri = new k8s.core.v1.Secret("schema-uri", { metadata: { name: "schema-uri", namespace }, stringData: { uri, "ca.crt": field("ca.crt") } }, { provider });
// A URI that cannot connect, with a real password in it: its error must reach status without it.
const brokenUri = new k8s.core.v1.Secret("broken-uri", {
  metadata: { name: "broken-uri", namespace },
  stringData: { uri: pulumi.interpolate\`postgresql://svc:\${svcPassword.apply(encodeURIComponent)}@127.0.0.1:1/app?sslmode=disable\` },
}, { provider });
const schema = (name, secret) => new k8s.apiextensions.CustomResource(name, {
  apiVersion: "${GROUP}/${VERSION}",
  kind: "PostgresSchema",
  metadata: { name, namespace },
  spec: { connection: { secretRef: { name: secret.metadata.name } }, desired: { sql: "CREATE TABLE notes (id bigint PRIMARY KEY, body text);" } },
}, { provider });
// A URI that does not even parse (a port out of range), a real password in it.
const garbledUri = new k8s.core.v1.Secret("garbled-uri", {
  metadata: { name: "garbled-uri", namespace },
  stringData: { uri: pulumi.interpolate\`postgresql://svc:\${svcPassword.apply(encodeURIComponent)}@127.0.0.1:99999999/app\` },
}, { provider });
schema("tables", schemaUri);
schema("broken", brokenUri);
schema("garbled", garbledUri);
new k8s.apiextensions.CustomResource("nowhere", {
  apiVersion: "${GROUP}/${VERSION}",
  kind: "PostgresUpgrade",
  metadata: { name: "nowhere", namespace },
  spec: { from: { clusterRef: { name: "missing-blue" }, postgresVersion: 16 }, to: { clusterRef: { name: "missing-green" }, postgresVersion: 17 } },
}, { provider });

exports.readWriteHost = cluster.readWriteHost;
exports.uri = uri;
`;

describe.skipIf(toolchain.skip !== undefined)(`secrets hygiene of a full run (real Pulumi engine, operator, PostgreSQL ${clusterMajor}${withPooler ? ", pooler" : ""})`, () => {
  // The operator's real JSON logger, debug lines included: every line it would print.
  const lines: string[] = [];
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS, operator: { logger: jsonLogger({ quietDebug: false, write: (line) => lines.push(line) }) } });
  const { secretValue } = env;
  let poolerNode: PoolerNode | undefined;
  let project: PulumiProject | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    if (withPooler) poolerNode = await startPoolerNode({ kubeConfig: env.kubeConfig, avoidBlock: env.node.block });
    dir = mkdtempSync(join(tmpdir(), "setpoint-sweep-"));
    writeFileSync(join(dir, "kubeconfig"), env.kubeConfig.exportConfig(), { mode: 0o600 });
    project = await createPulumiProject({ toolchain: toolchain.env!, name: "secrets-sweep", files: { "index.js": PROGRAM }, env: { SETPOINT_TEST_KUBECONFIG: join(dir, "kubeconfig") } });
  }, 60_000);
  afterAll(async () => {
    project?.cleanup();
    await poolerNode?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const crs = async (kind: "PostgresCluster" | "PostgresSchema" | "PostgresUpgrade") =>
    ((await env.objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS[kind].plural })) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string; reason: string; message?: string }[] } }[] }).items;
  const login = async (user: string, password: string): Promise<string> => {
    const c = pgClient(await clusterClientConfig(env.core, ns, "shop", { host: await env.podIp("shop-1"), user, password, database: "app" }));
    await c.connect();
    try {
      return (await c.query<{ u: string }>("select current_user as u")).rows[0]!.u;
    } finally {
      await c.end();
    }
  };

  it("finds no password, verifier key, private key or token in logs, statuses, Events or the Pulumi state", async () => {
    onTestFailed(() => console.error(`operator log:\n${lines.slice(-40).join("\n")}`));
    const first = `first-${randomBytes(12).toString("base64url")}`;
    const second = `second-${randomBytes(12).toString("base64url")}`;
    await project!.pulumiWithInput(first, "config", "set", "--secret", "svcPassword");
    // As a user runs it: the console output, with every resource's inputs shown (--diff).
    const up = await project!.pulumi("up", "--yes", "--skip-preview", "--diff");
    expect(up).toMatch(/Resources:[\s\S]*created/);
    await eventually("svc logs in with the Secret's password", async () => (await login("svc", first).catch(() => undefined)) === "svc", WAIT_MS);

    // Rotation through Pulumi: the new password replaces the old one.
    await project!.pulumiWithInput(second, "config", "set", "--secret", "svcPassword");
    const rotate = await project!.pulumi("up", "--yes", "--skip-preview", "--diff");
    expect(rotate).toMatch(/Resources:[\s\S]*(replaced|updated)/);
    await eventually("svc logs in with the rotated password", async () => (await login("svc", second).catch(() => undefined)) === "svc", WAIT_MS);
    await expect(login("svc", first)).rejects.toThrow(/password authentication failed/);

    // Every resource has reported: the good schema applied, the broken one failed, the upgrade refused.
    await eventually("schemas and upgrade reported", async () => {
      const schemas = await crs("PostgresSchema");
      const ready = (name: string) => schemas.find((s) => s.metadata.name === name)?.status?.conditions?.find((c) => c.type === "Ready");
      const upgrade = (await crs("PostgresUpgrade"))[0]?.status?.conditions?.find((c) => c.type === "Degraded");
      const failed = (name: string) => ready(name)?.status === "False" && ready(name)?.message !== undefined;
      return ready("tables")?.status === "True" && failed("broken") && failed("garbled") && upgrade?.status === "True";
    }, WAIT_MS);
    if (withPooler) await eventually("pooler ready", async () => (await crs("PostgresCluster"))[0]?.status && ((await env.read("shop")).status?.pooler?.readyInstances ?? 0) >= 1, WAIT_MS);

    // The secrets of this run, as they really are.
    const verifiers = await env.query<{ name: string; v: string }>("shop", await env.podIp("shop-1"), "select rolname as name, rolpassword as v from pg_authid where rolpassword like 'SCRAM-SHA-256$%'");
    expect(verifiers.map((r) => r.name)).toEqual(expect.arrayContaining(["svc", "app", "streaming_replica"]));
    const user = env.kubeConfig.getCurrentUser();
    const clientKey = Buffer.from(user?.keyData ?? "", "base64").toString("utf8");
    expect(clientKey).toMatch(/PRIVATE KEY/);
    const secrets: Record<string, string> = {
      "svc password (first)": first,
      "svc password (rotated)": second,
      "superuser password": await secretValue("shop-superuser", "password"),
      "app password": await secretValue("shop-app", "password"),
      "replication password": await secretValue("shop-replication", "password"),
      "kubeconfig client key (base64)": user!.keyData!,
      "kubeconfig client key body": clientKey.split("\n")[1]!,
      ...Object.fromEntries(verifiers.flatMap((r) => verifierKeys(r.v).map((k, i) => [`${r.name} verifier ${i === 0 ? "StoredKey" : "ServerKey"}`, k]))),
      ...(user?.token ? { "kubeconfig token": user.token } : {}),
      ...(withPooler ? { "pooler admin password": await secretValue("shop-pooler-admin", "password") } : {}),
    };
    const statuses = async (kind: "PostgresCluster" | "PostgresSchema" | "PostgresUpgrade") => JSON.stringify((await crs(kind)).map((o) => [o.metadata.name, o.status]));
    const events = (await env.core.listEventForAllNamespaces()).items;
    expect(events.length).toBeGreaterThan(0);
    const texts = {
      "operator log": lines.join("\n"),
      "PostgresCluster status": await statuses("PostgresCluster"),
      "PostgresSchema status": await statuses("PostgresSchema"),
      "PostgresUpgrade status": await statuses("PostgresUpgrade"),
      Events: JSON.stringify(events.map((e) => [e.involvedObject.kind, e.involvedObject.name, e.reason, e.message])),
      "pulumi up (first)": up,
      "pulumi up (rotation)": rotate,
      "pulumi stack export": await project!.pulumi("stack", "export"),
    };
    // The sweep finds a planted secret, raw or base64, and a private key: a clean result means something.
    expect(sweepSecrets({ planted: `x ${first} y ${Buffer.from(second).toString("base64")} ${clientKey}` }, { first, second }).map((l) => l.what)).toEqual(["first", "second (base64)", "a PEM private key"]);
    const leaks = sweepSecrets(texts, secrets);
    expect(leaks, leaks.map((l) => `${l.what} in ${l.where}: …${l.context}…`).join("\n")).toEqual([]);
    console.log(`secrets sweep: ${Object.keys(secrets).length} secret values (and their base64) in ${Object.keys(texts).length} places (${Object.values(texts).reduce((n, t) => n + t.length, 0)} characters, ${events.length} Events, ${lines.length} log lines): no leak`);
  }, 600_000);
});
