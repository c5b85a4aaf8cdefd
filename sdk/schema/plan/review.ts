import type { ClientBase } from "pg";
import { readableSql } from "../../postgres/quote";
import { keyOf, type QualifiedName } from "../model";
import type { AllowedHazards, Plan, PlanStep } from "./plan";
import { stepLock, stepWork, type StepLock } from "./step-kinds";

export { LOCK_LEVELS, stepLock, stepWork, type LockLevel, type StepLock, type StepWork } from "./step-kinds";

/**
 * What a reviewer needs of each plan step beyond its SQL: the lock it takes (PostgreSQL's documented
 * lock level for the statement form), what its running time depends on, and the table it acts on.
 * Pure, apart from {@link readTableSizes}.
 */

/** Planner estimate of a table's size. */
export interface TableSize {
  /** `pg_class.reltuples` (`-1`: never analyzed). */
  readonly rows: number;
  /** `pg_total_relation_size`, in bytes. */
  readonly bytes: number;
}

/** The tables whose size drives a step's time (empty for catalog-only steps). */
export function workTables(step: PlanStep): string[] {
  if (stepWork(step) === "catalog") return [];
  switch (step.kind) {
    case "recreateEnum":
    case "recreateType":
    case "columnsToText":
    case "columnsFromText":
      return [...new Set(step.columns.map((c) => keyOf(c.table)))];
    case "refreshMaterializedView":
      return [keyOf(step.view)];
    case "createObject":
      return [];
    default:
      return "table" in step ? [keyOf(step.table as QualifiedName)] : [];
  }
}

/**
 * The expected duration of a step in words: catalog-only steps are instant once the lock is
 * granted; for the others the size of what they read is given, and the time is "unknown" (it
 * depends on the hardware and the load, which the plan does not know).
 */
export function stepDuration(step: PlanStep, sizes: ReadonlyMap<string, TableSize>): string {
  const work = stepWork(step);
  if (work === "catalog") return "instant (catalog only, once the lock is granted)";
  const verb = work === "scan" ? "scans" : work === "rewrite" ? "rewrites" : "reads and sorts";
  const tables = workTables(step);
  const known = tables.map((t) => ({ t, s: sizes.get(t) })).filter((x): x is { t: string; s: TableSize } => x.s !== undefined);
  if (tables.length === 0 || known.length === 0) return `unknown (${verb} every row; table size not known)`;
  return `unknown (${verb} ${known.map(({ t, s }) => `${t}: ${s.rows < 0 ? "never analyzed" : `~${s.rows} rows`}, ${formatBytes(s.bytes)}`).join("; ")})`;
}

/** Bytes in binary units, e.g. `8.0 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Planner estimates of the sizes of the tables the plan's steps lock, scan, rewrite or index
 * (catalog reads only: no table is scanned). Tables the plan creates are absent.
 */
export async function readTableSizes(client: ClientBase, plan: Plan): Promise<Map<string, TableSize>> {
  const keys = [...new Set(plan.steps.flatMap((s) => [...workTables(s), ...stepLock(s).tables]))];
  const out = new Map<string, TableSize>();
  if (keys.length === 0) return out;
  const { rows } = await client.query<{ key: string; rows: string; bytes: string }>(
    `SELECT n.nspname || '.' || c.relname AS key, c.reltuples::bigint::text AS rows, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname || '.' || c.relname = ANY($1::text[])`,
    [keys],
  );
  for (const r of rows) out.set(r.key, { rows: Number(r.rows), bytes: Number(r.bytes) });
  return out;
}

/** Longest line Pulumi's diff display prints without cutting it (it cuts at 150 characters). */
export const DISPLAY_LINE_MAX = 140;

/**
 * A statement as display lines, each at most {@link DISPLAY_LINE_MAX} characters and never a bare
 * JSON value (Pulumi's display re-parses strings that are JSON and would show them as data): the
 * statement with identifiers quoted only where needed, its own lines, long ones wrapped at spaces,
 * the last ending in `;`.
 */
