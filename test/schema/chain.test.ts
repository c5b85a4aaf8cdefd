import { describe, expect, it } from "vitest";
import { majors } from "../support/postgres";
import { expectConverges } from "../support/schema";

/**
 * A chain of dependent objects: a domain used by a column, read by a view, read by a function
 * (SQL-standard body, so PostgreSQL records the dependency), called by a trigger's WHEN. Each link
 * is changed in turn; the plan must converge, keep the data, and leave a working trigger.
 */
interface Chain {
  domain: string;
  column: string;
  view: string;
  fn: string;
  trigger: string;
}

const BASE: Chain = {
  domain: "CREATE DOMAIN amount AS numeric(10,2) CONSTRAINT non_negative CHECK (VALUE >= 0);",
  column: "total amount NOT NULL",
  view: "CREATE VIEW order_totals AS SELECT id, total FROM orders;",
  fn: "CREATE FUNCTION order_sum() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT coalesce(sum(total), 0) FROM order_totals; END;",
  trigger: "CREATE TRIGGER orders_log AFTER INSERT ON orders FOR EACH ROW WHEN (order_sum() >= 0) EXECUTE FUNCTION log_sum();",
};

function schema(c: Chain): string {
  return `${c.domain}
CREATE TABLE orders (id int PRIMARY KEY, ${c.column}, note text);
CREATE TABLE audit (id serial PRIMARY KEY, n numeric);
${c.view}
${c.fn}
CREATE FUNCTION log_sum() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (n) VALUES (order_sum()); RETURN NULL; END $$;
${c.trigger}`;
}

const DATA = "INSERT INTO orders VALUES (1, 10.5, 'a'), (2, 4.5, 'b');";

const CASES: [string, Partial<Chain>, string[]][] = [
  [
    "the domain's constraint (altered in place)",
    { domain: "CREATE DOMAIN amount AS numeric(10,2) CONSTRAINT non_negative CHECK (VALUE >= 0) CONSTRAINT bounded CHECK (VALUE < 1000000);" },
    ["addDomainConstraint", "validateDomainConstraint"],
  ],
  [
    "the domain's base type (re-created under its column, with view, function and trigger around it)",
    { domain: "CREATE DOMAIN amount AS numeric(12,2) CONSTRAINT non_negative CHECK (VALUE >= 0);" },
    ["dropObject", "dropObject", "dropView", "recreateType", "createView", "createObject", "createObject"],
  ],
  [
    "the column's type",
    { column: "total numeric(14,2) NOT NULL" },
    ["dropObject", "dropObject", "dropView", "alterColumnType", "createView", "createObject", "createObject"],
  ],
  [
    "the view's query",
    { view: "CREATE VIEW order_totals AS SELECT id, total, note FROM orders;" },
    ["dropObject", "dropObject", "dropView", "createView", "createObject", "createObject"],
  ],
  [
    "the function's body (replaced in place)",
    { fn: "CREATE FUNCTION order_sum() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT coalesce(sum(total), 0) + 0 FROM order_totals; END;" },
    ["replaceObject"],
  ],
  [
    "the function's result type",
    { fn: "CREATE FUNCTION order_sum() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT coalesce(sum(total), 0)::bigint FROM order_totals; END;" },
    ["dropObject", "dropObject", "createObject", "createObject"],
  ],
  [
    "the trigger (replaced in place)",
    { trigger: "CREATE TRIGGER orders_log AFTER INSERT OR UPDATE ON orders FOR EACH ROW WHEN (order_sum() >= 0) EXECUTE FUNCTION log_sum();" },
    ["replaceObject"],
  ],
];

describe.each(majors())("a domain → column → view → function → trigger chain on PostgreSQL %i", (major) => {
  it("is created in dependency order", async () => {
    await expectConverges(major, "", schema(BASE));
  });

  it.each(CASES)("converges when %s changes, keeping data and a working trigger", async (_name, change, expected) => {
    const { applied, db } = await expectConverges(major, `${schema(BASE)} ${DATA}`, schema({ ...BASE, ...change }));
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(expected);
    const c = await db.client();
    expect((await c.query("SELECT id, total::text AS total, note FROM orders ORDER BY id")).rows).toEqual([
      { id: 1, total: "10.50", note: "a" },
      { id: 2, total: "4.50", note: "b" },
    ]);
    await c.query("DELETE FROM audit");
    await c.query("INSERT INTO orders VALUES (3, 1, 'c')");
    expect((await c.query("SELECT n::numeric::text AS n FROM audit")).rows).toEqual([{ n: expect.stringMatching(/^16(\.00)?$/) }]);
  });
});

describe.each(majors())("more dependency chains on PostgreSQL %i", (major) => {
  it("alters a composite type and replaces its function before re-creating a view that reads the new attribute", async () => {
    await expectConverges(
      major,
      "CREATE TYPE pair_t AS (a int, b int); CREATE FUNCTION make_pair(x int) RETURNS pair_t LANGUAGE sql AS $$ SELECT x, x * 2 $$; CREATE VIEW pairs AS SELECT (make_pair(g)).* FROM generate_series(1, 3) g;",
      "CREATE TYPE pair_t AS (a int, b int, c int); CREATE FUNCTION make_pair(x int) RETURNS pair_t LANGUAGE sql AS $$ SELECT x, x * 2, x * 3 $$; CREATE VIEW pairs AS SELECT (make_pair(g)).* FROM generate_series(1, 3) g;",
    );
  });

  it("changes a column off an extension's type before dropping the extension", async () => {
    const { db } = await expectConverges(
      major,
      "CREATE EXTENSION citext; CREATE TABLE author (id int PRIMARY KEY, email citext UNIQUE); INSERT INTO author VALUES (1, 'A@x');",
      "CREATE TABLE author (id int PRIMARY KEY, email text UNIQUE);",
    );
    const c = await db.client();
    expect((await c.query("SELECT email FROM author")).rows).toEqual([{ email: "A@x" }]);
  });

  it("rebuilds a partial index before dropping the column its old predicate reads", async () => {
    const { db } = await expectConverges(
      major,
      "CREATE TABLE project (id int PRIMARY KEY, tenant int NOT NULL, archived boolean NOT NULL DEFAULT false); CREATE INDEX project_tenant_idx ON project (tenant) WHERE NOT archived; INSERT INTO project VALUES (1, 1, false);",
      "CREATE TABLE project (id int PRIMARY KEY, tenant int NOT NULL, archived_at timestamptz); CREATE INDEX project_tenant_idx ON project (tenant) WHERE archived_at IS NULL;",
    );
    const c = await db.client();
    expect((await c.query("SELECT id, tenant FROM project")).rows).toEqual([{ id: 1, tenant: 1 }]);
  });
});
