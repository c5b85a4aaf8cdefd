import type { ClientBase } from "pg";
import { describe, expect, it } from "vitest";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { freshDatabase, majors, type TestDatabase } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

// Classic inheritance straight from the catalogs: parents in order, and each column's and CHECK's
// own/inherited state (attislocal, attinhcount, conislocal, coninhcount), independent of introspect.
async function inheritanceCatalog(c: ClientBase): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(`
    SELECT 'parents ' || i.inhrelid::regclass::text || ': ' || string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno) AS line
      FROM pg_inherits i GROUP BY i.inhrelid
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ': ' || format_type(a.atttypid, a.atttypmod)
           || ' local=' || a.attislocal || ' inherited=' || a.attinhcount || ' notnull=' || a.attnotnull
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'check ' || k.conrelid::regclass::text || '.' || k.conname || ': ' || pg_get_constraintdef(k.oid) || ' local=' || k.conislocal || ' inherited=' || k.coninhcount
      FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = 'public' AND k.contype = 'c'
    ORDER BY 1`);
  return rows.map((r) => r.line);
}

async function directly(major: PostgresMajor, sql: string): Promise<TestDatabase> {
  const db = await freshDatabase(major);
  await runSql(db, sql);
  return db;
}

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);
/** PostgreSQL 18 catalogs NOT NULL as named constraints: one a table keeps from a parent it leaves is renamed as the SQL run directly names it. */
const renamedOn18 = (major: number): string[] => (major >= 18 ? ["renameConstraint"] : []);

async function rows(db: TestDatabase, sql: string): Promise<unknown[]> {
  return (await (await db.client()).query(sql)).rows;
}

/**
 * The convergence contract, plus the inheritance catalog equal to the new SQL run directly, except
 * for `localOnly`: columns and CHECKs (`column table.name`, `check table.name`) a table needs before
 * `ALTER TABLE ... INHERIT` and PostgreSQL has no DDL to turn from its own into inherited-only: the
 * engine's result has them as the table's own, merged with the parent's.
 */
async function converges(major: PostgresMajor, oldSql: string, newSql: string, localOnly: readonly string[] = []) {
  let result;
  if (localOnly.length === 0) result = await expectConverges(major, oldSql, newSql);
  else {
    const db = await directly(major, oldSql);
    const applied = await applySchema(db.url, schemaFromSql(newSql), engineOptions(db, { allowHazards: "all" }));
    const again = await planSchema(db.url, schemaFromSql(newSql), engineOptions(db));
    expect(again.plan.steps.map((s) => s.sql)).toEqual([]);
    expect(again.plan.unmanaged).toEqual([]);
    result = { applied, db };
  }
  const live = await inheritanceCatalog(await result.db.client());
  const ref = await inheritanceCatalog(await (await directly(major, newSql)).client());
  const expected = ref.map((line) => (localOnly.some((c) => line.startsWith(`${c}:`)) ? line.replace(" local=false ", " local=true ") : line));
  expect(live).toEqual(expected);
  expect(result.applied.plan.unmanaged).toEqual([]);
  return result;
}

const VEHICLES = `CREATE TABLE vehicle (id int NOT NULL, wheels int DEFAULT 4, CONSTRAINT positive_wheels CHECK (wheels > 0));
CREATE TABLE tagged (tag text);`;

