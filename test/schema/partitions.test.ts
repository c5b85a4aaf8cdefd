import { describe, expect, it } from "vitest";
import { majors } from "../support/postgres";
import { expectConverges } from "../support/schema";

const EVENTS = `CREATE TABLE accounts (id int PRIMARY KEY);
CREATE TABLE events (id bigint NOT NULL, account_id int REFERENCES accounts(id), at date NOT NULL, kind text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE INDEX events_kind ON events (kind);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events (CONSTRAINT known_kind CHECK (kind IS NOT NULL)) FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;`;
const DATA = "INSERT INTO accounts VALUES (1); INSERT INTO events VALUES (1, 1, '2024-06-01', 'a'), (2, 1, '2025-06-01', 'b'), (3, NULL, '2030-01-01', 'c');";

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);

describe.each(majors())("partitioned tables on PostgreSQL %i", (major) => {
  it("creates RANGE, LIST and HASH partitioned tables, default and nested partitions, parent indexes, keys and comments", async () => {
    await expectConverges(
      major,
      "",
      `${EVENTS}
       CREATE TABLE regions (code text NOT NULL, name text) PARTITION BY LIST (code);
       CREATE TABLE regions_eu PARTITION OF regions FOR VALUES IN ('de', 'fr') PARTITION BY LIST (name);
       CREATE TABLE regions_eu_x PARTITION OF regions_eu FOR VALUES IN ('x');
       CREATE TABLE buckets (id int PRIMARY KEY) PARTITION BY HASH (id);
       CREATE TABLE buckets_0 PARTITION OF buckets FOR VALUES WITH (MODULUS 2, REMAINDER 0);
       CREATE TABLE buckets_1 PARTITION OF buckets FOR VALUES WITH (MODULUS 2, REMAINDER 1);
       CREATE INDEX events_2024_extra ON events_2024 (account_id);
       COMMENT ON TABLE events IS 'by year';
       COMMENT ON TABLE events_2024 IS 'last year';`,
    );
  });

  it("adds and drops partitions, moves a bound, adds a column and an index on the parent, keeping rows", async () => {
    const { applied, db } = await expectConverges(
      major,
      `${EVENTS} ${DATA}`,
      `${EVENTS.replace("CREATE INDEX events_kind ON events (kind);", "CREATE INDEX events_kind ON events (kind); CREATE INDEX events_at ON events (at);")
        .replace("(id bigint NOT NULL,", "(id bigint NOT NULL, source text DEFAULT 'app',")
        .replace("FROM ('2025-01-01') TO ('2026-01-01')", "FROM ('2025-01-01') TO ('2027-01-01')")
        .replace("CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');", "")}
       CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');`,
    );
    expect(kinds(applied.plan.steps).sort()).toEqual(["addColumn", "attachPartition", "createIndex", "createTable", "detachPartition", "dropTable"]);
    expect(applied.plan.steps.find((s) => s.kind === "createIndex")!.transaction).toBe("group");
    const c = await db.client();
    expect((await c.query("SELECT id, source, tableoid::regclass::text AS part FROM events ORDER BY id")).rows).toEqual([
      { id: "2", source: "app", part: "events_2025" },
      { id: "3", source: "app", part: "events_other" },
    ]);
  });

  it("re-creates a table whose partition key changes, with its partitions, under DATA_LOSS_DROP_TABLE", async () => {
    const { applied } = await expectConverges(
      major,
      "CREATE TABLE m (a int, b int) PARTITION BY RANGE (a); CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (10);",
      "CREATE TABLE m (a int, b int) PARTITION BY RANGE (b); CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (10);",
    );
    expect(kinds(applied.plan.steps)).toEqual(["dropTable", "dropTable", "createTable", "createTable"]);
    expect(applied.plan.steps.flatMap((s) => s.hazards.map((h) => h.code))).toEqual(["DATA_LOSS_DROP_TABLE", "DATA_LOSS_DROP_TABLE"]);
  });

  it("re-creates a partitioned tree keyed by a domain or enum that is re-created under it, and converts the type's other columns in place", async () => {
    const schema = (domain: string, values: string) =>
      `CREATE TYPE st AS ENUM (${values});
       CREATE DOMAIN code AS ${domain};
       CREATE DOMAIN live_st AS st;
       CREATE TABLE by_code (c code, n int) PARTITION BY LIST (c);
       CREATE TABLE by_code_a PARTITION OF by_code FOR VALUES IN ('a');
       CREATE TABLE by_state (s live_st, n int) PARTITION BY LIST (s);
       CREATE TABLE by_state_a PARTITION OF by_state FOR VALUES IN ('a');
       CREATE TABLE other (c code DEFAULT 'x', s live_st);`;
    const { applied, db } = await expectConverges(
      major,
      `${schema("varchar(10)", "'a', 'b', 'c'")} INSERT INTO other VALUES ('kept', 'b');`,
      schema("varchar(20)", "'a', 'b'"),
    );
    const drops = applied.plan.steps.filter((s) => s.kind === "dropTable").map((s) => s.sql[0]);
    expect(drops.sort()).toEqual(['DROP TABLE "public"."by_code"', 'DROP TABLE "public"."by_code_a"', 'DROP TABLE "public"."by_state"', 'DROP TABLE "public"."by_state_a"']);
    expect((await (await db.client()).query("SELECT c::text, s::text FROM other")).rows).toEqual([{ c: "kept", s: "b" }]);
  });

  it("re-creates a partitioned tree whose key column (its own or a sub-partition's) changes type or collation — PostgreSQL cannot alter it — and alters a column outside every key in place", async () => {
    const tree = (k: string, s: string, other: string) =>
      `CREATE TABLE m (id ${other}, k ${k}, s ${s}) PARTITION BY LIST (k);
       CREATE TABLE m_a PARTITION OF m FOR VALUES IN ('a') PARTITION BY RANGE ((s + 1));
       CREATE TABLE m_a0 PARTITION OF m_a FOR VALUES FROM (0) TO (100);`;
    for (const [to, recreated] of [
      [tree("text", "bigint", "int"), true],
      [tree(`text COLLATE "C"`, "int", "int"), true],
      [tree("text", "int", "bigint"), false],
    ] as const) {
      const { applied } = await expectConverges(major, `${tree("text", "int", "int")} INSERT INTO m VALUES (1, 'a', 5);`, to);
      if (recreated) {
        expect(kinds(applied.plan.steps)).toEqual(["dropTable", "dropTable", "dropTable", "createTable", "createTable", "createTable"]);
        expect(new Set(applied.plan.steps.flatMap((s) => s.hazards.map((h) => h.code)))).toEqual(new Set(["DATA_LOSS_DROP_TABLE"]));
      } else expect(kinds(applied.plan.steps)).toEqual(["alterColumnType"]);
    }
  });

  it("drops and detaches partitions before attaching or creating ones whose bounds would overlap them", async () => {
    const part = (n: number, m: number) => `CREATE TABLE s_p${n} PARTITION OF s FOR VALUES WITH (MODULUS ${m}, REMAINDER ${n});`;
    const parent = "CREATE TABLE s (id uuid NOT NULL, data jsonb) PARTITION BY HASH (id);";
    await expectConverges(major, `${parent} ${[0, 1, 2, 3].map((n) => part(n, 4)).join(" ")}`, `${parent} ${[0, 1].map((n) => part(n, 2)).join(" ")}`);
    await expectConverges(major, `${parent} ${[0, 1].map((n) => part(n, 2)).join(" ")}`, `${parent} ${[0, 1, 2, 3].map((n) => part(n, 4)).join(" ")}`);
  });

  it("attaches an existing table as a partition and detaches one into a plain table, keeping rows", async () => {
    const { applied, db } = await expectConverges(
      major,
      `CREATE TABLE log (at date NOT NULL, msg text) PARTITION BY RANGE (at);
       CREATE TABLE log_old (at date NOT NULL, msg text); INSERT INTO log_old VALUES ('2020-05-05', 'old');
       CREATE TABLE log_2024 PARTITION OF log FOR VALUES FROM ('2024-01-01') TO ('2025-01-01'); INSERT INTO log VALUES ('2024-02-02', 'new');`,
      `CREATE TABLE log (at date NOT NULL, msg text) PARTITION BY RANGE (at);
       CREATE TABLE log_old PARTITION OF log FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
       CREATE TABLE log_2024 (at date NOT NULL, msg text);`,
    );
    // On 18 the detached partition's NOT NULL constraint (its parent's) takes the name the SQL run directly gives it.
    expect(kinds(applied.plan.steps).sort()).toEqual(["attachPartition", "detachPartition", ...(major >= 18 ? ["renameConstraint"] : [])]);
    const c = await db.client();
    expect((await c.query("SELECT msg FROM log UNION ALL SELECT msg FROM log_2024 ORDER BY 1")).rows).toEqual([{ msg: "new" }, { msg: "old" }]);
  });
});
