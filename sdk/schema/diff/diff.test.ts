import { describe, expect, it } from "vitest";
import type { RowFacts } from "../changes";
import { emptyModel, type SchemaModel, type TableDef } from "../model";
import { column, constraint, table } from "../../../test/support/schema-model";
import { withRowFacts } from "../probes/row-facts";
import { factsKey } from "./context";
import { diff } from "./diff";

// The diff on small hand-written models: no database, milliseconds.

const model = (...tables: TableDef[]): SchemaModel => ({ ...emptyModel(), schemas: [{ name: "public", comment: null, owner: null } as SchemaModel["schemas"][number]], tables });
const kinds = (m: readonly { kind: string }[]) => m.map((c) => c.kind);

const users = table("users", [column("id", "bigint", { notNull: true }), column("email", "text")], [constraint("users_pkey", "PRIMARY KEY", "PRIMARY KEY (id)", ["id"])]);

describe("diff on hand-written models", () => {
  it("is empty for equal models", () => {
    expect(diff(model(users), model(users))).toEqual([]);
  });

  it("creates a new table, then adds its foreign key online (NOT VALID, then validated)", () => {
    const orders = table("orders", [column("id", "bigint", { notNull: true }), column("user_id", "bigint")], [
      constraint("orders_pkey", "PRIMARY KEY", "PRIMARY KEY (id)", ["id"]),
      constraint("orders_user_id_fkey", "FOREIGN KEY", "FOREIGN KEY (user_id) REFERENCES users(id)", ["user_id"], "users"),
    ]);
    const changes = diff(model(users), model(users, orders));
    expect(kinds(changes)).toEqual(["createTable", "addConstraint"]);
    // A table the plan creates is empty: its foreign key is added whole, never NOT VALID.
    expect(changes[1]).toMatchObject({ kind: "addConstraint", notValid: false });
  });

  it("adds a column, drops a column, and renames a declared one instead of dropping it", () => {
    const desired = table("users", [column("id", "bigint", { notNull: true }), column("mail", "text"), column("name", "text")], users.constraints);
    expect(kinds(diff(model(users), model(desired)))).toEqual(["dropColumn", "addColumn", "addColumn"]);
    const renamed = diff(model(users), model(desired), { renames: [{ kind: "column", schema: "public", table: "users", from: "email", to: "mail" }] });
    expect(renamed.map((c) => (c.kind === "renameColumn" ? `${c.kind} ${c.from}->${c.to}` : c.kind))).toEqual(["renameColumn email->mail", "addColumn"]);
  });

  it("sets NOT NULL online through a validated CHECK, offline directly", () => {
    const desired = table("users", [column("id", "bigint", { notNull: true }), column("email", "text", { notNull: true })], users.constraints);
    const online = diff(model(users), model(desired));
    expect(kinds(online)).toEqual(["addConstraint", "validateConstraint", "setNotNull"]);
    expect(online[0]).toMatchObject({ kind: "addConstraint", notValid: true, constraint: { kind: "CHECK" } });
    expect(online[2]).toMatchObject({ kind: "setNotNull", column: "email", online: true });
    expect(diff(model(users), model(desired), { online: false })).toMatchObject([{ kind: "setNotNull", column: "email", online: false }]);
  });

  it("drops a table the desired model lacks, with its rows unknown until probed", () => {
    const changes = diff(model(users), model());
    expect(changes).toMatchObject([{ kind: "dropTable", rows: { empty: null, estimatedRows: -1 } }]);
  });

  // The engine diffs once and lets the probes annotate that diff (ADR 0023): the annotated changes
  // must be exactly what a second diff given the same facts returns.
  it("withRowFacts annotates the first diff exactly as a diff with the facts would", () => {
    const live = model(users, table("audit", [column("at", "timestamp with time zone")]));
    const desired = model(table("users", [column("id", "bigint", { notNull: true })], users.constraints));
    const facts = new Map<string, RowFacts>([
      [factsKey({ schema: "public", name: "audit" }), { empty: true, estimatedRows: 0 }],
      [factsKey({ schema: "public", name: "users" }, "email"), { empty: false, estimatedRows: 1200 }],
    ]);
    const first = diff(live, desired);
    expect(kinds(first).sort()).toEqual(["dropColumn", "dropTable"]);
    const annotated = withRowFacts(first, facts);
    expect(annotated).toEqual(diff(live, desired, { facts }));
    expect(annotated).not.toEqual(first);
    expect(withRowFacts(first, new Map())).toEqual(first);
  });
});
