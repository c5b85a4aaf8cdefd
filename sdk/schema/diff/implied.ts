import type { Change } from "../changes";
import { dependenciesOf } from "./dependencies";
import { sequencesDroppedWith } from "./dependency-keys";
import { addConstraint, comment, indexSignature, type Ctx } from "./context";
import { byKey, keyOf, type ConstraintDef, type DomainConstraintDef, type DomainDef, type QualifiedName, type SchemaModel, type TableDef } from "../model";
import { domainDefinition, objectId, objectKeys } from "../kinds/objects";
import { routinesInExpression } from "../kinds/expressions";

// The diff's last structural pass (ADR 0015): what PostgreSQL does on its own when the plan drops
// something (takes owned sequences along, refuses while a kept foreign key depends on it, refuses a
// cycle), made explicit as changes, so the dependency graph can order them.

// Change kinds whose drops can take a foreign key's referenced table or index with them.
const KEY_DROPPING: ReadonlySet<Change["kind"]> = new Set<Change["kind"]>(["dropTable", "dropConstraint", "dropIndex", "addConstraintUsingIndex"]);

/**
 * Changes implied by the drops the diff found so far, in order:
 * - a table whose new CHECK or default calls a routine that reads the table gets them after the
 *   routine, by ALTER (one dropped goes the other way round: they go before the routine), and so
 *   does a domain whose CHECK calls a routine that reads a table using the domain;
 * - foreign keys among tables dropped together in a cycle are dropped before the tables;
 * - a partition dropped from a kept partitioned table that foreign keys reference is detached first;
 * - indexes and constraints the desired state keeps on a column that is dropped and added again
 *   (PostgreSQL drops them with it) are dropped before and built again after;
 * - sequences OWNED BY a dropped column or table are not dropped again, and those the desired
 *   state keeps are created again;
 * - a foreign key the desired state keeps unchanged, whose referenced table, primary key, unique
 *   constraint or unique index the plan drops, is dropped before and added again after.
 */
export function diffImplied(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  splitRoutineCycles(live, desired, ctx);
  breakForeignKeyCycles(ctx);
  detachReferencedPartitions(live, ctx);
  rebuildOnRecreatedColumns(live, desired, ctx);
  sequencesOfDroppedOwners(live, desired, ctx);
  rebuildForeignKeysOfDroppedKeys(live, desired, ctx);
}

const reachCache = new WeakMap<SchemaModel, Map<string, readonly string[]>>();

/** What a view's or object's key depends on in `model`, transitively (views, routines, types, ...). */
function reachable(model: SchemaModel, key: string): ReadonlySet<string> {
  let provided = reachCache.get(model);
  if (!provided) {
    provided = new Map();
    for (const v of model.views) provided.set(`table:${keyOf(v)}`, v.dependsOn);
    for (const o of model.objects) provided.set(objectKeys(o)[0]!, o.dependsOn);
    reachCache.set(model, provided);
  }
  const seen = new Set<string>();
  const stack = [key];
  while (stack.length) {
    for (const k of provided.get(stack.pop()!) ?? []) {
      if (seen.has(k)) continue;
      seen.add(k);
      stack.push(k);
    }
  }
  return seen;
}

/** Whether an expression calls a routine of `model` that reads `t` (its table or a column key), directly or through others. */
function callsReaderOf(expr: string | null, t: TableDef, model: SchemaModel): boolean {
  const keys = new Set([`table:${keyOf(t)}`, ...t.columns.map((c) => `column:${keyOf(t)}.${c.name}`)]);
  return routinesInExpression(expr, model).some((r) => [...reachable(model, r)].some((k) => keys.has(k)));
}

/**
 * A table whose CHECK (or exclusion constraint) or column default calls a routine whose SQL-standard
 * body reads the table cannot be created with them in one statement (the routine needs the table,
 * the table the routine): they are added by ALTER after. Dropping such a table, they go first.
 */
