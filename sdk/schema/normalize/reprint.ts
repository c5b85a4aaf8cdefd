import type { ClientBase } from "pg";
import { quoteIdent, quoteQualified } from "../../postgres/quote";
import type { ConstraintDef, SchemaModel } from "../model";

/**
 * PostgreSQL does not always print an expression the same way once its own printed text is parsed
 * again: a CHECK written `c IN ('a', 'b')` on a varchar column prints as `ANY ((ARRAY[...])::text[])`,
 * and that text, applied by the engine, prints with per-item casts. Normalization therefore applies
 * each desired CHECK's printed text once more, on the dev server that printed it, and records what
 * comes back when it differs ({@link ConstraintDef.reprinted}): the diff then accepts the form a
 * database the engine changed holds, and a re-plan settles.
 */

const PREFIX = "setpoint_reprint_";

// Casts are what the deparser adds or moves; a CHECK without one prints back as it is.
const mayReprint = (c: ConstraintDef) => c.kind === "CHECK" && c.definition.includes("::");

/**
 * The model with `reprinted` set on the desired CHECKs whose text prints differently once applied.
 * Adds them again under temporary names on `client` (the scratch database holding the desired
 * state) inside a transaction, or a savepoint when `inTransaction`, and rolls that back. Best effort:
 * if the server refuses, the model is returned as it was.
 */
export async function withReprintedChecks(client: ClientBase, model: SchemaModel, inTransaction: boolean): Promise<SchemaModel> {
  const statements: string[] = [];
  for (const t of model.tables) {
    for (const c of t.constraints) {
      if (!mayReprint(c)) continue;
      const definition = c.definition.endsWith(" NOT VALID") ? c.definition.slice(0, -" NOT VALID".length) : c.definition;
      statements.push(`ALTER TABLE ${quoteQualified(t.schema, t.name)} ADD CONSTRAINT ${quoteIdent(`${PREFIX}${statements.length}`)} ${definition}`);
    }
  }
  if (statements.length === 0) return model;
  const begin = inTransaction ? "SAVEPOINT setpoint_reprint" : "BEGIN";
  const end = inTransaction ? "ROLLBACK TO SAVEPOINT setpoint_reprint" : "ROLLBACK";
  let printed: Map<string, string>;
  await client.query(begin);
  try {
    await client.query(statements.join(";\n"));
    const { rows } = await client.query<{ name: string; definition: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname LIKE '${PREFIX.replaceAll("_", "\\_")}%' AND conislocal`,
    );
    printed = new Map(rows.map((r) => [r.name, r.definition]));
  } catch {
    return model;
  } finally {
    await client.query(end);
  }
  let n = 0;
  let changed = false;
  const tables = model.tables.map((t) => {
    let touched = false;
    const constraints = t.constraints.map((c) => {
      if (!mayReprint(c)) return c;
      const again = printed.get(`${PREFIX}${n++}`);
      const core = c.definition.endsWith(" NOT VALID") ? c.definition.slice(0, -" NOT VALID".length) : c.definition;
      if (again === undefined || again === core) return c;
      touched = true;
      return { ...c, reprinted: again };
    });
    if (!touched) return t;
    changed = true;
    return { ...t, constraints };
  });
  return changed ? { ...model, tables } : model;
}
