import { describe, expect, it } from "vitest";
import { column as c } from "./columns";
import { sql } from "./sql";
import { enumType, table } from "./tables";

// These tests are checked by `tsc`: every `@ts-expect-error` line must fail to compile.
describe("builder types", () => {
  const users = table("users", { columns: { id: c.bigint().primaryKey(), email: c.text() } });

  it("references accepts only column names of a builder table", () => {
    c.bigint().references(users, "id");
    // @ts-expect-error: "uid" is not a column of users
    c.bigint().references(users, "uid");
    // A `{ schema, name }` reference is checked by defineSchema, not the compiler.
    c.bigint().references({ schema: "legacy", name: "users" }, "uid");
    expect(c.bigint().references(users, "id").spec.references?.table).toEqual({ schema: "public", name: "users", builder: true });
  });

  it("table-level options accept only the table's column names", () => {
    table("t", {
      columns: { a: c.integer(), b: c.integer() },
      primaryKey: ["a", "b"],
      uniques: [{ columns: ["b"] }],
      indexes: [{ columns: ["a", { column: "b", order: "desc" }], include: ["b"] }],
    });
    // @ts-expect-error: "z" is not a column
    table("t", { columns: { a: c.integer() }, primaryKey: ["z"] });
    // @ts-expect-error: "z" is not a column
    table("t", { columns: { a: c.integer() }, indexes: [{ columns: [{ column: "z" }] }] });
    // @ts-expect-error: "z" is not a column
    table("t", { columns: { a: c.integer() }, foreignKeys: [{ columns: ["z"], references: users, referencedColumns: ["id"] }] });
  });

  it("defaults are typed by the column type", () => {
    const status = enumType("status", ["a", "b"]);
    c.enum(status).default("a");
    // @ts-expect-error: not a label of the enum
    c.enum(status).default("z");
    // @ts-expect-error: a number default for a text column
    c.text().default(1);
    c.text().array().default(["x"]);
    c.jsonb().default({ nested: [1, null] });
    c.timestamptz().default(sql`now()`);
    // @ts-expect-error: serial columns have their own default
    c.serial().default(1);
    expect(true).toBe(true);
  });

  it("sql`` refuses interpolated strings", () => {
    const name = "x";
    // @ts-expect-error: strings must go through sql.ident() or sql.literal()
    expect(() => sql`${name} > 0`).toThrow(TypeError);
  });
});
