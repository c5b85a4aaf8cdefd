import { quoteIdent, quoteQualified } from "../../postgres/quote";
import type { Change, CommentTarget, RowFacts } from "../changes";
import { keyOf, type ColumnDef, type ConstraintDef, type IndexDef, type QualifiedName, type SchemaModel, type TableDef } from "../model";
import { splitIndexDefinition } from "../index-definition";

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


export const UNKNOWN_FACTS: RowFacts = { empty: null, estimatedRows: -1 };

/** The desired model's column of a table, if any. */
export function desiredColumn(desired: SchemaModel, table: QualifiedName, column: string): ColumnDef | undefined {
  return desired.tables.find((t) => t.schema === table.schema && t.name === table.name)?.columns.find((c) => c.name === column);
}

/**
 * Whether `CREATE TABLE` declares the constraint: not a foreign key (added once every table exists),
 * nor one to leave NOT VALID (only ALTER TABLE can).
 */
export function inCreateTable(c: ConstraintDef): boolean {
  return c.kind !== "FOREIGN KEY" && (c.validated || !c.enforced);
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

/** An index definition without its name and table, for comparing across renames. */
export function indexSignature(i: IndexDef): string {
  const { head, rest } = splitIndexDefinition(i.definition);
  const using = rest.indexOf(" USING ");
  return head + (using >= 0 ? rest.slice(using) : rest);
}
