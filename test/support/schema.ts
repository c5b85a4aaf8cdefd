import { expect } from "vitest";
import { introspect } from "../../sdk/schema/introspect/introspect";
import type { SchemaModel } from "../../sdk/schema/model";
import { applySchema, planSchema, type AppliedSchema, type SchemaEngineOptions } from "../../sdk/schema/engine";
import { schemaFromSql, type DesiredSchema } from "../../sdk/schema/source/desired";
import { formatDifference } from "../../sdk/schema/verify/index";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { freshDatabase, serverUrl, type TestDatabase } from "./postgres";

/** Engine options for tests: the shared server of the major is the dev database; no model cache. */
export function engineOptions(db: TestDatabase, extra: SchemaEngineOptions = {}): SchemaEngineOptions {
  return { devUrl: serverUrl(db.server), cacheDir: false, ...extra };
}

/** A model with columns, constraints and indexes sorted by name: column order is not managed. */
export function comparable(model: SchemaModel): SchemaModel {
  return {
    ...model,
    tables: model.tables.map((t) => ({
      ...t,
      columns: [...t.columns].sort((a, b) => a.name.localeCompare(b.name)),
      constraints: [...t.constraints].sort((a, b) => a.name.localeCompare(b.name)),
      indexes: [...t.indexes].sort((a, b) => a.name.localeCompare(b.name)),
    })),
  };
}

/** Runs raw SQL on a test database (the "old" state, or a direct build of the desired state). */
export async function runSql(db: TestDatabase, sql: string): Promise<void> {
  const c = await db.client();
  await c.query(sql);
}

/**
 * The convergence contract: starting from `oldSql`, apply `newSql` through the engine, then
 * (1) a fresh plan is empty, (2) the catalog-level check finds no unmodelled difference with the
 * dev database that held the desired state (ADR 0014), and (3) the live catalog equals a database
 * built directly from `newSql`.
 */
export async function expectConverges(
  major: PostgresMajor,
  oldSql: string,
  newSql: string | DesiredSchema,
  options: SchemaEngineOptions = {},
): Promise<{ applied: AppliedSchema; db: TestDatabase }> {
  const db = await freshDatabase(major);
  if (oldSql) await runSql(db, oldSql);
  const desired = typeof newSql === "string" ? schemaFromSql(newSql) : newSql;
  const applied = await applySchema(db.url, desired, engineOptions(db, { allowHazards: "all", ...options }));
  const again = await planSchema(db.url, desired, engineOptions(db, options));
  expect(again.plan.steps.map((s) => s.sql)).toEqual([]);
  if (options.verifyCatalogs !== false) expect(again.catalogCheck?.differences.map(formatDifference)).toEqual([]);

  const reference = await freshDatabase(major);
  for (const f of desired.files) await runSql(reference, f.sql);
  const live = await introspect(await db.client());
  const ref = await introspect(await reference.client());
  expect(comparable(live)).toEqual(comparable(ref));
  return { applied, db };
}
