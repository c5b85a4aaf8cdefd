import { SetpointError } from "../../errors";
import { quoteIdentIfNeeded } from "../../postgres/quote";
import type { Change, ConvertedColumn } from "../changes";
import { dependenciesOf } from "./dependencies";
import { addConstraint, comment, desiredColumn, factsKey, indexSignature, UNKNOWN_FACTS, type Ctx } from "./context";
import { columnAttributeChanges } from "./table-properties";
import { K, columnsMentioned } from "./dependency-keys";
import { hasIndexExpressions } from "../index-definition";
import { byKey, keyOf, type MaterializedViewDef, type ObjectDef, type ObjectKind, type SchemaModel, type ViewDef, sameOptions } from "../model";
import { compareObject, convertedColumns, objectId, objectKeys } from "../kinds/objects";
import { collationsIn, objectsNamedIn, routinesInExpression, textSearchConfigurationKey } from "../kinds/expressions";

// The diff's pass over views and generic objects (ADR 0008): created, dropped, changed in place, or
// dropped and re-created around what they depend on.

/** A view or generic object, as the dependents pass sees it. */
interface Dependent {
  readonly live: ViewDef | ObjectDef | null;
  readonly desired: ViewDef | ObjectDef | null;
  decision: "create" | "drop" | "recreate" | "keep";
  /** For `keep`: the in-place changes (CREATE OR REPLACE, ALTER). */
  changes: readonly Change[];
}

const isView = (o: ViewDef | ObjectDef): o is ViewDef => o.kind === undefined;

// Change kinds whose dependencies list dropped keys (see dependencies.ts).
const DROPPING: ReadonlySet<Change["kind"]> = new Set<Change["kind"]>([
  "dropSchema", "dropExtension", "dropEnum", "recreateEnum", "dropSequence", "renameSequence", "dropTable", "renameTable", "renameColumn",
  "dropColumn", "alterColumnType", "dropConstraint", "renameConstraint", "dropIndex", "dropView", "dropObject", "recreateType", "columnsToText",
]);

// Emission order of creations (the dependency graph has the last word): types before the views
// and routines that use them, views before routines whose SQL bodies read them (such bodies record
// no dependency), routines before the triggers that call them.
const CREATE_RANK: Record<ObjectKind | "view", number> = {
  collation: 0,
  "text search dictionary": 0,
  "text search configuration": 1,
  operator: 4,
  domain: 0,
  "composite type": 1,
  "range type": 1,
  view: 2,
  "materialized view": 2,
  function: 3,
  procedure: 3,
  aggregate: 4,
  trigger: 4,
  policy: 4,
  statistics: 4,
};

/**
 * Views and generic objects (routines, triggers, domains, composite and range types, materialized
 * views, policies). Each is created, dropped, changed in place (CREATE OR REPLACE, ALTER) or dropped
 * and re-created. Then one fixpoint over the dependency keys: a kept view or object that depends on
 * a key some change drops (a column whose type changes, a re-created view, function or type) is
 * dropped and re-created around it, and so are, in turn, those that depend on it.
 */
