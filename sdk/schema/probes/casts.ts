import type { ClientBase } from "pg";
import { SetpointError } from "../../errors";
import type { Change } from "../changes";
import { keyOf, type QualifiedName, type SchemaModel } from "../model";

/** A column type change that PostgreSQL cannot make: there is no cast between the two types. */
export interface UncastableColumn {
  readonly table: QualifiedName;
  readonly column: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Raised at plan time, before anything runs, when the desired state changes a column to a type
 * its values cannot be cast to (`text[]` to `jsonb`, one range type to another): a declarative
 * schema has nowhere to say how to convert them, and `ALTER COLUMN ... TYPE` would fail.
 */
export class UncastableColumnsError extends SetpointError {
  readonly columns: readonly UncastableColumn[];

  constructor(columns: readonly UncastableColumn[]) {
    super(
      "COLUMN_TYPE_NO_CAST",
      `the plan was refused before anything ran: PostgreSQL has no cast for ${columns.length} column type change(s):\n` +
        columns.map((c) => `  - ${keyOf(c.table)}.${c.column}: from ${c.from} to ${c.to}`).join("\n") +
        "\nTo change such a column, add a new column of the new type, fill it from the old one with your own conversion " +
        "(an UPDATE), then drop the old column (and rename the new one) in a later version of the schema; " +
        "or keep the column's current type.",
    );
    this.columns = columns;
  }
}

// SQLSTATE of "cannot cast type x to y" and of "type does not exist".
const CANNOT_COERCE = "42846";
const UNDEFINED_OBJECT = "42704";

/**
 * The column type changes among `changes` that PostgreSQL has no explicit cast for (`USING c::type`
 * is how they are rendered). Each distinct pair of types is probed on the target with
 * `CAST(NULL::from AS to)`, which PostgreSQL resolves without data; a type the plan creates (not
 * yet on the target) is judged from the desired model: enums, composite and range types are
 * reached from text-like types only (through their input functions), a domain like its base type.
 * Must run outside a transaction block (a failed probe would abort it).
 */
export async function findUncastableColumns(client: ClientBase, changes: readonly Change[], desired: SchemaModel): Promise<UncastableColumn[]> {
  const out: UncastableColumn[] = [];
  const verdicts = new Map<string, boolean>();
  for (const c of changes) {
    if (c.kind !== "alterColumnType") continue;
    const pair = `${c.from}\u0000${c.to}`;
    let ok = verdicts.get(pair);
    if (ok === undefined) {
      ok = await castable(client, c.from, c.to, desired, 0);
      verdicts.set(pair, ok);
    }
    if (!ok) out.push({ table: c.table, column: c.column, from: c.from, to: c.to });
  }
  return out;
}

async function castable(client: ClientBase, from: string, to: string, desired: SchemaModel, depth: number): Promise<boolean> {
  try {
    // Type texts come from format_type (PostgreSQL's own quoting), as in the ALTER the plan renders.
    await client.query(`SELECT CAST(NULL::${from} AS ${to})`);
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === CANNOT_COERCE) return false;
    if (code !== UNDEFINED_OBJECT || depth > 3) return true; // not ours to judge: the apply reports it
  }
  const array = to.endsWith("[]");
  const target = desiredType(desired, array ? to.slice(0, -2) : to);
  if (!target) return true;
  if (target.kind === "domain") return castable(client, from, array ? `${target.base}[]` : target.base, desired, depth + 1);
  // Enums, composite and range types: through text (their input function) only.
  const { rows } = await client.query<{ textual: boolean }>(
    `SELECT coalesce((SELECT coalesce(e.typcategory, t.typcategory) = 'S' FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
              WHERE t.oid = to_regtype($1)), false) AS textual`,
    [from],
  );
  return rows[0]?.textual ?? false;
}

// A user type of the desired model named as format_type prints it under the canonical search_path.
function desiredType(desired: SchemaModel, text: string): { kind: "domain"; base: string } | { kind: "other" } | null {
  const matches = (o: QualifiedName) => text === o.name || text === `"${o.name}"` || text === `${o.schema}.${o.name}` || text === `"${o.schema}"."${o.name}"`;
  for (const o of desired.objects) {
    if (o.kind === "domain" && matches(o)) return { kind: "domain", base: o.type };
    if ((o.kind === "composite type" || o.kind === "range type") && matches(o)) return { kind: "other" };
  }
  if (desired.enums.some(matches)) return { kind: "other" };
  return null;
}
