import { describe, expect, it } from "vitest";
import { applySchema, planSchema, type SchemaEngineOptions } from "../../sdk/schema/engine";
import type { Hazard } from "../../sdk/schema/hazards";
import { HazardsRefusedError, type Plan } from "../../sdk/schema/plan/plan";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { createPasswordRole, freshDatabase, majors, type TestDatabase } from "../support/postgres";
import { engineOptions, runSql } from "../support/schema";

const DATA_CODES = new Set(["NOT_NULL_VIOLATION", "CAST_FAILS", "TYPE_CAST_LOSSY", "UNIQUE_VIOLATION", "CHECK_VIOLATION", "FOREIGN_KEY_VIOLATION", "DATA_UNVERIFIED"]);

function dataHazards(p: Plan): (Hazard & { kind: string })[] {
  return p.steps.flatMap((s) => s.hazards.filter((h) => DATA_CODES.has(h.code)).map((h) => ({ ...h, kind: s.kind })));
}

async function planOn(db: TestDatabase, sql: string, extra: SchemaEngineOptions = {}) {
  return (await planSchema(db.url, schemaFromSql(sql), engineOptions(db, extra))).plan;
}

async function tableRows(db: TestDatabase, table: string): Promise<unknown[]> {
  const c = await db.client();
  return (await c.query(`SELECT * FROM ${table} ORDER BY 1`)).rows;
}