export function diffDependents(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const entries = new Map<string, Dependent>();
  const desiredViews = byKey(desired.views);
  for (const v of live.views) {
    const d = desiredViews.get(keyOf(v)) ?? null;
    const same = d !== null && d.definition === v.definition && sameOptions(d.options, v.options);
    entries.set(`view:${keyOf(v)}`, { live: v, desired: d, decision: d === null ? "drop" : same ? "keep" : "recreate", changes: [] });
  }
  for (const v of desired.views) if (!entries.has(`view:${keyOf(v)}`)) entries.set(`view:${keyOf(v)}`, { live: null, desired: v, decision: "create", changes: [] });
  const desiredObjects = new Map(desired.objects.map((o) => [objectId(o), o]));
  const cmpCtx = { live, desired, online: ctx.online };
  for (const o of live.objects) {
    const d = desiredObjects.get(objectId(o)) ?? null;
    if (d === null) {
      entries.set(objectId(o), { live: o, desired: null, decision: "drop", changes: [] });
      continue;
    }
    const how = compareObject(o, d, cmpCtx);
    const changes = how.action === "replace" ? [{ kind: "replaceObject", object: d, from: o } as const] : how.action === "alter" ? how.changes : [];
    entries.set(objectId(o), { live: o, desired: d, decision: how.action === "recreate" ? "recreate" : "keep", changes });
  }
  for (const o of desired.objects) if (!entries.has(objectId(o))) entries.set(objectId(o), { live: null, desired: o, decision: "create", changes: [] });

  // Keys dropped by the changes so far and by the views and objects dropped or re-created.
  const dropped = new Set<string>();
  // A table the plan drops and creates again (a partitioned table keyed by a re-created type) gets
  // the new type: a type's conversion leaves it out.
  const droppedTables = new Set(ctx.out.flatMap((c) => (c.kind === "dropTable" ? [keyOf(c.table)] : [])));
  const recreatedTables = new Set(ctx.out.flatMap((c) => (c.kind === "createTable" && droppedTables.has(keyOf(c.table)) ? [keyOf(c.table)] : [])));
  const notRecreated = (columns: readonly ConvertedColumn[]) => columns.filter((c) => !recreatedTables.has(keyOf(c.table)));
  if (recreatedTables.size > 0) ctx.out.forEach((c, i) => c.kind === "recreateEnum" && (ctx.out[i] = { ...c, columns: notRecreated(c.columns) }));
  // Only changes that drop keys matter (computing every change's graph effects costs on a large cold plan).
  for (const c of ctx.out) if (DROPPING.has(c.kind)) for (const k of dependenciesOf(c, live, desired).drops) dropped.add(k);
  // And in-place changes that drop keys (columns converted to text around a nested type's change).
  for (const e of entries.values()) for (const c of e.changes) if (DROPPING.has(c.kind)) for (const k of dependenciesOf(c, live, desired).drops) dropped.add(k);
  const removal = (e: Dependent): Change[] => {
    const l = e.live!;
    if (isView(l)) return [{ kind: "dropView", view: l }];
    const d = e.desired;
    if (e.decision === "recreate" && d && (d.kind === "domain" || d.kind === "composite type" || d.kind === "range type") && l.kind === d.kind) {
      const columns = notRecreated(convertedColumns(live, desired, d));
      if (columns.length) return [{ kind: "recreateType", type: d, from: l as typeof d, columns }];
    }
    return [{ kind: "dropObject", object: l }];
  };
  const removals = new Map<Dependent, Change[]>();
  const textColumns = new Map<Dependent, readonly ConvertedColumn[]>();
  const remove = (e: Dependent) => {
    const changes = removal(e);
    removals.set(e, changes);
    for (const c of changes) for (const k of dependenciesOf(c, live, desired).drops) dropped.add(k);
  };
  for (const e of entries.values()) if (e.decision === "recreate" && e.live?.kind === "collation") refuseCollationInUse(e.live, e.desired as ObjectDef, live, desired);
  for (const e of entries.values()) if (e.decision === "drop" || e.decision === "recreate") remove(e);
  // An operator's commutator and negator are links, not dependencies: PostgreSQL clears, when one is
  // dropped, only the links of the operators it names itself, so one that names a dropped operator
  // would keep a dangling link (and refuse the re-created one's). It is re-created too (ADR 0056).
  const operatorNames = new Map(live.objects.filter((o) => o.kind === "operator").map((o) => [objectKeys(o)[0]!, `OPERATOR(${quoteIdentIfNeeded(o.schema)}.${o.name})`]));
  const namesDroppedOperator = (o: ViewDef | ObjectDef): boolean =>
    !isView(o) && o.kind === "operator" && [...dropped].some((k) => k !== objectKeys(o)[0] && operatorNames.has(k) && o.definition.includes(operatorNames.get(k)!));
  const aroundInPlace = new Set<Dependent>();
  const cascade = () => {
    for (let grew = true; grew; ) {
      grew = false;
      for (const e of entries.values()) {
        if (e.decision !== "keep" || aroundInPlace.has(e) || !(e.live!.dependsOn.some((k) => dropped.has(k)) || namesDroppedOperator(e.live!))) continue;
        const inPlace = domainConstraintsAround(e, dropped, cmpCtx);
        if (inPlace) {
          e.changes = inPlace;
          aroundInPlace.add(e);
          continue;
        }
        e.decision = "recreate";
        e.changes = [];
        remove(e);
        grew = true;
      }
    }
  };
  cascade();
  // Generated columns calling a dropped routine are re-added: what reads them goes around that too.
  for (;;) {
    const readded = regenerateColumnsReadingDropped(live, desired, dropped, ctx);
    if (readded.length === 0) break;
    for (const k of readded) dropped.add(k);
    cascade();
  }
  // A type re-created while a type it is built on is re-created too (a nested composite, a domain
  // over an enum losing a value) cannot be renamed aside: the old one would hold on to the old inner
  // type. Its columns go through text instead, around the drops and creations of both types.
  for (const [e, changes] of removals) {
    const c = changes[0];
    if (c?.kind !== "recreateType" || !c.from.dependsOn.some((k) => dropped.has(k))) continue;
    removals.set(e, [
      { kind: "columnsToText", type: c.from, columns: c.columns, inner: null },
      { kind: "dropObject", object: c.from },
    ]);
    textColumns.set(e, c.columns);
  }

  refuseRecreatedInUse(entries, live, desired);
  releaseDefaultsOfDroppedRoutines(live, desired, dropped, ctx);
  // A converted column's desired default calling a routine the plan creates (or re-creates after
  // the type) is set once that routine exists, not inside the conversion.
  const createdRoutines = new Set<string>();
  for (const e of entries.values()) {
    const d = e.desired;
    if (d && !isView(d) && (d.kind === "function" || d.kind === "procedure" || d.kind === "aggregate") && (e.decision === "create" || e.decision === "recreate")) createdRoutines.add(objectKeys(d)[0]!);
  }
  if (createdRoutines.size > 0) {
    const setLater = (columns: readonly ConvertedColumn[]): readonly ConvertedColumn[] =>
      columns.map((col) => {
        if (col.default === null || !routinesInExpression(col.default, desired).some((k) => createdRoutines.has(k))) return col;
        if (!ctx.out.some((c) => c.kind === "setDefault" && factsKey(c.table, c.column) === factsKey(col.table, col.column))) ctx.out.push({ kind: "setDefault", table: col.table, column: col.column, default: col.default, restored: true });
        return { ...col, default: null };
      });
    ctx.out.forEach((c, i) => {
      if (c.kind === "recreateEnum") ctx.out[i] = { ...c, columns: setLater(c.columns) };
    });
    for (const [e, changes] of removals) removals.set(e, changes.map((c) => (c.kind === "recreateType" ? { ...c, columns: setLater(c.columns) } : c)));
    for (const [e, columns] of textColumns) textColumns.set(e, setLater(columns));
  }
  // A type renamed aside and re-created (an enum losing a value, a domain, composite or range type
  // re-created) is a key too: PostgreSQL re-parses a check or index whose text names it when the
  // column it reads is converted, and finds the old type there.
  const rebuilt = [...dropped].filter((k) => k.startsWith("function:") || k.startsWith("operator:") || k.startsWith("type:"));
  // Columns converted through text (a range type re-created, a nested composite changed), and
  // columns converted to a type renamed aside and re-created: a check, foreign key or index
  // expression reading them is re-parsed with the column's new type beside the old one of the rest.
  const throughText = new Set<string>();
  const converted = new Set<string>();
  for (const changes of [ctx.out, ...removals.values(), ...[...entries.values()].map((e) => e.changes)]) {
    for (const c of changes) {
      if ((c.kind === "recreateType" && c.from.kind === "range type") || c.kind === "columnsToText") for (const col of c.columns) throughText.add(K.column(col.table, col.column));
      else if (c.kind === "recreateType" || c.kind === "recreateEnum") for (const col of c.columns) converted.add(K.column(col.table, col.column));
    }
  }
  rebuildChecksAndIndexes(live, desired, new Set([...rebuilt, ...changedTextSearchConfigurations(entries)]), { throughText, converted }, ctx);

  const ordered = [...entries.values()];
  for (const e of ordered) if (removals.has(e)) ctx.out.push(...removals.get(e)!);
  const rank = (e: Dependent) => CREATE_RANK[isView(e.desired!) ? "view" : e.desired!.kind];
  const creating = ordered.filter((e) => e.desired && (e.decision === "create" || e.decision === "recreate")).sort((a, b) => rank(a) - rank(b));
  for (const e of creating) {
    const d = e.desired!;
    const recreatedInPlace = removals.get(e)?.some((c) => c.kind === "recreateType");
    // Owners and privileges of what is (re-)created come from the privileges pass.
    if (isView(d)) {
      ctx.out.push({ kind: "createView", view: d });
      comment(ctx, { type: "VIEW", schema: d.schema, name: d.name }, null, d.comment);
      columnComments(d, null, ctx);
      continue;
    }
    if (!recreatedInPlace) ctx.out.push({ kind: "createObject", object: d });
    const converted = textColumns.get(e);
    if (converted && (d.kind === "composite type" || d.kind === "domain" || d.kind === "range type")) ctx.out.push({ kind: "columnsFromText", type: d, columns: converted, inner: null });
    if (d.kind === "materialized view") {
      // A new materialized view: its indexes are built right after it, without CONCURRENTLY.
      for (const i of d.indexes) {
        ctx.out.push({ kind: "createIndex", table: d, index: i, concurrently: false });
        comment(ctx, { type: "INDEX", schema: d.schema, name: i.name }, null, i.comment);
      }
    }
    comment(ctx, { type: "OBJECT", object: d }, null, d.comment);
    if (d.kind === "materialized view") columnComments(d, null, ctx);
    partComments(null, d, [], ctx);
  }
  for (const e of ordered) {
    if (e.decision !== "keep") continue;
    ctx.out.push(...e.changes);
    const l = e.live!;
    const d = e.desired!;
    if (isView(d)) {
      comment(ctx, { type: "VIEW", schema: d.schema, name: d.name }, l.comment, d.comment);
      if (isView(l)) columnComments(d, l, ctx);
    } else {
      if (d.kind === "materialized view" && !isView(l) && l.kind === "materialized view") {
        // Never emptied (WITH NO DATA only decides how a view is created), but a view left
        // unpopulated is filled when the desired state is: reading it fails until then.
        if (!l.populated && d.populated) ctx.out.push({ kind: "refreshMaterializedView", view: d });
        diffMaterializedViewIndexes(l, d, ctx);
      }
      comment(ctx, { type: "OBJECT", object: d }, l.comment, d.comment);
      if (d.kind === "materialized view" && !isView(l) && l.kind === "materialized view") columnComments(d, l, ctx);
      if (!isView(l)) partComments(l, d, e.changes, ctx);
    }
  }
}

