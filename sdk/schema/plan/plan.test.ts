import { describe, expect, it } from "vitest";
import { column, constraint, model, table } from "../../../test/support/schema-model";
import { plan } from "./plan";
import { render } from "./render";

// Plan and render on small hand-written models: order, SQL text and hazards, without a database.

const key = (name: string, definition: string, columns: string[], references: string | null = null) =>
  constraint(name, references ? "FOREIGN KEY" : "PRIMARY KEY", definition, columns, references);

const users = table("users", [column("id", "bigint", { notNull: true }), column("Email", "text")], [key("users_pkey", "PRIMARY KEY (id)", ["id"])]);
const orders = table("orders", [column("id", "bigint", { notNull: true }), column("user_id", "bigint")], [
  key("orders_pkey", "PRIMARY KEY (id)", ["id"]),
  key("orders_user_id_fkey", "FOREIGN KEY (user_id) REFERENCES users(id)", ["user_id"], "users"),
]);

describe("plan and render on hand-written models", () => {
  it("creates the referenced table before the foreign key that needs it, whatever the diff's order", () => {
    const p = plan(model(), model(orders, users));
    const sql = p.steps.map((s) => s.sql.join("; "));
    const fk = sql.findIndex((s) => s.includes("orders_user_id_fkey"));
    expect(fk).toBeGreaterThan(sql.findIndex((s) => s.startsWith('CREATE TABLE "public"."users"')));
    expect(fk).toBeGreaterThan(sql.findIndex((s) => s.startsWith('CREATE TABLE "public"."orders"')));
    expect(p.steps.every((s) => s.hazards.length === 0)).toBe(true);
  });

  it("renders names through the quoting module, and a new table whole", () => {
    const [create] = plan(model(), model(users)).steps;
    expect(create!.sql).toEqual(['CREATE TABLE "public"."users" (\n  "id" bigint NOT NULL,\n  "Email" text,\n  CONSTRAINT "users_pkey" PRIMARY KEY (id)\n)']);
    expect(render({ kind: "dropColumn", table: users, column: users.columns[1]!, rows: { empty: true, estimatedRows: 0 }, only: false })).toEqual([
      'ALTER TABLE "public"."users" DROP COLUMN "Email"',
    ]);
  });

  it("gives a drop its data-loss hazard, saying what the probes found", () => {
    const p = plan(model(users), model(table("users", [users.columns[0]!], users.constraints)), {
      facts: new Map([["public.users.Email", { empty: false, estimatedRows: 1200 }]]),
    });
    expect(p.steps.map((s) => [s.kind, s.hazards.map((h) => h.code), s.transaction])).toEqual([["dropColumn", ["DATA_LOSS_DROP_COLUMN"], "group"]]);
    expect(p.steps[0]!.hazards[0]!.message).toContain("about 1200 rows");
  });
});
