import { byKey, keyOf, type ColumnDef, type ConstraintDef, type IndexDef, type SchemaModel, type TableDef } from "../model";
import { checksForNewParents, childrenOf, linkPlan, parentsFirst, partitionsOf, projectedChecks, projectedColumns, providedByParent, relinkForOwnColumns } from "../kinds/inheritance";
import { indexOptionsOf, withIndexName, withoutIndexOptions } from "../index-definition";
import { asDetached, clusterOnChanges, columnAttributeChanges, inheritedColumnChanges, optionKey, keepsValidation, keptForAttachment, notNullChanges, partitionColumnChanges, providedByPartitionParent, replicaIdentityChanges, sameDefinition } from "./table-properties";
import { type Ctx, factsKey, comment, inCreateTable, addConstraint, indexSignature, UNKNOWN_FACTS } from "./context";
import { K, columnsMentioned } from "./dependency-keys";
import { compareObject, objectId } from "../kinds/objects";

export function diffTables(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const desiredMap = byKey(desired.tables);
  // A table whose partition key changes cannot be altered: it is dropped and created again (under
  // its DATA_LOSS hazard), and so are the partitions it takes with it. So is one whose key
  // columns change type or collation ("cannot alter column … because it is part of the partition key"),
  // also to an enum or domain that is re-created.
  const recreated = new Set<string>();
  const converted = convertedKeyColumns(live, desired, ctx);
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of live.tables) {
      const t = desiredMap.get(keyOf(l));
      if (!t || recreated.has(keyOf(l))) continue;
      if (l.partitionBy !== t.partitionBy || keyColumnRetyped(live, l, t, converted) || (l.partitionOf && recreated.has(keyOf(l.partitionOf)))) {
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

/**
 * The graph keys of partition key columns whose type is re-created under them (an enum losing a
 * value, a domain whose base type changes, or one built on either): PostgreSQL converts none of them.
 */
function convertedKeyColumns(live: SchemaModel, desired: SchemaModel, ctx: Ctx): Set<string> {
  const out = new Set<string>();
  const keyed = live.tables.filter((t) => t.partitionBy !== null && t.columns.some((c) => c.userType !== null));
  if (keyed.length === 0) return out;
  const types = new Set(ctx.out.flatMap((c) => (c.kind === "recreateEnum" ? [K.type(c.enum.schema, c.enum.name)] : [])));
  const desiredObjects = new Map(desired.objects.map((o) => [objectId(o), o]));
  const cmp = { live, desired, online: ctx.online };
  const candidates = live.objects.filter((o) => o.kind === "domain" || o.kind === "composite type" || o.kind === "range type");
  for (let grew = true; grew; ) {
    grew = false;
    for (const o of candidates) {
      const key = K.type(o.schema, o.name);
      const d = desiredObjects.get(objectId(o));
      if (types.has(key) || !d) continue;
      if (o.dependsOn.some((k) => types.has(k)) || compareObject(o, d, cmp).action === "recreate") {
        types.add(key);
        grew = true;
      }
    }
  }
  for (const t of keyed) {
    for (const c of t.columns) if (c.userType && types.has(K.type(c.userType.schema, c.userType.name))) out.add(K.column(t, c.name));
  }
  return out;
}

/**
 * Whether a column of the partition key of `l` (kept by `t`), or of a partitioned table below it,
 * changes type or collation, or is `converted` to a re-created enum: the ALTER on `l` would reach
 * that partition's key too.
 */
function keyColumnRetyped(live: SchemaModel, l: TableDef, t: TableDef, converted: ReadonlySet<string>): boolean {
  if (l.partitionBy === null) return false;
  const key = new Set<string>();
  const collect = (x: TableDef) => {
    if (x.partitionBy === null) return;
    for (const c of partitionKeyColumns(x.partitionBy)) key.add(c);
    for (const p of partitionsOf(live, x)) collect(p);
  };
  collect(l);
  return l.columns.some((c) => {
    if (!key.has(c.name)) return false;
    const d = t.columns.find((x) => x.name === c.name);
    return d !== undefined && (d.type !== c.type || d.collation !== c.collation || converted.has(K.column(l, c.name)));
  });
}

/**
 * The column names a partition key definition (`pg_get_partkeydef`: `RANGE (at, lower(k))`) reads:
 * its identifiers outside string literals that are not called as functions, unquoted as
 * PostgreSQL folds them. A function's argument that is a keyword may be listed too: it only
 * matters if a column of that name changes type.
 */
export function partitionKeyColumns(definition: string): string[] {
  const out: string[] = [];
  const body = definition.replace(/^\s*\w+\s*/, "");
  for (const m of body.matchAll(/'(?:[^']|'')*'|"((?:[^"]|"")+)"(?!\s*\()|([A-Za-z_][\w$]*)(?![\w$]*\s*\()/g)) {
    if (m[1] !== undefined) out.push(m[1].replace(/""/g, '"'));
    else if (m[2] !== undefined) out.push(m[2].toLowerCase());
  }
  return out;
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
  inheritedColumnChanges(t, ctx);
  for (const c of t.columns) columnAttributeChanges(t, null, c, ctx);
  replicaIdentityChanges(null, t, ctx, from);
  clusterOnChanges(null, t, ctx, from);
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
  const reset = l.options.map(optionKey).filter((n) => !t.options.some((o) => optionKey(o) === n));
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
  // PostgreSQL refuses to retype a column a generated column reads: that generated column is
  // dropped before and added again after (its values are computed again).
  const retyped = new Set(t.columns.filter((c) => liveCols.has(c.name) && (liveCols.get(c.name)!.type !== c.type || liveCols.get(c.name)!.collation !== c.collation)).map((c) => K.column(t, c.name)));
  const readsRetyped = (lc: ColumnDef) => retyped.size > 0 && lc.generated !== null && columnsMentioned(lc.generated, l).some((k) => k !== K.column(t, lc.name) && retyped.has(k));
  for (const c of lp && tp ? [] : t.columns) {
    const lc = liveCols.get(c.name);
    // Without ONLY: the children's copies (which read the children's retyped column) go too, and come back with the parent's.
    if (lc && c.generated !== null && readsRetyped(lc)) ctx.out.push({ kind: "dropColumn", table: t, column: lc, rows: ctx.facts.get(factsKey(t, lc.name)) ?? UNKNOWN_FACTS, only: false });
    if (!lc || (c.generated !== null && readsRetyped(lc))) {
      ctx.out.push({ kind: "addColumn", table: t, column: c, volatileDefault: lc ? true : isVolatileDefault(c) });
      columnAttributeChanges(t, null, c, ctx);
    } else diffColumn(t, lc, c, ctx, only);
  }
  if (lp && tp) {
    partitionColumnChanges(l, t, ctx);
    for (const c of t.columns) columnAttributeChanges(t, l.columns.find((x) => x.name === c.name) ?? null, c, ctx);
  }

  for (const c of t.constraints) {
    const lc = liveCons.get(c.name);
    if (lc && !sameDefinition(lc, c) && onlyIndexOptionsDiffer(lc, c)) {
      // The constraint's index takes new storage parameters in place (no rebuild, no gap).
      const from = indexOptionsOf(lc.definition);
      const to = indexOptionsOf(c.definition);
      const reset = from.map(optionKey).filter((n) => !to.some((o) => optionKey(o) === n));
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
  clusterOnChanges(l, t, ctx, from);
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


function diffColumn(t: TableDef, l: ColumnDef, c: ColumnDef, ctx: Ctx, only: boolean): void {
  const table = { schema: t.schema, name: t.name };
  // Generated columns: expression changes, or a switch between generated and plain. One that
  // stays generated with a new type is added again (ALTER TYPE refuses the USING a cast needs).
  const retypedGenerated = l.generated !== null && c.generated !== null && (l.type !== c.type || l.collation !== c.collation);
  if (l.generated !== c.generated || l.generatedKind !== c.generatedKind || retypedGenerated) {
    if (c.generated === null && l.generatedKind !== "VIRTUAL") {
      ctx.out.push({ kind: "dropGeneratedExpression", table, column: c.name });
    } else if (l.generated !== null && l.generatedKind === c.generatedKind && ctx.major >= 17 && !retypedGenerated) {
      ctx.out.push({ kind: "setGeneratedExpression", table, column: c });
    } else {
      // A generated column goes from the children too (theirs compute from the old expression) and comes back with the parent's.
      ctx.out.push({ kind: "dropColumn", table, column: l, rows: ctx.facts.get(factsKey(t, l.name)) ?? UNKNOWN_FACTS, only: c.generated !== null ? false : only });
      ctx.out.push({ kind: "addColumn", table, column: c, volatileDefault: true });
      columnAttributeChanges(t, null, c, ctx);
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
  columnAttributeChanges(t, l, c, ctx);
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
