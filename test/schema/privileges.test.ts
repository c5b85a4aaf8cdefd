import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteIdent } from "../../sdk/postgres/quote";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { closeDevResources } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { createPasswordRole, freshDatabase, majors, runOnServer, servers, type TestDatabase } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);
const codes = (steps: readonly { hazards: readonly { code: string }[] }[]) => [...new Set(steps.flatMap((s) => s.hazards.map((h) => h.code)))].sort();

// Roles are server-wide: each run gets its own names, created on every server and dropped at the end.
const suffix = randomBytes(3).toString("hex");
const RO = `ro_${suffix}`;
const RW = `rw_${suffix}`;
const OWNER = `owner_${suffix}`;
const NOBODY = `nobody_${suffix}`;
const ROLES = [RO, RW, OWNER, NOBODY];

beforeAll(async () => {
  for (const s of servers()) for (const r of ROLES) await runOnServer(s.major, `CREATE ROLE ${quoteIdent(r)} NOLOGIN`);
});

afterAll(async () => {
  await closeDevResources();
  for (const s of servers()) for (const r of ROLES) await runOnServer(s.major, `DROP ROLE IF EXISTS ${quoteIdent(r)}`).catch(() => undefined);
});

async function rows<T>(db: TestDatabase, sql: string): Promise<T[]> {
  return (await (await db.client()).query(sql)).rows as T[];
}

const EVERY_KIND = `
  CREATE SCHEMA app;
  CREATE TYPE app.mood AS ENUM ('ok', 'sad');
  CREATE DOMAIN app.posint AS int CHECK (VALUE > 0);
  CREATE TYPE app.pair AS (a int, b int);
  CREATE TYPE app.span AS RANGE (subtype = int4);
  CREATE TABLE app.items (id serial PRIMARY KEY, name text, secret text, m app.mood);
  CREATE TABLE app.events (at date NOT NULL, v int) PARTITION BY RANGE (at);
  CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
  CREATE SEQUENCE app.tickets;
  CREATE VIEW app.names AS SELECT id, name FROM app.items;
  CREATE MATERIALIZED VIEW app.counts AS SELECT count(*) AS n FROM app.items;
  CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
  CREATE PROCEDURE app.touch() LANGUAGE sql AS 'SELECT 1';
  CREATE AGGREGATE app.total(int) (SFUNC = int4pl, STYPE = int);`;

