import { slot, type SchemaPair } from "./pair";

/** Tables, columns, types, defaults, NOT NULL, collations, storage options. */
export const tablePairs: SchemaPair[] = [
  ...slot("tables", "column-set", {
    variants: {
      base: `CREATE TABLE item (id bigint PRIMARY KEY, title text NOT NULL);`,
      added: `CREATE TABLE item (id bigint PRIMARY KEY, title text NOT NULL, price numeric(10,2), added_at timestamptz NOT NULL DEFAULT now());`,
      reordered: `CREATE TABLE item (id bigint PRIMARY KEY, note varchar(200), title text NOT NULL);`,
    },
  }),
  ...slot("tables", "column-type", {
    variants: {
      int: `CREATE TABLE measure (id int PRIMARY KEY, amount integer, label varchar(20));`,
      bigint: `CREATE TABLE measure (id int PRIMARY KEY, amount bigint, label varchar(40));`,
      numeric: `CREATE TABLE measure (id int PRIMARY KEY, amount numeric(12,3), label text);`,
      text: `CREATE TABLE measure (id int PRIMARY KEY, amount text, label char(20));`,
    },
  }),
  ...slot("tables", "temporal-types", {
    variants: {
      plain: `CREATE TABLE event (id int PRIMARY KEY, at timestamp, day date, dur interval);`,
      tz: `CREATE TABLE event (id int PRIMARY KEY, at timestamptz(3), day date, dur interval hour to minute);`,
      time: `CREATE TABLE event (id int PRIMARY KEY, at timestamptz, day date, starts time(0) without time zone);`,
    },
  }),
  ...slot("tables", "arrays-json", {
    variants: {
      arrays: `CREATE TABLE doc (id int PRIMARY KEY, tags text[] NOT NULL DEFAULT '{}', scores int[]);`,
      json: `CREATE TABLE doc (id int PRIMARY KEY, tags jsonb NOT NULL DEFAULT '[]'::jsonb, scores json);`,
      matrix: `CREATE TABLE doc (id int PRIMARY KEY, tags text[] NOT NULL DEFAULT ARRAY['new']::text[], scores int[][]);`,
    },
  }),
  ...slot("tables", "defaults", {
    variants: {
      none: `CREATE TABLE setting (key text PRIMARY KEY, value text, enabled boolean, updated timestamptz);`,
      literal: `CREATE TABLE setting (key text PRIMARY KEY, value text DEFAULT 'unset', enabled boolean DEFAULT true, updated timestamptz DEFAULT now());`,
      expr: `CREATE TABLE setting (key text PRIMARY KEY, value text DEFAULT (lower('UNSET') || '-' || 'v'), enabled boolean DEFAULT false, updated timestamptz DEFAULT (now() + interval '1 day'));`,
    },
  }),
  ...slot("tables", "not-null", {
    variants: {
      nullable: `CREATE TABLE person (id int PRIMARY KEY, email text, name text);`,
      required: `CREATE TABLE person (id int PRIMARY KEY, email text NOT NULL, name text NOT NULL DEFAULT '');`,
      mixed: `CREATE TABLE person (id int PRIMARY KEY, email text NOT NULL, name text);`,
    },
  }),
  ...slot("tables", "collation", {
    variants: {
      default: `CREATE TABLE word (id int PRIMARY KEY, w text, v varchar(10));`,
      c: `CREATE TABLE word (id int PRIMARY KEY, w text COLLATE "C", v varchar(10) COLLATE "C");`,
      posix: `CREATE TABLE word (id int PRIMARY KEY, w text COLLATE "POSIX", v varchar(10));`,
    },
  }),
  // Columns that generated columns read, retyped or dropped (PostgreSQL refuses either under them).
  ...slot("tables", "generated-sources", {
    variants: {
      ints: `CREATE TABLE order_line (id int PRIMARY KEY, price int, qty int, total int GENERATED ALWAYS AS (price * qty) STORED, sku varchar(20), sku_len int GENERATED ALWAYS AS (length(sku)) STORED);`,
      numeric: `CREATE TABLE order_line (id int PRIMARY KEY, price numeric(12,2), qty int, total numeric GENERATED ALWAYS AS (price * qty) STORED, sku text, sku_len int GENERATED ALWAYS AS (length(sku)) STORED);`,
      no_price: `CREATE TABLE order_line (id int PRIMARY KEY, qty int, total int GENERATED ALWAYS AS (qty * 10) STORED, sku varchar(20), sku_len int GENERATED ALWAYS AS (length(sku)) STORED);`,
    },
  }),
  ...slot("tables", "storage", {
    variants: {
      plain: `CREATE TABLE log_line (id bigint PRIMARY KEY, body text);`,
      fillfactor: `CREATE TABLE log_line (id bigint PRIMARY KEY, body text) WITH (fillfactor = 70);`,
      unlogged: `CREATE UNLOGGED TABLE log_line (id bigint PRIMARY KEY, body text) WITH (autovacuum_enabled = false);`,
      // Not in name order (see views/options/several).
      tuned: `CREATE TABLE log_line (id bigint PRIMARY KEY, body text) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05, toast.autovacuum_enabled = false);`,
    },
  }),
  ...slot("tables", "table-set", {
    prelude: `CREATE TABLE keep (id int PRIMARY KEY);`,
    variants: {
      one: ``,
      two: `CREATE TABLE extra (id int PRIMARY KEY, keep_id int);`,
      three: `CREATE TABLE extra (id int PRIMARY KEY, keep_id int); CREATE TABLE more (k text PRIMARY KEY, n int DEFAULT 0);`,
    },
  }),
  ...slot("tables", "quoted-names", {
    variants: {
      plain: `CREATE TABLE "Order" (id int PRIMARY KEY, "Total" numeric);`,
      spaced: `CREATE TABLE "Order" (id int PRIMARY KEY, "Total" numeric, "line count" int, "select" text);`,
    },
  }),
  ...slot("tables", "misc-types", {
    variants: {
      net: `CREATE TABLE host (id int PRIMARY KEY, addr inet, net cidr, mac macaddr, uid uuid);`,
      bytes: `CREATE TABLE host (id int PRIMARY KEY, addr text, blob bytea, flags bit(8), money_col money);`,
      geo: `CREATE TABLE host (id int PRIMARY KEY, addr inet, spot point, area box, ts tsvector);`,
    },
  }),
];
