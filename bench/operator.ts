// Operator benchmark: `npm run bench:operator -- [--count 1000] [--concurrency 4] [--resync 15] [--json FILE]`.
// Starts etcd + kube-apiserver with our CRDs, one embedded PostgreSQL 17 and the operator in this
// process; creates N PostgresSchema objects (each with its own Secret and its own desired schema
// in its own PostgreSQL schema of one shared database), then measures the time until all are
// Ready, reconciles per second, API requests per converged resync (from the API server's own
// request counters) and this process's RSS. See docs/bench-operator.md.
import { request, type RequestOptions } from "node:https";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresSchemaStatus } from "../sdk/api/index";
import { startOperator } from "../sdk/operator/main";
import type { LogFields, Logger } from "../sdk/reconcile/index";
import { MetricsRegistry } from "../sdk/reconcile/internal/metrics";
import { startEmbeddedPostgres } from "../sdk/postgres/embedded";
import { DEV_SERVER_PARAMETERS } from "../sdk/schema/normalize";
import { installCrds, loadToolchain, startControlPlane } from "../test/support/control-plane";
import { textTable } from "./support/stats";

const TARGETS = { allReadySeconds: 120, writesPerConvergedResync: 0, rssMb: 200 } as const;
const NAMESPACE = "default";
const plural = KINDS.PostgresSchema.plural;

interface Result {
  objects: number;
  allReadySeconds: number;
  reconcilesPerSecond: number;
  writesPerConvergedResync: number;
  rssMb: number;
  /** Context: not part of the required shape, useful for reading the numbers. */
  detail: {
    createSeconds: number;
    concurrency: number;
    reconcilesToReady: number;
    convergedReconciles: number;
    convergedResyncSeconds: number;
    readsPerConvergedResync: number;
    errors: number;
    applyLockedRetries: number;
    meanReconcileMs: number;
    /** RSS right after the operator started, before any object existed. */
    rssAtStartMb: number;
    /** V8 heap in use at the end (the operator's caches live here). */
    heapUsedMb: number;
    cpus: number;
  };
}

function options(): { count: number; concurrency: number; resync: number; json: string | undefined } {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { count: { type: "string" }, concurrency: { type: "string" }, resync: { type: "string" }, json: { type: "string" } },
  });
  const int = (name: string, text: string | undefined, fallback: number): number => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
    return n;
  };
  return { count: int("count", values.count, 1000), concurrency: int("concurrency", values.concurrency, 4), resync: int("resync", values.resync, 15), json: values.json };
}

/** The desired schema of object `i`: two tables and an index in its own PostgreSQL schema. */
function desiredSql(i: number): string {
  const s = `tenant_${i}`;
  return [
    `CREATE SCHEMA ${s};`,
    `CREATE TABLE ${s}.accounts (id bigint PRIMARY KEY, name text NOT NULL);`,
    `CREATE TABLE ${s}.events (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES ${s}.accounts (id), at timestamptz NOT NULL);`,
    `CREATE INDEX events_account_idx ON ${s}.events (account_id);`,
  ].join("\n");
}

/** The API server's `apiserver_request_total`, summed into writes and reads for the resources the operator touches. */
async function apiRequests(kc: KubeConfig): Promise<{ writes: number; reads: number }> {
  const server = new URL(kc.getCurrentCluster()!.server);
  const opts: RequestOptions = { hostname: server.hostname, port: server.port, path: "/metrics", method: "GET" };
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
  let writes = 0;
  let reads = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1];
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? "";
    if (resource !== plural && resource !== "secrets" && resource !== "configmaps") continue;
    const n = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (["POST", "PUT", "PATCH", "DELETE", "APPLY"].includes(verb)) writes += n;
    else if (verb !== "WATCH") reads += n;
  }
  return { writes, reads };
}

