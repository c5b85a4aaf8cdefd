// Operator benchmark: `npm run bench:operator -- [--count 1000] [--concurrency 4] [--resync 15]
// [--shared-schema] [--in-process] [--json FILE]`.
// Starts etcd + kube-apiserver with our CRDs, one embedded PostgreSQL 17 and the operator (by
// default the compiled `dist/sdk/operator/main.js` in its own `node` process, as users run it);
// creates N PostgresSchema objects (each with its own Secret and its own desired schema in its own
// PostgreSQL schema of one shared database), then measures the time until all are Ready,
// reconciles per second, API requests per converged resync (from the API server's own request
// counters) and the operator's RSS. See docs/bench-operator.md.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresSchemaStatus } from "../sdk/api/index";
import { startOperator } from "../sdk/operator/main";
import { OPERATOR_NODE_OPTIONS } from "../sdk/operator/process";
import type { LogFields, Logger } from "../sdk/reconcile/index";
import { Informer } from "../sdk/reconcile/internal/informer";
import { MetricsRegistry } from "../sdk/reconcile/internal/metrics";
import { pgClient } from "../sdk/postgres/client";
import { startEmbeddedPostgres } from "../sdk/postgres/embedded";
import { DEV_SERVER_PARAMETERS } from "../sdk/schema/normalize/dev-servers";
import { installCrds, loadToolchain, startControlPlane } from "../test/support/control-plane";
import { textTable } from "./support/stats";

const TARGETS = { allReadySeconds: 120, writesPerConvergedResync: 0, rssMb: 200 } as const;
const NAMESPACE = "default";
const plural = KINDS.PostgresSchema.plural;
const root = resolve(__dirname, "..");
const COMPILED = join(root, "dist/sdk/operator/main.js");

interface Result {
  objects: number;
  allReadySeconds: number;
  reconcilesPerSecond: number;
  writesPerConvergedResync: number;
  rssMb: number;
  /** Context: not part of the required shape, useful for reading the numbers. */
  detail: {
    /** `compiled` (node dist/..., a child process) or `in-process` (under tsx, in the bench process). */
    operator: "compiled" | "in-process";
    /** Distinct desired schemas among the objects (1 with --shared-schema). */
    distinctSchemas: number;
    createSeconds: number;
    concurrency: number;
    reconcilesToReady: number;
    convergedReconciles: number;
    /** From the start of the measurement until --count more reconciles finished: includes waiting up to --resync s for the next resync. */
    convergedResyncSeconds: number;
    readsPerConvergedResync: number;
    errors: number;
    applyLockedRetries: number;
    meanReconcileMs: number;
    /** Engine calls that returned, by where their normalized desired model came from, until all were Ready (a call that failed on the apply lock is not counted). */
    normalizedOnDevServer: number;
    plansFromCache: number;
    /** Seconds from the first create until 25 %, 50 %, 75 % and 100 % of the objects were Ready. */
    readyQuartilesSeconds: number[];
    /** RSS right after the operator started, before any object existed. */
    rssAtStartMb: number;
    /** RSS at the end, everything converged. */
    rssAtEndMb: number;
    cpus: number;
    /** The machine's 1-minute load average, sampled with the RSS until all were Ready: mean and highest. */
    loadAverage: { mean: number; max: number };
  };
}

interface Options {
  count: number;
  concurrency: number;
  resync: number;
  json: string | undefined;
  inProcess: boolean;
  sharedSchema: boolean;
  timeoutSeconds: number;
}

function options(): Options {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      count: { type: "string" },
      concurrency: { type: "string" },
      resync: { type: "string" },
      json: { type: "string" },
      timeout: { type: "string" },
      "in-process": { type: "boolean" },
      "shared-schema": { type: "boolean" },
    },
  });
  const int = (name: string, text: string | undefined, fallback: number): number => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
    return n;
  };
  return {
    count: int("count", values.count, 1000),
    concurrency: int("concurrency", values.concurrency, 4),
    resync: int("resync", values.resync, 15),
    json: values.json,
    inProcess: values["in-process"] ?? false,
    sharedSchema: values["shared-schema"] ?? false,
    timeoutSeconds: int("timeout", values.timeout, 900),
  };
}

