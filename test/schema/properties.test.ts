import type { Client } from "pg";
import { describe, expect, it } from "vitest";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { closeDevResources } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { expectCatalogConverges, expectSameCatalog } from "../support/catalog-props";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, runSql } from "../support/schema";

// Table properties the engine did not model before issue 16, each proven by the catalogs: after
// apply, a re-plan is empty and the catalogs equal those of a database where the SQL ran directly.

const R = `CREATE TABLE r (id int PRIMARY KEY, code text NOT NULL, note text);
CREATE UNIQUE INDEX r_code ON r (code);`;

const EV = `CREATE TABLE ev (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`;

const M = `CREATE TABLE m (id int, kind text DEFAULT 'a', qty int, note text) PARTITION BY LIST (kind);`;

const PI = `CREATE TABLE pi (id int, k int, j int) PARTITION BY RANGE (id);
CREATE TABLE pi1 PARTITION OF pi FOR VALUES FROM (0) TO (10);`;

describe.each(majors())("table properties on PostgreSQL %i", (major) => {
  it("replica identity: DEFAULT, FULL, NOTHING and USING INDEX, read, changed and set on new tables", async () => {
    const full = `${R} ALTER TABLE r REPLICA IDENTITY FULL;`;
    const byIndex = `${R} ALTER TABLE r REPLICA IDENTITY USING INDEX r_code;`;
    const byKey = `${R} ALTER TABLE r REPLICA IDENTITY USING INDEX r_pkey;`;
    const nothing = `${R} ALTER TABLE r REPLICA IDENTITY NOTHING;`;
    await expectCatalogConverges(major, R, full);
    await expectCatalogConverges(major, full, byIndex);
    await expectCatalogConverges(major, byIndex, nothing);
    await expectCatalogConverges(major, nothing, byKey);
    await expectCatalogConverges(major, byKey, R);
    await expectCatalogConverges(major, "", byIndex);
  });

  it("keeps a replica identity index when the index is rebuilt with another definition", async () => {
    const { applied } = await expectCatalogConverges(
      major,
      `${R} ALTER TABLE r REPLICA IDENTITY USING INDEX r_code;`,
      `${R.replace("ON r (code)", "ON r (code, id)")} ALTER TABLE r REPLICA IDENTITY USING INDEX r_code;`,
    );
    expect(applied.plan.steps.map((s) => s.kind)).toContain("setReplicaIdentity");
  });

  it("replica identity of partitioned tables and partitions, new and existing", async () => {
    const wanted = `${EV} ALTER TABLE ev REPLICA IDENTITY FULL; ALTER TABLE ev1 REPLICA IDENTITY FULL;
      CREATE TABLE ev2 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); ALTER TABLE ev2 REPLICA IDENTITY NOTHING;`;
    await expectCatalogConverges(major, EV, wanted);
    await expectCatalogConverges(major, "", wanted);
    await expectCatalogConverges(major, wanted, EV);
  });

  it("a partition's own DEFAULT and NOT NULL are kept when it is created, and diffed afterwards", async () => {
    const own = `${M}
      CREATE TABLE m_a PARTITION OF m (qty NOT NULL DEFAULT 1, note DEFAULT 'x') FOR VALUES IN ('a');
      CREATE TABLE m_b PARTITION OF m (kind DEFAULT 'b') FOR VALUES IN ('b');`;
    const plain = `${M}
      CREATE TABLE m_a PARTITION OF m FOR VALUES IN ('a');
      CREATE TABLE m_b PARTITION OF m FOR VALUES IN ('b');`;
    await expectCatalogConverges(major, "", own);
    await expectCatalogConverges(major, plain, own);
    await expectCatalogConverges(major, own, plain);
    // The parent's default changes (reaching the partitions) while a partition keeps its own.
    await expectCatalogConverges(major, own, own.replace("kind text DEFAULT 'a'", "kind text DEFAULT 'c'"));
  });

  it("a partition's index that matches a new index of its parent is attached under its own name, not dropped", async () => {
    const own = `${PI} CREATE INDEX pi1_k ON pi1 (k);`;
    const attached = `${own} CREATE INDEX pi_k ON pi (k);`;
    const { applied } = await expectCatalogConverges(major, own, attached);
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["createIndex"]);
    await expectCatalogConverges(major, attached, own);
    await expectCatalogConverges(major, "", attached);
  });

  it("indexes a parent's index builds in new and attached partitions get the names the desired state gives them", async () => {
    const wanted = `${PI} CREATE INDEX pi_k ON pi (k);
      CREATE TABLE pi2 (id int, k int, j int); CREATE INDEX pi2_own ON pi2 (k);
      ALTER TABLE pi ATTACH PARTITION pi2 FOR VALUES FROM (10) TO (20);
      CREATE TABLE pi3 (id int, k int, j int); CREATE INDEX pi3_own ON pi3 (k); CREATE INDEX pi3_j ON pi3 (j);
      ALTER TABLE pi ATTACH PARTITION pi3 FOR VALUES FROM (20) TO (30);
      ALTER INDEX pi1_k_idx RENAME TO pi1_renamed;`;
    await expectCatalogConverges(major, PI, wanted);
    await expectCatalogConverges(major, "", wanted);
    // The parent's index changes: it is rebuilt, and its partitions' indexes keep their names.
    await expectCatalogConverges(major, wanted, wanted.replace("CREATE INDEX pi_k ON pi (k);", "CREATE INDEX pi_k ON pi (k, j);").replaceAll("ON pi2 (k)", "ON pi2 (k, j)").replace("pi3_own ON pi3 (k)", "pi3_own ON pi3 (k, j)").replace("pi1_k_idx", "pi1_k_j_idx"));
  });

  it("a CHECK a partition declares and its parent gains is merged, and one the parent loses stays the partition's", async () => {
    const own = `${PI} ALTER TABLE pi1 ADD CONSTRAINT k_positive CHECK (k > 0);`;
    const parent = `${PI} ALTER TABLE pi ADD CONSTRAINT k_positive CHECK (k > 0);`;
    const both = `${own} ALTER TABLE pi ADD CONSTRAINT k_positive CHECK (k > 0);`;
    await expectCatalogConverges(major, own, parent);
    await expectCatalogConverges(major, parent, own);
    await expectCatalogConverges(major, both, parent);
    await expectCatalogConverges(major, parent, both);
    // A different definition on the partition: dropped before the parent's is added.
    await expectCatalogConverges(major, `${PI} ALTER TABLE pi1 ADD CONSTRAINT k_positive CHECK (k > 1);`, parent);
  });

  it("a CHECK PostgreSQL prints differently once re-applied settles, on a new and an existing table", async () => {
    const plain = "CREATE TABLE ck (id int PRIMARY KEY, c varchar(10), d varchar(5)[]);";
    const checked = `${plain} ALTER TABLE ck ADD CONSTRAINT ck_c CHECK (c IN ('a', 'b')), ADD CONSTRAINT ck_d CHECK (d <@ ARRAY['x', 'y']::varchar[]);`;
    // Also with reused scratch databases (the operator's normalization, in a transaction).
    for (const [old, reuseDevResources] of [[plain, false], ["", false], [plain, true]] as const) {
      const db = await freshDatabase(major);
      if (old) await runSql(db, old);
      const desired = schemaFromSql(checked);
      try {
        await applySchema(db.url, desired, engineOptions(db, { allowHazards: "all", reuseDevResources }));
        expect((await planSchema(db.url, desired, engineOptions(db, { reuseDevResources }))).plan.steps.map((s) => s.sql)).toEqual([]);
      } finally {
        await closeDevResources();
      }
      // The catalogs hold what the desired state holds once PostgreSQL prints it again: compare both
      // after the same round trip on the same server.
      const reference = await freshDatabase(major);
      await runSql(reference, checked);
      const ref = await reference.client();
      const { rows } = await ref.query<{ name: string; def: string }>("SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'ck'::regclass AND contype = 'c'");
      for (const r of rows) await ref.query(`ALTER TABLE ck DROP CONSTRAINT ${r.name}, ADD CONSTRAINT ${r.name} ${r.def}`);
      await expectSameCatalog(await db.client(), ref);
    }
  });

  it("a constraint declared NOT VALID stays unvalidated, and one validated in the desired state is validated", async () => {
    const base = "CREATE TABLE nv (id int PRIMARY KEY, q int, p int); CREATE TABLE nvp (id int PRIMARY KEY);";
    const notValid = `${base} ALTER TABLE nv ADD CONSTRAINT nv_q CHECK (q >= 0) NOT VALID, ADD CONSTRAINT nv_p FOREIGN KEY (p) REFERENCES nvp (id) NOT VALID;`;
    const valid = `${base} ALTER TABLE nv ADD CONSTRAINT nv_q CHECK (q >= 0), ADD CONSTRAINT nv_p FOREIGN KEY (p) REFERENCES nvp (id);`;
    await expectCatalogConverges(major, "", notValid);
    await expectCatalogConverges(major, `${base} INSERT INTO nv VALUES (1, -1, NULL);`, notValid);
    await expectCatalogConverges(major, valid, notValid);
    await expectCatalogConverges(major, notValid, valid);
  });

  it("column statistics targets, storage, compression and options: set, changed and reset, on new tables and columns, in both catalogs alike", async () => {
    const base = `CREATE TABLE doc (id int PRIMARY KEY, body text, code varchar(20), hits int);`;
    const tuned = `${base}
      ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN body SET COMPRESSION pglz, ALTER COLUMN body SET STATISTICS 400,
        ALTER COLUMN hits SET (n_distinct = 50, n_distinct_inherited = -0.5), ALTER COLUMN id SET STATISTICS 0;`;
    const retuned = `${base}
      ALTER TABLE doc ALTER COLUMN body SET STORAGE MAIN, ALTER COLUMN code SET STATISTICS 20, ALTER COLUMN hits SET (n_distinct = -0.2);`;
    for (const [from, to] of [[base, tuned], [tuned, retuned], [retuned, base], ["", tuned]] as const) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await columnAttributes(await db.client())).toEqual(await columnAttributes(await reference.client()));
    }
    // A column the plan adds gets its attributes after it exists.
    const added = `${base} ALTER TABLE doc ADD COLUMN extra text; ALTER TABLE doc ALTER COLUMN extra SET STORAGE MAIN, ALTER COLUMN extra SET STATISTICS 5;`;
    const { applied } = await expectCatalogConverges(major, base, added);
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["addColumn", "setColumnAttributes"]);
    expect(applied.plan.steps[1]!.sql).toEqual([`ALTER TABLE ONLY "public"."doc" ALTER COLUMN "extra" SET STATISTICS 5`, `ALTER TABLE ONLY "public"."doc" ALTER COLUMN "extra" SET STORAGE MAIN`]);
  });

  it("a column type change resets storage and compression and keeps the statistics target and options: the plan sets what the desired state has", async () => {
    const attrs = `ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN body SET COMPRESSION pglz, ALTER COLUMN body SET STATISTICS 50, ALTER COLUMN body SET (n_distinct = 9);`;
    const { applied, db, reference } = await expectCatalogConverges(major, `CREATE TABLE doc (body varchar(10)); ${attrs}`, `CREATE TABLE doc (body text); ${attrs}`);
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["alterColumnType", "setColumnAttributes"]);
    expect(applied.plan.steps[1]!.sql).toEqual([`ALTER TABLE ONLY "public"."doc" ALTER COLUMN "body" SET STORAGE EXTERNAL`, `ALTER TABLE ONLY "public"."doc" ALTER COLUMN "body" SET COMPRESSION "pglz"`]);
    expect(await columnAttributes(await db.client())).toEqual(await columnAttributes(await reference.client()));
    // Back to the type's own storage: the type change alone does it.
    const back = await expectCatalogConverges(major, `CREATE TABLE doc (body varchar(10)); ${attrs}`, `CREATE TABLE doc (body text);`);
    expect(back.applied.plan.steps.flatMap((s) => s.sql).filter((q) => /STORAGE|COMPRESSION/.test(q))).toEqual([]);
  });

  it("column attributes of partitions and inheritance children are their own: a parent's are set with ONLY and a new child's are set explicitly", async () => {
    const parent = `CREATE TABLE pa (body text, k int) PARTITION BY LIST (k);`;
    const parentSet = `ALTER TABLE pa ALTER COLUMN body SET STORAGE MAIN, ALTER COLUMN body SET COMPRESSION pglz, ALTER COLUMN body SET STATISTICS 40;`;
    const parts = `CREATE TABLE pa1 PARTITION OF pa FOR VALUES IN (1); CREATE TABLE pa2 PARTITION OF pa FOR VALUES IN (2);`;
    const ownPa2 = `ALTER TABLE ONLY pa2 ALTER COLUMN body SET STORAGE EXTENDED, ALTER COLUMN body SET COMPRESSION DEFAULT;`;
    const cases: [string, string][] = [
      ["", `${parent} ${parentSet} ${parts} ${ownPa2}`],
      [`${parent} ${parts}`, `${parent} ${parentSet} ${parts}`],
      [`${parent} ${parentSet} ${parts}`, `${parent} ${parts}`],
      [`${parent} ${parentSet} CREATE TABLE pa1 PARTITION OF pa FOR VALUES IN (1);`, `${parent} ${parts} ${ownPa2}`],
      [`CREATE TABLE base (body text);`, `CREATE TABLE base (body text); ALTER TABLE base ALTER COLUMN body SET STORAGE EXTERNAL; CREATE TABLE kid (n int) INHERITS (base);`],
      [`CREATE TABLE base (body text); CREATE TABLE kid (n int) INHERITS (base);`, `CREATE TABLE base (body text); CREATE TABLE kid (n int) INHERITS (base); ALTER TABLE base ADD COLUMN more text; ALTER TABLE ONLY base ALTER COLUMN more SET STORAGE MAIN;`],
    ];
    for (const [from, to] of cases) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await columnAttributes(await db.client())).toEqual(await columnAttributes(await reference.client()));
    }
  });

  it("CLUSTER ON: marked, moved, removed, on a key's index and on a new table, and marked again when its index is rebuilt", async () => {
    const t = `CREATE TABLE cl (id int PRIMARY KEY, a int, b int); CREATE INDEX cl_a ON cl (a); CREATE INDEX cl_b ON cl (b);`;
    const onA = `${t} ALTER TABLE cl CLUSTER ON cl_a;`;
    const onB = `${t} ALTER TABLE cl CLUSTER ON cl_b;`;
    const onKey = `${t} ALTER TABLE cl CLUSTER ON cl_pkey;`;
    for (const [from, to] of [[t, onA], [onA, onB], [onB, onKey], [onKey, t], ["", onKey]] as const) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await clustered(await db.client())).toEqual(await clustered(await reference.client()));
    }
    const rebuilt = await expectCatalogConverges(major, onA, onA.replace("ON cl (a)", "ON cl (a, b)"));
    expect(rebuilt.applied.plan.steps.map((s) => s.kind)).toContain("setClusterOn");
    expect(await clustered(await rebuilt.db.client())).toEqual(["cl_a"]);
  });

  it("extended statistics: created, changed, re-targeted, commented and dropped; re-created around a change of a column they cover", async () => {
    const t = `CREATE TABLE st (a int, b int, c text);`;
    const one = `${t} CREATE STATISTICS st_ab (dependencies) ON a, b FROM st;`;
    const other = `${t} CREATE STATISTICS st_ab (mcv, ndistinct) ON a, b, c FROM st; ALTER STATISTICS st_ab SET STATISTICS 300; COMMENT ON STATISTICS st_ab IS 'ab';`;
    const expr = `${t} CREATE STATISTICS st_e ON (lower(c)), (a + b) FROM st;`;
    for (const [from, to] of [[t, one], [one, other], [other, one], [one, expr], [expr, t], ["", other]] as const) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await statisticsObjects(await db.client())).toEqual(await statisticsObjects(await reference.client()));
    }
    // The target alone: altered in place, what ANALYZE computed is kept.
    const { applied } = await expectCatalogConverges(major, one, `${one} ALTER STATISTICS st_ab SET STATISTICS 50;`);
    expect(applied.plan.steps.map((s) => s.sql)).toEqual([[`ALTER STATISTICS "public"."st_ab" SET STATISTICS 50`]]);
    // A column type change: the statistics are dropped before and created after it.
    const typed = await expectCatalogConverges(major, one, one.replace("a int", "a bigint"));
    expect(typed.applied.plan.steps.map((s) => s.kind)).toEqual(["dropObject", "alterColumnType", "createObject"]);
    // Dropped with their table: the statistics first.
    const gone = await expectCatalogConverges(major, other, "");
    expect(gone.applied.plan.steps.map((s) => s.kind)).toEqual(["dropObject", "dropTable"]);
  });

  it("collations: created before the columns, indexes, constraints, domains and views that use them, dropped after, re-created when unused", async () => {
    const ci = `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);`;
    const used = `${ci} CREATE SCHEMA x; CREATE COLLATION x.bytes (lc_collate = 'C', lc_ctype = 'C');
      CREATE DOMAIN email AS text COLLATE ci;
      CREATE TABLE person (id int PRIMARY KEY, name text COLLATE ci, mail email, code text CHECK (code COLLATE x.bytes <> ''));
      CREATE INDEX person_code ON person (code COLLATE x.bytes);
      CREATE VIEW person_names AS SELECT name COLLATE x.bytes AS name FROM person;
      COMMENT ON COLLATION ci IS 'case-insensitive';`;
    const plain = `CREATE SCHEMA x; CREATE TABLE person (id int PRIMARY KEY, name text, mail text, code text);`;
    for (const [from, to] of [["", used], [plain, used], [used, plain], [ci, ci.replace("level2", "level1")]] as const) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await collations(await db.client())).toEqual(await collations(await reference.client()));
    }
    // The columns move to another collation, then the old one goes: in that order.
    const moved = await expectCatalogConverges(major, `${ci} CREATE TABLE t (a text COLLATE ci);`, `CREATE COLLATION ci1 (provider = icu, locale = 'und-u-ks-level1', deterministic = false); CREATE TABLE t (a text COLLATE ci1);`);
    expect(moved.applied.plan.steps.map((s) => s.kind)).toEqual(["createObject", "alterColumnType", "dropObject"]);
  });

  it("a collation whose definition changes while a column keeps using it is refused before anything runs, naming the column and the way through", async () => {
    const db = await freshDatabase(major);
    const old = `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false); CREATE TABLE t (a text COLLATE ci);`;
    await runSql(db, `${old} INSERT INTO t VALUES ('x');`);
    const desired = schemaFromSql(old.replace("level2", "level1"));
    const failure = await planSchema(db.url, desired, engineOptions(db)).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: "COLLATION_IN_USE" });
    expect((failure as Error).message).toContain("still using it: column public.t.a. Declare the new definition under another name");
    const c = await db.client();
    expect((await c.query("SELECT collname, (SELECT count(*) FROM t)::int AS n FROM pg_collation WHERE collname = 'ci'")).rows).toEqual([{ collname: "ci", n: 1 }]);
  });

  it("text search dictionaries and configurations: created before the indexes, checks, generated columns and views that use them, changed in place, re-created on a new template, dropped after", async () => {
    const dict = `CREATE TEXT SEARCH DICTIONARY nostop (TEMPLATE = pg_catalog.simple, stopwords = 'english', accept = false);`;
    const cfg = `${dict} CREATE TEXT SEARCH CONFIGURATION en_plain (COPY = pg_catalog.english);
      ALTER TEXT SEARCH CONFIGURATION en_plain ALTER MAPPING FOR asciiword WITH nostop, pg_catalog.english_stem;
      COMMENT ON TEXT SEARCH CONFIGURATION en_plain IS 'plain english';`;
    const used = `${cfg} CREATE SCHEMA "Search"; CREATE TEXT SEARCH CONFIGURATION "Search"."My Cfg" (COPY = pg_catalog.simple);
      CREATE TABLE doc (id int PRIMARY KEY, body text CHECK (to_tsvector('en_plain', body) <> ''::tsvector),
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('"Search"."My Cfg"'::regconfig, coalesce(body, ''))) STORED);
      CREATE INDEX doc_fts ON doc USING gin (to_tsvector('en_plain', body));
      CREATE VIEW doc_words AS SELECT id, to_tsvector('en_plain', body) AS words FROM doc;`;
    const plain = `CREATE SCHEMA "Search"; CREATE TABLE doc (id int PRIMARY KEY, body text);`;
    const options = cfg.replace("stopwords = 'english', accept = false", "stopwords = 'english'");
    const mappings = cfg.replace("WITH nostop, pg_catalog.english_stem", "WITH nostop").replace("COMMENT", "ALTER TEXT SEARCH CONFIGURATION en_plain DROP MAPPING FOR email, url; COMMENT");
    const template = cfg.replace("TEMPLATE = pg_catalog.simple, stopwords = 'english', accept = false", "TEMPLATE = pg_catalog.snowball, language = 'english'");
    for (const [from, to] of [["", used], [plain, used], [used, plain], [used, `CREATE SCHEMA "Search";`], [cfg, options], [options, cfg], [cfg, mappings], [mappings, cfg], [cfg, template], [cfg, ""]] as const) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await textSearch(await db.client())).toEqual(await textSearch(await reference.client()));
    }
    // New options and mappings are made in place.
    const inPlace = await expectCatalogConverges(major, cfg, mappings);
    expect(inPlace.applied.plan.steps.map((s) => s.sql)).toEqual([
      [`ALTER TEXT SEARCH CONFIGURATION "public"."en_plain" DROP MAPPING FOR email, url`, `ALTER TEXT SEARCH CONFIGURATION "public"."en_plain" ALTER MAPPING FOR asciiword WITH public.nostop`],
    ]);
    const opts = await expectCatalogConverges(major, cfg, options);
    expect(opts.applied.plan.steps.map((s) => s.sql)).toEqual([[`ALTER TEXT SEARCH DICTIONARY "public"."nostop" (stopwords = 'english', accept)`]]);
  });

  it("an index over a text search configuration is rebuilt when its mappings change: it then finds what the new mappings index", async () => {
    const cfg = (dictionary: string) => `CREATE TEXT SEARCH CONFIGURATION en_plain (COPY = pg_catalog.english);
      ALTER TEXT SEARCH CONFIGURATION en_plain ALTER MAPPING FOR asciiword WITH ${dictionary};
      CREATE TABLE doc (id int PRIMARY KEY, body text); CREATE INDEX doc_fts ON doc USING gin (to_tsvector('en_plain', body));`;
    const db = await freshDatabase(major);
    await runSql(db, `${cfg("pg_catalog.english_stem")} INSERT INTO doc SELECT g, 'the cats sat ' || g FROM generate_series(1, 200) g;`);
    const applied = await applySchema(db.url, schemaFromSql(cfg("pg_catalog.simple")), engineOptions(db, { allowHazards: "all" }));
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["dropIndex", "replaceObject", "createIndex"]);
    const c = await db.client();
    await c.query("SET enable_seqscan = off");
    const explain = (await c.query<{ "QUERY PLAN": string }>("EXPLAIN SELECT id FROM doc WHERE to_tsvector('en_plain', body) @@ 'the & cats'::tsquery")).rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(explain).toContain("doc_fts");
    // english_stem indexed 'cat' and no 'the'; the simple dictionary indexes both words as written.
    expect((await c.query<{ n: number }>("SELECT count(*)::int AS n FROM doc WHERE to_tsvector('en_plain', body) @@ 'the & cats'::tsquery")).rows).toEqual([{ n: 200 }]);
  });

  it("a text search configuration that must be re-created while a generated column keeps using it is refused before anything runs, naming the column and the way through", async () => {
    const db = await freshDatabase(major);
    const old = `CREATE TEXT SEARCH DICTIONARY nostop (TEMPLATE = pg_catalog.simple); CREATE TEXT SEARCH CONFIGURATION en_plain (COPY = pg_catalog.english);
      ALTER TEXT SEARCH CONFIGURATION en_plain ALTER MAPPING FOR asciiword WITH nostop;
      CREATE TABLE doc (body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('en_plain'::regconfig, body)) STORED);`;
    await runSql(db, `${old} INSERT INTO doc VALUES ('x');`);
    const failure = await planSchema(db.url, schemaFromSql(old.replace("TEMPLATE = pg_catalog.simple", "TEMPLATE = pg_catalog.snowball, language = 'english'")), engineOptions(db)).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: "TEXT_SEARCH_CONFIGURATION_IN_USE" });
    expect((failure as Error).message).toContain("while column public.doc.tsv uses it. Declare the new configuration under another name");
    const c = await db.client();
    expect((await c.query("SELECT t.tmplname, (SELECT count(*) FROM doc)::int AS n FROM pg_ts_dict d JOIN pg_ts_template t ON t.oid = d.dicttemplate WHERE d.dictname = 'nostop'")).rows).toEqual([{ tmplname: "simple", n: 1 }]);
  });

  it("operators: created before the checks, indexes, generated columns and views that use them, dropped after, re-created on a new definition with the checks and indexes that use them", async () => {
    const fn = `CREATE FUNCTION approx_eq(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$SELECT abs($1 - $2) < 2$$;
      CREATE FUNCTION approx_ne(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$SELECT abs($1 - $2) >= 2$$;
      CREATE FUNCTION neg_abs(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$SELECT -abs($1)$$;
      CREATE SCHEMA m; CREATE FUNCTION m.same(text, text) RETURNS bool LANGUAGE sql IMMUTABLE AS $$SELECT lower($1) = lower($2)$$;`;
    const ops = `${fn} CREATE OPERATOR ~== (LEFTARG = int, RIGHTARG = int, FUNCTION = approx_eq, COMMUTATOR = ~==, NEGATOR = ~!=);
      CREATE OPERATOR ~!= (LEFTARG = int, RIGHTARG = int, FUNCTION = approx_ne, COMMUTATOR = ~!=, NEGATOR = ~==);
      CREATE OPERATOR !- (RIGHTARG = int, FUNCTION = neg_abs);
      CREATE OPERATOR m.=~= (LEFTARG = text, RIGHTARG = text, FUNCTION = m.same);
      COMMENT ON OPERATOR ~== (int, int) IS 'close enough';`;
    const used = `${ops} CREATE TABLE t (a int, b int, s text CHECK (s OPERATOR(m.=~=) 'x' OR s IS NULL), c bool GENERATED ALWAYS AS (a ~== b) STORED, CHECK (a ~!= b OR a = b));
      CREATE INDEX t_close ON t ((a ~== b)); CREATE VIEW v AS SELECT !- a AS n FROM t;`;
    const plain = `${fn} CREATE TABLE t (a int, b int, s text);`;
    const estimated = ops.replace("FUNCTION = approx_eq, COMMUTATOR", "FUNCTION = approx_eq, RESTRICT = eqsel, JOIN = eqjoinsel, COMMUTATOR");
    for (const [from, to] of [["", used], [plain, used], [used, plain], [ops, estimated], [estimated, ops]] as const) {
      const { db, reference } = await expectCatalogConverges(major, from, to);
      expect(await operators(await db.client())).toEqual(await operators(await reference.client()));
    }
    // A new definition: the check and the index using it are rebuilt around it.
    const withUsers = (o: string) => `${o} CREATE TABLE t (a int, b int, CHECK (a ~!= b OR a = b)); CREATE INDEX t_far ON t ((a ~!= b));`;
    const rebuilt = await expectCatalogConverges(major, withUsers(ops.replace("FUNCTION = approx_ne, COMMUTATOR = ~!=, NEGATOR = ~==", "FUNCTION = approx_ne, COMMUTATOR = ~!=")), withUsers(ops));
    expect(rebuilt.applied.plan.steps.map((s) => s.kind)).toEqual(expect.arrayContaining(["dropConstraint", "dropIndex", "dropObject", "createObject", "addConstraint", "createIndex"]));
  });

  it("an operator that must be re-created while a generated column keeps using it is refused before anything runs, naming the column and the way through", async () => {
    const db = await freshDatabase(major);
    const old = `CREATE FUNCTION approx_eq(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$SELECT abs($1 - $2) < 2$$;
      CREATE OPERATOR ~== (LEFTARG = int, RIGHTARG = int, FUNCTION = approx_eq);
      CREATE TABLE t (a int, b int, c bool GENERATED ALWAYS AS (a ~== b) STORED);`;
    await runSql(db, `${old} INSERT INTO t VALUES (1, 2);`);
    const failure = await planSchema(db.url, schemaFromSql(old.replace("FUNCTION = approx_eq)", "FUNCTION = approx_eq, RESTRICT = eqsel)")), engineOptions(db)).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: "OPERATOR_IN_USE" });
    expect((failure as Error).message).toContain("operator public.~==(integer,integer) must be re-created (its definition changes), but PostgreSQL cannot drop it while column public.t.c uses it");
    const c = await db.client();
    expect((await c.query("SELECT o.oprrest::text AS rest, (SELECT count(*) FROM t)::int AS n FROM pg_operator o WHERE o.oprname = '~=='")).rows).toEqual([{ rest: "-", n: 1 }]);
  });

  it("--schemas without public manages that schema alone and never creates public", async () => {
    const sql = "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); CREATE TABLE public.elsewhere (id int);";
    const db = await freshDatabase(major);
    await runSql(db, "DROP SCHEMA public CASCADE");
    const desired = schemaFromSql(sql);
    const applied = await applySchema(db.url, desired, engineOptions(db, { schemas: ["app"] }));
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["createSchema", "createTable"]);
    expect((await planSchema(db.url, desired, engineOptions(db, { schemas: ["app"] }))).plan.steps).toEqual([]);
    const c = await db.client();
    expect((await c.query("SELECT nspname FROM pg_namespace WHERE nspname IN ('app', 'public') ORDER BY 1")).rows).toEqual([{ nspname: "app" }]);
    // With public present (every new database has it), the catalogs are those of the SQL run directly but for public's table.
    await expectCatalogConverges(major, "", "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY);", { schemas: ["app"] });
  });

  it("schemas: all manages every non-system schema; one the desired state lacks is dropped only as an allowed hazard", async () => {
    const old = "CREATE SCHEMA a; CREATE SCHEMA gone; CREATE TABLE gone.t (id int); CREATE TABLE public.p (id int);";
    const sql = "CREATE SCHEMA a; CREATE TABLE a.x (id int); CREATE TABLE public.p (id int);";
    const db = await freshDatabase(major);
    await runSql(db, old);
    const planned = await planSchema(db.url, schemaFromSql(sql), engineOptions(db, { schemas: "all" }));
    expect(planned.plan.steps.flatMap((s) => s.hazards.map((h) => h.code)).sort()).toEqual(["DATA_LOSS_DROP_SCHEMA", "DATA_LOSS_DROP_TABLE"]);
    await expect(applySchema(db.url, schemaFromSql(sql), engineOptions(db, { schemas: "all" }))).rejects.toThrow(/DATA_LOSS_DROP_SCHEMA/);
    // Without "all", a schema the desired state does not name is not the engine's.
    expect((await planSchema(db.url, schemaFromSql(sql), engineOptions(db))).plan.steps.map((s) => s.kind)).toEqual(["createTable"]);
    await expectCatalogConverges(major, old, sql, { schemas: "all" });
  });
});

