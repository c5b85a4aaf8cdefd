import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../sdk/cli/main";
import { applySchema, planSchema, verifySchema } from "../../sdk/schema/engine";
import { closeDevResources, normalize } from "../../sdk/schema/engine";
import { readCatalogSnapshot, type CatalogSnapshot } from "../../sdk/schema/verify/snapshot";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { formatDifference, unmappedReferenceColumns, UnmodelledDifferenceError, type CatalogDifference } from "../../sdk/schema/verify/index";
import { planText } from "../../sdk/cli/schema";
import { freshDatabase, majors, serverUrl } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

/** A schema with most object kinds, whose catalogs the check reads. */
const RICH = `
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TYPE span AS RANGE (subtype = float8);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text COLLATE "C" NOT NULL DEFAULT 'x' CHECK (length(code) > 0),
  state mood, qty positive, serial_no serial, note text
);
CREATE INDEX orders_code_idx ON orders (lower(code)) WHERE id > 5;
CREATE TABLE items (order_id bigint REFERENCES orders, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE items_2026 PARTITION OF items FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE archived_orders (archived_at timestamptz) INHERITS (orders);
CREATE VIEW recent AS SELECT id, code FROM orders WHERE id > 100;
CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM orders;
CREATE FUNCTION add_one(i integer DEFAULT 1) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT i + 1';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_mine ON orders USING (id > 0);
COMMENT ON TABLE orders IS 'what was sold';
COMMENT ON COLUMN orders.code IS 'the code';
GRANT SELECT ON orders TO PUBLIC;
`;

const lines = (ds: readonly CatalogDifference[]) => ds.map((d) => formatDifference(d).replace(/:.*$/s, ""));

