// Least privilege and the refusals that hold today, on real pods (issue 19, ADR 0031): a real node
// (kubelet + containerd + runc, test/support/real-node), Setpoint's instance image, the operator run
// by this process reconciling a 2-instance cluster. What the kernel says about each instance's PID 1
// (/proc/<pid>/status and mountinfo of the task containerd started): uid 26, no capabilities at all
// (effective, permitted, bounding), no_new_privs, seccomp filtering, a read-only root filesystem
// with /tmp and the data volume writable, no service-account token mounted. The cluster's
// NetworkPolicy and certificate Secrets exist, owned by it. From this host (outside the cluster),
// TLS is on (ADR 0035): the certificate Secrets are mounted 0440 group 26 and the manager runs the
// server on its own 0600 copies (ssl on, TLS 1.3, no plaintext rule), the replica streams over
// TLS 1.3 with the replication certificate. From this host (outside the cluster: no pod of it, no
// certificate the operator gave out), every attack is refused with the server's own error:
// plaintext, a wrong password, replication without the role's certificate (with its real
// password), replication as the superuser, the superuser with its real password, an expired
// client certificate of the cluster's own authority, a foreign authority's certificates, the
// operator's certificate used for replication, TLS 1.2. NetworkPolicy enforcement cannot be
// tested here (no policy engine runs without ipset/nftables): its rules' contents are. Last, the
// server certificate is rotated (a new spec.tls.serverNames entry makes the operator re-issue it)
// while an application session writes and new verify-full handshakes run against both instances:
// each instance serves the new certificate (verified against the new name) within the kubelet's
// Secret sync and the manager's reload, with no failed handshake, transaction or lost row. Then the
// authority itself is rotated on request (ADR 0049; the operator's overlap shortened to 30 s):
// the trust bundle, the leaves, the old authority out, under the same load, none failing; after it
// a certificate of the old authority is refused and replication streams on the new one.
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { readFileSync, statSync } from "node:fs";
import { type ClientConfig } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import { recorder } from "../support/cluster";
import { clusterClientConfig } from "../support/cluster-tls";
import { createCertificateAuthority, issueCertificate } from "../../sdk/tls/certificates";
import { ROTATE_AUTHORITY_ANNOTATION } from "../../sdk/operator/cluster/tls";
import { X509Certificate } from "node:crypto";
import { installCrds } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { startWriter } from "../support/writer";
import { realNodeToolchain } from "../support/real-node/gate";
import { run } from "../support/real-node/host";
import { importInstanceImage, importPoolerImage } from "../support/real-node/operator";
import { poolerSsl } from "../support/cluster-tls";
import { PGBOUNCER_PORT } from "../../sdk/operator/cluster/pooler";
import { consoleConfig } from "../../sdk/operator/cluster/pooler-sql";
import { verifiedPoolerName } from "../../sdk/operator/cluster/tls";
import { startRealNode, type RealNode } from "../support/real-node/node";
import { startVolumeProvisioner } from "../support/real-node/volumes";
import { majors } from "../support/postgres";

const toolchain = realNodeToolchain();
const major = majors().includes(17) ? 17 : majors()[0]!;
const ns = "default";
const WAIT_MS = 300_000;
/** The PgBouncer image, built from its recipe (ADR 0044: its pod holds the pooler's own certificate). */
const POOLER = "setpoint-pooler:test";

