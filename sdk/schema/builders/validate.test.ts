import { describe, expect, it } from "vitest";
import { InputError } from "../../errors";
import { column as c } from "./columns";
import { defineSchema } from "./define";
import { sql } from "./sql";
import { enumType, sequence, table } from "./tables";
import type { SchemaDefinition } from "./types";
import { formatPath, validateDefinition } from "./validate";

function failure(def: unknown): { propertyPath: string | undefined; message: string } {
  try {
    defineSchema(def as SchemaDefinition);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    const err = e as InputError;
    return { propertyPath: err.propertyPath, message: err.message };
  }
  throw new Error("defineSchema accepted an invalid definition");
}

const users = table("users", { columns: { id: c.bigint().primaryKey(), email: c.text() } });
const status = enumType("status", ["a", "b"]);

describe("defineSchema validation", () => {
  it.each<[string, () => unknown, string, RegExp]>([
    ["empty table name", () => ({ tables: [table("", { columns: {} })] }), "tables[0].name", /must not be empty/],
    ["names over 63 bytes", () => ({ tables: [table("é".repeat(32), { columns: {} })] }), "tables[0].name", /at most 63 bytes/],
    ["column names over 63 bytes", () => ({ tables: [table("t", { columns: { ["x".repeat(64)]: c.text() } })] }), `tables[0].columns.${"x".repeat(64)}`, /1 to 63 bytes/],
    ["duplicate tables", () => ({ tables: [users, users] }), "tables[1].name", /public\.users is defined twice/],
    ["a sequence and a table of one name", () => ({ sequences: [sequence("users")], tables: [users] }), "tables[0].name", /collides with sequence public\.users/],
    ["duplicate index names in a schema", () => ({ tables: [table("a", { columns: { x: c.text() }, indexes: [{ name: "i", columns: ["x"] }, { name: "i", columns: ["x"] }] })] }), "tables[0].indexes[1].name", /index public\.i collides with index public\.i/],
    ["numeric precision out of range", () => ({ tables: [table("t", { columns: { n: c.numeric(1001, 2) } })] }), "tables[0].columns.n.type.precision", /must be an integer from 1 to 1000/],
    ["numeric scale above precision", () => ({ tables: [table("t", { columns: { n: c.numeric(4, 6) } })] }), "tables[0].columns.n.type", /between 0 and the precision \(4\)/],
    ["varchar length 0", () => ({ tables: [table("t", { columns: { v: c.varchar(0) } })] }), "tables[0].columns.v.type.length", /must be an integer from 1 to 10485760/],
    ["empty enum", () => ({ enums: [enumType("e", [])] }), "enums[0].values", /at least one value/],
    ["empty enum value", () => ({ enums: [enumType("e", ["a", ""])] }), "enums[0].values[1]", /must not be empty/],
    ["duplicate enum values", () => ({ enums: [enumType("e", ["a", "b", "a"])] }), "enums[0].values[2]", /duplicate value "a"/],
    ["enum not listed", () => ({ tables: [table("t", { columns: { s: c.enum(status) } })] }), "tables[0].columns.s.type", /public\.status, which is not in enums/],
    ["enum default outside the labels", () => ({ enums: [status], tables: [table("t", { columns: { s: c.enum(status).default("z" as "a") } })] }), "tables[0].columns.s.default", /must be one of "a", "b"/],
    ["missing extension", () => ({ tables: [table("t", { columns: { e: c.citext() } })] }), "tables[0].columns.e.type", /needs the citext extension; add "citext"/],
    ["foreign key to a table not in the schema", () => ({ tables: [table("o", { columns: { u: c.bigint().references(users, "id") } })] }), "tables[0].columns.u.references", /public\.users, which is not in tables/],
    ["foreign key to a missing column by name", () => ({ tables: [users, table("o", { columns: { u: c.bigint().references({ name: "users" }, "uid") } })] }), "tables[1].columns.u.references", /"uid" does not exist in public\.users; its columns are "id", "email"/],
    ["an unknown referential action", () => ({ tables: [users, table("o", { columns: { u: c.bigint().references(users, "id", { onDelete: "explode" as "cascade" }) } })] }), "tables[1].columns.u.references.onDelete", /expected one of "no action"\|"restrict"\|"cascade"\|"set null"\|"set default"/],
    ["initially deferred without deferrable", () => ({ tables: [users, table("o", { columns: { u: c.bigint().references(users, "id", { initiallyDeferred: true }) } })] }), "tables[1].columns.u.references.initiallyDeferred", /needs deferrable: true/],
    ["two primary keys", () => ({ tables: [table("t", { columns: { a: c.integer().primaryKey(), b: c.integer().primaryKey() } })] }), "tables[0].columns.b.primaryKey", /at most one primary key/],
    ["identity on text", () => ({ tables: [table("t", { columns: { a: c.text().generatedAlwaysAsIdentity() } })] }), "tables[0].columns.a.identity", /smallint, integer or bigint/],
    ["identity with a default", () => ({ tables: [table("t", { columns: { a: c.integer().default(1).generatedByDefaultAsIdentity() } })] }), "tables[0].columns.a.default", /one of default, identity, generated or a serial type/],
    ["serial with a default", () => ({ tables: [table("t", { columns: { a: c.serial().default(sql`1`) } })] }), "tables[0].columns.a.default", /default and a serial type/],
    ["fractional identity options", () => ({ tables: [table("t", { columns: { a: c.integer().generatedAlwaysAsIdentity({ start: 1.5 }) } })] }), "tables[0].columns.a.identity.options.start", /must be an integer/],
    ["primary key on a missing column", () => ({ tables: [table("t", { columns: { a: c.integer() }, primaryKey: ["a", "b" as "a"] })] }), "tables[0].primaryKey[1]", /"b" does not exist in public\.t; its columns are "a"/],
    ["index on a missing column", () => ({ tables: [table("t", { columns: { a: c.integer() }, indexes: [{ columns: [{ column: "z" as "a" }] }] })] }), "tables[0].indexes[0].columns[0].column", /"z" does not exist/],
    ["index key with both column and expression", () => ({ tables: [table("t", { columns: { a: c.integer() }, indexes: [{ columns: [{ column: "a", expression: sql`a` } as never] }] })] }), "tables[0].indexes[0].columns[0]", /exactly one of column or expression/],
    ["an unknown index method", () => ({ tables: [table("t", { columns: { a: c.integer() }, indexes: [{ columns: ["a"], method: "fast" as "gin" }] })] }), "tables[0].indexes[0].method", /expected one of "btree"\|"hash"\|"gist"\|"spgist"\|"gin"\|"brin"/],
    ["a commented index without a name", () => ({ tables: [table("t", { columns: { a: c.integer() }, indexes: [{ columns: ["a"], comment: "x" }] })] }), "tables[0].indexes[0].comment", /needs a name/],
    ["composite foreign key arity", () => ({ tables: [users, table("o", { columns: { a: c.integer(), b: c.integer() }, foreignKeys: [{ columns: ["a", "b"], references: users, referencedColumns: ["id"] }] })] }), "tables[1].foreignKeys[0].referencedColumns", /as many columns as columns \(2\)/],
    ["duplicate constraint names", () => ({ tables: [table("t", { columns: { a: c.integer().check(sql`a > 0`, { name: "c" }) }, checks: [{ name: "c", expression: sql`true` }] })] }), "tables[0].checks[0].name", /"c" is used twice/],
    ["renaming a column from a name still in use", () => ({ tables: [table("t", { columns: { a: c.integer(), b: c.integer().renamedFrom("a") } })] }), "tables[0].columns.b.renamedFrom", /no column of the table still has/],
    ["a raw string where sql`` is required", () => ({ tables: [table("t", { columns: { a: c.integer() }, checks: [{ expression: "a > 0" as never }] })] }), "tables[0].checks[0].expression", /built with sql`...`/],
    ["a non-builder column", () => ({ tables: [table("t", { columns: { a: { type: "text" } as never } })] }), "tables[0].columns.a.type", /./],
    ["a non-builder table", () => ({ tables: [{ name: "t" }] }), "tables[0].kind", /must be a table built with table\(\)/],
    ["unknown top-level keys", () => ({ table: [users] }), "schema", /Unrecognized key: "table"/],
    ["bad storage parameter names", () => ({ tables: [table("t", { columns: { a: c.integer() }, storage: { "fill factor": 1 } })] }), `tables[0].storage["fill factor"]`, /lower-case words/],
  ])("rejects %s", (_label, def, path, message) => {
    const err = failure(def());
    expect(err.propertyPath ?? "schema").toBe(path);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${path}: `)).toBe(true);
  });

  it("reports every problem, the first one in the error", () => {
    const issues = validateDefinition({ enums: [enumType("e", ["a", "a"])], tables: [table("t", { columns: { a: c.numeric(4, 6) } })] });
    expect(issues.map((i) => formatPath(i.path))).toEqual(["enums[0].values[1]", "tables[0].columns.a.type"]);
    expect(failure({ enums: [enumType("e", ["a", "a"])], tables: [table("t", { columns: { a: c.numeric(4, 6) } })] }).message).toMatch(/\(and 1 more problem\)$/);
  });

  it("accepts references to tables defined outside the builders", () => {
    expect(() => defineSchema({ tables: [table("o", { columns: { u: c.bigint().references({ schema: "legacy", name: "users" }, "id") } })] })).not.toThrow();
  });
});

describe("formatPath", () => {
  it.each<[(string | number)[], string]>([
    [["tables", 1, "columns", "userId", "references"], "tables[1].columns.userId.references"],
    [["tables", 0, "columns", "created at"], 'tables[0].columns["created at"]'],
    [[], ""],
  ])("%j -> %s", (path, expected) => expect(formatPath(path)).toBe(expected));
});
