// The operator in its own pods on a real node, deployed as users deploy it: `pulumi up` of the
// `Operator` component with the real engine and the Kubernetes provider against the node's API
// server, the image built from its recipe (images/recipes.ts) under the Deployment's read-only root
// filesystem and a uid the image's /etc/passwd does not know (before the fixes of issue 14 every
// reconcile failed here: EROFS on the dev server's scratch directory, initdb refusing the uid). It
// reconciles a PostgresSchema through a Service's DNS name. Two replicas: one holds the Lease and
// reconciles, the other says it waits; deleting the leader's pod hands over at once (the Lease is
// released after the work stopped), a crashed leader's restarted container takes its Lease back; a pod
// deleted while its apply waits on a lock cancels it (nothing half-done) and the other replica
// finishes the job. `pulumi destroy` removes everything.
import { AppsV1Api, ApiextensionsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresSchemaStatus } from "../../sdk/api/index";
import { randomPassword, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { eventually } from "../support/eventually";
import { majors } from "../support/postgres";
import { errorsOf, summaryOf } from "../support/pulumi";
import { run } from "../support/real-node/host";
import { realNodeToolchain } from "../support/real-node/gate";
import { deployOperator, importOperatorImage, type DeployedOperator, type OperatorImage } from "../support/real-node/operator";
import { startRealNode, type RealNode } from "../support/real-node/node";

const toolchain = realNodeToolchain(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes"]);
const major = majors().includes(17) ? 17 : majors()[0]!;
/** The LeaderElector's default Lease duration (the component does not change it). */
const LEASE_DURATION_MS = 15_000;
/** The Kubernetes objects (namespace, service account, RBAC, Deployment, … and one per CRD) + the component + the provider + the stack. */
const RESOURCES = 7 + crdManifests().length + 3;
const plural = KINDS.PostgresSchema.plural;
const ACCOUNTS = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL";

type SchemaObject = { metadata: { generation: number }; spec: { desired: { sql: string } }; status?: PostgresSchemaStatus };

describe.skipIf(toolchain.skip !== undefined)("real node: the operator deployed by Pulumi, in its pods", () => {
  let node: RealNode | undefined;
  let image: OperatorImage | undefined;
  let operator: DeployedOperator | undefined;
  let pg: EmbeddedPostgres | undefined;
  const password = randomPassword();
  const times: Record<string, number> = {};
  const tails = new Set<ReturnType<typeof spawn>>();

  const kc = () => node!.controlPlane.kubeConfig;
  const core = () => kc().makeApiClient(CoreV1Api);
  const objects = () => kc().makeApiClient(CustomObjectsApi);
  const db = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = pgClient({ connectionString: pg!.url() });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };

  /** The operator's pods that run and are not being deleted. */
  const livePods = async (): Promise<V1Pod[]> =>
    (await core().listNamespacedPod({ namespace: operator!.namespace, labelSelector: "app.kubernetes.io/name=setpoint-operator" })).items.filter(
      (p) => p.metadata?.deletionTimestamp === undefined && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
  /** The Lease's holder identity (`<pod name>_<pod uid>`, ADR 0038). */
  const holder = async (): Promise<string> =>
    (await kc().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: operator!.lease, namespace: operator!.namespace })).spec?.holderIdentity ?? "";
  const metricsOf = async (pod: V1Pod): Promise<string> => (await fetch(`http://${pod.status!.podIP!}:8080/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const series = (text: string, name: string, labels: string): number => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text)?.[1] ?? "0");
  const logOf = (pod: V1Pod): Promise<string> => core().readNamespacedPodLog({ name: pod.metadata!.name!, namespace: operator!.namespace }).then(String);
  const schema = async (): Promise<SchemaObject> =>
    (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: "default", plural, name: "app" })) as SchemaObject;
  const setDesired = (sql: string): Promise<unknown> =>
    objects().patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: "default", plural, name: "app", body: { spec: { desired: { sql } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  /** Ready for the current generation; on timeout, the operators' logs. */
  const converged = async (what: string): Promise<SchemaObject> =>
    eventually(
      what,
      async () => {
        const o = await schema();
        const r = o.status?.conditions?.find((c) => c.type === "Ready");
        if (r?.status !== "True" || o.status?.observedGeneration !== o.metadata.generation) throw new Error(`Ready: ${JSON.stringify(r)}`);
        return o;
      },
      180_000,
      500,
    ).catch(async (err: unknown) => {
      const logs = await Promise.all((await livePods()).map(async (p) => `${p.metadata!.name!}:\n${(await logOf(p).catch(String)).slice(-2500)}`));
      throw new Error(`${(err as Error).message}\noperator logs:\n${logs.join("\n")}`);
    });
  /** Backends of the operator pod at `ip` in the database: all of them, and those waiting on a lock. */
  const backendsOf = (ip: string): Promise<{ all: number; waiting: number }> =>
    db(async (c) => {
      const { rows } = await c.query<{ all: number; waiting: number }>(
        "SELECT count(*)::int AS all, count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting FROM pg_stat_activity WHERE host(client_addr) = $1",
        [ip],
      );
      return rows[0]!;
    });
  /** Backends of pods other than the one at `ip` waiting on a lock. */
  const waitingElsewhere = (ip: string): Promise<number> =>
    db(async (c) => {
      const { rows } = await c.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND client_addr << $2::inet AND host(client_addr) <> $1",
        [ip, node!.podCidr],
      );
      return rows[0]!.n;
    });

  /**
   * Copies a pod's container log as the kubelet writes it, so that what a deleted pod logged last
   * can still be read; returns the copy so far and stops copying.
   */
  const keepLog = (pod: V1Pod): (() => string) => {
    const restarts = pod.status?.containerStatuses?.[0]?.restartCount ?? 0;
    const file = join(node!.dir, "pod-logs", `${pod.metadata!.namespace!}_${pod.metadata!.name!}_${pod.metadata!.uid!}`, "operator", `${restarts}.log`);
    const copy = join(node!.dir, `${pod.metadata!.name!}-${restarts}.log`);
    const fd = openSync(copy, "w");
    const tail = spawn("tail", ["-n", "+1", "-F", file], { stdio: ["ignore", fd, "ignore"] });
    closeSync(fd);
    tails.add(tail);
    return () => {
      tail.kill();
      tails.delete(tail);
      return readFileSync(copy, "utf8").slice(-4000);
    };
  };

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    image = importOperatorImage(node);
    times.imageBuildMs = image.buildMs;
    // The database: a server on the node's address, which pods reach through a Service without a selector.
    const work = mkdtempSync(join(node.dir, "db-"));
    const hba = join(work, "pg_hba.conf");
    writeFileSync(hba, `local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ${node.podCidr} scram-sha-256\n`);
    chmodSync(work, 0o755);
    chmodSync(hba, 0o644);
    pg = await startEmbeddedPostgres({ major, password, parameters: { listen_addresses: `127.0.0.1,${node.nodeIp}`, hba_file: hba } });
  }, 1_500_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    console.log(`real-node operator times: ${JSON.stringify(times)}`);
    for (const t of tails) t.kill();
    operator?.cleanup();
    await pg?.stop({ immediate: true });
    await node?.stop();
  }, 300_000);

  it("pulumi up deploys the Operator component (2 replicas) and its pods reconcile a PostgresSchema through a Service's DNS name", async () => {
    operator = await deployOperator({ node: node!, toolchain: toolchain.env!, image: image!.ref, replicas: 2 });
    times.pulumiUpMs = operator.upMs;
    expect(summaryOf(operator.upEvents), errorsOf(operator.upEvents)).toMatchObject({ result: "succeeded", resourceChanges: { create: RESOURCES } });
    // Pulumi waited for the Deployment: both replicas are available when `up` returns.
    const dep = await kc().makeApiClient(AppsV1Api).readNamespacedDeployment({ name: operator.deployment, namespace: operator.namespace });
    expect(dep.status?.availableReplicas).toBe(2);
    const pods = await livePods();
    expect(pods).toHaveLength(2);
    times.podStartMs = Math.max(
      ...pods.map((p) => new Date(p.status!.conditions!.find((c) => c.type === "Ready")!.lastTransitionTime!).getTime() - new Date(p.metadata!.creationTimestamp!).getTime()),
    );
    // The bugs real pods showed, under the conditions that showed them: a read-only root
    // filesystem (scratch data on the emptyDir only) and a uid the image does not know.
    const spec = pods[0]!.spec!;
    expect(spec.containers[0]!.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(spec.containers[0]!.imagePullPolicy).toBe("Never");
    expect(spec.containers[0]!.volumeMounts).toContainEqual(expect.objectContaining({ name: "scratch", mountPath: "/tmp" }));
    expect(spec.securityContext?.runAsUser).toBe(1000);
    expect(image!.uidUnknownToImage(1000)).toBe(true);

    await core().createNamespacedService({ namespace: "default", body: { metadata: { name: "db" }, spec: { ports: [{ name: "postgres", port: 5432, targetPort: pg!.port }] } } });
    await kc().makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
      namespace: "default",
      body: {
        metadata: { name: "db-1", labels: { "kubernetes.io/service-name": "db" } },
        addressType: "IPv4",
        endpoints: [{ addresses: [node!.nodeIp] }],
        ports: [{ name: "postgres", port: pg!.port, protocol: "TCP" }],
      },
    });
    await core().createNamespacedSecret({
      namespace: "default",
      body: { metadata: { name: "db" }, stringData: { uri: `postgres://postgres:${encodeURIComponent(password)}@db.default.svc.cluster.local:5432/postgres` } },
    });
    const created = Date.now();
    await objects().createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: "default",
      plural,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "PostgresSchema",
        metadata: { name: "app" },
        spec: { connection: { secretRef: { name: "db" } }, desired: { sql: `${ACCOUNTS});` } },
      },
    });
    await converged("PostgresSchema Ready");
    times.firstSchemaReadyMs = Date.now() - created;
    expect(await db(async (c) => (await c.query("select 1 from pg_tables where tablename = 'accounts'")).rowCount)).toBe(1);
  }, 900_000);

  it("two replicas: exactly one holds the Lease and reconciles, the other says it waits", async () => {
    const identity = await holder();
    const pods = await livePods();
    const leader = pods.find((p) => identity.startsWith(`${p.metadata!.name!}_`));
    const follower = pods.find((p) => p !== leader);
    expect(leader, identity).toBeDefined();
    expect(follower).toBeDefined();
    const lease = `lease="${operator!.namespace}/${operator!.lease}"`;
    const [leaderMetrics, followerMetrics] = await Promise.all([metricsOf(leader!), metricsOf(follower!)]);
    expect(series(leaderMetrics, "setpoint_leader_election_leader", lease)).toBe(1);
    expect(series(followerMetrics, "setpoint_leader_election_leader", lease)).toBe(0);
    expect(leaderMetrics).toMatch(/^setpoint_reconcile_total\{controller="postgresschema"[^}]*\} [1-9]/m);
    expect(followerMetrics).not.toMatch(/^setpoint_reconcile_total\{controller="postgresschema"[^}]*\} [1-9]/m);
    const log = await logOf(follower!);
    expect(log).toMatch(new RegExp(`"msg":"waiting for the lease held by another replica".*"holder":"${identity}"`));
    expect(log).not.toContain('"msg":"started leading"');
  }, 60_000);

  it("deleting the leader's pod hands the Lease over at once, and reconciling continues", async () => {
    const before = await holder();
    const leaderPod = before.split("_")[0]!;
    const leaderLog = keepLog((await livePods()).find((p) => p.metadata!.name === leaderPod)!);
    const deleted = Date.now();
    await core().deleteNamespacedPod({ name: leaderPod, namespace: operator!.namespace });
    // How its container ended (exit code, or the kill after the grace period), for the messages below.
    let ended = "(still running)";
    const watching = (async () => {
      for (;;) {
        const p = await core().readNamespacedPod({ name: leaderPod, namespace: operator!.namespace }).catch(() => undefined);
        if (p === undefined) return;
        ended = `grace ${String(p.metadata?.deletionGracePeriodSeconds)} s, ${JSON.stringify(p.status?.containerStatuses?.[0]?.state)}`;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const after = await eventually("another replica holds the Lease", async () => {
      const h = await holder();
      return h !== before && h !== "" ? h : undefined;
    }, LEASE_DURATION_MS + 10_000, 100);
    times.takeoverAfterDeleteMs = Date.now() - deleted;
    await watching;
    const kubelet = node!.logTail("kubelet").split("\n").filter((l) => l.includes(leaderPod)).join("\n");
    const lastLog = `${leaderLog()}\ncontainer: ${ended}\nkubelet:\n${kubelet}`;
    expect(after.startsWith(`${leaderPod}_`)).toBe(false);
    // Released by the stopping leader after its work stopped: no wait for the Lease to expire.
    expect(lastLog).toContain('"msg":"released the lease"');
    expect(times.takeoverAfterDeleteMs, lastLog).toBeLessThan(LEASE_DURATION_MS);
    await setDesired(`${ACCOUNTS}, plan text);`);
    const changed = Date.now();
    await converged("the change made after the deletion converged");
    times.convergeAfterTakeoverMs = Date.now() - changed;
    expect(await db(async (c) => (await c.query("select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'plan'")).rowCount)).toBe(1);
    // The Deployment replaced the pod: two replicas again, the new one waiting.
    await eventually("two operator pods again", async () => (await livePods()).length === 2, 120_000, 500);
  }, 300_000);

  it("a crashed leader's restarted container takes its own Lease back without waiting for it to expire; the other pod never holds it", async () => {
    const leases = kc().makeApiClient(CoordinationV1Api);
    const read = () => leases.readNamespacedLease({ name: operator!.lease, namespace: operator!.namespace });
    const before = await read();
    const identity = before.spec!.holderIdentity!;
    const pod = (await livePods()).find((p) => identity.startsWith(`${p.metadata!.name!}_`))!;
    // The identity is the pod's (name and UID), the same for each of its containers.
    expect(identity).toBe(`${pod.metadata!.name!}_${pod.metadata!.uid!}`);
    const container = pod.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    const killed = Date.now();
    const kill = run("ctr", ["--address", node!.containerdSocket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", container]);
    expect(kill.status, kill.out).toBe(0);
    // Nobody released it. A renewal stamped after the kill is the restarted container's (the killed
    // process's last attempt started before it; both clocks are this machine's).
    const holders = new Set<string>();
    const renewed = await eventually("the restarted container renews the Lease", async () => {
      const l = await read();
      holders.add(l.spec?.holderIdentity ?? "");
      const at = l.spec?.renewTime ? new Date(l.spec.renewTime as unknown as string | Date).getTime() : 0;
      return at > killed ? l : undefined;
    }, LEASE_DURATION_MS + 60_000, 100);
    times.leaseBackAfterCrashMs = Date.now() - killed;
    expect([...holders]).toEqual([identity]);
    expect(renewed.spec!.holderIdentity).toBe(identity);
    // A renewal, not a takeover.
    expect(renewed.spec!.leaseTransitions).toBe(before.spec!.leaseTransitions);
    // The same pod, its container restarted (the kubelet reports it after the fact).
    await eventually("the kubelet reports the restart", async () => {
      const p = await core().readNamespacedPod({ name: pod.metadata!.name!, namespace: operator!.namespace });
      return p.metadata!.uid === pod.metadata!.uid && (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? true : undefined;
    }, 60_000, 200);
    await eventually("two operator pods ready", async () => (await livePods()).length === 2, 120_000, 500);
  }, 300_000);

  it("a pod deleted while its apply waits on a lock cancels it (nothing half-done), and the other replica finishes the job", async () => {
    const blocker = pgClient({ connectionString: pg!.url() });
    await blocker.connect();
    try {
      await blocker.query("BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;");
      const leaderName = (await holder()).split("_")[0]!;
      const pods = await livePods();
      const leaderIp = pods.find((p) => p.metadata!.name === leaderName)!.status!.podIP!;
      await setDesired(`${ACCOUNTS}, plan text, region text); CREATE TABLE invoices (id bigint PRIMARY KEY, account bigint NOT NULL);`);
      await eventually("the leader's apply waiting on the lock", async () => (await backendsOf(leaderIp)).waiting > 0, 120_000, 100);

      const leaderLog = keepLog(pods.find((p) => p.metadata!.name === leaderName)!);
      const deleted = Date.now();
      await core().deleteNamespacedPod({ name: leaderName, namespace: operator!.namespace });
      await eventually("the deleted pod's sessions gone", async () => (await backendsOf(leaderIp)).all === 0, 30_000, 100);
      times.applyCancelledAfterDeleteMs = Date.now() - deleted;
      await eventually("the deleted pod gone", async () => (await core().readNamespacedPod({ name: leaderName, namespace: operator!.namespace }).then(() => false, () => true)), 60_000, 200);
      // It cancelled its statement and then gave the Lease up (not killed in the middle).
      const lastLog = leaderLog();
      expect(lastLog).toContain("canceling statement due to user request");
      expect(lastLog).toContain('"msg":"released the lease"');
      // Cancelled, not left to its lock-timeout retries (3 s each, 6 attempts).
      expect(times.applyCancelledAfterDeleteMs).toBeLessThan(10_000);
      // Nothing of the interrupted transaction group is in the database.
      const partial = await db(async (c) =>
        (
          await c.query<{ invoices: string | null; columns: number }>(
            "SELECT to_regclass('public.invoices')::text AS invoices, (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'region') AS columns",
          )
        ).rows[0],
      );
      expect(partial).toEqual({ invoices: null, columns: 0 });
      // Another replica picked the job up (and waits on the same lock).
      await eventually("the new leader's apply waiting on the lock", async () => (await waitingElsewhere(leaderIp)) > 0, LEASE_DURATION_MS + 30_000, 100);
      times.newLeaderAppliesAfterDeleteMs = Date.now() - deleted;
    } finally {
      await blocker.query("ROLLBACK").catch(() => undefined);
      await blocker.end();
    }
    await converged("converged by the new leader");
    const done = await db(async (c) =>
      (
        await c.query<{ invoices: string | null; columns: number }>(
          "SELECT to_regclass('public.invoices')::text AS invoices, (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'accounts' AND column_name IN ('plan', 'region')) AS columns",
        )
      ).rows[0],
    );
    expect(done).toEqual({ invoices: "invoices", columns: 2 });
  }, 300_000);

  it("pulumi destroy removes the operator, its RBAC, namespace and CRDs", async () => {
    // The custom resource first: its CRD goes with the stack.
    await objects().deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: "default", plural, name: "app" });
    await eventually("the PostgresSchema gone (the operator removes its finalizer)", async () => {
      await schema().then(
        () => {
          throw new Error("still there");
        },
        (err: unknown) => {
          if ((err as { code?: number }).code !== 404) throw err;
        },
      );
      return true;
    }, 60_000, 250);
    const started = Date.now();
    const events = await operator!.destroy();
    times.pulumiDestroyMs = Date.now() - started;
    expect(summaryOf(events), errorsOf(events)).toMatchObject({ result: "succeeded", resourceChanges: { delete: RESOURCES } });
    await expect(core().readNamespace({ name: operator!.namespace })).rejects.toMatchObject({ code: 404 });
    const crds = await kc().makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    expect(crds.items.filter((c) => c.spec.group === GROUP)).toEqual([]);
    expect(await core().listPodForAllNamespaces({ labelSelector: "app.kubernetes.io/name=setpoint-operator" }).then((l) => l.items)).toEqual([]);
  }, 400_000);
});
