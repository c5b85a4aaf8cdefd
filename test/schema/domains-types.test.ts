import { describe, expect, it } from "vitest";
import { majors } from "../support/postgres";
import { expectConverges } from "../support/schema";

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);

describe.each(majors())("domains, composite and range types on PostgreSQL %i", (major) => {
  it("creates domains, composite and range types, columns and routines using them, and their comments", async () => {
    await expectConverges(
      major,
      "",
      `CREATE DOMAIN posint AS int DEFAULT 1 NOT NULL CONSTRAINT positive CHECK (VALUE > 0) CONSTRAINT small CHECK (VALUE < 1000000);
       CREATE DOMAIN code AS text COLLATE "C" CHECK (VALUE ~ '^[A-Z]+$');
       CREATE TYPE money_amount AS (amount numeric(12,2), currency code);
       CREATE FUNCTION float8_diff(a float8, b float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT a - b';
       CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8_diff);
       CREATE TABLE orders (id posint PRIMARY KEY, price money_amount, codes code[], window_ floatrange);
       CREATE FUNCTION total(o orders) RETURNS numeric LANGUAGE sql AS 'SELECT (o.price).amount';
       COMMENT ON DOMAIN posint IS 'a positive integer';
       COMMENT ON TYPE money_amount IS 'an amount with its currency';
       COMMENT ON TYPE floatrange IS 'ranges of doubles';`,
    );
  });

  it("comments on a domain's constraints and a composite type's attributes: set, changed, removed, and kept when the type or the constraint is re-created", async () => {
    const schema = (base: string, check: string, attr: string, notes: string) =>
      `CREATE DOMAIN code AS ${base} CONSTRAINT code_set CHECK (${check}) CONSTRAINT code_short CHECK (length(VALUE) < 30);
       CREATE TYPE pair AS (a ${attr}, b int);
       CREATE TABLE t (c code, p pair);
       ${notes}`;
    const notes = `COMMENT ON CONSTRAINT code_set ON DOMAIN code IS 'not empty'; COMMENT ON COLUMN pair.a IS 'first';`;
    const start = schema("varchar(10)", "VALUE <> ''", "int", notes);
    for (const [to, expected] of [
      // Added from nothing, changed, removed.
      [start, null],
      [schema("varchar(10)", "VALUE <> ''", "int", `COMMENT ON CONSTRAINT code_short ON DOMAIN code IS 'short'; COMMENT ON COLUMN pair.b IS 'second';`), null],
      [schema("varchar(10)", "VALUE <> ''", "int", ""), null],
      // The domain re-created (base type), its constraint re-added (definition), the attribute retyped in place or the type re-created under a column.
      [schema("varchar(20)", "VALUE <> ''", "int", notes), ["recreateType"]],
      [schema("varchar(10)", "VALUE <> 'x'", "int", notes), ["dropDomainConstraint"]],
      [schema("varchar(10)", "VALUE <> ''", "bigint", notes), ["recreateType"]],
    ] as const) {
      const { applied } = await expectConverges(major, to === start ? schema("varchar(10)", "VALUE <> ''", "int", "") : start, to);
      if (expected) expect(kinds(applied.plan.steps)).toEqual(expect.arrayContaining([...expected, "comment"]));
    }
  });

  it("alters a domain in place: default, NOT NULL, constraints added NOT VALID then validated, dropped", async () => {
    const { applied, db } = await expectConverges(
      major,
      `CREATE DOMAIN qty AS int CONSTRAINT positive CHECK (VALUE > 0);
       CREATE TABLE lines (id int PRIMARY KEY, q qty); INSERT INTO lines VALUES (1, 5), (2, 7);`,
      `CREATE DOMAIN qty AS int DEFAULT 1 NOT NULL CONSTRAINT small CHECK (VALUE < 100);
       CREATE TABLE lines (id int PRIMARY KEY, q qty);`,
    );
    expect(applied.plan.steps.map((s) => [s.kind, s.transaction])).toEqual([
      ["setDomainDefault", "group"],
      ["dropDomainConstraint", "group"],
      ["setDomainNotNull", "group"],
      ["addDomainConstraint", "own"],
      ["validateDomainConstraint", "own"],
    ]);
    expect(applied.plan.steps[3]!.sql[0]).toMatch(/NOT VALID$/);
    expect(applied.plan.steps[4]!.hazards.map((h) => h.code)).toEqual(["VALIDATION_SCAN"]);
    const c = await db.client();
    expect((await c.query("SELECT q FROM lines ORDER BY id")).rows).toEqual([{ q: 5 }, { q: 7 }]);
  });

  it("re-creates a domain under its columns for a new base type, with the view reading them around it, keeping data", async () => {
    const { applied, db } = await expectConverges(
      major,
      `CREATE DOMAIN sku AS varchar(10) CHECK (VALUE <> '');
       CREATE TABLE products (id int PRIMARY KEY, sku sku DEFAULT 'X'::sku, alt sku[]);
       CREATE VIEW skus AS SELECT id, sku FROM products;
       INSERT INTO products VALUES (1, 'AB', '{C,D}');`,
      `CREATE DOMAIN sku AS varchar(20) CHECK (VALUE <> '');
       CREATE TABLE products (id int PRIMARY KEY, sku sku DEFAULT 'X'::sku, alt sku[]);
       CREATE VIEW skus AS SELECT id, sku FROM products;`,
    );
    expect(kinds(applied.plan.steps)).toEqual(["dropView", "recreateType", "createView"]);
    expect(applied.plan.steps[1]!.hazards.map((h) => h.code)).toEqual(["TABLE_REWRITE"]);
    const c = await db.client();
    expect((await c.query("SELECT s.sku, p.alt::text AS alt FROM skus s JOIN products p USING (id)")).rows).toEqual([{ sku: "AB", alt: "{C,D}" }]);
  });

  it("adds, drops and retypes composite attributes in place, and re-creates a type whose used attribute changes type", async () => {
    const added = await expectConverges(
      major,
      `CREATE TYPE addr AS (street text, zip int, old text); CREATE TABLE people (id int PRIMARY KEY, home addr);
       INSERT INTO people VALUES (1, ROW('Main', 123, 'x'));`,
      `CREATE TYPE addr AS (street text, zip int, city text); CREATE TABLE people (id int PRIMARY KEY, home addr);`,
    );
    expect(added.applied.plan.steps.map((s) => s.sql[0])).toEqual(['ALTER TYPE "public"."addr" DROP ATTRIBUTE "old", ADD ATTRIBUTE "city" text']);
    const c1 = await added.db.client();
    expect((await c1.query("SELECT (home).street, (home).zip FROM people")).rows).toEqual([{ street: "Main", zip: 123 }]);

    const unused = await expectConverges(major, "CREATE TYPE pt AS (x int, y int);", "CREATE TYPE pt AS (x bigint, y int);");
    expect(kinds(unused.applied.plan.steps)).toEqual(["alterCompositeType"]);

    const used = await expectConverges(
      major,
      `CREATE TYPE pt AS (x int, y int); CREATE TABLE shapes (id int PRIMARY KEY, p pt); INSERT INTO shapes VALUES (1, ROW(1, 2));`,
      `CREATE TYPE pt AS (x bigint, y int); CREATE TABLE shapes (id int PRIMARY KEY, p pt);`,
    );
    expect(kinds(used.applied.plan.steps)).toEqual(["recreateType"]);
    const c2 = await used.db.client();
    expect((await c2.query("SELECT (p).x::int AS x, (p).y FROM shapes")).rows).toEqual([{ x: 1, y: 2 }]);
  });

  it("re-creates a composite type nested in another that a column uses, through text, both ways, keeping data and the view over it", async () => {
    const a = `CREATE TYPE money_amount AS (value numeric, currency char(3)); CREATE TYPE price_range AS (low money_amount, high money_amount);
       CREATE TABLE offer (id int PRIMARY KEY, p price_range, ps price_range[] DEFAULT '{}'); CREATE VIEW lows AS SELECT id, (p).low FROM offer;`;
    const b = `CREATE TYPE money_amount AS (value numeric(12,2), currency char(3)); CREATE TYPE price_range AS (low money_amount, high money_amount, note text);
       CREATE TABLE offer (id int PRIMARY KEY, p price_range, ps price_range[] DEFAULT '{}'); CREATE VIEW lows AS SELECT id, (p).low FROM offer;`;
    const data = "INSERT INTO offer VALUES (1, ROW(ROW(1.5, 'EUR'), ROW(2.25, 'EUR')), ARRAY[ROW(ROW(1, 'USD'), NULL)::price_range]);";
    const there = await expectConverges(major, `${a} ${data}`, b);
    expect(kinds(there.applied.plan.steps)).toEqual(["dropView", "columnsToText", "alterCompositeType", "columnsFromText", "createView", "alterCompositeType"]);
    const c1 = await there.db.client();
    expect((await c1.query("SELECT p::text, ps::text FROM offer")).rows).toEqual([{ p: '("(1.50,EUR)","(2.25,EUR)",)', ps: '{"(\\"(1.00,USD)\\",,)"}' }]);
    const back = await expectConverges(major, `${b} INSERT INTO offer VALUES (1, ROW(ROW(1.5, 'EUR'), ROW(2.25, 'EUR'), 'n'));`, a);
    const c2 = await back.db.client();
    expect((await c2.query("SELECT (p).low::text AS low, ((p).high).value AS v FROM offer")).rows).toEqual([{ low: "(1.50,EUR)", v: "2.25" }]);
  });

  it("re-creates a range type and its multirange under the columns that use it", async () => {
    const { applied, db } = await expectConverges(
      major,
      `CREATE TYPE span AS RANGE (subtype = int4);
       CREATE TABLE bookings (id int PRIMARY KEY, during span); INSERT INTO bookings VALUES (1, '[1,5)');`,
      `CREATE FUNCTION int4_diff(a int4, b int4) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT (a - b)::float8';
       CREATE TYPE span AS RANGE (subtype = int4, subtype_diff = int4_diff);
       CREATE TABLE bookings (id int PRIMARY KEY, during span);`,
    );
    expect(kinds(applied.plan.steps)).toEqual(["createObject", "recreateType"]);
    const c = await db.client();
    expect((await c.query("SELECT during::text AS d FROM bookings")).rows).toEqual([{ d: "[1,5)" }]);
  });

  it("drops a domain after the column that used it changes type, and creates a new one before its column", async () => {
    await expectConverges(
      major,
      `CREATE DOMAIN old_d AS int; CREATE TABLE t (id int PRIMARY KEY, v old_d); INSERT INTO t VALUES (1, 1);`,
      `CREATE DOMAIN new_d AS bigint CHECK (VALUE >= 0); CREATE TABLE t (id int PRIMARY KEY, v new_d);`,
    );
  });
});
