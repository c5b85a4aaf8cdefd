import { SetpointError } from "../../errors";
import type { Change } from "../changes";
import { dependenciesOf, type ChangeDeps } from "../diff/dependencies";
import { diff, type DiffOptions } from "../diff/diff";
import { isUnallowable, type Hazard, type HazardCode } from "../hazards";
import { hazardsOf } from "./hazard-checkers";
import { keyOf, type SchemaModel, type UnmanagedObject } from "../model";
import { render } from "./render";
import { isLong, transactionMode, type TransactionMode } from "./step-kinds";

export type { TransactionMode } from "./step-kinds";

/** Per-step metadata the plan adds to a change. */
export interface StepMeta {
  /** SQL statements, in order; one step's statements run in one transaction unless `transaction` is `none`. */
  readonly sql: readonly string[];
  /** Keys of the objects the step creates, drops or changes. */
  readonly objects: readonly string[];
  readonly hazards: readonly Hazard[];
  readonly transaction: TransactionMode;
  /** False when the step must run outside a transaction block. */
  readonly transactional: boolean;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

/** One step of a plan: a change (discriminated by `kind`) with its SQL, hazards and timeouts. */
export type PlanStep = { [K in Change["kind"]]: Extract<Change, { kind: K }> & StepMeta }[Change["kind"]];

/** An immutable, ordered list of steps. Empty `steps` means converged. */
export interface Plan {
  readonly steps: readonly PlanStep[];
  /** Objects in managed schemas that this engine does not manage yet: never changed, never dropped. */
  readonly unmanaged: readonly (UnmanagedObject & { readonly side: "live" | "desired" | "both" })[];
}

/** Policy for {@link plan}. */
export interface PlanPolicy extends DiffOptions {
  /** `lock_timeout` for every step. @default 3000 */
  lockTimeoutMs?: number;
  /** `statement_timeout` for quick DDL steps. @default 60000 */
  statementTimeoutMs?: number;
  /** `statement_timeout` for steps that scan or rewrite (index builds, validation, rewrites). @default 10800000 (3 h) */
  longStatementTimeoutMs?: number;
  /** What the data probes found, by probe key (see `data-probes-run.ts`); added to the steps' hazards. */
  dataHazards?: ReadonlyMap<string, readonly Hazard[]>;
}

/**
 * Computes the plan that turns `live` into `desired`: diff, dependency ordering, hazards, SQL.
 * Pure: no I/O. Use {@link assertHazardsAllowed} before applying it.
 * @throws {SetpointError} `PLAN_CYCLE` if the changes cannot be ordered (a bug: please report it).
 */
export function plan(live: SchemaModel, desired: SchemaModel, policy: PlanPolicy = {}): Plan {
  return planChanges(diff(live, desired, policy), live, desired, policy);
}

/**
 * {@link plan} of changes already diffed with the same models and policy (the engine diffs first to
 * learn what to probe, and plans those changes when the probes found nothing to add).
 */
export function planChanges(changes: readonly Change[], live: SchemaModel, desired: SchemaModel, policy: PlanPolicy = {}): Plan {
  const ordered = order(changes, live, desired);
  const newTables = new Set(
    changes.flatMap((c) => (c.kind === "createTable" ? [keyOf(c.table)] : c.kind === "createObject" && c.object.kind === "materialized view" ? [keyOf(c.object)] : [])),
  );
  const steps = ordered.map(({ change, deps }) => {
    const transaction = transactionMode(change);
    const long = isLong(change);
    const meta: StepMeta = {
      sql: render(change),
      objects: stepObjects(deps),
      hazards: hazardsOf(change, { newTables, data: policy.dataHazards }),
      transaction,
      transactional: transaction !== "none",
      lockTimeoutMs: policy.lockTimeoutMs ?? 3000,
      statementTimeoutMs: long ? (policy.longStatementTimeoutMs ?? 3 * 3600_000) : (policy.statementTimeoutMs ?? 60_000),
    };
    // Object.assign, not spread: V8's object spread over changes of many shapes is several times slower.
    return Object.assign({}, change, meta) as PlanStep;
  });
  return { steps, unmanaged: unmanagedOf(live, desired) };
}

/** What a step creates or drops, or (for an ALTER) the object it changes: an ALTER's first need. Wildcards are left out. */
function stepObjects(deps: ChangeDeps): string[] {
  const out: string[] = [];
  const add = (k: string) => {
    if (!k.endsWith("*") && !out.includes(k)) out.push(k);
  };
  deps.creates.forEach(add);
  deps.drops.forEach(add);
  if (deps.needs.length) add(deps.needs[0]!);
  return out;
}

function unmanagedOf(live: SchemaModel, desired: SchemaModel): Plan["unmanaged"] {
  const key = (u: UnmanagedObject) => `${u.kind}:${keyOf(u)}`;
  const inLive = new Set(live.unmanaged.map(key));
  const inDesired = new Set(desired.unmanaged.map(key));
  const all = new Map<string, UnmanagedObject>();
  for (const u of [...desired.unmanaged, ...live.unmanaged]) all.set(key(u), u);
  return [...all.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, u]) => ({ ...u, side: inLive.has(k) && inDesired.has(k) ? "both" : inLive.has(k) ? "live" : "desired" }));
}

