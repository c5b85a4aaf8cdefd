import { quoteIdent, quoteIdentIfNeeded, quoteLiteral, quoteQualified } from "../postgres/quote";
import type { Change, CommentTarget, RowFacts } from "./changes";
import {
  byKey,
  keyOf,
  type ColumnDef,
  type ConstraintDef,
  type IndexDef,
  type QualifiedName,
  type SchemaModel,
  type SequenceDef,
  type TableDef,
} from "./model";
import { inCreateTable, splitIndexDefinition, withIndexName } from "./render";
import { dependenciesOf, sequencesInExpression } from "./dependencies";
import { diffPrivileges } from "./privileges";
import { checksForNewParents, childrenOf, linkPlan, parentsFirst, projectedChecks, projectedColumns, providedByParent, relinkForOwnColumns } from "./inheritance";
import { diffDependents } from "./diff-dependents";
import { diffImplied } from "./diff-implied";
import { indexOptionsOf, withoutIndexOptions } from "./index-options";
import {
  keepsValidation,
  keptForAttachment,
  notNullChanges,
  partitionColumnChanges,
  partitionIndexChanges,
  providedByPartitionParent,
  replicaIdentityChanges,
  sameDefinition,
  asDetached,
} from "./diff-table-properties";

/** A rename the user declared; the engine never guesses renames. */
export type Rename =
  | { readonly kind: "table"; readonly schema: string; readonly from: string; readonly to: string }
  | { readonly kind: "column"; readonly schema: string; readonly table: string; readonly from: string; readonly to: string };

/** Options that shape the diff. */
export interface DiffOptions {
  /**
   * Online mode: build and drop indexes CONCURRENTLY, add constraints NOT VALID then validate,
   * set NOT NULL through a validated CHECK. Turn off for empty or offline databases.
   * @default true
   */
  online?: boolean;
  /** Declared renames, applied before matching objects by name. @default [] */
  renames?: readonly Rename[];
  /** Server major version of the target; some changes have cheaper forms on newer servers. @default 17 */
  serverMajor?: number;
  /** What is known about the data in tables and columns that would be dropped (see `facts.ts`). */
  facts?: ReadonlyMap<string, RowFacts>;
  /**
   * The role the plan is applied as (the target connection's `current_user`): it owns what the
   * plan creates, so an object desired with another owner gets an `ALTER ... OWNER TO`.
   * @default each new object's desired owner
   */
  role?: string;
}

const UNKNOWN_FACTS: RowFacts = { empty: null, estimatedRows: -1 };

/**
 * Computes the changes that turn `live` into `desired`, in emission order (roughly creation
 * order; `plan` reorders them by their dependency graph). Pure: no I/O.
 */
export function diff(live: SchemaModel, desired: SchemaModel, options: DiffOptions = {}): Change[] {
  const ctx: Ctx = {
    online: options.online ?? true,
    major: options.serverMajor ?? 17,
    facts: options.facts ?? new Map(),
    out: [],
    live,
    desired,
  };
  const renamedLive = renameOwnedSequences(applyRenames(live, options.renames ?? [], ctx), desired, ctx);
  ctx.live = renamedLive;
  diffSchemas(renamedLive, desired, ctx);
  diffExtensions(renamedLive, desired, ctx);
  diffEnums(renamedLive, desired, ctx);
  diffSequences(renamedLive, desired, ctx);
  diffTables(renamedLive, desired, ctx);
  partitionIndexChanges(renamedLive, desired, ctx);
  syncNewSequences(renamedLive, desired, ctx);
  diffDependents(renamedLive, desired, ctx);
  diffImplied(renamedLive, desired, ctx);
  const recreated = new Set<string>();
  for (const c of ctx.out) if (RECREATING.has(c.kind)) for (const k of dependenciesOf(c, live, desired).drops) recreated.add(k);
  ctx.out.push(...diffPrivileges(live, desired, ctx.out, { major: ctx.major, role: options.role, recreated }));
  return ctx.out;
}

// Change kinds after which an object they drop has lost its owner and privileges (a rename or a
// column's type change keeps them).
const RECREATING: ReadonlySet<Change["kind"]> = new Set<Change["kind"]>([
  "dropSchema", "dropEnum", "recreateEnum", "dropSequence", "dropTable", "dropColumn", "dropView", "dropObject", "recreateType",
]);

/** The diff's state while it runs (see {@link diff}). */
export interface Ctx {
  online: boolean;
  major: number;
  facts: ReadonlyMap<string, RowFacts>;
  out: Change[];
  /** Both models (live after declared renames), for what crosses tables (inheritance). */
  live: SchemaModel;
  readonly desired: SchemaModel;
}

/** Key under which facts about a table (`schema.table`) or a column (`schema.table.column`) are stored. */
export function factsKey(table: QualifiedName, column?: string): string {
  return column === undefined ? keyOf(table) : `${keyOf(table)}.${column}`;
}

