import { quoteIdent } from "../../postgres/quote";
import type { Change } from "../changes";
import { comment, indexSignature, type Ctx } from "./context";
import { inheritable, inheritedNotNull } from "../kinds/inheritance";
import { keyOf, type ColumnDef, type ConstraintDef, type IndexDef, type QualifiedName, type ReplicaIdentity, type SchemaModel, type TableDef } from "../model";
import { chosenIndexName, notNullCheckName } from "../names";

/**
 * Table properties beside columns, constraints and indexes proper, in the diff: replica identity,
 * a partition's own column properties and its indexes attached to its parent's, NOT NULL as the
 * constraint PostgreSQL 18 catalogs, and when two constraint definitions are the same. Pure: no I/O.
 */

const find = (m: SchemaModel, q: QualifiedName) => m.tables.find((x) => x.schema === q.schema && x.name === q.name);
const table = (t: QualifiedName): QualifiedName => ({ schema: t.schema, name: t.name });

function sameIdentity(a: ReplicaIdentity, b: ReplicaIdentity): boolean {
  return a.kind === b.kind && (a.kind !== "INDEX" || b.kind !== "INDEX" || a.index === b.index);
}

/** Whether a change builds (or renames into place) the index or constraint named `name` on `t`. */
function buildsIndex(c: Change, t: QualifiedName, name: string): boolean {
  switch (c.kind) {
    case "createIndex":
      return keyOf(c.table) === keyOf(t) && c.index.name === name;
    case "renameIndex":
      return c.schema === t.schema && c.to === name;
    case "addConstraint":
    case "addConstraintUsingIndex":
    case "renameConstraint":
      return keyOf(c.table) === keyOf(t) && (c.kind === "renameConstraint" ? c.to : c.constraint.name) === name;
    default:
      return false;
  }
}

/**
 * `REPLICA IDENTITY` of `t` (`l` null for a table the plan creates): set when it differs, and again
 * when the index it names is built by the table's own changes (those from `from` in `ctx.out` on):
 * a rebuilt index does not carry the mark of the one it replaces.
 */
export function replicaIdentityChanges(l: TableDef | null, t: TableDef, ctx: Ctx, from: number): void {
  const want = t.replicaIdentity;
  const rebuilt = want.kind === "INDEX" && ctx.out.slice(from).some((c) => buildsIndex(c, t, want.index));
  const differs = l === null ? want.kind !== "DEFAULT" : !sameIdentity(l.replicaIdentity, want);
  if (differs || rebuilt) ctx.out.push({ kind: "setReplicaIdentity", table: table(t), identity: want });
}

/** The text two constraint definitions are compared by: PostgreSQL prints ` NOT VALID` last on one not validated. */
function core(definition: string): string {
  return definition.endsWith(" NOT VALID") ? definition.slice(0, -" NOT VALID".length) : definition;
}

/**
 * Whether the live constraint has the desired one's definition: the same text (apart from ` NOT
 * VALID`), the text PostgreSQL prints once the desired text is applied (see
 * {@link ConstraintDef.reprinted}), or a text that prints as the desired one once applied (see
 * {@link ConstraintDef.printedFrom}).
 */
export function sameDefinition(l: ConstraintDef, d: ConstraintDef): boolean {
  const live = core(l.definition);
  return live === core(d.definition) || (d.reprinted !== undefined && live === core(d.reprinted)) || (d.printedFrom?.includes(live) ?? false);
}

/**
 * A live constraint with the desired definition is kept unless it is validated and the desired one
 * is declared NOT VALID: then it is added again NOT VALID (metadata only), as declared.
 */
export function keepsValidation(l: ConstraintDef, d: ConstraintDef): boolean {
  return !(l.validated && !d.validated && d.enforced);
}

/**
 * Whether a partition's live CHECK that its desired state does not declare itself is one its desired
 * parent has (same name and definition): adding it to the parent merges the partition's copy into it,
 * and an inherited copy cannot be dropped on its own.
 */
export function providedByPartitionParent(c: ConstraintDef, t: TableDef, desired: SchemaModel): boolean {
  if (!t.partitionOf || !inheritable(c)) return false;
  return find(desired, t.partitionOf)?.constraints.some((pc) => pc.name === c.name && inheritable(pc) && sameDefinition(c, pc)) ?? false;
}

