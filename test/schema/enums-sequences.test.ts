import { describe, expect, it } from "vitest";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { ExtensionInUseError } from "../../sdk/schema/probes/extension-dependents";
import { HazardsRefusedError } from "../../sdk/schema/plan/plan";
import { schemaFromSql } from "../../sdk/schema/source/desired";
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

  it("re-creates an enum under columns whose default goes away or changes, in another schema too, keeping data", async () => {
    const { db } = await expectConverges(
      major,
      `CREATE SCHEMA billing; CREATE TYPE billing.mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');
       CREATE TABLE billing.diary (id int PRIMARY KEY, mood billing.mood NOT NULL DEFAULT 'happy', moods billing.mood[] DEFAULT '{ok}');
       INSERT INTO billing.diary (id) VALUES (1);`,
      `CREATE SCHEMA billing; CREATE TYPE billing.mood AS ENUM ('sad', 'ok', 'happy');
       CREATE TABLE billing.diary (id int PRIMARY KEY, mood billing.mood, moods billing.mood[] DEFAULT '{}');`,
    );
    const c = await db.client();
    expect((await c.query("SELECT id, mood::text, moods::text FROM billing.diary")).rows).toEqual([{ id: 1, mood: "happy", moods: "{ok}" }]);
  });

  it("removes an enum value under what names the type or reads its columns: checks, partial and expression indexes, exclusions, generated columns, partitions, a domain and a range over it", async () => {
    // `values` of the enum; `other`: the value a CHECK, a child's own default and a domain refuse or use.
    const schema = (values: string, other: string) => `CREATE EXTENSION IF NOT EXISTS btree_gist;
       CREATE TYPE st AS ENUM (${values});
       CREATE TABLE t (id int, s st DEFAULT 'open' CHECK (s <> 'open' OR id > 0), isopen boolean GENERATED ALWAYS AS (s = 'open') STORED, during tsrange,
         EXCLUDE USING gist (during WITH &&) WHERE (s = 'open'));
       CREATE INDEX t_open ON t (id) WHERE s = 'open';
       CREATE INDEX t_closed ON t ((s <> 'open'));
       CREATE TABLE u (code text CHECK (code::st <> '${other}'));
       CREATE TABLE m (s st DEFAULT 'open', k int) PARTITION BY RANGE (k);
       CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (10);
       CREATE TABLE p (s st DEFAULT 'open');
       CREATE TABLE c (x int) INHERITS (p);
       ALTER TABLE c ALTER COLUMN s SET DEFAULT '${other}';
       CREATE TABLE by_state (s st, n int) PARTITION BY LIST (s);
       CREATE TABLE by_state_open PARTITION OF by_state FOR VALUES IN ('open');
       CREATE DOMAIN live_st AS st CHECK (VALUE <> '${other}');
       CREATE TYPE st_range AS RANGE (subtype = st);
       CREATE TABLE w (l live_st, r st_range);`;
    const { db } = await expectConverges(
      major,
      `${schema("'open', 'hold', 'gone'", "hold")}
       INSERT INTO t (id, s, during) VALUES (1, 'open', '[2024-01-01,2024-02-01)'), (2, 'gone', '[2024-01-01,2024-02-01)');
       INSERT INTO u VALUES ('open'); INSERT INTO m VALUES ('open', 1); INSERT INTO c (s, x) VALUES ('gone', 7);
       INSERT INTO w VALUES ('open', '[open,gone]');`,
      schema("'open', 'gone'", "gone"),
      { allowHazards: "all" },
    );
    const c = await db.client();
    const rows = async (sql: string) => (await c.query(sql)).rows;
    // Converted, not re-created: rows and generated values stay; the partitioned tree keyed by the enum is re-created (DATA_LOSS hazard).
    expect(await rows("SELECT id, s::text, isopen FROM t ORDER BY id")).toEqual([{ id: 1, s: "open", isopen: true }, { id: 2, s: "gone", isopen: false }]);
    expect(await rows("SELECT s::text, k FROM m")).toEqual([{ s: "open", k: 1 }]);
    expect(await rows("SELECT s::text, x FROM c")).toEqual([{ s: "gone", x: 7 }]);
    expect(await rows("SELECT l::text, r::text FROM w")).toEqual([{ l: "open", r: "[open,gone]" }]);
    // The rebuilt checks hold, and the child keeps a default of its own after its parent's recursed.
    await expect(c.query("INSERT INTO u VALUES ('gone')")).rejects.toThrow(/u_code_check/);
    await c.query("INSERT INTO c (x) VALUES (8)");
    expect(await rows("SELECT s::text FROM c WHERE x = 8")).toEqual([{ s: "gone" }]);
  });

  it("removes an enum value under foreign keys and checks across converted columns, a default calling a routine over it, and a domain over its array", async () => {
    const body = `COMMENT ON TYPE st IS 'kinds of item';
       CREATE TABLE kind (k st PRIMARY KEY);
       CREATE TABLE item (id int, k st REFERENCES kind, ks st[] DEFAULT ARRAY['a']::st[], CHECK (k = ANY (ks)));
       CREATE FUNCTION first_st() RETURNS st LANGUAGE sql AS 'SELECT ''a''::st';
       CREATE TABLE note (s st DEFAULT first_st());
       CREATE DOMAIN st_list AS st[] CHECK (cardinality(VALUE) < 5);
       CREATE TABLE bag (l st_list);`;
    const { db } = await expectConverges(
      major,
      `CREATE TYPE st AS ENUM ('a', 'b', 'c'); ${body}
       INSERT INTO kind VALUES ('a'), ('b'); INSERT INTO item VALUES (1, 'b', '{a,b}'); INSERT INTO bag VALUES ('{a,b}');`,
      `CREATE TYPE st AS ENUM ('a', 'b'); ${body}`,
    );
    const c = await db.client();
    expect((await c.query("SELECT id, k::text, ks::text FROM item")).rows).toEqual([{ id: 1, k: "b", ks: "{a,b}" }]);
    expect((await c.query("SELECT l::text FROM bag")).rows).toEqual([{ l: "{a,b}" }]);
    await c.query("INSERT INTO note DEFAULT VALUES");
    expect((await c.query("SELECT s::text FROM note")).rows).toEqual([{ s: "a" }]);
    await expect(c.query("INSERT INTO item VALUES (2, 'b', '{a}')")).rejects.toThrow(/item_check/);
  });

  it("changes a column's type and drops its default together", async () => {
    const { db } = await expectConverges(major, "CREATE TABLE t (a text DEFAULT 'x'); INSERT INTO t VALUES ('12');", "CREATE TABLE t (a integer);");
    expect((await (await db.client()).query("SELECT a FROM t")).rows).toEqual([{ a: 12 }]);
  });

  it("refuses a value removal that rows still use (or, without data probes, fails it and rolls back), leaving the database untouched", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TYPE color AS ENUM ('red', 'blue'); CREATE TABLE t (c color); INSERT INTO t VALUES ('blue');");
    const desired = schemaFromSql("CREATE TYPE color AS ENUM ('red'); CREATE TABLE t (c color);");
    // The plan's data probe finds the row first, and nothing runs.
    await expect(applySchema(db.url, desired, engineOptions(db, { allowHazards: "all" }))).rejects.toThrow(/CAST_FAILS: recreating enum public\.color without 'blue'.*1 row holds a removed value/);
    // Without the probes, the apply itself fails and rolls back.
    await expect(applySchema(db.url, desired, engineOptions(db, { allowHazards: "all", dataProbes: false }))).rejects.toThrow(/invalid input value for enum/);
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

  it("changes a sequence's bounds around its current value: kept inside them, restarted at START outside", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE SEQUENCE inside; CREATE SEQUENCE outside AS integer START 1000 MINVALUE 1000 MAXVALUE 999999; SELECT nextval('inside'), nextval('inside'), nextval('outside');");
    const desired = schemaFromSql(
      "CREATE SEQUENCE inside AS smallint MINVALUE 1 MAXVALUE 500; CREATE SEQUENCE outside AS smallint INCREMENT -1 MINVALUE -100 MAXVALUE 100 START 100 CYCLE;",
    );
    await applySchema(db.url, desired, engineOptions(db, { allowHazards: "all" }));
    expect((await planSchema(db.url, desired, engineOptions(db))).plan.steps).toEqual([]);
    const c = await db.client();
    expect((await c.query("SELECT nextval('inside')::int AS i, nextval('outside')::int AS o")).rows).toEqual([{ i: 3, o: 100 }]);
    await expectConverges(major, "CREATE SEQUENCE invoice_no;", "CREATE SEQUENCE invoice_no AS integer START 1000 INCREMENT 5 MINVALUE 1000 MAXVALUE 999999 CACHE 10;");
  });

  it("turns serial into identity and identity into serial, keeping rows and going on past their values", async () => {
    const serial = await expectConverges(
      major,
      "CREATE TABLE widget (id bigserial PRIMARY KEY, name text); INSERT INTO widget (name) VALUES ('a'), ('b');",
      "CREATE TABLE widget (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text);",
    );
    let c = await serial.db.client();
    await c.query("INSERT INTO widget (name) VALUES ('c')");
    expect((await c.query("SELECT id, name FROM widget ORDER BY id")).rows).toEqual([{ id: 1, name: "a" }, { id: 2, name: "b" }, { id: 3, name: "c" }]);
    expect((await c.query("SELECT pg_get_serial_sequence('widget', 'id') AS s")).rows).toEqual([{ s: "public.widget_id_seq" }]);

    const identity = await expectConverges(
      major,
      "CREATE TABLE widget (id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 10) PRIMARY KEY, name text); INSERT INTO widget (name) VALUES ('a'), ('b');",
      "CREATE TABLE widget (id serial PRIMARY KEY, name text);",
    );
    c = await identity.db.client();
    await c.query("INSERT INTO widget (name) VALUES ('c')");
    expect((await c.query("SELECT id, name FROM widget ORDER BY id")).rows).toEqual([{ id: 100, name: "a" }, { id: 110, name: "b" }, { id: 111, name: "c" }]);
  });

  it("drops a serial column together with its owned sequence", async () => {
    await expectConverges(major, "CREATE TABLE t (id serial, n int);", "CREATE TABLE t (n int);");
  });

  it("moves an extension to another schema with ALTER EXTENSION ... SET SCHEMA, also from a schema the plan does not manage", async () => {
    const moved = await expectConverges(major, "CREATE EXTENSION pg_trgm; CREATE TABLE w (t text);", "CREATE SCHEMA ext; CREATE EXTENSION pg_trgm SCHEMA ext; CREATE TABLE w (t text);");
    expect(moved.applied.plan.steps.map((s) => s.sql[0])).toEqual(['CREATE SCHEMA "ext"', 'ALTER EXTENSION "pg_trgm" SET SCHEMA "ext"']);
    // Back to public from `ext`, which the desired state does not have (so it is not managed, and stays).
    const db = await freshDatabase(major);
    await runSql(db, "CREATE SCHEMA ext; CREATE EXTENSION pg_trgm SCHEMA ext; CREATE TABLE w (t text); INSERT INTO w VALUES ('abc');");
    const desired = schemaFromSql("CREATE EXTENSION pg_trgm; CREATE TABLE w (t text); CREATE INDEX w_trgm ON w USING gin (t gin_trgm_ops);");
    const applied = await applySchema(db.url, desired, engineOptions(db, { allowHazards: "all" }));
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["setExtensionSchema", "createIndex"]);
    expect((await planSchema(db.url, desired, engineOptions(db))).plan.steps).toEqual([]);
    const c = await db.client();
    expect((await c.query("SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")).rows).toEqual([{ schema: "public" }]);
    expect((await c.query("SELECT count(*)::int AS n FROM w WHERE t % 'abd'")).rows).toEqual([{ n: 1 }]);
  });

  it("drops what uses an extension (exclusion constraint, default, index, another extension) before the extension", async () => {
    const { applied, db } = await expectConverges(
      major,
      `CREATE EXTENSION btree_gist; CREATE EXTENSION cube; CREATE EXTENSION earthdistance; CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION pg_trgm;
       CREATE TABLE booking (id int PRIMARY KEY, room int, during tstzrange, ref uuid DEFAULT uuid_generate_v4(), note text,
         CONSTRAINT booking_excl EXCLUDE USING gist (room WITH =, during WITH &&));
       CREATE INDEX booking_note ON booking USING gin (note gin_trgm_ops);
       CREATE TABLE token (id uuid DEFAULT uuid_generate_v4());
       INSERT INTO booking (id, room, during, note) VALUES (1, 1, '[2026-01-01,2026-01-02)', 'x');`,
      "CREATE TABLE booking (id int PRIMARY KEY, room int, during tstzrange, ref uuid, note text);",
    );
    const steps = applied.plan.steps.map((s) => (s.kind === "dropExtension" ? `dropExtension ${s.extension.name}` : s.kind));
    const at = (k: string) => steps.indexOf(k);
    for (const ext of ["btree_gist", "uuid-ossp", "pg_trgm", "cube"]) expect(at(`dropExtension ${ext}`)).toBeGreaterThan(Math.max(at("dropConstraint"), at("dropDefault"), at("dropIndex"), at("dropTable")));
    expect(at("dropExtension cube")).toBeGreaterThan(at("dropExtension earthdistance"));
    const c = await db.client();
    expect((await c.query("SELECT id, room, note FROM booking")).rows).toEqual([{ id: 1, room: 1, note: "x" }]);
  });

  it("refuses at plan time to drop an extension that objects outside the managed schemas use, and changes nothing", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE EXTENSION citext; CREATE SCHEMA other; CREATE TABLE other.handle (name citext); CREATE TABLE t (id int);");
    const desired = schemaFromSql("CREATE TABLE t (id int, n int);");
    const err = await applySchema(db.url, desired, engineOptions(db, { allowHazards: "all" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtensionInUseError);
    expect((err as ExtensionInUseError).dependents).toEqual([{ extension: "citext", object: "column name of table other.handle" }]);
    expect((err as Error).message).toContain("Keep the extension in the desired schema");
    const c = await db.client();
    expect((await c.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'citext'")).rows).toEqual([{ n: 1 }]);
    expect((await c.query("SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'")).rows).toEqual([{ n: 0 }]);
  });

  it("creates and drops extensions, and types from extensions work in columns", async () => {
    await expectConverges(major, "CREATE EXTENSION hstore;", "CREATE EXTENSION citext; CREATE TABLE u (email citext UNIQUE);");
  });
});
