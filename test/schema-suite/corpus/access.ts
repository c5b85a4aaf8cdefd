import { slot, type SchemaPair } from "./pair";

/**
 * Roles the runner creates on every server before the suite (roles are cluster-wide, so the
 * desired SQL cannot create them).
 */
export const SUITE_ROLES = ["suite_reader", "suite_writer", "suite_owner"] as const;

const acct = `CREATE TABLE account (id int PRIMARY KEY, tenant int NOT NULL, owner_name text, balance numeric);`;

/** Row-level security and policies. */
export const rlsPairs: SchemaPair[] = [
  ...slot("rls", "enable-force", {
    prelude: acct,
    variants: {
      off: ``,
      enabled: `ALTER TABLE account ENABLE ROW LEVEL SECURITY;`,
      forced: `ALTER TABLE account ENABLE ROW LEVEL SECURITY;\nALTER TABLE account FORCE ROW LEVEL SECURITY;`,
    },
  }),
  ...slot("rls", "policy", {
    prelude: `${acct}\nALTER TABLE account ENABLE ROW LEVEL SECURITY;`,
    variants: {
      none: ``,
      tenant: `CREATE POLICY tenant_isolation ON account USING (tenant = current_setting('app.tenant')::int);`,
      check: `CREATE POLICY tenant_isolation ON account USING (tenant = current_setting('app.tenant')::int) WITH CHECK (tenant = current_setting('app.tenant')::int AND balance >= 0);`,
      select_only: `CREATE POLICY tenant_isolation ON account FOR SELECT TO suite_reader USING (tenant = current_setting('app.tenant')::int);`,
      restrictive: `CREATE POLICY tenant_isolation ON account AS RESTRICTIVE FOR ALL TO suite_reader, suite_writer USING (tenant > 0);`,
    },
    pairs: "chain",
  }),
  ...slot("rls", "several-policies", {
    prelude: `${acct}\nALTER TABLE account ENABLE ROW LEVEL SECURITY;`,
    variants: {
      one: `CREATE POLICY read_all ON account FOR SELECT USING (true);`,
      two: `CREATE POLICY read_all ON account FOR SELECT USING (true);\nCREATE POLICY write_own ON account FOR UPDATE USING (owner_name = current_user);`,
      renamed: `CREATE POLICY read_everything ON account FOR SELECT USING (true);`,
    },
  }),
  ...slot("rls", "policy-roles", {
    prelude: `${acct}\nALTER TABLE account ENABLE ROW LEVEL SECURITY;`,
    variants: {
      public: `CREATE POLICY p ON account FOR INSERT WITH CHECK (balance >= 0);`,
      writer: `CREATE POLICY p ON account FOR INSERT TO suite_writer WITH CHECK (balance >= 0);`,
    },
  }),
];

/** Privileges (object, column, schema, routine, sequence, default privileges) and ownership. */
export const privilegePairs: SchemaPair[] = [
  ...slot("privileges", "table-grants", {
    prelude: acct,
    variants: {
      none: ``,
      read: `GRANT SELECT ON account TO suite_reader;`,
      readwrite: `GRANT SELECT ON account TO suite_reader;\nGRANT SELECT, INSERT, UPDATE, DELETE ON account TO suite_writer;`,
      grant_option: `GRANT SELECT ON account TO suite_reader WITH GRANT OPTION;`,
    },
  }),
  ...slot("privileges", "column-grants", {
    prelude: acct,
    variants: {
      none: ``,
      cols: `GRANT SELECT (id, tenant) ON account TO suite_reader;`,
      update: `GRANT SELECT (id, tenant), UPDATE (owner_name) ON account TO suite_reader;`,
    },
  }),
  ...slot("privileges", "revoke-public", {
    prelude: `CREATE FUNCTION secret_fn() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;`,
    variants: {
      default: ``,
      revoked: `REVOKE EXECUTE ON FUNCTION secret_fn() FROM PUBLIC;\nGRANT EXECUTE ON FUNCTION secret_fn() TO suite_reader;`,
    },
  }),
  ...slot("privileges", "schema-sequence", {
    prelude: `CREATE SCHEMA api;\nCREATE SEQUENCE api.ticket_no;\nCREATE TABLE api.ticket (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      usage: `GRANT USAGE ON SCHEMA api TO suite_reader;\nGRANT SELECT ON api.ticket TO suite_reader;`,
      sequence: `GRANT USAGE ON SCHEMA api TO suite_writer;\nGRANT USAGE, SELECT ON SEQUENCE api.ticket_no TO suite_writer;\nGRANT INSERT ON api.ticket TO suite_writer;`,
    },
  }),
  ...slot("privileges", "default-privileges", {
    prelude: `CREATE SCHEMA shared;\nCREATE TABLE shared.x (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      tables: `ALTER DEFAULT PRIVILEGES IN SCHEMA shared GRANT SELECT ON TABLES TO suite_reader;`,
      more: `ALTER DEFAULT PRIVILEGES IN SCHEMA shared GRANT SELECT ON TABLES TO suite_reader;\nALTER DEFAULT PRIVILEGES IN SCHEMA shared GRANT USAGE ON SEQUENCES TO suite_writer;`,
    },
  }),
  ...slot("privileges", "view-type-grants", {
    prelude: `${acct}\nCREATE VIEW account_v AS SELECT id, tenant FROM account;\nCREATE TYPE account_kind AS ENUM ('a', 'b');`,
    variants: {
      none: ``,
      view: `GRANT SELECT ON account_v TO suite_reader;`,
      type: `GRANT SELECT ON account_v TO suite_reader;\nREVOKE USAGE ON TYPE account_kind FROM PUBLIC;`,
    },
  }),
  ...slot("privileges", "ownership", {
    prelude: `CREATE SCHEMA owned;`,
    variants: {
      default: `CREATE TABLE owned.t (id int PRIMARY KEY);\nCREATE VIEW owned.v AS SELECT id FROM owned.t;`,
      owner: `CREATE TABLE owned.t (id int PRIMARY KEY);\nCREATE VIEW owned.v AS SELECT id FROM owned.t;\nALTER TABLE owned.t OWNER TO suite_owner;\nALTER VIEW owned.v OWNER TO suite_owner;`,
      schema_owner: `CREATE TABLE owned.t (id int PRIMARY KEY);\nCREATE VIEW owned.v AS SELECT id FROM owned.t;\nALTER SCHEMA owned OWNER TO suite_owner;`,
    },
  }),
  ...slot("privileges", "function-owner", {
    prelude: `CREATE TABLE fo (id int PRIMARY KEY);`,
    variants: {
      default: `CREATE FUNCTION fo_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM fo $$;`,
      owner: `CREATE FUNCTION fo_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM fo $$;\nALTER FUNCTION fo_count() OWNER TO suite_owner;\nALTER TABLE fo OWNER TO suite_owner;`,
    },
  }),
];
