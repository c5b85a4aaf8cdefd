// Schema-engine benchmark: `npm run bench:schema -- [--sizes 1000,10000] [--json FILE] [--repeat N] [--base-dir DIR] [--no-phases]`.
// Plans, applies and re-plans synthetic schemas against two embedded PostgreSQL 17 servers: the
// target (a fresh database per size) and a dev server for normalization set up as Setpoint's own.
// See docs/bench-schema.md for what each number means.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { connect } from "../sdk/postgres/connection";
import { scratchBaseDir, startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/embedded";
import { quoteIdent } from "../sdk/postgres/quote";
import { applyPlan } from "../sdk/schema/apply/apply";
import { diff } from "../sdk/schema/diff/diff";
import { applySchema, defaultSchemaEngine, normalize, planSchema, scratchCleanup, type PlannedSchema } from "../sdk/schema/engine";
import { introspect } from "../sdk/schema/introspect/introspect";
import type { SchemaModel } from "../sdk/schema/model";
import { DEV_SERVER_PARAMETERS } from "../sdk/schema/normalize/dev-servers";
import { plan } from "../sdk/schema/plan/plan";
import { schemaFromSql, type DesiredSchema } from "../sdk/schema/source/desired";
import { cpuSince, cpuSnapshot, postmasterPid } from "./support/cpu";
import { recordQueries, type RecordedQuery } from "./support/query-counter";
import { median, ms, textTable, timed, timedSync } from "./support/stats";
import { syntheticSchema } from "./support/synthetic";
import { checkCatalogs, desiredCatalogsFromCache, readCatalogSnapshot, UnmodelledDifferenceError } from "../sdk/schema/verify/index";

/** Targets from the issue, at 1,000 tables. */
const TARGETS = { tables: 1000, coldPlanMs: 3000, noopPlanMs: 1500, cachedDriftCheckMs: 250 } as const;
/** Cost per table may grow this much beyond linear between sizes before we call it superlinear (noise margin). */
const LINEAR_TOLERANCE = 1.25;

interface Options {
  sizes: number[];
  json: string | undefined;
  /** Runs of each plan measurement; the median is reported. */
  repeat: number | undefined;
  phases: boolean;
  /** Where the embedded server's directory goes (e.g. /dev/shm to measure a tmpfs dev server). */
  baseDir: string | undefined;
}

/** Wall and CPU milliseconds of one measured phase. */
interface PhaseTime {
  wall: number;
  cpuNode: number;
  cpuServer: number;
}

/** Where the time of a plan goes, each phase measured alone through the public functions. */
interface Phases {
  /** normalize() with the cache off: scratch database + desired DDL + introspection + drop. */
  normalize: PhaseTime;
  /** The desired DDL alone on a scratch database of the dev server, per SQL file (tables, indexes, foreign keys). */
  devDdl: PhaseTime[];
  /** introspect() of the scratch database right after the DDL (catalog statistics not yet analyzed, as in normalize). */
  devIntrospect: PhaseTime;
  /** The desired catalogs read on the scratch database for the catalog-level check (part of normalize). */
  devCatalogSnapshot: PhaseTime;
  /** normalize() with a cache hit: reading and parsing the cached model. */
  cacheRead: PhaseTime;
  /** introspect() of the converged target, and each of its queries (wall ms). */
  liveIntrospect: PhaseTime;
  liveIntrospectQueries: { sql: string; ms: number }[];
  /** diff() and plan() of the converged target (no changes); pure CPU in Node. */
  diffConvergedMs: number;
  planConvergedMs: number;
  /** diff() and plan() from the empty live model of the cold plan (every object is created). */
  diffColdMs: number;
  planColdMs: number;
  /** planColdMs - diffColdMs: dependency ordering, rendering and hazards of every step. */
  orderRenderHazardsColdMs: number;
  coldPlanSteps: number;
}

interface Result {
  tables: number;
  columns: number;
  indexes: number;
  foreignKeys: number;
  coldPlanMs: number;
  noopPlanMs: number;
  cachedDriftCheckMs: number;
  /** No-op plan with no desired-model cache at all (normalization runs again). */
  noopPlanUncachedMs: number;
  /**
   * Cold plan with no dev database URL: Setpoint starts its own embedded dev server (as
   * `setpoint schema plan` without --dev-url does), runs the DDL there and stops it. Wall only:
   * that server is not one of the two measured ones.
   */
  coldPlanEmbeddedMs: number;
  applyMs: number;
  catalogQueries: number;
  /**
   * CPU time (median of the runs) of this Node process and of the PostgreSQL server for each
   * measurement. Wall time minus CPU time is waiting: for a CPU on a busy machine, or for I/O.
   */
  cpuMs: Record<"coldPlan" | "apply" | "noopPlan" | "cachedDriftCheck", { node: number; server: number }>;
  /** Every run of each measurement, in order (the reported value is the median). */
  runs: { coldPlanMs: number[]; coldPlanEmbeddedMs: number[]; noopPlanMs: number[]; cachedDriftCheckMs: number[] };
  catalogCheck: CatalogCheckCost;
  phases?: Phases;
  /** The machine's 1-minute load average when this size started and ended (a shared machine's other work shows here). */
  loadAvg1: { start: number; end: number };
}

/** What the catalog-level convergence check (ADR 0014) costs on the converged target. */
interface CatalogCheckCost {
  /** Rows of the desired state's catalogs, and the size of their cache file. */
  desiredRows: number;
  desiredCacheBytes: number;
  /** The check of a converged target: one hash per catalog and schema, all equal (median of runs). */
  hashesEqual: PhaseTime;
  /** The check after one property drifted: hashes, then the rows of the one differing catalog. */
  oneDifference: PhaseTime;
  /** Every row of every catalog of the target (the check's worst case: every hash differs). */
  allRows: PhaseTime;
  /** The no-op plan (from the disk cache) without the check, to compare with noopPlanMs. */
  noopPlanWithoutCheckMs: number;
  /** The operator's drift check with the catalog-level check in it (see {@link DriftLoopCost}). */
  driftLoop: DriftLoopCost;
}

/**
 * What one drift check of the operator costs (`applySchema` on the converged target, as the
 * PostgresSchema reconciler calls it at each `driftCheckInterval`), in a long-running process whose
 * in-memory caches are warm: wall and CPU (median of runs) and the queries issued.
 */
interface DriftLoopCost {
  /** Nothing changed since the last check: the check's result is kept with the live model. */
  unchanged: PhaseTime & { queries: number };
  /** A DDL touched the managed schema and left it as it was (a new catalog row version, equal catalogs): introspection and one hash query. */
  afterDdl: PhaseTime & { queries: number };
  /** A property the engine does not model drifted: the check reads the differing catalog's rows and apply fails naming it. */
  unmodelledDrift: PhaseTime & { queries: number; reported: string };
}

function usage(problem: string): never {
  console.error(`bench:schema: ${problem}\nusage: npm run bench:schema -- [--sizes 1000,10000] [--json FILE] [--repeat N] [--base-dir DIR] [--no-phases]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { sizes: [1000, 10000], json: undefined, repeat: undefined, phases: true, baseDir: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === "--sizes") {
      opts.sizes = value()
        .split(",")
        .map((s) => Number(s.trim()));
      if (opts.sizes.length === 0 || opts.sizes.some((n) => !Number.isInteger(n) || n < 1)) usage(`--sizes takes positive integers separated by commas, e.g. 1000,10000`);
    } else if (arg === "--json") opts.json = value();
    else if (arg === "--repeat") {
      opts.repeat = Number(value());
      if (!Number.isInteger(opts.repeat) || opts.repeat < 1) usage(`--repeat takes a positive integer`);
    } else if (arg === "--no-phases") opts.phases = false;
    else if (arg === "--base-dir") opts.baseDir = value();
    else usage(`unknown argument ${arg}; expected --sizes, --json, --repeat, --base-dir or --no-phases`);
  }
  return opts;
}

function countModel(m: SchemaModel): Pick<Result, "tables" | "columns" | "indexes" | "foreignKeys"> {
  let columns = 0;
  let indexes = 0;
  let foreignKeys = 0;
  for (const t of m.tables) {
    columns += t.columns.length;
    indexes += t.indexes.length;
    foreignKeys += t.constraints.filter((c) => c.kind === "FOREIGN KEY").length;
  }
  return { tables: m.tables.length, columns, indexes, foreignKeys };
}

function assertConverged(p: PlannedSchema, what: string): void {
  if (p.plan.steps.length > 0) throw new Error(`${what}: expected a converged (empty) plan, got ${p.plan.steps.length} step(s), first: ${p.plan.steps[0]!.sql.join("; ")}`);
}

async function withDatabase<T>(pg: EmbeddedPostgres, name: string, fn: (url: string) => Promise<T>): Promise<T> {
  const admin = await connect(pg.url("postgres"));
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
    try {
      return await fn(pg.url(name));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`).catch(() => undefined);
    }
  } finally {
    await admin.end();
  }
}

