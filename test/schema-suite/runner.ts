// The external schema suite's runner: each old→new pair goes through `setpoint schema apply` and
// `setpoint schema plan` on a fresh database. Used by scripts/schema-suite.ts (the full corpus,
// through bin/setpoint) and by test/schema-suite/suite.test.ts (a sample, through the CLI's main(),
// see in-process.ts). This module does not load the engine.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { quoteIdent } from "../../sdk/postgres/quote";
import { catalogDiff, catalogLines, settleChecks } from "./catalog";
import { PAIR_KINDS, SUITE_ROLES, type PairKind, type SchemaPair } from "./corpus";

/** Where a pair stopped: the four CLI calls of a run, in order. */
export type Phase = "apply-old" | "plan" | "apply-new" | "replan";

/** An object the engine reported as unmanaged, as in `schema plan --format json`. */
export interface ReportedUnmanaged {
  kind: string;
  schema: string;
  name: string;
  side: "live" | "desired" | "both";
}

/** The outcome of one pair. */
export interface PairResult {
  name: string;
  kind: PairKind;
  /** `apply` of the new SQL exited 0 and the re-plan is empty. */
  converged: boolean;
  /** The phase that failed; absent when converged. */
  phase?: Phase;
  /** First line of the failing call's error output. */
  error?: string;
  /** Steps and hazard codes of the plan from old to new. */
  planSteps: number;
  planHazards: string[];
  /** Step kinds and SQL of a non-empty re-plan. */
  residual?: { kind: string; sql: string[] }[];
  /** Unmanaged objects the plan from old to new reported (of old alone, when applying it failed). */
  unmanaged: ReportedUnmanaged[];
  /**
   * Unmanaged objects that were in the database before `apply` and are gone after it, although the
   * desired SQL still has them: the engine must never drop what it does not manage.
   */
  droppedUnmanaged: string[];
  /**
   * After `apply` of the new SQL: whether the database's catalogs (catalog.ts) equal those of a
   * fresh database where the new SQL ran directly. Absent when `apply` did not succeed.
   */
  matches?: boolean;
  /** The first catalog differences when `matches` is false (`-` expected, `+` found). */
  catalogDiff?: string[];
  /**
   * Those of `catalogDiff` outside the managed scope: a schema only on the target that the pair
   * does not manage, with what it holds (the engine leaves it alone by design, ADR 0012).
   */
  outOfScope?: string[];
  /**
   * The product's own catalog-level check after `apply` of the new SQL (`setpoint schema verify`,
   * ADR 0014): its unmodelled differences and the number of known ones. Absent when `apply` did
   * not get to run the plan.
   */
  verify?: { differences: string[]; known: number };
  durationMs: number;
}

/** One CLI call: arguments in, exit code and output back. */
export type CliDriver = (args: readonly string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Runs `bin/setpoint` in a child process (the built CLI, dist/). */
export function binDriver(env: NodeJS.ProcessEnv = process.env, bin = resolve(__dirname, "..", "..", "bin", "setpoint"), timeoutMs = 300_000): CliDriver {
  return (args) =>
    new Promise((done, fail) => {
      const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", fail);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        done({ code: code ?? 1, stdout, stderr: signal ? `${stderr}\nsetpoint killed by ${signal} after ${timeoutMs} ms` : stderr });
      });
    });
}

/** Options of {@link runSuite}. */
export interface SuiteOptions {
  /** Superuser URL of the target server (any database; pairs get their own). */
  targetUrl: string;
  /** Superuser URL of the dev server for `--dev-url`. */
  devUrl: string;
  cli: CliDriver;
  /** Pairs run at the same time. @default 2 */
  concurrency?: number;
  /** Called after each pair, in completion order. */
  onResult?: (r: PairResult, done: number, total: number) => void;
}