/**
 * NOT NULL of a column that stays: set (online through a validated CHECK first, so SET NOT NULL does
 * not scan under its lock) or dropped; on PostgreSQL 18 the constraint is added under its desired
 * name, renamed, validated, or added again when NO INHERIT or NOT VALID change.
 */
export function notNullChanges(t: QualifiedName, l: ColumnDef, c: ColumnDef, ctx: Ctx, online: boolean): void {
  const want = c.notNullConstraint ?? undefined;
  if (!l.notNull && c.notNull) {
    setNotNull(t, c.name, want, ctx, online);
    return;
  }
  if (l.notNull && !c.notNull) {
    ctx.out.push({ kind: "dropNotNull", table: table(t), column: c.name });
    return;
  }
  const have = l.notNullConstraint;
  if (!c.notNull || !want || !have) return;
  if (have.noInherit !== want.noInherit || (have.validated && !want.validated)) {
    ctx.out.push({ kind: "dropNotNull", table: table(t), column: c.name });
    setNotNull(t, c.name, want, ctx, online);
    return;
  }
  if (have.name !== want.name) ctx.out.push({ kind: "renameConstraint", table: table(t), from: have.name, to: want.name });
  if (!have.validated && want.validated) ctx.out.push({ kind: "validateConstraint", table: table(t), constraint: want.name });
}

function setNotNull(t: QualifiedName, column: string, constraint: ColumnDef["notNullConstraint"] | undefined, ctx: Ctx, online: boolean): void {
  // NOT VALID checks nothing: no CHECK needed first.
  const checked = online && constraint?.validated !== false;
  if (checked) {
    const check: ConstraintDef = {
      name: notNullCheckName(t.name, column),
      kind: "CHECK",
      definition: `CHECK ((${quoteIdent(column)} IS NOT NULL))`,
      columns: [column],
      references: null,
      referencedIndex: null,
      deferrable: false,
      initiallyDeferred: false,
      validated: true,
      enforced: true,
      inheritCount: 0,
      noInherit: false,
      comment: null,
    };
    ctx.out.push({ kind: "addConstraint", table: table(t), constraint: check, notValid: true });
    ctx.out.push({ kind: "validateConstraint", table: table(t), constraint: check.name });
  }
  ctx.out.push({ kind: "setNotNull", table: table(t), column, online: checked, ...(constraint ? { constraint } : {}) });
}

/**
 * A partition's own column properties (a DEFAULT or NOT NULL its parent does not have): PostgreSQL
 * gives a new partition its parent's, and a parent's SET / DROP DEFAULT and NOT NULL reach its
 * partitions; what the partition should have beyond that is set on it afterwards. `l` is the live
 * partition when it stays a partition, null for one the plan creates.
 */
export function partitionColumnChanges(l: TableDef | null, t: TableDef, ctx: Ctx): void {
  if (!t.partitionOf) return;
  const parent = find(ctx.desired, t.partitionOf);
  if (!parent) return;
  const liveParent = l?.partitionOf ? find(ctx.live, l.partitionOf) : undefined;
  for (const c of t.columns) {
    const pc = parent.columns.find((x) => x.name === c.name);
    if (!pc || c.generated !== null || pc.generated !== null || c.identity || pc.identity) continue;
    const lc = l?.columns.find((x) => x.name === c.name);
    const lpc = liveParent?.columns.find((x) => x.name === c.name);
    // What the partition has once created, or once its parent's own changes have reached it.
    const has: ColumnDef = !lc
      ? { ...pc, notNullConstraint: null }
      : { ...lc, default: lpc && lpc.default !== pc.default ? pc.default : lc.default, notNull: lpc && lpc.notNull !== pc.notNull ? pc.notNull : lc.notNull };
    if (has.default !== c.default) {
      ctx.out.push(c.default === null ? { kind: "dropDefault", table: table(t), column: c.name } : { kind: "setDefault", table: table(t), column: c.name, default: c.default });
    }
    notNullChanges(t, has, c, ctx, ctx.online && lc !== undefined);
  }
}

/**
 * A new inheritance child's own properties of the columns it only inherits (a DEFAULT or NOT NULL
 * that differs from its parent's): CREATE TABLE ... INHERITS gives it the first parent's, which it
 * declares no other way; they are set on it afterwards.
 */