/** Adds a comment change when the comment differs. */
export function comment(ctx: Ctx, target: CommentTarget, from: string | null, to: string | null): void {
  if (from !== to) ctx.out.push({ kind: "comment", target, comment: to });
}

// Renames rewrite the live model in memory so the rest of the diff matches by the new names.
function applyRenames(live: SchemaModel, renames: readonly Rename[], ctx: Ctx): SchemaModel {
  let tables = [...live.tables];
  for (const r of renames) {
    if (r.kind === "table") {
      const idx = tables.findIndex((t) => t.schema === r.schema && t.name === r.from);
      if (idx < 0 || tables.some((t) => t.schema === r.schema && t.name === r.to)) continue; // already renamed, or nothing to rename
      ctx.out.push({ kind: "renameTable", table: { schema: r.schema, name: r.from }, to: r.to });
      tables[idx] = { ...tables[idx]!, name: r.to };
      // Children name their parents: a renamed parent is renamed there too.
      const renamed = (p: QualifiedName) => (p.schema === r.schema && p.name === r.from ? { schema: p.schema, name: r.to } : p);
      tables = tables.map((x) => (x.inherits.some((p) => p.schema === r.schema && p.name === r.from) ? { ...x, inherits: x.inherits.map(renamed) } : x));
    } else {
      const idx = tables.findIndex((t) => t.schema === r.schema && t.name === r.table);
      const t = tables[idx];
      if (!t || !t.columns.some((c) => c.name === r.from) || t.columns.some((c) => c.name === r.to)) continue;
      ctx.out.push({ kind: "renameColumn", table: { schema: r.schema, name: r.table }, from: r.from, to: r.to });
      // PostgreSQL renames the column in every descendant too (inheritance children).
      const renamedIn = new Set([keyOf(t)]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const x of tables) {
          if (renamedIn.has(keyOf(x)) || !x.inherits.some((p) => renamedIn.has(keyOf(p)))) continue;
          renamedIn.add(keyOf(x));
          grew = true;
        }
      }
      tables = tables.map((x) => (renamedIn.has(keyOf(x)) ? { ...x, columns: x.columns.map((c) => (c.name === r.from ? { ...c, name: r.to } : c)) } : x));
    }
  }
  tables = tables.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  // Sequences follow their owning column through renames.
  const owner = (o: NonNullable<SequenceDef["ownedBy"]>) => {
    let { table, column } = o;
    for (const r of renames) {
      if (r.kind === "table" && r.schema === o.schema && r.from === table) table = r.to;
      if (r.kind === "column" && r.schema === o.schema && r.table === table && r.from === column) column = r.to;
    }
    return { schema: o.schema, table, column };
  };
  const sequences = live.sequences.map((s) => (s.ownedBy ? { ...s, ownedBy: owner(s.ownedBy) } : s));
  // Triggers and policies follow their table (their identity names it), and so do their dependency keys.
  let objects = live.objects;
  for (const r of renames) {
    if (r.kind !== "table") continue;
    const from = `${r.schema}.${r.from}`;
    const to = `${r.schema}.${r.to}`;
    const key = (k: string) => (k === `table:${from}` ? `table:${to}` : k.startsWith(`column:${from}.`) ? `column:${to}.${k.slice(`column:${from}.`.length)}` : k);
    objects = objects.map((o) =>
      (o.kind === "trigger" || o.kind === "policy") && o.schema === r.schema && o.table === r.from
        ? { ...o, table: r.to, identity: `${r.to}.${o.name}`, dependsOn: o.dependsOn.map(key) }
        : o,
    );
  }
  return { ...live, tables, sequences, objects };
}

/**
 * A serial column's sequence that only differs by name from the wanted one (e.g. `old_id_seq`
 * after a table rename) is renamed, keeping its current value; re-creating it would restart it.
 */
function renameOwnedSequences(live: SchemaModel, desired: SchemaModel, ctx: Ctx): SchemaModel {
  const liveKeys = new Set(live.sequences.map(keyOf));
  const desiredKeys = new Set(desired.sequences.map(keyOf));
  const renamed = new Map<string, string>();
  const sequences = live.sequences.map((s) => {
    if (desiredKeys.has(keyOf(s)) || !s.ownedBy) return s;
    const match = desired.sequences.find((d) => !liveKeys.has(keyOf(d)) && d.schema === s.schema && JSON.stringify(d.ownedBy) === JSON.stringify(s.ownedBy));
    if (!match) return s;
    liveKeys.add(keyOf(match));
    ctx.out.push({ kind: "renameSequence", sequence: s, to: match.name });
    renamed.set(nextvalOf(s.schema, s.name), nextvalOf(match.schema, match.name));
    return { ...s, name: match.name };
  });
  if (renamed.size === 0) return live;
  // Defaults refer to the sequence by OID, so after the rename they print the new name.
  const fix = (expr: string | null) => {
    if (expr === null) return expr;
    let out = expr;
    for (const [from, to] of renamed) out = out.replaceAll(from, to);
    return out;
  };
  const tables = live.tables.map((t) => ({ ...t, columns: t.columns.map((c) => ({ ...c, default: fix(c.default) })) }));
  return { ...live, sequences, tables };
}

