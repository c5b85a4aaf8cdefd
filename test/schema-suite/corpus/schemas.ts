import { pair, slot, type SchemaPair } from "./pair";

/** Extensions shipped with the embedded PostgreSQL binaries, with versions and schemas. */
export const extensionPairs: SchemaPair[] = [
  ...slot("extensions", "citext", {
    prelude: `CREATE TABLE ext_keep (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      installed: `CREATE EXTENSION citext;`,
      used: `CREATE EXTENSION citext;\nCREATE TABLE handle (id int PRIMARY KEY, name citext UNIQUE);`,
    },
  }),
  ...slot("extensions", "versions", {
    prelude: `CREATE TABLE ext_keep (id int PRIMARY KEY);`,
    variants: {
      hstore_17: `CREATE EXTENSION hstore VERSION '1.7';`,
      hstore_18: `CREATE EXTENSION hstore VERSION '1.8';`,
      trgm_15: `CREATE EXTENSION pg_trgm VERSION '1.5';`,
      trgm_16: `CREATE EXTENSION pg_trgm VERSION '1.6';`,
    },
  }),
  ...slot("extensions", "in-schema", {
    variants: {
      public: `CREATE EXTENSION pg_trgm;\nCREATE TABLE word_x (id int PRIMARY KEY, w text);`,
      ext_schema: `CREATE SCHEMA ext;\nCREATE EXTENSION pg_trgm SCHEMA ext;\nCREATE TABLE word_x (id int PRIMARY KEY, w text);`,
      indexed: `CREATE EXTENSION pg_trgm;\nCREATE TABLE word_x (id int PRIMARY KEY, w text);\nCREATE INDEX word_x_trgm_idx ON word_x USING gin (w gin_trgm_ops);`,
    },
  }),
  ...slot("extensions", "btree-gist", {
    prelude: `CREATE TABLE room_booking (id int PRIMARY KEY, room int NOT NULL, during tstzrange NOT NULL);`,
    variants: {
      none: ``,
      ext: `CREATE EXTENSION btree_gist;`,
      exclusion: `CREATE EXTENSION btree_gist;\nALTER TABLE room_booking ADD CONSTRAINT room_booking_excl EXCLUDE USING gist (room WITH =, during WITH &&);`,
    },
  }),
  ...slot("extensions", "several", {
    prelude: `CREATE TABLE ext_keep (id int PRIMARY KEY);`,
    variants: {
      a: `CREATE EXTENSION ltree;\nCREATE EXTENSION cube;`,
      b: `CREATE EXTENSION ltree;\nCREATE EXTENSION cube;\nCREATE EXTENSION earthdistance;\nCREATE TABLE tree_node (id int PRIMARY KEY, path ltree);`,
      c: `CREATE EXTENSION "uuid-ossp";\nCREATE EXTENSION pgcrypto;\nCREATE TABLE token (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), legacy uuid DEFAULT uuid_generate_v4());`,
    },
  }),
  // A comment is the extension's only change: nothing else of the scope moves with it.
  ...slot("extensions", "comment", {
    prelude: `CREATE EXTENSION pgcrypto;\nCREATE TABLE ext_keep (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      hashing: `COMMENT ON EXTENSION pgcrypto IS 'password hashing';`,
      changed: `COMMENT ON EXTENSION pgcrypto IS 'hashing and random ids';`,
    },
  }),
];

/** Non-public schemas: created, dropped, objects moved between them. */
export const schemaPairs: SchemaPair[] = [
  ...slot("schemas", "create", {
    prelude: `CREATE TABLE root_t (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      empty: `CREATE SCHEMA audit;`,
      filled: `CREATE SCHEMA audit;\nCREATE TABLE audit.entry (id bigint PRIMARY KEY, at timestamptz DEFAULT now());`,
      two: `CREATE SCHEMA audit;\nCREATE SCHEMA archive;\nCREATE TABLE archive.entry (id bigint PRIMARY KEY);`,
    },
  }).map((p) => ({ ...p, schemas: ["public", "audit", "archive"] })),
  ...slot("schemas", "move-table", {
    prelude: `CREATE SCHEMA a;\nCREATE SCHEMA b;`,
    variants: {
      in_a: `CREATE TABLE a.thing (id int PRIMARY KEY, v text);`,
      in_b: `CREATE TABLE b.thing (id int PRIMARY KEY, v text);`,
    },
  }),
  ...slot("schemas", "cross-schema-fk", {
    prelude: `CREATE SCHEMA core;\nCREATE SCHEMA sales;\nCREATE TABLE core.customer (id int PRIMARY KEY);`,
    variants: {
      none: `CREATE TABLE sales.deal (id int PRIMARY KEY, customer int);`,
      fk: `CREATE TABLE sales.deal (id int PRIMARY KEY, customer int REFERENCES core.customer (id));`,
      view: `CREATE TABLE sales.deal (id int PRIMARY KEY, customer int REFERENCES core.customer (id));\nCREATE VIEW core.customer_deals AS SELECT c.id, count(d.id) AS deals FROM core.customer c LEFT JOIN sales.deal d ON d.customer = c.id GROUP BY c.id;`,
    },
  }),
  ...slot("schemas", "same-names", {
    prelude: `CREATE SCHEMA tenant_a;\nCREATE SCHEMA tenant_b;`,
    variants: {
      a: `CREATE TABLE tenant_a.users (id int PRIMARY KEY);\nCREATE TABLE tenant_b.users (id int PRIMARY KEY);`,
      b: `CREATE TABLE tenant_a.users (id int PRIMARY KEY, email text);\nCREATE TABLE tenant_b.users (id int PRIMARY KEY);\nCREATE INDEX users_email_idx ON tenant_a.users (email);`,
    },
  }),
  pair("schemas", "quoted-schema", `CREATE SCHEMA "My Schema";\nCREATE TABLE "My Schema"."T" (id int PRIMARY KEY);`, `CREATE SCHEMA "My Schema";\nCREATE TABLE "My Schema"."T" (id int PRIMARY KEY, "Col" text);`),
];