function splitRoutineCycles(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const out: Change[] = [];
  const after: Change[] = [];
  const recreated = new Set(ctx.out.flatMap((c) => (c.kind === "createObject" ? [objectId(c.object)] : [])));
  for (const c of ctx.out) {
    if (c.kind === "createTable" && !c.table.partitionOf) {
      const t = c.table;
      const checks = t.constraints.filter((x) => x.kind !== "FOREIGN KEY" && callsReaderOf(x.definition, t, desired));
      const defaults = t.columns.filter((x) => x.default !== null && callsReaderOf(x.default, t, desired));
      if (!checks.length && !defaults.length) {
        out.push(c);
        continue;
      }
      out.push({ ...c, table: { ...t, columns: t.columns.map((x) => (defaults.includes(x) ? { ...x, default: null } : x)), constraints: t.constraints.filter((x) => !checks.includes(x)) } });
      const sub: Ctx = { ...ctx, out: after };
      for (const x of defaults) after.push({ kind: "setDefault", table: { schema: t.schema, name: t.name }, column: x.name, default: x.default! });
      for (const x of checks) addConstraint(t, x, false, sub);
      continue;
    }
    if (c.kind === "createObject" && c.object.kind === "domain") {
      const { domain, split } = withoutCyclicChecks(c.object, desired);
      out.push(split.length ? { ...c, object: domain } : c);
      for (const x of split) after.push({ kind: "addDomainConstraint", domain: c.object, constraint: x, notValid: !x.validated });
      continue;
    }
    if (c.kind === "dropObject" && c.object.kind === "domain" && !recreated.has(objectId(c.object))) {
      const { domain, split } = withoutCyclicChecks(c.object, live);
      for (const x of split) out.push({ kind: "dropDomainConstraint", domain: c.object, constraint: x });
      out.push(split.length ? { ...c, object: domain } : c);
      continue;
    }
    if (c.kind === "dropTable") {
      const t = c.table;
      const checks = t.constraints.filter((x) => x.kind !== "FOREIGN KEY" && callsReaderOf(x.definition, t, live));
      const defaults = t.columns.filter((x) => x.default !== null && callsReaderOf(x.default, t, live));
      if (!checks.length && !defaults.length) {
        out.push(c);
        continue;
      }
      const table = { schema: t.schema, name: t.name };
      for (const x of defaults) out.push({ kind: "dropDefault", table, column: x.name });
      for (const x of checks) out.push({ kind: "dropConstraint", table: t, constraint: x });
      out.push({ ...c, table: { ...t, columns: t.columns.map((x) => (defaults.includes(x) ? { ...x, default: null } : x)), constraints: t.constraints.filter((x) => !checks.includes(x)) } });
      continue;
    }
    out.push(c);
  }
  ctx.out = [...out, ...after];
}

/**
 * A domain's CHECKs that call a routine reading the domain itself or a table with a column of it:
 * the domain without them (nor the routines they call among its dependencies), and those CHECKs.
 */
function withoutCyclicChecks(d: DomainDef, model: SchemaModel): { domain: DomainDef; split: DomainConstraintDef[] } {
  const type = `type:${keyOf(d)}`;
  const using = new Set([type]);
  for (const t of model.tables) {
    const cols = t.columns.filter((c) => c.userType?.schema === d.schema && c.userType.name === d.name);
    if (cols.length) using.add(`table:${keyOf(t)}`);
    for (const c of cols) using.add(`column:${keyOf(t)}.${c.name}`);
  }
  const calls = (c: DomainConstraintDef) => routinesInExpression(c.definition, model);
  const split = d.constraints.filter((c) => calls(c).some((r) => [...reachable(model, r)].some((k) => using.has(k))));
  if (!split.length) return { domain: d, split };
  const dropped = new Set(split.flatMap(calls));
  const parts = { ...d, constraints: d.constraints.filter((c) => !split.includes(c)) };
  return { domain: { ...parts, definition: domainDefinition(parts), dependsOn: d.dependsOn.filter((k) => !dropped.has(k)) }, split };
}

/**
 * Tables dropped together whose foreign keys form a cycle: each must go before the other. The keys
 * inside the cycle are dropped first (PostgreSQL would refuse to drop either table).
 */