describe.each(majors())("data-aware hazards on PostgreSQL %i", (major) => {
  it("SET NOT NULL over NULL rows is refused with the count and a sample key, even with every hazard allowed; nothing runs", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t VALUES (1, 'a'), (2, NULL), (3, NULL);");
    const desired = "CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL);";
    for (const online of [true, false]) {
      const found = dataHazards(await planOn(db, desired, { online }));
      expect(found).toEqual([
        expect.objectContaining({ code: "NOT_NULL_VIOLATION", kind: "setNotNull", rows: { count: 2, capped: false, sampleKey: "(id)=(2)" } }),
      ]);
      expect(found[0]!.message).toMatch(/SET NOT NULL on public\.t\.note would fail: 2 rows hold NULL \(e\.g\. the row with \(id\)=\(2\)\)/);
    }
    const err = await applySchema(db.url, schemaFromSql(desired), engineOptions(db, { allowHazards: "all" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HazardsRefusedError);
    expect((err as Error).message).toMatch(/NOT_NULL_VIOLATION cannot be allowed: existing rows make the step fail/);
    // Nothing ran: not even the NOT VALID check an online SET NOT NULL starts with.
    const c = await db.client();
    expect((await c.query("SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c'")).rows).toEqual([{ n: 0 }]);
    // Fixed data: no data hazard, and the apply converges.
    await c.query("UPDATE t SET note = '' WHERE note IS NULL");
    expect(dataHazards(await planOn(db, desired))).toEqual([]);
    await applySchema(db.url, schemaFromSql(desired), engineOptions(db, { allowHazards: "all" }));
  });

  it("a new NOT NULL column without a default is refused on a non-empty table, not on an empty one or with a default", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 5); CREATE TABLE e (id int);");
    const found = dataHazards(await planOn(db, "CREATE TABLE t (id int PRIMARY KEY, c int NOT NULL); CREATE TABLE e (id int, c int NOT NULL);"));
    expect(found).toEqual([expect.objectContaining({ code: "NOT_NULL_VIOLATION", kind: "addColumn", rows: { count: 5, capped: false, sampleKey: "(id)=(1)" } })]);
    expect(dataHazards(await planOn(db, "CREATE TABLE t (id int PRIMARY KEY, c int NOT NULL DEFAULT 0, s serial NOT NULL); CREATE TABLE e (id int);"))).toEqual([]);
  });

  it("type changes: a cast that fails on some values refuses (CAST_FAILS), one that changes values warns (TYPE_CAST_LOSSY), widening is not probed", async () => {
    const db = await freshDatabase(major);
    await runSql(
      db,
      `CREATE TABLE m (id int PRIMARY KEY, amount numeric(12,2), big bigint, name text, code text, n int, huge bigint);
       INSERT INTO m VALUES (1, 10.00, 1, 'short', '12', 1, 5), (2, 10.50, 3000000000, 'a much longer name', 'x1', 2, 9007199254740993),
         (3, 7.25, 4000000000, 'ok', '007', 3, 9223372036854775807), (4, NULL, NULL, NULL, NULL, NULL, NULL);`,
    );
    const p = await planOn(
      db,
      "CREATE TABLE m (id int PRIMARY KEY, amount bigint, big integer, name varchar(10), code integer, n bigint, huge double precision);",
    );
    const byColumn = Object.fromEntries(
      p.steps.filter((s) => s.kind === "alterColumnType").map((s) => [(s as { column: string }).column, s.hazards.filter((h) => DATA_CODES.has(h.code))]),
    );
    // numeric(12,2) -> bigint rounds 10.50 and 7.25: allowed only explicitly.
    expect(byColumn.amount).toEqual([expect.objectContaining({ code: "TYPE_CAST_LOSSY", rows: { count: 2, capped: false, sampleKey: expect.stringMatching(/^\(id\)=\((2|3)\)$/) } })]);
    // bigint -> integer: out of range on two rows.
    expect(byColumn.big).toEqual([expect.objectContaining({ code: "CAST_FAILS", rows: { count: 2, capped: false, sampleKey: "(id)=(2)" } })]);
    // text -> varchar(10): an explicit cast truncates silently.
    expect(byColumn.name).toEqual([expect.objectContaining({ code: "TYPE_CAST_LOSSY", rows: { count: 1, capped: false, sampleKey: "(id)=(2)" } })]);
    // text -> integer: 'x1' fails; '007' becoming 7 is a spelling change, not a loss.
    expect(byColumn.code).toEqual([expect.objectContaining({ code: "CAST_FAILS", rows: { count: 1, capped: false, sampleKey: "(id)=(2)" } })]);
    expect(byColumn.n).toEqual([]);
    // bigint -> double precision: every value casts, but the largest do not come back (nor exactly).
    expect(byColumn.huge).toEqual([expect.objectContaining({ code: "TYPE_CAST_LOSSY", message: expect.stringMatching(/do not survive the round trip back to bigint/) })]);
    // The offending values themselves never appear, only keys.
    const text = JSON.stringify(p.steps.map((s) => s.hazards));
    expect(text).not.toContain("much longer");
    expect(text).not.toContain("3000000000");
    // Lossy alone can be allowed, and then applies.
    await runSql(db, "DELETE FROM m WHERE id IN (2, 3)");
    const desired = schemaFromSql("CREATE TABLE m (id int PRIMARY KEY, amount bigint, big integer, name varchar(10), code integer, n bigint, huge double precision);");
    await runSql(db, "UPDATE m SET amount = 1.5 WHERE id = 1");
    await expect(applySchema(db.url, desired, engineOptions(db, { allowHazards: ["TABLE_REWRITE", "ACCESS_EXCLUSIVE_LOCK"] }))).rejects.toThrow(/TYPE_CAST_LOSSY/);
    await applySchema(db.url, desired, engineOptions(db, { allowHazards: ["TABLE_REWRITE", "ACCESS_EXCLUSIVE_LOCK", "TYPE_CAST_LOSSY"] }));
    expect(await tableRows(db, "m")).toEqual([
      { id: 1, amount: "2", big: 1, name: "short", code: 12, n: "1", huge: 5 },
      { id: 4, amount: null, big: null, name: null, code: null, n: null, huge: null },
    ]);
  });

  it("a new UNIQUE or PRIMARY KEY over duplicates, a unique index, a CHECK and a FOREIGN KEY that rows violate are refused", async () => {
    const db = await freshDatabase(major);
    await runSql(
      db,
      `CREATE TABLE parent (id int PRIMARY KEY);
       INSERT INTO parent VALUES (1), (2);
       CREATE TABLE child (id int PRIMARY KEY, parent_id int, email text, price numeric, code text);
       INSERT INTO child VALUES (10, 1, 'a@x', 5, 'A'), (11, 9, 'a@x', -1, 'a'), (12, NULL, 'b@x', NULL, 'b'), (13, 8, NULL, -3, NULL);
       CREATE TABLE nokey (v int, w int);
       INSERT INTO nokey VALUES (1, 1), (1, 2), (NULL, 3);`,
    );
    const desired = `CREATE TABLE parent (id int PRIMARY KEY);
      CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, email text UNIQUE, price numeric CHECK (price >= 0), code text);
      CREATE UNIQUE INDEX child_code_lower ON child (lower(code));
      CREATE TABLE nokey (v int PRIMARY KEY, w int);`;
    for (const online of [true, false]) {
      const found = dataHazards(await planOn(db, desired, { online }));
      const codes = found.map((h) => h.code).sort();
      expect(codes).toEqual(["CHECK_VIOLATION", "FOREIGN_KEY_VIOLATION", "NOT_NULL_VIOLATION", "UNIQUE_VIOLATION", "UNIQUE_VIOLATION", "UNIQUE_VIOLATION"]);
      const get = (code: string, re: RegExp) => found.find((h) => h.code === code && re.test(h.message))!;
      expect(get("FOREIGN_KEY_VIOLATION", /child_parent_id_fkey/).rows).toEqual({ count: 2, capped: false, sampleKey: expect.stringMatching(/^\(id\)=\((11|13)\)$/) });
      expect(get("CHECK_VIOLATION", /child_price_check/).rows).toEqual({ count: 2, capped: false, sampleKey: expect.stringMatching(/^\(id\)=\((11|13)\)$/) });
      expect(get("UNIQUE_VIOLATION", /child_email_key/).rows).toEqual({ count: 2, capped: false, sampleKey: expect.stringMatching(/^\(id\)=\((10|11)\)$/) });
      expect(get("UNIQUE_VIOLATION", /child_code_lower/).rows).toEqual({ count: 2, capped: false, sampleKey: expect.stringMatching(/^\(id\)=\((10|11)\)$/) });
      // No primary key: the sample is the row's ctid.
      expect(get("UNIQUE_VIOLATION", /nokey_pkey/).rows).toEqual({ count: 2, capped: false, sampleKey: expect.stringMatching(/^\(ctid\)=\("\(0,[12]\)"\)$/) });
      expect(get("NOT_NULL_VIOLATION", /SET NOT NULL on public\.nokey\.v would fail: 1 row holds NULL/).rows).toEqual({ count: 1, capped: false, sampleKey: '(ctid)=("(0,3)")' });
    }
    // Valid data: nothing found, and the same desired state applies.
    await runSql(db, "DELETE FROM child WHERE id IN (11, 13); DELETE FROM nokey WHERE w > 1;");
    expect(dataHazards(await planOn(db, desired))).toEqual([]);
    await applySchema(db.url, schemaFromSql(desired), engineOptions(db, { allowHazards: "all" }));
  });

  it("probes see the plan's renames, new referenced tables and new columns' defaults", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int PRIMARY KEY, old_name text); INSERT INTO t VALUES (1, NULL), (2, 'x');");
    const renamed = await planSchema(
      db.url,
      { ...schemaFromSql("CREATE TABLE t (id int PRIMARY KEY, new_name text NOT NULL);"), renames: [{ kind: "column", schema: "public", table: "t", from: "old_name", to: "new_name" }] },
      engineOptions(db),
    );
    expect(dataHazards(renamed.plan)).toEqual([expect.objectContaining({ code: "NOT_NULL_VIOLATION", rows: { count: 1, capped: false, sampleKey: "(id)=(1)" } })]);
    // A foreign key to a table the plan creates: every non-NULL key of existing rows violates it.
    await runSql(db, "CREATE TABLE o (id int PRIMARY KEY, ref int); INSERT INTO o VALUES (1, 5), (2, NULL);");
    const newRef = await planOn(db, "CREATE TABLE t (id int PRIMARY KEY, old_name text); CREATE TABLE r (id int PRIMARY KEY); CREATE TABLE o (id int PRIMARY KEY, ref int REFERENCES r);");
    expect(dataHazards(newRef)).toEqual([expect.objectContaining({ code: "FOREIGN_KEY_VIOLATION", rows: { count: 1, capped: false, sampleKey: "(id)=(1)" } })]);
    // A CHECK on a new column sees its default.
    const withDefault = await planOn(db, "CREATE TABLE t (id int PRIMARY KEY, old_name text, q int DEFAULT -1 CHECK (q >= 0)); CREATE TABLE o (id int PRIMARY KEY, ref int);");
    expect(dataHazards(withDefault)).toEqual([expect.objectContaining({ code: "CHECK_VIOLATION", rows: { count: 2, capped: false, sampleKey: "(id)=(1)" } })]);
    expect(dataHazards(await planOn(db, "CREATE TABLE t (id int PRIMARY KEY, old_name text, q int DEFAULT 0 CHECK (q >= 0)); CREATE TABLE o (id int PRIMARY KEY, ref int);"))).toEqual([]);
  });

  it("a probe that does not finish in time reports DATA_UNVERIFIED (allowable), never a pass; so does a locked table", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE big (id int PRIMARY KEY, v int); INSERT INTO big SELECT g, g FROM generate_series(1, 100000) g;");
    const p = await planOn(db, "CREATE TABLE big (id int PRIMARY KEY, v int UNIQUE);", { dataProbes: { timeoutMs: 1 } });
    const found = dataHazards(p);
    expect(found).toEqual([expect.objectContaining({ code: "DATA_UNVERIFIED" })]);
    expect(found[0]!.message).toMatch(/could not be checked \(the probe did not finish within 1 ms\)/);
    expect(found[0]!.rows).toBeUndefined();
    // A table locked by another session: unverified (the probe waits at most its timeout).
    const holder = await db.client();
    await holder.query("BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE;");
    const locked = dataHazards(await planOn(db, "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL);", { dataProbes: { timeoutMs: 200 } }));
    await holder.query("ROLLBACK");
    expect(locked.map((h) => h.code)).toEqual(["DATA_UNVERIFIED"]);
    // With a zero budget nothing runs, and each probe says so.
    const none = dataHazards(await planOn(db, "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL);", { dataProbes: { budgetMs: 0 } }));
    expect(none).toEqual([expect.objectContaining({ code: "DATA_UNVERIFIED", message: expect.stringMatching(/budget of 0 ms/) })]);
    // dataProbes: false turns them off (the step then fails only at apply).
    expect(dataHazards(await planOn(db, "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL);", { dataProbes: false }))).toEqual([]);
  });

  it("a domain's new CHECK or NOT NULL is checked against the columns that use it", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE DOMAIN qty AS int; CREATE TABLE a (id int PRIMARY KEY, q qty); INSERT INTO a VALUES (1, -1), (2, NULL), (3, 5); CREATE TABLE b (q qty); INSERT INTO b VALUES (-2);");
    const desired = "CREATE DOMAIN qty AS int NOT NULL CONSTRAINT qty_positive CHECK (VALUE > 0); CREATE TABLE a (id int PRIMARY KEY, q qty); CREATE TABLE b (q qty);";
    const found = dataHazards(await planOn(db, desired));
    expect(found.map((h) => [h.code, h.kind, h.rows])).toEqual(
      expect.arrayContaining([
        ["NOT_NULL_VIOLATION", "setDomainNotNull", { count: 1, capped: false, sampleKey: "(id)=(2)" }],
        ["CHECK_VIOLATION", expect.stringMatching(/DomainConstraint$/), { count: 1, capped: false, sampleKey: "(id)=(1)" }],
        ["CHECK_VIOLATION", expect.stringMatching(/DomainConstraint$/), { count: 1, capped: false, sampleKey: '(ctid)=("(0,1)")' }],
      ]),
    );
    expect(found).toHaveLength(3);
    expect(found.find((h) => h.code === "CHECK_VIOLATION" && h.rows?.sampleKey === "(id)=(1)")?.message).toMatch(/check constraint qty_positive of domain public\.qty \(column public\.a\.q\) would fail/);
    await runSql(db, "UPDATE a SET q = 1 WHERE q IS NULL OR q < 0; UPDATE b SET q = 2;");
    expect(dataHazards(await planOn(db, desired))).toEqual([]);
  });

  it("an enum re-created without a value that rows still hold is refused (their conversion would fail)", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TYPE color AS ENUM ('red', 'green', 'blue'); CREATE TABLE p (id int PRIMARY KEY, c color, cs color[]); INSERT INTO p VALUES (1, 'red', '{red}'), (2, 'green', '{red,green}'), (3, NULL, NULL);");
    const desired = "CREATE TYPE color AS ENUM ('red', 'blue'); CREATE TABLE p (id int PRIMARY KEY, c color, cs color[]);";
    const found = dataHazards(await planOn(db, desired));
    expect(found.map((h) => [h.code, h.kind, h.rows])).toEqual([
      ["CAST_FAILS", "recreateEnum", { count: 1, capped: false, sampleKey: "(id)=(2)" }],
      ["CAST_FAILS", "recreateEnum", { count: 1, capped: false, sampleKey: "(id)=(2)" }],
    ]);
    expect(found[0]!.message).toMatch(/recreating enum public\.color without 'green' \(column public\.p\.c\) would fail: 1 row holds a removed value/);
    await runSql(db, "UPDATE p SET c = 'blue', cs = '{blue}' WHERE id = 2");
    expect(dataHazards(await planOn(db, desired))).toEqual([]);
  });

  it("reads partitioned tables whole, quoted names and composite keys", async () => {
    const db = await freshDatabase(major);
    await runSql(
      db,
      `CREATE SCHEMA "Sales";
       CREATE TABLE "Sales"."Orders" ("Region" text, "Order No" int, "Net Amount" numeric, PRIMARY KEY ("Region", "Order No")) PARTITION BY LIST ("Region");
       CREATE TABLE "Sales"."Orders_eu" PARTITION OF "Sales"."Orders" FOR VALUES IN ('eu');
       CREATE TABLE "Sales"."Orders_us" PARTITION OF "Sales"."Orders" FOR VALUES IN ('us');
       INSERT INTO "Sales"."Orders" VALUES ('eu', 1, 10), ('us', 7, -5), ('us', 8, NULL);`,
    );
    const desired = `CREATE SCHEMA "Sales";
       CREATE TABLE "Sales"."Orders" ("Region" text, "Order No" int, "Net Amount" numeric NOT NULL CONSTRAINT "Net positive" CHECK ("Net Amount" > 0), PRIMARY KEY ("Region", "Order No")) PARTITION BY LIST ("Region");
       CREATE TABLE "Sales"."Orders_eu" PARTITION OF "Sales"."Orders" FOR VALUES IN ('eu');
       CREATE TABLE "Sales"."Orders_us" PARTITION OF "Sales"."Orders" FOR VALUES IN ('us');`;
    const found = dataHazards(await planOn(db, desired));
    // The partitioned parent is read once, with its partitions' rows.
    expect(found.map((h) => [h.code, h.kind, h.rows])).toEqual([
      ["NOT_NULL_VIOLATION", "setNotNull", { count: 1, capped: false, sampleKey: '("Region", "Order No")=(us, 8)' }],
      ["CHECK_VIOLATION", "addConstraint", { count: 1, capped: false, sampleKey: '("Region", "Order No")=(us, 7)' }],
    ]);
    expect(found[1]!.message).toMatch(/^check constraint Net positive on Sales\.Orders would fail: 1 row violates it/);
  });

  it("a table attached as a partition with rows outside its bound is refused (LIST, RANGE, HASH)", async () => {
    const db = await freshDatabase(major);
    await runSql(
      db,
      `CREATE TABLE l (id int, region text) PARTITION BY LIST (region);
       CREATE TABLE l_eu (id int, region text); INSERT INTO l_eu VALUES (1, 'eu'), (2, 'us'), (3, NULL);
       CREATE TABLE r (id int, at date) PARTITION BY RANGE (at);
       CREATE TABLE r_2024 (id int, at date); INSERT INTO r_2024 VALUES (1, '2024-05-01'), (2, '2025-01-01');
       CREATE TABLE h (id int) PARTITION BY HASH (id);
       CREATE TABLE h_0 (id int); INSERT INTO h_0 SELECT generate_series(1, 20);`,
    );
    const desired = `CREATE TABLE l (id int, region text) PARTITION BY LIST (region);
       CREATE TABLE l_eu PARTITION OF l FOR VALUES IN ('eu');
       CREATE TABLE r (id int, at date) PARTITION BY RANGE (at);
       CREATE TABLE r_2024 PARTITION OF r FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
       CREATE TABLE h (id int) PARTITION BY HASH (id);
       CREATE TABLE h_0 PARTITION OF h FOR VALUES WITH (modulus 2, remainder 0);`;
    const found = dataHazards(await planOn(db, desired));
    const byTable = Object.fromEntries(found.map((h) => [/attaching public\.(\w+)/.exec(h.message)?.[1], [h.code, h.kind, h.rows?.count]]));
    expect(byTable.l_eu).toEqual(["CHECK_VIOLATION", "attachPartition", 2]);
    expect(byTable.r_2024).toEqual(["CHECK_VIOLATION", "attachPartition", 1]);
    expect(byTable.h_0?.[0]).toBe("CHECK_VIOLATION");
    expect(byTable.h_0?.[2]).toBeGreaterThan(0);
    expect(found).toHaveLength(3);
    // Rows that fit: no finding, and the attach applies.
    await runSql(db, "DELETE FROM l_eu WHERE region IS DISTINCT FROM 'eu'; DELETE FROM r_2024 WHERE at >= '2025-01-01'; DELETE FROM h_0 WHERE NOT satisfies_hash_partition('h'::regclass, 2, 0, id);");
    expect(dataHazards(await planOn(db, desired))).toEqual([]);
    await applySchema(db.url, schemaFromSql(desired), engineOptions(db, { allowHazards: "all" }));
  });

  it("rows hidden by row-level security are not a pass: the probe reports DATA_UNVERIFIED", async () => {
    const db = await freshDatabase(major);
    const role = await createPasswordRole(db);
    try {
      const c = await db.client();
      await c.query(`SET ROLE ${role.role};
        CREATE TABLE s (id int PRIMARY KEY, v int); INSERT INTO s VALUES (1, NULL);
        ALTER TABLE s ENABLE ROW LEVEL SECURITY; ALTER TABLE s FORCE ROW LEVEL SECURITY; CREATE POLICY none ON s USING (false);
        RESET ROLE;`);
      const desired = "CREATE TABLE s (id int PRIMARY KEY, v int NOT NULL); ALTER TABLE s ENABLE ROW LEVEL SECURITY; ALTER TABLE s FORCE ROW LEVEL SECURITY; CREATE POLICY none ON s USING (false);";
      const p = (await planSchema(role.url, schemaFromSql(desired), engineOptions(db))).plan;
      const found = dataHazards(p);
      expect(found).toEqual([expect.objectContaining({ code: "DATA_UNVERIFIED", message: expect.stringMatching(/cannot read every row \(privileges or row-level security\)/) })]);
    } finally {
      const c = await db.client();
      await c.query(`DROP TABLE IF EXISTS s`);
      await role.drop().catch(() => undefined);
    }
  });

  it("samples can be turned off, and a key with control characters is quoted, never raw", async () => {
    const db = await freshDatabase(major);
    await runSql(db, `CREATE TABLE k (id text PRIMARY KEY, v int); INSERT INTO k VALUES (E'line1\\nline2 "q"', NULL);`);
    const found = dataHazards(await planOn(db, "CREATE TABLE k (id text PRIMARY KEY, v int NOT NULL);"));
    expect(found[0]!.rows).toEqual({ count: 1, capped: false, sampleKey: '(id)=("line1\\nline2 \\"q\\"")' });
    expect(found[0]!.message).not.toContain("\n");
    const hidden = dataHazards(await planOn(db, "CREATE TABLE k (id text PRIMARY KEY, v int NOT NULL);", { dataProbes: { sampleKeys: false } }));
    expect(hidden[0]!.rows).toEqual({ count: 1, capped: false });
    expect(hidden[0]!.message).not.toContain("line1");
  });

  it("caps the count of offending rows", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE c (id int PRIMARY KEY, v int); INSERT INTO c SELECT g, NULL FROM generate_series(1, 1500) g;");
    const found = dataHazards(await planOn(db, "CREATE TABLE c (id int PRIMARY KEY, v int NOT NULL);"));
    expect(found[0]!.rows).toMatchObject({ count: 1000, capped: true });
    expect(found[0]!.message).toContain("more than 1000 rows hold NULL");
  });
});
