// The operator's PgBouncer pods on a real node (ADR 0022): the pooler image built from its recipe
// (images/recipes.ts) runs the pod syncPooler writes — non-root, read-only root filesystem, no
// capabilities, the auth file from a Secret through fsGroup — in front of a real PostgreSQL on the
// node's address (a PostgresCluster's instances do not run on real pods yet). The operator's
// pooler steps run here as the controller runs them, one call per reconcile:
// - an application role logs in through the pod (SCRAM against the verifier, SCRAM pass-through
//   to the server);
// - a change of the files reaches the running PgBouncer through the pod annotation (the kubelet's
//   sync) and RELOAD: the time it takes is printed;
// - PAUSE holds a client's transaction and the next reconcile's RESUME lets it finish: 0 errors.
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Pod } from "@kubernetes/client-node";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION } from "../../sdk/api/index";
import { parsePostgresClusterSpec } from "../../sdk/api/parse";
import type { ClusterObject } from "../../sdk/operator/cluster/objects";
import { PGBOUNCER_PORT, POOLER_PAUSED_ANNOTATION } from "../../sdk/operator/cluster/pooler";
import { probePooler, type PoolerTls } from "../../sdk/operator/cluster/pooler-sql";
import { pausePoolers, syncPooler, type PoolerSyncResult } from "../../sdk/operator/cluster/pooler-sync";
import { clusterTlsNames, syncClusterTls, verifiedPoolerName } from "../../sdk/operator/cluster/tls";
import { randomPassword, runIdentity, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { installCrds } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { majors } from "../support/postgres";
import { realNodeToolchain } from "../support/real-node/gate";
import { importPoolerImage } from "../support/real-node/operator";
import { startRealNode, type RealNode } from "../support/real-node/node";

const toolchain = realNodeToolchain();
const major = majors().includes(17) ? 17 : majors()[0]!;
const IMAGE = "setpoint-pooler:test";
const ns = "default";

describe.skipIf(toolchain.skip !== undefined)("real node: the operator's PgBouncer pods", () => {
  let node: RealNode | undefined;
  let pg: EmbeddedPostgres | undefined;
  let work: string | undefined;
  let cluster: ClusterObject | undefined;
  const password = randomPassword();
  const appPassword = randomPassword();
  /** How clients verify the pooler pod (ADR 0044): the cluster's authority, the pooler Service's name. */
  let poolerTls: PoolerTls | undefined;
  const clientSsl = () => ({ ca: poolerTls!.ca, servername: poolerTls!.serverName, rejectUnauthorized: true, minVersion: "TLSv1.3" as const });

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    importPoolerImage(node, IMAGE);
    work = mkdtempSync(join(node.dir, "pooler-files-"));
    const hba = join(work, "pg_hba.conf");
    // Pods reach the server over TLS only, as they reach a cluster's instances (ADR 0035); the
    // node's own address is where the test's host-side connections (the operator's steps) come from.
    writeFileSync(hba, `local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ${node.nodeIp}/32 scram-sha-256\nhostssl all all ${node.podCidr} scram-sha-256\nhost all all ${node.podCidr} reject\n`);
    chmodSync(work, 0o755);
    chmodSync(hba, 0o644);
    // The "primary": a real server on the node's address and the port the pooler's configuration names.
    pg = await startEmbeddedPostgres({ major, password, port: 5432, parameters: { listen_addresses: `127.0.0.1,${node.nodeIp}`, hba_file: hba } });
    const admin = pgClient({ host: "127.0.0.1", port: pg.port, user: "postgres", password, database: "postgres" });
    await admin.connect();
    await admin.query(`create role app login password '${appPassword}'`);
    await admin.query("create database app owner app");
    await admin.end();
    const kc = node.controlPlane.kubeConfig;
    await installCrds(kc, crdManifests());
    await eventually("CRDs served", async () => (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural })) !== undefined);
    // The owner of the pooler's objects (no operator runs here: the test plays its pooler steps).
    cluster = (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: KINDS.PostgresCluster.plural,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "PostgresCluster", metadata: { name: "db" }, spec: { postgresVersion: major, storage: { size: "1Gi" }, pooler: { image: IMAGE } } },
    })) as ClusterObject;
    // The cluster's authority and certificates, as the controller's TLS step makes them (no operator
    // runs here); the server presents its server certificate, which the pooler verifies (verify-ca)
    // against the authority mounted from the server Secret.
    const core = kc.makeApiClient(CoreV1Api);
    const tls = await syncClusterTls(core, cluster, new Date(), undefined, [], { pooler: true });
    poolerTls = { ca: tls.caPem, serverName: verifiedPoolerName("db", ns) };
    const serverTls = (await core.readNamespacedSecret({ name: clusterTlsNames("db").server, namespace: ns })).data!;
    const tlsDir = join(pg.dir, "tls");
    mkdirSync(tlsDir, { mode: 0o700 });
    const identity = runIdentity("nobody", major);
    for (const [file, key] of [["server.crt", "tls.crt"], ["server.key", "tls.key"]] as const) {
      writeFileSync(join(tlsDir, file), Buffer.from(serverTls[key]!, "base64"), { mode: 0o600 });
      if (identity) chownSync(join(tlsDir, file), identity.uid, identity.gid);
    }
    if (identity) chownSync(tlsDir, identity.uid, identity.gid);
    const tlsAdmin = pgClient({ host: "127.0.0.1", port: pg.port, user: "postgres", password, database: "postgres" });
    await tlsAdmin.connect();
    for (const [k, v] of [["ssl_cert_file", join(tlsDir, "server.crt")], ["ssl_key_file", join(tlsDir, "server.key")], ["ssl_min_protocol_version", "TLSv1.3"], ["ssl", "on"]]) {
      await tlsAdmin.query(`alter system set ${k} = '${v}'`);
    }
    await tlsAdmin.query("select pg_reload_conf()");
    await eventually("the server serves TLS", async () => (await tlsAdmin.query<{ ssl: string }>("show ssl")).rows[0]?.ssl === "on");
    await tlsAdmin.end();
  }, 1_500_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    await pg?.stop({ immediate: true });
    await node?.stop();
    expect(node?.leftovers() ?? []).toEqual([]);
  }, 300_000);

  /** One reconcile's pooler steps, as the controller runs them. */
  const reconcile = async (holding = false): Promise<PoolerSyncResult> => {
    const core = node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const byName = <T extends KubernetesObject>(items: T[]) => new Map(items.map((o) => [o.metadata!.name!, o]));
    const spec = parsePostgresClusterSpec({ postgresVersion: major, storage: { size: "1Gi" }, pooler: { image: IMAGE } });
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/pooler=db" })).items;
    return syncPooler({
      cluster: cluster!,
      spec,
      api: core, // the image is imported into containerd: IfNotPresent (a tag other than latest) never pulls it
      pods: byName(pods),
      secrets: byName((await core.listNamespacedSecret({ namespace: ns })).items),
      configMaps: byName((await core.listNamespacedConfigMap({ namespace: ns })).items),
      services: byName((await core.listNamespacedService({ namespace: ns })).items),
      readSecret: async (name, key) => Buffer.from((await core.readNamespacedSecret({ name, namespace: ns })).data![key]!, "base64").toString("utf8"),
      primary: { name: "db-1", ip: node!.nodeIp, target: { host: node!.nodeIp, password, timeoutMs: 5000 } },
      instanceIps: new Map([[node!.nodeIp, "db-1"]]),
      holding,
      now: new Date(),
      timeoutMs: 5000,
      event: () => undefined,
      poolerTls: poolerTls!,
    });
  };
  /** The PgBouncer container's log, from the kubelet's pod log directory (every restart's). */
  const pgbouncerLog = (): string => {
    const root = join(node!.dir, "pod-logs");
    try {
      return readdirSync(root)
        .filter((d) => d.startsWith(`${ns}_db-pooler-1_`))
        .flatMap((d) => readdirSync(join(root, d, "pgbouncer")).sort().map((f) => readFileSync(join(root, d, "pgbouncer", f), "utf8")))
        .join("")
        .slice(-4000);
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  };
  const podIp = async (): Promise<string> => {
    const core = node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    return (await core.readNamespacedPod({ name: "db-pooler-1", namespace: ns })).status!.podIP!;
  };

  it("runs the pooler pod from the recipe's image and serves the application role through it", async () => {
    const status = await eventually(
      "pooler pod ready and pointing at the server",
      async () => {
        const r = await reconcile();
        return r.status?.readyInstances === 1 && r.status.primary === "db-1" ? r.status : undefined;
      },
      240_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\npgbouncer:\n${pgbouncerLog()}\nkubelet:\n${node!.logTail("kubelet").slice(-3000)}`);
    });
    expect(status).toMatchObject({ service: "db-pooler-rw", instances: 1, readyInstances: 1, paused: false });
    // Clients reach PgBouncer over TLS 1.3 only, verified against the pooler's own certificate (ADR 0044).
    const plain = pgClient({ host: await podIp(), port: PGBOUNCER_PORT, user: "app", password: appPassword, database: "app", connectionTimeoutMillis: 5000 });
    await expect(plain.connect()).rejects.toThrow(/SSL required/);
    const client = pgClient({ host: await podIp(), port: PGBOUNCER_PORT, user: "app", password: appPassword, database: "app", connectionTimeoutMillis: 5000, ssl: clientSsl() });
    await client.connect();
    const [row] = (await client.query<{ who: string; addr: string; ssl: boolean }>("select current_user as who, host(inet_server_addr()) as addr, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl")).rows;
    await client.end();
    expect(row).toEqual({ who: "app", addr: node!.nodeIp, ssl: true });
  }, 1_500_000);

  it("brings a file change to the running PgBouncer through the pod annotation and RELOAD, and holds a transaction through PAUSE", async () => {
    const admin = pgClient({ host: "127.0.0.1", port: pg!.port, user: "postgres", password, database: "postgres" });
    await admin.connect();
    await admin.query("create database other owner app");
    await admin.end();
    const adminPassword = Buffer.from((await node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ name: "db-pooler-admin", namespace: ns })).data!["password"]!, "base64").toString("utf8");
    const ip = await podIp();
    const started = Date.now();
    await eventually(
      "the new database served",
      async () => {
        await reconcile();
        return (await probePooler({ host: ip, password: adminPassword, timeoutMs: 5000, tls: poolerTls! })).hosts["other"] === node!.nodeIp ? true : undefined;
      },
      180_000,
    );
    const tookMs = Date.now() - started;
    console.log(`real node: a pgbouncer.ini change reached the running PgBouncer (pod annotated, RELOAD) in ${tookMs} ms`);

    // PAUSE: a connected client's query and a new client's login wait; the next reconcile resumes both.
    const core = node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const connect = async (timeoutMs: number) => {
      const c = pgClient({ host: ip, port: PGBOUNCER_PORT, user: "app", password: appPassword, database: "other", connectionTimeoutMillis: timeoutMs, ssl: clientSsl() });
      await c.connect();
      return c;
    };
    const client = await connect(5000);
    await client.query("select 1");
    const pod: V1Pod = await core.readNamespacedPod({ name: "db-pooler-1", namespace: ns });
    expect(await pausePoolers({ api: core, namespace: ns, pods: [pod], adminPassword, poolMode: "transaction", now: new Date(), timeoutMs: 5000, poolerTls: poolerTls! })).toEqual([]);
    const t0 = Date.now();
    let settled = 0;
    const pending = client.query<{ one: number }>("select 1 as one").finally(() => settled++);
    const newcomer = connect(30_000)
      .then(async (c) => {
        const r = await c.query<{ one: number }>("select 1 as one");
        await c.end();
        return r;
      })
      .finally(() => settled++);
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled).toBe(0); // both held by PAUSE
    const resumed = await reconcile();
    expect(resumed.steps.map((s) => s.step)).toContain("pooler resume db-pooler-1");
    expect((await pending).rows[0]!.one).toBe(1);
    expect((await newcomer).rows[0]!.one).toBe(1);
    const heldMs = Date.now() - t0;
    await client.end();
    console.log(`real node: a query held by PAUSE for ${heldMs} ms, answered after RESUME`);
    expect((await core.readNamespacedPod({ name: "db-pooler-1", namespace: ns })).metadata?.annotations?.[POOLER_PAUSED_ANNOTATION]).toBeUndefined();
  }, 600_000);
});