/**
 * A kept domain whose only dropped dependencies are routines its CHECK constraints call (a routine
 * whose signature changes): those constraints are dropped before the routine goes and added again
 * after the new one exists (online: NOT VALID, then validated), instead of re-creating the domain
 * and converting every column of it. `undefined` when anything else of it depends on what goes.
 */
function domainConstraintsAround(e: Dependent, dropped: ReadonlySet<string>, cmp: Parameters<typeof compareObject>[2]): Change[] | undefined {
  const l = e.live;
  const d = e.desired;
  if (!l || !d || isView(l) || isView(d) || l.kind !== "domain" || d.kind !== "domain") return undefined;
  const calls = (expr: string | null) => routinesInExpression(expr, cmp.live).filter((k) => dropped.has(k));
  const affected = l.constraints.filter((c) => calls(c.definition).length > 0);
  const covered = new Set(affected.flatMap((c) => calls(c.definition)));
  if (affected.length === 0 || calls(l.default).length > 0 || l.dependsOn.some((k) => dropped.has(k) && !covered.has(k))) return undefined;
  const without = { ...l, constraints: l.constraints.filter((c) => !affected.includes(c)) };
  const how = compareObject(without, d, cmp);
  return [...affected.map((c): Change => ({ kind: "dropDomainConstraint", domain: d, constraint: c })), ...(how.action === "alter" ? how.changes : [])];
}