interface Measured<T> {
  value: T;
  wallMs: number;
  cpu: { node: number; server: number };
}

/**
 * Wall and CPU time of `fn`. Wall ends when `fn` returns; scratch databases that normalization drops
 * after returning are waited for before the CPU snapshot, so their cost counts as CPU but not as wall
 * (and never leaks into the next measurement). The snapshot waits briefly so exited backends are reaped.
 */
async function measure<T>(pid: readonly number[], fn: () => Promise<T>): Promise<Measured<T>> {
  const before = cpuSnapshot(pid);
  const t = await timed(fn);
  await scratchCleanup();
  await new Promise((r) => setTimeout(r, 50));
  const c = cpuSince(before, cpuSnapshot(pid));
  return { value: t.value, wallMs: t.ms, cpu: { node: c.nodeMs, server: c.serverMs } };
}

function medianCpu(runs: readonly Measured<unknown>[]): { node: number; server: number } {
  return { node: ms(median(runs.map((r) => r.cpu.node))), server: ms(median(runs.map((r) => r.cpu.server))) };
}

function log(message: string): void {
  process.stderr.write(`[bench:schema] ${message}\n`);
}

async function benchSize(pg: EmbeddedPostgres, dev: EmbeddedPostgres, tables: number, opts: Options): Promise<Result> {
  const loadAtStart = load1();
  // Server CPU is the target's plus the dev server's.
  const pid = [postmasterPid(join(pg.dir, "data")), postmasterPid(join(dev.dir, "data"))];
  const desired = syntheticSchema(tables);
  // Normalizing 10,000 tables takes minutes on slow disks: repeat small sizes only, unless asked.
  const repeat = opts.repeat ?? (tables <= 1000 ? 3 : 1);
  const devUrl = dev.url("postgres");
  const cacheDirs: string[] = [];
  const freshCacheDir = () => {
    const d = mkdtempSync(join(tmpdir(), "setpoint-bench-cache-"));
    cacheDirs.push(d);
    return d;
  };
  try {
    return await withDatabase(pg, `bench_${tables}`, async (target) => {
      // Cold plan: empty target, empty cache, so normalization runs on the dev server. Planning
      // does not change the target, so it can be repeated, each time with a fresh cache.
      const cold: Measured<PlannedSchema>[] = [];
      let filledCache = "";
      for (let r = 0; r < repeat; r++) {
        filledCache = freshCacheDir();
        const dir = filledCache;
        defaultSchemaEngine().forgetCaches();
        const m = await measure(pid, () => planSchema(target, desired, { devUrl, cacheDir: dir }));
        if (m.value.desiredFromCache) throw new Error("cold plan unexpectedly hit the cache");
        cold.push(m);
        log(`${tables} tables: cold plan ${ms(m.wallMs)} ms (${m.value.plan.steps.length} steps; cpu node ${ms(m.cpu.node)} server ${ms(m.cpu.server)})`);
      }
      const coldPlan = cold.at(-1)!.value;

      // The same without a dev database URL: the embedded dev server Setpoint starts by itself. Its
      // template data directory is made once per machine; a tiny plan first makes sure it exists.
      await planSchema(target, schemaFromSql("CREATE TABLE warm_up (id int);"), { cacheDir: false });
      const embedded: number[] = [];
      for (let r = 0; r < repeat; r++) {
        const dir = freshCacheDir();
        defaultSchemaEngine().forgetCaches();
        embedded.push((await measure(pid, () => planSchema(target, desired, { cacheDir: dir }))).wallMs);
        log(`${tables} tables: cold plan with the embedded dev server ${ms(embedded.at(-1)!)} ms`);
      }

      // Apply: applyPlan of that plan, on one client (connect time excluded).
      const client = await connect(target);
      let apply: Measured<unknown>;
      try {
        apply = await measure(pid, () => applyPlan(client, coldPlan.plan, { allowHazards: [] }));
        // Autovacuum (off on this server, for quiet measurements) would analyze the grown
        // catalogs within a minute; do it now so every later plan sees the same statistics.
        await client.query("ANALYZE");
      } finally {
        await client.end();
      }
      log(`${tables} tables: apply ${ms(apply.wallMs)} ms (cpu node ${ms(apply.cpu.node)} server ${ms(apply.cpu.server)})`);

      // No-op plan: converged target, as a new process would plan it (a second `pulumi preview`,
      // a CLI run): the desired model comes from the on-disk cache, nothing is remembered in memory.
      const noop: Measured<PlannedSchema>[] = [];
      for (let r = 0; r < repeat; r++) {
        defaultSchemaEngine().forgetCaches();
        const m = await measure(pid, () => planSchema(target, desired, { devUrl, cacheDir: filledCache }));
        assertConverged(m.value, "no-op plan after apply");
        noop.push(m);
        log(`${tables} tables: no-op plan ${ms(m.wallMs)} ms (cpu node ${ms(m.cpu.node)} server ${ms(m.cpu.server)})`);
      }
      // The same with no cache at all: normalization through the dev database runs again.
      const uncached = await measure(pid, () => planSchema(target, desired, { devUrl, cacheDir: false }));
      assertConverged(uncached.value, "uncached no-op plan");
      log(`${tables} tables: no-op plan without any cache ${ms(uncached.wallMs)} ms`);

      // Cached drift check: converged target, in a long-running process (the operator's loop): the
      // desired model and the last introspection are remembered. Count every query issued meanwhile.
      await planSchema(target, desired, { devUrl, cacheDir: filledCache });
      const cached: Measured<PlannedSchema>[] = [];
      let queries: RecordedQuery[] = [];
      for (let r = 0; r < Math.max(repeat, 5); r++) {
        const rec = await recordQueries(() => measure(pid, () => planSchema(target, desired, { devUrl, cacheDir: filledCache })));
        if (!rec.value.value.desiredFromCache) throw new Error("cached drift check missed the cache");
        assertConverged(rec.value.value, "cached drift check");
        cached.push(rec.value);
        queries = rec.queries;
      }
      log(`${tables} tables: cached drift check ${cached.map((x) => ms(x.wallMs)).join(", ")} ms; cpu node ${medianCpu(cached).node} server ${medianCpu(cached).server}; ${queries.length} queries`);

      const catalogCheck = await measureCatalogCheck(pid, target, desired, coldPlan, filledCache, devUrl, repeat);

      const wall = (runs: Measured<unknown>[]) => runs.map((r) => ms(r.wallMs));
      const result: Result = {
        ...countModel(coldPlan.desired),
        coldPlanMs: ms(median(cold.map((r) => r.wallMs))),
        noopPlanMs: ms(median(noop.map((r) => r.wallMs))),
        cachedDriftCheckMs: ms(median(cached.map((r) => r.wallMs))),
        noopPlanUncachedMs: ms(uncached.wallMs),
        coldPlanEmbeddedMs: ms(median(embedded)),
        applyMs: ms(apply.wallMs),
        catalogQueries: queries.length,
        cpuMs: { coldPlan: medianCpu(cold), apply: medianCpu([apply]), noopPlan: medianCpu(noop), cachedDriftCheck: medianCpu(cached) },
        runs: { coldPlanMs: wall(cold), coldPlanEmbeddedMs: embedded.map(ms), noopPlanMs: wall(noop), cachedDriftCheckMs: wall(cached) },
        catalogCheck,
        loadAvg1: { start: loadAtStart, end: loadAtStart },
      };
      if (opts.phases) result.phases = await measurePhases(dev, pid, target, desired, coldPlan, filledCache);
      result.loadAvg1.end = load1();
      log(`${tables} tables: load average ${result.loadAvg1.start} at the start, ${result.loadAvg1.end} at the end`);
      return result;
    });
  } finally {
    for (const d of cacheDirs) rmSync(d, { recursive: true, force: true });
  }
}

