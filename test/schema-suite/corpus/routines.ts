import { slot, type SchemaPair } from "./pair";

/** Functions, procedures and aggregates: body, signature, volatility, security, search_path. */
export const routinePairs: SchemaPair[] = [
  ...slot("routines", "sql-body", {
    prelude: `CREATE TABLE fn_keep (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      add: `CREATE FUNCTION add_tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT amount * 1.2 $$;`,
      changed: `CREATE FUNCTION add_tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT round(amount * 1.25, 2) $$;`,
      std: `CREATE FUNCTION add_tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE RETURN amount * 1.2;`,
    },
  }),
  ...slot("routines", "plpgsql-body", {
    variants: {
      v1: `CREATE FUNCTION greet(who text) RETURNS text LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 'hello ' || who;\nEND\n$$;`,
      v2: `CREATE FUNCTION greet(who text) RETURNS text LANGUAGE plpgsql AS $$\nDECLARE\n  msg text;\nBEGIN\n  msg := 'hi ' || coalesce(who, 'stranger');\n  RETURN msg;\nEND\n$$;`,
      strict: `CREATE FUNCTION greet(who text) RETURNS text LANGUAGE plpgsql STRICT STABLE AS $$\nBEGIN\n  RETURN 'hello ' || who;\nEND\n$$;`,
    },
  }),
  ...slot("routines", "signature", {
    variants: {
      one: `CREATE FUNCTION area(w numeric) RETURNS numeric LANGUAGE sql AS $$ SELECT w * w $$;`,
      two: `CREATE FUNCTION area(w numeric, h numeric) RETURNS numeric LANGUAGE sql AS $$ SELECT w * h $$;`,
      default_arg: `CREATE FUNCTION area(w numeric, h numeric DEFAULT 1) RETURNS numeric LANGUAGE sql AS $$ SELECT w * h $$;`,
      returns_int: `CREATE FUNCTION area(w numeric) RETURNS integer LANGUAGE sql AS $$ SELECT (w * w)::int $$;`,
    },
  }),
  ...slot("routines", "overloads", {
    variants: {
      one: `CREATE FUNCTION fmt(v int) RETURNS text LANGUAGE sql AS $$ SELECT v::text $$;`,
      two: `CREATE FUNCTION fmt(v int) RETURNS text LANGUAGE sql AS $$ SELECT v::text $$;\nCREATE FUNCTION fmt(v date) RETURNS text LANGUAGE sql AS $$ SELECT to_char(v, 'YYYY-MM-DD') $$;`,
      other: `CREATE FUNCTION fmt(v date) RETURNS text LANGUAGE sql AS $$ SELECT to_char(v, 'DD.MM.YYYY') $$;`,
    },
  }),
  ...slot("routines", "security", {
    prelude: `CREATE SCHEMA app;\nCREATE TABLE app.secret (id int PRIMARY KEY, v text);`,
    variants: {
      invoker: `CREATE FUNCTION app.secret_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM app.secret $$;`,
      definer: `CREATE FUNCTION app.secret_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT count(*) FROM app.secret $$;`,
      path: `CREATE FUNCTION app.secret_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER SET search_path = app, pg_temp AS $$ SELECT count(*) FROM secret $$;`,
      settings: `CREATE FUNCTION app.secret_count() RETURNS bigint LANGUAGE sql STABLE SET search_path = app SET work_mem = '8MB' AS $$ SELECT count(*) FROM secret $$;`,
    },
  }),
  ...slot("routines", "attributes", {
    variants: {
      volatile: `CREATE FUNCTION jitter(x double precision) RETURNS double precision LANGUAGE sql AS $$ SELECT x + random() $$;`,
      parallel: `CREATE FUNCTION jitter(x double precision) RETURNS double precision LANGUAGE sql PARALLEL SAFE COST 10 AS $$ SELECT x + random() $$;`,
      leakproof: `CREATE FUNCTION jitter(x double precision) RETURNS double precision LANGUAGE sql IMMUTABLE LEAKPROOF AS $$ SELECT x $$;`,
    },
  }),
  ...slot("routines", "set-returning", {
    prelude: `CREATE TABLE event_log (id int PRIMARY KEY, kind text, at timestamptz);`,
    variants: {
      setof: `CREATE FUNCTION events_of(k text) RETURNS SETOF event_log LANGUAGE sql STABLE AS $$ SELECT * FROM event_log WHERE kind = k $$;`,
      table: `CREATE FUNCTION events_of(k text) RETURNS TABLE (id int, at timestamptz) LANGUAGE sql STABLE AS $$ SELECT id, at FROM event_log WHERE kind = k $$;`,
      rows: `CREATE FUNCTION events_of(k text) RETURNS SETOF event_log LANGUAGE sql STABLE ROWS 50 AS $$ SELECT * FROM event_log WHERE kind = k ORDER BY at $$;`,
    },
  }),
  ...slot("routines", "out-params", {
    variants: {
      a: `CREATE FUNCTION split_name(full_name text, OUT first text, OUT last text) LANGUAGE sql AS $$ SELECT split_part(full_name, ' ', 1), split_part(full_name, ' ', 2) $$;`,
      b: `CREATE FUNCTION split_name(full_name text, OUT first text, OUT last text, OUT parts int) LANGUAGE sql AS $$ SELECT split_part(full_name, ' ', 1), split_part(full_name, ' ', 2), 2 $$;`,
    },
  }),
  ...slot("routines", "procedure", {
    prelude: `CREATE TABLE audit_entry (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, msg text);`,
    variants: {
      none: ``,
      v1: `CREATE PROCEDURE log_msg(m text) LANGUAGE sql AS $$ INSERT INTO audit_entry (msg) VALUES (m) $$;`,
      v2: `CREATE PROCEDURE log_msg(m text) LANGUAGE plpgsql AS $$\nBEGIN\n  INSERT INTO audit_entry (msg) VALUES (upper(m));\n  COMMIT;\nEND\n$$;`,
      twoargs: `CREATE PROCEDURE log_msg(m text, times int) LANGUAGE plpgsql AS $$\nBEGIN\n  FOR i IN 1..times LOOP INSERT INTO audit_entry (msg) VALUES (m); END LOOP;\nEND\n$$;`,
    },
  }),
  ...slot("routines", "aggregate", {
    prelude: `CREATE FUNCTION concat_step(acc text, v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN acc = '' THEN v ELSE acc || ',' || v END $$;`,
    variants: {
      none: ``,
      agg: `CREATE AGGREGATE csv(text) (SFUNC = concat_step, STYPE = text, INITCOND = '');`,
      parallel: `CREATE AGGREGATE csv(text) (SFUNC = concat_step, STYPE = text, INITCOND = '', PARALLEL = SAFE);`,
    },
  }),
  ...slot("routines", "used-by-default", {
    variants: {
      a: `CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'C-' || floor(random() * 1000)::int $$;\nCREATE TABLE voucher (id int PRIMARY KEY, code text DEFAULT next_code());`,
      b: `CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'V-' || floor(random() * 100000)::int $$;\nCREATE TABLE voucher (id int PRIMARY KEY, code text DEFAULT next_code());`,
      c: `CREATE FUNCTION next_code(prefix text) RETURNS text LANGUAGE sql AS $$ SELECT prefix || floor(random() * 1000)::int $$;\nCREATE TABLE voucher (id int PRIMARY KEY, code text DEFAULT next_code('X-'));`,
    },
  }),
  ...slot("routines", "used-by-check-and-index", {
    variants: {
      a: `CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(t)) $$;\nCREATE TABLE tag (id int PRIMARY KEY, label text CHECK (norm(label) <> ''));\nCREATE UNIQUE INDEX tag_label_idx ON tag (norm(label));`,
      b: `CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(btrim(t, ' -')) $$;\nCREATE TABLE tag (id int PRIMARY KEY, label text CHECK (norm(label) <> ''));\nCREATE UNIQUE INDEX tag_label_idx ON tag (norm(label));`,
    },
  }),
  ...slot("routines", "used-by-view", {
    prelude: `CREATE TABLE product (id int PRIMARY KEY, cents int);`,
    variants: {
      a: `CREATE FUNCTION euros(c int) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT c / 100.0 $$;\nCREATE VIEW product_price AS SELECT id, euros(cents) AS price FROM product;`,
      b: `CREATE FUNCTION euros(c int) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT round(c / 100.0, 2) $$;\nCREATE VIEW product_price AS SELECT id, euros(cents) AS price FROM product;`,
      c: `CREATE FUNCTION euros(c bigint) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT c / 100.0 $$;\nCREATE VIEW product_price AS SELECT id, euros(cents) AS price FROM product;`,
    },
  }),
  // A parameter with a default added: while both signatures exist, the unchanged calls are ambiguous.
  ...slot("routines", "defaulted-parameter", {
    epilogue: `CREATE DOMAIN rating AS int CONSTRAINT rating_ok CHECK (is_ok(VALUE));
CREATE TABLE review (id int PRIMARY KEY, stars rating, score int CHECK (is_ok(score)), fresh boolean DEFAULT is_ok(1),
                     shown int GENERATED ALWAYS AS (CASE WHEN is_ok(score) THEN score END) STORED);
CREATE INDEX review_ok_idx ON review (is_ok(score));
COMMENT ON COLUMN review.shown IS 'score when acceptable';
COMMENT ON INDEX review_ok_idx IS 'acceptable first';`,
    variants: {
      one: `CREATE FUNCTION is_ok(v int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT v > 0 $$;`,
      two: `CREATE FUNCTION is_ok(v int, floor_value int DEFAULT 0) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT v > floor_value $$;`,
    },
  }),
];
