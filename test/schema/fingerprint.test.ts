import { describe, expect, it } from "vitest";
import { planSchema } from "../../sdk/schema/engine";
import { scopedCatalogFingerprint, scopedCatalogState } from "../../sdk/schema/introspect/fingerprint";
import { catalogFingerprint } from "../../sdk/schema/introspect/introspect";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, runSql } from "../support/schema";

describe.each(majors())("catalog fingerprint on PostgreSQL %i", (major) => {
  it("changes with every kind of DDL the engine reads, and not with data changes or ANALYZE", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TYPE mood AS ENUM ('ok'); CREATE TABLE t (id int PRIMARY KEY, m mood, n int); CREATE SEQUENCE s;");
    const c = await db.client();
    let before = await catalogFingerprint(c);
    await c.query("INSERT INTO t SELECT g, 'ok', g FROM generate_series(1, 100) g; ANALYZE t; SELECT nextval('s');");
    expect(await catalogFingerprint(c)).toBe(before);
    for (const ddl of [
      "ALTER TABLE t ADD COLUMN x text",
      "ALTER TABLE t ALTER COLUMN n SET DEFAULT 5",
      "COMMENT ON COLUMN t.n IS 'n'",
      "CREATE INDEX t_n ON t (n)",
      "ALTER TYPE mood ADD VALUE 'sad'",
      "ALTER SEQUENCE s INCREMENT BY 2",
      "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0)",
      "ALTER TABLE t SET (fillfactor = 90)",
      "ALTER TABLE t DROP COLUMN x",
      "CREATE VIEW v AS SELECT id FROM t",
      "ALTER TABLE t RENAME COLUMN n TO n2",
      "CREATE EXTENSION pgcrypto",
      "COMMENT ON EXTENSION pgcrypto IS 'hashing'",
      "CREATE CAST (mood AS int) WITH INOUT",
      "CREATE FUNCTION audit() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END'",
      "CREATE EVENT TRIGGER audit ON ddl_command_end EXECUTE FUNCTION audit()",
      "CREATE OPERATOR FAMILY fam USING btree",
    ]) {
      await c.query(ddl);
      const after = await catalogFingerprint(c);
      expect(after, ddl).not.toBe(before);
      before = after;
    }
  });

  it("scoped to schemas: changes with DDL on them or on what they refer to elsewhere, not with DDL in other schemas", async () => {
    const db = await freshDatabase(major);
    await runSql(
      db,
      `CREATE SCHEMA app; CREATE SCHEMA other; CREATE SCHEMA shared;
       CREATE TABLE shared.lookup (id int PRIMARY KEY);
       CREATE TYPE app.mood AS ENUM ('ok');
       CREATE TABLE app.t (id int PRIMARY KEY, m app.mood, n int, l int REFERENCES shared.lookup (id));
       CREATE VIEW app.v AS SELECT t.id, s.id AS lookup FROM app.t JOIN shared.lookup s ON s.id = t.l;
       CREATE TABLE other.x (id int);`,
    );
    const c = await db.client();
    const fp = () => scopedCatalogFingerprint(c, ["public", "app"]);
    let before = await fp();
    await c.query("INSERT INTO app.t (id, m, n) SELECT g, 'ok', g FROM generate_series(1, 100) g; ANALYZE app.t;");
    for (const elsewhere of ["ALTER TABLE other.x ADD COLUMN y int", "CREATE TABLE other.z (id int)", "CREATE FUNCTION other.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "COMMENT ON TABLE other.x IS 'x'"]) {
      await c.query(elsewhere);
      expect(await fp(), elsewhere).toBe(before);
    }
    for (const ddl of [
      "ALTER TABLE app.t ADD COLUMN x text",
      "ALTER TABLE app.t ALTER COLUMN n SET DEFAULT 5",
      "COMMENT ON COLUMN app.t.n IS 'n'",
      "CREATE INDEX t_n ON app.t (n)",
      "ALTER TYPE app.mood ADD VALUE 'sad'",
      "ALTER TABLE app.t ADD CONSTRAINT n_pos CHECK (n > 0)",
      "CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
      "CREATE TRIGGER t_touch BEFORE UPDATE ON app.t FOR EACH ROW EXECUTE FUNCTION app.touch()",
      "ALTER TABLE app.t ENABLE ROW LEVEL SECURITY",
      "CREATE POLICY p ON app.t USING (n > 0)",
      "GRANT SELECT ON app.t TO PUBLIC",
      "CREATE TABLE public.p (id int)",
      "CREATE TABLE app.child () INHERITS (public.p)",
      "ALTER TABLE app.child NO INHERIT public.p",
      "ALTER TABLE app.child INHERIT public.p",
      "CREATE TABLE app.kid () INHERITS (other.x)",
      // A parent elsewhere: renaming it changes how the child names it.
      "ALTER TABLE other.x RENAME TO x2",
      // Objects elsewhere that the schemas refer to: renaming them changes how ours print.
      "ALTER TABLE shared.lookup RENAME TO lookup2",
      "ALTER SCHEMA shared RENAME TO shared2",
      "ALTER TABLE app.t DROP COLUMN x",
      "DROP VIEW app.v",
      // Read whatever the scope: extensions and their comments, casts and event triggers.
      "CREATE EXTENSION pgcrypto SCHEMA other",
      "COMMENT ON EXTENSION pgcrypto IS 'hashing'",
      "CREATE CAST (app.mood AS int) WITH INOUT",
      "CREATE FUNCTION app.audit() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END'",
      "CREATE EVENT TRIGGER audit ON ddl_command_end EXECUTE FUNCTION app.audit()",
      "ALTER EVENT TRIGGER audit DISABLE",
      "CREATE OPERATOR FAMILY app.fam USING btree",
    ]) {
      await c.query(ddl);
      const after = await fp();
      expect(after, ddl).not.toBe(before);
      before = after;
    }
  });

  it("a drift check in the same process sees an out-of-band change made after a converged plan", async () => {
    const db = await freshDatabase(major);
    const desired = schemaFromSql("CREATE TABLE t (id int PRIMARY KEY);");
    await runSql(db, "CREATE TABLE t (id int PRIMARY KEY);");
    expect((await planSchema(db.url, desired, engineOptions(db, { cacheDir: undefined }))).plan.steps).toEqual([]);
    await runSql(db, "ALTER TABLE t ADD COLUMN sneaky int");
    const again = await planSchema(db.url, desired, engineOptions(db, { cacheDir: undefined }));
    expect(again.plan.steps.map((s) => s.kind)).toEqual(["dropColumn"]);
  });

  it("scopes that differ only in schemas not created yet share a fingerprint, and a schema created later is seen", async () => {
    const db = await freshDatabase(major);
    const c = await db.client();
    const a = await scopedCatalogState(c, ["public", "tenant_a"]);
    const b = await scopedCatalogState(c, ["public", "tenant_b"]);
    expect(a).toEqual({ fingerprint: b.fingerprint, existing: ["public"] });
    expect(a.fingerprint).toBe(await scopedCatalogFingerprint(c, ["public"]));
    // The engine reads public once for both tenants' plans; tenant_b created out of band between
    // two plans of its desired schema is still seen by the second.
    const desired = schemaFromSql("CREATE SCHEMA tenant_b; CREATE TABLE tenant_b.t (id int PRIMARY KEY);");
    const options = engineOptions(db, { cacheDir: undefined });
    expect((await planSchema(db.url, schemaFromSql("CREATE SCHEMA tenant_a; CREATE TABLE tenant_a.t (id int);"), options)).plan.steps.length).toBeGreaterThan(0);
    expect((await planSchema(db.url, desired, options)).plan.steps.map((s) => s.kind)).toEqual(["createSchema", "createTable"]);
    await runSql(db, "CREATE SCHEMA tenant_b; CREATE TABLE tenant_b.t (id int PRIMARY KEY, extra text);");
    expect(await scopedCatalogState(c, ["public", "tenant_b"])).toMatchObject({ existing: ["public", "tenant_b"] });
    expect((await planSchema(db.url, desired, options)).plan.steps.map((s) => s.kind)).toEqual(["dropColumn"]);
  });
});