/** Creates the roles the corpus grants to, on a server, when they are missing. */
export async function ensureSuiteRoles(url: string): Promise<void> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    for (const role of SUITE_ROLES) {
      const { rowCount } = await c.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role]);
      // Two runs starting at once may both see it missing; the loser's error is harmless.
      if (!rowCount) await c.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`).catch(() => undefined);
    }
  } finally {
    await c.end();
  }
}

/** Runs every pair with bounded concurrency; results are in corpus order. */
export async function runSuite(pairs: readonly SchemaPair[], options: SuiteOptions): Promise<PairResult[]> {
  await ensureSuiteRoles(options.targetUrl);
  if (options.devUrl !== options.targetUrl) await ensureSuiteRoles(options.devUrl);
  const work = mkdtempSync(join(tmpdir(), "setpoint-suite-"));
  const results: PairResult[] = new Array<PairResult>(pairs.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < pairs.length; i = next++) {
      results[i] = await runPair(pairs[i]!, options, join(work, String(i)));
      options.onResult?.(results[i]!, ++done, pairs.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}

interface PlanJson {
  steps: { kind: string; sql: string[]; hazards: { code: string }[] }[];
  unmanaged: ReportedUnmanaged[];
  converged: boolean;
}

/** Runs one pair on a database of its own, dropped afterwards. */
export async function runPair(pair: SchemaPair, options: SuiteOptions, dir: string): Promise<PairResult> {
  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  const oldFile = join(dir, "old.sql");
  const newFile = join(dir, "new.sql");
  writeFileSync(oldFile, pair.old);
  writeFileSync(newFile, pair.new);
  const db = `suite_${randomBytes(6).toString("hex")}`;
  const url = databaseUrl(options.targetUrl, db);
  const common = ["--url", url, "--dev-url", options.devUrl, ...(pair.schemas === "all" ? ["--all-schemas"] : pair.schemas ? ["--schemas", pair.schemas.join(",")] : [])];
  const result: PairResult = { name: pair.name, kind: pair.kind, converged: false, planSteps: 0, planHazards: [], unmanaged: [], droppedUnmanaged: [], durationMs: 0 };
  const fail = (phase: Phase, error: string) => Object.assign(result, { phase, error: firstLine(error) });
  await admin(options.targetUrl, `CREATE DATABASE ${quoteIdent(db)} TEMPLATE template0`);
  try {
    if (pair.old.trim() !== "") {
      const r = await options.cli(["schema", "apply", ...common, "--schema", oldFile, "--allow-hazards", "all", "--yes"]);
      if (r.code !== 0) {
        // What the engine says it does not manage explains most set-up failures (a table of an
        // unmanaged type): the plan of the old SQL on the still-empty database lists it.
        const p = await options.cli(["schema", "plan", ...common, "--schema", oldFile, "--format", "json"]);
        result.unmanaged = (p.code === 0 || p.code === 2 ? parsePlan(p.stdout)?.unmanaged : undefined) ?? [];
        return fail("apply-old", r.stderr || r.stdout);
      }
    }
    const planned = await options.cli(["schema", "plan", ...common, "--schema", newFile, "--format", "json"]);
    // Exit 2 is a plan with hazards not allowed yet: apply below allows exactly those.
    const plan = planned.code === 0 || planned.code === 2 ? parsePlan(planned.stdout) : null;
    if (!plan) return fail("plan", planned.stderr || planned.stdout);
    const hazards = [...new Set(plan.steps.flatMap((s) => s.hazards.map((h) => h.code)))].sort();
    Object.assign(result, { planSteps: plan.steps.length, planHazards: hazards, unmanaged: plan.unmanaged });
    const applied = await options.cli(["schema", "apply", ...common, "--schema", newFile, ...(hazards.length ? ["--allow-hazards", hazards.join(",")] : []), "--yes"]);
    // An apply that ran its plan but failed the catalog check still gets both catalog comparisons.
    const ranPlan = applied.code === 0 || /UNMODELLED_DIFFERENCE/.test(applied.stderr);
    if (ranPlan) result.verify = await productCheck(options.cli, common, newFile);
    if (!ranPlan) return fail("apply-new", applied.stderr || applied.stdout);
    try {
      const diff = await compareWithDirect(options.targetUrl, url, pair.new);
      result.matches = diff.length === 0;
      if (diff.length) result.catalogDiff = diff;
      const outside = outOfScope(diff, pair.schemas);
      if (outside.length) result.outOfScope = outside;
    } catch (err) {
      // The comparison is the suite's own check: its failure leaves `matches` unset, not the pair failed.
      result.catalogDiff = [`catalog comparison failed: ${(err as Error).message}`];
    }
    if (applied.code !== 0) return fail("apply-new", applied.stderr || applied.stdout);
    const replanned = await options.cli(["schema", "plan", ...common, "--schema", newFile, "--format", "json"]);
    const replan = replanned.code === 0 || replanned.code === 2 ? parsePlan(replanned.stdout) : null;
    if (!replan) return fail("replan", replanned.stderr || replanned.stdout);
    const kept = new Set(replan.unmanaged.filter((u) => u.side !== "desired").map(unmanagedKey));
    result.droppedUnmanaged = plan.unmanaged.filter((u) => u.side === "both" && !kept.has(unmanagedKey(u))).map(unmanagedKey);
    if (replanned.code === 0 && replan.converged && replan.steps.length === 0) result.converged = true;
    else {
      result.residual = replan.steps.map((s) => ({ kind: s.kind, sql: s.sql }));
      fail("replan", `re-plan has ${replan.steps.length} step(s): ${replan.steps.map((s) => s.kind).join(", ")}`);
    }
    return result;
  } catch (err) {
    return fail(result.planSteps ? "apply-new" : "plan", (err as Error).message);
  } finally {
    result.durationMs = Date.now() - started;
    await admin(options.targetUrl, `DROP DATABASE IF EXISTS ${quoteIdent(db)} WITH (FORCE)`).catch(() => undefined);
  }
}

/** `setpoint schema verify --format json`: the product's catalog-level differences, or the failure as one. */
async function productCheck(cli: CliDriver, common: readonly string[], schemaFile: string): Promise<{ differences: string[]; known: number }> {
  const r = await cli(["schema", "verify", ...common, "--schema", schemaFile, "--format", "json"]);
  try {
    const doc = JSON.parse(r.stdout) as { differences: { code: string; catalog: string; property: string | null; object: string }[]; known: unknown[] };
    return { differences: doc.differences.map((d) => `${d.code} ${d.catalog}${d.property === null ? "" : `.${d.property}`} ${d.object}`), known: doc.known.length };
  } catch {
    return { differences: [`verify failed: ${firstLine(r.stderr || r.stdout)}`], known: 0 };
  }
}

/**
 * A silent divergence: `apply` succeeded and the re-plan is empty, yet the catalogs differ from
 * the new SQL run directly within the managed scope, and the product's catalog check reported
 * nothing, neither an error nor a known difference (column order, `attislocal`: ADR 0008, 0014).
 */
export function silentDivergence(r: PairResult): boolean {
  const outside = new Set(r.outOfScope ?? []);
  const inScope = (r.catalogDiff ?? []).filter((l) => !outside.has(l));
  return r.converged && r.matches === false && inScope.length > 0 && (r.verify?.differences.length ?? 0) === 0 && (r.verify?.known ?? 0) === 0;
}

/** The schema a catalog line (catalog.ts: `kind identity: detail`) is about. */
function schemaOfLine(line: string): string | undefined {
  return /^[-+] schema ([^:]+):/.exec(line)?.[1] ?? /^[-+] (?:default acl|\w+) ("(?:[^"]|"")*"|[^.\s:]+)\./.exec(line)?.[1];
}

/**
 * The differences outside the managed scope: schemas found only on the target that the scope does
 * not include (the default scope is the desired SQL's schemas, which a schema only on the target
 * is not; a `--schemas` list names its own), and every line about an object in one of them. With
 * `--all-schemas` every schema is managed and nothing is outside.
 */
export function outOfScope(diff: readonly string[], scope: SchemaPair["schemas"]): string[] {
  if (scope === "all") return [];
  const expected = new Set(diff.filter((l) => l.startsWith("- schema ")).map(schemaOfLine));
  const extra = new Set(
    diff
      .filter((l) => l.startsWith("+ schema "))
      .map(schemaOfLine)
      .filter((n): n is string => n !== undefined && !expected.has(n) && !(Array.isArray(scope) && scope.includes(n))),
  );
  return diff.filter((l) => l.startsWith("+ ") && extra.has(schemaOfLine(l) ?? ""));
}

/** Catalog differences between the database at `url` and a fresh one where `sql` ran directly. */
async function compareWithDirect(serverUrl: string, url: string, sql: string): Promise<string[]> {
  const ref = `suite_ref_${randomBytes(6).toString("hex")}`;
  await admin(serverUrl, `CREATE DATABASE ${quoteIdent(ref)} TEMPLATE template0`);
  try {
    const [expected, actual] = await Promise.all([
      withClient(databaseUrl(serverUrl, ref), async (c) => {
        await c.query(sql);
        await settleChecks(c);
        return catalogLines(c);
      }),
      // Settled in a transaction rolled back: the re-plan that follows sees the target as apply left it.
      withClient(url, async (c) => {
        await c.query("BEGIN");
        try {
          await settleChecks(c);
          return await catalogLines(c);
        } finally {
          await c.query("ROLLBACK");
        }
      }),
    ]);
    return catalogDiff(expected, actual);
  } finally {
    await admin(serverUrl, `DROP DATABASE IF EXISTS ${quoteIdent(ref)} WITH (FORCE)`).catch(() => undefined);
  }
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function parsePlan(stdout: string): PlanJson | null {
  try {
    const p = JSON.parse(stdout) as PlanJson;
    return Array.isArray(p.steps) ? { ...p, unmanaged: p.unmanaged ?? [] } : null;
  } catch {
    return null;
  }
}

const unmanagedKey = (u: ReportedUnmanaged) => `${u.kind} ${u.schema}.${u.name}`;

/** The line that says what went wrong: the CLI's own message, or a crash's error line. */
function firstLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => l.startsWith("setpoint:")) ?? lines.find((l) => /^\w*Error\b/.test(l)) ?? lines[0] ?? "";
  return line.slice(0, 400);
}

function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(url: string, sql: string): Promise<void> {
  await withClient(url, (c) => c.query(sql));
}

/** Per-kind counts of a run. */
export interface KindSummary {
  kind: PairKind;
  pairs: number;
  converged: number;
  /** Failed pairs by phase. */
  failed: Record<Phase, number>;
  /** Pairs whose plan reported unmanaged objects. */
  withUnmanaged: number;
  /** Pairs whose database after `apply` equals the new SQL run directly (catalog.ts). */
  matching: number;
  /** Pairs whose catalogs the product's check found equal to the desired state's (no unmodelled difference). */
  verified: number;
  /** Pairs that diverge silently (see {@link silentDivergence}). */
  silent: number;
}

/** Counts per kind, in corpus kind order, for kinds present in `results`. */
export function summarize(results: readonly PairResult[]): KindSummary[] {
  return PAIR_KINDS.map((kind) => {
    const of = results.filter((r) => r.kind === kind);
    const failed: Record<Phase, number> = { "apply-old": 0, plan: 0, "apply-new": 0, replan: 0 };
    for (const r of of) if (r.phase) failed[r.phase]++;
    return { kind, pairs: of.length, converged: of.filter((r) => r.converged).length, failed, withUnmanaged: of.filter((r) => r.unmanaged.length > 0).length,
      matching: of.filter((r) => r.matches).length,
      verified: of.filter((r) => r.verify !== undefined && r.verify.differences.length === 0).length,
      silent: of.filter(silentDivergence).length,
    };
  }).filter((s) => s.pairs > 0);
}

/**
 * A failure's cause for grouping: the phase and the error with names and literals blanked, or the
 * residual step kinds of a non-empty re-plan.
 */
export function causeOf(r: PairResult): string {
  if (r.converged) return "converged";
  if (r.phase === "replan" && r.residual) return `replan: residual ${[...new Set(r.residual.map((s) => s.kind))].sort().join(", ")}`;
  const text = (r.error ?? "")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\b(suite|setpoint_dev)_[0-9a-z_]+/g, "…")
    .replace(/\b\d+\b/g, "N");
  return `${r.phase}: ${text}`.slice(0, 200);
}

/** The human report: per-kind table, overall rates, failures and state differences grouped by cause. */
export function report(results: readonly PairResult[]): string {
  const phases = ["apply-old", "plan", "apply-new", "replan"] as const;
  const rows = summarize(results).map((s) => [s.kind, s.pairs, s.converged, pct(s.converged, s.pairs), ...phases.map((p) => s.failed[p]), s.withUnmanaged, s.matching, s.verified, s.silent]);
  const total = results.length;
  const ok = results.filter((r) => r.converged).length;
  const matching = results.filter((r) => r.matches).length;
  const verified = results.filter((r) => r.verify !== undefined && r.verify.differences.length === 0).length;
  const silent = results.filter(silentDivergence);
  const caught = results.filter((r) => (r.verify?.differences.length ?? 0) > 0);
  rows.push(["total", total, ok, pct(ok, total), ...phases.map((p) => results.filter((r) => r.phase === p).length), results.filter((r) => r.unmanaged.length > 0).length, matching, verified, silent.length]);
  const table = textTable(["kind", "pairs", "converged", "%", ...phases, "unmanaged", "state ok", "check ok", "silent"], rows);
  const grouped = (of: readonly PairResult[], cause: (r: PairResult) => string) => {
    const groups = new Map<string, string[]>();
    for (const r of of) groups.set(cause(r), [...(groups.get(cause(r)) ?? []), r.name]);
    return [...groups.entries()]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([c, names]) => `  ${names.length}× ${c}\n      ${names.slice(0, 6).join("\n      ")}${names.length > 6 ? `\n      … and ${names.length - 6} more` : ""}`);
  };
  const causes = grouped(results.filter((r) => !r.converged), causeOf);
  const differing = grouped(results.filter((r) => r.converged && r.matches === false), stateCauseOf);
  const dropped = results.filter((r) => r.droppedUnmanaged.length > 0);
  return [
    table,
    "",
    `${ok}/${total} converged (${pct(ok, total)}%): apply exited 0 and the re-plan is empty`,
    `${matching}/${total} match the new SQL run directly (${pct(matching, total)}%): same catalogs after apply`,
    `${verified}/${total} pass the product's catalog-level check (setpoint schema verify) after apply; ${caught.length} fail it (apply reports UNMODELLED_DIFFERENCE)`,
    `${silent.length} silent divergence(s): converged, catalogs differ from the new SQL within the managed scope, and the catalog check reported nothing; ${results.filter((r) => (r.verify?.known ?? 0) > 0).length} pair(s) with known differences (reported, not errors); ${results.filter((r) => r.outOfScope?.length).length} pair(s) with differences outside the managed scope (left alone by design)`,
    ...(silent.length ? silent.map((r) => `  SILENT ${r.name}: ${(r.catalogDiff ?? []).slice(0, 2).join(" | ")}`) : []),
    ...(caught.length ? ["", "catalog check differences, by pair:", ...caught.map((r) => `  ${r.name}: ${r.verify!.differences.slice(0, 3).join("; ")}${r.verify!.differences.length > 3 ? ` (+${r.verify!.differences.length - 3})` : ""}`)] : []),
    ...(dropped.length ? ["", `UNMANAGED OBJECTS DROPPED in ${dropped.length} pair(s): ${dropped.map((r) => `${r.name} (${r.droppedUnmanaged.join(", ")})`).join("; ")}`] : []),
    ...(causes.length ? ["", "failures by cause:", ...causes] : []),
    ...(differing.length ? ["", "converged (empty re-plan) but the catalogs differ from the new SQL, by first difference:", ...differing] : []),
  ].join("\n");
}