/**
 * PostgreSQL refuses to drop a routine a generated column calls, and a column cannot become
 * generated again once its expression is dropped: a generated column that the desired state keeps
 * as it is, calling a routine that goes (its signature changes), is dropped and added again after
 * the new routine exists (its values are computed again: TABLE_REWRITE for a stored one). So is
 * one reading a column converted to a re-created type (an enum losing a value, a domain): PostgreSQL
 * refuses to alter the type of a column a generated column uses. Returns the keys of the columns
 * re-added.
 */
function regenerateColumnsReadingDropped(live: SchemaModel, desired: SchemaModel, dropped: ReadonlySet<string>, ctx: Ctx): string[] {
  const routines = new Set([...dropped].filter((k) => k.startsWith("function:")));
  const columns = new Set([...dropped].filter((k) => k.startsWith("column:")));
  if (routines.size === 0 && columns.size === 0) return [];
  const handled = new Set<string>();
  for (const c of ctx.out) {
    if (c.kind === "setGeneratedExpression" || c.kind === "dropGeneratedExpression") handled.add(factsKey(c.table, typeof c.column === "string" ? c.column : c.column.name));
    if (c.kind === "dropColumn" || c.kind === "addColumn") handled.add(factsKey(c.table, c.column.name));
    if (c.kind === "dropTable") handled.add(factsKey(c.table));
  }
  const out: string[] = [];
  for (const t of live.tables) {
    if (handled.has(factsKey(t)) || t.partitionOf) continue;
    for (const c of t.columns) {
      // An inheritance child's copy of its parent's generated column comes back with the parent's.
      if (c.generated === null || handled.has(factsKey(t, c.name)) || (!c.local && t.inherits.length > 0)) continue;
      const self = K.column(t, c.name);
      if (!routinesInExpression(c.generated, live).some((k) => routines.has(k)) && !columnsMentioned(c.generated, t).some((k) => k !== self && columns.has(k))) continue;
      const desiredTable = desired.tables.find((x) => x.schema === t.schema && x.name === t.name);
      const d = desiredTable?.columns.find((x) => x.name === c.name);
      if (!desiredTable || !d || d.generated === null) continue;
      const table = { schema: t.schema, name: t.name };
      ctx.out.push({ kind: "dropColumn", table, column: c, rows: ctx.facts.get(factsKey(t, c.name)) ?? UNKNOWN_FACTS, only: false });
      ctx.out.push({ kind: "addColumn", table, column: d, volatileDefault: true });
      columnAttributeChanges(desiredTable, null, d, ctx);
      out.push(K.column(t, c.name));
    }
  }
  return out;
}