/**
 * Orders changes by their dependency graph (stable: ties keep the diff's order): creators before
 * needers, releasers before droppers, droppers before re-creators of the same key.
 */
function order(changes: readonly Change[], live: SchemaModel, desired: SchemaModel): { change: Change; deps: ChangeDeps }[] {
  const nodes = changes.map((change) => ({ change, deps: dependenciesOf(change, live, desired) }));
  const index = (field: keyof ChangeDeps) => {
    const m = new Map<string, number[]>();
    nodes.forEach((n, i) => {
      for (const k of n.deps[field]) {
        const list = m.get(k);
        if (list) list.push(i);
        else m.set(k, [i]);
      }
    });
    return m;
  };
  const creators = index("creates");
  const droppers = index("drops");
  // Repeated edges are kept (one Set per change cost more than they save): a change is ready when its
  // in-degree, counted with repeats, drops to zero, i.e. when every distinct predecessor is placed, so
  // the order is the same as with each edge counted once.
  const edges: number[][] = nodes.map(() => []);
  const indegree = nodes.map(() => 0);
  const edge = (from: number, to: number) => {
    if (from === to) return;
    edges[from]!.push(to);
    indegree[to]!++;
  };
  nodes.forEach((n, i) => {
    for (const k of n.deps.needs) for (const c of creators.get(k) ?? []) edge(c, i);
    for (const k of n.deps.releases) for (const d of droppers.get(k) ?? []) edge(i, d);
    for (const k of n.deps.creates) for (const d of droppers.get(k) ?? []) if (!n.deps.drops.includes(k)) edge(d, i);
  });
  for (const [from, to] of overloadSwaps(nodes.map((n) => n.change))) if (!reaches(edges, to, from)) edge(from, to);
  // Kahn's algorithm, always taking the earliest ready change (a binary min-heap of indexes).
  const ready = new MinHeap();
  indegree.forEach((d, i) => d === 0 && ready.push(i));
  const out: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    out.push(i);
    for (const j of edges[i]!) if (--indegree[j]! === 0) ready.push(j);
  }
  if (out.length !== nodes.length) {
    const placed = new Set(out);
    const stuck = nodes.filter((_, i) => !placed.has(i)).map((n) => n.change.kind);
    throw new SetpointError("PLAN_CYCLE", `cannot order schema changes: dependency cycle among ${stuck.join(", ")}; please report this with the schemas`);
  }
  return out.map((i) => nodes[i]!);
}

