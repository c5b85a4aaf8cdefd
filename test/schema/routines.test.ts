import { describe, expect, it } from "vitest";
import { majors } from "../support/postgres";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { expectConverges } from "../support/schema";

const TABLE = "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), updated_at timestamptz);";
const TOUCH = `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;`;

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);

describe.each(majors())("functions, procedures and triggers on PostgreSQL %i", (major) => {
  it("creates routines of every body form, triggers (also constraint and disabled ones) and their comments", async () => {
    await expectConverges(
      major,
      "",
      `${TABLE}
       ${TOUCH}
       CREATE FUNCTION add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
       CREATE FUNCTION item_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM items; END;
       CREATE FUNCTION secret() RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$ BEGIN RETURN 'x'; END $$;
       CREATE FUNCTION pairs(n int, OUT i int, OUT sq int) RETURNS SETOF record LANGUAGE sql AS 'SELECT g, g * g FROM generate_series(1, n) g';
       CREATE PROCEDURE bump(delta numeric) LANGUAGE sql AS 'UPDATE items SET price = price + delta';
       CREATE FUNCTION check_price() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.price < 0 THEN RAISE EXCEPTION 'negative'; END IF; RETURN NEW; END $$;
       CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE CONSTRAINT TRIGGER items_price AFTER INSERT OR UPDATE OF price ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_price();
       CREATE TRIGGER items_audit AFTER DELETE ON items FOR EACH STATEMENT EXECUTE FUNCTION touch();
       ALTER TABLE items DISABLE TRIGGER items_audit;
       COMMENT ON FUNCTION add(int, int) IS 'adds';
       COMMENT ON PROCEDURE bump(numeric) IS 'raises prices';
       COMMENT ON TRIGGER items_touch ON items IS 'keeps updated_at';`,
    );
  });

  it("replaces a body, volatility, SECURITY DEFINER and search_path in place, keeping triggers and comments", async () => {
    const { applied, db } = await expectConverges(
      major,
      `${TABLE} ${TOUCH} CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE FUNCTION label(i items) RETURNS text LANGUAGE sql AS 'SELECT i.name';
       COMMENT ON FUNCTION touch() IS 'keeps updated_at';
       INSERT INTO items VALUES (1, 'a', 1, NULL);`,
      `${TABLE} CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$ BEGIN NEW.updated_at := '2000-01-01'; RETURN NEW; END $$;
       CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE FUNCTION label(i items) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper(i.name)';
       COMMENT ON FUNCTION touch() IS 'keeps updated_at';`,
    );
    expect(kinds(applied.plan.steps)).toEqual(["replaceObject", "replaceObject"]);
    expect(applied.plan.steps[0]!.sql[0]).toMatch(/^CREATE OR REPLACE FUNCTION/);
    const c = await db.client();
    await c.query("UPDATE items SET name = 'b'");
    expect((await c.query("SELECT updated_at::date::text AS d, label(items) AS l FROM items")).rows).toEqual([{ d: "2000-01-01", l: "B" }]);
  });

  it("drops and re-creates a routine whose signature or result changes, with the view that uses it around it", async () => {
    const { applied, db } = await expectConverges(
      major,
      `${TABLE} CREATE FUNCTION price_of(i int) RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT price FROM items WHERE id = i; END;
       CREATE VIEW priced AS SELECT id, price_of(id) AS p FROM items;
       CREATE FUNCTION twice(x numeric) RETURNS numeric LANGUAGE sql AS 'SELECT x * 2';
       INSERT INTO items VALUES (1, 'a', 2.5, NULL);`,
      `${TABLE} CREATE FUNCTION price_of(i int) RETURNS text LANGUAGE sql STABLE BEGIN ATOMIC SELECT price::text FROM items WHERE id = i; END;
       CREATE VIEW priced AS SELECT id, price_of(id) AS p FROM items;
       CREATE FUNCTION twice(x numeric, factor numeric DEFAULT 2) RETURNS numeric LANGUAGE sql AS 'SELECT x * factor';`,
    );
    expect(kinds(applied.plan.steps)).toEqual(["dropView", "dropObject", "dropObject", "createObject", "createView", "createObject"]);
    const c = await db.client();
    expect((await c.query("SELECT p, twice(1) AS s FROM priced")).rows).toEqual([{ p: "2.50", s: "2" }]);
  });

  it("replaces a plain trigger in place, re-creates a constraint trigger, toggles enable state, drops triggers before their function", async () => {
    const { applied } = await expectConverges(
      major,
      `${TABLE} ${TOUCH}
       CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
       CREATE TRIGGER t1 BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE CONSTRAINT TRIGGER t2 AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE TRIGGER t3 AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE TRIGGER t4 AFTER INSERT ON items FOR EACH STATEMENT EXECUTE FUNCTION noop();`,
      `${TABLE} ${TOUCH}
       CREATE TRIGGER t1 BEFORE INSERT OR UPDATE ON items FOR EACH ROW WHEN (NEW.price IS NOT NULL) EXECUTE FUNCTION touch();
       CREATE CONSTRAINT TRIGGER t2 AFTER INSERT OR UPDATE ON items DEFERRABLE FOR EACH ROW EXECUTE FUNCTION touch();
       CREATE TRIGGER t3 AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch();
       ALTER TABLE items DISABLE TRIGGER t3;`,
    );
    expect(applied.plan.steps.map((s) => `${s.kind} ${"object" in s ? s.object.name : "trigger" in s ? s.trigger.name : ""}`)).toEqual([
      "dropObject t2",
      "dropObject t4",
      "dropObject noop",
      "createObject t2",
      "replaceObject t1",
      "setTriggerEnabled t3",
    ]);
  });

  it("creates functions before a table whose default, check and index call them, and drops them after", async () => {
    await expectConverges(
      major,
      "",
      `CREATE FUNCTION new_code() RETURNS text LANGUAGE sql VOLATILE AS $$SELECT md5(random()::text)$$;
       CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(t)) $$;
       CREATE TABLE codes (id int PRIMARY KEY, code text DEFAULT new_code() CHECK (norm(code) <> ''));
       CREATE INDEX codes_norm ON codes (norm(code));`,
    );
    const { applied } = await expectConverges(
      major,
      `CREATE FUNCTION new_code() RETURNS text LANGUAGE sql VOLATILE AS $$SELECT md5(random()::text)$$;
       CREATE TABLE codes (id int PRIMARY KEY, code text DEFAULT new_code());`,
      "CREATE TABLE codes (id int PRIMARY KEY, code text);",
    );
    expect(kinds(applied.plan.steps)).toEqual(["dropDefault", "dropObject"]);
  });

  it("releases a column default around a function re-created for a new result type", async () => {
    const { applied, db } = await expectConverges(
      major,
      "CREATE FUNCTION code() RETURNS text LANGUAGE sql AS $$SELECT 'a'$$; CREATE TABLE t (id int PRIMARY KEY, c text DEFAULT code()); INSERT INTO t (id) VALUES (1);",
      "CREATE FUNCTION code() RETURNS varchar LANGUAGE sql AS $$SELECT 'b'$$; CREATE TABLE t (id int PRIMARY KEY, c text DEFAULT code());",
    );
    expect(kinds(applied.plan.steps)).toEqual(["dropDefault", "dropObject", "createObject", "setDefault"]);
    const c = await db.client();
    await c.query("INSERT INTO t (id) VALUES (2)");
    expect((await c.query("SELECT c FROM t ORDER BY id")).rows).toEqual([{ c: "a" }, { c: "b" }]);
  });

  it("drops and rebuilds a check and an index expression around a function re-created for a new signature, keeping data", async () => {
    const table =
      "CREATE TABLE tag (id int PRIMARY KEY, label text CHECK (norm(label) <> '')); CREATE UNIQUE INDEX tag_label_idx ON tag (norm(label)); COMMENT ON CONSTRAINT tag_label_check ON tag IS 'not blank'; COMMENT ON INDEX tag_label_idx IS 'one per label';";
    const { applied, db } = await expectConverges(
      major,
      `CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(t)) $$; ${table} INSERT INTO tag VALUES (1, ' A ');`,
      `CREATE FUNCTION norm(t text, strip text DEFAULT ' ') RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(btrim(t, strip)) $$; ${table}`,
    );
    // Rebuilt, the check and the index get their comments again.
    expect(kinds(applied.plan.steps)).toEqual(["dropConstraint", "dropIndex", "dropObject", "createObject", "addConstraint", "validateConstraint", "createIndex", "comment", "comment"]);
    const c = await db.client();
    expect((await c.query("SELECT obj_description(oid, 'pg_constraint') AS d FROM pg_constraint WHERE conname = 'tag_label_check' UNION ALL SELECT obj_description('tag_label_idx'::regclass, 'pg_class')")).rows).toEqual([{ d: "not blank" }, { d: "one per label" }]);
    expect((await c.query("SELECT id, label FROM tag")).rows).toEqual([{ id: 1, label: " A " }]);
    await expect(c.query("INSERT INTO tag VALUES (2, 'a')")).rejects.toThrow(/duplicate key value violates unique constraint "tag_label_idx"/);
  });

  it("a new signature whose defaults make the old calls ambiguous: the old routine goes first, and a default, a generated column, a domain CHECK, a CHECK and an index that call it go around it, keeping comments, grants and data", async () => {
    // While ok(int) and ok(int, int DEFAULT 0) both exist, "ok(n)" is "not unique": nothing that
    // calls it can be set up again until the old one is gone.
    const uses = `CREATE DOMAIN pos AS int CONSTRAINT pos_ok CHECK (ok(VALUE)) CONSTRAINT pos_small CHECK (VALUE < 1000);
       CREATE TABLE t (id int PRIMARY KEY, n pos, m int CONSTRAINT t_m_ok CHECK (ok(m)), flag boolean DEFAULT ok(1),
                       d int GENERATED ALWAYS AS (CASE WHEN ok(m) THEN m * 2 END) STORED);
       CREATE INDEX t_ok ON t (ok(m));
       CREATE VIEW doubled AS SELECT id, d FROM t;
       COMMENT ON COLUMN t.d IS 'twice m'; COMMENT ON CONSTRAINT t_m_ok ON t IS 'positive m'; COMMENT ON INDEX t_ok IS 'by sign';
       GRANT SELECT (id, d) ON t TO PUBLIC;`;
    const { applied, db } = await expectConverges(
      major,
      `CREATE FUNCTION ok(a int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT a > 0'; ${uses} INSERT INTO t (id, n, m) VALUES (1, 5, 7);`,
      `CREATE FUNCTION ok(a int, lim int DEFAULT 0) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT a > lim'; ${uses}`,
      // The generated column is added again at the end of the table (column order: ADR 0008).
      { verifyCatalogs: false },
    );
    const steps = applied.plan.steps;
    const at = (kind: string, sql: RegExp) => steps.findIndex((s) => s.kind === kind && s.sql.some((x) => sql.test(x)));
    const dropOld = at("dropObject", /DROP FUNCTION "public"."ok"\(integer\)/);
    const createNew = at("createObject", /FUNCTION public\.ok\(a integer, lim integer DEFAULT 0\)/);
    expect(dropOld).toBeGreaterThanOrEqual(0);
    expect(dropOld).toBeLessThan(createNew);
    // The domain keeps its columns: its CHECK is dropped and added again, no type is re-created.
    expect(kinds(steps)).not.toContain("recreateType");
    expect(at("dropDomainConstraint", /DROP CONSTRAINT "pos_ok"/)).toBeLessThan(dropOld);
    expect(at("addDomainConstraint", /ADD CONSTRAINT "pos_ok"/)).toBeGreaterThan(createNew);
    expect(at("dropColumn", /DROP COLUMN "d"/)).toBeLessThan(dropOld);
    expect(at("addColumn", /ADD COLUMN "d"/)).toBeGreaterThan(createNew);
    expect(at("setDefault", /SET DEFAULT ok\(1\)/)).toBeGreaterThan(createNew);
    const c = await db.client();
    expect((await c.query("SELECT id, n, m, d, flag FROM t")).rows).toEqual([{ id: 1, n: 5, m: 7, d: 14, flag: true }]);
    await expect(c.query("INSERT INTO t (id, n, m) VALUES (2, -1, 1)")).rejects.toThrow(/violates check constraint "pos_ok"/);
    await c.query("INSERT INTO t (id, n, m) VALUES (3, 2, 3)");
    expect((await c.query("SELECT d, flag FROM t WHERE id = 3")).rows).toEqual([{ d: 6, flag: true }]);
    const described = await c.query<{ what: string; comment: string }>(
      `SELECT 'column' AS what, col_description('t'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'd')) AS comment
       UNION ALL SELECT 'constraint', obj_description((SELECT oid FROM pg_constraint WHERE conname = 't_m_ok'), 'pg_constraint')
       UNION ALL SELECT 'index', obj_description('t_ok'::regclass, 'pg_class')`,
    );
    expect(described.rows).toEqual([
      { what: "column", comment: "twice m" },
      { what: "constraint", comment: "positive m" },
      { what: "index", comment: "by sign" },
    ]);
    expect((await c.query("SELECT has_column_privilege('public', 't', 'd', 'SELECT') AS granted")).rows).toEqual([{ granted: true }]);
  });

  it("keeps triggers and policies with their table through a declared rename", async () => {
    const fn = "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;";
    const after = (t: string) =>
      `${fn} CREATE TABLE ${t} (id int PRIMARY KEY, owner text); ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
       CREATE POLICY mine ON ${t} USING (owner = current_user);
       CREATE TRIGGER t1 BEFORE INSERT ON ${t} FOR EACH ROW EXECUTE FUNCTION noop();
       CREATE CONSTRAINT TRIGGER t2 AFTER INSERT ON ${t} FOR EACH ROW EXECUTE FUNCTION noop();`;
    const desired = { ...schemaFromSql(after("renamed")), renames: [{ kind: "table" as const, schema: "public", from: "orig", to: "renamed" }] };
    const { applied } = await expectConverges(major, after("orig"), desired);
    expect(applied.plan.steps[0]!.kind).toBe("renameTable");
    expect(kinds(applied.plan.steps)).not.toContain("dropTable");
  });

  it("gives re-created views and routines their grants and revocations back", async () => {
    const schema = (type: string) => `${TABLE.replace("price numeric(10,2)", `price ${type}`)}
       CREATE VIEW prices AS SELECT id, price FROM items;
       CREATE FUNCTION cheapest() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT min(price) FROM prices; END;
       GRANT SELECT, UPDATE ON prices TO PUBLIC;
       REVOKE EXECUTE ON FUNCTION cheapest() FROM PUBLIC;`;
    const { applied, db } = await expectConverges(major, schema("numeric(10,2)"), schema("numeric(12,2)"));
    expect(kinds(applied.plan.steps)).toEqual(["dropObject", "dropView", "alterColumnType", "createView", "createObject", "revokePrivileges", "grantPrivileges"]);
    const c = await db.client();
    const acl = await c.query("SELECT (SELECT relacl::text FROM pg_class WHERE relname = 'prices') AS v, (SELECT proacl::text FROM pg_proc WHERE proname = 'cheapest') AS f");
    expect(acl.rows[0].v).toMatch(/=rw\//);
    expect(acl.rows[0].f).not.toMatch(/(^|[{,])=X/);
  });

  it("re-creates a trigger whose WHEN reads a column around that column's type change", async () => {
    const { applied, db } = await expectConverges(
      major,
      `${TABLE} ${TOUCH} CREATE TRIGGER t1 BEFORE UPDATE OF price ON items FOR EACH ROW WHEN (NEW.price > 0) EXECUTE FUNCTION touch();
       INSERT INTO items VALUES (1, 'a', 2.5, NULL);`,
      `${TABLE.replace("price numeric(10,2)", "price numeric(12,2)")} ${TOUCH} CREATE TRIGGER t1 BEFORE UPDATE OF price ON items FOR EACH ROW WHEN (NEW.price > 0) EXECUTE FUNCTION touch();`,
    );
    expect(kinds(applied.plan.steps)).toEqual(["dropObject", "alterColumnType", "createObject"]);
    const c = await db.client();
    expect((await c.query("SELECT price FROM items")).rows).toEqual([{ price: "2.50" }]);
  });
});

describe.each(majors())("aggregates on PostgreSQL %i", (major) => {
  it("creates, replaces and re-creates aggregates with their support functions and comments", async () => {
    const support = `CREATE FUNCTION add_sq(s numeric, v numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT s + v * v';
      CREATE FUNCTION root(s numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT sqrt(s)';
      CREATE FUNCTION as_text(s numeric) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT s::text';`;
    await expectConverges(
      major,
      "",
      `${support}
       CREATE AGGREGATE norm(numeric) (SFUNC = add_sq, STYPE = numeric, FINALFUNC = root, INITCOND = '0', PARALLEL = SAFE);
       CREATE AGGREGATE my_max(int) (SFUNC = int4larger, STYPE = int, SORTOP = >);
       CREATE AGGREGATE counter(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0');
       COMMENT ON AGGREGATE norm(numeric) IS 'euclidean norm';`,
    );
    const { applied, db } = await expectConverges(
      major,
      `${support} CREATE AGGREGATE norm(numeric) (SFUNC = add_sq, STYPE = numeric, FINALFUNC = root, INITCOND = '0');
       CREATE AGGREGATE sq_sum(numeric) (SFUNC = add_sq, STYPE = numeric);
       CREATE VIEW v AS SELECT norm(x) AS n FROM (VALUES (3), (4)) t(x);`,
      `${support} CREATE AGGREGATE norm(numeric) (SFUNC = add_sq, STYPE = numeric, FINALFUNC = root, INITCOND = '0', PARALLEL = SAFE);
       CREATE AGGREGATE sq_sum(numeric) (SFUNC = add_sq, STYPE = numeric, FINALFUNC = as_text);
       CREATE VIEW v AS SELECT norm(x) AS n FROM (VALUES (3), (4)) t(x);`,
    );
    expect(kinds(applied.plan.steps).sort()).toEqual(["createObject", "dropObject", "replaceObject"]);
    const c = await db.client();
    expect((await c.query("SELECT round(n, 3)::text AS n FROM v")).rows).toEqual([{ n: "5.000" }]);
  });
});