describe.each(majors())("catalog-level convergence check on PostgreSQL %i", (major) => {
  it("maps or excludes every reference column of the catalogs it reads", async () => {
    const db = await freshDatabase(major);
    expect(await unmappedReferenceColumns(await db.client())).toEqual([]);
  });

  it("computes a full snapshot's hashes in Node exactly as the server's hash query does (byte order, non-ASCII names)", async () => {
    const db = await freshDatabase(major);
    const client = await db.client();
    // UTF-16 and UTF-8 order these differently: the surrogate pair of U+1F600 sorts before U+FF21
    // in JavaScript's string order, after it in the bytes the C collation compares.
    await client.query(`${RICH}
      CREATE TABLE "\u{1F600}" (id int PRIMARY KEY, "\u00e9" text);
      CREATE TABLE "\uFF21" (id int PRIMARY KEY, "z\u{1F600}" text CHECK ("z\u{1F600}" <> '\u00e9'));
      CREATE INDEX ON "\uFF21" ("z\u{1F600}");
      COMMENT ON TABLE "\uFF21" IS 'caf\u00e9 \u{1F600}';`);
    const full = await readCatalogSnapshot(client);
    const server = await readCatalogSnapshot(client, { rowsOf: [] });
    expect(full.rows.length).toBeGreaterThan(50);
    expect(server.rows).toEqual([]);
    expect(Object.keys(server.hashes).length).toBeGreaterThan(10);
    expect(full.hashes).toEqual(server.hashes);
  });

  it("reads the same snapshot on several connections at once as on one (rows in the same order, same hashes)", async () => {
    const db = await freshDatabase(major);
    const client = await db.client();
    await client.query(RICH);
    const others = [await db.client(), await db.client()];
    const one = await readCatalogSnapshot(client);
    const several = await readCatalogSnapshot(client, { concurrent: others });
    expect(one.rows.length).toBeGreaterThan(50);
    expect(JSON.stringify(several)).toBe(JSON.stringify(one));
    // Inside a transaction other sessions would not see its rows: the connection alone reads.
    await client.query("BEGIN");
    await client.query("CREATE TABLE only_in_this_transaction (id int)");
    const inTx = await readCatalogSnapshot(client, { inTransaction: true, concurrent: others });
    await client.query("ROLLBACK");
    expect(inTx.rows.some((r) => r.identity.includes("only_in_this_transaction"))).toBe(true);
    // A connection that fails fails the read, and the others are left outside its transaction.
    const broken = await db.client();
    await broken.end();
    await expect(readCatalogSnapshot(client, { concurrent: [others[0]!, broken] })).rejects.toThrow();
    for (const c of [client, others[0]!]) expect((await c.query<{ p: string }>("SELECT current_setting('search_path') AS p")).rows[0]!.p).not.toBe("pg_catalog");
  });

  it("passes on a converged schema with every object kind, from empty and from an older state", async () => {
    const { db } = await expectConverges(major, "", RICH);
    const checked = await verifySchema(db.url, schemaFromSql(RICH), engineOptions(db));
    expect(checked.catalogCheck.differences).toEqual([]);
    expect(checked.catalogCheck.known).toEqual([]);
    // Equal hashes: no catalog's rows were read on the target.
    expect(checked.catalogCheck.differingPairs).toBe(0);

    const old = "CREATE TYPE mood AS ENUM ('calm'); CREATE TABLE orders (id int PRIMARY KEY, code varchar(3), note text, gone int); CREATE VIEW recent AS SELECT id FROM orders;";
    const { db: db2 } = await expectConverges(major, old, RICH);
    const again = await verifySchema(db2.url, schemaFromSql(RICH), engineOptions(db2));
    expect(again.catalogCheck.differences).toEqual([]);
  });

  it("reports each property the target changed behind the engine's back, by catalog, property and object", async () => {
    const db = await freshDatabase(major);
    const desired = schemaFromSql(RICH);
    await applySchema(db.url, desired, engineOptions(db));
    await runSql(
      db,
      `ALTER TABLE orders ALTER COLUMN note TYPE text COLLATE "C";
       ALTER TABLE orders REPLICA IDENTITY FULL;
       ALTER TABLE orders SET (fillfactor = 70);
       ALTER TABLE orders ALTER COLUMN note SET STORAGE EXTERNAL;
       ALTER TABLE orders ALTER COLUMN note SET COMPRESSION pglz;
       ALTER TABLE orders ALTER COLUMN state SET STATISTICS 5;
       ALTER TABLE orders FORCE ROW LEVEL SECURITY;
       ALTER TABLE orders CLUSTER ON orders_pkey;
       ALTER INDEX orders_pkey SET (fillfactor = 50);
       ALTER INDEX orders_code_idx ALTER COLUMN 1 SET STATISTICS 300;
       ALTER TABLE items_2026 SET UNLOGGED;
       ALTER TRIGGER orders_touch ON orders RENAME TO orders_touched;
       CREATE TABLE stray (id int);`,
    );
    const checked = await verifySchema(db.url, desired, engineOptions(db));
    expect(lines(checked.catalogCheck.differences)).toEqual([
      "UNMODELLED_DIFFERENCE pg_class.relpersistence public.items_2026",
      "UNMODELLED_DIFFERENCE pg_class.relforcerowsecurity public.orders",
      "UNMODELLED_DIFFERENCE pg_class.reloptions public.orders",
      "UNMODELLED_DIFFERENCE pg_class.relreplident public.orders",
      "UNMODELLED_DIFFERENCE pg_class.reloptions public.orders_pkey",
      "UNMODELLED_DIFFERENCE pg_class public.stray",
      // ALTER TABLE reaches the inheriting table too, except SET COMPRESSION.
      "UNMODELLED_DIFFERENCE pg_attribute.attcollation public.archived_orders.note",
      "UNMODELLED_DIFFERENCE pg_attribute.attstorage public.archived_orders.note",
      "UNMODELLED_DIFFERENCE pg_attribute.attstattarget public.archived_orders.state",
      "UNMODELLED_DIFFERENCE pg_attribute.attcollation public.orders.note",
      "UNMODELLED_DIFFERENCE pg_attribute.attcompression public.orders.note",
      "UNMODELLED_DIFFERENCE pg_attribute.attstorage public.orders.note",
      "UNMODELLED_DIFFERENCE pg_attribute.attstattarget public.orders.state",
      "UNMODELLED_DIFFERENCE pg_index.statistics public.orders_code_idx",
      "UNMODELLED_DIFFERENCE pg_index.indisclustered public.orders_pkey",
      "UNMODELLED_DIFFERENCE pg_trigger public.orders.orders_touch",
      "UNMODELLED_DIFFERENCE pg_trigger public.orders.orders_touched",
    ]);
    const replident = checked.catalogCheck.differences.find((d) => d.property === "relreplident")!;
    expect(replident).toMatchObject({ catalog: "pg_class", object: "public.orders", schema: "public", expected: "d", actual: "f" });
  });

  it("lists unmodelled differences in the plan instead of no changes, and apply fails on them", async () => {
    const db = await freshDatabase(major);
    const desired = schemaFromSql("CREATE TABLE docs (id int PRIMARY KEY, body text);");
    await applySchema(db.url, desired, engineOptions(db));
    // A rule: a kind the engine does not manage (ADR 0008).
    await runSql(db, "CREATE RULE docs_quiet AS ON DELETE TO docs DO ALSO NOTHING");

    const planned = await planSchema(db.url, desired, engineOptions(db));
    expect(planned.plan.steps).toEqual([]);
    expect(lines(planned.catalogCheck!.differences)).toEqual(["UNMODELLED_DIFFERENCE pg_rewrite public.docs.docs_quiet"]);
    const text = planText(planned.plan, [], planned.catalogCheck);
    expect(text).not.toContain("No changes: the database matches");
    expect(text).toContain("UNMODELLED_DIFFERENCE pg_rewrite public.docs.docs_quiet");

    const failure = await applySchema(db.url, desired, engineOptions(db)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UnmodelledDifferenceError);
    expect((failure as UnmodelledDifferenceError).code).toBe("UNMODELLED_DIFFERENCE");
    expect(lines((failure as UnmodelledDifferenceError).differences)).toEqual(["UNMODELLED_DIFFERENCE pg_rewrite public.docs.docs_quiet"]);

    // After apply with changes, too: the plan adds a column, the rule difference stays.
    const more = schemaFromSql("CREATE TABLE docs (id int PRIMARY KEY, body text, title text);");
    const after = await applySchema(db.url, more, engineOptions(db)).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(UnmodelledDifferenceError);
    expect(lines((after as UnmodelledDifferenceError).differences)).toEqual(["UNMODELLED_DIFFERENCE pg_rewrite public.docs.docs_quiet"]);
    // The title column was added all the same, and the check can be turned off.
    const off = await planSchema(db.url, more, engineOptions(db, { verifyCatalogs: false }));
    expect(off.plan.steps).toEqual([]);
    expect(off.catalogCheck).toBeNull();
  });

  it("reads the same desired catalogs in a reused scratch database (inside its transaction) as in a fresh one", async () => {
    const db = await freshDatabase(major);
    const read = async (reuse: boolean) => {
      let snapshot: CatalogSnapshot | null = null;
      await normalize(schemaFromSql(RICH), {
        devUrl: engineOptions(db).devUrl,
        major,
        cacheDir: false,
        reuse,
        onBuilt: async (scratch, inTransaction) => {
          expect(inTransaction).toBe(reuse);
          snapshot = await readCatalogSnapshot(scratch, { inTransaction });
        },
      });
      return snapshot!;
    };
    const fresh = await read(false);
    try {
      const reused = await read(true);
      expect(reused.hashes).toEqual(fresh.hashes);
      const sorted = (x: CatalogSnapshot) => [...x.rows].sort((a, b) => `${a.catalog} ${a.identity}`.localeCompare(`${b.catalog} ${b.identity}`));
      expect(sorted(reused)).toEqual(sorted(fresh));
      // The savepoint left the reused database's transaction usable: a second normalization reads it again.
      expect((await read(true)).hashes).toEqual(fresh.hashes);
    } finally {
      await closeDevResources();
    }
  });

  it("compares a comment on the public schema by name, whether initdb made the schema or it was re-created", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public; COMMENT ON SCHEMA public IS 'mine'; CREATE TABLE public.t (id int);");
    const same = await planSchema(db.url, schemaFromSql("COMMENT ON SCHEMA public IS 'mine'; CREATE TABLE t (id int);"), engineOptions(db));
    expect(same.plan.steps).toEqual([]);
    expect(lines(same.catalogCheck!.differences)).toEqual([]);
    const other = await freshDatabase(major);
    await runSql(other, "CREATE TABLE t (id int);");
    const desired = schemaFromSql("DROP SCHEMA public CASCADE; CREATE SCHEMA public; COMMENT ON SCHEMA public IS 'mine'; CREATE TABLE public.t (id int);");
    const applied = await applySchema(other.url, desired, engineOptions(other));
    expect(applied.plan.steps.flatMap((s) => s.sql)).toEqual([`COMMENT ON SCHEMA "public" IS 'mine'`]);
    expect(lines(applied.catalogCheck!.differences)).toEqual([]);
  });

  it("reports column order and inheritance-only columns as known differences, never as errors", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int PRIMARY KEY, c text); CREATE TABLE parent (id int); CREATE TABLE child (id int);");
    const desired = schemaFromSql("CREATE TABLE t (id int PRIMARY KEY, b int, c text); CREATE TABLE parent (id int); CREATE TABLE child () INHERITS (parent);");
    const applied = await applySchema(db.url, desired, engineOptions(db));
    expect(applied.plan.steps.length).toBeGreaterThan(0);
    expect(applied.catalogCheck!.differences).toEqual([]);
    expect(lines(applied.catalogCheck!.known)).toEqual([
      "KNOWN_DIFFERENCE pg_attribute.attislocal public.child.id",
      "KNOWN_DIFFERENCE pg_attribute.position public.t.b",
      "KNOWN_DIFFERENCE pg_attribute.position public.t.c",
    ]);
    const planned = await planSchema(db.url, desired, engineOptions(db));
    expect(planText(planned.plan, [], planned.catalogCheck)).toMatch(/^No changes: the database matches the desired schema\.\n[\s\S]*Known differences/);
  });
});