export function displayLines(statement: string): string[] {
  const out: string[] = [];
  for (const line of `${readableSql(statement)};`.split("\n")) {
    let rest = line.trimEnd();
    while (rest.length > DISPLAY_LINE_MAX) {
      const cut = rest.lastIndexOf(" ", DISPLAY_LINE_MAX);
      const at = cut > DISPLAY_LINE_MAX / 2 ? cut : DISPLAY_LINE_MAX;
      out.push(rest.slice(0, at));
      rest = `    ${rest.slice(at).trimStart()}`;
    }
    out.push(rest);
  }
  // A line that is a JSON value on its own (`1`, `"name"`, `]`...) joins the line before it.
  const merged: string[] = [];
  for (const l of out) {
    if (merged.length > 0 && isJsonValue(l)) merged[merged.length - 1] = `${merged[merged.length - 1]} ${l.trim()}`;
    else merged.push(l);
  }
  if (merged.length > 0 && isJsonValue(merged[0]!)) merged[0] = `-- ${merged[0]}`; // cannot happen with a trailing ";", kept total
  return merged;
}

function isJsonValue(line: string): boolean {
  const t = line.trim();
  if (t === "") return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** One step as the preview, the plan file and the pull-request summary show it. */
export interface ReviewedStep {
  /** 1-based position in the plan. */
  readonly step: number;
  readonly kind: PlanStep["kind"];
  /** `transaction` (shared with the steps around it), `own transaction`, or `no transaction`. */
  readonly transaction: string;
  /** `ACCESS EXCLUSIVE on public.books (blocks reads and writes)`, `none`, or `unknown`. */
  readonly lock: string;
  /** {@link stepDuration}. */
  readonly duration: string;
  /** The step's statements as {@link displayLines}, each statement ending in `;`. */
  readonly sql: readonly string[];
  /** `CODE: message`, followed by ` (allowed)` or ` (NOT ALLOWED)`. */
  readonly hazards: readonly string[];
  /** Planner estimate of the rows of the step's table; absent when not known. */
  readonly rows?: number;
}

/** The lock of a step in words. */
export function describeLock(l: StepLock): string {
  if (l.level === null) return "unknown (not documented for this statement)";
  if (l.level === "none") return "none (new objects only)";
  return `${l.level}${l.tables.length ? ` on ${l.tables.join(", ")}` : ""} (${l.blocks})`;
}

/**
 * The plan step by step for people: SQL as display lines, hazards marked allowed or not, the
 * lock, and the expected duration.
 */
export function reviewPlan(plan: Plan, allowed: (code: string) => boolean, sizes: ReadonlyMap<string, TableSize> = new Map()): ReviewedStep[] {
  return plan.steps.map((s, i) => {
    const tables = stepLock(s).tables;
    const rowsFact = "rows" in s ? (s.rows as { estimatedRows: number }).estimatedRows : undefined;
    const size = [...workTables(s), ...tables].map((t) => sizes.get(t)).find((x) => x !== undefined);
    const rows = size && size.rows >= 0 ? size.rows : rowsFact !== undefined && rowsFact > 0 ? rowsFact : undefined;
    return {
      step: i + 1,
      kind: s.kind,
      transaction: s.transaction === "none" ? "no transaction" : s.transaction === "own" ? "own transaction" : "transaction",
      lock: describeLock(stepLock(s)),
      duration: stepDuration(s, sizes),
      sql: s.sql.flatMap(displayLines),
      hazards: s.hazards.map((h) => `${h.code}: ${h.message} (${allowed(h.code) ? "allowed" : "NOT ALLOWED"})`),
      ...(rows === undefined ? {} : { rows }),
    };
  });
}

/** `allowed` of {@link reviewPlan} from a list of codes or `"all"`. */
export function allowedBy(list: AllowedHazards): (code: string) => boolean {
  return (code) => list === "all" || (list as readonly string[]).includes(code);
}
