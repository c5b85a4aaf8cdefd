import { pair, slot, type SchemaPair } from "./pair";

/**
 * Table properties modelled since issue 16: replica identity, a partition's own column properties,
 * partitions' indexes attached to their parent's, CHECKs merged into a parent's, CHECKs PostgreSQL
 * prints differently once re-applied, NOT VALID as declared, the managed scope; and PostgreSQL 18's
 * virtual generated columns, temporal keys, NOT NULL constraints and NOT ENFORCED constraints;
 * column attributes, CLUSTER ON, extended statistics, collations, text search objects and operators (ADR 0051–0054, 0056).
 */
export const propertyPairs: SchemaPair[] = [
  ...slot("tables", "replica-identity", {
    prelude: `CREATE TABLE ledger (id bigint PRIMARY KEY, ref text NOT NULL, amount numeric);\nCREATE UNIQUE INDEX ledger_ref ON ledger (ref);`,
    variants: {
      default: ``,
      full: `ALTER TABLE ledger REPLICA IDENTITY FULL;`,
      index: `ALTER TABLE ledger REPLICA IDENTITY USING INDEX ledger_ref;`,
      nothing: `ALTER TABLE ledger REPLICA IDENTITY NOTHING;`,
    },
  }),
  pair(
    "tables",
    "replica-identity/index-rebuilt",
    `CREATE TABLE ledger (id bigint PRIMARY KEY, ref text NOT NULL);\nCREATE UNIQUE INDEX ledger_ref ON ledger (ref);\nALTER TABLE ledger REPLICA IDENTITY USING INDEX ledger_ref;`,
    `CREATE TABLE ledger (id bigint PRIMARY KEY, ref text NOT NULL);\nCREATE UNIQUE INDEX ledger_ref ON ledger (ref, id);\nALTER TABLE ledger REPLICA IDENTITY USING INDEX ledger_ref;`,
  ),
  ...slot("tables", "column-attributes", {
    prelude: `CREATE TABLE doc (id int PRIMARY KEY, body text, code varchar(20), hits int);`,
    variants: {
      default: ``,
      tuned: `ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN body SET COMPRESSION pglz, ALTER COLUMN body SET STATISTICS 400, ALTER COLUMN hits SET (n_distinct = 50);`,
      retuned: `ALTER TABLE doc ALTER COLUMN body SET STORAGE MAIN, ALTER COLUMN code SET STATISTICS 0, ALTER COLUMN hits SET (n_distinct = -0.2, n_distinct_inherited = 10);`,
    },
  }),
  pair(
    "tables",
    "column-attributes/type-change",
    `CREATE TABLE doc (body varchar(10));\nALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN body SET COMPRESSION pglz, ALTER COLUMN body SET STATISTICS 50;`,
    `CREATE TABLE doc (body text);\nALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN body SET COMPRESSION pglz, ALTER COLUMN body SET STATISTICS 50;`,
  ),
  ...slot("tables", "cluster-on", {
    prelude: `CREATE TABLE cl (id int PRIMARY KEY, a int, b int);\nCREATE INDEX cl_a ON cl (a);`,
    variants: {
      none: ``,
      index: `ALTER TABLE cl CLUSTER ON cl_a;`,
      key: `ALTER TABLE cl CLUSTER ON cl_pkey;`,
    },
  }),
  ...slot("tables", "extended-statistics", {
    prelude: `CREATE TABLE st (a int, b int, c text);`,
    variants: {
      none: ``,
      columns: `CREATE STATISTICS st_ab (dependencies) ON a, b FROM st;`,
      wider: `CREATE STATISTICS st_ab (mcv, ndistinct) ON a, b, c FROM st;\nALTER STATISTICS st_ab SET STATISTICS 300;\nCOMMENT ON STATISTICS st_ab IS 'ab';`,
      expressions: `CREATE STATISTICS st_e ON (lower(c)), (a + b) FROM st;`,
    },
  }),
  ...slot("tables", "collations", {
    prelude: `CREATE TABLE person (id int PRIMARY KEY, name text, code text);`,
    variants: {
      none: ``,
      icu: `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);\nALTER TABLE person ALTER COLUMN name TYPE text COLLATE ci;\nCREATE INDEX person_code ON person (code COLLATE ci);`,
      libc: `CREATE COLLATION bytes (lc_collate = 'C', lc_ctype = 'C');\nALTER TABLE person ALTER COLUMN name TYPE text COLLATE bytes;\nCOMMENT ON COLLATION bytes IS 'byte order';`,
    },
  }),
  ...slot("tables", "text-search", {
    prelude: `CREATE TABLE doc (id int PRIMARY KEY, body text);`,
    variants: {
      none: ``,
      stem: `CREATE TEXT SEARCH CONFIGURATION en_doc (COPY = pg_catalog.english);\nCREATE INDEX doc_fts ON doc USING gin (to_tsvector('en_doc', body));`,
      nostop: `CREATE TEXT SEARCH DICTIONARY nostop (TEMPLATE = pg_catalog.simple, stopwords = 'english');\nCREATE TEXT SEARCH CONFIGURATION en_doc (COPY = pg_catalog.english);\nALTER TEXT SEARCH CONFIGURATION en_doc ALTER MAPPING FOR asciiword WITH nostop;\nCREATE INDEX doc_fts ON doc USING gin (to_tsvector('en_doc', body));\nCOMMENT ON TEXT SEARCH DICTIONARY nostop IS 'no stop words';`,
      generated: `CREATE TEXT SEARCH CONFIGURATION en_doc (COPY = pg_catalog.simple);\nALTER TABLE doc ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('en_doc'::regconfig, coalesce(body, ''))) STORED;`,
    },
  }),
  ...slot("tables", "operators", {
    prelude: `CREATE FUNCTION approx_eq(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$SELECT abs($1 - $2) < 2$$;\nCREATE TABLE reading (id int PRIMARY KEY, a int, b int);`,
    variants: {
      none: ``,
      used: `CREATE OPERATOR ~== (LEFTARG = int, RIGHTARG = int, FUNCTION = approx_eq, COMMUTATOR = ~==);\nALTER TABLE reading ADD CONSTRAINT reading_close CHECK (a ~== b);\nCREATE INDEX reading_close_idx ON reading ((a ~== b));`,
      estimated: `CREATE OPERATOR ~== (LEFTARG = int, RIGHTARG = int, FUNCTION = approx_eq, COMMUTATOR = ~==, RESTRICT = eqsel, JOIN = eqjoinsel);\nALTER TABLE reading ADD CONSTRAINT reading_close CHECK (a ~== b);\nCOMMENT ON OPERATOR ~== (int, int) IS 'close enough';`,
    },
  }),
  ...slot("partitions", "column-attributes", {
    prelude: `CREATE TABLE pa (body text, k int) PARTITION BY LIST (k);`,
    variants: {
      plain: `CREATE TABLE pa1 PARTITION OF pa FOR VALUES IN (1);\nCREATE TABLE pa2 PARTITION OF pa FOR VALUES IN (2);`,
      tuned: `ALTER TABLE pa ALTER COLUMN body SET STORAGE MAIN, ALTER COLUMN body SET COMPRESSION pglz;\nCREATE TABLE pa1 PARTITION OF pa FOR VALUES IN (1);\nCREATE TABLE pa2 PARTITION OF pa FOR VALUES IN (2);\nALTER TABLE ONLY pa2 ALTER COLUMN body SET STORAGE EXTENDED;`,
    },
  }),
  ...slot("partitions", "replica-identity", {
    prelude: `CREATE TABLE feed (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);\nCREATE TABLE feed_2024 PARTITION OF feed FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
    variants: {
      default: ``,
      full: `ALTER TABLE feed REPLICA IDENTITY FULL;\nALTER TABLE feed_2024 REPLICA IDENTITY FULL;`,
    },
  }),
  ...slot("partitions", "own-column-properties", {
    prelude: `CREATE TABLE stock_p (id int NOT NULL, region text NOT NULL DEFAULT 'eu', qty int, note text) PARTITION BY LIST (region);`,
    variants: {
      plain: `CREATE TABLE stock_eu PARTITION OF stock_p FOR VALUES IN ('eu');\nCREATE TABLE stock_us PARTITION OF stock_p FOR VALUES IN ('us');`,
      own: `CREATE TABLE stock_eu PARTITION OF stock_p (qty NOT NULL DEFAULT 0) FOR VALUES IN ('eu');\nCREATE TABLE stock_us PARTITION OF stock_p (region DEFAULT 'us', note DEFAULT 'n/a') FOR VALUES IN ('us');`,
    },
  }),
  ...slot("partitions", "attached-indexes", {
    prelude: `CREATE TABLE visit (id bigint NOT NULL, at date NOT NULL, page text, agent text) PARTITION BY RANGE (at);\nCREATE TABLE visit_2024 PARTITION OF visit FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\nCREATE INDEX visit_2024_page ON visit_2024 (page);`,
    variants: {
      own: ``,
      parent: `CREATE INDEX visit_page ON visit (page);`,
      attached: `CREATE INDEX visit_page ON visit (page);\nCREATE TABLE visit_2025 (id bigint NOT NULL, at date NOT NULL, page text, agent text);\nCREATE INDEX visit_2025_by_page ON visit_2025 (page);\nALTER TABLE visit ATTACH PARTITION visit_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');`,
      wider: `CREATE INDEX visit_page ON visit (page, agent);`,
    },
  }),
  ...slot("partitions", "merged-check", {
    prelude: `CREATE TABLE sale (id int NOT NULL, qty int) PARTITION BY RANGE (id);\nCREATE TABLE sale_1 PARTITION OF sale FOR VALUES FROM (0) TO (1000);`,
    variants: {
      partition: `ALTER TABLE sale_1 ADD CONSTRAINT sale_qty_check CHECK (qty > 0);`,
      parent: `ALTER TABLE sale ADD CONSTRAINT sale_qty_check CHECK (qty > 0);`,
      both: `ALTER TABLE sale_1 ADD CONSTRAINT sale_qty_check CHECK (qty > 0);\nALTER TABLE sale ADD CONSTRAINT sale_qty_check CHECK (qty > 0);`,
    },
  }),
  ...slot("constraints", "reprinted-check", {
    prelude: `CREATE TABLE ticket (id int PRIMARY KEY, state varchar(12), tags varchar(8)[]);`,
    variants: {
      none: ``,
      in_list: `ALTER TABLE ticket ADD CONSTRAINT ticket_state_check CHECK (state IN ('open', 'closed'));`,
      wider: `ALTER TABLE ticket ADD CONSTRAINT ticket_state_check CHECK (state IN ('open', 'closed', 'held'));\nALTER TABLE ticket ADD CONSTRAINT ticket_tags_check CHECK (tags <@ ARRAY['a', 'b']::varchar[]);`,
    },
  }),
  ...slot("constraints", "not-valid", {
    prelude: `CREATE TABLE payment (id int PRIMARY KEY, amount numeric, payer int);\nCREATE TABLE payer (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      not_valid: `ALTER TABLE payment ADD CONSTRAINT payment_amount_check CHECK (amount > 0) NOT VALID;\nALTER TABLE payment ADD CONSTRAINT payment_payer_fkey FOREIGN KEY (payer) REFERENCES payer (id) NOT VALID;`,
      valid: `ALTER TABLE payment ADD CONSTRAINT payment_amount_check CHECK (amount > 0);\nALTER TABLE payment ADD CONSTRAINT payment_payer_fkey FOREIGN KEY (payer) REFERENCES payer (id);`,
    },
  }),
  {
    name: "schemas/scope/without-public",
    kind: "schemas",
    old: ``,
    new: `CREATE SCHEMA crm;\nCREATE TABLE crm.contact (id int PRIMARY KEY, email text);`,
    schemas: ["crm"],
  },
  {
    name: "schemas/scope/all-drops-absent",
    kind: "schemas",
    old: `CREATE SCHEMA crm;\nCREATE SCHEMA legacy;\nCREATE TABLE legacy.old_contact (id int);\nCREATE TABLE crm.contact (id int PRIMARY KEY);`,
    new: `CREATE SCHEMA crm;\nCREATE TABLE crm.contact (id int PRIMARY KEY);`,
    schemas: "all",
  },
  // PostgreSQL 18.
  ...slot("tables", "virtual-generated", {
    prelude: `CREATE TABLE invoice_line (id int PRIMARY KEY, qty int NOT NULL, price numeric NOT NULL);`,
    variants: {
      none: ``,
      virtual: `ALTER TABLE invoice_line ADD COLUMN total numeric GENERATED ALWAYS AS (qty * price) VIRTUAL;`,
      stored: `ALTER TABLE invoice_line ADD COLUMN total numeric GENERATED ALWAYS AS (qty * price) STORED;`,
      changed: `ALTER TABLE invoice_line ADD COLUMN total numeric GENERATED ALWAYS AS (qty * price * 2) VIRTUAL;`,
    },
  }).map((p) => ({ ...p, minMajor: 18 })),
  ...slot("constraints", "without-overlaps", {
    prelude: `CREATE EXTENSION btree_gist;\nCREATE TABLE rate (id int NOT NULL, valid tstzrange NOT NULL, amount numeric);\nCREATE TABLE usage_p (id int, rate_id int, valid tstzrange NOT NULL);`,
    variants: {
      none: ``,
      temporal: `ALTER TABLE rate ADD CONSTRAINT rate_pkey PRIMARY KEY (id, valid WITHOUT OVERLAPS);\nALTER TABLE usage_p ADD CONSTRAINT usage_p_once UNIQUE (id, valid WITHOUT OVERLAPS);\nALTER TABLE usage_p ADD CONSTRAINT usage_p_rate_fkey FOREIGN KEY (rate_id, PERIOD valid) REFERENCES rate (id, PERIOD valid);`,
    },
  }).map((p) => ({ ...p, minMajor: 18 })),
  ...slot("constraints", "not-null-constraints", {
    variants: {
      plain: `CREATE TABLE member18 (id int PRIMARY KEY, handle text NOT NULL, bio text);`,
      named: `CREATE TABLE member18 (id int PRIMARY KEY, handle text CONSTRAINT member_handle_required NOT NULL, bio text);`,
      no_inherit: `CREATE TABLE member18 (id int PRIMARY KEY, handle text, bio text);\nALTER TABLE member18 ADD CONSTRAINT member_handle_required NOT NULL handle NO INHERIT;`,
      not_valid: `CREATE TABLE member18 (id int PRIMARY KEY, handle text, bio text);\nALTER TABLE member18 ADD CONSTRAINT member_handle_required NOT NULL handle NOT VALID;`,
      no_key: `CREATE TABLE member18 (id int NOT NULL, handle text NOT NULL, bio text);`,
    },
  }).map((p) => ({ ...p, minMajor: 18 })),
  ...slot("constraints", "not-enforced", {
    prelude: `CREATE TABLE account18 (id int PRIMARY KEY);\nCREATE TABLE entry18 (id int PRIMARY KEY, account int, amount numeric);`,
    variants: {
      none: ``,
      not_enforced: `ALTER TABLE entry18 ADD CONSTRAINT entry18_amount_check CHECK (amount <> 0) NOT ENFORCED;\nALTER TABLE entry18 ADD CONSTRAINT entry18_account_fkey FOREIGN KEY (account) REFERENCES account18 (id) NOT ENFORCED;`,
      enforced: `ALTER TABLE entry18 ADD CONSTRAINT entry18_amount_check CHECK (amount <> 0);\nALTER TABLE entry18 ADD CONSTRAINT entry18_account_fkey FOREIGN KEY (account) REFERENCES account18 (id);`,
    },
  }).map((p) => ({ ...p, minMajor: 18 })),
];
