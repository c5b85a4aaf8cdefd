import { describe, expect, it } from "vitest";
import { planSchema } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

const TABLES = `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, region text);
CREATE TABLE payments (id int PRIMARY KEY, account_id int REFERENCES accounts(id), amount numeric(10,2));`;
const DATA = "INSERT INTO accounts VALUES (1, 'ada', 'eu'), (2, 'bob', 'us'); INSERT INTO payments VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7);";

const kinds = (steps: readonly { kind: string }[]) => steps.map((s) => s.kind);

describe.each(majors())("materialized views and row-level security on PostgreSQL %i", (major) => {
  it("creates materialized views with options, indexes and comments, over tables and views", async () => {
    await expectConverges(
      major,
      "",
      `${TABLES}
       CREATE VIEW eu_accounts AS SELECT id, owner FROM accounts WHERE region = 'eu';
       CREATE MATERIALIZED VIEW totals WITH (fillfactor = 70) AS SELECT a.id, a.owner, sum(p.amount) AS total FROM eu_accounts a JOIN payments p ON p.account_id = a.id GROUP BY a.id, a.owner;
       CREATE UNIQUE INDEX totals_id ON totals (id);
       CREATE INDEX totals_owner ON totals (lower(owner));
       CREATE VIEW big_totals AS SELECT id FROM totals WHERE total > 100;
       COMMENT ON MATERIALIZED VIEW totals IS 'per account';
       COMMENT ON INDEX totals_id IS 'for REFRESH CONCURRENTLY';`,
    );
  });

  it("re-creates a materialized view (with its indexes and the views reading it) when its query or a column it reads changes", async () => {
    const base = `CREATE MATERIALIZED VIEW totals AS SELECT account_id, sum(amount) AS total FROM payments GROUP BY account_id;
       CREATE UNIQUE INDEX totals_id ON totals (account_id); CREATE VIEW top AS SELECT account_id FROM totals ORDER BY total DESC LIMIT 1;`;
    const changed = await expectConverges(major, `${TABLES} ${base} ${DATA}`, `${TABLES} ${base.replace("sum(amount)", "sum(amount) * 2")}`);
    expect(kinds(changed.applied.plan.steps)).toEqual(["dropView", "dropObject", "createObject", "createView", "createIndex"]);
    const c = await changed.db.client();
    expect((await c.query("SELECT account_id, total FROM totals ORDER BY 1")).rows).toEqual([
      { account_id: 1, total: "30.00" },
      { account_id: 2, total: "14.00" },
    ]);

    const retyped = await expectConverges(major, `${TABLES} ${base} ${DATA}`, `${TABLES.replace("amount numeric(10,2)", "amount numeric(12,2)")} ${base}`);
    expect(kinds(retyped.applied.plan.steps)).toEqual(["dropView", "dropObject", "alterColumnType", "createObject", "createView", "createIndex"]);
  });

  it("creates a materialized view WITH NO DATA as declared, refreshes one left unpopulated, and never empties a populated one", async () => {
    const mv = "CREATE MATERIALIZED VIEW owners AS SELECT id, owner FROM accounts";
    const populated = async (db: { client(): Promise<{ query(sql: string): Promise<{ rows: unknown[] }> }> }) =>
      (await (await db.client()).query("SELECT relispopulated AS p FROM pg_class WHERE relname = 'owners'")).rows;
    // Created (here re-created for a new query) WITH NO DATA, as the SQL says.
    const created = await expectConverges(major, `${TABLES} ${DATA} ${mv};`, `${TABLES} ${mv.replace("owner FROM", "owner, region FROM")} WITH NO DATA;`);
    expect(created.applied.plan.steps.find((s) => s.kind === "createObject")!.sql[0]).toMatch(/WITH NO DATA$/);
    expect(await populated(created.db)).toEqual([{ p: false }]);
    // Left unpopulated, wanted populated: refreshed, and readable.
    const refreshed = await expectConverges(major, `${TABLES} ${DATA} ${mv} WITH NO DATA;`, `${TABLES} ${mv};`);
    expect(kinds(refreshed.applied.plan.steps)).toEqual(["refreshMaterializedView"]);
    expect((await (await refreshed.db.client()).query("SELECT count(*)::int AS n FROM owners")).rows).toEqual([{ n: 2 }]);
    // Populated, declared WITH NO DATA: nothing to do (emptying it would break its readers).
    const db = await freshDatabase(major);
    await runSql(db, `${TABLES} ${DATA} ${mv};`);
    const kept = await planSchema(db.url, schemaFromSql(`${TABLES} ${mv} WITH NO DATA;`), engineOptions(db));
    expect(kept.plan.steps).toEqual([]);
    expect(await populated(db)).toEqual([{ p: true }]);
  });

  it("builds and drops indexes of a kept materialized view concurrently", async () => {
    const mv = "CREATE MATERIALIZED VIEW owners AS SELECT id, owner FROM accounts;";
    const { applied } = await expectConverges(
      major,
      `${TABLES} ${mv} CREATE INDEX owners_owner ON owners (owner); ${DATA}`,
      `${TABLES} ${mv} CREATE UNIQUE INDEX owners_id ON owners (id);`,
    );
    expect(applied.plan.steps.map((s) => [s.kind, s.transaction])).toEqual([
      ["dropIndex", "none"],
      ["createIndex", "none"],
    ]);
    expect(applied.plan.steps[1]!.sql[0]).toMatch(/^CREATE UNIQUE INDEX CONCURRENTLY/);
  });

  it("enables and forces row-level security, creates, changes and drops policies, with comments", async () => {
    const { db } = await expectConverges(
      major,
      `${TABLES} ${DATA}`,
      `${TABLES}
       ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
       ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
       CREATE POLICY own_rows ON accounts USING (owner = current_user);
       CREATE POLICY no_us ON accounts AS RESTRICTIVE FOR INSERT WITH CHECK (region <> 'us');
       COMMENT ON POLICY own_rows ON accounts IS 'owners see their rows';`,
    );
    const c = await db.client();
    expect((await c.query("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'accounts'")).rows).toEqual([{ relrowsecurity: true, relforcerowsecurity: true }]);

    const changed = await expectConverges(
      major,
      `${TABLES} ALTER TABLE accounts ENABLE ROW LEVEL SECURITY; ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
       CREATE POLICY own_rows ON accounts USING (owner = current_user);
       CREATE POLICY no_us ON accounts AS RESTRICTIVE FOR INSERT WITH CHECK (region <> 'us');`,
      `${TABLES} ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
       CREATE POLICY own_rows ON accounts FOR SELECT USING (owner = current_user OR region = 'eu');`,
    );
    expect(kinds(changed.applied.plan.steps).sort()).toEqual(["createObject", "dropObject", "dropObject", "setRowSecurity"]);
  });

  it("re-creates a policy around a type change of a column it reads", async () => {
    const policy = "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY; CREATE POLICY eu ON accounts USING (region = 'eu');";
    const { applied } = await expectConverges(major, `${TABLES} ${policy} ${DATA}`, `${TABLES.replace("region text", "region varchar(10)")} ${policy}`);
    expect(kinds(applied.plan.steps)).toEqual(["dropObject", "alterColumnType", "createObject"]);
  });
});
