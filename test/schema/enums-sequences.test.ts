import { describe, expect, it } from "vitest";
import { applySchema } from "../../sdk/schema/engine";
import { HazardsRefusedError } from "../../sdk/schema/plan";
import { schemaFromSql } from "../../sdk/schema/source";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

describe.each(majors())("enums, sequences and extensions on PostgreSQL %i", (major) => {
  it("adds enum values in place, in the declared position, without a hazard", async () => {
    const { applied } = await expectConverges(
      major,
      "CREATE TYPE status AS ENUM ('new', 'done'); CREATE TABLE task (s status DEFAULT 'new'); INSERT INTO task VALUES ('done');",
      "CREATE TYPE status AS ENUM ('new', 'doing', 'done', 'archived'); CREATE TABLE task (s status DEFAULT 'doing');",
    );
    const sql = applied.plan.steps.map((s) => s.sql[0]);
    expect(sql.slice(0, 2)).toEqual([`ALTER TYPE "public"."status" ADD VALUE 'doing' BEFORE 'done'`, `ALTER TYPE "public"."status" ADD VALUE 'archived'`]);
    expect(applied.plan.steps.flatMap((s) => s.hazards)).toEqual([]);
  });

  it("removes an enum value only when ENUM_VALUE_REMOVAL is allowed, recreating the type and converting columns", async () => {
    const old = "CREATE TYPE color AS ENUM ('red', 'green', 'blue'); CREATE TABLE t (c color DEFAULT 'red', cs color[]); INSERT INTO t VALUES ('red', '{green}');";
    const next = "CREATE TYPE color AS ENUM ('red', 'green'); CREATE TABLE t (c color DEFAULT 'green', cs color[]);";
    const db = await freshDatabase(major);
    await runSql(db, old);
    const err = await applySchema(db.url, schemaFromSql(next), engineOptions(db)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HazardsRefusedError);
    expect((err as HazardsRefusedError).hazards.map((h) => h.code)).toEqual(["ENUM_VALUE_REMOVAL", "TABLE_REWRITE"]);
    expect((err as Error).message).toContain("removes value(s) 'blue' from enum public.color");
    await expectConverges(major, old, next);
  });

  it("fails a value removal that rows still use, rolling back to the untouched database", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TYPE color AS ENUM ('red', 'blue'); CREATE TABLE t (c color); INSERT INTO t VALUES ('blue');");
    await expect(applySchema(db.url, schemaFromSql("CREATE TYPE color AS ENUM ('red'); CREATE TABLE t (c color);"), engineOptions(db, { allowHazards: "all" }))).rejects.toThrow(
      /invalid input value for enum/,
    );
    const c = await db.client();
    const { rows } = await c.query("SELECT enum_range(NULL::color)::text AS r, (SELECT c::text FROM t) AS v");
    expect(rows).toEqual([{ r: "{red,blue}", v: "blue" }]);
  });

  it("creates, alters, re-owns and drops sequences", async () => {
    await expectConverges(
      major,
      "CREATE SEQUENCE s1; CREATE SEQUENCE s2 START 5; CREATE TABLE t (id int); CREATE SEQUENCE gone;",
      `CREATE SEQUENCE s1 AS integer INCREMENT 2 MINVALUE 1 MAXVALUE 1000 CACHE 5 CYCLE;
       CREATE SEQUENCE s2 START 5;
       CREATE TABLE t (id int DEFAULT nextval('s2'));
       ALTER SEQUENCE s2 OWNED BY t.id;
       CREATE SEQUENCE s3 AS bigint START 100;`,
    );
  });

  it("drops a serial column together with its owned sequence", async () => {
    await expectConverges(major, "CREATE TABLE t (id serial, n int);", "CREATE TABLE t (n int);");
  });

  it("creates and drops extensions, and types from extensions work in columns", async () => {
    await expectConverges(major, "CREATE EXTENSION hstore;", "CREATE EXTENSION citext; CREATE TABLE u (email citext UNIQUE);");
  });
});