/**
 * PostgreSQL refuses to drop a routine a column default calls: such defaults are dropped before a
 * routine goes and set again (to the desired default) after it is re-created.
 */
function releaseDefaultsOfDroppedRoutines(live: SchemaModel, desired: SchemaModel, dropped: ReadonlySet<string>, ctx: Ctx): void {
  const routines = new Set([...dropped].filter((k) => k.startsWith("function:")));
  if (routines.size === 0) return;
  const handled = new Set<string>();
  for (const c of ctx.out) {
    if (c.kind === "setDefault" || c.kind === "dropDefault" || c.kind === "alterColumnType") handled.add(factsKey(c.table, c.column));
    if (c.kind === "dropColumn" || c.kind === "addColumn") handled.add(factsKey(c.table, c.column.name));
    // A table dropped (or re-created) takes its defaults along.
    if (c.kind === "dropTable") handled.add(factsKey(c.table));
  }
  for (const t of live.tables) {
    if (handled.has(factsKey(t))) continue;
    for (const c of t.columns) {
      if (c.default === null || handled.has(factsKey(t, c.name))) continue;
      if (!routinesInExpression(c.default, live).some((k) => routines.has(k))) continue;
      const d = desiredColumn(desired, t, c.name);
      if (!d) continue;
      const table = { schema: t.schema, name: t.name };
      ctx.out.push({ kind: "dropDefault", table, column: c.name });
      if (d.default !== null) ctx.out.push({ kind: "setDefault", table, column: c.name, default: d.default, restored: true });
    }
  }
}