// How pg_get_expr prints nextval of a sequence under the canonical search_path (public).
function nextvalOf(schema: string, name: string): string {
  const rel = schema === "public" ? quoteIdentIfNeeded(name) : `${quoteIdentIfNeeded(schema)}.${quoteIdentIfNeeded(name)}`;
  return `nextval(${quoteLiteral(rel)}::regclass)`;
}

function diffSchemas(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveByName = new Map(live.schemas.map((s) => [s.name, s]));
  const desiredNames = new Set(desired.schemas.map((s) => s.name));
  for (const s of desired.schemas) {
    const l = liveByName.get(s.name);
    if (!l) {
      ctx.out.push({ kind: "createSchema", schema: s });
      comment(ctx, { type: "SCHEMA", name: s.name }, null, s.comment);
    } else comment(ctx, { type: "SCHEMA", name: s.name }, l.comment, s.comment);
  }
  for (const s of live.schemas) if (!desiredNames.has(s.name)) ctx.out.push({ kind: "dropSchema", schema: s });
}

function diffExtensions(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveByName = new Map(live.extensions.map((e) => [e.name, e]));
  const desiredNames = new Set(desired.extensions.map((e) => e.name));
  for (const e of desired.extensions) {
    const l = liveByName.get(e.name);
    if (!l) {
      ctx.out.push({ kind: "createExtension", extension: e });
      comment(ctx, { type: "EXTENSION", name: e.name }, null, e.comment);
      continue;
    }
    if (l.schema !== e.schema && !l.relocatable) {
      // PostgreSQL cannot move it: dropped and created again, under DATA_LOSS_DROP_EXTENSION.
      ctx.out.push({ kind: "dropExtension", extension: l }, { kind: "createExtension", extension: e });
      comment(ctx, { type: "EXTENSION", name: e.name }, null, e.comment);
      continue;
    }
    if (l.schema !== e.schema) ctx.out.push({ kind: "setExtensionSchema", extension: e, from: l.schema });
    if (l.version !== e.version) ctx.out.push({ kind: "updateExtension", extension: e, from: l.version });
    comment(ctx, { type: "EXTENSION", name: e.name }, l.comment, e.comment);
  }
  // Every installed extension is read; only those in a managed schema are the plan's to drop.
  const managed = new Set(live.schemas.map((s) => s.name));
  for (const e of live.extensions) if (!desiredNames.has(e.name) && managed.has(e.schema)) ctx.out.push({ kind: "dropExtension", extension: e });
}

function diffEnums(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveMap = byKey(live.enums);
  const desiredMap = byKey(desired.enums);
  for (const e of desired.enums) {
    const l = liveMap.get(keyOf(e));
    const target: CommentTarget = { type: "TYPE", schema: e.schema, name: e.name };
    if (!l) {
      ctx.out.push({ kind: "createEnum", enum: e });
      comment(ctx, target, null, e.comment);
      continue;
    }
    if (isOrderedSubsequence(l.values, e.values)) {
      // Only additions: ADD VALUE in place, each before the next value that already exists.
      const existing = new Set(l.values);
      e.values.forEach((v, i) => {
        if (existing.has(v)) return;
        const before = e.values.slice(i + 1).find((n) => existing.has(n)) ?? null;
        ctx.out.push({ kind: "addEnumValue", enum: e, value: v, before });
      });
    } else {
      // Columns that keep using the type are converted in place; columns being dropped or changed
      // to another type are handled by their own steps, ordered before this one.
      const uses = (c: ColumnDef | undefined) => c?.userType?.schema === e.schema && c.userType.name === e.name;
      const columns = live.tables.flatMap((t) =>
        t.columns
          .filter((c) => uses(c) && uses(desiredColumn(desired, t, c.name)) && desiredColumn(desired, t, c.name)!.type === c.type)
          .map((c) => ({
            table: { schema: t.schema, name: t.name },
            column: c.name,
            array: c.userType!.array,
            dropDefault: c.default !== null,
            default: desiredColumn(desired, t, c.name)!.default,
          })),
      );
      ctx.out.push({ kind: "recreateEnum", enum: e, removedValues: l.values.filter((v) => !e.values.includes(v)), columns });
    }
    comment(ctx, target, l.comment, e.comment);
  }
  for (const e of live.enums) if (!desiredMap.has(keyOf(e))) ctx.out.push({ kind: "dropEnum", enum: e });
}