/**
 * Pairs (drop, create) of a routine dropped and another of the same schema and name created: while
 * both exist, a call written for one may be ambiguous (`f()` with an `f(n int DEFAULT 0)` beside
 * it: "function f() is not unique"), so the old one goes first wherever the graph allows it (the
 * users of the old one are dropped before it and those of the new one come after its creation).
 */
function overloadSwaps(changes: readonly Change[]): [number, number][] {
  const routine = (c: Change) =>
    (c.kind === "dropObject" || c.kind === "createObject") && (c.object.kind === "function" || c.object.kind === "procedure" || c.object.kind === "aggregate") ? `${c.object.schema}.${c.object.name}` : undefined;
  const dropped = new Map<string, number[]>();
  changes.forEach((c, i) => {
    const name = c.kind === "dropObject" ? routine(c) : undefined;
    if (name !== undefined) dropped.set(name, [...(dropped.get(name) ?? []), i]);
  });
  const out: [number, number][] = [];
  if (dropped.size === 0) return out;
  changes.forEach((c, i) => {
    const name = c.kind === "createObject" ? routine(c) : undefined;
    for (const d of name === undefined ? [] : (dropped.get(name) ?? [])) out.push([d, i]);
  });
  return out;
}

/** Whether `to` is reachable from `from` along `edges`. */
function reaches(edges: readonly (readonly number[])[], from: number, to: number): boolean {
  const seen = new Set<number>([from]);
  const stack = [from];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (i === to) return true;
    for (const j of edges[i]!) {
      if (seen.has(j)) continue;
      seen.add(j);
      stack.push(j);
    }
  }
  return false;
}

/** A binary min-heap of non-negative integers. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(v: number): void {
    const a = this.items;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): number {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Raised when a plan has hazards that were not allowed; nothing has run. */
export class HazardsRefusedError extends SetpointError {
  readonly hazards: readonly (Hazard & { readonly step: number })[];

  constructor(hazards: readonly (Hazard & { step: number })[]) {
    const codes = [...new Set(hazards.map((h) => h.code))].filter((c) => !isUnallowable(c));
    const blocked = [...new Set(hazards.map((h) => h.code))].filter(isUnallowable);
    super(
      "HAZARDS_REFUSED",
      `the plan was refused before anything ran: ${hazards.length} hazardous step(s) not allowed:\n` +
        hazards.map((h) => `  - step ${h.step + 1}: ${h.code}: ${h.message}`).join("\n") +
        (blocked.length
          ? `\n${blocked.join(", ")} cannot be allowed: existing rows make the step fail. Fix those rows (or change the desired schema), then plan again.`
          : "") +
        (codes.length
          ? `\nTo allow ${blocked.length ? "the others" : "them"}, pass --allow-hazards ${codes.join(",")} (CLI) or allowHazards: [${codes.map((c) => `"${c}"`).join(", ")}] (API), or change the desired schema.`
          : ""),
    );
    this.hazards = hazards;
  }
}

/** Allowed hazards: a list of codes, or `"all"`. */
export type AllowedHazards = readonly HazardCode[] | "all";

/** The hazards of a plan that `allowed` does not cover (unallowable ones always), with their step index. */
export function refusedHazards(p: Plan, allowed: AllowedHazards): (Hazard & { step: number })[] {
  const covered = (code: HazardCode) => !isUnallowable(code) && (allowed === "all" || allowed.includes(code));
  return p.steps.flatMap((s, step) => s.hazards.filter((h) => !covered(h.code)).map((h) => ({ ...h, step })));
}

/**
 * Throws when the plan has hazards that are not allowed.
 * @throws {HazardsRefusedError} naming each object, its hazard and how to allow it.
 */
export function assertHazardsAllowed(p: Plan, allowed: AllowedHazards): void {
  const refused = refusedHazards(p, allowed);
  if (refused.length) throw new HazardsRefusedError(refused);
}
