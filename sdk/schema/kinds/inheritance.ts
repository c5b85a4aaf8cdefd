import { keyOf, type ColumnDef, type ConstraintDef, type QualifiedName, type SchemaModel, type TableDef } from "../model";

/**
 * Classic inheritance (`INHERITS`) in the diff: which parent links a table keeps, drops and adds,
 * and what a child's columns look like once its parents' changes have reached it. PostgreSQL
 * applies most `ALTER TABLE` actions on a parent to its children too (ADD COLUMN, ALTER COLUMN
 * TYPE, SET/DROP DEFAULT, SET/DROP NOT NULL, CHECKs), so a child's own diff starts from that
 * projected state and never repeats them. Pure: no I/O.
 */

/** How a table's parent links change: `stay` are kept throughout, `remove` get NO INHERIT, `add` get INHERIT (in this order). */
export interface LinkPlan {
  readonly stay: readonly QualifiedName[];
  readonly remove: readonly QualifiedName[];
  readonly add: readonly QualifiedName[];
}

/**
 * The parent links to keep, drop and add so the table ends with `desired`'s parents in their order:
 * INHERIT appends, so a kept parent that must come after a new one is unlinked and linked again, and
 * so is every parent from `relinkFrom` (an index into `desired`) on.
 */
export function linkPlan(live: readonly QualifiedName[], desired: readonly QualifiedName[], relinkFrom = desired.length): LinkPlan {
  const wanted = new Set(desired.map(keyOf));
  const kept = live.filter((p) => wanted.has(keyOf(p)));
  let i = 0;
  while (i < relinkFrom && i < desired.length && i < kept.length && keyOf(desired[i]!) === keyOf(kept[i]!)) i++;
  const stay = desired.slice(0, i);
  const staying = new Set(stay.map(keyOf));
  return { stay, remove: live.filter((p) => !staying.has(keyOf(p))), add: desired.slice(i) };
}

const childIndex = new WeakMap<SchemaModel, Map<string, TableDef[]>>();

/** Whether `column` of `table` comes from a parent too (a partition's columns all do): ALTER TYPE reaches it through the parent only. */
export function inheritsColumn(model: SchemaModel, table: TableDef, column: string): boolean {
  if (table.partitionOf) return true;
  return table.inherits.some((p) => model.tables.find((x) => x.schema === p.schema && x.name === p.name)?.columns.some((c) => c.name === column) === true);
}

/** The tables of `model` that inherit directly from `parent` (classic inheritance, not partitions). */
export function childrenOf(model: SchemaModel, parent: QualifiedName): readonly TableDef[] {
  let index = childIndex.get(model);
  if (!index) {
    index = new Map();
    for (const t of model.tables) {
      for (const p of t.inherits) {
        const list = index.get(keyOf(p));
        if (list) list.push(t);
        else index.set(keyOf(p), [t]);
      }
    }
    childIndex.set(model, index);
  }
  return index.get(keyOf(parent)) ?? [];
}

const partitionIndex = new WeakMap<SchemaModel, Map<string, TableDef[]>>();

/** The partitions of `parent` in `model`. */
export function partitionsOf(model: SchemaModel, parent: QualifiedName): readonly TableDef[] {
  let index = partitionIndex.get(model);
  if (!index) {
    index = new Map();
    for (const t of model.tables) {
      if (!t.partitionOf) continue;
      const list = index.get(keyOf(t.partitionOf));
      if (list) list.push(t);
      else index.set(keyOf(t.partitionOf), [t]);
    }
    partitionIndex.set(model, index);
  }
  return index.get(keyOf(parent)) ?? [];
}

/**
 * The children whose link to `parent` is kept from `live` to `desired`, as pairs: ALTER TABLE on
 * the parent reaches them. (A link dropped is dropped first; one added is added last.)
 */
export function keptChildren(live: SchemaModel, desired: SchemaModel, parent: QualifiedName): { live: TableDef; desired: TableDef }[] {
  const out: { live: TableDef; desired: TableDef }[] = [];
  const wanted = new Map(childrenOf(desired, parent).map((t) => [keyOf(t), t]));
  for (const l of childrenOf(live, parent)) {
    const d = wanted.get(keyOf(l));
    if (d && linkPlan(l.inherits, d.inherits).stay.some((p) => keyOf(p) === keyOf(parent))) out.push({ live: l, desired: d });
  }
  return out;
}

