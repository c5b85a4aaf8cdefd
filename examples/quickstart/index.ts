// Setpoint quickstart: a few related tables declared with the typed builders, plus one SQL view,
// applied to a PostgreSQL database by `pulumi up`. `pulumi preview --diff` shows the SQL first.
//
// Config:
//   databaseUrl (secret)   postgres://user:password@host:port/database of the target
//   addPhoneColumn         true to add users.phone (shows a one-statement change)
import * as pulumi from "@pulumi/pulumi";
import { Schema } from "setpoint/components";
import { column as c, defineSchema, enumType, sql, table } from "setpoint/schema";

const config = new pulumi.Config();
const databaseUrl = config.requireSecret("databaseUrl");
const addPhoneColumn = config.getBoolean("addPhoneColumn") ?? false;

const orderStatus = enumType("order_status", ["pending", "paid", "shipped"]);

const users = table("users", {
  columns: {
    id: c.bigint().primaryKey().generatedAlwaysAsIdentity(),
    email: c.text().notNull().unique(),
    name: c.varchar(200),
    created_at: c.timestamptz().notNull().default(sql`now()`),
    ...(addPhoneColumn ? { phone: c.text() } : {}),
  },
  comment: "People who can sign in",
});

const orders = table("orders", {
  columns: {
    id: c.bigint().primaryKey().generatedAlwaysAsIdentity(),
    user_id: c.bigint().notNull().references(users, "id", { onDelete: "cascade" }),
    status: c.enum(orderStatus).notNull().default("pending"),
    total: c.numeric(12, 2).notNull().check(sql`total >= 0`),
  },
  indexes: [{ name: "orders_user_id_idx", columns: ["user_id"] }],
});

const schema = new Schema("shop", {
  connection: databaseUrl,
  definition: defineSchema({ enums: [orderStatus], tables: [users, orders] }),
  sql: `CREATE VIEW order_totals AS
          SELECT u.email, count(o.id) AS orders, coalesce(sum(o.total), 0) AS spent
          FROM users u LEFT JOIN orders o ON o.user_id = u.id
          GROUP BY u.email;`,
});

export const planHash = schema.planHash;
export const fingerprint = schema.fingerprint;