/**
 * Comments on a domain's constraints and a composite type's attributes; `l` null for a (re-)created
 * type. A constraint the changes drop and add again has lost its comment.
 */
function partComments(l: ObjectDef | null, d: ObjectDef, changes: readonly Change[], ctx: Ctx): void {
  if (d.kind === "domain") {
    const readded = new Set(changes.flatMap((c) => (c.kind === "dropDomainConstraint" ? [c.constraint.name] : [])));
    for (const c of d.constraints) {
      const lc = l?.kind === "domain" && !readded.has(c.name) ? l.constraints.find((x) => x.name === c.name) : undefined;
      comment(ctx, { type: "DOMAIN CONSTRAINT", schema: d.schema, domain: d.name, constraint: c.name }, lc?.comment ?? null, c.comment ?? null);
    }
  } else if (d.kind === "composite type") {
    for (const a of d.attributes) {
      const la = l?.kind === "composite type" ? l.attributes.find((x) => x.name === a.name) : undefined;
      comment(ctx, { type: "ATTRIBUTE", schema: d.schema, composite: d.name, attribute: a.name }, la?.comment ?? null, a.comment ?? null);
    }
  }
}

/** `COMMENT ON COLUMN` of a view's or materialized view's columns; `l` null for a (re-)created one. */
function columnComments(d: ViewDef | MaterializedViewDef, l: ViewDef | MaterializedViewDef | null, ctx: Ctx): void {
  for (const c of d.columns) {
    comment(ctx, { type: "COLUMN", schema: d.schema, table: d.name, column: c }, l?.columnComments[c] ?? null, d.columnComments[c] ?? null);
  }
}

/**
 * PostgreSQL refuses to drop a routine that a check, exclusion constraint or index expression
 * calls: those the desired state keeps as they are are dropped before the routine goes and built
 * again after it is re-created (indexes under their INDEX_DROPPED and INDEX_BUILD hazards). So are
 * those using an operator that is re-created (ADR 0056), and those naming a text search configuration whose mappings or dictionaries change (`keys` holds
 * its key, ADR 0054): what an index holds was computed with the old ones, and PostgreSQL does not
 * rebuild it. So are those naming a type that is renamed aside and re-created (the converted column
 * makes PostgreSQL re-parse them, finding the old type), and checks, exclusion constraints and
 * indexes reading a column converted through text (`throughText`).
 */
