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

  it("drops a view before a column it reads is dropped", async () => {
    await expectConverges(
      major,
      `${TABLES} CREATE VIEW emails AS SELECT id, email FROM users;`,
      "CREATE TABLE users (id int PRIMARY KEY, active boolean DEFAULT true); CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users(id), total numeric(10,2)); CREATE VIEW ids AS SELECT id FROM users;",
    );
  });
});
