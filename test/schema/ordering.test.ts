import { describe, expect, it } from "vitest";
import { freshDatabase, majors, type TestDatabase } from "../support/postgres";
import { expectConverges, runSql } from "../support/schema";
import { catalogDiff, catalogLines } from "../schema-suite/catalog";
import { schemaFromSql, type DesiredSchema } from "../../sdk/schema/source/desired";
import type { PostgresMajor } from "../../sdk/postgres/versions";

// Plan ordering (issue 16, ADR 0015): edges the dependency graph missed, and drops PostgreSQL makes
// (or refuses) on its own because of other drops. Each case converges and leaves the catalogs of a
// database where the new SQL ran directly.

/**
 * The convergence contract (apply, an empty re-plan, the engine's model equal to a direct build) and
 * the catalogs themselves, read without the engine (test/schema-suite/catalog.ts), equal to those of
 * a database where the new SQL ran directly.
 */
async function converges(major: PostgresMajor, oldSql: string, newSql: string | DesiredSchema) {
  const result = await expectConverges(major, oldSql, newSql);
  const reference = await freshDatabase(major);
  for (const f of typeof newSql === "string" ? [{ sql: newSql }] : newSql.files) await runSql(reference, f.sql);
  // Column order is not managed: a column dropped and added again comes last.
  const lines = async (db: TestDatabase) => (await catalogLines(await db.client())).map((l) => l.replace(/^(column \S+: )#\d+ /, "$1"));
  expect(catalogDiff(await lines(reference), await lines(result.db), 20)).toEqual([]);
  return result;
}

async function rows(db: TestDatabase, sql: string): Promise<unknown[]> {
  return (await (await db.client()).query(sql)).rows;
}

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);

// Routines whose SQL-standard bodies read a table, called by that table's CHECK and default.
const COUNTED = `CREATE TABLE t (id int PRIMARY KEY, qty int);
  CREATE FUNCTION t_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM t; END;
  CREATE FUNCTION t_next() RETURNS int LANGUAGE sql VOLATILE RETURN (SELECT coalesce(max(id), 0) + 1 FROM t);
  ALTER TABLE t ALTER COLUMN id SET DEFAULT t_next();
  ALTER TABLE t ADD CONSTRAINT t_small CHECK (t_count() < 1000);`;

describe.each(majors())("plan ordering on PostgreSQL %i", (major) => {
  describe("SQL-standard bodies", () => {
    it("orders routines after the routines their bodies call, and drops and re-creates callers around a callee", async () => {
      // The graph had these edges (pg_depend of the body): kept as a regression test.
      const callee = (sig: string, body: string) => `CREATE FUNCTION b_inner(${sig}) RETURNS int LANGUAGE sql IMMUTABLE RETURN ${body};`;
      const callers = `CREATE FUNCTION a_outer(x int) RETURNS int LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT b_inner(x) + 1; END;
        CREATE PROCEDURE a_proc(x int) LANGUAGE sql BEGIN ATOMIC SELECT a_outer(x); END;`;
      await converges(major, "", `${callee("x int", "x * 2")} ${callers}`);
      const { applied } = await converges(major, `${callee("x int", "x * 2")} ${callers}`, `${callee("x int, y int DEFAULT 3", "x * y")} ${callers}`);
      expect(kinds(applied.plan.steps)).toEqual(["dropObject", "dropObject", "dropObject", "createObject", "createObject", "createObject"]);
      await converges(major, `${callee("x int", "x * 2")} ${callers}`, "");
    });

    it("creates a table whose CHECK and default call routines that read it: they are added after the routines", async () => {
      const { applied, db } = await converges(major, "", COUNTED);
      expect(kinds(applied.plan.steps)).toEqual(["createTable", "createObject", "createObject", "setDefault", "addConstraint"]);
      await (await db.client()).query("INSERT INTO t (qty) VALUES (1), (2)");
      expect(await rows(db, "SELECT id FROM t ORDER BY id")).toEqual([{ id: 1 }, { id: 2 }]);
    });

    it("drops such a table: the CHECK and default go before the routines, the routines before the table", async () => {
      const { applied } = await converges(major, COUNTED, "CREATE TABLE keep (id int);");
      expect(kinds(applied.plan.steps).filter((k) => k !== "createTable")).toEqual(["dropDefault", "dropConstraint", "dropObject", "dropObject", "dropTable"]);
    });

    it("creates and drops a domain whose CHECK calls a routine that reads a table using the domain", async () => {
      const sql = `CREATE TABLE t (id int PRIMARY KEY);
        CREATE FUNCTION t_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM t; END;
        CREATE DOMAIN small AS int CONSTRAINT small_cap CHECK (VALUE < t_count() + 100);
        ALTER TABLE t ADD COLUMN n small;`;
      await converges(major, "", sql);
      await converges(major, sql, "CREATE TABLE keep (id int);");
    });

    it("re-creates such a table for a new partition key", async () => {
      const partitioned = (by: string) => COUNTED.replace("qty int);", `qty int) PARTITION BY ${by} (id); CREATE TABLE t_all PARTITION OF t DEFAULT;`);
      await converges(major, partitioned("RANGE"), partitioned("LIST"));
    });
  });

  describe("kept foreign keys over dropped keys", () => {
    it("drops a primary key that an unchanged foreign key depends on: the key is dropped before and validated again after", async () => {
      const { applied, db } = await converges(
        major,
        `CREATE TABLE p (id int NOT NULL, code text NOT NULL, CONSTRAINT p_pkey PRIMARY KEY (id));
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));
         INSERT INTO p VALUES (1, 'a'); INSERT INTO c VALUES (1, 1);`,
        `CREATE TABLE p (id int NOT NULL, code text NOT NULL, CONSTRAINT p_pkey PRIMARY KEY (code), CONSTRAINT p_id_key UNIQUE (id));
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));`,
      );
      const fk = applied.plan.steps.filter((s) => s.sql.join().includes("c_p_id_fkey")).map((s) => s.kind);
      expect(fk).toEqual(["dropConstraint", "addConstraint", "validateConstraint"]);
      expect(await rows(db, "SELECT p_id FROM c")).toEqual([{ p_id: 1 }]);
    });

    it("changes a unique constraint and rebuilds a unique index that unchanged foreign keys use", async () => {
      await converges(
        major,
        `CREATE TABLE p (id int PRIMARY KEY, code text, ref text, CONSTRAINT p_code_key UNIQUE (code)); CREATE UNIQUE INDEX p_ref_idx ON p (ref);
         CREATE TABLE c (id int PRIMARY KEY, code text REFERENCES p (code), ref text REFERENCES p (ref));
         INSERT INTO p VALUES (1, 'a', 'x'); INSERT INTO c VALUES (1, 'a', 'x');`,
        `CREATE TABLE p (id int PRIMARY KEY, code text, ref text, CONSTRAINT p_code_key UNIQUE (code) DEFERRABLE);
         CREATE UNIQUE INDEX p_code_idx ON p (code); CREATE UNIQUE INDEX p_ref_idx ON p (ref) WITH (fillfactor = 70);
         CREATE TABLE c (id int PRIMARY KEY, code text REFERENCES p (code), ref text REFERENCES p (ref));`,
      );
    });

    it("re-creates a partitioned table as a plain one inside a foreign-key cycle", async () => {
      const cycle = (partitioned: boolean) => `CREATE TABLE a (id int, b_id int, PRIMARY KEY (id))${partitioned ? " PARTITION BY HASH (id)" : ""};
        ${partitioned ? "CREATE TABLE a0 PARTITION OF a FOR VALUES WITH (MODULUS 1, REMAINDER 0);" : ""}
        CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));
        ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);`;
      await converges(major, cycle(true), cycle(false));
      await converges(major, cycle(false), cycle(true));
    });

    it("detaches a partition of a referenced partitioned table before dropping it", async () => {
      const { applied } = await converges(
        major,
        `CREATE TABLE a (id int PRIMARY KEY) PARTITION BY RANGE (id);
         CREATE TABLE a1 PARTITION OF a FOR VALUES FROM (0) TO (10); CREATE TABLE a2 PARTITION OF a FOR VALUES FROM (10) TO (20);
         CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id)); INSERT INTO a VALUES (1), (11); INSERT INTO b VALUES (1, 1);`,
        `CREATE TABLE a (id int PRIMARY KEY) PARTITION BY RANGE (id);
         CREATE TABLE a1 PARTITION OF a FOR VALUES FROM (0) TO (10);
         CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));`,
      );
      expect(kinds(applied.plan.steps)).toEqual(["detachPartition", "dropTable"]);
      // A referenced partition re-created as a partitioned one, and back.
      const nested = (sub: boolean) => `CREATE TABLE a (id int PRIMARY KEY) PARTITION BY RANGE (id);
        CREATE TABLE a1 PARTITION OF a FOR VALUES FROM (0) TO (10)${sub ? " PARTITION BY RANGE (id); CREATE TABLE a11 PARTITION OF a1 FOR VALUES FROM (0) TO (5)" : ""};
        CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));`;
      await converges(major, nested(false), nested(true));
      await converges(major, nested(true), nested(false));
    });

    it("re-creates a view grouping by a primary key (a functional dependency) around the key's replacement", async () => {
      await converges(
        major,
        `CREATE TABLE t (id int PRIMARY KEY, name text); CREATE VIEW v AS SELECT id, name, count(*) AS n FROM t GROUP BY id;`,
        `CREATE TABLE t (id int, name text, CONSTRAINT t_pkey PRIMARY KEY (id, name)); CREATE VIEW v AS SELECT id, name, count(*) AS n FROM t GROUP BY id, name;`,
      );
    });
  });

  describe("drops implied by other drops", () => {
    it("drops tables in a foreign-key cycle", async () => {
      const { applied } = await converges(
        major,
        `CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));
         CREATE TABLE c (id int PRIMARY KEY, c_id int REFERENCES c (id), a_id int REFERENCES a (id));
         ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);`,
        `CREATE TABLE keep (id int);`,
      );
      expect(kinds(applied.plan.steps).filter((k) => k !== "createTable")).toEqual(["dropConstraint", "dropConstraint", "dropTable", "dropTable", "dropTable"]);
    });

    it("leaves a sequence OWNED BY a dropped column to PostgreSQL, or gives it its new owner first", async () => {
      await converges(major, `CREATE TABLE t (id serial, x int);`, `CREATE TABLE t (x int);`);
      await converges(major, `CREATE TABLE t (id serial, x int);`, `CREATE SEQUENCE t_id_seq; CREATE TABLE t (x int);`);
      await converges(
        major,
        `CREATE TABLE t (id serial, x int);`,
        `CREATE SEQUENCE t_id_seq AS integer; CREATE TABLE t (x int DEFAULT nextval('t_id_seq')); ALTER SEQUENCE t_id_seq OWNED BY t.x;`,
      );
    });

    it("creates again the sequences of a table re-created for a new partition key, and drops those it no longer wants once", async () => {
      await converges(
        major,
        `CREATE TABLE t (id serial, n bigserial, at date NOT NULL) PARTITION BY RANGE (at); COMMENT ON SEQUENCE t_id_seq IS 'ids';`,
        `CREATE TABLE t (id serial, n bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL) PARTITION BY LIST (at); COMMENT ON SEQUENCE t_id_seq IS 'ids';`,
      );
      // An identity's sequence goes with its table too: a serial of the same name comes after.
      await converges(
        major,
        `CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, at date NOT NULL) PARTITION BY LIST (at);`,
        `CREATE TABLE t (id serial, at date NOT NULL) PARTITION BY RANGE (at);`,
      );
    });

    it("orders a partition's own index and CHECK on a column before the parent drops the column", async () => {
      await converges(
        major,
        `CREATE TABLE m (id int, at date NOT NULL, note text) PARTITION BY RANGE (at);
         CREATE TABLE m1 PARTITION OF m (CONSTRAINT m1_note CHECK (note <> '')) FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
         CREATE INDEX m1_note_idx ON m1 (note);`,
        `CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE m1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');`,
      );
    });

    it("drops an index with its column after a table rename", async () => {
      await converges(major, `CREATE TABLE old_t (id int PRIMARY KEY, note text); CREATE INDEX note_idx ON old_t (note);`, {
        ...schemaFromSql(`CREATE TABLE new_t (id int PRIMARY KEY);`),
        renames: [{ kind: "table", schema: "public", from: "old_t", to: "new_t" }],
      });
    });

    it("builds again the indexes, constraints and foreign keys of a column dropped and added again", async () => {
      const t = (b: string) => `CREATE TABLE t (a int, b ${b}, c int); CREATE INDEX t_b ON t (b) WHERE c > 0;
        ALTER TABLE t ADD CONSTRAINT t_b_check CHECK (b > 0), ADD CONSTRAINT t_bc UNIQUE (b, c);
        CREATE TABLE r (id int PRIMARY KEY, b int, c int, FOREIGN KEY (b, c) REFERENCES t (b, c));`;
      await converges(major, t("int"), t("int GENERATED ALWAYS AS (a * 2) STORED"));
    });
  });

  describe("keys replaced and NOT NULL", () => {
    it("builds a replacement primary key under a temporary name and swaps it in one step", async () => {
      const { applied, db } = await converges(
        major,
        `CREATE TABLE t (id int NOT NULL, tenant int NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (id)); INSERT INTO t VALUES (1, 1);
         CREATE TABLE u (id int, CONSTRAINT u_key UNIQUE (id));`,
        `CREATE TABLE t (id int NOT NULL, tenant int NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (tenant, id));
         CREATE TABLE u (id int NOT NULL, CONSTRAINT u_key PRIMARY KEY (id));`,
      );
      const sql = applied.plan.steps.map((s) => s.sql);
      expect(sql).toContainEqual([`CREATE UNIQUE INDEX CONCURRENTLY "t_pkey_setpoint_new" ON "public"."t" USING btree (tenant, id)`]);
      expect(sql).toContainEqual([`ALTER TABLE "public"."t" DROP CONSTRAINT "t_pkey"`, `ALTER TABLE "public"."t" ADD CONSTRAINT "t_pkey" PRIMARY KEY USING INDEX "t_pkey_setpoint_new"`]);
      expect(sql).toContainEqual([`ALTER TABLE "public"."u" DROP CONSTRAINT "u_key"`, `ALTER TABLE "public"."u" ADD CONSTRAINT "u_key" PRIMARY KEY USING INDEX "u_key_setpoint_new"`]);
      // No step drops a key on its own: the tables are never without one.
      expect(applied.plan.steps.filter((s) => s.kind === "dropConstraint")).toEqual([]);
      expect(await rows(db, "SELECT id, tenant FROM t")).toEqual([{ id: 1, tenant: 1 }]);
    });

    it("drops NOT NULL of columns leaving a primary key after the key (also one that foreign keys hold)", async () => {
      await converges(
        major,
        `CREATE TABLE t (id int, code text NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (id));
         CREATE TABLE k (a int, b int, CONSTRAINT k_pkey PRIMARY KEY (a, b));`,
        `CREATE TABLE t (id int, code text NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (code));
         CREATE TABLE k (a int, b int, CONSTRAINT k_pkey PRIMARY KEY (a));`,
      );
      await converges(
        major,
        `CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL); CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));`,
        `CREATE TABLE p (id int, code text NOT NULL, CONSTRAINT p_pkey PRIMARY KEY (code), CONSTRAINT p_id_key UNIQUE (id));
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));`,
      );
    });

    it("keeps NOT NULL declared on a column leaving a key, and drops an identity's NOT NULL after the identity", async () => {
      await converges(
        major,
        `CREATE TABLE t (a int, b int NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (a, b)); CREATE TABLE g (id int GENERATED BY DEFAULT AS IDENTITY, x int);`,
        `CREATE TABLE t (a int, b int NOT NULL, CONSTRAINT t_pkey PRIMARY KEY (a)); CREATE TABLE g (id int, x int);`,
      );
    });
  });
});