/** The desired model's column of a table, if any. */
export function desiredColumn(desired: SchemaModel, table: QualifiedName, column: string): ColumnDef | undefined {
  return desired.tables.find((t) => t.schema === table.schema && t.name === table.name)?.columns.find((c) => c.name === column);
}

function isOrderedSubsequence(sub: readonly string[], full: readonly string[]): boolean {
  let i = 0;
  for (const v of full) if (v === sub[i]) i++;
  return i === sub.length;
}

function diffSequences(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveMap = byKey(live.sequences);
  const desiredMap = byKey(desired.sequences);
  for (const s of desired.sequences) {
    const l = liveMap.get(keyOf(s));
    const target: CommentTarget = { type: "SEQUENCE", schema: s.schema, name: s.name };
    if (!l) {
      ctx.out.push({ kind: "createSequence", sequence: s });
      if (s.ownedBy) ctx.out.push({ kind: "setSequenceOwner", sequence: s });
      comment(ctx, target, null, s.comment);
      continue;
    }
    const opts = (x: typeof s) => [x.dataType, x.start, x.increment, x.min, x.max, x.cache, x.cycle].join("|");
    if (opts(l) !== opts(s)) ctx.out.push({ kind: "alterSequence", sequence: s, from: l });
    if (JSON.stringify(l.ownedBy) !== JSON.stringify(s.ownedBy)) ctx.out.push({ kind: "setSequenceOwner", sequence: s });
    comment(ctx, target, l.comment, s.comment);
  }
  for (const s of live.sequences) {
    if (desiredMap.has(keyOf(s))) continue;
    // A sequence OWNED BY a column goes with it when that column or its table is dropped.
    const o = s.ownedBy;
    if (o && !desiredColumn(desired, { schema: o.schema, name: o.table }, o.column)) continue;
    ctx.out.push({ kind: "dropSequence", sequence: s });
  }
}

/**
 * A sequence the plan creates as the default of an existing column (identity → serial, or a plain
 * column given a serial default) starts past the values the column already holds.
 */
function syncNewSequences(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveSequences = byKey(live.sequences);
  const desiredSequences = byKey(desired.sequences);
  for (const t of desired.tables) {
    const lt = live.tables.find((x) => x.schema === t.schema && x.name === t.name);
    if (!lt) continue;
    for (const c of t.columns) {
      if (!lt.columns.some((x) => x.name === c.name)) continue;
      for (const q of sequencesInExpression(c.default)) {
        const s = desiredSequences.get(keyOf(q));
        if (s && !liveSequences.has(keyOf(q))) ctx.out.push({ kind: "syncSequence", sequence: s, table: { schema: t.schema, name: t.name }, column: c.name });
      }
    }
  }
}

function diffTables(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const desiredMap = byKey(desired.tables);
  // A table whose partition key changes cannot be altered: it is dropped and created again (under
  // its DATA_LOSS hazard), and so are the partitions it takes with it.
  const recreated = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of live.tables) {
      const t = desiredMap.get(keyOf(l));
      if (!t || recreated.has(keyOf(l))) continue;
      if (l.partitionBy !== t.partitionBy || (l.partitionOf && recreated.has(keyOf(l.partitionOf)))) {
        recreated.add(keyOf(l));
        grew = true;
      }
    }
  }
  const liveMap = byKey(live.tables.filter((t) => !recreated.has(keyOf(t))));
  // Parents first: PostgreSQL applies their ALTERs to their children, whose own steps follow.
  for (const t of parentsFirst(desired.tables)) {
    const l = liveMap.get(keyOf(t));
    if (l) diffTable(l, t, ctx);
    else createTable(t, ctx);
  }
  // Foreign keys of new tables come after every table exists (they may reference each other), and
  // so do constraints declared NOT VALID (CREATE TABLE cannot leave one unvalidated).
  for (const t of desired.tables) {
    if (liveMap.has(keyOf(t))) continue;
    for (const c of t.constraints) if (!inCreateTable(c)) addConstraint(t, c, false, ctx);
  }
  for (const t of live.tables) {
    if (!desiredMap.has(keyOf(t)) || recreated.has(keyOf(t))) ctx.out.push({ kind: "dropTable", table: t, rows: ctx.facts.get(factsKey(t)) ?? UNKNOWN_FACTS });
  }
}

function createTable(t: TableDef, ctx: Ctx): void {
  const from = ctx.out.length;
  ctx.out.push({ kind: "createTable", table: t });
  if (t.rowSecurity || t.forceRowSecurity) ctx.out.push({ kind: "setRowSecurity", table: t, enabled: t.rowSecurity, forced: t.forceRowSecurity });
  // A new table is empty: its indexes are built in the same transaction, without CONCURRENTLY.
  for (const i of t.indexes) ctx.out.push({ kind: "createIndex", table: t, index: i, concurrently: false });
  // NOT NULL NOT VALID (PostgreSQL 18) cannot be declared in CREATE TABLE.
  if (!t.partitionOf) for (const c of t.columns) if (c.notNull && c.notNullConstraint?.validated === false) notNullChanges(t, { ...c, notNull: false }, c, { ...ctx, online: false }, false);
  partitionColumnChanges(null, t, { ...ctx, online: false });
  replicaIdentityChanges(null, t, ctx, from);
  tableComments(t, null, ctx);
}