describe.skipIf(toolchain.skip !== undefined)("real node: least-privilege instance pods and the refusals of a cluster", () => {
  let node: RealNode | undefined;
  let operator: RunningOperator | undefined;
  let stopProvisioner = (): void => undefined;
  const lines: string[] = [];
  const core = (): CoreV1Api => node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const objects = (): CustomObjectsApi => node!.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
  const password = async (name: string): Promise<string> => Buffer.from((await core().readNamespacedSecret({ name, namespace: ns })).data!.password!, "base64").toString("utf8");

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    importInstanceImage(node, major);
    importPoolerImage(node, POOLER);
    await installCrds(node.controlPlane.kubeConfig, crdManifests());
    stopProvisioner = startVolumeProvisioner(node, ns, (m) => lines.push(m));
    operator = await startOperator({
      kubeconfig: node.controlPlane.kubeConfig,
      namespace: ns,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      logger: recorder(lines),
      metrics: new MetricsRegistry(),
      // The authority's rotation (last test) in 30 s steps instead of 7 days: above the kubelet's
      // Secret sync here (10 s) plus the manager's reload.
      authorityOverlapSeconds: 30,
    });
    await createCustomObject(objects(), ns, "PostgresCluster", "vault", { postgresVersion: major, instances: 2, storage: { size: "1Gi" }, pooler: { instances: 1, image: POOLER } });
    await eventually(
      "vault Ready with both instances ready",
      async () => {
        const c = (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "vault" })) as { status?: PostgresClusterStatus };
        // Every instance ready, not only the primary: the checks below read each pod's running container.
        return c.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True") && c.status.instances?.length === 2 && c.status.instances.every((i) => i.ready) && c.status.pooler?.readyInstances === 1 ? c : undefined;
      },
      WAIT_MS,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- operator\n${lines.slice(-30).join("\n")}`);
    });
  }, 1_800_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    stopProvisioner();
    await operator?.stop();
    await node?.stop();
  }, 600_000);

  const secretData = async (name: string): Promise<Record<string, string>> =>
    Object.fromEntries(Object.entries((await core().readNamespacedSecret({ name, namespace: ns })).data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
  /** Runs `sql` on `pod` as the operator does: verify-full, the operator's client certificate. */
  const asOperator = async (pod: string, sql: string): Promise<unknown[]> => {
    const host = (await core().readNamespacedPod({ name: pod, namespace: ns })).status!.podIP!;
    const c = pgClient(await clusterClientConfig(core(), ns, "vault", { host }));
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };

  /** The host PID of a pod's container's PID 1, from containerd. */
  const taskPid = async (pod: string): Promise<number> => {
    const id = (await core().readNamespacedPod({ name: pod, namespace: ns })).status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    const row = run("ctr", ["--address", node!.containerdSocket, "-n", "k8s.io", "tasks", "ls"]).out.split("\n").find((l) => l.startsWith(id));
    return Number(row!.trim().split(/\s+/)[1]);
  };

  it("runs every instance's PID 1 unprivileged: uid 26, no capabilities, no_new_privs, seccomp, read-only root, no token", async () => {
    for (const pod of ["vault-1", "vault-2"]) {
      const pid = await taskPid(pod);
      const status = Object.fromEntries(
        readFileSync(`/proc/${pid}/status`, "utf8")
          .split("\n")
          .map((l) => l.split(":\t"))
          .filter((p) => p.length === 2)
          .map(([k, v]) => [k!, v!.trim()]),
      );
      expect({ pod, uid: status.Uid, gid: status.Gid, eff: status.CapEff, prm: status.CapPrm, bnd: status.CapBnd, nnp: status.NoNewPrivs, seccomp: status.Seccomp }).toEqual({
        pod,
        uid: "26\t26\t26\t26",
        gid: "26\t26\t26\t26",
        eff: "0000000000000000",
        prm: "0000000000000000",
        bnd: "0000000000000000",
        nnp: "1",
        seccomp: "2",
      });
      // mountinfo: mount point is field 5, per-mount options field 6.
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split(" "))
        .map((f) => ({ at: f[4]!, options: f[5]!.split(",") }));
      const at = (p: string) => mounts.filter((m) => m.at === p).at(-1);
      expect(at("/")?.options).toContain("ro");
      expect(at("/tmp")?.options).toContain("rw");
      expect(at("/var/lib/postgresql/data")?.options).toContain("rw");
      expect(at("/etc/setpoint")?.options).toContain("ro");
      expect(mounts.some((m) => m.at.includes("serviceaccount"))).toBe(false);
    }
  });

  it("writes the cluster's NetworkPolicy and certificate Secrets, owned by the cluster", async () => {
    const policy = await node!.controlPlane.kubeConfig.makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: "vault-instances", namespace: ns });
    expect(policy.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "vault" });
    expect(policy.spec?.ingress?.length).toBe(3);
    for (const name of ["vault-ca", "vault-server-tls", "vault-replication-tls", "vault-operator-tls"]) {
      const s = await core().readNamespacedSecret({ name, namespace: ns });
      expect(s.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "vault" });
    }
  });

  it("mounts the certificates read-only, 0440 group 26, and runs the server on the manager's own 0600 copies: ssl on, TLS 1.3, Setpoint's hba", async () => {
    for (const pod of ["vault-1", "vault-2"]) {
      const root = `/proc/${await taskPid(pod)}/root`;
      for (const dir of ["/etc/setpoint-tls/server", "/etc/setpoint-tls/replication"]) {
        const key = statSync(`${root}${dir}/tls.key`);
        expect({ pod, dir, mode: (key.mode & 0o777).toString(8), gid: key.gid }).toEqual({ pod, dir, mode: "440", gid: 26 });
      }
      for (const copy of ["server.key", "replication.key", "pg_hba.conf"]) {
        const st = statSync(`${root}/tmp/setpoint/${copy}`);
        expect({ pod, copy, mode: (st.mode & 0o777).toString(8), uid: st.uid }).toEqual({ pod, copy, mode: "600", uid: 26 });
      }
    }
    const settings = await asOperator("vault-1", "select current_setting('ssl') as ssl, current_setting('ssl_min_protocol_version') as min, current_setting('hba_file') as hba, (select count(*) from pg_hba_file_rules where type = 'host')::int as plain");
    expect(settings).toEqual([{ ssl: "on", min: "TLSv1.3", hba: "/tmp/setpoint/pg_hba.conf", plain: 0 }]);
    // The replica streams over TLS 1.3 with the replication role's certificate (verify-full on its side).
    const streams = await asOperator("vault-1", "select r.state, s.ssl, s.version, s.client_dn from pg_stat_replication r join pg_stat_ssl s using (pid)");
    expect(streams).toEqual([{ state: "streaming", ssl: true, version: "TLSv1.3", client_dn: "/CN=streaming_replica" }]);
  });

  it("refuses every attack from outside the cluster with the server's own error", async () => {
    const host = (await core().readNamespacedPod({ name: "vault-1", namespace: ns })).status!.podIP!;
    const superPassword = await password("vault-superuser");
    const replicationPassword = await password("vault-replication");
    const appPassword = await password("vault-app");
    const ca = await secretData("vault-ca");
    const authority = { certificatePem: ca["ca.crt"]!, privateKeyPem: ca["ca.key"]! };
    const foreignCa = createCertificateAuthority({ commonName: "someone else's ca" });
    const expired = issueCertificate(authority, { commonName: "streaming_replica", usage: "client", validDays: 1, now: new Date(Date.now() - 3 * 24 * 3600 * 1000) });
    const foreignReplication = issueCertificate(foreignCa, { commonName: "streaming_replica", usage: "client" });
    const foreignOperator = issueCertificate(foreignCa, { commonName: "postgres", usage: "client" });
    const operator = await secretData("vault-operator-tls");
    const verified = (extra: object = {}): object => ({ ca: ca["ca.crt"], servername: "vault-rw.default.svc", minVersion: "TLSv1.3", rejectUnauthorized: true, ...extra });
    const physical = { replication: "true", database: "replication" };
    const attempt = async (config: ClientConfig & { replication?: string }): Promise<string> => {
      const c = pgClient({ host, port: 5432, database: "postgres", connectionTimeoutMillis: 5000, ...config } as ClientConfig);
      try {
        await c.connect();
        return "connected";
      } catch (err) {
        return (err as Error).message;
      } finally {
        // end() of a connection the server dropped mid-handshake can wait forever: bounded.
        await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
      }
    };
    // What works: the application over verify-full with its password, the operator with its certificate.
    expect(await attempt({ user: "app", password: appPassword, database: "app", ssl: verified() })).toBe("connected");
    expect(await attempt({ user: "postgres", ssl: verified({ cert: operator["tls.crt"], key: operator["tls.key"] }) })).toBe("connected");
    const results = {
      plaintext: await attempt({ user: "app", password: appPassword, database: "app", ssl: false }),
      wrongPassword: await attempt({ user: "app", password: `${appPassword}x`, database: "app", ssl: verified() }),
      replicationWithPasswordNoCertificate: await attempt({ ...physical, user: "streaming_replica", password: replicationPassword, ssl: verified() }),
      replicationAsSuperuser: await attempt({ ...physical, user: "postgres", password: superPassword, ssl: verified() }),
      superuserWithPassword: await attempt({ user: "postgres", password: superPassword, ssl: verified() }),
      superuserPlaintext: await attempt({ user: "postgres", password: superPassword, ssl: false }),
      expiredClientCertificate: await attempt({ ...physical, user: "streaming_replica", ssl: verified({ cert: expired.certificatePem, key: expired.privateKeyPem }) }),
      foreignReplicationCertificate: await attempt({ ...physical, user: "streaming_replica", ssl: verified({ cert: foreignReplication.certificatePem, key: foreignReplication.privateKeyPem }) }),
      foreignOperatorCertificate: await attempt({ user: "postgres", ssl: verified({ cert: foreignOperator.certificatePem, key: foreignOperator.privateKeyPem }) }),
      operatorCertificateForReplication: await attempt({ ...physical, user: "streaming_replica", ssl: verified({ cert: operator["tls.crt"], key: operator["tls.key"] }) }),
      tls12: await attempt({ user: "app", password: appPassword, database: "app", ssl: verified({ minVersion: "TLSv1.2", maxVersion: "TLSv1.2" }) }),
    };
    process.stdout.write(`real-pod attack results (PostgreSQL ${major}): ${JSON.stringify(results, null, 1)}\n`);
    expect(results.plaintext).toMatch(new RegExp(`^no pg_hba\\.conf entry for host "[\\d.]+", user "app", database "app", no encryption$`));
    expect(results.wrongPassword).toBe(`password authentication failed for user "app"`);
    expect(results.replicationWithPasswordNoCertificate).toBe("connection requires a valid client certificate");
    expect(results.replicationAsSuperuser).toMatch(/^pg_hba\.conf rejects replication connection for host "[\d.]+", user "postgres", (SSL encryption|SSL on)$/);
    expect(results.superuserWithPassword).toBe("connection requires a valid client certificate");
    expect(results.superuserPlaintext).toMatch(/^no pg_hba\.conf entry for host "[\d.]+", user "postgres", database "postgres", no encryption$/);
    expect(results.expiredClientCertificate).toMatch(/alert certificate expired/);
    expect(results.foreignReplicationCertificate).toMatch(/alert unknown ca/);
    expect(results.foreignOperatorCertificate).toMatch(/alert unknown ca/);
    expect(results.operatorCertificateForReplication).toMatch(/certificate authentication failed for user "streaming_replica"/);
    expect(results.tls12).toMatch(/alert protocol version/);
  });

  /**
   * New verify-full handshakes (connect, `select 1`, close) to each of `hosts` every 100 ms until
   * stopped, each with the configuration `configFor` gives at that moment; counts and failures.
   */
  const startProber = (hosts: readonly string[], configFor: (host: string) => Promise<ClientConfig>) => {
    const handshakes = { ok: 0, failed: [] as string[] };
    let probing = true;
    const done = (async () => {
      while (probing) {
        for (const host of hosts) {
          const c = pgClient(await configFor(host));
          try {
            await c.connect();
            await c.query("select 1");
            handshakes.ok++;
          } catch (err) {
            handshakes.failed.push(`${host}: ${(err as Error).message}`);
          } finally {
            await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
          }
        }
        await sleep(100);
      }
    })();
    return {
      handshakes,
      stop: async (): Promise<void> => {
        probing = false;
        await done;
      },
    };
  };

  /** Waits until a connection to each of `hosts` with `configFor(host)` succeeds; when each first did, in ms since `since`. */
  const untilEachAdmits = async (what: string, hosts: readonly string[], configFor: (host: string) => Promise<ClientConfig>, since: number): Promise<Record<string, number>> => {
    const admitted: Record<string, number> = {};
    await eventually(
      what,
      async () => {
        for (const host of hosts) {
          if (admitted[host] !== undefined) continue;
          const c = pgClient(await configFor(host));
          try {
            await c.connect();
            admitted[host] = Date.now() - since;
          } catch {
            // not yet (the former certificate or authority still in use)
          } finally {
            await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
          }
        }
        return Object.keys(admitted).length === hosts.length;
      },
      WAIT_MS,
    );
    return admitted;
  };

  it("rotates the server certificate under a live writer: new handshakes never fail, 0 failed transactions, 0 lost rows", async () => {
    const cluster = async () => (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "vault" })) as { status?: PostgresClusterStatus };
    const primary = (await cluster()).status!.currentPrimary!;
    const ipOf = async (pod: string): Promise<string> => (await core().readNamespacedPod({ name: pod, namespace: ns })).status!.podIP!;
    const primaryIp = await ipOf(primary);
    const replicaIp = await ipOf(primary === "vault-1" ? "vault-2" : "vault-1");
    const appPassword = await password("vault-app");
    const app = async (host: string, servername?: string): Promise<ClientConfig> => {
      const config = await clusterClientConfig(core(), ns, "vault", { host, user: "app", password: appPassword, database: "app" });
      return servername === undefined ? config : { ...config, ssl: { ...(config.ssl as object), servername } };
    };
    const setup = pgClient(await app(primaryIp));
    await setup.connect();
    await setup.query("create table rotation (id int primary key, note text)");
    await setup.end();
    const before = (await secretData("vault-server-tls"))["tls.crt"];
    // An application's long-lived session, and new handshakes (verify-full) every 100 ms on both servers.
    const writer = startWriter(() => app(primaryIp), "rotation");
    const prober = startProber([primaryIp, replicaIp], (host) => app(host));
    const handshakes = prober.handshakes;
    await eventually("writer running", async () => writer.acked.length >= 20, 60_000);
    // A new name the certificate must carry: the operator re-issues the server certificate (same
    // authority), the kubelet updates the mounted Secret, each manager copies and reloads.
    const rotatedName = "vault.rotation.test";
    const started = Date.now();
    await objects().patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "vault", body: { spec: { tls: { serverNames: [rotatedName] } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("the server Secret re-issued", async () => (await secretData("vault-server-tls"))["tls.crt"] !== before, WAIT_MS);
    const served = await untilEachAdmits("both servers present the new certificate (verify-full against the new name)", [primaryIp, replicaIp], (host) => app(host, rotatedName), started);
    await sleep(2000);
    await prober.stop();
    await writer.stop();
    process.stdout.write(
      `real-pod server certificate rotation (PostgreSQL ${major}): new certificate served by the primary after ${served[primaryIp]} ms, by the replica after ${served[replicaIp]} ms; ${writer.acked.length} rows acknowledged, ${writer.failures()} failed; ${handshakes.ok} new verify-full handshakes, ${handshakes.failed.length} failed\n`,
    );
    expect(handshakes.failed).toEqual([]);
    expect(handshakes.ok).toBeGreaterThan(0);
    expect(writer.errors).toEqual([]);
    const check = pgClient(await app(primaryIp));
    await check.connect();
    const stored = new Set((await check.query<{ id: number }>("select id from rotation")).rows.map((r) => r.id));
    await check.end();
    expect(writer.acked.filter((a) => !stored.has(a.id)).map((a) => a.id)).toEqual([]);
    // Replication kept streaming over TLS with its certificate through the rotation.
    expect(await asOperator(primary, "select r.state, s.ssl from pg_stat_replication r join pg_stat_ssl s using (pid)")).toEqual([{ state: "streaming", ssl: true }]);
  });

  it("rotates the authority on request under a live writer (ADR 0049): the bundle, the leaves, the old authority out — no failed handshake or transaction, no lost row; then the old authority is refused", async () => {
    const cluster = async () => (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "vault" })) as { status?: PostgresClusterStatus };
    const primary = (await cluster()).status!.currentPrimary!;
    const replica = primary === "vault-1" ? "vault-2" : "vault-1";
    const ipOf = async (pod: string): Promise<string> => (await core().readNamespacedPod({ name: pod, namespace: ns })).status!.podIP!;
    const primaryIp = await ipOf(primary);
    const replicaIp = await ipOf(replica);
    const appPassword = await password("vault-app");
    // An application as it would run: the app Secret's ca.crt read at each new connection.
    const app = async (host: string): Promise<ClientConfig> => {
      const appSecret = await secretData("vault-app");
      const config = await clusterClientConfig(core(), ns, "vault", { host, user: "app", password: appPassword, database: "app" });
      return { ...config, ssl: { ...(config.ssl as object), ca: appSecret["ca.crt"]! } };
    };
    // Through the pooler too (ADR 0044): PgBouncer verifies the instances with its Secret's ca.crt,
    // which it reads at start and on RELOAD only; clients verify it with the app Secret's.
    const poolerIp = await ipOf("vault-pooler-1");
    const pooled = async (): Promise<ClientConfig> => ({ host: poolerIp, port: PGBOUNCER_PORT, user: "app", password: appPassword, database: "app", ssl: await poolerSsl(core(), ns, "vault") });
    const setup = pgClient(await app(primaryIp));
    await setup.connect();
    await setup.query("create table authority_rotation (id int primary key, note text)");
    await setup.query("create table authority_rotation_pooled (id int primary key, note text)");
    await setup.end();
    const old = await secretData("vault-ca");
    const poolerCertBefore = (await secretData("vault-pooler-tls"))["tls.crt"];
    const writer = startWriter(() => app(primaryIp), "authority_rotation");
    const pooledWriter = startWriter(() => pooled(), "authority_rotation_pooled");
    const prober = startProber([primaryIp, replicaIp, poolerIp], (host) => (host === poolerIp ? pooled() : app(host)));
    const handshakes = prober.handshakes;
    const at: Record<string, number> = {};
    let served: Record<string, number> = {};
    try {
      await eventually("writers running, directly and through the pooler", async () => writer.acked.length >= 20 && pooledWriter.acked.length >= 20, 60_000);
      const started = Date.now();
      await objects().patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "vault", body: { metadata: { annotations: { [ROTATE_AUTHORITY_ANNOTATION]: "rotation-test-1" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      // Step 1: a new authority signs; the old one stays as previous.crt; the app Secret trusts both.
      const fresh = await eventually("step 1: a new authority, the old one kept as previous", async () => {
        const ca = await secretData("vault-ca");
        return ca["previous.crt"] === old["ca.crt"] && ca["ca.crt"] !== old["ca.crt"] ? ca : undefined;
      }, WAIT_MS);
      at.bundle = Date.now() - started;
      // The new bundle shows in no PgBouncer console: the pooler's certificate comes anew with it,
      // by the old authority (clients may trust it alone yet), and PgBouncer serving it shows the
      // reload that loaded both.
      const oldKey = new X509Certificate(old["ca.crt"]!).publicKey;
      await eventually(
        "step 1: the pooler's certificate issued anew by the old authority, and served",
        async () => {
          const pem = (await secretData("vault-pooler-tls"))["tls.crt"]!;
          if (pem === poolerCertBefore || !new X509Certificate(pem).verify(oldKey)) return undefined;
          const c = pgClient(await pooled());
          try {
            await c.connect();
            const serial = (c as unknown as { connection: { stream: { getPeerCertificate(): { serialNumber: string } } } }).connection.stream.getPeerCertificate().serialNumber;
            return serial.toUpperCase() === new X509Certificate(pem).serialNumber.toUpperCase() ? true : undefined;
          } finally {
            await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
          }
        },
        WAIT_MS,
      );
      at.poolerReloaded = Date.now() - started;
      await eventually("step 1: the app Secret trusts both authorities", async () => (await secretData("vault-app"))["ca.crt"]!.match(/BEGIN CERTIFICATE/g)?.length === 2, WAIT_MS);
      const freshKey = new X509Certificate(fresh["ca.crt"]!).publicKey;
      // Step 2: the leaves from the new authority, and both servers serving it (a client trusting the new authority alone gets in).
      await eventually("step 2: the server certificate from the new authority", async () => new X509Certificate((await secretData("vault-server-tls"))["tls.crt"]!).verify(freshKey), WAIT_MS);
      at.leaves = Date.now() - started;
      served = await untilEachAdmits(
        "both servers present the new authority's certificate",
        [primaryIp, replicaIp],
        async (host) => {
          const config = await app(host);
          return { ...config, ssl: { ...(config.ssl as object), ca: fresh["ca.crt"]! } };
        },
        started,
      );
      // Step 3: the old authority leaves the Secret and every ca.crt.
      await eventually("step 3: the previous authority retired", async () => {
        const ca = await secretData("vault-ca");
        return ca["previous.crt"] === undefined && (await secretData("vault-app"))["ca.crt"]!.match(/BEGIN CERTIFICATE/g)?.length === 1;
      }, WAIT_MS);
      at.retired = Date.now() - started;
      // The kubelet's sync (10 s here) and the managers' reload bring the new ca.crt into both servers.
      const oldAuthority = { certificatePem: old["ca.crt"]!, privateKeyPem: old["ca.key"]! };
      const oldReplication = issueCertificate(oldAuthority, { commonName: "streaming_replica", usage: "client" });
      const refusals: Record<string, string> = {};
      await eventually(
        "both servers refuse a certificate of the old authority",
        async () => {
          for (const host of [primaryIp, replicaIp]) {
            const c = pgClient({ host, port: 5432, user: "streaming_replica", database: "postgres", ssl: { ca: fresh["ca.crt"]!, servername: `vault-rw.${ns}.svc`, cert: oldReplication.certificatePem, key: oldReplication.privateKeyPem } });
            try {
              await c.connect();
              refusals[host] = "admitted";
            } catch (err) {
              refusals[host] = (err as Error).message;
            } finally {
              await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
            }
          }
          return Object.values(refusals).every((r) => /alert unknown ca/.test(r)) ? true : undefined;
        },
        WAIT_MS,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}: ${JSON.stringify(refusals)}`);
      });
      at.oldRefused = Date.now() - started;
      // PgBouncer's own connections to the instances, made anew now (RECONNECT), verify the new
      // authority's certificates with the trust it loaded: queries through it succeed.
      const adminPassword = Buffer.from((await core().readNamespacedSecret({ name: "vault-pooler-admin", namespace: ns })).data!.password!, "base64").toString("utf8");
      const adminConsole = pgClient(consoleConfig({ host: poolerIp, password: adminPassword, tls: { ca: (await secretData("vault-app"))["ca.crt"]!, serverName: verifiedPoolerName("vault", ns) } }, 5000));
      await adminConsole.connect();
      await adminConsole.query("RECONNECT");
      await adminConsole.end();
      for (let i = 0; i < 10; i++) {
        const c = pgClient(await pooled());
        await c.connect();
        expect((await c.query<{ one: number }>("select 1 as one")).rows[0]!.one).toBe(1);
        await c.end();
      }
    } finally {
      await prober.stop();
      await writer.stop();
      await pooledWriter.stop();
    }
    process.stdout.write(
      `real-pod authority rotation (PostgreSQL ${major}, 30 s overlap): bundle ${at.bundle} ms, pooler reloaded with it ${at.poolerReloaded} ms, leaves ${at.leaves} ms, served by the primary ${served[primaryIp]} ms / the replica ${served[replicaIp]} ms, old authority retired ${at.retired} ms, refused by both ${at.oldRefused} ms; ${writer.acked.length} rows acknowledged directly, ${writer.failures()} failed; ${pooledWriter.acked.length} through the pooler, ${pooledWriter.failures()} failed; ${handshakes.ok} new verify-full handshakes (both instances and the pooler), ${handshakes.failed.length} failed\n`,
    );
    expect(handshakes.failed).toEqual([]);
    expect(handshakes.ok).toBeGreaterThan(0);
    expect(writer.errors).toEqual([]);
    expect(pooledWriter.errors).toEqual([]);
    const check = pgClient(await app(primaryIp));
    await check.connect();
    const stored = new Set((await check.query<{ id: number }>("select id from authority_rotation")).rows.map((r) => r.id));
    const storedPooled = new Set((await check.query<{ id: number }>("select id from authority_rotation_pooled")).rows.map((r) => r.id));
    await check.end();
    expect(writer.acked.filter((a) => !stored.has(a.id)).map((a) => a.id)).toEqual([]);
    expect(pooledWriter.acked.filter((a) => !storedPooled.has(a.id)).map((a) => a.id)).toEqual([]);
    // Replication streams over TLS, its certificate now the new authority's (the walreceiver reconnected or kept its session).
    expect(await asOperator(primary, "select r.state, s.ssl from pg_stat_replication r join pg_stat_ssl s using (pid)")).toEqual([{ state: "streaming", ssl: true }]);
  }, 900_000); // two 30 s overlaps, each pod's Secret sync and reload: 75–125 s measured
});
