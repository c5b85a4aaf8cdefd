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
];
