// The operator's runtime guarantees from issue 7, on a real API server and real PostgreSQL:
// coalescing, zero writes for a converged object, its own status writes causing no reconcile,
// ConfigMap and Secret edits re-converging the objects that use them, one active replica per
// Lease, and a SIGKILL in the middle of a reconcile followed by a restart that converges
// without errors.
// Reconciles are counted per key from the controller's log lines (one reconcile id each),
// never inferred from timing.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, V1MicroTime } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresSchemaStatus } from "../../sdk/api/index";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../sdk/operator/main";
import type { LogFields, Logger } from "../../sdk/reconcile/index";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { freshDatabase, majors, serverUrl, servers } from "../support/postgres";
import { eventually } from "../support/eventually";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const plural = KINDS.PostgresSchema.plural;
const major = majors().includes(17) ? 17 : majors()[0]!;
const root = resolve(__dirname, "../..");

interface SchemaObject {
  metadata: { name: string; generation?: number; resourceVersion?: string };
  status?: PostgresSchemaStatus;
}

interface Line {
  level: "debug" | "info" | "error";
  message: string;
  fields: LogFields;
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs`. */
/** A logger that keeps every line, debug included. */
function recorder(lines: Line[], base: LogFields = {}): Logger {
  const push = (level: Line["level"]) => (message: string, fields?: LogFields) => lines.push({ level, message, fields: { ...base, ...fields } });
  return { debug: push("debug"), info: push("info"), error: push("error"), child: (fields) => recorder(lines, { ...base, ...fields }) };
}

/** Number of finished reconciles of `namespace/name` (the controller logs one line per reconcile id). */
function reconciles(lines: readonly Line[], namespace: string, name: string): number {
  const ids = new Set<unknown>();
  for (const l of lines) {
    if (l.fields.namespace !== namespace || l.fields.name !== name || l.fields.reconcileId === undefined) continue;
    if (l.message === "reconciled" || l.message.startsWith("reconcile failed")) ids.add(l.fields.reconcileId);
  }
  return ids.size;
}

/** The value of one metric series (`name{labels}`) in a registry, 0 when absent. */
function metric(metrics: MetricsRegistry, series: string): number {
  const line = metrics.render().split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? 0);
}

/** A schema of `tables` small tables: enough DDL that a reconcile lasts long enough to be caught. */
function desiredSql(tables: number): string {
  return Array.from({ length: tables }, (_, i) => `CREATE TABLE t${i} (id bigint PRIMARY KEY, v text NOT NULL);\nCREATE INDEX t${i}_v_idx ON t${i} (v);`).join("\n");
}

describe.skipIf(toolchain.skip !== undefined)("operator runtime on a real API server", () => {
  let cp: ControlPlane | undefined;
  let objects: CustomObjectsApi;
  let core: CoreV1Api;
  const running: RunningOperator[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    await installCrds(cp.kubeConfig, crdManifests());
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const o of running) await o.stop();
    await cp?.stop();
  }, 60_000);

  const devUrl = (): string => serverUrl(servers().find((s) => s.major === major)!);

  const operator = async (namespace: string, lines: Line[], extra: Partial<OperatorOptions> = {}): Promise<RunningOperator> => {
    const op = await startOperator({
      kubeconfig: cp!.kubeConfig,
      namespace,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      engineOptions: { devUrl: devUrl(), cacheDir: false },
      logger: recorder(lines),
      metrics: new MetricsRegistry(),
      ...extra,
    });
    running.push(op);
    return op;
  };
  const stopOperator = async (op: RunningOperator): Promise<void> => {
    await op.stop();
    running.splice(running.indexOf(op), 1);
  };

  /** A namespace, a Secret pointing at a fresh database, and a PostgresSchema using it. */
  const setUp = async (namespace: string, sql: string): Promise<{ tables: () => Promise<number> }> => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const db = await freshDatabase(major);
    const client = await db.client();
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "db" }, stringData: { uri: db.url } } });
    await createCustomObject(objects, namespace, "PostgresSchema", "s", { connection: { secretRef: { name: "db" } }, desired: { sql }, driftCheckInterval: "1h", allowHazards: ["INDEX_BUILD"] });
    return {
      tables: async () => Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'")).rows[0]!.n),
    };
  };
  const read = async (namespace: string): Promise<SchemaObject> =>
    (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name: "s" })) as SchemaObject;
  const readyFor = (o: SchemaObject): boolean => {
    const ready = o.status?.conditions?.find((c) => c.type === "Ready");
    return ready?.status === "True" && ready.observedGeneration === o.metadata.generation && o.status?.observedGeneration === o.metadata.generation;
  };
  const waitReady = async (namespace: string): Promise<SchemaObject> => {
    await eventually(`${namespace}/s Ready for its current generation`, async () => readyFor(await read(namespace)));
    return read(namespace);
  };
  /** Changes the spec (a new generation) with a JSON patch, which needs no resourceVersion. */
  const touch = (namespace: string, sql: string): Promise<unknown> =>
    objects.patchNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      name: "s",
      body: [{ op: "replace", path: "/spec/desired/sql", value: sql }],
    });

  it("coalesces 100 rapid spec updates into a handful of reconciles", async () => {
    // The updates must land while the key is queued, whatever the API server's speed: the
    // operator campaigns for a Lease that someone else holds, so its informer queues every
    // event but no worker runs; the Lease is then released and the queue drained.
    const ns = "rt-coalesce";
    const lines: Line[] = [];
    const metrics = new MetricsRegistry();
    const sql = desiredSql(2);
    await setUp(ns, sql);
    const leases = cp!.kubeConfig.makeApiClient(CoordinationV1Api);
    const now = new V1MicroTime(Date.now());
    await leases.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name: "rt-coalesce" }, spec: { holderIdentity: "someone-else", leaseDurationSeconds: 3600, acquireTime: now, renewTime: now } },
    });
    await operator(ns, lines, {
      metrics,
      leaderElect: true,
      leaseNamespace: ns,
      leaseName: "rt-coalesce",
      leaseTiming: { leaseDurationMs: 3000, renewDeadlineMs: 1500, retryPeriodMs: 200 },
    });
    await Promise.all(Array.from({ length: 100 }, (_, i) => touch(ns, `${sql}\n-- revision ${i}`)));
    const adds = (): number => Number(/setpoint_workqueue_adds_total\{controller="postgresschema"\} (\d+)/.exec(metrics.render())?.[1] ?? 0);
    await eventually("the informer queued an event per update", () => adds() >= 101, 30_000);
    expect(reconciles(lines, ns, "s")).toBe(0);

    await leases.deleteNamespacedLease({ name: "rt-coalesce", namespace: ns });
    const live = await waitReady(ns);
    expect(live.metadata.generation).toBe(101);
    await sleep(1500); // let any further reconcile finish, so it is counted
    const count = reconciles(lines, ns, "s");
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(5);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
  }, 120_000);

  it("makes zero API writes for a converged object across resyncs", async () => {
    const ns = "rt-resync";
    const lines: Line[] = [];
    const metrics = new MetricsRegistry();
    await setUp(ns, desiredSql(2));
    await operator(ns, lines, { resyncSeconds: 1, metrics });
    await waitReady(ns);
    await sleep(1500); // let a resync that started before the status write finish
    const converged = await read(ns);
    const before = reconciles(lines, ns, "s");
    await eventually("three more resync reconciles", () => reconciles(lines, ns, "s") >= before + 3, 30_000);
    const after = await read(ns);
    // Any write (status or otherwise) would move the resourceVersion.
    expect(after.metadata.resourceVersion).toBe(converged.metadata.resourceVersion);
    expect(after.status).toEqual(converged.status);
    // With a 1 h drift check, a resync does not even reach the database or read the Secret.
    expect(metric(metrics, "setpoint_schema_checks_skipped_total")).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it("its own status writes cause no reconcile; a spec change still does", async () => {
    const ns = "rt-status-echo";
    const lines: Line[] = [];
    const metrics = new MetricsRegistry();
    const sql = desiredSql(2);
    await setUp(ns, sql);
    // No resync and a 1 h drift check: only watch events can cause a reconcile here.
    const op = await operator(ns, lines, { metrics, resyncSeconds: 3600 });
    const updates = (): number => metric(metrics, 'setpoint_informer_events_total{informer="postgresschemas",type="update"}');
    const idle = (): boolean =>
      metric(metrics, 'setpoint_workqueue_depth{controller="postgresschema"}') === 0 &&
      metric(metrics, 'setpoint_reconcile_active_workers{controller="postgresschema"}') === 0;

    await waitReady(ns);
    // The status write came back as an update event; the predicate ran when it arrived, so had
    // it passed, the key would be queued or reconciled by the time the controller is idle.
    await eventually("the status write reached the informer", () => updates() === 1);
    await eventually("the controller is idle", idle);
    expect(reconciles(lines, ns, "s")).toBe(1);

    await touch(ns, `${sql}\n-- a new generation`);
    const live = await waitReady(ns);
    expect(live.metadata.generation).toBe(2);
    // Two more update events: the spec change (reconciled) and our status write (not).
    await eventually("the second status write reached the informer", () => updates() === 3);
    await eventually("the controller is idle", idle);
    expect(reconciles(lines, ns, "s")).toBe(2);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    await stopOperator(op);
  }, 120_000);

  it("desired SQL from a ConfigMap converges, and editing the ConfigMap or the Secret re-converges", async () => {
    const ns = "rt-configmap";
    const lines: Line[] = [];
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const first = await freshDatabase(major);
    const second = await freshDatabase(major);
    const tables = async (db: typeof first): Promise<string[]> => {
      const client = await db.client();
      return (await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    };
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "db" }, stringData: { uri: first.url } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "ddl" }, data: { "schema.sql": "CREATE TABLE a (id bigint PRIMARY KEY);" } } });
    await createCustomObject(objects, ns, "PostgresSchema", "s", { connection: { secretRef: { name: "db" } }, desired: { configMapRef: { name: "ddl" } }, driftCheckInterval: "1h" });
    // No resync and a 1 h drift check: only the ConfigMap and Secret watches can re-converge it.
    const op = await operator(ns, lines, { resyncSeconds: 3600 });
    const converged = await waitReady(ns);
    expect(await tables(first)).toEqual(["a"]);

    await core.patchNamespacedConfigMap({
      name: "ddl",
      namespace: ns,
      body: [{ op: "replace", path: "/data/schema.sql", value: "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE TABLE b (id bigint PRIMARY KEY);" }],
    });
    await eventually("the ConfigMap edit applied", async () => (await tables(first)).join() === "a,b");
    await eventually("status reports the new desired schema", async () => {
      const live = await read(ns);
      return readyFor(live) && live.status?.lastAppliedFingerprint !== converged.status?.lastAppliedFingerprint;
    });
    expect((await read(ns)).metadata.generation).toBe(1); // the PostgresSchema itself never changed

    // The Secret now names another database: the schema is applied there.
    await core.patchNamespacedSecret({ name: "db", namespace: ns, body: [{ op: "replace", path: "/data/uri", value: Buffer.from(second.url).toString("base64") }] });
    await eventually("the Secret edit applied to the new database", async () => (await tables(second)).join() === "a,b");
    // Three reconciles, one per watch event: the create, the ConfigMap edit, the Secret edit.
    await eventually("the third reconcile finished", () => reconciles(lines, ns, "s") === 3);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    await stopOperator(op);
  }, 120_000);

  it("two replicas on one Lease: only the leader reconciles; the other takes over when it stops, before the Lease would expire", async () => {
    const ns = "rt-leader";
    // A Lease far longer than the handover: only the stopping leader's release explains a quick one.
    const leaseTiming = { leaseDurationMs: 30_000, renewDeadlineMs: 1500, retryPeriodMs: 300 };
    const common = { leaderElect: true, leaseNamespace: ns, leaseName: "rt-leader", leaseTiming, resyncSeconds: 1 };
    const sql = desiredSql(2);
    await setUp(ns, sql);
    const linesA: Line[] = [];
    const linesB: Line[] = [];
    const a = await operator(ns, linesA, common);
    const b = await operator(ns, linesB, common);
    await waitReady(ns);
    await sleep(2500); // a couple of resyncs on both replicas
    const [leader, leaderLines, follower, followerLines] =
      reconciles(linesA, ns, "s") > 0 ? [a, linesA, b, linesB] : [b, linesB, a, linesA];
    expect(reconciles(leaderLines, ns, "s")).toBeGreaterThan(0);
    expect(reconciles(followerLines, ns, "s")).toBe(0);

    const stopped = Date.now();
    await stopOperator(leader);
    expect(leaderLines.some((l) => l.message === "released the lease")).toBe(true);
    while (!followerLines.some((l) => l.message === "started leading") && Date.now() - stopped < leaseTiming.leaseDurationMs) await sleep(50);
    expect(Date.now() - stopped).toBeLessThan(leaseTiming.leaseDurationMs);
    await touch(ns, `${sql}\n-- after the leader stopped`);
    const live = await waitReady(ns);
    expect(live.status?.observedGeneration).toBe(live.metadata.generation);
    expect(reconciles(followerLines, ns, "s")).toBeGreaterThan(0);
    expect(followerLines.some((l) => l.message === "started leading")).toBe(true);
    await stopOperator(follower);
  }, 120_000);

  it("SIGKILL during a reconcile, then a restart, converges without errors", async () => {
    const ns = "rt-kill";
    const tablesWanted = 40;
    const db = await setUp(ns, desiredSql(tablesWanted));
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        resolve(root, "sdk/operator/main.ts"),
        "--kubeconfig",
        cp!.kubeconfigPath,
        "--namespace",
        ns,
        "--dev-url",
        devUrl(),
        "--metrics-port",
        "0",
      ],
      { cwd: root, stdio: ["ignore", "ignore", "pipe"] },
    );
    children.push(child);
    let port: number | undefined;
    createInterface({ input: child.stderr! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; message?: string; port?: number };
        if (entry.port !== undefined) port = entry.port;
      } catch {
        // not a log line
      }
    });
    await eventually("the child operator reports its port", () => port !== undefined, 30_000);
    await eventually(
      "a reconcile in flight in the child",
      async () => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => "");
        return /setpoint_reconcile_active_workers\{controller="postgresschema"\} [1-9]/.test(text);
      },
      30_000,
    );
    child.kill("SIGKILL");
    await new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(undefined) : child.once("exit", done)));
    expect(child.signalCode).toBe("SIGKILL");
    const killed = await read(ns);
    expect(readyFor(killed)).toBe(false); // it died before reporting

    const lines: Line[] = [];
    await operator(ns, lines);
    await waitReady(ns);
    expect(await db.tables()).toBe(tablesWanted);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
  }, 120_000);
});