/** Runs `fn` over 0..n-1 with at most `parallel` calls in flight. */
async function pool(n: number, parallel: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function reconcileTotal(metrics: MetricsRegistry): { total: number; errors: number } {
  let total = 0;
  let errors = 0;
  for (const m of metrics.render().matchAll(/^setpoint_reconcile_total\{controller="postgresschema",result="(\w+)"\} (\d+)$/gm)) {
    total += Number(m[2]);
    if (m[1] === "error") errors += Number(m[2]);
  }
  return { total, errors };
}

function meanReconcileMs(metrics: MetricsRegistry): number {
  const text = metrics.render();
  const sum = Number(/^setpoint_reconcile_duration_seconds_sum\{controller="postgresschema"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  const count = Number(/^setpoint_reconcile_duration_seconds_count\{controller="postgresschema"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  return count === 0 ? 0 : (sum / count) * 1000;
}

function isReady(o: { metadata?: { generation?: number }; status?: PostgresSchemaStatus }): boolean {
  const ready = o.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "True" && o.status?.observedGeneration === o.metadata?.generation;
}

async function main(): Promise<void> {
  const opts = options();
  const toolchain = loadToolchain();
  if (!toolchain) throw new Error("etcd/kube-apiserver not built; run `npm run toolchain`");
  const errors: string[] = [];
  let applyLocked = 0;
  const quiet: Logger = {
    debug: () => {},
    info: () => {},
    error: (message: string, fields?: LogFields) => {
      // Applies to one database serialize on its advisory lock; the loser retries with backoff.
      if (fields?.code === "APPLY_LOCKED") applyLocked++;
      else if (errors.length < 20) errors.push(`${message} ${JSON.stringify(fields ?? {})}`);
    },
    child: () => quiet,
  };
  const cacheDir = mkdtempSync(join(tmpdir(), "setpoint-bench-operator-cache-"));
  let rssMax = 0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 250);

  console.error(`starting control plane and PostgreSQL 17 ...`);
  const cp = await startControlPlane({ toolchain });
  const pg = await startEmbeddedPostgres({ major: 17, parameters: { ...DEV_SERVER_PARAMETERS, max_connections: 200 } });
  const stops: (() => Promise<unknown>)[] = [() => pg.stop(), () => cp.stop()];
  try {
    await installCrds(cp.kubeConfig, crdManifests());
    const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const metrics = new MetricsRegistry();
    const target = pg.url("postgres");
    const operator = await startOperator({
      kubeconfig: cp.kubeConfig,
      namespace: NAMESPACE,
      resyncSeconds: opts.resync,
      concurrency: opts.concurrency,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      engineOptions: { devUrl: pg.url("postgres"), cacheDir },
      logger: quiet,
      metrics,
    });
    stops.unshift(() => operator.stop());
    const rssAtStart = process.memoryUsage().rss;

    console.error(`creating ${opts.count} Secrets and PostgresSchema objects ...`);
    const t0 = performance.now();
    await pool(opts.count, 16, async (i) => {
      await core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: `db-${i}` }, stringData: { uri: target } } });
      await objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: "PostgresSchema",
          metadata: { name: `s-${i}` },
          spec: { connection: { secretRef: { name: `db-${i}` } }, desired: { sql: desiredSql(i) }, driftCheckInterval: "1h", allowHazards: ["INDEX_BUILD"] },
        },
      });
    });
    const createSeconds = (performance.now() - t0) / 1000;
    console.error(`created in ${createSeconds.toFixed(1)} s; waiting for Ready ...`);

    let ready = 0;
    for (;;) {
      const list = (await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural })) as {
        items: { metadata?: { generation?: number }; status?: PostgresSchemaStatus }[];
      };
      ready = list.items.filter(isReady).length;
      if (ready === opts.count) break;
      if ((performance.now() - t0) / 1000 > 900) throw new Error(`only ${ready}/${opts.count} Ready after 900 s; errors: ${errors.join("; ")}`);
      await sleep(500);
    }
    const allReadySeconds = (performance.now() - t0) / 1000;
    const reconcilesToReady = reconcileTotal(metrics).total;
    console.error(`all ${opts.count} Ready after ${allReadySeconds.toFixed(1)} s (${reconcilesToReady} reconciles); measuring a converged resync ...`);

    // Let the reconciles triggered by our own status writes finish, then watch one full resync.
    let settled = reconcileTotal(metrics).total;
    for (;;) {
      await sleep(2000);
      const now = reconcileTotal(metrics).total;
      if (now === settled) break;
      settled = now;
    }
    const before = await apiRequests(cp.kubeConfig);
    const r0 = reconcileTotal(metrics).total;
    const t1 = performance.now();
    while (reconcileTotal(metrics).total < r0 + opts.count) await sleep(100);
    const convergedResyncSeconds = (performance.now() - t1) / 1000;
    const r1 = reconcileTotal(metrics).total;
    const after = await apiRequests(cp.kubeConfig);
    const convergedReconciles = r1 - r0;
    const passes = convergedReconciles / opts.count;

    const result: Result = {
      objects: opts.count,
      allReadySeconds: round(allReadySeconds),
      reconcilesPerSecond: round(reconcilesToReady / allReadySeconds),
      writesPerConvergedResync: round((after.writes - before.writes) / passes),
      rssMb: round(rssMax / 2 ** 20),
      detail: {
        createSeconds: round(createSeconds),
        concurrency: opts.concurrency,
        reconcilesToReady,
        convergedReconciles,
        convergedResyncSeconds: round(convergedResyncSeconds),
        readsPerConvergedResync: round((after.reads - before.reads) / passes),
        errors: reconcileTotal(metrics).errors - applyLocked,
        applyLockedRetries: applyLocked,
        meanReconcileMs: round(meanReconcileMs(metrics)),
        rssAtStartMb: round(rssAtStart / 2 ** 20),
        heapUsedMb: round(process.memoryUsage().heapUsed / 2 ** 20),
        cpus: cpus().length,
      },
    };
    if (errors.length > 0) console.error(`errors (first ${errors.length}):\n  ${errors.join("\n  ")}`);
    const verdict = (ok: boolean): string => (ok ? "ok" : "MISSED");
    console.log(
      textTable(
        ["measure", "value", "target", ""],
        [
          ["objects", result.objects, "", ""],
          ["all Ready (s, from first create)", result.allReadySeconds, `< ${TARGETS.allReadySeconds}`, verdict(result.allReadySeconds < TARGETS.allReadySeconds)],
          ["  of which creating objects (s)", result.detail.createSeconds, "", ""],
          ["reconciles per second (to Ready)", result.reconcilesPerSecond, "", ""],
          ["writes per converged resync", result.writesPerConvergedResync, "0", verdict(result.writesPerConvergedResync === 0)],
          ["reads per converged resync", result.detail.readsPerConvergedResync, "", ""],
          ["converged resync of all objects (s)", result.detail.convergedResyncSeconds, "", ""],
          ["RSS, max (MB)", result.rssMb, `< ${TARGETS.rssMb}`, verdict(result.rssMb < TARGETS.rssMb)],
          ["  RSS right after start (MB)", result.detail.rssAtStartMb, "", ""],
          ["  V8 heap used at the end (MB)", result.detail.heapUsedMb, "", ""],
          ["mean reconcile (ms)", result.detail.meanReconcileMs, "", ""],
          ["retries on the apply lock", result.detail.applyLockedRetries, "", ""],
          ["other reconcile errors", result.detail.errors, "0", verdict(result.detail.errors === 0)],
        ],
      ),
    );
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    clearInterval(sampler);
    for (const stop of stops) await stop().catch(() => undefined);
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:operator: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