function tableComments(t: TableDef, l: TableDef | null, ctx: Ctx): void {
  comment(ctx, { type: "TABLE", schema: t.schema, name: t.name }, l?.comment ?? null, t.comment);
  for (const c of t.columns) {
    const lc = l?.columns.find((x) => x.name === c.name);
    comment(ctx, { type: "COLUMN", schema: t.schema, table: t.name, column: c.name }, lc?.comment ?? null, c.comment);
  }
  for (const c of t.constraints) {
    const lc = l?.constraints.find((x) => x.name === c.name && x.definition === c.definition);
    comment(ctx, { type: "CONSTRAINT", schema: t.schema, table: t.name, constraint: c.name }, lc?.comment ?? null, c.comment);
  }
  for (const i of t.indexes) {
    const li = l?.indexes.find((x) => x.name === i.name && indexSignature(x) === indexSignature(i) && x.valid);
    comment(ctx, { type: "INDEX", schema: t.schema, name: i.name }, li?.comment ?? null, i.comment);
  }
}

function diffTable(liveTable: TableDef, t: TableDef, outerCtx: Ctx): void {
  // A partitioned table's indexes and constraints cannot be built CONCURRENTLY or NOT VALID (in
  // general): they are built directly, under their hazards.
  const ctx = t.partitionBy ? { ...outerCtx, online: false } : outerCtx;
  const from = ctx.out.length;
  let l = liveTable;
  const lp = l.partitionOf;
  const tp = t.partitionOf;
  const parentKey = (p: TableDef["partitionOf"]) => (p ? `${p.schema}.${p.name}` : "");
  if (lp && (!tp || parentKey(lp) !== parentKey(tp) || lp.bound !== tp.bound)) {
    ctx.out.push({ kind: "detachPartition", table: t, parent: lp });
    l = asDetached(l, ctx.live);
  }
  if (tp && (!lp || parentKey(lp) !== parentKey(tp) || lp.bound !== tp.bound)) ctx.out.push({ kind: "attachPartition", table: t, parent: tp, bound: tp.bound });
  if (l.unlogged !== t.unlogged) ctx.out.push({ kind: "setTableLogged", table: t, unlogged: t.unlogged });
  const set = t.options.filter((o) => !l.options.includes(o));
  const reset = l.options.map(optionName).filter((n) => !t.options.some((o) => optionName(o) === n));
  if (set.length || reset.length) ctx.out.push({ kind: "setTableOptions", table: t, set, reset });
  if (l.rowSecurity !== t.rowSecurity || l.forceRowSecurity !== t.forceRowSecurity) {
    ctx.out.push({ kind: "setRowSecurity", table: t, enabled: t.rowSecurity, forced: t.forceRowSecurity });
  }
  const { live, desired } = ctx;
  const links = linkPlan(l.inherits, t.inherits, l.inherits.length ? relinkForOwnColumns(l, t, desired) : t.inherits.length);
  for (const p of links.remove) ctx.out.push({ kind: "noInherit", table: t, parent: p });
  // A parent drops a column with ONLY: its children keep theirs (those that should not have it drop it).
  const only = !t.partitionBy && childrenOf(live, l).length > 0;

  if (links.remove.length) l = { ...l, constraints: projectedChecks(l, links, live) };
  l = renameEquivalents(l, t, ctx);
  const desiredCons = new Map(t.constraints.map((c) => [c.name, c]));
  const liveCons = new Map(l.constraints.map((c) => [c.name, c]));
  const desiredIdx = new Map(t.indexes.map((i) => [i.name, i]));

  // Drops first in emission order; the dependency graph enforces what must precede what. A key
  // replaced by another of the same name is dropped where the new one is added (see addConstraint).
  const replaced = new Map<string, ConstraintDef>();
  for (const c of l.constraints) {
    const d = desiredCons.get(c.name);
    if (!d && c.inheritCount + links.add.length > 0 && providedByParent(c, t, desired)) continue;
    if (!d && providedByPartitionParent(c, t, desired)) continue;
    const changed = d !== undefined && !sameDefinition(c, d) && !onlyIndexOptionsDiffer(c, d);
    if (changed && isKey(c) && isKey(d)) replaced.set(c.name, c);
    else if (!d || changed || !keepsValidation(c, d)) ctx.out.push({ kind: "dropConstraint", table: t, constraint: c });
  }
  for (const i of l.indexes) {
    if (!desiredIdx.has(i.name) && !keptForAttachment(i, t, desired)) ctx.out.push({ kind: "dropIndex", schema: t.schema, index: i, concurrently: ctx.online });
  }

  // A partition's columns follow its parent's, and so do an inheritance child's inherited columns:
  // the parent's changes reach them (see inheritance.ts).
  const liveColumns = links.stay.length || links.remove.length ? projectedColumns(l, t, links, live, desired) : l.columns;
  const liveCols = new Map(liveColumns.map((c) => [c.name, c]));
  const desiredColNames = new Set(t.columns.map((c) => c.name));
  for (const c of lp && tp ? [] : liveColumns) {
    if (!desiredColNames.has(c.name)) ctx.out.push({ kind: "dropColumn", table: t, column: c, rows: ctx.facts.get(factsKey(t, c.name)) ?? UNKNOWN_FACTS, only });
  }
  for (const c of lp && tp ? [] : t.columns) {
    const lc = liveCols.get(c.name);
    if (!lc) ctx.out.push({ kind: "addColumn", table: t, column: c, volatileDefault: isVolatileDefault(c) });
    else diffColumn(t, lc, c, ctx, only);
  }
  if (lp && tp) partitionColumnChanges(l, t, ctx);

  for (const c of t.constraints) {
    const lc = liveCons.get(c.name);
    if (lc && !sameDefinition(lc, c) && onlyIndexOptionsDiffer(lc, c)) {
      // The constraint's index takes new storage parameters in place (no rebuild, no gap).
      const from = indexOptionsOf(lc.definition);
      const to = indexOptionsOf(c.definition);
      const reset = from.map(optionName).filter((n) => !to.some((o) => optionName(o) === n));
      ctx.out.push({ kind: "setIndexOptions", table: t, index: c.name, set: to.filter((o) => !from.includes(o)), reset });
    } else if (!lc || !sameDefinition(lc, c) || !keepsValidation(lc, c)) addConstraint(t, c, true, ctx, replaced.get(c.name) ?? null);
    else if (!lc.validated && c.validated) ctx.out.push({ kind: "validateConstraint", table: t, constraint: c.name });
  }
  for (const c of checksForNewParents(l, t, links, desired)) addConstraint(t, c, true, ctx);
  for (const p of links.add) ctx.out.push({ kind: "inherit", table: t, parent: p });
  for (const i of t.indexes) {
    const li = l.indexes.find((x) => x.name === i.name);
    if (!li) ctx.out.push({ kind: "createIndex", table: t, index: i, concurrently: ctx.online });
    else if (!li.valid || indexSignature(li) !== indexSignature(i)) rebuildIndex(t, li, i, ctx);
  }
  replicaIdentityChanges(l, t, ctx, from);
  tableComments(t, l, ctx);
}