function breakForeignKeyCycles(ctx: Ctx): void {
  const dropped = new Map<string, TableDef>();
  for (const c of ctx.out) if (c.kind === "dropTable") dropped.set(keyOf(c.table), c.table);
  if (dropped.size < 2) return;
  const refs = (t: TableDef) => t.constraints.filter((c) => c.kind === "FOREIGN KEY" && c.references && dropped.has(keyOf(c.references)) && keyOf(c.references) !== keyOf(t));
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set([from]);
    const stack = [from];
    while (stack.length) {
      for (const c of refs(dropped.get(stack.pop()!)!)) {
        const k = keyOf(c.references!);
        if (k === to) return true;
        if (seen.has(k)) continue;
        seen.add(k);
        stack.push(k);
      }
    }
    return false;
  };
  const inCycle = (t: TableDef) => refs(t).filter((c) => reaches(keyOf(c.references!), keyOf(t)));
  const out: Change[] = [];
  for (const c of ctx.out) {
    const cyclic = c.kind === "dropTable" ? inCycle(c.table) : [];
    if (c.kind !== "dropTable" || !cyclic.length) {
      out.push(c);
      continue;
    }
    for (const k of cyclic) out.push({ kind: "dropConstraint", table: c.table, constraint: k });
    out.push({ ...c, table: { ...c.table, constraints: c.table.constraints.filter((k) => !cyclic.includes(k)) } });
  }
  ctx.out = out;
}

/**
 * A foreign key to a partitioned table depends on each partition: PostgreSQL refuses to drop one
 * while the key exists, but detaches it (checking that no row references it). Partitions dropped
 * from a kept referenced table are detached first.
 */
function detachReferencedPartitions(live: SchemaModel, ctx: Ctx): void {
  const referenced = new Set(live.tables.flatMap((t) => t.constraints.flatMap((c) => (c.kind === "FOREIGN KEY" && c.references ? [keyOf(c.references)] : []))));
  if (referenced.size === 0) return;
  const dropped = new Set(ctx.out.flatMap((c) => (c.kind === "dropTable" ? [keyOf(c.table)] : [])));
  const tables = byKey(live.tables);
  const underReferenced = (t: TableDef): boolean => {
    for (let p = t.partitionOf; p; p = tables.get(keyOf(p))?.partitionOf ?? null) if (referenced.has(keyOf(p)) && !dropped.has(keyOf(p))) return true;
    return false;
  };
  const detached = new Set(ctx.out.flatMap((c) => (c.kind === "detachPartition" ? [keyOf(c.table)] : [])));
  ctx.out = ctx.out.flatMap((c): Change[] => {
    if (c.kind !== "dropTable" || !c.table.partitionOf || detached.has(keyOf(c.table)) || !underReferenced(c.table)) return [c];
    return [{ kind: "detachPartition", table: c.table, parent: c.table.partitionOf }, c];
  });
}

/**
 * A column dropped and added again (a generated expression PostgreSQL cannot set in place) takes its
 * indexes and constraints with it: those the desired state keeps as they are are dropped explicitly
 * before and built again after (a kept foreign key to one of them follows, see below).
 */
function rebuildOnRecreatedColumns(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const readded = new Set(ctx.out.flatMap((c) => (c.kind === "addColumn" ? [`${keyOf(c.table)}.${c.column.name}`] : [])));
  const recreated = ctx.out.flatMap((c) => (c.kind === "dropColumn" && readded.has(`${keyOf(c.table)}.${c.column.name}`) ? [{ table: c.table, column: c.column.name }] : []));
  if (!recreated.length) return;
  const handled = new Set<string>();
  for (const c of ctx.out) {
    if (c.kind === "dropConstraint") handled.add(`constraint:${keyOf(c.table)}.${c.constraint.name}`);
    if (c.kind === "dropIndex") handled.add(`index:${c.schema}.${c.index.name}`);
  }
  const liveTables = byKey(live.tables);
  const wanted = byKey(desired.tables);
  const words = (text: string) => new Set([...text.matchAll(/"((?:[^"]|"")+)"|([A-Za-z_][\w$]*)/g)].map((m) => (m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!)));
  for (const { table, column } of recreated) {
    const l = liveTables.get(keyOf(table));
    const t = wanted.get(keyOf(table));
    if (!l || !t) continue;
    const tableCtx = t.partitionBy ? { ...ctx, online: false } : ctx;
    for (const c of l.constraints) {
      const d = t.constraints.find((x) => x.name === c.name && x.definition === c.definition);
      if (!d || !c.columns.includes(column) || handled.has(`constraint:${keyOf(l)}.${c.name}`)) continue;
      handled.add(`constraint:${keyOf(l)}.${c.name}`);
      ctx.out.push({ kind: "dropConstraint", table: t, constraint: c });
      addConstraint(t, d, true, tableCtx);
    }
    for (const i of l.indexes) {
      const d = t.indexes.find((x) => x.name === i.name && indexSignature(x) === indexSignature(i));
      const using = i.definition.indexOf(" USING ");
      if (!d || handled.has(`index:${l.schema}.${i.name}`) || !(i.columns.includes(column) || words(i.definition.slice(Math.max(using, 0))).has(column))) continue;
      handled.add(`index:${l.schema}.${i.name}`);
      ctx.out.push({ kind: "dropIndex", schema: l.schema, index: i, concurrently: tableCtx.online });
      ctx.out.push({ kind: "createIndex", table: t, index: d, concurrently: tableCtx.online });
    }
  }
}