describe.each(majors())("table inheritance on PostgreSQL %i", (major) => {
  it("creates children after their parents, with several parents, merged columns and CHECKs, and is not unmanaged", async () => {
    const { applied } = await converges(
      major,
      "",
      `${VEHICLES}
       CREATE TABLE car (seats int, wheels int DEFAULT 4, CONSTRAINT positive_wheels CHECK (wheels > 0), CONSTRAINT seats_ok CHECK (seats < 10)) INHERITS (tagged, vehicle);
       CREATE TABLE sports_car (top_speed int) INHERITS (car);
       CREATE TABLE truck () INHERITS (vehicle);`,
    );
    expect(kinds(applied.plan.steps).filter((k) => k === "createTable")).toHaveLength(5);
  });

  it("creates and grows children of a parent with identity, serial and stored generated columns, and a CHECK NO INHERIT", async () => {
    const parent = (extra: string) =>
      `CREATE TABLE entry (id int GENERATED ALWAYS AS IDENTITY, seq serial, price numeric NOT NULL, gross numeric GENERATED ALWAYS AS (price * 1.2) STORED${extra},
         CONSTRAINT parent_only CHECK (price < 1000) NO INHERIT);`;
    await converges(major, "", `${parent("")} CREATE TABLE entry_eu (vat numeric) INHERITS (entry); CREATE TABLE entry_us () INHERITS (entry);`);
    const { db } = await converges(
      major,
      `${parent("")} CREATE TABLE entry_eu (vat numeric) INHERITS (entry); INSERT INTO entry_eu (id, price, vat) VALUES (1, 10, 0.2);`,
      `${parent(", note text DEFAULT 'none', half numeric GENERATED ALWAYS AS (price / 2) STORED")} CREATE TABLE entry_eu (vat numeric) INHERITS (entry);`,
    );
    expect(await rows(db, "SELECT price, gross, note, half FROM entry")).toEqual([{ price: "10", gross: "12.0", note: "none", half: "5.0000000000000000" }]);
  });

  it("adds a parent's new column, NOT NULL, default and CHECK once, through the parent, keeping rows", async () => {
    const before = `${VEHICLES} CREATE TABLE car (seats int) INHERITS (vehicle); CREATE TABLE truck (wheels int) INHERITS (vehicle);`;
    const { applied, db } = await converges(
      major,
      `${before} INSERT INTO car VALUES (1, 4, 5); INSERT INTO truck VALUES (2, 6); INSERT INTO vehicle VALUES (3, 2);`,
      `CREATE TABLE vehicle (id int NOT NULL, wheels int NOT NULL DEFAULT 6, color text DEFAULT 'red', CONSTRAINT positive_wheels CHECK (wheels > 0), CONSTRAINT has_color CHECK (color <> ''));
       CREATE TABLE tagged (tag text);
       CREATE TABLE car (seats int, color text DEFAULT 'red') INHERITS (vehicle);
       CREATE TABLE truck (wheels int) INHERITS (vehicle);`,
    );
    // The parent's ALTERs reach the children: only car, which declares color itself, adds it first.
    const tablesOf = (kind: string) => applied.plan.steps.filter((s) => s.kind === kind).map((s) => ("table" in s ? (s.table as { name: string }).name : ""));
    expect(tablesOf("addColumn").sort()).toEqual(["car", "vehicle"]);
    expect(tablesOf("setNotNull")).toEqual(["vehicle"]);
    expect(tablesOf("setDefault")).toEqual(["vehicle"]);
    expect(await rows(db, "SELECT id, wheels, color, tableoid::regclass::text AS t FROM vehicle ORDER BY id")).toEqual([
      { id: 1, wheels: 4, color: "red", t: "car" },
      { id: 2, wheels: 6, color: "red", t: "truck" },
      { id: 3, wheels: 2, color: "red", t: "vehicle" },
    ]);
  });

  it("adds a column at the top of three levels once, merged into a grandchild that declares it first", async () => {
    const { applied } = await converges(
      major,
      "CREATE TABLE node (id int); CREATE TABLE branch (depth int) INHERITS (node); CREATE TABLE leaf (payload text) INHERITS (branch); INSERT INTO leaf VALUES (1, 2, 'x');",
      "CREATE TABLE node (id int, label text DEFAULT 'n'); CREATE TABLE branch (depth int) INHERITS (node); CREATE TABLE leaf (payload text, label text DEFAULT 'n') INHERITS (branch);",
    );
    expect(applied.plan.steps.map((s) => s.sql.join("; "))).toEqual([
      `ALTER TABLE "public"."leaf" ADD COLUMN "label" text DEFAULT 'n'::text`,
      `ALTER TABLE "public"."node" ADD COLUMN "label" text DEFAULT 'n'::text`,
    ]);
  });

  it("changes a column's type on the parent once (PostgreSQL changes it in every child)", async () => {
    const tables = (type: string) =>
      `CREATE TABLE account (id ${type} NOT NULL, name text); CREATE TABLE admin (level int, id ${type}) INHERITS (account); CREATE TABLE root () INHERITS (admin);`;
    const { applied, db } = await converges(major, `${tables("int")} INSERT INTO root VALUES (7, 'r', 9); INSERT INTO account VALUES (1, 'a');`, tables("bigint"));
    expect(kinds(applied.plan.steps)).toEqual(["alterColumnType"]);
    expect(await rows(db, "SELECT id, name FROM account ORDER BY id")).toEqual([
      { id: "1", name: "a" },
      { id: "7", name: "r" },
    ]);
  });

  it("changes a parent's generated column — its expression, its type, to and from plain, what it reads retyped or re-created — through the parent, its children's copies following", async () => {
    const tables = (n: string, d: string, fn = "CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';") =>
      `${fn} CREATE TABLE reading (n ${n}, d ${d}); CREATE TABLE indoor (room int) INHERITS (reading); CREATE TABLE outdoor (site int) INHERITS (reading);`;
    const start = tables("int", "int GENERATED ALWAYS AS (n * 2) STORED");
    for (const to of [
      tables("int", "int GENERATED ALWAYS AS (n * 3) STORED"),
      tables("int", "bigint GENERATED ALWAYS AS (n * 2) STORED"),
      tables("bigint", "int GENERATED ALWAYS AS (n * 2) STORED"),
      tables("int", "int"),
      tables("int", "int GENERATED ALWAYS AS (twice(n)) STORED"),
    ]) {
      const { db } = await converges(major, `${start} INSERT INTO indoor (n, room) VALUES (5, 1); INSERT INTO outdoor (n, site) VALUES (7, 2);`, to);
      // Rows stay; generated values are computed again from the new expression (or kept as plain values).
      expect(await rows(db, "SELECT n::int AS n, d::int AS d FROM reading ORDER BY n")).toEqual([
        { n: 5, d: to.includes("n * 3") ? 15 : 10 },
        { n: 7, d: to.includes("n * 3") ? 21 : 14 },
      ]);
    }
    // A routine the parent's generated column calls gets a new signature: the column is added again once, through the parent.
    const calling = (arg: string) => tables("int", "int GENERATED ALWAYS AS (twice(n)) STORED", `CREATE FUNCTION twice(x ${arg}) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT (x * 2)::int';`);
    await converges(major, `${calling("int")} INSERT INTO indoor (n, room) VALUES (5, 1);`, calling("bigint"));
  });

  it("adds a second parent to a child, adding the parent's columns and CHECK to it first", async () => {
    const { applied, db } = await converges(
      major,
      `${VEHICLES} CREATE TABLE car (seats int) INHERITS (vehicle); INSERT INTO car VALUES (1, 4, 5);
       CREATE TABLE insured (policy text NOT NULL DEFAULT 'none', CONSTRAINT has_policy CHECK (policy <> ''));`,
      `${VEHICLES} CREATE TABLE insured (policy text NOT NULL DEFAULT 'none', CONSTRAINT has_policy CHECK (policy <> ''));
       CREATE TABLE car (seats int) INHERITS (vehicle, insured);`,
      ["column car.policy", "check car.has_policy"],
    );
    expect(kinds(applied.plan.steps).at(-1)).toBe("inherit");
    expect(await rows(db, "SELECT policy, tableoid::regclass::text AS t FROM insured")).toEqual([{ policy: "none", t: "car" }]);
  });

  it("removes a parent (NO INHERIT): the child keeps the columns as its own, and drops those it should not have", async () => {
    const { applied, db } = await converges(
      major,
      `${VEHICLES} CREATE TABLE car (seats int) INHERITS (tagged, vehicle); INSERT INTO car VALUES ('x', 1, 4, 5);`,
      `${VEHICLES} CREATE TABLE car (id int NOT NULL, wheels int DEFAULT 4, seats int, CONSTRAINT positive_wheels CHECK (wheels > 0)) INHERITS (tagged);`,
    );
    // On 18 the NOT NULL constraint the child keeps from its parent takes the name the SQL run directly gives it.
    expect(kinds(applied.plan.steps)).toEqual(["noInherit", ...renamedOn18(major)]);
    expect(await rows(db, "SELECT count(*)::int AS n FROM vehicle")).toEqual([{ n: 0 }]);

    const dropped = await converges(major, `${VEHICLES} CREATE TABLE car (seats int) INHERITS (vehicle); INSERT INTO car VALUES (1, 4, 5);`, `${VEHICLES} CREATE TABLE car (id int NOT NULL, seats int);`);
    expect(kinds(dropped.applied.plan.steps).sort()).toEqual(["dropColumn", "dropConstraint", "noInherit", ...renamedOn18(major)]);
    expect(dropped.applied.plan.steps.flatMap((s) => s.hazards.map((h) => h.code))).toEqual(["DATA_LOSS_DROP_COLUMN"]);
    expect(await rows(dropped.db, "SELECT * FROM car")).toEqual([{ id: 1, seats: 5 }]);
  });

  it("drops a parent after its kept children leave it, and a parent with its children", async () => {
    const { applied, db } = await converges(
      major,
      `${VEHICLES} CREATE TABLE car (seats int) INHERITS (vehicle); INSERT INTO car VALUES (1, 4, 5);`,
      "CREATE TABLE tagged (tag text); CREATE TABLE car (id int NOT NULL, wheels int DEFAULT 4, seats int, CONSTRAINT positive_wheels CHECK (wheels > 0));",
    );
    expect(kinds(applied.plan.steps)).toEqual(["noInherit", ...renamedOn18(major), "dropTable"]);
    // The parent holds no rows of its own; its child's stay with the child.
    expect(applied.plan.steps.at(-1)!.hazards.map((h) => h.message)).toEqual(["drops table public.vehicle (the table is empty)"]);
    expect(await rows(db, "SELECT * FROM car")).toEqual([{ id: 1, wheels: 4, seats: 5 }]);
    const both = await converges(major, `${VEHICLES} CREATE TABLE car (seats int) INHERITS (vehicle); CREATE TABLE bike () INHERITS (car);`, "CREATE TABLE tagged (tag text);");
    expect(both.applied.plan.steps.map((s) => ("table" in s ? (s.table as { name: string }).name : ""))).toEqual(["bike", "car", "vehicle"]);
  });

  it("drops a parent's column with ONLY: a child that declares it keeps it, one that does not loses it", async () => {
    const { applied, db } = await converges(
      major,
      "CREATE TABLE p (id int, note text); CREATE TABLE keeps (note text) INHERITS (p); CREATE TABLE loses () INHERITS (p); INSERT INTO keeps VALUES (1, 'k'); INSERT INTO loses VALUES (2, 'l');",
      "CREATE TABLE p (id int); CREATE TABLE keeps (note text) INHERITS (p); CREATE TABLE loses () INHERITS (p);",
    );
    expect(applied.plan.steps.map((s) => s.sql.join("; "))).toEqual(['ALTER TABLE ONLY "public"."p" DROP COLUMN "note"', 'ALTER TABLE "public"."loses" DROP COLUMN "note"']);
    expect(await rows(db, "SELECT * FROM keeps")).toEqual([{ id: 1, note: "k" }]);
  });

  it("turns a plain table into a child and back, keeping rows", async () => {
    const plain = "CREATE TABLE base (id int NOT NULL, CONSTRAINT id_positive CHECK (id > 0)); CREATE TABLE item (id int NOT NULL, label text);";
    const child = "CREATE TABLE base (id int NOT NULL, CONSTRAINT id_positive CHECK (id > 0)); CREATE TABLE item (label text) INHERITS (base);";
    const { applied, db } = await converges(major, `${plain} INSERT INTO item VALUES (5, 'five');`, child, ["column item.id", "check item.id_positive"]);
    expect(kinds(applied.plan.steps)).toEqual(["addConstraint", "validateConstraint", "inherit"]);
    expect(await rows(db, "SELECT id FROM base")).toEqual([{ id: 5 }]);
    const back = await converges(major, `${child} INSERT INTO item VALUES (6, 'six');`, plain.replace("label text", "label text, CONSTRAINT id_positive CHECK (id > 0)"));
    expect(kinds(back.applied.plan.steps)).toEqual(["noInherit", ...renamedOn18(major)]);
  });

  it("makes inherited columns and CHECKs a child now declares itself its own by linking the parent again", async () => {
    const parent = "CREATE TABLE p (id int, name text, CONSTRAINT named CHECK (name <> ''));";
    const { applied, db } = await converges(
      major,
      `${parent} CREATE TABLE c (extra int) INHERITS (p); INSERT INTO c VALUES (1, 'a', 2);`,
      `${parent} CREATE TABLE c (id int, name text, extra int, CONSTRAINT named CHECK (name <> '')) INHERITS (p);`,
    );
    expect(kinds(applied.plan.steps)).toEqual(["noInherit", "inherit"]);
    expect(await rows(db, "SELECT id, name FROM p")).toEqual([{ id: 1, name: "a" }]);
  });

  it("renames a parent and a parent's column once (PostgreSQL renames the column in every child)", async () => {
    const desired = {
      ...schemaFromSql("CREATE TABLE party (id int, full_name text); CREATE TABLE person (born date) INHERITS (party); CREATE TABLE staff (full_name text) INHERITS (person);"),
      renames: [
        { kind: "table" as const, schema: "public", from: "entity", to: "party" },
        { kind: "column" as const, schema: "public", table: "party", from: "name", to: "full_name" },
      ],
    };
    const { applied, db } = await expectConverges(
      major,
      "CREATE TABLE entity (id int, name text); CREATE TABLE person (born date) INHERITS (entity); CREATE TABLE staff (name text) INHERITS (person); INSERT INTO staff VALUES (1, 'Ada', NULL);",
      desired,
    );
    expect(kinds(applied.plan.steps)).toEqual(["renameTable", "renameColumn"]);
    expect(await rows(db, "SELECT full_name FROM party")).toEqual([{ full_name: "Ada" }]);
  });

  it("changes a parent's CHECK once, also where a child declares it too", async () => {
    const sql = (check: string) =>
      `CREATE TABLE p (n int, CONSTRAINT small CHECK (${check})); CREATE TABLE c1 () INHERITS (p); CREATE TABLE c2 (CONSTRAINT small CHECK (${check})) INHERITS (p);`;
    await converges(major, `${sql("n < 10")} INSERT INTO c1 VALUES (1);`, sql("n < 100"));
  });
});
