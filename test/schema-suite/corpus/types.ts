import { slot, type SchemaPair } from "./pair";

/** Domains with their constraints and defaults. */
export const domainPairs: SchemaPair[] = [
  ...slot("domains", "definition", {
    epilogue: `CREATE TABLE contact (id int PRIMARY KEY, email email_address);`,
    variants: {
      plain: `CREATE DOMAIN email_address AS text;`,
      check: `CREATE DOMAIN email_address AS text CHECK (VALUE ~ '@');`,
      stricter: `CREATE DOMAIN email_address AS text CONSTRAINT email_address_check CHECK (VALUE ~ '^[^@]+@[^@]+$');`,
      notnull: `CREATE DOMAIN email_address AS text NOT NULL CHECK (VALUE ~ '@');`,
    },
  }),
  ...slot("domains", "default-collation", {
    epilogue: `CREATE TABLE code_t (id int PRIMARY KEY, c short_code);`,
    variants: {
      plain: `CREATE DOMAIN short_code AS varchar(8);`,
      default: `CREATE DOMAIN short_code AS varchar(8) DEFAULT 'NONE';`,
      collate: `CREATE DOMAIN short_code AS varchar(8) COLLATE "C" DEFAULT 'NONE';`,
    },
  }),
  ...slot("domains", "lifecycle", {
    prelude: `CREATE TABLE money_t (id int PRIMARY KEY, amount numeric);`,
    variants: {
      none: ``,
      domain: `CREATE DOMAIN positive_amount AS numeric(12,2) CHECK (VALUE > 0);`,
      used: `CREATE DOMAIN positive_amount AS numeric(12,2) CHECK (VALUE > 0);\nCREATE TABLE payment (id int PRIMARY KEY, amount positive_amount NOT NULL);`,
    },
  }),
  ...slot("domains", "several-checks", {
    epilogue: `CREATE TABLE percent_t (id int PRIMARY KEY, p percent);`,
    variants: {
      one: `CREATE DOMAIN percent AS int CONSTRAINT percent_min CHECK (VALUE >= 0);`,
      two: `CREATE DOMAIN percent AS int CONSTRAINT percent_min CHECK (VALUE >= 0) CONSTRAINT percent_max CHECK (VALUE <= 100);`,
      renamed: `CREATE DOMAIN percent AS int CONSTRAINT percent_range CHECK (VALUE BETWEEN 0 AND 100);`,
    },
  }),
  ...slot("domains", "base-type", {
    epilogue: `CREATE TABLE score_t (id int PRIMARY KEY, s score);`,
    variants: {
      int: `CREATE DOMAIN score AS int;`,
      bigint: `CREATE DOMAIN score AS bigint;`,
    },
  }),
];

/** Composite types: attributes added, dropped, retyped; used by columns and functions. */
export const compositePairs: SchemaPair[] = [
  ...slot("composite", "attributes", {
    epilogue: `CREATE TABLE site (id int PRIMARY KEY, addr address);`,
    variants: {
      two: `CREATE TYPE address AS (street text, city text);`,
      three: `CREATE TYPE address AS (street text, city text, zip varchar(10));`,
      retyped: `CREATE TYPE address AS (street text, city varchar(80));`,
      reordered: `CREATE TYPE address AS (city text, street text);`,
    },
  }),
  ...slot("composite", "lifecycle", {
    prelude: `CREATE TABLE point_t (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      type: `CREATE TYPE geo_point AS (lat double precision, lon double precision);`,
      used: `CREATE TYPE geo_point AS (lat double precision, lon double precision);\nCREATE TABLE poi (id int PRIMARY KEY, at geo_point, path geo_point[]);`,
    },
  }),
  ...slot("composite", "function-returns", {
    variants: {
      a: `CREATE TYPE stats AS (n bigint, mean numeric);\nCREATE FUNCTION empty_stats() RETURNS stats LANGUAGE sql AS $$ SELECT 0::bigint, 0::numeric $$;`,
      b: `CREATE TYPE stats AS (n bigint, mean numeric, max numeric);\nCREATE FUNCTION empty_stats() RETURNS stats LANGUAGE sql AS $$ SELECT 0::bigint, 0::numeric, 0::numeric $$;`,
    },
  }),
  ...slot("composite", "nested", {
    variants: {
      a: `CREATE TYPE money_amount AS (value numeric, currency char(3));\nCREATE TYPE price_range AS (low money_amount, high money_amount);\nCREATE TABLE offer (id int PRIMARY KEY, p price_range);`,
      b: `CREATE TYPE money_amount AS (value numeric(12,2), currency char(3));\nCREATE TYPE price_range AS (low money_amount, high money_amount, note text);\nCREATE TABLE offer (id int PRIMARY KEY, p price_range);`,
    },
  }),
];

/** Range (and multirange) types. */
export const rangePairs: SchemaPair[] = [
  ...slot("ranges", "definition", {
    prelude: `CREATE TABLE range_keep (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      float: `CREATE TYPE float_range AS RANGE (subtype = float8, subtype_diff = float8mi);`,
      numeric: `CREATE TYPE float_range AS RANGE (subtype = numeric);`,
    },
  }),
  ...slot("ranges", "used", {
    variants: {
      builtin: `CREATE TABLE shift (id int PRIMARY KEY, hours int4range, days daterange);`,
      custom: `CREATE TYPE time_range AS RANGE (subtype = time);\nCREATE TABLE shift (id int PRIMARY KEY, hours time_range, days daterange);`,
      multirange: `CREATE TABLE shift (id int PRIMARY KEY, hours int4multirange, days datemultirange);`,
    },
  }),
  ...slot("ranges", "exclusion", {
    variants: {
      a: `CREATE TYPE slot_range AS RANGE (subtype = int4);\nCREATE TABLE lane (id int PRIMARY KEY, span slot_range, EXCLUDE USING gist (span WITH &&));`,
      b: `CREATE TYPE slot_range AS RANGE (subtype = int4);\nCREATE TABLE lane (id int PRIMARY KEY, span slot_range);`,
    },
  }),
];
