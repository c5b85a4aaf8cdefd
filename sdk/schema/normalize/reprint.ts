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

/** A constraint's definition without its ` NOT VALID` suffix (what the reprint compares). */
const core = (definition: string) => (definition.endsWith(" NOT VALID") ? definition.slice(0, -" NOT VALID".length) : definition);

// Casts are what the deparser adds or moves; a CHECK without one prints back as it is.
const mayReprint = (c: ConstraintDef) => c.kind === "CHECK" && c.definition.includes("::");

/**
 * The model with `reprinted` set on the desired CHECKs whose text prints differently once applied.
 * Adds them again under temporary names on `client` (the scratch database holding the desired
 * state) inside a transaction, or a savepoint when `inTransaction`, and rolls that back. Best effort:
 * if the server refuses, the model is returned as it was.
 *
 * With `liveFor` (the target's model, read meanwhile), the target's own text of a desired CHECK
 * (same table and name) that differs from both is applied the same way, each in a savepoint of its
 * own (it may name what the desired table lacks): when it prints as the desired definition, it is
 * recorded in {@link ConstraintDef.printedFrom} — the target holds the text before the reprint, as
 * a schema restored from pg_dump does, and the diff keeps it (ADR 0057).
 */
export async function withReprintedChecks(
  client: ClientBase,
  model: SchemaModel,
  inTransaction: boolean,
  liveFor?: (model: SchemaModel) => Promise<SchemaModel | null>,
): Promise<SchemaModel> {
  const reprinted = await withOwnReprints(client, model, inTransaction);
  return liveFor && reprinted.tables.some((t) => t.constraints.some(mayReprint)) ? await withLiveReprints(client, reprinted, inTransaction, await liveFor(reprinted).catch(() => null)) : reprinted;
}

async function withOwnReprints(client: ClientBase, model: SchemaModel, inTransaction: boolean): Promise<SchemaModel> {
  const statements: string[] = [];
  for (const t of model.tables) {
    for (const c of t.constraints) {
      if (!mayReprint(c)) continue;
      const definition = core(c.definition);
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
      if (again === undefined || again === core(c.definition)) return c;
      touched = true;
      return { ...c, reprinted: again };
    });
    if (!touched) return t;
    changed = true;
    return { ...t, constraints };
  });
  return changed ? { ...model, tables } : model;
}

/** {@link withReprintedChecks}' second half: the target's differing texts of the desired CHECKs, applied once on the scratch database. */
async function withLiveReprints(client: ClientBase, model: SchemaModel, inTransaction: boolean, live: SchemaModel | null): Promise<SchemaModel> {
  if (live === null) return model;
  const liveChecks = new Map<string, string>();
  for (const t of live.tables) for (const c of t.constraints) if (c.kind === "CHECK") liveChecks.set(`${t.schema}\0${t.name}\0${c.name}`, core(c.definition));
  const tries: { table: string; key: string; text: string }[] = [];
  for (const t of model.tables) {
    for (const c of t.constraints) {
      if (!mayReprint(c)) continue;
      const key = `${t.schema}\0${t.name}\0${c.name}`;
      const text = liveChecks.get(key);
      if (text === undefined || text === core(c.definition) || text === c.reprinted) continue;
      tries.push({ table: quoteQualified(t.schema, t.name), key, text });
    }
  }
  if (tries.length === 0) return model;
  const printedAs = new Map<string, string>();
  await client.query(inTransaction ? "SAVEPOINT setpoint_reprint" : "BEGIN");
  try {
    for (const [k, x] of tries.entries()) {
      const name = `${PREFIX}live_${k}`;
      await client.query("SAVEPOINT setpoint_reprint_live");
      try {
        await client.query(`ALTER TABLE ${x.table} ADD CONSTRAINT ${quoteIdent(name)} ${x.text} NOT VALID`);
        const { rows } = await client.query<{ definition: string }>("SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = $1 AND conrelid = $2::regclass", [name, x.table]);
        if (rows[0]) printedAs.set(x.key, core(rows[0].definition));
      } catch {
        // The target's text does not apply to the desired table: it is a change, as the diff says.
      } finally {
        await client.query("ROLLBACK TO SAVEPOINT setpoint_reprint_live");
      }
    }
  } finally {
    await client.query(inTransaction ? "ROLLBACK TO SAVEPOINT setpoint_reprint" : "ROLLBACK");
  }
  const byKey = new Map(tries.map((x) => [x.key, x.text]));
  const tables = model.tables.map((t) => {
    let touched = false;
    const constraints = t.constraints.map((c) => {
      const key = `${t.schema}\0${t.name}\0${c.name}`;
      const text = byKey.get(key);
      const printed = printedAs.get(key);
      if (text === undefined || printed === undefined || (printed !== core(c.definition) && printed !== c.reprinted)) return c;
      touched = true;
      return { ...c, printedFrom: [...(c.printedFrom ?? []), text] };
    });
    return touched ? { ...t, constraints } : t;
  });
  return { ...model, tables };
}