/**
 * PostgreSQL drops a sequence OWNED BY a column with the column (and its table): the plan does not
 * drop, alter or re-own it again, and creates it anew where the desired state keeps it (a table
 * re-created for a new partition key, a column re-created).
 */
function sequencesOfDroppedOwners(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const gone = new Map<string, QualifiedName>();
  for (const c of ctx.out) {
    if (c.kind === "dropTable") for (const s of sequencesDroppedWith(live, desired, c.table)) gone.set(keyOf(s), s);
    if (c.kind === "dropColumn") for (const s of sequencesDroppedWith(live, desired, c.table, c.column.name)) gone.set(keyOf(s), s);
  }
  if (gone.size === 0) return;
  const about = (c: Change): string | null => {
    switch (c.kind) {
      case "dropSequence":
      case "alterSequence":
      case "setSequenceOwner":
      case "syncSequence":
        return keyOf(c.sequence);
      case "comment":
        return c.target.type === "SEQUENCE" ? keyOf(c.target) : null;
      default:
        return null;
    }
  };
  ctx.out = ctx.out.filter((c) => {
    const k = about(c);
    return k === null || !gone.has(k);
  });
  const wanted = byKey(desired.sequences);
  for (const k of gone.keys()) {
    const s = wanted.get(k);
    if (!s) continue;
    ctx.out.push({ kind: "createSequence", sequence: s });
    if (s.ownedBy) ctx.out.push({ kind: "setSequenceOwner", sequence: s });
    comment(ctx, { type: "SEQUENCE", schema: s.schema, name: s.name }, null, s.comment);
  }
}

/**
 * A foreign key depends on its referenced table and on the unique index it was matched with
 * (`referencedIndex`): PostgreSQL refuses to drop them under it. One the desired state keeps as it
 * is is dropped before and added again after (online: NOT VALID, then validated).
 */
function rebuildForeignKeysOfDroppedKeys(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const dropped = new Set<string>();
  const handled = new Set<string>();
  for (const c of ctx.out) {
    if (KEY_DROPPING.has(c.kind)) for (const k of dependenciesOf(c, live, desired).drops) dropped.add(k);
    if (c.kind === "dropConstraint" || c.kind === "addConstraint") handled.add(`${keyOf(c.table)}.${c.constraint.name}`);
    if (c.kind === "dropTable") handled.add(keyOf(c.table));
  }
  if (dropped.size === 0) return;
  const wanted = byKey(desired.tables);
  const dependsOnDropped = (fk: ConstraintDef) => {
    const r = fk.references!;
    if (dropped.has(`table:${keyOf(r)}`)) return true;
    if (fk.referencedIndex === null) return false;
    return dropped.has(`constraint:${keyOf(r)}.${fk.referencedIndex}`) || dropped.has(`index:${r.schema}.${fk.referencedIndex}`);
  };
  for (const l of live.tables) {
    const t = wanted.get(keyOf(l));
    if (!t || handled.has(keyOf(l))) continue;
    const tableCtx = t.partitionBy ? { ...ctx, online: false } : ctx;
    for (const c of l.constraints) {
      if (c.kind !== "FOREIGN KEY" || !c.references || handled.has(`${keyOf(l)}.${c.name}`) || !dependsOnDropped(c)) continue;
      const d = t.constraints.find((x) => x.name === c.name && x.definition === c.definition);
      if (!d) continue;
      ctx.out.push({ kind: "dropConstraint", table: t, constraint: c });
      addConstraint(t, d, true, tableCtx);
    }
  }
}