/** Every user column's statistics target, storage, compression and options, as the catalogs hold them (the default target as -1 on every major). */
async function columnAttributes(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(`
    SELECT format('%s.%s stat=%s storage=%s compression=%s options=%s', a.attrelid::regclass, a.attname, coalesce(a.attstattarget, -1), a.attstorage, a.attcompression, a.attoptions) AS line
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1`);
  return rows.map((r) => r.line);
}

/** The indexes marked `indisclustered` in `public`. */
async function clustered(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ name: string }>(`SELECT i.indexrelid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND i.indisclustered ORDER BY 1`);
  return rows.map((r) => r.name);
}

/** Every extended statistics object in `public`: definition, target (-1 for the default on every major) and comment. */
async function statisticsObjects(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(`SELECT format('%s target=%s comment=%s', pg_get_statisticsobjdef(x.oid), coalesce(x.stxstattarget, -1), obj_description(x.oid, 'pg_statistic_ext')) AS line
    FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE n.nspname = 'public' ORDER BY 1`);
  return rows.map((r) => r.line);
}


/** The collations outside pg_catalog as their definition matters (provider, locale, determinism) with their comments. */
async function collations(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(`SELECT format('%s provider=%s deterministic=%s locale=%s comment=%s', x.oid::regcollation, x.collprovider, x.collisdeterministic,
      coalesce(to_jsonb(x)->>'colllocale', to_jsonb(x)->>'colliculocale', x.collcollate), obj_description(x.oid, 'pg_collation')) AS line
    FROM pg_collation x JOIN pg_namespace n ON n.oid = x.collnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
  return rows.map((r) => r.line);
}

/** Text search dictionaries and configurations outside pg_catalog: template and options, parser and mappings, comments. */
async function textSearch(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(`SELECT format('dictionary %s.%s template=%s options=%s comment=%s', n.nspname, d.dictname, d.dicttemplate::regproc, d.dictinitoption, obj_description(d.oid, 'pg_ts_dict')) AS line
      FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT format('configuration %s.%s parser=%s comment=%s mappings=%s', n.nspname, x.cfgname, x.cfgparser, obj_description(x.oid, 'pg_ts_config'),
        (SELECT string_agg(m.maptokentype || ':' || m.mapdict::regdictionary, ' ' ORDER BY m.maptokentype, m.mapseqno) FROM pg_ts_config_map m WHERE m.mapcfg = x.oid))
      FROM pg_ts_config x JOIN pg_namespace n ON n.oid = x.cfgnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    ORDER BY 1`);
  return rows.map((r) => r.line);
}

/** Operators outside pg_catalog: arguments, result, function, commutator, negator, estimators, HASHES/MERGES, comments. */
async function operators(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ line: string }>(`SELECT format('%s result=%s code=%s com=%s neg=%s rest=%s join=%s hash=%s merge=%s comment=%s', o.oid::regoperator, o.oprresult::regtype,
      o.oprcode::regprocedure, nullif(o.oprcom, 0)::regoperator, nullif(o.oprnegate, 0)::regoperator, o.oprrest, o.oprjoin, o.oprcanhash, o.oprcanmerge, obj_description(o.oid, 'pg_operator')) AS line
    FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
  return rows.map((r) => r.line);
}
