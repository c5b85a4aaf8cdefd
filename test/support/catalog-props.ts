// A catalog comparison for the table properties the engine's model covers since issue 16 (replica
// identity, partitions' own column properties, partition indexes and inherited constraints, NOT
// NULL constraints, NOT ENFORCED, validation), read straight from the catalogs and independent of
// the engine's introspection, on top of the schema suite's general description (catalog.ts).
import type { Client } from "pg";
import { expect } from "vitest";
import { applySchema, planSchema, type AppliedSchema, type SchemaEngineOptions } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { catalogLines } from "../schema-suite/catalog";
import { freshDatabase, type TestDatabase } from "./postgres";
import { engineOptions, runSql } from "./schema";

const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

const QUERIES = (major: number): string[] => [
  `SELECT 'replica identity ' || c.oid::regclass::text || ': ' || c.relreplident::text
          || coalesce(' using ' || (SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident), '') AS line
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS} AND c.relkind IN ('r', 'p', 'm')`,
  `SELECT 'attribute ' || c.oid::regclass::text || '.' || quote_ident(a.attname) || ': notnull=' || a.attnotnull || ' generated=' || a.attgenerated::text
          || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') || ' local=' || a.attislocal || ' inh=' || a.attinhcount AS line
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE ${USER_NS} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
  `SELECT 'pg_constraint ' || k.conrelid::regclass::text || '.' || quote_ident(k.conname) || ': ' || k.contype::text || ' ' || pg_get_constraintdef(k.oid)
          || ' valid=' || k.convalidated || ' local=' || k.conislocal || ' inh=' || k.coninhcount || ' noinherit=' || k.connoinherit
          || ' parent=' || coalesce((SELECT p.conname FROM pg_constraint p WHERE p.oid = k.conparentid), '-')
          ${major >= 18 ? "|| ' enforced=' || k.conenforced" : ""} AS line
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS}`,
  `SELECT 'index tree ' || i.indexrelid::regclass::text || ': on ' || i.indrelid::regclass::text
          || ' parent=' || coalesce((SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = i.indexrelid), '-') || ' valid=' || i.indisvalid AS line
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS}`,
];

/** Sorted lines describing the database's user objects and the table properties above. */
export async function propertyLines(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const major = Math.floor(Number(rows[0]!.v) / 10000);
  const lines = await catalogLines(client);
  for (const sql of QUERIES(major)) {
    const r = await client.query<{ line: string | null }>(sql);
    for (const row of r.rows) if (row.line !== null) lines.push(row.line.replace(/\s+/g, " ").trim());
  }
  return lines.sort();
}

/** Asserts that two databases have the same catalog description (see {@link propertyLines}). */
export async function expectSameCatalog(actual: Client, expected: Client): Promise<void> {
  const [a, e] = await Promise.all([propertyLines(actual), propertyLines(expected)]);
  const want = new Set(e);
  const have = new Set(a);
  expect({ missing: e.filter((l) => !have.has(l)), extra: a.filter((l) => !want.has(l)) }).toEqual({ missing: [], extra: [] });
}

/**
 * The convergence contract with the catalog check: starting from `oldSql`, apply `newSql` through
 * the engine; then a fresh plan is empty and the catalogs (see {@link propertyLines}) equal those of
 * a database where `newSql` ran directly.
 */
export async function expectCatalogConverges(
  major: PostgresMajor,
  oldSql: string,
  newSql: string,
  options: SchemaEngineOptions = {},
): Promise<{ applied: AppliedSchema; db: TestDatabase; reference: TestDatabase }> {
  const db = await freshDatabase(major);
  if (oldSql) await runSql(db, oldSql);
  const desired = schemaFromSql(newSql);
  const applied = await applySchema(db.url, desired, engineOptions(db, { allowHazards: "all", ...options }));
  const again = await planSchema(db.url, desired, engineOptions(db, options));
  expect(again.plan.steps.map((s) => s.sql)).toEqual([]);
  const reference = await freshDatabase(major);
  await runSql(reference, newSql);
  await expectSameCatalog(await db.client(), await reference.client());
  return { applied, db, reference };
}
