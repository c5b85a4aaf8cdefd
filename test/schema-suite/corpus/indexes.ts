import { slot, type SchemaPair } from "./pair";

/** Index methods, uniqueness, partial, expression, INCLUDE, ordering, storage parameters. */
export const indexPairs: SchemaPair[] = [
  ...slot("indexes", "btree", {
    prelude: `CREATE TABLE post (id int PRIMARY KEY, author int, created timestamptz, title text, body text, score int);`,
    variants: {
      none: ``,
      single: `CREATE INDEX post_author_idx ON post (author);`,
      multi: `CREATE INDEX post_author_idx ON post (author, created DESC);`,
      nulls: `CREATE INDEX post_author_idx ON post (author NULLS FIRST, created DESC NULLS LAST);`,
    },
  }),
  ...slot("indexes", "unique-index", {
    prelude: `CREATE TABLE login (id int PRIMARY KEY, email text, tenant int, deleted_at timestamptz);`,
    variants: {
      plain: `CREATE UNIQUE INDEX login_email_idx ON login (email);`,
      lower: `CREATE UNIQUE INDEX login_email_idx ON login (lower(email));`,
      partial: `CREATE UNIQUE INDEX login_email_idx ON login (tenant, lower(email)) WHERE deleted_at IS NULL;`,
    },
  }),
  ...slot("indexes", "partial", {
    prelude: `CREATE TABLE job (id bigint PRIMARY KEY, state text NOT NULL, run_at timestamptz, tries int);`,
    variants: {
      none: ``,
      pending: `CREATE INDEX job_pending_idx ON job (run_at) WHERE state = 'pending';`,
      retry: `CREATE INDEX job_pending_idx ON job (run_at) WHERE state = 'pending' AND tries < 5;`,
    },
  }),
  ...slot("indexes", "expression", {
    prelude: `CREATE TABLE customer (id int PRIMARY KEY, first text, last text, data jsonb);`,
    variants: {
      lower: `CREATE INDEX customer_name_idx ON customer (lower(last));`,
      concat: `CREATE INDEX customer_name_idx ON customer ((lower(last) || ' ' || lower(first)));`,
      json: `CREATE INDEX customer_name_idx ON customer ((data ->> 'country'), (data ->> 'city'));`,
    },
  }),
  ...slot("indexes", "include", {
    prelude: `CREATE TABLE line (id int PRIMARY KEY, order_id int, product int, qty int, price numeric);`,
    variants: {
      plain: `CREATE INDEX line_order_idx ON line (order_id);`,
      include: `CREATE INDEX line_order_idx ON line (order_id) INCLUDE (qty, price);`,
      include2: `CREATE INDEX line_order_idx ON line (order_id, product) INCLUDE (qty);`,
    },
  }),
  ...slot("indexes", "methods", {
    prelude: `CREATE TABLE place (id int PRIMARY KEY, tags text[], doc jsonb, at point, sensor int, ts tsvector);`,
    variants: {
      gin: `CREATE INDEX place_idx ON place USING gin (tags);`,
      ginjson: `CREATE INDEX place_idx ON place USING gin (doc jsonb_path_ops);`,
      gist: `CREATE INDEX place_idx ON place USING gist (at);`,
      brin: `CREATE INDEX place_idx ON place USING brin (sensor) WITH (pages_per_range = 32);`,
      hash: `CREATE INDEX place_idx ON place USING hash (sensor);`,
      spgist: `CREATE INDEX place_idx ON place USING spgist (at);`,
    },
    pairs: "chain",
  }),
  ...slot("indexes", "methods-cross", {
    prelude: `CREATE TABLE place2 (id int PRIMARY KEY, tags text[], ts tsvector);`,
    variants: {
      gin: `CREATE INDEX place2_ts_idx ON place2 USING gin (ts);`,
      gist: `CREATE INDEX place2_ts_idx ON place2 USING gist (ts);`,
      gin_fastupdate: `CREATE INDEX place2_ts_idx ON place2 USING gin (ts) WITH (fastupdate = off);`,
    },
  }),
  ...slot("indexes", "storage-params", {
    prelude: `CREATE TABLE metric (id bigint PRIMARY KEY, name text, v double precision);`,
    variants: {
      plain: `CREATE INDEX metric_name_idx ON metric (name);`,
      fill: `CREATE INDEX metric_name_idx ON metric (name) WITH (fillfactor = 60);`,
      dedup: `CREATE INDEX metric_name_idx ON metric (name) WITH (deduplicate_items = off);`,
    },
  }),
  ...slot("indexes", "collation-opclass", {
    prelude: `CREATE TABLE term (id int PRIMARY KEY, word text);`,
    variants: {
      plain: `CREATE INDEX term_word_idx ON term (word);`,
      pattern: `CREATE INDEX term_word_idx ON term (word text_pattern_ops);`,
      collate: `CREATE INDEX term_word_idx ON term (word COLLATE "C");`,
    },
  }),
  ...slot("indexes", "many", {
    prelude: `CREATE TABLE wide (id int PRIMARY KEY, a int, b int, c text, d date);`,
    variants: {
      two: `CREATE INDEX wide_a_idx ON wide (a); CREATE INDEX wide_b_idx ON wide (b);`,
      swapped: `CREATE INDEX wide_a_idx ON wide (b); CREATE INDEX wide_b_idx ON wide (a);`,
      four: `CREATE INDEX wide_a_idx ON wide (a); CREATE INDEX wide_b_idx ON wide (b); CREATE INDEX wide_c_idx ON wide (c) WHERE c IS NOT NULL; CREATE INDEX wide_d_idx ON wide (d DESC);`,
    },
  }),
];