/**
 * A constraint or index that differs from a wanted one only by name (typically after a table
 * rename: PostgreSQL keeps `old_pkey`) is renamed rather than dropped and rebuilt. Both are
 * structurally identical and hold no data, so this is not a guess about user intent.
 */
function renameEquivalents(l: TableDef, t: TableDef, ctx: Ctx): TableDef {
  const table = { schema: t.schema, name: t.name };
  const wantedCons = new Set(t.constraints.map((c) => c.name));
  const liveConNames = new Set(l.constraints.map((c) => c.name));
  const constraints = l.constraints.map((c) => {
    if (wantedCons.has(c.name)) return c;
    const match = t.constraints.find((d) => !liveConNames.has(d.name) && d.kind === c.kind && d.definition === c.definition && c.validated);
    if (!match) return c;
    liveConNames.add(match.name);
    ctx.out.push({ kind: "renameConstraint", table, from: c.name, to: match.name });
    return { ...c, name: match.name };
  });
  const wantedIdx = new Set(t.indexes.map((i) => i.name));
  const liveIdxNames = new Set(l.indexes.map((i) => i.name));
  const indexes = l.indexes.map((i) => {
    if (wantedIdx.has(i.name) || !i.valid) return i;
    const match = t.indexes.find((d) => !liveIdxNames.has(d.name) && indexSignature(d) === indexSignature(i));
    if (!match) return i;
    liveIdxNames.add(match.name);
    ctx.out.push({ kind: "renameIndex", schema: t.schema, from: i.name, to: match.name });
    return { ...i, name: match.name, definition: withIndexName(i.definition, match.name) };
  });
  return { ...l, constraints, indexes };
}

const isKey = (c: ConstraintDef) => c.kind === "PRIMARY KEY" || c.kind === "UNIQUE";

// A primary key or unique constraint whose index's storage parameters alone change (the index of a
// primary key or unique constraint has the constraint's name).
function onlyIndexOptionsDiffer(l: ConstraintDef, d: ConstraintDef): boolean {
  return (d.kind === "PRIMARY KEY" || d.kind === "UNIQUE") && l.kind === d.kind && withoutIndexOptions(l.definition) === withoutIndexOptions(d.definition);
}