describe("setpoint schema verify and the plan text", () => {
  const work = mkdtempSync(join(tmpdir(), "setpoint-verify-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const major = majors().includes(17) ? 17 : majors()[0]!;

  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  }

  it("exits 1 naming each difference, 0 once the catalogs match; plan lists them and apply fails on them", async () => {
    const db = await freshDatabase(major);
    const schema = join(work, "orders.sql");
    writeFileSync(schema, "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n");
    const common = ["--url", db.url, "--schema", schema, "--dev-url", serverUrl(db.server)];
    expect((await cli(["schema", "apply", ...common, "--yes"])).code).toBe(0);
    expect(await cli(["schema", "verify", ...common])).toMatchObject({ code: 0, stdout: "The database's catalogs match the desired schema.\n" });

    await runSql(db, "ALTER TABLE orders REPLICA IDENTITY FULL");
    const drifted = await cli(["schema", "verify", ...common]);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain('UNMODELLED_DIFFERENCE pg_class.relreplident public.orders: expected "d", found "f"');
    const json = JSON.parse((await cli(["schema", "verify", ...common, "--format", "json"])).stdout) as { converged: boolean; differences: CatalogDifference[] };
    expect(json.converged).toBe(false);
    expect(json.differences.map((d) => [d.catalog, d.property, d.object])).toEqual([["pg_class", "relreplident", "public.orders"]]);

    await runSql(db, "ALTER TABLE orders REPLICA IDENTITY DEFAULT");
    expect((await cli(["schema", "verify", ...common])).code).toBe(0);

    // What the engine does not model (a rule; REPLICA IDENTITY is modelled, so a plan step removes
    // that one): plan lists it instead of "No changes", and apply fails on it.
    await runSql(db, "CREATE RULE orders_quiet AS ON DELETE TO orders DO ALSO NOTHING");
    const text = await cli(["schema", "plan", ...common]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("No changes the engine can make, but the database differs from the desired schema in 1 unmanaged propert(ies) (apply fails on them):");
    expect(text.stdout).toContain("UNMODELLED_DIFFERENCE pg_rewrite public.orders.orders_quiet");
    expect(text.stdout).not.toContain("No changes: the database matches");
    const doc = JSON.parse((await cli(["schema", "plan", ...common, "--format", "json"])).stdout) as { converged: boolean; steps: unknown[]; unmanagedDifferences: CatalogDifference[] };
    expect(doc.steps).toEqual([]);
    expect(doc.converged).toBe(false);
    expect(doc.unmanagedDifferences.map((d) => [d.catalog, d.object])).toEqual([["pg_rewrite", "public.orders.orders_quiet"]]);
    const applied = await cli(["schema", "apply", ...common, "--yes"]);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain("UNMODELLED_DIFFERENCE pg_rewrite public.orders.orders_quiet");
    expect((await cli(["schema", "plan", ...common, "--no-verify"])).stdout).toContain("No changes: the database matches the desired schema.");
    await runSql(db, "DROP RULE orders_quiet ON orders");
    expect((await cli(["schema", "plan", ...common])).stdout).toContain("No changes: the database matches the desired schema.");
  });
});