describe.each(majors())("owners and privileges on PostgreSQL %i", (major) => {
  it("grants on every kind, columns, with grant option, and revokes PUBLIC's EXECUTE of a function", async () => {
    const grants = `
      GRANT USAGE ON SCHEMA app TO ${RO};
      GRANT CREATE, USAGE ON SCHEMA app TO ${RW} WITH GRANT OPTION;
      GRANT SELECT ON app.items, app.names, app.counts, app.events, app.events_2026 TO ${RO};
      GRANT SELECT, INSERT, UPDATE, DELETE ON app.items TO ${RW} WITH GRANT OPTION;
      GRANT SELECT (id, name), UPDATE (name) ON app.items TO ${NOBODY};
      GRANT USAGE ON SEQUENCE app.items_id_seq, app.tickets TO ${RW};
      REVOKE EXECUTE ON FUNCTION app.answer() FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION app.answer() TO ${RO};
      GRANT EXECUTE ON PROCEDURE app.touch() TO ${RW};
      REVOKE EXECUTE ON FUNCTION app.total(int) FROM PUBLIC;
      REVOKE USAGE ON TYPE app.mood FROM PUBLIC;
      GRANT USAGE ON TYPE app.mood, app.pair, app.span TO ${RO};
      GRANT USAGE ON DOMAIN app.posint TO ${RW} WITH GRANT OPTION;`;
    const { applied, db } = await expectConverges(major, EVERY_KIND, EVERY_KIND + grants);
    expect(new Set(kinds(applied.plan.steps))).toEqual(new Set(["grantPrivileges", "revokePrivileges"]));
    expect(applied.plan.unmanaged).toEqual([]);
    const [state] = await rows<Record<string, boolean>>(
      db,
      `SELECT has_schema_privilege('${RO}', 'app', 'USAGE') AS schema_ro,
              has_schema_privilege('${RW}', 'app', 'CREATE WITH GRANT OPTION') AS schema_rw,
              has_table_privilege('${RO}', 'app.items', 'SELECT') AS items_ro,
              has_table_privilege('${RO}', 'app.events_2026', 'SELECT') AS partition_ro,
              has_table_privilege('${RO}', 'app.counts', 'SELECT') AS matview_ro,
              has_table_privilege('${RW}', 'app.items', 'DELETE WITH GRANT OPTION') AS items_rw,
              has_table_privilege('${NOBODY}', 'app.items', 'SELECT') AS items_nobody,
              has_column_privilege('${NOBODY}', 'app.items', 'name', 'UPDATE') AS column_update,
              has_column_privilege('${NOBODY}', 'app.items', 'secret', 'SELECT') AS column_secret,
              has_sequence_privilege('${RW}', 'app.items_id_seq', 'USAGE') AS serial_rw,
              has_function_privilege('${NOBODY}', 'app.answer()', 'EXECUTE') AS answer_public,
              has_function_privilege('${RO}', 'app.answer()', 'EXECUTE') AS answer_ro,
              has_function_privilege('${NOBODY}', 'app.total(int)', 'EXECUTE') AS total_public,
              has_type_privilege('${NOBODY}', 'app.mood', 'USAGE') AS mood_public,
              has_type_privilege('${RW}', 'app.posint', 'USAGE WITH GRANT OPTION') AS domain_rw`,
    );
    expect(state).toEqual({
      schema_ro: true,
      schema_rw: true,
      items_ro: true,
      partition_ro: true,
      matview_ro: true,
      items_rw: true,
      items_nobody: false,
      column_update: true,
      column_secret: false,
      serial_rw: true,
      answer_public: false,
      answer_ro: true,
      total_public: false,
      mood_public: false,
      domain_rw: true,
    });
  });

  it("changes grants minimally (no revoke-all), drops a grant option, and revokes what is no longer declared", async () => {
    const before = `${EVERY_KIND}
      GRANT SELECT, INSERT ON app.items TO ${RW} WITH GRANT OPTION;
      GRANT SELECT (name) ON app.items TO ${RO};
      GRANT SELECT ON app.names TO ${RO};
      REVOKE EXECUTE ON FUNCTION app.answer() FROM PUBLIC;`;
    const after = `${EVERY_KIND}
      GRANT SELECT, INSERT, UPDATE ON app.items TO ${RW};
      GRANT SELECT (id) ON app.items TO ${RO};`;
    const { applied, db } = await expectConverges(major, before, after);
    expect(applied.plan.steps.flatMap((s) => s.sql).sort()).toEqual(
      [
        `GRANT EXECUTE ON ROUTINE "app"."answer"() TO PUBLIC`,
        `GRANT SELECT ("id") ON TABLE "app"."items" TO "${RO}"`,
        `GRANT UPDATE ON TABLE "app"."items" TO "${RW}"`,
        `REVOKE GRANT OPTION FOR INSERT, SELECT ON TABLE "app"."items" FROM "${RW}"`,
        `REVOKE SELECT ("name") ON TABLE "app"."items" FROM "${RO}"`,
        `REVOKE SELECT ON TABLE "app"."names" FROM "${RO}"`,
      ].sort(),
    );
    expect(codes(applied.plan.steps)).toEqual(["PRIVILEGES_REVOKED"]);
    const [state] = await rows<Record<string, boolean>>(
      db,
      `SELECT has_table_privilege('${RW}', 'app.items', 'INSERT') AS ins, has_table_privilege('${RW}', 'app.items', 'INSERT WITH GRANT OPTION') AS ins_option,
              has_column_privilege('${RO}', 'app.items', 'name', 'SELECT') AS ro_name, has_table_privilege('${RO}', 'app.names', 'SELECT') AS ro_view,
              has_function_privilege('${NOBODY}', 'app.answer()', 'EXECUTE') AS public_exec`,
    );
    expect(state).toEqual({ ins: true, ins_option: false, ro_name: false, ro_view: false, public_exec: true });
  });

  it("refuses to revoke privileges of an existing object unless PRIVILEGES_REVOKED is allowed", async () => {
    const db = await freshDatabase(major);
    await runSql(db, `CREATE TABLE t (id int); GRANT SELECT ON t TO ${RO};`);
    const desired = schemaFromSql("CREATE TABLE t (id int);");
    await expect(applySchema(db.url, desired, engineOptions(db))).rejects.toThrow(/PRIVILEGES_REVOKED: revokes SELECT on table public\.t from role ro_/);
    const [state] = await rows<{ ro: boolean }>(db, `SELECT has_table_privilege('${RO}', 't', 'SELECT') AS ro`);
    expect(state!.ro).toBe(true);
  });

  it("diffs default privileges in a schema and the applying role's global ones; new objects get them", async () => {
    const before = `CREATE SCHEMA app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO ${RW};
      ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT USAGE ON SEQUENCES TO ${RW};`;
    const after = `CREATE SCHEMA app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT, INSERT ON TABLES TO ${RW} WITH GRANT OPTION;
      ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO ${RO};
      ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
      CREATE TABLE app.later (id int);
      CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1';`;
    const { applied, db } = await expectConverges(major, before, after);
    expect(kinds(applied.plan.steps).filter((k) => k.endsWith("DefaultPrivileges")).sort()).toEqual([
      "grantDefaultPrivileges",
      "grantDefaultPrivileges",
      "revokeDefaultPrivileges",
      "revokeDefaultPrivileges",
    ]);
    const [state] = await rows<Record<string, boolean>>(
      db,
      `SELECT has_table_privilege('${RW}', 'app.later', 'INSERT WITH GRANT OPTION') AS rw, has_table_privilege('${RO}', 'app.later', 'SELECT') AS ro,
              has_function_privilege('${NOBODY}', 'app.f()', 'EXECUTE') AS public_exec,
              (SELECT count(*)::int FROM pg_default_acl WHERE defaclobjtype = 'S') AS sequence_defaults`,
    );
    expect(state).toEqual({ rw: true, ro: true, public_exec: false, sequence_defaults: 0 });
  });

  it("changes owners of every kind to the declared role, and back to the applying role", async () => {
    const owned = `${EVERY_KIND}
      ALTER SCHEMA app OWNER TO ${OWNER};
      ALTER TABLE app.items OWNER TO ${OWNER};
      ALTER TABLE app.events OWNER TO ${OWNER};
      ALTER SEQUENCE app.tickets OWNER TO ${OWNER};
      ALTER VIEW app.names OWNER TO ${OWNER};
      ALTER MATERIALIZED VIEW app.counts OWNER TO ${OWNER};
      ALTER FUNCTION app.answer() OWNER TO ${OWNER};
      ALTER PROCEDURE app.touch() OWNER TO ${OWNER};
      ALTER AGGREGATE app.total(int) OWNER TO ${OWNER};
      ALTER TYPE app.mood OWNER TO ${OWNER};
      ALTER DOMAIN app.posint OWNER TO ${OWNER};
      ALTER TYPE app.pair OWNER TO ${OWNER};
      ALTER TYPE app.span OWNER TO ${OWNER};
      GRANT SELECT ON app.items TO ${RO};`;
    const { applied, db } = await expectConverges(major, EVERY_KIND, owned);
    expect(kinds(applied.plan.steps).filter((k) => k === "setOwner")).toHaveLength(13);
    expect(codes(applied.plan.steps)).toEqual(["OWNER_CHANGED"]);
    // Everything in app but the partition (its owner is not declared) and its row types, and the
    // range's constructor functions (PostgreSQL leaves them to the type's creator, on both sides), and
    // before 17 its multirange type (ALTER TYPE moves it along from 17 on).
    const others = await rows<{ name: string }>(
      db,
      `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = 'app'::regnamespace AND c.relname <> 'events_2026' AND c.relowner <> '${OWNER}'::regrole
       UNION ALL SELECT nspname FROM pg_namespace WHERE nspname = 'app' AND nspowner <> '${OWNER}'::regrole
       UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'app'::regnamespace AND proowner <> '${OWNER}'::regrole AND proname NOT IN ('span', 'span_multirange')
       UNION ALL SELECT typname FROM pg_type WHERE typnamespace = 'app'::regnamespace AND typowner <> '${OWNER}'::regrole AND typname NOT IN ('events_2026', '_events_2026')
         AND (${major} >= 17 OR typname NOT IN ('span_multirange', '_span_multirange'))`,
    );
    expect(others.map((o) => o.name).sort()).toEqual([]);
    // Back: the desired SQL no longer says who owns them, so the applying role does.
    const { applied: back } = await expectConverges(major, owned, EVERY_KIND);
    expect(kinds(back.plan.steps).filter((k) => k === "setOwner")).toHaveLength(13);
  });

  it("gives re-created objects their declared grants again", async () => {
    const schema = (type: string) => `CREATE TABLE t (id int PRIMARY KEY, price ${type});
      CREATE VIEW v AS SELECT id, price FROM t;
      CREATE FUNCTION cheapest() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT min(price) FROM v; END;
      GRANT SELECT (price) ON v TO ${NOBODY};
      GRANT SELECT ON v TO ${RO};
      REVOKE EXECUTE ON FUNCTION cheapest() FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION cheapest() TO ${RO};`;
    const { applied, db } = await expectConverges(major, schema("numeric(10,2)"), schema("numeric(12,2)"));
    expect(kinds(applied.plan.steps)).toContain("createView");
    const [state] = await rows<Record<string, boolean>>(
      db,
      `SELECT has_table_privilege('${RO}', 'v', 'SELECT') AS ro, has_column_privilege('${NOBODY}', 'v', 'price', 'SELECT') AS col,
              has_function_privilege('${RO}', 'cheapest()', 'EXECUTE') AS ro_exec, has_function_privilege('${NOBODY}', 'cheapest()', 'EXECUTE') AS public_exec`,
    );
    expect(state).toEqual({ ro: true, col: true, ro_exec: true, public_exec: false });
  });

  it("refuses a grant to a role that does not exist, naming it and the fix, and leaves the target untouched", async () => {
    const db = await freshDatabase(major);
    const missing = `missing_${suffix}`;
    const desired = schemaFromSql(`CREATE TABLE t (id int); GRANT SELECT ON t TO ${missing};`);
    const err = await planSchema(db.url, desired, engineOptions(db)).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.name).toBe("InputError");
    expect(err?.message).toContain(`role "${missing}" does not exist`);
    expect(err?.message).toMatch(/create the role on the target first/);
    expect(await rows(db, "SELECT 1 FROM pg_class WHERE relname = 't'")).toEqual([]);
  });

  it.each([false, true])("normalizes as the applying role (reused scratch databases: %s): it owns what it creates", async (reuse) => {
    const db = await freshDatabase(major);
    const app = await createPasswordRole(db);
    try {
      const desired = schemaFromSql(`CREATE SCHEMA s; CREATE TABLE s.t (id int); CREATE TABLE public.u (id int); GRANT SELECT ON s.t TO ${RO};
        ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO ${RO};`);
      const options = engineOptions(db, { reuseDevResources: reuse, schemas: ["public", "s"] });
      const applied = await applySchema(app.url, desired, options);
      expect(codes(applied.plan.steps)).toEqual([]);
      expect(applied.desired.acls.find((a) => a.identity === "t")?.owner).toBe(app.role);
      expect((await planSchema(app.url, desired, options)).plan.steps).toEqual([]);
      const owners = await rows<{ owner: string }>(db, `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname IN ('t', 'u')`);
      expect(owners).toEqual([{ owner: app.role }]);
      const [d] = await rows<{ role: string }>(db, `SELECT pg_get_userbyid(defaclrole) AS role FROM pg_default_acl`);
      expect(d!.role).toBe(app.role);
    } finally {
      await (await db.client()).query(`DROP OWNED BY ${quoteIdent(app.role)}`);
      await app.drop().catch(() => undefined);
    }
  });
});
