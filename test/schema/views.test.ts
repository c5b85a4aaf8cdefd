import { describe, expect, it } from "vitest";
import { majors } from "../support/postgres";
import { expectConverges } from "../support/schema";

const TABLES = "CREATE TABLE users (id int PRIMARY KEY, email varchar(100), active boolean DEFAULT true); CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users(id), total numeric(10,2));";

describe.each(majors())("views on PostgreSQL %i", (major) => {
  it("creates views over tables and over other views, with options and comments", async () => {
    await expectConverges(
      major,
      "",
      `${TABLES}
       CREATE VIEW active_users WITH (security_barrier = true) AS SELECT id, email FROM users WHERE active;
       CREATE VIEW big_spenders AS SELECT u.email, sum(o.total) AS spent FROM active_users u JOIN orders o ON o.user_id = u.id GROUP BY u.email;
       COMMENT ON VIEW big_spenders IS 'for marketing';`,
    );
  });

  it("re-creates a view whose definition changed, and the views that read it, in dependency order", async () => {
    const { applied } = await expectConverges(
      major,
      `${TABLES} CREATE VIEW a AS SELECT id, email FROM users; CREATE VIEW b AS SELECT email FROM a;`,
      `${TABLES} CREATE VIEW a AS SELECT id, email, active FROM users; CREATE VIEW b AS SELECT email FROM a;`,
    );
    expect(applied.plan.steps.map((s) => `${s.kind} ${"view" in s ? s.view.name : ""}`)).toEqual(["dropView b", "dropView a", "createView a", "createView b"]);
    expect(applied.plan.steps.every((s) => s.transaction === "group" && s.hazards.length === 0)).toBe(true);
  });

  it("drops and re-creates a view around a type change of a column it reads", async () => {
    const { applied } = await expectConverges(
      major,
      `${TABLES} CREATE VIEW emails AS SELECT id, email FROM users;`,
      `${TABLES.replace("email varchar(100)", "email text")} CREATE VIEW emails AS SELECT id, email FROM users;`,
    );
    expect(applied.plan.steps.map((s) => s.kind)).toEqual(["dropView", "alterColumnType", "createView"]);
  });

  it("comments on view and materialized view columns: added, changed, removed, and kept through a re-creation", async () => {
    const view = (cols: string) => `${TABLES} CREATE VIEW emails AS SELECT id, email${cols} FROM users; CREATE MATERIALIZED VIEW order_totals AS SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id;`;
    const first = await expectConverges(
      major,
      view(""),
      `${view("")} COMMENT ON COLUMN emails.email IS 'lower case'; COMMENT ON COLUMN emails.id IS 'the user'; COMMENT ON COLUMN order_totals.total IS 'in cents';`,
    );
    expect(first.applied.plan.steps.map((s) => s.sql[0])).toEqual([
      `COMMENT ON COLUMN "public"."emails"."id" IS 'the user'`,
      `COMMENT ON COLUMN "public"."emails"."email" IS 'lower case'`,
      `COMMENT ON COLUMN "public"."order_totals"."total" IS 'in cents'`,
    ]);
    // A re-created view (a new column) gets its column comments again; a removed comment goes.
    const { db } = await expectConverges(
      major,
      `${view("")} COMMENT ON COLUMN emails.email IS 'lower case'; COMMENT ON COLUMN emails.id IS 'the user'; COMMENT ON COLUMN order_totals.total IS 'in cents';`,
      `${view(", active")} COMMENT ON COLUMN emails.email IS 'lower case, trimmed'; COMMENT ON COLUMN emails.active IS 'can log in';`,
    );
    const c = await db.client();
    const { rows } = await c.query(
      `SELECT c.relname AS rel, a.attname AS col, col_description(c.oid, a.attnum) AS comment FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
       WHERE c.relname IN ('emails', 'order_totals') AND a.attnum > 0 AND col_description(c.oid, a.attnum) IS NOT NULL ORDER BY 1, 2`,
    );
    expect(rows).toEqual([
      { rel: "emails", col: "active", comment: "can log in" },
      { rel: "emails", col: "email", comment: "lower case, trimmed" },
    ]);
  });

  it("drops a view before a column it reads is dropped", async () => {
    await expectConverges(
      major,
      `${TABLES} CREATE VIEW emails AS SELECT id, email FROM users;`,
      "CREATE TABLE users (id int PRIMARY KEY, active boolean DEFAULT true); CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users(id), total numeric(10,2)); CREATE VIEW ids AS SELECT id FROM users;",
    );
  });
});
