import { slot, type SchemaPair } from "./pair";

/** Primary keys, unique, check, foreign keys, exclusion; deferrable and NOT VALID-free forms. */
export const constraintPairs: SchemaPair[] = [
  ...slot("constraints", "primary-key", {
    variants: {
      none: `CREATE TABLE acct (id int NOT NULL, region text NOT NULL, name text);`,
      single: `CREATE TABLE acct (id int NOT NULL, region text NOT NULL, name text, CONSTRAINT acct_pkey PRIMARY KEY (id));`,
      composite: `CREATE TABLE acct (id int NOT NULL, region text NOT NULL, name text, CONSTRAINT acct_pkey PRIMARY KEY (region, id));`,
    },
  }),
  ...slot("constraints", "unique", {
    prelude: `CREATE TABLE member (id int PRIMARY KEY, email text, org int, handle text);`,
    variants: {
      none: ``,
      email: `ALTER TABLE member ADD CONSTRAINT member_email_key UNIQUE (email);`,
      pair: `ALTER TABLE member ADD CONSTRAINT member_org_handle_key UNIQUE (org, handle);`,
      deferrable: `ALTER TABLE member ADD CONSTRAINT member_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED;`,
    },
  }),
  ...slot("constraints", "check", {
    prelude: `CREATE TABLE stock (id int PRIMARY KEY, qty int, price numeric, sku text);`,
    variants: {
      none: ``,
      positive: `ALTER TABLE stock ADD CONSTRAINT stock_qty_check CHECK (qty >= 0);`,
      stricter: `ALTER TABLE stock ADD CONSTRAINT stock_qty_check CHECK (qty >= 0 AND qty < 100000);`,
      several: `ALTER TABLE stock ADD CONSTRAINT stock_qty_check CHECK (qty >= 0), ADD CONSTRAINT stock_sku_check CHECK (sku ~ '^[A-Z]{3}-[0-9]+$'), ADD CONSTRAINT stock_price_check CHECK (price > 0) NO INHERIT;`,
    },
  }),
  ...slot("constraints", "foreign-key", {
    prelude: `CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE);\nCREATE TABLE child (id int PRIMARY KEY, parent_id int, parent_code text);`,
    variants: {
      none: ``,
      plain: `ALTER TABLE child ADD CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent (id);`,
      cascade: `ALTER TABLE child ADD CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE;`,
      deferred: `ALTER TABLE child ADD CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;`,
      bycode: `ALTER TABLE child ADD CONSTRAINT child_code_fkey FOREIGN KEY (parent_code) REFERENCES parent (code) MATCH FULL;`,
    },
  }),
  ...slot("constraints", "composite-fk", {
    prelude: `CREATE TABLE tenant_user (tenant int, id int, PRIMARY KEY (tenant, id));`,
    variants: {
      none: `CREATE TABLE note (id int PRIMARY KEY, tenant int NOT NULL, author int);`,
      fk: `CREATE TABLE note (id int PRIMARY KEY, tenant int NOT NULL, author int, CONSTRAINT note_author_fkey FOREIGN KEY (tenant, author) REFERENCES tenant_user (tenant, id));`,
      restrict: `CREATE TABLE note (id int PRIMARY KEY, tenant int NOT NULL, author int, CONSTRAINT note_author_fkey FOREIGN KEY (tenant, author) REFERENCES tenant_user (tenant, id) ON DELETE RESTRICT);`,
    },
  }),
  ...slot("constraints", "self-fk", {
    variants: {
      none: `CREATE TABLE node (id int PRIMARY KEY, parent int);`,
      fk: `CREATE TABLE node (id int PRIMARY KEY, parent int REFERENCES node (id));`,
      cascade: `CREATE TABLE node (id int PRIMARY KEY, parent int REFERENCES node (id) ON DELETE CASCADE);`,
    },
  }),
  ...slot("constraints", "exclusion", {
    prelude: `CREATE TABLE booking (id int PRIMARY KEY, room int NOT NULL, during tsrange NOT NULL, c circle);`,
    variants: {
      none: ``,
      circle: `ALTER TABLE booking ADD CONSTRAINT booking_c_excl EXCLUDE USING gist (c WITH &&);`,
      range: `ALTER TABLE booking ADD CONSTRAINT booking_during_excl EXCLUDE USING gist (during WITH &&);`,
      deferrable: `ALTER TABLE booking ADD CONSTRAINT booking_during_excl EXCLUDE USING gist (during WITH &&) DEFERRABLE INITIALLY IMMEDIATE;`,
    },
  }),
  ...slot("constraints", "unique-nulls", {
    prelude: `CREATE TABLE slot_key (id int PRIMARY KEY, a int, b int);`,
    variants: {
      plain: `ALTER TABLE slot_key ADD CONSTRAINT slot_key_ab_key UNIQUE (a, b);`,
      covering: `ALTER TABLE slot_key ADD CONSTRAINT slot_key_ab_key UNIQUE (a) INCLUDE (b);`,
      fillfactor: `ALTER TABLE slot_key ADD CONSTRAINT slot_key_ab_key UNIQUE (a, b) WITH (fillfactor = 80);`,
    },
  }),
  ...slot("constraints", "rename-target", {
    prelude: `CREATE TABLE owner_t (id int PRIMARY KEY);\nCREATE TABLE pet (id int PRIMARY KEY, owner_id int, alt_owner int);`,
    variants: {
      owner: `ALTER TABLE pet ADD CONSTRAINT pet_owner_fkey FOREIGN KEY (owner_id) REFERENCES owner_t (id);`,
      alt: `ALTER TABLE pet ADD CONSTRAINT pet_owner_fkey FOREIGN KEY (alt_owner) REFERENCES owner_t (id);`,
      renamed: `ALTER TABLE pet ADD CONSTRAINT pet_owner_ref FOREIGN KEY (owner_id) REFERENCES owner_t (id);`,
    },
  }),
];