function optionName(opt: string): string {
  return opt.slice(0, opt.indexOf("="));
}

function diffColumn(t: TableDef, l: ColumnDef, c: ColumnDef, ctx: Ctx, only: boolean): void {
  const table = { schema: t.schema, name: t.name };
  // Generated columns: expression changes, or a switch between generated and plain.
  if (l.generated !== c.generated || l.generatedKind !== c.generatedKind) {
    if (c.generated === null && l.generatedKind !== "VIRTUAL") {
      ctx.out.push({ kind: "dropGeneratedExpression", table, column: c.name });
    } else if (l.generated !== null && l.generatedKind === c.generatedKind && ctx.major >= 17) {
      ctx.out.push({ kind: "setGeneratedExpression", table, column: c });
    } else {
      ctx.out.push({ kind: "dropColumn", table, column: l, rows: ctx.facts.get(factsKey(t, l.name)) ?? UNKNOWN_FACTS, only });
      ctx.out.push({ kind: "addColumn", table, column: c, volatileDefault: true });
      return;
    }
  }
  const typeChanged = l.type !== c.type || l.collation !== c.collation;
  if (typeChanged) {
    ctx.out.push({
      kind: "alterColumnType",
      table,
      column: c.name,
      from: l.type,
      to: c.type,
      collation: c.collation,
      rewrite: needsRewrite(l.type, c.type) || (l.collation !== c.collation && !isTextual(c.type)),
      dropDefault: l.default !== null && c.generated === null,
      default: l.default !== null && c.generated === null ? c.default : null,
    });
  }
  if (l.identity && !c.identity) ctx.out.push({ kind: "dropIdentity", table, column: c.name });
  const defaultHandledByType = typeChanged && l.default !== null && c.generated === null;
  if (!defaultHandledByType && l.default !== c.default && c.generated === null) {
    if (c.default === null) ctx.out.push({ kind: "dropDefault", table, column: c.name });
    else ctx.out.push({ kind: "setDefault", table, column: c.name, default: c.default });
  }
  notNullChanges(table, l, c, ctx, ctx.online);
  if (!l.identity && c.identity) ctx.out.push({ kind: "addIdentity", table, column: c.name, identity: c.identity });
  else if (l.identity && c.identity && JSON.stringify(l.identity) !== JSON.stringify(c.identity)) {
    ctx.out.push({ kind: "alterIdentity", table, column: c.name, identity: c.identity });
  }
}

/**
 * Adds a constraint: online on a live table, NOT VALID then validated, or through a concurrently
 * built index. `replaces` is a live primary key or unique constraint of the same name that goes:
 * online, the new index is built under a temporary name and swapped in, in one step with the drop
 * (no moment without a key); otherwise it is dropped first.
 */
export function addConstraint(t: TableDef, c: ConstraintDef, existingTable: boolean, ctx: Ctx, replaces: ConstraintDef | null = null): void {
  const table = { schema: t.schema, name: t.name };
  const online = ctx.online && existingTable;
  // NOT ENFORCED (PostgreSQL 18): never checked, so neither NOT VALID nor validated.
  if (!c.enforced) {
    ctx.out.push({ kind: "addConstraint", table, constraint: c, notValid: false });
    return;
  }
  if (online && replaces && (c.kind === "PRIMARY KEY" || c.kind === "UNIQUE")) {
    const name = `${c.name.slice(0, 50)}_setpoint_new`;
    const indexDef = uniqueIndexForConstraint(t, { ...c, name });
    if (indexDef) {
      ctx.out.push({ kind: "createIndex", table, index: { name, definition: indexDef, unique: true, valid: true, columns: c.columns, comment: null }, concurrently: true });
      ctx.out.push({ kind: "addConstraintUsingIndex", table, constraint: c, index: name, replaces });
      return;
    }
  }
  if (replaces) ctx.out.push({ kind: "dropConstraint", table, constraint: replaces });
  // VALIDATE leaves the per-partition pieces of a foreign key to a partitioned table NOT VALID:
  // such a key is added validated (under its hazard).
  const toPartitioned = c.kind === "FOREIGN KEY" && c.references !== null && ctx.desired.tables.some((x) => x.schema === c.references!.schema && x.name === c.references!.name && x.partitionBy !== null);
  if (online && (c.kind === "CHECK" || (c.kind === "FOREIGN KEY" && !toPartitioned))) {
    ctx.out.push({ kind: "addConstraint", table, constraint: c, notValid: true });
    if (c.validated) ctx.out.push({ kind: "validateConstraint", table, constraint: c.name });
    return;
  }
  if (online && (c.kind === "PRIMARY KEY" || c.kind === "UNIQUE")) {
    const indexDef = uniqueIndexForConstraint(t, c);
    if (indexDef) {
      ctx.out.push({ kind: "createIndex", table, index: { name: c.name, definition: indexDef, unique: true, valid: true, columns: c.columns, comment: null }, concurrently: true });
      ctx.out.push({ kind: "addConstraintUsingIndex", table, constraint: c, index: c.name, replaces: null });
      return;
    }
  }
  ctx.out.push({ kind: "addConstraint", table, constraint: c, notValid: !c.validated });
}

