import { describe, expect, it } from "vitest";
import { column as c, defineSchema, enumType, sequence, sql, table, type SchemaDefinition } from "../../sdk/schema/builders/index";
import { normalize } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { majors, servers, serverUrl } from "../support/postgres";
import { comparable, expectConverges } from "../support/schema";

// A realistic shop: two schemas, an extension type, an enum, a standalone sequence, identity,
// uuid and serial keys, composite keys, every foreign-key flavour, an exclusion constraint,
// partial/expression/covering indexes, storage options and comments.
function shop(major: PostgresMajor) {
  const status = enumType("order_status", ["pending", "paid", "shipped"], { schema: "app", comment: "Order lifecycle" });
  const invoiceNo = sequence("invoice_no", { schema: "app", as: "integer", start: 1000, increment: 1, cache: 1 });
  const users = table("users", {
    columns: {
      id: c.bigint().primaryKey().generatedAlwaysAsIdentity(),
      email: c.citext().notNull().unique(),
      name: c.varchar(200).comment("Display name"),
      createdAt: c.timestamptz().notNull().default(sql`now()`),
      settings: c.jsonb().notNull().default({ theme: "light" }),
      tags: c.text().array().notNull().default([]),
      lastIp: c.inet(),
    },
    indexes: [
      { name: "users_name_idx", columns: ["name"], where: sql`name IS NOT NULL`, comment: "Search by name" },
      { name: "users_name_prefix_idx", columns: [{ expression: sql`lower(name)`, opclass: "text_pattern_ops" }] },
    ],
    comment: "People who sign in",
  });
  const categories = table("categories", {
    schema: "app",
    columns: {
      id: c.serial().primaryKey(),
      parent_id: c.integer().references({ schema: "app", name: "categories" }, "id", { onDelete: "set null" }),
      slug: c.varchar(100).notNull().collate("C"),
    },
    uniques: [{ columns: ["parent_id", "slug"], nullsNotDistinct: major >= 15 }],
  });
  const orders = table("orders", {
    schema: "app",
    columns: {
      id: c.uuid().primaryKey().default(sql`gen_random_uuid()`),
      userId: c.bigint().notNull().references(users, "id", { onDelete: "cascade" }),
      status: c.enum(status).notNull().default("pending"),
      invoice: c.integer().default(invoiceNo.nextval()),
      subtotal: c.numeric(12, 2).notNull().check(sql`subtotal >= 0`),
      tax: c.numeric(12, 2).notNull().default(0),
      total: c.numeric(12, 2).generatedAlwaysAs(sql`subtotal + tax`),
      placed_at: c.timestamp(3),
    },
    checks: [{ name: "orders_tax_sane", expression: sql`tax <= subtotal` }],
    indexes: [
      { columns: ["userId", { column: "placed_at", order: "desc", nulls: "last" }], include: ["status"] },
      { name: "orders_status_idx", columns: ["status"], with: { fillfactor: 70 } },
    ],
    storage: { fillfactor: 90, "toast.autovacuum_enabled": false },
  });
  const items = table("order_items", {
    schema: "app",
    columns: {
      order_id: c.uuid().notNull(),
      line: c.smallint().notNull(),
      category_id: c.integer(),
      qty: c.integer().notNull().default(1),
      price: c.numeric(10, 2).notNull(),
    },
    primaryKey: { name: "order_items_pk", columns: ["order_id", "line"] },
    foreignKeys: [
      { columns: ["order_id"], references: orders, referencedColumns: ["id"], onDelete: "cascade", deferrable: true, initiallyDeferred: true },
      { name: "order_items_category_fk", columns: ["category_id"], references: categories, referencedColumns: ["id"], match: "full" },
    ],
  });
  const rooms = table("room_bookings", {
    columns: { room: c.integer().notNull(), during: c.custom("tstzrange").notNull(), note: c.text() },
    exclusions: [{ name: "room_bookings_no_overlap", definition: sql`USING gist (room WITH =, during WITH &&)` }],
    indexes: [{ columns: ["note"], method: "hash" }],
    unlogged: true,
  });
  const definition: SchemaDefinition = {
    extensions: ["citext", "btree_gist"],
    enums: [status],
    sequences: [invoiceNo],
    // Deliberately out of dependency order: foreign keys are added after every table exists.
    tables: [items, orders, rooms, categories, users],
  };
  return { definition, status, users, orders, items };
}