/** The desired schema of object `i`: two tables, a foreign key and an index in its own PostgreSQL schema. */
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
  const text = await new Promise<string>((done, reject) => {
    const req = request(opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => done(body));
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

function reconcileTotal(text: string): { total: number; errors: number } {
  let total = 0;
  let errors = 0;
  for (const m of text.matchAll(/^setpoint_reconcile_total\{controller="postgresschema",result="(\w+)"\} (\d+)$/gm)) {
    total += Number(m[2]);
    if (m[1] === "error") errors += Number(m[2]);
  }
  return { total, errors };
}

/** `setpoint_schema_plans_total` by where the desired model came from. */
function plansBySource(text: string): { cache: number; devServer: number } {
  const get = (label: string): number => Number(new RegExp(`^setpoint_schema_plans_total\\{desired="${label}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
  return { cache: get("cache"), devServer: get("dev-server") };
}

function meanReconcileMs(text: string): number {
  const sum = Number(/^setpoint_reconcile_duration_seconds_sum\{controller="postgresschema"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  const count = Number(/^setpoint_reconcile_duration_seconds_count\{controller="postgresschema"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  return count === 0 ? 0 : (sum / count) * 1000;
}

interface BenchObject extends KubernetesObject {
  status?: PostgresSchemaStatus;
}

function isReady(o: BenchObject): boolean {
  const ready = o.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "True" && o.status?.observedGeneration === o.metadata?.generation;
}

/** The operator under test, wherever it runs. */
interface OperatorUnderTest {
  /** Its Prometheus metrics text. */
  metrics(): Promise<string>;
  /** Its resident set size now, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

type LogSink = (level: string, message: string, fields: LogFields) => void;

async function inProcessOperator(kc: KubeConfig, opts: Options, devUrl: string, cacheDir: string, sink: LogSink): Promise<OperatorUnderTest> {
  const logger = (base: LogFields = {}): Logger => ({
    debug: () => {},
    info: (m, f) => sink("info", m, { ...base, ...f }),
    error: (m, f) => sink("error", m, { ...base, ...f }),
    child: (f) => logger({ ...base, ...f }),
  });
  const registry = new MetricsRegistry();
  const operator = await startOperator({
    kubeconfig: kc,
    namespace: NAMESPACE,
    resyncSeconds: opts.resync,
    concurrency: opts.concurrency,
    metricsPort: 0,
    metricsHost: "127.0.0.1",
    engineOptions: { devUrl, cacheDir },
    logger: logger(),
    metrics: registry,
  });
  return { metrics: async () => registry.render(), rss: () => process.memoryUsage().rss, stop: () => operator.stop() };
}

/** Newest modification time of the TypeScript sources the compiled operator is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return newest;
}

async function compiledOperator(kubeconfigPath: string, opts: Options, devUrl: string, cacheDir: string, sink: LogSink): Promise<OperatorUnderTest> {
  if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run \`npm run build\` first (or pass --in-process)`);
  if (newestSource(join(root, "sdk")) > statSync(COMPILED).mtimeMs) {
    console.error("warning: sdk/ has sources newer than dist/sdk/operator/main.js; run `npm run build` to measure them");
  }
  const args = [COMPILED, "--kubeconfig", kubeconfigPath, "--namespace", NAMESPACE, "--resync", String(opts.resync)];
  args.push("--concurrency", String(opts.concurrency), "--dev-url", devUrl, "--metrics-port", "0");
  // The normalized-model cache goes to a fresh directory: a warm cache from an earlier run would skip the dev server.
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, SETPOINT_CACHE_DIR: cacheDir, NODE_OPTIONS: OPERATOR_NODE_OPTIONS },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let port: number | undefined;
  createInterface({ input: child.stderr! }).on("line", (line) => {
    let entry: { level?: string; msg?: string; port?: number } & LogFields;
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      process.stderr.write(`operator: ${line}\n`);
      return;
    }
    if (entry.msg === "operator started" && typeof entry.port === "number") port = entry.port;
    sink(entry.level ?? "info", entry.msg ?? "", entry);
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const deadline = Date.now() + 60_000;
  while (port === undefined) {
    if (child.exitCode !== null) throw new Error(`the operator exited with ${child.exitCode} before it started`);
    if (Date.now() > deadline) throw new Error("the operator did not report its port within 60 s");
    await sleep(50);
  }
  const url = `http://127.0.0.1:${port}/metrics`;
  const procStatus = `/proc/${child.pid}/status`;
  return {
    metrics: async () => (await fetch(url)).text(),
    rss: () => {
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(procStatus, "utf8"))?.[1];
      return Number(kb ?? 0) * 1024;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const opts = options();
  const toolchain = loadToolchain();
  if (!toolchain) throw new Error("etcd/kube-apiserver not built; run `npm run toolchain`");
  const errors: string[] = [];
  const lastErrorByName = new Map<string, string>();
  let applyLocked = 0;
  const sink: LogSink = (level, message, fields) => {
    if (level !== "error") return;
    // Applies to one database serialize on its advisory lock; the loser retries with backoff.
    if (fields.code === "APPLY_LOCKED") applyLocked++;
    else if (errors.length < 20) errors.push(`${message} ${JSON.stringify(fields)}`);
    if (typeof fields.name === "string") lastErrorByName.set(fields.name, `${message}: ${String(fields.error ?? fields.code ?? "")}`);
  };
  const cacheDir = mkdtempSync(join(tmpdir(), "setpoint-bench-operator-cache-"));

  console.error(`starting control plane and PostgreSQL 17 ...`);
  const cp = await startControlPlane({ toolchain });
  const pg = await startEmbeddedPostgres({ major: 17, parameters: { ...DEV_SERVER_PARAMETERS, max_connections: 200 } });
  const stops: (() => Promise<unknown>)[] = [() => pg.stop(), () => cp.stop()];
  let rssMax = 0;
  const loads: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    await installCrds(cp.kubeConfig, crdManifests());
    const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const devUrl = pg.url("postgres");
    const target = (i: number): string => (opts.sharedSchema ? pg.url(`app_${i}`) : pg.url("postgres"));
    if (opts.sharedSchema) {
      console.error(`creating ${opts.count} databases (--shared-schema: one layout, one database per object) ...`);
      const admin = pgClient({ connectionString: devUrl });
      await admin.connect();
      for (let i = 0; i < opts.count; i++) await admin.query(`CREATE DATABASE app_${i} TEMPLATE template0`);
      await admin.end();
    }
    const operator = opts.inProcess
      ? await inProcessOperator(cp.kubeConfig, opts, devUrl, cacheDir, sink)
      : await compiledOperator(cp.kubeconfigPath, opts, devUrl, cacheDir, sink);
    stops.unshift(() => operator.stop());
    const rssAtStart = operator.rss();
    sampler = setInterval(() => {
      try {
        rssMax = Math.max(rssMax, operator.rss());
        loads.push(loadavg()[0]!);
      } catch {
        // the process just exited
      }
    }, 250);

    console.error(`creating ${opts.count} Secrets and PostgresSchema objects ...`);
    const t0 = performance.now();
    await pool(opts.count, 16, async (i) => {
      await core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: `db-${i}` }, stringData: { uri: target(i) } } });
      await objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: "PostgresSchema",
          metadata: { name: `s-${i}` },
          spec: {
            connection: { secretRef: { name: `db-${i}` } },
            desired: { sql: opts.sharedSchema ? sharedSql() : desiredSql(i) },
            driftCheckInterval: "1h",
            allowHazards: ["INDEX_BUILD"],
          },
        },
      });
    });
    const createSeconds = (performance.now() - t0) / 1000;
    console.error(`created in ${createSeconds.toFixed(1)} s; waiting for Ready ...`);

    // Readiness is followed with a watch, not by listing every object over and over (which at
    // 1,000 objects loads the API server and this process more than the operator does).
    const quartiles: number[] = [];
    const readyNames = new Set<string>();
    let allReadyAt: number | undefined;
    const watcher = new Informer<BenchObject>({
      kubeConfig: cp.kubeConfig,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${plural}`,
      metrics: new MetricsRegistry(),
    });
    watcher.onEvent((e) => {
      const name = e.object.metadata?.name ?? "";
      if (e.type !== "delete" && isReady(e.object)) readyNames.add(name);
      else readyNames.delete(name);
      const elapsed = (performance.now() - t0) / 1000;
      while (quartiles.length < 4 && readyNames.size >= (opts.count * (quartiles.length + 1)) / 4) quartiles.push(round(elapsed));
      if (readyNames.size === opts.count) allReadyAt ??= performance.now();
    });
    stops.unshift(() => watcher.stop());
    await watcher.start();
    let lastReport = 0;
    while (allReadyAt === undefined) {
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed - lastReport >= 30) {
        lastReport = elapsed;
        console.error(`  ${elapsed.toFixed(0)} s: ${readyNames.size}/${opts.count} Ready, operator RSS ${(operator.rss() / 2 ** 20).toFixed(0)} MB`);
      }
      if (elapsed > opts.timeoutSeconds) {
        const missing = watcher.list().filter((o) => !isReady(o)).slice(0, 20);
        const why = missing.map((o) => `  ${o.metadata?.name}: ${JSON.stringify(o.status ?? null)}; last error: ${lastErrorByName.get(o.metadata?.name ?? "") ?? "none"}`);
        const state = (await operator.metrics())
          .split("\n")
          .filter((l) => /^setpoint_(workqueue|reconcile_active|reconcile_total|informer)/.test(l))
          .join("\n  ");
        throw new Error(
          `only ${readyNames.size}/${opts.count} Ready after ${opts.timeoutSeconds} s; not Ready (first 20):\n${why.join("\n")}\n` +
            `operator metrics:\n  ${state}\nerrors: ${errors.join("; ")}`,
        );
      }
      await sleep(100);
    }
    const allReadySeconds = (allReadyAt - t0) / 1000;
    const atReady = await operator.metrics();
    const reconcilesToReady = reconcileTotal(atReady).total;
    const plans = plansBySource(atReady);
    console.error(`all ${opts.count} Ready after ${allReadySeconds.toFixed(1)} s (${reconcilesToReady} reconciles); measuring a converged resync ...`);

    // Every object is Ready, so every reconcile from now on is of a converged object. (Waiting
    // for reconciles to stop would never end once a resync pass takes longer than the period.)
    await sleep(1000);
    const before = await apiRequests(cp.kubeConfig);
    const r0 = reconcileTotal(await operator.metrics()).total;
    const t1 = performance.now();
    while (reconcileTotal(await operator.metrics()).total < r0 + opts.count) await sleep(100);
    const convergedResyncSeconds = (performance.now() - t1) / 1000;
    const text = await operator.metrics();
    const r1 = reconcileTotal(text).total;
    const after = await apiRequests(cp.kubeConfig);
    const convergedReconciles = r1 - r0;
    const passes = convergedReconciles / opts.count;
    const rssAtEnd = operator.rss();

    const result: Result = {
      objects: opts.count,
      allReadySeconds: round(allReadySeconds),
      reconcilesPerSecond: round(reconcilesToReady / allReadySeconds),
      writesPerConvergedResync: round((after.writes - before.writes) / passes),
      rssMb: round(rssMax / 2 ** 20),
      detail: {
        operator: opts.inProcess ? "in-process" : "compiled",
        distinctSchemas: opts.sharedSchema ? 1 : opts.count,
        createSeconds: round(createSeconds),
        concurrency: opts.concurrency,
        reconcilesToReady,
        convergedReconciles,
        convergedResyncSeconds: round(convergedResyncSeconds),
        readsPerConvergedResync: round((after.reads - before.reads) / passes),
        errors: reconcileTotal(text).errors - applyLocked,
        applyLockedRetries: applyLocked,
        meanReconcileMs: round(meanReconcileMs(text)),
        normalizedOnDevServer: plans.devServer,
        plansFromCache: plans.cache,
        readyQuartilesSeconds: quartiles,
        rssAtStartMb: round(rssAtStart / 2 ** 20),
        rssAtEndMb: round(rssAtEnd / 2 ** 20),
        cpus: cpus().length,
        loadAverage: { mean: round(loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)), max: round(Math.max(0, ...loads)) },
      },
    };
    if (errors.length > 0) console.error(`errors (first ${errors.length}):\n  ${errors.join("\n  ")}`);
    const verdict = (ok: boolean): string => (ok ? "ok" : "MISSED");
    console.log(
      textTable(
        ["measure", "value", "target", ""],
        [
          ["objects", result.objects, "", ""],
          ["operator", `${result.detail.operator}, ${result.detail.concurrency} workers`, "", ""],
          ["distinct desired schemas", result.detail.distinctSchemas, "", ""],
          ["all Ready (s, from first create)", result.allReadySeconds, `< ${TARGETS.allReadySeconds}`, verdict(result.allReadySeconds < TARGETS.allReadySeconds)],
          ["  25/50/75/100 % Ready at (s)", quartiles.join(" / "), "", ""],
          ["  of which creating objects (s)", result.detail.createSeconds, "", ""],
          ["reconciles per second (to Ready)", result.reconcilesPerSecond, "", ""],
          ["reconciles to Ready", result.detail.reconcilesToReady, "", ""],
          ["writes per converged resync", result.writesPerConvergedResync, "0", verdict(result.writesPerConvergedResync === 0)],
          ["reads per converged resync", result.detail.readsPerConvergedResync, "", ""],
          ["converged resync pass, incl. waiting for its tick (s)", result.detail.convergedResyncSeconds, "", ""],
          ["operator RSS, max (MB)", result.rssMb, `< ${TARGETS.rssMb}`, verdict(result.rssMb < TARGETS.rssMb)],
          ["  RSS right after start / at the end (MB)", `${result.detail.rssAtStartMb} / ${result.detail.rssAtEndMb}`, "", ""],
          ["mean reconcile (ms)", result.detail.meanReconcileMs, "", ""],
          ["plans to Ready: normalized on dev server / cached", `${plans.devServer} / ${plans.cache}`, "", ""],
          ["retries on the apply lock", result.detail.applyLockedRetries, "", ""],
          ["other reconcile errors", result.detail.errors, "0", verdict(result.detail.errors === 0)],
          ["machine load average (1 min) until Ready: mean / max", `${result.detail.loadAverage.mean} / ${result.detail.loadAverage.max} on ${result.detail.cpus} cores`, "", ""],
        ],
      ),
    );
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (sampler) clearInterval(sampler);
    for (const stop of stops) await stop().catch(() => undefined);
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** With --shared-schema: the same layout for every object, in each object's own database. */
function sharedSql(): string {
  return [
    `CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);`,
    `CREATE TABLE events (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id), at timestamptz NOT NULL);`,
    `CREATE INDEX events_account_idx ON events (account_id);`,
  ].join("\n");
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
