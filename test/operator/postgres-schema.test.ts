// The PostgresSchema operator end to end, in process: a real API server, real PostgreSQL, the
// operator's informer, controller, status writes and HTTP endpoints.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, V1MicroTime } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, type PostgresSchemaStatus } from "../../sdk/api/index";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import type { LogFields, Logger } from "../../sdk/reconcile/index";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { conditionOf as condition, createCustomObject, deleteCustomObject, hasCondition, readCustomObject, waitForStatus } from "../support/custom-objects";
import { freshDatabase, majors, serverUrl, servers } from "../support/postgres";
import { eventually } from "../support/eventually";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const namespace = "default";
const major = majors().includes(17) ? 17 : majors()[0]!;

const DESIRED = `
CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors (id), title text NOT NULL);
CREATE INDEX books_author_idx ON books (author_id);
`;

interface SchemaObject {
  metadata: { name: string; generation?: number };
  status?: PostgresSchemaStatus & Record<string, unknown>;
}

describe.skipIf(toolchain.skip !== undefined)("PostgresSchema operator", () => {
  let cp: ControlPlane | undefined;
  let operator: RunningOperator | undefined;
  let objects: CustomObjectsApi;
  let core: CoreV1Api;
  const lines: { message: string; fields: LogFields }[] = [];
  const logger = (base: LogFields = {}): Logger => ({
    debug: () => {},
    info: (message, fields) => lines.push({ message, fields: { ...base, ...fields } }),
    error: (message, fields) => lines.push({ message, fields: { ...base, ...fields } }),
    child: (fields) => logger({ ...base, ...fields }),
  });

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    await installCrds(cp.kubeConfig, crdManifests());
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const server = servers().find((s) => s.major === major)!;
    operator = await startOperator({
      kubeconfig: cp.kubeConfig,
      namespace,
      resyncSeconds: 2,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      engineOptions: { devUrl: serverUrl(server), cacheDir: false },
      unreachableRequeueMs: 1000,
      logger: logger(),
      metrics: new MetricsRegistry(),
    });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await cp?.stop();
  }, 60_000);

  const createSecret = async (name: string, uri: string): Promise<void> => {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: { uri } } });
  };
  const createSchema = async (name: string, secret: string, sql: string): Promise<void> => {
    await createCustomObject(objects, namespace, "PostgresSchema", name, { connection: { secretRef: { name: secret } }, desired: { sql }, driftCheckInterval: "2s", allowHazards: ["INDEX_BUILD"] });
  };
  const read = (name: string): Promise<SchemaObject> => readCustomObject<SchemaObject>(objects, namespace, "PostgresSchema", name);
  const waitFor = (name: string, what: string, ready: (o: SchemaObject) => boolean, timeoutMs?: number): Promise<SchemaObject> =>
    waitForStatus<SchemaObject>(objects, { namespace, kind: "PostgresSchema", name }, what, ready, timeoutMs);
  const remove = async (name: string): Promise<void> => {
    await deleteCustomObject(objects, namespace, "PostgresSchema", name);
  };
  const readyFor = (o: SchemaObject): boolean => {
    const ready = condition(o, "Ready");
    return ready?.status === "True" && ready.observedGeneration === o.metadata.generation && o.status?.observedGeneration === o.metadata.generation;
  };

  it("converges, refuses a hazardous drift, corrects a harmless one", async () => {
    const db = await freshDatabase(major);
    const sql = await db.client();
    await createSecret("db-main", db.url);
    await createSchema("main", "db-main", DESIRED);
    const tables = async (): Promise<string[]> =>
      (await sql.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    const hasIndex = async (): Promise<boolean> =>
      (await sql.query("SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'books_author_idx'")).rowCount === 1;
    const hasColumn = async (): Promise<boolean> =>
      (await sql.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'authors' AND column_name = 'nickname'")).rowCount === 1;

    await waitFor("main", "Ready=True for the current generation", readyFor);
    expect(await tables()).toEqual(["authors", "books"]);
    expect(await hasIndex()).toBe(true);
    let live = await read("main");
    for (const type of ["Ready", "Degraded", "Progressing"]) expect(condition(live, type)?.observedGeneration).toBe(live.metadata.generation);
    expect(condition(live, "Degraded")?.status).toBe("False");
    expect(live.status?.pendingStatements).toEqual([]);
    expect(live.status?.lastAppliedFingerprint).toMatch(/.+/);

    // Out-of-band column holding data: removing it needs DATA_LOSS_DROP_COLUMN, which is not allowed.
    await sql.query("ALTER TABLE authors ADD COLUMN nickname text; INSERT INTO authors VALUES (1, 'Ann', 'A')");
    await waitFor("main", "Degraded=True reason HazardsRefused", (o) => hasCondition(o, "Degraded", { status: "True", reason: "HazardsRefused" }));
    live = await read("main");
    expect(condition(live, "Ready")).toMatchObject({ status: "False", reason: "HazardsRefused" });
    expect(condition(live, "Degraded")?.status).toBe("True");
    expect(condition(live, "Ready")?.message).toContain("DATA_LOSS_DROP_COLUMN");
    expect(live.status?.drift).toBe(true);
    expect(live.status?.pendingStatements?.join("\n")).toMatch(/DROP COLUMN.*nickname/);
    await sleep(2500); // at least one more drift check: still refused, nothing applied
    expect(await hasColumn()).toBe(true);

    // The user resolves it; then a harmless drift (a dropped index) is corrected unattended.
    await sql.query("ALTER TABLE authors DROP COLUMN nickname");
    await waitFor("main", "Ready again", readyFor);
    await sql.query("DROP INDEX books_author_idx");
    await eventually("index re-created", hasIndex);
    await eventually("drift correction logged", () =>
      lines.some((l) => /drift .*corrected/.test(l.message) && l.fields.name === "main" && Number(l.fields.statements) > 0),
    );
    await waitFor("main", "Ready after the correction", readyFor);

    await remove("main");
    await sleep(500); // let an in-flight reconcile finish before the database is dropped
  }, 180_000);

  it("reports a property the engine does not model as UnmodelledDifference in the drift loop, and Ready once it matches", async () => {
    // The catalog-level check (ADR 0014) in the drift loop: the plan is empty, yet the database
    // differs from the desired SQL by a rule (pg_rewrite, a kind the engine does not manage). The
    // drift check must not call that converged.
    const db = await freshDatabase(major);
    const sql = await db.client();
    await createSecret("db-unmodelled", db.url);
    await createSchema("unmodelled", "db-unmodelled", "CREATE TABLE notes (id bigint PRIMARY KEY, body text);");
    await waitFor("unmodelled", "Ready=True for the current generation", readyFor);

    await sql.query("CREATE RULE notes_quiet AS ON DELETE TO notes DO ALSO NOTHING");
    const drifted = await waitFor("unmodelled", "Ready=False reason UnmodelledDifference", (o) => hasCondition(o, "Ready", { status: "False", reason: "UnmodelledDifference" }));
    expect(condition(drifted, "Degraded")).toMatchObject({ status: "True", reason: "UnmodelledDifference" });
    expect(condition(drifted, "Ready")?.message).toContain("UNMODELLED_DIFFERENCE pg_rewrite public.notes.notes_quiet: only on the target");
    expect(drifted.status?.pendingStatements ?? []).toEqual([]);
    expect(JSON.stringify(drifted.status)).not.toContain(db.url);
    // Nothing was changed to hide it: the rule made out of band is still there.
    expect((await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_rewrite WHERE rulename = 'notes_quiet'")).rows[0]!.n).toBe(1);

    await sql.query("DROP RULE notes_quiet ON notes");
    await waitFor("unmodelled", "Ready again once the catalogs match", readyFor);
    await remove("unmodelled");
    await sleep(500); // let an in-flight reconcile finish before the database is dropped
  }, 180_000);

  it("reports an unreachable database as a condition, without secrets, and keeps serving", async () => {
    await createSecret("db-down", "postgres://app:s3cret-pw@127.0.0.1:1/app");
    await createSchema("down", "db-down", "CREATE TABLE t (id int);");
    await waitFor("down", "Ready=False reason DatabaseUnreachable", (o) => hasCondition(o, "Ready", { status: "False", reason: "DatabaseUnreachable" }));
    const live = await read("down");
    expect(condition(live, "Ready")?.status).toBe("False");
    expect(condition(live, "Degraded")).toMatchObject({ status: "True", reason: "DatabaseUnreachable" });
    expect(condition(live, "Ready")?.observedGeneration).toBe(live.metadata.generation);
    expect(JSON.stringify(live.status)).not.toContain("s3cret-pw");
    expect(JSON.stringify(lines)).not.toContain("s3cret-pw");

    const base = `http://127.0.0.1:${operator!.port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/setpoint_reconcile_total\{controller="postgresschema",result="requeue"\} [1-9]/);
    await remove("down");
  }, 120_000);

  it("with leader election holds the Lease, and stops and reports when it loses it", async () => {
    const leases = cp!.kubeConfig.makeApiClient(CoordinationV1Api);
    let lost = 0;
    const elected = await startOperator({
      kubeconfig: cp!.kubeConfig,
      namespace,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      leaderElect: true,
      leaseNamespace: namespace,
      leaseName: "setpoint-operator-test",
      leaseTiming: { leaseDurationMs: 3000, renewDeadlineMs: 1500, retryPeriodMs: 300 },
      logger: logger({ replica: "elected" }),
      metrics: new MetricsRegistry(),
      onLostLeadership: () => lost++,
    });
    try {
      await eventually("the Lease is held", async () => {
        const lease = await leases.readNamespacedLease({ name: "setpoint-operator-test", namespace }).catch(() => undefined);
        return (lease?.spec?.holderIdentity ?? "") !== "";
      });
      expect((await fetch(`http://127.0.0.1:${elected.port}/readyz`)).status).toBe(200);
      // Another replica takes the Lease: this one can no longer renew and must stop.
      const lease = await leases.readNamespacedLease({ name: "setpoint-operator-test", namespace });
      const now = new V1MicroTime(Date.now());
      await leases.replaceNamespacedLease({
        name: "setpoint-operator-test",
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "another-replica", renewTime: now, acquireTime: now, leaseDurationSeconds: 60 } },
      });
      await eventually("leadership lost reported", () => lost === 1);
      expect(lines.some((l) => l.fields.replica === "elected" && l.message.startsWith("lost leadership"))).toBe(true);
    } finally {
      await elected.stop();
    }
    expect(lost).toBe(1);
  }, 120_000);
});