const HAND_WRITTEN = (major: PostgresMajor) => `
CREATE SCHEMA app;
CREATE EXTENSION citext;
CREATE EXTENSION btree_gist;
CREATE TYPE app.order_status AS ENUM ('pending', 'paid', 'shipped');
COMMENT ON TYPE app.order_status IS 'Order lifecycle';
CREATE SEQUENCE app.invoice_no AS integer START 1000;
CREATE TABLE users (
  id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  email citext UNIQUE NOT NULL,
  name varchar(200),
  "createdAt" timestamptz NOT NULL DEFAULT now(),
  settings jsonb NOT NULL DEFAULT '{"theme":"light"}',
  tags text[] NOT NULL DEFAULT '{}',
  "lastIp" inet
);
COMMENT ON TABLE users IS 'People who sign in';
COMMENT ON COLUMN users.name IS 'Display name';
CREATE INDEX users_name_idx ON users (name) WHERE name IS NOT NULL;
COMMENT ON INDEX users_name_idx IS 'Search by name';
CREATE INDEX users_name_prefix_idx ON users (lower(name) text_pattern_ops);
CREATE TABLE app.categories (
  id serial PRIMARY KEY,
  parent_id integer REFERENCES app.categories (id) ON DELETE SET NULL,
  slug varchar(100) COLLATE "C" NOT NULL,
  UNIQUE ${major >= 15 ? "NULLS NOT DISTINCT " : ""}(parent_id, slug)
);
CREATE TABLE app.orders (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  "userId" bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  status app.order_status NOT NULL DEFAULT 'pending',
  invoice integer DEFAULT nextval('app.invoice_no'),
  subtotal numeric(12,2) NOT NULL CHECK (subtotal >= 0),
  tax numeric(12,2) NOT NULL DEFAULT 0,
  total numeric(12,2) GENERATED ALWAYS AS (subtotal + tax) STORED,
  placed_at timestamp(3),
  CONSTRAINT orders_tax_sane CHECK (tax <= subtotal)
) WITH (fillfactor = 90, toast.autovacuum_enabled = false);
CREATE INDEX ON app.orders ("userId", placed_at DESC NULLS LAST) INCLUDE (status);
CREATE INDEX orders_status_idx ON app.orders (status) WITH (fillfactor = 70);
CREATE TABLE app.order_items (
  order_id uuid NOT NULL REFERENCES app.orders ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  line smallint NOT NULL,
  category_id integer CONSTRAINT order_items_category_fk REFERENCES app.categories MATCH FULL,
  qty integer NOT NULL DEFAULT 1,
  price numeric(10,2) NOT NULL,
  CONSTRAINT order_items_pk PRIMARY KEY (order_id, line)
);
CREATE UNLOGGED TABLE room_bookings (
  room integer NOT NULL,
  during tstzrange NOT NULL,
  note text,
  CONSTRAINT room_bookings_no_overlap EXCLUDE USING gist (room WITH =, during WITH &&)
);
CREATE INDEX ON room_bookings USING hash (note);
`;

describe.each(majors())("schema builders on PostgreSQL %i", (major) => {
  it("creates a multi-table builder schema from an empty database and converges", async () => {
    const { applied } = await expectConverges(major, "", defineSchema(shop(major).definition));
    const kinds = applied.plan.steps.map((s) => s.kind);
    expect(kinds).toContain("createTable");
    expect(kinds).toContain("addConstraint");
  });

  it("normalizes to the same model as the equivalent hand-written SQL", async () => {
    const server = servers().find((s) => s.major === major)!;
    const options = { devUrl: serverUrl(server), cacheDir: false as const, major };
    const fromBuilders = await normalize(defineSchema(shop(major).definition), options);
    const fromSql = await normalize(schemaFromSql(HAND_WRITTEN(major)), options);
    expect(comparable(fromBuilders.model)).toEqual(comparable(fromSql.model));
  });

  it("converges a change: add a column and an index, rename a column and a table", async () => {
    const before = shop(major);
    const oldSql = defineSchema(before.definition).files.map((f) => f.sql).join("\n");
    const { orders, items } = before;
    const { placed_at: _renamed, ...kept } = orders.columns;
    const nextOrders = table("orders", {
      schema: "app",
      checks: orders.checks,
      storage: orders.storage,
      columns: { ...kept, ordered_at: c.timestamp(3).renamedFrom("placed_at"), notes: c.text().notNull().default("") },
      indexes: [
        { columns: ["userId", { column: "ordered_at", order: "desc", nulls: "last" }], include: ["status"] },
        { name: "orders_status_idx", columns: ["status"], with: { fillfactor: 70 } },
        { name: "orders_notes_idx", columns: ["notes"], where: sql`notes <> ''` },
      ],
    });
    const nextItems = table("line_items", {
      ...items,
      renamedFrom: "order_items",
      foreignKeys: [{ ...items.foreignKeys![0]!, references: nextOrders }, items.foreignKeys![1]!],
    });
    const tables = before.definition.tables!.map((t) => (t === orders ? nextOrders : t === items ? nextItems : t));
    const desired = defineSchema({ ...before.definition, tables });
    expect(desired.renames).toEqual([
      { kind: "table", schema: "app", from: "order_items", to: "line_items" },
      { kind: "column", schema: "app", table: "orders", from: "placed_at", to: "ordered_at" },
    ]);

    const { applied } = await expectConverges(major, oldSql, desired);
    const kinds = applied.plan.steps.map((s) => s.kind);
    expect(kinds).toContain("renameColumn");
    expect(kinds).toContain("renameTable");
    expect(kinds).not.toContain("dropColumn");
    expect(kinds).not.toContain("dropTable");
  });
});