export function inheritedColumnChanges(t: TableDef, ctx: Ctx): void {
  if (t.partitionOf || t.inherits.length === 0) return;
  for (const c of t.columns) {
    if (c.local || c.generated !== null || c.identity) continue;
    const pc = t.inherits.map((p) => find(ctx.desired, p)?.columns.find((x) => x.name === c.name)).find((x) => x !== undefined);
    if (!pc || pc.generated !== null) continue;
    if (pc.default !== c.default) {
      ctx.out.push(c.default === null ? { kind: "dropDefault", table: table(t), column: c.name } : { kind: "setDefault", table: table(t), column: c.name, default: c.default });
    }
    if (c.notNull && !pc.notNull) notNullChanges(t, { ...pc, notNullConstraint: null }, c, { ...ctx, online: false }, false);
  }
}

/**
 * The name of each partition's index attached to an index of its parent. PostgreSQL builds (or
 * attaches) it when the parent's index, the partition, or the attachment is created, and chooses its
 * name then: it is renamed to the desired name afterwards, found by its attachment. A standalone
 * index of the partition that matches the parent's index is attached rather than dropped (see
 * {@link keptForAttachment}). Runs after every table's own diff (it reads their changes).
 */
export function partitionIndexChanges(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  for (const t of desired.tables) {
    if (!t.partitionOf || t.partitionIndexes.length === 0) continue;
    const parent = t.partitionOf;
    const l = find(live, t);
    const stays = !!l?.partitionOf && keyOf(l.partitionOf) === keyOf(parent) && l.partitionOf.bound === parent.bound && !ctx.out.some((c) => c.kind === "createTable" && keyOf(c.table) === keyOf(t));
    for (const pi of t.partitionIndexes) {
      const parentBuilt = ctx.out.some((c) => buildsIndex(c, parent, pi.parentIndex) || (c.kind === "createTable" && keyOf(c.table) === keyOf(parent)));
      const attached = stays && !parentBuilt ? l!.partitionIndexes.find((x) => x.parentIndex === pi.parentIndex) : undefined;
      const target = { type: "INDEX" as const, schema: t.schema, name: pi.name };
      if (attached) {
        if (attached.name !== pi.name) ctx.out.push({ kind: "renameIndex", schema: t.schema, from: attached.name, to: pi.name });
        comment(ctx, target, attached.comment, pi.comment);
        continue;
      }
      const own = l?.indexes.find((x) => x.name === pi.name);
      if (own && keptForAttachment(own, t, desired)) {
        // Building the parent's index, or attaching the partition, attaches it; else it is attached here.
        if (stays && !parentBuilt) ctx.out.push({ kind: "attachIndex", parent: table(parent), parentIndex: pi.parentIndex, table: table(t), index: pi.name });
        comment(ctx, target, own.comment, pi.comment);
        continue;
      }
      // The name PostgreSQL gives it is the desired one: nothing to rename.
      if (pi.name !== chosenIndexName(t.name, pi.definition)) {
        ctx.out.push({ kind: "renamePartitionIndex", parent: table(parent), parentIndex: pi.parentIndex, table: table(t), to: pi.name });
      }
      comment(ctx, target, null, pi.comment);
    }
  }
}

/**
 * Whether a partition's standalone index `i` is one its desired state has attached to an index of
 * the parent with the same definition: kept (not dropped), since PostgreSQL attaches it.
 */
export function keptForAttachment(i: IndexDef, t: TableDef, desired: SchemaModel): boolean {
  const pi = t.partitionIndexes.find((x) => x.name === i.name);
  if (!pi || !t.partitionOf || !i.valid) return false;
  const parentIndex = find(desired, t.partitionOf)?.indexes.find((x) => x.name === pi.parentIndex);
  return parentIndex !== undefined && indexSignature({ ...parentIndex, definition: parentIndex.definition.replace(" ON ONLY ", " ON ") }) === indexSignature(i);
}

/**
 * The live partition as it will be once detached: its attached indexes stay as standalone ones, and
 * the NOT NULL constraints it inherited (PostgreSQL 18) become its own, under its parent's names.
 */
export function asDetached(l: TableDef, live: SchemaModel): TableDef {
  const parent = l.partitionOf ? find(live, l.partitionOf) : undefined;
  return {
    ...l,
    indexes: [...l.indexes, ...l.partitionIndexes.map(({ parentIndex: _, ...i }) => i)],
    partitionIndexes: [],
    columns: l.columns.map((c) => (c.notNull && !c.notNullConstraint ? { ...c, notNullConstraint: inheritedNotNull(c.name, parent ? [parent] : []) } : c)),
  };
}

