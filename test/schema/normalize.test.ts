import { describe, expect, it, onTestFinished } from "vitest";
import { connect } from "../../sdk/postgres/connection";
import { startEmbeddedPostgres } from "../../sdk/postgres/embedded";
import { quoteIdent } from "../../sdk/postgres/quote";
import { planSchema } from "../../sdk/schema/engine";
import { closeDevResources, createSchemaEngine, defaultSchemaEngine, normalize, scratchCleanup } from "../../sdk/schema/engine";
import { readCatalogSnapshot, type CatalogSnapshot } from "../../sdk/schema/verify/snapshot";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors, serverUrl } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

describe.each(majors())("normalization and the overlapped plan on PostgreSQL %i", (major) => {
  it("reads the target over a schema the desired SQL creates in a way the early read does not foresee", async () => {
    // The target is read while the dev server normalizes, over `public` and the schemas named in
    // CREATE SCHEMA statements; a schema made by dynamic SQL is only known afterwards and read then.
    await expectConverges(
      major,
      "CREATE SCHEMA s2; CREATE TABLE s2.t (id int PRIMARY KEY);",
      "DO $$ BEGIN EXECUTE format('CREATE SCHEMA %I', 's' || '2'); END $$; CREATE TABLE s2.t (id bigint PRIMARY KEY, note text);",
    );
  });

  it("never touches a schema the desired SQL only mentions", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE SCHEMA legacy; CREATE TABLE legacy.old (id int); CREATE TABLE t (id int);");
    const planned = await planSchema(db.url, schemaFromSql("-- we used to CREATE SCHEMA legacy here\nCREATE TABLE t (id int, note text);"), engineOptions(db));
    expect(planned.live.schemas.map((s) => s.name)).toEqual(["public"]);
    expect(planned.plan.steps.map((s) => s.sql.join("; "))).toEqual(['ALTER TABLE "public"."t" ADD COLUMN "note" text']);
  });

  it("drops its scratch database after returning, and sweeps those a killed process left behind", async () => {
    // A dev server of its own: other tests create and drop scratch databases on the shared one.
    const dev = await startEmbeddedPostgres({ major });
    onTestFinished(() => dev.stop());
    const admin = await connect(dev.url());
    onTestFinished(() => admin.end());
    const seconds = Math.floor(Date.now() / 1000);
    const abandoned = [`setpoint_dev_${(seconds - 3600).toString(36)}_0123456789ab`, "setpoint_dev_0123456789ab"];
    const recent = `setpoint_dev_${(seconds - 5).toString(36)}_0123456789ab`;
    for (const name of [...abandoned, recent]) await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);

    const { model } = await normalize(schemaFromSql("CREATE TABLE t (id int PRIMARY KEY);"), { devUrl: dev.url(), major, cacheDir: false });
    expect(model.tables.map((t) => t.name)).toEqual(["t"]);
    await scratchCleanup();
    const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'setpoint%' ORDER BY 1");
    // Only the one that may still be in use by another process (created moments ago) is left.
    expect(rows.map((r) => r.datname)).toEqual([recent]);
  });

  it("runs long runs of independent tables, indexes and named foreign keys on several connections, leaving the catalogs the serial run leaves", async () => {
    // One file, so the serial run is one transaction; names PostgreSQL derives that could meet
    // (`a_b_c_key` from two tables, the array type of `items` and a table `_items`, an explicit
    // constraint named like another table's derived one, long names it truncates).
    const body = (i: number) => `(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code text UNIQUE, n int CHECK (n > ${i}), s serial)`;
    const sql = [
      ...Array.from({ length: 60 }, (_, i) => `CREATE TABLE t${i} ${body(i)};`),
      "CREATE TABLE a (b_c int UNIQUE);",
      "CREATE TABLE a_b (c int UNIQUE);",
      "CREATE TABLE items (id int);",
      "CREATE TABLE _items (id int);",
      "CREATE TABLE notes (id int, CONSTRAINT t3_n_check1 CHECK (id > 0));",
      "CREATE TABLE holder (x t5, y items[]);",
      "CREATE TABLE a_very_long_table_name_that_postgres_truncates_one (a_rather_long_column_name_as_well int UNIQUE);",
      "CREATE TABLE a_very_long_table_name_that_postgres_truncates_two (a_rather_long_column_name_as_well int UNIQUE);",
      ...Array.from({ length: 60 }, (_, i) => `CREATE INDEX t${i}_n_idx ON t${i} (n); CREATE UNIQUE INDEX t${i}_lower ON t${i} (lower(code));`),
      ...Array.from({ length: 59 }, (_, i) => `ALTER TABLE t${i + 1} ADD CONSTRAINT t${i + 1}_fk FOREIGN KEY (n) REFERENCES t${i} (id)${i % 3 === 0 ? " ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED" : ""};`),
      // A key named like one PostgreSQL derives for another table, and one back to a parent.
      "ALTER TABLE t0 ADD CONSTRAINT t1_n_fkey FOREIGN KEY (n) REFERENCES t1 (id);",
      "COMMENT ON TABLE t1 IS 'one';",
    ].join("\n");
    const serial = await freshDatabase(major);
    await runSql(serial, sql);
    const expected = await readCatalogSnapshot(await serial.client());
    let read: { snapshot: CatalogSnapshot; transactions: number; keyTransactions: number } | null = null;
    const engine = createSchemaEngine();
    onTestFinished(() => engine.close());
    const dev = await freshDatabase(major);
    await engine.normalize(schemaFromSql(sql), {
      devUrl: serverUrl(dev.server),
      major,
      cacheDir: false,
      onBuilt: async (scratch) => {
        const { rows } = await scratch.query<{ n: number }>("SELECT count(DISTINCT xmin::text)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'");
        const keys = await scratch.query<{ n: number }>("SELECT count(DISTINCT xmin::text)::int AS n FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f'");
        read = { snapshot: await readCatalogSnapshot(scratch), transactions: rows[0]!.n, keyTransactions: keys.rows[0]!.n };
      },
    });
    const got = read as { snapshot: CatalogSnapshot; transactions: number; keyTransactions: number } | null;
    // The tables were created by several transactions (lanes), not the serial run's one; the
    // foreign keys each by its own.
    expect(got!.transactions).toBeGreaterThan(1);
    expect(got!.keyTransactions).toBeGreaterThan(50);
    const key = (r: { catalog: string; identity: string }) => `${r.catalog}|${r.identity}`;
    const sorted = (rows: readonly { catalog: string; identity: string }[]) => [...rows].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
    expect(sorted(got!.snapshot.rows)).toEqual(sorted(expected.rows));
    expect(got!.snapshot.hashes).toEqual(expected.hashes);
    expect(expected.rows.some((r) => r.identity === "public.a_b_c_key1")).toBe(true);
  });

  it("reports invalid SQL in a statement run on another connection with its file and line, as the serial run does", async () => {
    const sql = [...Array.from({ length: 50 }, (_, i) => `CREATE TABLE t${i} (id int PRIMARY KEY);`), "CREATE TABLE bad (id nosuchtype);", ...Array.from({ length: 50 }, (_, i) => `CREATE TABLE u${i} (id int);`)].join("\n");
    const dev = await freshDatabase(major);
    await expect(normalize(schemaFromSql(sql), { devUrl: serverUrl(dev.server), major, cacheDir: false })).rejects.toThrow(/invalid desired schema at schema\.sql:51: type "nosuchtype" does not exist/);
  });

  it("normalizes on an embedded server of the target's major when there is no dev database", async () => {
    const { model } = await normalize(schemaFromSql("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n numeric(5,2) DEFAULT 0);"), { major, cacheDir: false });
    expect(model.tables[0]!.columns.map((c) => [c.name, c.type, c.default])).toEqual([
      ["id", "integer", null],
      ["n", "numeric(5,2)", "0"],
    ]);
    await scratchCleanup();
  });
});