/**
 * The `CREATE UNIQUE INDEX` equivalent of a PRIMARY KEY / UNIQUE constraint definition, so it can
 * be built CONCURRENTLY and attached with `USING INDEX`; null when the definition has a form this
 * does not recognise (the constraint is then added directly, under its hazard).
 */
export function uniqueIndexForConstraint(t: QualifiedName, c: ConstraintDef): string | null {
  // WITHOUT OVERLAPS (PostgreSQL 18) is a GiST index with a temporal key: only the constraint itself builds it.
  if (c.definition.includes(" WITHOUT OVERLAPS")) return null;
  const m = /^(?:PRIMARY KEY|UNIQUE)( NULLS NOT DISTINCT)? (\(.*?\))( INCLUDE \(.*?\))?( WITH \(.*?\))?(?: DEFERRABLE(?: INITIALLY (?:DEFERRED|IMMEDIATE))?)?$/.exec(c.definition);
  if (!m) return null;
  const [, nullsNotDistinct = "", cols, include = "", withOpts = ""] = m;
  return `CREATE UNIQUE INDEX ${quoteIdent(c.name)} ON ${quoteQualified(t.schema, t.name)} USING btree ${cols}${include}${nullsNotDistinct}${withOpts}`;
}

function rebuildIndex(t: TableDef, l: IndexDef, i: IndexDef, ctx: Ctx): void {
  const table = { schema: t.schema, name: t.name };
  if (!ctx.online || !l.valid) {
    // An invalid index (a failed concurrent build) is useless as it is: drop it and build again.
    ctx.out.push({ kind: "dropIndex", schema: t.schema, index: l, concurrently: ctx.online });
    ctx.out.push({ kind: "createIndex", table, index: i, concurrently: ctx.online });
    return;
  }
  // Build the replacement beside the old index so queries never run without one.
  const tmp = `${i.name.slice(0, 50)}_setpoint_new`;
  ctx.out.push({ kind: "createIndex", table, index: { ...i, name: tmp, definition: withIndexName(i.definition, tmp) }, concurrently: true });
  ctx.out.push({ kind: "dropIndex", schema: t.schema, index: l, concurrently: true });
  ctx.out.push({ kind: "renameIndex", schema: t.schema, from: tmp, to: i.name });
}

/** An index definition without its name and table, for comparing across renames. */
export function indexSignature(i: IndexDef): string {
  const { head, rest } = splitIndexDefinition(i.definition);
  const using = rest.indexOf(" USING ");
  return head + (using >= 0 ? rest.slice(using) : rest);
}

const VOLATILE_DEFAULT = /\b(random|gen_random_uuid|uuid_generate_v[14]|clock_timestamp|timeofday|nextval|txid_current|statement_timestamp)\s*\(/i;

function isVolatileDefault(c: ColumnDef): boolean {
  return c.identity !== null || c.generated !== null || (c.default !== null && VOLATILE_DEFAULT.test(c.default));
}

function isTextual(type: string): boolean {
  return /^(text|character varying|character|citext)\b/.test(type);
}

/**
 * Whether `ALTER COLUMN TYPE` from one type to another rewrites the table. Known binary-coercible
 * widenings are free; everything else is assumed to rewrite (the safe answer).
 */
export function needsRewrite(from: string, to: string): boolean {
  if (from === to) return false;
  const vc = (s: string) => /^character varying(?:\((\d+)\))?$/.exec(s);
  const f = vc(from);
  const t = vc(to);
  if (f && t) return t[1] !== undefined && (f[1] === undefined || Number(t[1]) < Number(f[1]));
  if (f && to === "text") return false;
  if (from === "text" && t && t[1] === undefined) return false;
  const num = (s: string) => /^numeric(?:\((\d+),(\d+)\))?$/.exec(s);
  const fn = num(from);
  const tn = num(to);
  if (fn && tn) return tn[1] !== undefined && (fn[1] === undefined || fn[2] !== tn[2] || Number(tn[1]) < Number(fn[1]));
  const vb = (s: string) => /^bit varying(?:\((\d+)\))?$/.exec(s);
  const fb = vb(from);
  const tb = vb(to);
  if (fb && tb) return tb[1] !== undefined && (fb[1] === undefined || Number(tb[1]) < Number(fb[1]));
  if (from === "cidr" && to === "inet") return false;
  return true;
}