function rebuildChecksAndIndexes(
  live: SchemaModel,
  desired: SchemaModel,
  keys: ReadonlySet<string>,
  columns: { readonly throughText: ReadonlySet<string>; readonly converted: ReadonlySet<string> },
  ctx: Ctx,
): void {
  const { throughText, converted } = columns;
  if (keys.size === 0 && throughText.size === 0 && converted.size === 0) return;
  const handled = new Set<string>();
  for (const c of ctx.out) {
    if (c.kind === "dropConstraint") handled.add(`constraint:${keyOf(c.table)}.${c.constraint.name}`);
    if (c.kind === "dropIndex") handled.add(`index:${c.schema}.${c.index.name}`);
    if (c.kind === "dropTable") handled.add(`table:${keyOf(c.table)}`);
  }
  const calls = (expr: string) => routinesInExpression(expr, live).some((k) => keys.has(k)) || objectsNamedIn(expr, live).some((k) => keys.has(k));
  const desiredTables = byKey(desired.tables);
  for (const l of live.tables) {
    const t = desiredTables.get(keyOf(l));
    if (!t || handled.has(`table:${keyOf(l)}`)) continue;
    const tableCtx = t.partitionBy ? { ...ctx, online: false } : ctx;
    for (const c of l.constraints) {
      const d = t.constraints.find((x) => x.name === c.name && x.definition === c.definition);
      const reads = (set: ReadonlySet<string>) => c.columns.some((x) => set.has(K.column(l, x)));
      // Keys (PRIMARY KEY, UNIQUE) PostgreSQL rebuilds itself; a foreign key it checks against the other side's type.
      const rereads = c.kind !== "PRIMARY KEY" && c.kind !== "UNIQUE" && (reads(converted) || reads(throughText));
      if (!d || handled.has(`constraint:${keyOf(l)}.${c.name}`) || !((c.kind !== "FOREIGN KEY" && calls(c.definition)) || rereads)) continue;
      ctx.out.push({ kind: "dropConstraint", table: t, constraint: c });
      addConstraint(t, d, true, tableCtx);
    }
    for (const i of l.indexes) {
      const d = t.indexes.find((x) => x.name === i.name && indexSignature(x) === indexSignature(i));
      const reads = (set: ReadonlySet<string>) => i.columns.some((x) => set.has(K.column(l, x)));
      if (!d || handled.has(`index:${l.schema}.${i.name}`) || !(calls(i.definition) || reads(throughText) || (reads(converted) && hasIndexExpressions(i.definition)))) continue;
      ctx.out.push({ kind: "dropIndex", schema: l.schema, index: i, concurrently: tableCtx.online });
      ctx.out.push({ kind: "createIndex", table: t, index: d, concurrently: tableCtx.online });
    }
  }
}

function diffMaterializedViewIndexes(l: MaterializedViewDef, d: MaterializedViewDef, ctx: Ctx): void {
  const wanted = new Set(d.indexes.map((i) => i.name));
  for (const i of l.indexes) if (!wanted.has(i.name)) ctx.out.push({ kind: "dropIndex", schema: l.schema, index: i, concurrently: ctx.online });
  for (const i of d.indexes) {
    const li = l.indexes.find((x) => x.name === i.name);
    if (!li) ctx.out.push({ kind: "createIndex", table: d, index: i, concurrently: ctx.online });
    else if (!li.valid || indexSignature(li) !== indexSignature(i)) {
      ctx.out.push({ kind: "dropIndex", schema: l.schema, index: li, concurrently: ctx.online });
      ctx.out.push({ kind: "createIndex", table: d, index: i, concurrently: ctx.online });
    }
    comment(ctx, { type: "INDEX", schema: d.schema, name: i.name }, li && li.valid && indexSignature(li) === indexSignature(i) ? li.comment : null, i.comment);
  }
}

/**
 * PostgreSQL can neither alter a collation nor drop one in use: a collation whose definition changes
 * while columns, indexes or constraints that stay keep using it is refused before anything runs,
 * naming them and the way through (a new name, the users moved to it, the old one dropped).
 */