/** The catalog-level check's cost on the converged target (it is left converged afterwards). */
async function measureCatalogCheck(
  pid: readonly number[],
  target: string,
  desired: DesiredSchema,
  coldPlan: PlannedSchema,
  filledCache: string,
  devUrl: string,
  repeat: number,
): Promise<CatalogCheckCost> {
  const snapshot = desiredCatalogsFromCache(coldPlan.fingerprint, filledCache);
  if (!snapshot) throw new Error("the desired catalogs are not in the cache after the no-op plans");
  const desiredCacheBytes = statSync(join(filledCache, `${coldPlan.fingerprint}.catalogs.json`)).size;
  const schemas = coldPlan.desired.schemas.map((x) => x.name);
  const client = await connect(target);
  try {
    const equal: Measured<unknown>[] = [];
    for (let r = 0; r < Math.max(repeat, 3); r++) {
      const m = await measure(pid, () => checkCatalogs(client, snapshot, schemas));
      const check = m.value as Awaited<ReturnType<typeof checkCatalogs>>;
      if (check.differences.length || check.differingPairs) throw new Error(`catalog check of the converged target found ${check.differences.length} difference(s)`);
      equal.push(m);
    }
    const table = coldPlan.desired.tables[0]!;
    await client.query(`ALTER TABLE ${quoteIdent(table.schema)}.${quoteIdent(table.name)} REPLICA IDENTITY FULL`);
    const one = await measure(pid, () => checkCatalogs(client, snapshot, schemas));
    const found = (one.value as Awaited<ReturnType<typeof checkCatalogs>>).differences.map((d) => `${d.catalog}.${d.property} ${d.object}`);
    if (found.length !== 1 || !found[0]!.startsWith("pg_class.relreplident")) throw new Error(`expected one relreplident difference, found ${found.join(", ")}`);
    await client.query(`ALTER TABLE ${quoteIdent(table.schema)}.${quoteIdent(table.name)} REPLICA IDENTITY DEFAULT`);
    const all = await measure(pid, () => readCatalogSnapshot(client, { schemas }));
    defaultSchemaEngine().forgetCaches();
    const without = await measure(pid, () => planSchema(target, desired, { devUrl, cacheDir: filledCache, verifyCatalogs: false }));
    assertConverged(without.value, "no-op plan without the check");
    const driftLoop = await measureDriftLoop(pid, target, desired, coldPlan, filledCache, devUrl, repeat);
    const cost: CatalogCheckCost = {
      desiredRows: snapshot.rows.length,
      desiredCacheBytes,
      hashesEqual: phaseTime(equal.sort((a, b) => a.wallMs - b.wallMs)[Math.floor(equal.length / 2)]!),
      oneDifference: phaseTime(one),
      allRows: phaseTime(all),
      noopPlanWithoutCheckMs: ms(without.wallMs),
      driftLoop,
    };
    log(
      `${coldPlan.desired.tables.length} tables: catalog check ${cost.hashesEqual.wall} ms (hashes equal), ${cost.oneDifference.wall} ms (one difference), ${cost.allRows.wall} ms (all rows); ` +
        `desired catalogs ${cost.desiredRows} rows, ${Math.round(desiredCacheBytes / 1024)} KiB; no-op plan without the check ${cost.noopPlanWithoutCheckMs} ms`,
    );
    return cost;
  } finally {
    await client.end();
  }
}