describe("normalization on a dev server too small for the desired schema", () => {
  it("names the dev server's lock table and the setting to raise, not the schema, when it runs out of shared memory", async () => {
    // Not per major: which SQLSTATE the server raises is the same on all of them.
    const major = majors()[0]!;
    const dev = await startEmbeddedPostgres({ major, parameters: { max_locks_per_transaction: 10, max_connections: 5 } });
    onTestFinished(() => dev.stop());
    const sql = Array.from({ length: 3000 }, (_, i) => `CREATE TABLE t${i} (id int PRIMARY KEY, note text);`).join("\n");
    const err = await normalize(schemaFromSql(sql), { devUrl: dev.url(), major, cacheDir: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^the dev server ran out of shared memory while creating the desired schema of schema\.sql.*raise max_locks_per_transaction on the dev server/);
    expect((err as Error).message).not.toMatch(/invalid desired schema/);
    await scratchCleanup();
  });
});

describe.each(majors())("normalization with reused dev resources (the operator) on PostgreSQL %i", (major) => {
  const RICH = [
    `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
     CREATE SCHEMA app;
     CREATE TABLE app.person (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, mood mood DEFAULT 'ok');
     CREATE TABLE app.note (id serial PRIMARY KEY, person_id bigint REFERENCES app.person (id) ON DELETE CASCADE, body text CHECK (length(body) > 0));
     CREATE INDEX note_person ON app.note (person_id);
     CREATE VIEW app.person_notes AS SELECT p.name, count(n.id) AS notes FROM app.person p LEFT JOIN app.note n ON n.person_id = p.id GROUP BY p.name;
     COMMENT ON TABLE app.person IS 'people';`,
  ];

  async function devServer() {
    // A dev server of its own, so the scratch databases counted are this test's.
    const dev = await startEmbeddedPostgres({ major });
    onTestFinished(() => dev.stop());
    const admin = await connect(dev.url());
    onTestFinished(() => admin.end());
    const scratch = async () =>
      (await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'setpoint_dev%' ORDER BY 1")).rows.map((r) => r.datname);
    return { url: dev.url(), scratch };
  }

  it("reads the same model as a fresh scratch database, and reuses one database for many schemas", async () => {
    const dev = await devServer();
    onTestFinished(() => closeDevResources());
    const fresh = await normalize(schemaFromSql(RICH), { devUrl: dev.url, major, cacheDir: false });
    await scratchCleanup();
    const reused = await normalize(schemaFromSql(RICH), { devUrl: dev.url, major, cacheDir: false, reuse: true });
    expect(reused.model).toEqual(fresh.model);
    const pooled = await dev.scratch();
    expect(pooled).toHaveLength(1);
    // The next schema starts from an empty database: nothing of the first is left behind.
    const other = await normalize(schemaFromSql("CREATE TABLE t (id int PRIMARY KEY);"), { devUrl: dev.url, major, cacheDir: false, reuse: true });
    expect(other.model.schemas.map((s) => s.name)).toEqual(["public"]);
    expect(other.model.tables.map((t) => t.name)).toEqual(["t"]);
    expect(other.model.enums).toEqual([]);
    expect(await dev.scratch()).toEqual(pooled);
    await closeDevResources();
    expect(await dev.scratch()).toEqual([]);
  });

  it("reports invalid SQL with its line and keeps the database reusable and empty", async () => {
    const dev = await devServer();
    onTestFinished(() => closeDevResources());
    const bad = normalize(schemaFromSql("CREATE TABLE a (id int);\nCREATE TABLE b (id nosuchtype);"), { devUrl: dev.url, major, cacheDir: false, reuse: true });
    await expect(bad).rejects.toThrow(/invalid desired schema at schema\.sql:2: type "nosuchtype" does not exist/);
    const next = await normalize(schemaFromSql("CREATE TABLE c (id int);"), { devUrl: dev.url, major, cacheDir: false, reuse: true });
    expect(next.model.tables.map((t) => t.name)).toEqual(["c"]);
    expect(await dev.scratch()).toHaveLength(1);
  });

  it("does not reuse a database that a COMMIT in the desired SQL wrote to", async () => {
    const dev = await devServer();
    onTestFinished(() => closeDevResources());
    const first = await normalize(schemaFromSql("CREATE TABLE kept (id int); COMMIT; CREATE TABLE after_commit (id int);"), { devUrl: dev.url, major, cacheDir: false, reuse: true });
    expect(first.model.tables.map((t) => t.name)).toEqual(["after_commit", "kept"]);
    await scratchCleanup();
    expect(await dev.scratch()).toEqual([]);
    const next = await normalize(schemaFromSql("CREATE TABLE c (id int);"), { devUrl: dev.url, major, cacheDir: false, reuse: true });
    expect(next.model.tables.map((t) => t.name)).toEqual(["c"]);
  });

  it("falls back to a fresh scratch database for SQL that cannot run in a transaction block", async () => {
    const dev = await devServer();
    onTestFinished(() => closeDevResources());
    const desired = schemaFromSql(["CREATE TABLE t (id int, v text);", "CREATE INDEX CONCURRENTLY t_v ON t (v);"]);
    const { model } = await normalize(desired, { devUrl: dev.url, major, cacheDir: false, reuse: true });
    expect(model.tables[0]!.indexes.map((i) => i.name)).toEqual(["t_v"]);
    await scratchCleanup();
    // The pooled database stays (empty, rolled back); the fresh one is dropped.
    expect(await dev.scratch()).toHaveLength(1);
  });

  it("keeps one embedded dev server per major between normalizations until closed", async () => {
    onTestFinished(() => closeDevResources());
    const a = await normalize(schemaFromSql("CREATE TABLE a (id int);"), { major, cacheDir: false, reuse: true });
    const b = await normalize(schemaFromSql("CREATE TABLE b (id int);"), { major, cacheDir: false, reuse: true });
    expect([a.model.tables[0]!.name, b.model.tables[0]!.name]).toEqual(["a", "b"]);
    expect(defaultSchemaEngine().keptDevServers()).toEqual([major]);
    await closeDevResources();
    expect(defaultSchemaEngine().keptDevServers()).toEqual([]);
  });
});