/** The kind of object of a converged pair's first catalog difference (e.g. `routine`, `trigger`). */
export function stateCauseOf(r: PairResult): string {
  const first = r.catalogDiff?.[0] ?? "";
  const m = /^([-+]) (default acl|\w+)/.exec(first);
  return m ? `${m[2]} ${m[1] === "-" ? "missing or different" : "left over or different"}` : "no difference recorded";
}

function pct(n: number, of: number): string {
  return of === 0 ? "-" : ((100 * n) / of).toFixed(1);
}

function textTable(head: string[], rows: (string | number)[][]): string {
  const all = [head, ...rows].map((r) => r.map(String));
  const width = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join("  ")).join("\n");
}

/** A pair whose own SQL PostgreSQL refuses: a corpus mistake, not an engine failure. */
export interface InvalidSql {
  name: string;
  side: "old" | "new";
  error: string;
}

/**
 * Runs each side of each pair as plain SQL in a transaction that is rolled back, on the database
 * of `url` (roles are created first): every pair must be valid PostgreSQL before the engine sees it.
 */
export async function invalidSql(url: string, pairs: readonly SchemaPair[]): Promise<InvalidSql[]> {
  await ensureSuiteRoles(url);
  const c = pgClient({ connectionString: url });
  await c.connect();
  const bad: InvalidSql[] = [];
  try {
    for (const pair of pairs) {
      for (const side of ["old", "new"] as const) {
        if (pair[side].trim() === "") continue;
        await c.query("BEGIN");
        try {
          await c.query(pair[side]);
        } catch (err) {
          bad.push({ name: pair.name, side, error: (err as Error).message });
        } finally {
          await c.query("ROLLBACK");
        }
      }
    }
  } finally {
    await c.end();
  }
  return bad;
}