// Each builder change, applied to the SQL of the previous builder definition, must converge.
// (Renaming a table that has a serial column is left out: see the engine issue in the report.)
describe.each(majors())("builder changes on PostgreSQL %i", (major) => {
  const cases: [string, SchemaDefinition, SchemaDefinition][] = [];
  const e1 = enumType("e", ["a", "b"]);
  const e2 = enumType("e", ["a", "x", "b", "c"]);
  cases.push(["enum values added", { enums: [e1], tables: [table("t", { columns: { v: c.enum(e1).default("b") } })] }, { enums: [e2], tables: [table("t", { columns: { v: c.enum(e2).default("b") } })] }]);
  cases.push(["identity options", { tables: [table("t", { columns: { id: c.bigint().generatedAlwaysAsIdentity() } })] }, { tables: [table("t", { columns: { id: c.bigint().generatedByDefaultAsIdentity({ start: 100, increment: 5, cache: 10 }) } })] }]);
  cases.push(["collation", { tables: [table("t", { columns: { s: c.text().collate("C") } })] }, { tables: [table("t", { columns: { s: c.text().collate("POSIX") } })] }]);
  cases.push(["storage", { tables: [table("t", { columns: { s: c.text() }, storage: { fillfactor: 90, "toast.autovacuum_enabled": false } })] }, { tables: [table("t", { columns: { s: c.text() }, storage: { fillfactor: 80 } })] }]);
  cases.push([
    "column statistics target, storage and compression",
    { tables: [table("t", { columns: { s: c.text(), n: c.integer() } })] },
    { tables: [table("t", { columns: { s: c.text().storage("external").compression("pglz").statistics(500), n: c.integer().statistics(0) } })] },
  ]);
  cases.push(["rename column with check and index", { tables: [table("t", { columns: { a: c.integer().check(sql`a > 0`) }, indexes: [{ columns: ["a"] }] })] }, { tables: [table("t", { columns: { b: c.integer().check(sql`b > 0`).renamedFrom("a") }, indexes: [{ columns: ["b"] }] })] }]);
  const p1 = table("p", { columns: { id: c.integer().primaryKey() } });
  const p2 = table("p", { columns: { id: c.bigint().primaryKey() } });
  cases.push(["type change under a foreign key", { tables: [p1, table("ch", { columns: { p: c.integer().references(p1, "id") } })] }, { tables: [p2, table("ch", { columns: { p: c.bigint().references(p2, "id") } })] }]);
  cases.push(["rename table with identity", { tables: [table("old_t", { columns: { id: c.integer().generatedAlwaysAsIdentity().primaryKey() } })] }, { tables: [table("new_t", { renamedFrom: "old_t", columns: { id: c.integer().generatedAlwaysAsIdentity().primaryKey() } })] }]);
  cases.push(["generated expression", { tables: [table("t", { columns: { a: c.integer(), g: c.integer().generatedAlwaysAs(sql`a * 2`) } })] }, { tables: [table("t", { columns: { a: c.integer(), g: c.integer().generatedAlwaysAs(sql`a * 3`) } })] }]);
  const s1 = sequence("s");
  cases.push(["sequence owned by + options", { sequences: [s1], tables: [table("t", { columns: { n: c.bigint().default(s1.nextval()) } })] }, { sequences: [sequence("s", { increment: 2, ownedBy: { table: { name: "t" }, column: "n" } })], tables: [table("t", { columns: { n: c.bigint().default(s1.nextval()) } })] }]);
  cases.push(["defaults and not null dropped", { tables: [table("t", { columns: { a: c.text().notNull().default("x"), b: c.jsonb().default([1]) } })] }, { tables: [table("t", { columns: { a: c.text(), b: c.jsonb() } })] }]);
  cases.push(["fk options change", { tables: [p1, table("ch", { columns: { p: c.integer().references(p1, "id") } })] }, { tables: [p1, table("ch", { columns: { p: c.integer().references(p1, "id", { onDelete: "cascade", deferrable: true }) } })] }]);
  cases.push(["unlogged toggle", { tables: [table("t", { columns: { a: c.text() } })] }, { tables: [table("t", { unlogged: true, columns: { a: c.text() } })] }]);
  cases.push(["comments change", { tables: [table("t", { comment: "x", columns: { a: c.text().comment("y") } })] }, { tables: [table("t", { columns: { a: c.text().comment("z") } })] }]);
  cases.push(["rename a table in a schema, make a column an array", { tables: [table("t", { schema: "s1", columns: { a: c.text() } })] }, { tables: [table("u", { schema: "s1", renamedFrom: "t", columns: { a: c.text().array() } })] }]);
  if (major >= 15) cases.push(["nulls not distinct toggle", { tables: [table("t", { columns: { a: c.text().unique() } })] }, { tables: [table("t", { columns: { a: c.text().unique({ nullsNotDistinct: true }) } })] }]);
  it.each(cases)("%s", async (_label, from, to) => {
    await expectConverges(major, defineSchema(from).files[0]!.sql, defineSchema(to));
  });
});