/** What a column holds of the attributes {@link columnAttributeChanges} sets; `unknown`: storage and compression may have come from a parent. */
type HeldAttributes = Pick<ColumnDef, "statistics" | "storage" | "compression" | "options"> & { readonly inheritedUnknown?: boolean };

/**
 * A column's statistics target, storage, compression and attribute options (`ALTER TABLE ONLY …
 * ALTER COLUMN`), from what it holds once the plan's other steps on it have run: `l` is the live
 * column (null for a column or table the plan creates). PostgreSQL resets storage and compression to
 * the type's own when the column's type changes (`ALTER COLUMN … TYPE`, also with only a new
 * COLLATE) and keeps the statistics target and options. A column a new table inherits (a partition's,
 * an inheritance child's) takes its parent's storage and compression at creation, whatever the
 * parent holds then: those are set explicitly when the parent has (or had) any.
 */
export function columnAttributeChanges(t: TableDef, l: ColumnDef | null, c: ColumnDef, ctx: Ctx): void {
  const typeChanged = l !== null && (l.type !== c.type || l.collation !== c.collation);
  const inherited = l === null && (!!t.partitionOf || c.inheritCount > 0);
  const has: HeldAttributes =
    l === null
      ? { inheritedUnknown: inherited }
      : { statistics: l.statistics, options: l.options, ...(typeChanged ? {} : { storage: l.storage, compression: l.compression }) };
  const parents = inherited ? parentColumns(t, c.name, ctx) : [];
  const change: { statistics?: number | null; storage?: string; compression?: string | null } = {};
  if ((has.statistics ?? null) !== (c.statistics ?? null)) change.statistics = c.statistics ?? null;
  const wantStorage = c.storage?.mode;
  if (has.inheritedUnknown) {
    const parentStorage = parents.find((p) => p.storage !== undefined)?.storage;
    if (wantStorage !== undefined || parentStorage !== undefined) change.storage = wantStorage ?? parentStorage!.typeDefault;
    if (c.compression !== undefined || parents.some((p) => p.compression !== undefined)) change.compression = c.compression ?? null;
  } else {
    if ((has.storage?.mode ?? null) !== (wantStorage ?? null)) change.storage = wantStorage ?? has.storage!.typeDefault;
    if ((has.compression ?? null) !== (c.compression ?? null)) change.compression = c.compression ?? null;
  }
  const heldOptions = has.options ?? [];
  const wantOptions = c.options ?? [];
  const setOptions = wantOptions.filter((o) => !heldOptions.includes(o));
  const resetOptions = heldOptions.map(optionKey).filter((k) => !wantOptions.some((o) => optionKey(o) === k));
  if (Object.keys(change).length === 0 && setOptions.length === 0 && resetOptions.length === 0) return;
  ctx.out.push({ kind: "setColumnAttributes", table: table(t), column: c.name, ...change, setOptions, resetOptions });
}

/** The same-named columns of a table's parents, desired and live: what a new child may have copied its storage and compression from. */
function parentColumns(t: TableDef, column: string, ctx: Ctx): ColumnDef[] {
  const parents: QualifiedName[] = [...(t.partitionOf ? [t.partitionOf] : []), ...t.inherits];
  return parents.flatMap((p) => [find(ctx.desired, p), find(ctx.live, p)]).flatMap((x) => x?.columns.filter((pc) => pc.name === column) ?? []);
}

/** The name of a `name=value` option. */
export const optionKey = (opt: string): string => opt.slice(0, opt.indexOf("="));

/**
 * `CLUSTER ON` of `t` (`l` null for a table the plan creates): marked when it differs, and again when
 * the index it names is built by the table's own changes (from `from` in `ctx.out` on), which do not
 * carry the mark of the index they replace. A partitioned table has none (PostgreSQL refuses it).
 */
export function clusterOnChanges(l: TableDef | null, t: TableDef, ctx: Ctx, from: number): void {
  const want = t.clusterOn;
  const rebuilt = want !== undefined && ctx.out.slice(from).some((c) => buildsIndex(c, t, want));
  if ((l?.clusterOn ?? undefined) !== want || rebuilt) ctx.out.push({ kind: "setClusterOn", table: table(t), index: want ?? null });
}
