import { slot, type SchemaPair } from "./pair";

/** Enum types: values added, inserted, removed, reordered; enums used by columns and defaults. */
export const enumPairs: SchemaPair[] = [
  ...slot("enums", "values", {
    epilogue: `CREATE TABLE ticket (id int PRIMARY KEY, status status);`,
    variants: {
      two: `CREATE TYPE status AS ENUM ('open', 'closed');`,
      appended: `CREATE TYPE status AS ENUM ('open', 'closed', 'archived');`,
      inserted: `CREATE TYPE status AS ENUM ('open', 'pending', 'closed');`,
      removed: `CREATE TYPE status AS ENUM ('open');`,
      reordered: `CREATE TYPE status AS ENUM ('closed', 'open');`,
    },
  }),
  ...slot("enums", "with-default", {
    variants: {
      a: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\nCREATE TABLE diary (id int PRIMARY KEY, mood mood NOT NULL DEFAULT 'ok');`,
      b: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');\nCREATE TABLE diary (id int PRIMARY KEY, mood mood NOT NULL DEFAULT 'happy');`,
      c: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\nCREATE TABLE diary (id int PRIMARY KEY, mood mood, moods mood[] DEFAULT '{}');`,
    },
  }),
  ...slot("enums", "lifecycle", {
    prelude: `CREATE TABLE shipment (id int PRIMARY KEY, carrier text);`,
    variants: {
      none: ``,
      type: `CREATE TYPE carrier_kind AS ENUM ('post', 'courier');`,
      used: `CREATE TYPE carrier_kind AS ENUM ('post', 'courier');\nCREATE TABLE route (id int PRIMARY KEY, kind carrier_kind NOT NULL);`,
    },
  }),
  ...slot("enums", "column-switch", {
    variants: {
      text: `CREATE TYPE level AS ENUM ('low', 'high');\nCREATE TABLE alert (id int PRIMARY KEY, level text);`,
      enum: `CREATE TYPE level AS ENUM ('low', 'high');\nCREATE TABLE alert (id int PRIMARY KEY, level level);`,
    },
  }),
  ...slot("enums", "in-schema", {
    prelude: `CREATE SCHEMA billing;`,
    variants: {
      a: `CREATE TYPE billing.cycle AS ENUM ('monthly', 'yearly');\nCREATE TABLE billing.plan (id int PRIMARY KEY, cycle billing.cycle);`,
      b: `CREATE TYPE billing.cycle AS ENUM ('weekly', 'monthly', 'yearly');\nCREATE TABLE billing.plan (id int PRIMARY KEY, cycle billing.cycle DEFAULT 'monthly');`,
    },
  }),
  ...slot("enums", "renamed-value", {
    epilogue: `CREATE TABLE paint (id int PRIMARY KEY, c color);`,
    variants: {
      grey: `CREATE TYPE color AS ENUM ('red', 'grey', 'blue');`,
      gray: `CREATE TYPE color AS ENUM ('red', 'gray', 'blue');`,
    },
  }),
  // A value removed (the type re-created) under what names it or reads its columns.
  ...slot("enums", "removed-under-users", {
    epilogue: `CREATE TABLE job (id int PRIMARY KEY, phase phase DEFAULT 'queued' CHECK (phase <> 'queued' OR id > 0), queued boolean GENERATED ALWAYS AS (phase = 'queued') STORED);
CREATE INDEX job_waiting ON job (id) WHERE phase = 'queued';
CREATE TABLE job_log (phase phase, at date) PARTITION BY RANGE (at);
CREATE TABLE job_log_2024 PARTITION OF job_log FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE DOMAIN live_phase AS phase CHECK (VALUE <> 'queued');
CREATE TABLE worker (id int PRIMARY KEY, doing live_phase);
COMMENT ON TYPE phase IS 'where a job is';`,
    variants: {
      three: `CREATE TYPE phase AS ENUM ('queued', 'running', 'stuck', 'done');`,
      two: `CREATE TYPE phase AS ENUM ('queued', 'running', 'done');`,
    },
  }),
  ...slot("enums", "partition-key", {
    epilogue: `CREATE TABLE ledger (id int, region region) PARTITION BY LIST (region);
CREATE TABLE ledger_eu PARTITION OF ledger FOR VALUES IN ('eu');`,
    variants: {
      three: `CREATE TYPE region AS ENUM ('eu', 'us', 'apac');`,
      two: `CREATE TYPE region AS ENUM ('eu', 'us');`,
    },
  }),
];