function refuseCollationInUse(l: ObjectDef, d: ObjectDef, live: SchemaModel, desired: SchemaModel): void {
  const key = objectKeys(l)[0]!;
  const uses = (text: string | null, m: SchemaModel) => collationsIn(text, m).includes(key);
  const users: string[] = [];
  for (const t of live.tables) {
    const dt = desired.tables.find((x) => keyOf(x) === keyOf(t));
    if (!dt) continue;
    for (const c of t.columns) {
      if (c.collation && uses(`COLLATE ${c.collation}`, live) && dt.columns.some((x) => x.name === c.name && x.collation === c.collation)) users.push(`column ${keyOf(t)}.${c.name}`);
    }
    for (const i of t.indexes) if (uses(i.definition, live) && dt.indexes.some((x) => x.name === i.name)) users.push(`index ${t.schema}.${i.name}`);
    for (const c of t.constraints) if (uses(c.definition, live) && dt.constraints.some((x) => x.name === c.name)) users.push(`constraint ${keyOf(t)}.${c.name}`);
  }
  if (users.length === 0) return;
  throw new SetpointError(
    "COLLATION_IN_USE",
    `collation ${l.schema}.${l.name} changes (${l.definition} → ${d.definition}), but PostgreSQL can neither alter a collation nor drop one in use; still using it: ${users.join(", ")}. ` +
      `Declare the new definition under another name, move what uses it there, and drop the old collation in a later change.`,
  );
}

/**
 * The keys of the text search configurations that change what they compute (ADR 0054): re-created,
 * mappings changed in place, or mapping to a dictionary whose options or template change.
 */
function changedTextSearchConfigurations(entries: ReadonlyMap<string, Dependent>): string[] {
  const changedDictionaries = new Set<string>();
  for (const e of entries.values()) {
    const l = e.live;
    if (l && !isView(l) && l.kind === "text search dictionary" && e.desired && (e.decision === "recreate" || e.changes.length > 0)) changedDictionaries.add(objectKeys(l)[0]!);
  }
  const out: string[] = [];
  for (const e of entries.values()) {
    const l = e.live;
    if (!l || isView(l) || l.kind !== "text search configuration" || !e.desired) continue;
    if (e.decision === "recreate" || e.changes.length > 0 || l.dependsOn.some((k) => changedDictionaries.has(k))) out.push(textSearchConfigurationKey(l.schema, l.name));
  }
  return out;
}

/**
 * PostgreSQL cannot drop a text search configuration (ADR 0054) or an operator (ADR 0056) that a
 * column's default or generated expression names, and Setpoint does not rebuild columns:
 * re-creating one (a configuration's new parser or a dictionary it maps to re-created; an
 * operator's new definition) while such a column stays is refused before anything runs, naming
 * the columns and the way through.
 */
function refuseRecreatedInUse(entries: ReadonlyMap<string, Dependent>, live: SchemaModel, desired: SchemaModel): void {
  for (const e of entries.values()) {
    const l = e.live;
    if (e.decision !== "recreate" || !l || isView(l) || (l.kind !== "text search configuration" && l.kind !== "operator") || !e.desired) continue;
    const key = objectKeys(l)[0]!;
    const users: string[] = [];
    for (const t of live.tables) {
      const dt = desired.tables.find((x) => keyOf(x) === keyOf(t));
      for (const c of t.columns) {
        const uses = [c.default, c.generated].some((x) => objectsNamedIn(x, live).includes(key));
        if (uses && dt?.columns.some((x) => x.name === c.name && x.default === c.default && x.generated === c.generated)) users.push(`column ${keyOf(t)}.${c.name}`);
      }
    }
    if (users.length === 0) continue;
    const what = l.kind === "operator" ? `operator ${l.schema}.${l.identity}` : `text search configuration ${l.schema}.${l.name}`;
    const why = l.kind === "operator" ? "its definition changes" : "its parser, or a dictionary it maps to, changes";
    throw new SetpointError(
      l.kind === "operator" ? "OPERATOR_IN_USE" : "TEXT_SEARCH_CONFIGURATION_IN_USE",
      `${what} must be re-created (${why}), but PostgreSQL cannot drop it while ${users.join(", ")} use${users.length === 1 ? "s" : ""} it. ` +
        `Declare the new ${l.kind === "operator" ? "operator" : "configuration"} under another name, move the columns' expressions there, and drop the old one in a later change.`,
    );
  }
}