/** The 1-minute load average, two decimals. */
function load1(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

/** The operator's drift check at this size (see {@link DriftLoopCost}); leaves the target converged. */
async function measureDriftLoop(
  pid: readonly number[],
  target: string,
  desired: DesiredSchema,
  coldPlan: PlannedSchema,
  filledCache: string,
  devUrl: string,
  repeat: number,
): Promise<DriftLoopCost> {
  const options = { devUrl, cacheDir: filledCache };
  const table = coldPlan.desired.tables[0]!;
  const name = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const run = async (): Promise<{ m: Measured<unknown>; queries: number; error?: unknown }> => {
    let error: unknown;
    const rec = await recordQueries(() => measure(pid, () => applySchema(target, desired, options).catch((e: unknown) => (error = e))));
    return { m: rec.value, queries: rec.queries.length, error };
  };
  const converged = (r: { error?: unknown }, what: string) => {
    if (r.error !== undefined) throw new Error(`drift loop, ${what}: ${(r.error as Error).message}`);
  };
  const client = await connect(target);
  try {
    converged(await run(), "warm-up"); // the in-memory caches of a process that checked once already
    const unchanged: { m: Measured<unknown>; queries: number }[] = [];
    for (let r = 0; r < Math.max(repeat, 3); r++) {
      const x = await run();
      converged(x, "unchanged target");
      unchanged.push(x);
    }
    const afterDdl: { m: Measured<unknown>; queries: number }[] = [];
    for (let r = 0; r < Math.max(repeat, 3); r++) {
      // Rewrites a column's pg_attribute row with the value it has (PostgreSQL updates it even when
      // unchanged): the catalog fingerprint changes (a new row version), the catalogs do not.
      await client.query(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(table.columns.at(-1)!.name)} SET STATISTICS -1`);
      const x = await run();
      converged(x, "after a DDL that was undone");
      afterDdl.push(x);
    }
    // A rule: a kind the engine does not manage (ADR 0008), so the check reports it and apply stops.
    await client.query(`CREATE RULE setpoint_bench_quiet AS ON DELETE TO ${name} DO ALSO NOTHING`);
    const drifted = await run();
    await client.query(`DROP RULE setpoint_bench_quiet ON ${name}`);
    if (!(drifted.error instanceof UnmodelledDifferenceError)) throw new Error(`drift loop: expected an UnmodelledDifferenceError after CREATE RULE, got ${String(drifted.error)}`);
    converged(await run(), "after the drift was undone");
    const median3 = (xs: { m: Measured<unknown>; queries: number }[]) => {
      const sorted = [...xs].sort((a, b) => a.m.wallMs - b.m.wallMs);
      const mid = sorted[Math.floor(sorted.length / 2)]!;
      return { ...phaseTime(mid.m), cpuNode: medianCpu(xs.map((x) => x.m)).node, cpuServer: medianCpu(xs.map((x) => x.m)).server, queries: mid.queries };
    };
    const cost: DriftLoopCost = {
      unchanged: median3(unchanged),
      afterDdl: median3(afterDdl),
      unmodelledDrift: { ...phaseTime(drifted.m), queries: drifted.queries, reported: drifted.error.differences.map((d) => `${d.catalog}.${d.property} ${d.object}`).join(", ") },
    };
    log(
      `${coldPlan.desired.tables.length} tables: operator drift check ${cost.unchanged.wall} ms, ${cost.unchanged.queries} queries (unchanged); ` +
        `${cost.afterDdl.wall} ms, ${cost.afterDdl.queries} queries (after a DDL); ${cost.unmodelledDrift.wall} ms, ${cost.unmodelledDrift.queries} queries (unmodelled drift: ${cost.unmodelledDrift.reported})`,
    );
    return cost;
  } finally {
    await client.end();
  }
}

function phaseTime(m: Measured<unknown>): PhaseTime {
  return { wall: ms(m.wallMs), cpuNode: ms(m.cpu.node), cpuServer: ms(m.cpu.server) };
}

async function measurePhases(pg: EmbeddedPostgres, pid: readonly number[], target: string, desired: DesiredSchema, coldPlan: PlannedSchema, filledCache: string): Promise<Phases> {
  const devUrl = pg.url("postgres");
  // As the engine normalizes for a target it connects to as the superuser postgres (the applying
  // role is part of the cache key).
  const roles = { names: ["postgres"], applying: "postgres", superuser: true, memberOf: [] };
  const normalized = await measure(pid, () => normalize(desired, { devUrl, major: 17, cacheDir: false, roles }));

  // The dev-server half of normalize, step by step (the same statements normalize runs).
  const { devDdl, devIntrospect, devCatalogSnapshot } = await withDatabase(pg, "bench_phase_dev", async (url) => {
    const scratch = await connect(url);
    try {
      const ddl: PhaseTime[] = [];
      for (const f of desired.files) ddl.push(phaseTime(await measure(pid, () => scratch.query(f.sql))));
      const devIntrospect = phaseTime(await measure(pid, () => introspect(scratch)));
      return { devDdl: ddl, devIntrospect, devCatalogSnapshot: phaseTime(await measure(pid, () => readCatalogSnapshot(scratch))) };
    } finally {
      await scratch.end();
    }
  });

  const cacheRead = await measure(pid, () => normalize(desired, { devUrl, major: 17, cacheDir: filledCache, roles }));
  if (!cacheRead.value.cached) throw new Error("phase cacheRead missed the cache");
  const desiredModel = cacheRead.value.model;

  const client = await connect(target);
  let liveIntrospect: Measured<SchemaModel>;
  let liveIntrospectQueries: RecordedQuery[];
  try {
    const schemas = desiredModel.schemas.map((s) => s.name);
    const rec = await recordQueries(() => measure(pid, () => introspect(client, { schemas })));
    liveIntrospect = rec.value;
    liveIntrospectQueries = rec.queries;
  } finally {
    await client.end();
  }
  const live = liveIntrospect.value;

  const diffConverged = timedSync(() => diff(live, desiredModel, { serverMajor: 17 }));
  const planConverged = timedSync(() => plan(live, desiredModel, { serverMajor: 17 }));
  if (diffConverged.value.length || planConverged.value.steps.length) throw new Error("phase diff/plan of the converged target is not empty");
  const diffCold = timedSync(() => diff(coldPlan.live, desiredModel, { serverMajor: 17 }));
  const planCold = timedSync(() => plan(coldPlan.live, desiredModel, { serverMajor: 17 }));

  return {
    normalize: phaseTime(normalized),
    devDdl,
    devIntrospect,
    devCatalogSnapshot,
    cacheRead: phaseTime(cacheRead),
    liveIntrospect: phaseTime(liveIntrospect),
    liveIntrospectQueries: liveIntrospectQueries.map((q) => ({ sql: q.sql, ms: ms(q.ms) })),
    diffConvergedMs: ms(diffConverged.ms),
    planConvergedMs: ms(planConverged.ms),
    diffColdMs: ms(diffCold.ms),
    planColdMs: ms(planCold.ms),
    orderRenderHazardsColdMs: ms(planCold.ms - diffCold.ms),
    coldPlanSteps: planCold.value.steps.length,
  };
}

function verdict(results: Result[]): string[] {
  const lines: string[] = [];
  const at = results.find((r) => r.tables === TARGETS.tables);
  if (at) {
    const check = (name: "coldPlanMs" | "noopPlanMs" | "cachedDriftCheckMs") =>
      `${name} ${at[name]} ms ${at[name] <= TARGETS[name] ? "<=" : ">"} ${TARGETS[name]} ms: ${at[name] <= TARGETS[name] ? "met" : "MISSED"}`;
    lines.push(`targets at ${TARGETS.tables} tables: ${check("coldPlanMs")}; ${check("noopPlanMs")}; ${check("cachedDriftCheckMs")}`);
  }
  const sorted = [...results].sort((a, b) => a.tables - b.tables);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    const size = b.tables / a.tables;
    const growth = (["coldPlanMs", "noopPlanMs", "cachedDriftCheckMs", "applyMs"] as const).map((k) => {
      const factor = b[k] / a[k];
      return `${k} x${factor.toFixed(1)} (${factor <= size * LINEAR_TOLERANCE ? "linear" : "SUPERLINEAR"})`;
    });
    lines.push(`wall growth ${a.tables} -> ${b.tables} tables (x${size}): ${growth.join(", ")}`);
    // Wall time on a busy machine hides superlinear code; CPU time does not.
    const cpuGrowth = (["coldPlan", "noopPlan", "cachedDriftCheck", "apply"] as const).flatMap((k) =>
      (["node", "server"] as const).map((side) => {
        const factor = b.cpuMs[k][side] / a.cpuMs[k][side];
        return `${k}.${side} x${factor.toFixed(1)}${factor <= size * LINEAR_TOLERANCE ? "" : " (SUPERLINEAR)"}`;
      }),
    );
    lines.push(`cpu growth ${a.tables} -> ${b.tables} tables (x${size}): ${cpuGrowth.join(", ")}`);
    if (a.catalogQueries !== b.catalogQueries) lines.push(`catalog queries are NOT constant: ${a.catalogQueries} vs ${b.catalogQueries}`);
  }
  return lines;
}

function report(results: Result[]): string {
  const main = textTable(
    ["tables", "columns", "indexes", "FKs", "cold plan ms", "(embedded dev)", "apply ms", "no-op plan ms", "cached drift ms", "queries"],
    results.map((r) => [r.tables, r.columns, r.indexes, r.foreignKeys, r.coldPlanMs, r.coldPlanEmbeddedMs, r.applyMs, r.noopPlanMs, r.cachedDriftCheckMs, r.catalogQueries]),
  );
  const cpu = textTable(
    ["tables", "cold plan", "apply", "no-op plan", "cached drift"],
    results.map((r) => [r.tables, ...(["coldPlan", "apply", "noopPlan", "cachedDriftCheck"] as const).map((k) => `${r.cpuMs[k].node} + ${r.cpuMs[k].server}`)]),
  );
  const check = textTable(
    ["tables", "desired rows", "cache KiB", "hashes equal", "one difference", "all rows", "no-op plan", "without check", "load (start-end)"],
    results.map((r) => {
      const c = r.catalogCheck;
      const t = (p: PhaseTime) => `${p.wall} (${p.cpuNode}+${p.cpuServer})`;
      return [r.tables, c.desiredRows, Math.round(c.desiredCacheBytes / 1024), t(c.hashesEqual), t(c.oneDifference), t(c.allRows), r.noopPlanMs, c.noopPlanWithoutCheckMs, `${r.loadAvg1.start}-${r.loadAvg1.end}`];
    }),
  );
  const drift = textTable(
    ["tables", "unchanged", "queries", "after a DDL", "queries", "unmodelled drift", "queries"],
    results.map((r) => {
      const d = r.catalogCheck.driftLoop;
      const t = (p: PhaseTime) => `${p.wall} (${p.cpuNode}+${p.cpuServer})`;
      return [r.tables, t(d.unchanged), d.unchanged.queries, t(d.afterDdl), d.afterDdl.queries, t(d.unmodelledDrift), d.unmodelledDrift.queries];
    }),
  );
  const withPhases = results.filter((r) => r.phases);
  const pt = (p: PhaseTime) => `${p.wall} (${p.cpuNode}+${p.cpuServer})`;
  const phases = withPhases.length
    ? "\n\nphases, each measured alone: wall ms (cpu node + server ms)\n" +
      textTable(
        ["tables", "normalize", "dev DDL tables", "dev DDL indexes", "dev DDL FKs", "dev introspect", "dev catalogs", "cache read", "live introspect"],
        withPhases.map((r) => {
          const p = r.phases!;
          return [r.tables, pt(p.normalize), ...p.devDdl.map(pt), pt(p.devIntrospect), pt(p.devCatalogSnapshot), pt(p.cacheRead), pt(p.liveIntrospect)];
        }),
      ) +
      "\n\nin-memory phases (wall ms, Node only)\n" +
      textTable(
        ["tables", "diff converged", "plan converged", "diff cold", "plan cold", "order+render+hazards cold", "cold steps"],
        withPhases.map((r) => {
          const p = r.phases!;
          return [r.tables, p.diffConvergedMs, p.planConvergedMs, p.diffColdMs, p.planColdMs, p.orderRenderHazardsColdMs, p.coldPlanSteps];
        }),
      ) +
      withPhases
        .map((r) => `\nlive introspection queries at ${r.tables} tables (wall ms): ` + r.phases!.liveIntrospectQueries.map((q) => `${q.sql.replace(/^SELECT\s+/i, "").slice(0, 24)}… ${q.ms}`).join(" | "))
        .join("")
    : "";
  return `wall ms (median)\n${main}\n\ncpu ms (median, node + server)\n${cpu}\n\ncatalog-level check on the converged target: wall ms (cpu node + server ms)\n${check}\n\nthe operator's drift check (applySchema, warm caches), catalog check included: wall ms (cpu node + server ms)\n${drift}${phases}\n\n${verdict(results).join("\n")}`;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  // Apply creates every object in one transaction, and so does the dev database's DDL: each table
  // takes ~7 locks (table, pkey, identity sequence, TOAST table and index, 2 indexes). The shared lock
  // table holds max_locks_per_transaction x (max_connections + workers) entries; a lower
  // max_connections keeps that (shared memory) modest.
  const pg = await startEmbeddedPostgres({ major: 17, parameters: { max_locks_per_transaction: 4096, max_connections: 40, autovacuum: "off" }, baseDir: opts.baseDir });
  // The dev server as Setpoint starts its own embedded one: scratch data on tmpfs, DEV_SERVER_PARAMETERS.
  const scratch = scratchBaseDir();
  const dev = await startEmbeddedPostgres({
    major: 17,
    parameters: { ...DEV_SERVER_PARAMETERS, max_locks_per_transaction: 4096, max_connections: 40 },
    ...(scratch ? { baseDir: scratch } : {}),
  });
  try {
    const admin = await connect(pg.url("postgres"));
    const postgres = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    await admin.end();
    const machine = { baseDir: opts.baseDir ?? tmpdir(), cpus: cpus().length, totalMemGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, node: process.version, postgres, loadAvg1AtStart: load1() };
    log(`PostgreSQL ${postgres} at ${pg.url("postgres")}; ${machine.cpus} CPUs, ${machine.totalMemGiB} GiB, node ${machine.node}; load average ${machine.loadAvg1AtStart}`);
    const results: Result[] = [];
    for (const size of opts.sizes) results.push(await benchSize(pg, dev, size, opts));
    console.log(report(results));
    if (opts.json) {
      writeFileSync(opts.json, JSON.stringify({ machine, results }, null, 2) + "\n");
      log(`wrote ${opts.json}`);
    }
  } finally {
    await dev.stop();
    await pg.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