/** {@link keptChildren}, and theirs, down the hierarchy: PostgreSQL's ALTER TABLE on a parent reaches them all. */
export function keptDescendants(live: SchemaModel, desired: SchemaModel, parent: QualifiedName, seen = new Set<string>()): { live: TableDef; desired: TableDef }[] {
  const out: { live: TableDef; desired: TableDef }[] = [];
  for (const c of keptChildren(live, desired, parent)) {
    if (seen.has(keyOf(c.live))) continue;
    seen.add(keyOf(c.live));
    out.push(c, ...keptDescendants(live, desired, c.live, seen));
  }
  return out;
}

/**
 * The NOT NULL constraint (PostgreSQL 18) a table inherits for `column` from the first of `parents`
 * that has one: once the table is unlinked it keeps it as its own, under that parent's name.
 */
export function inheritedNotNull(column: string, parents: readonly TableDef[]): ColumnDef["notNullConstraint"] {
  for (const p of parents) {
    const n = p.columns.find((x) => x.name === column)?.notNullConstraint;
    if (n) return { ...n, noInherit: false };
  }
  return null;
}

/** A CHECK children get from their parent (one not marked NO INHERIT). */
export function inheritable(c: ConstraintDef): boolean {
  return c.kind === "CHECK" && !c.noInherit;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A child's columns as they will be after the plan's NO INHERIT steps and its kept parents' own
 * changes have reached it, before its own steps: the state its own diff starts from. A column the
 * child should declare itself but does not have yet is left out (the child adds it first, so the
 * parent's ADD COLUMN merges with it, as when the SQL runs directly).
 */
export function projectedColumns(l: TableDef, t: TableDef, links: LinkPlan, live: SchemaModel, desired: SchemaModel): ColumnDef[] {
  const cols = new Map<string, Mutable<ColumnDef>>(l.columns.map((c) => [c.name, { ...c }]));
  const order = l.columns.map((c) => c.name);
  const find = (m: SchemaModel, q: QualifiedName) => m.tables.find((x) => x.schema === q.schema && x.name === q.name);
  for (const p of links.remove) {
    for (const pc of find(live, p)?.columns ?? []) {
      const c = cols.get(pc.name);
      if (!c || c.inheritCount === 0) continue;
      c.inheritCount--;
      if (c.inheritCount === 0) {
        c.local = true;
        // Its inherited NOT NULL constraint (PostgreSQL 18) becomes its own too, under the parent's name.
        if (c.notNull && !c.notNullConstraint) c.notNullConstraint = inheritedNotNull(c.name, links.remove.flatMap((q) => find(live, q) ?? []));
      }
    }
  }
  const wanted = new Map(t.columns.map((c) => [c.name, c]));
  for (const p of links.stay) {
    const lp = find(live, p);
    const dp = find(desired, p);
    if (!lp || !dp) continue;
    const before = new Map(lp.columns.map((c) => [c.name, c]));
    const after = new Map(dp.columns.map((c) => [c.name, c]));
    for (const [name, dx] of after) {
      const lx = before.get(name);
      const c = cols.get(name);
      if (!lx) {
        if (c) c.inheritCount++;
        else if (!wanted.get(name)?.local) {
          // Added through the parent: the child's copy has the type's storage and no statistics, compression or options of its own.
          const { statistics: _s, storage: _st, compression: _c, options: _o, ...plain } = dx;
          cols.set(name, { ...plain, identity: null, comment: null, local: false, inheritCount: 1 });
          order.push(name);
        }
        continue;
      }
      if (!c) continue;
      const typeChanged = lx.type !== dx.type || lx.collation !== dx.collation;
      if (typeChanged) {
        c.type = dx.type;
        c.collation = dx.collation;
        c.userType = dx.userType;
        // ALTER COLUMN … TYPE resets storage and compression to the new type's.
        delete c.storage;
        delete c.compression;
      }
      // A parent's generation expression (set, dropped, or the column added again) reaches its children.
      if (c.inheritCount > 0 && (lx.generated !== dx.generated || lx.generatedKind !== dx.generatedKind)) {
        c.generated = dx.generated;
        c.generatedKind = dx.generatedKind;
      }
      // The type change drops and restores the parent's default (see render), which reaches the child too.
      if ((typeChanged && lx.default !== null && dx.generated === null) || (lx.default !== dx.default && dx.generated === null)) c.default = dx.default;
      if (lx.notNull !== dx.notNull) c.notNull = dx.notNull;
    }
    // The parent drops a column with ONLY: the child keeps it, as its own.
    for (const name of before.keys()) {
      const c = cols.get(name);
      if (after.has(name) || !c) continue;
      c.inheritCount = Math.max(0, c.inheritCount - 1);
      c.local = true;
    }
  }
  return order.map((n) => cols.get(n)!);
}

/**
 * The child's own CHECKs after the plan's NO INHERIT steps: one it only inherited from a parent it
 * leaves (and from no parent it keeps) becomes its own, as PostgreSQL does.
 */
export function projectedChecks(l: TableDef, links: LinkPlan, live: SchemaModel): ConstraintDef[] {
  if (links.remove.length === 0) return [...l.constraints];
  const find = (q: QualifiedName) => live.tables.find((x) => x.schema === q.schema && x.name === q.name);
  const kept = new Set(links.stay.flatMap((p) => (find(p)?.constraints ?? []).filter(inheritable).map((c) => c.name)));
  const out = [...l.constraints];
  const have = new Set(out.map((c) => c.name));
  for (const p of links.remove) {
    for (const c of find(p)?.constraints ?? []) {
      if (!inheritable(c) || have.has(c.name) || kept.has(c.name)) continue;
      have.add(c.name);
      out.push({ ...c, inheritCount: 0, comment: null });
    }
  }
  return out;
}

/**
 * CHECKs of the parents `add`ed that the child must have before `ALTER TABLE ... INHERIT` (PostgreSQL
 * requires the same name and definition) and would not have otherwise: added as its own.
 */
export function checksForNewParents(l: TableDef, t: TableDef, links: LinkPlan, desired: SchemaModel): ConstraintDef[] {
  const have = new Set([...l.constraints, ...t.constraints].map((c) => c.name));
  const out: ConstraintDef[] = [];
  for (const p of links.add) {
    const dp = desired.tables.find((x) => x.schema === p.schema && x.name === p.name);
    for (const c of dp?.constraints ?? []) {
      if (!inheritable(c) || have.has(c.name)) continue;
      have.add(c.name);
      out.push({ ...c, inheritCount: 0, comment: null });
    }
  }
  return out;
}

/**
 * Whether a live CHECK of the child that the desired child does not declare itself is still one a
 * desired parent gives it: PostgreSQL cannot drop an inherited CHECK from a child, nor make its own
 * copy inherited-only again, so it stays (merged with the parent's).
 */
export function providedByParent(c: ConstraintDef, t: TableDef, desired: SchemaModel): boolean {
  if (!inheritable(c)) return false;
  return t.inherits.some((p) =>
    desired.tables.find((x) => x.schema === p.schema && x.name === p.name)?.constraints.some((pc) => pc.name === c.name && pc.definition === c.definition && inheritable(pc)),
  );
}

/**
 * Where a child's parent links must be made again so that columns it now declares itself (merged with
 * a parent's) are its own, as when its SQL runs directly: PostgreSQL makes what a child inherited its
 * own on NO INHERIT and keeps it so on INHERIT. Only when that is exact: from the first parent giving
 * such a column on, every column and CHECK those parents give must be declared by the child too
 * (or come from a parent before them). Else `t.inherits.length` (nothing to relink).
 */
export function relinkForOwnColumns(l: TableDef, t: TableDef, desired: SchemaModel): number {
  const none = t.inherits.length;
  const wasInherited = new Set(l.columns.filter((c) => !c.local).map((c) => c.name));
  const own = new Set(t.columns.filter((c) => c.local).map((c) => c.name));
  const ownChecks = new Set(t.constraints.map((c) => c.name));
  const parents = t.inherits.map((p) => desired.tables.find((x) => x.schema === p.schema && x.name === p.name));
  const first = parents.findIndex((p) => p?.columns.some((c) => own.has(c.name) && wasInherited.has(c.name)));
  if (first < 0) return none;
  const before = new Set(parents.slice(0, first).flatMap((p) => p?.columns.map((c) => c.name) ?? []));
  const beforeChecks = new Set(parents.slice(0, first).flatMap((p) => p?.constraints.filter(inheritable).map((c) => c.name) ?? []));
  for (const p of parents.slice(first)) {
    if (!p) return none;
    if (p.columns.some((c) => !own.has(c.name) && !before.has(c.name))) return none;
    if (p.constraints.some((c) => inheritable(c) && !ownChecks.has(c.name) && !beforeChecks.has(c.name))) return none;
  }
  return first;
}

/** Tables ordered so that every parent comes before its children (stable otherwise). */
export function parentsFirst(tables: readonly TableDef[]): TableDef[] {
  const byKey = new Map(tables.map((t) => [keyOf(t), t]));
  const out: TableDef[] = [];
  const seen = new Set<string>();
  const visit = (t: TableDef) => {
    if (seen.has(keyOf(t))) return;
    seen.add(keyOf(t));
    for (const p of t.inherits) {
      const pt = byKey.get(keyOf(p));
      if (pt) visit(pt);
    }
    out.push(t);
  };
  tables.forEach(visit);
  return out;
}
