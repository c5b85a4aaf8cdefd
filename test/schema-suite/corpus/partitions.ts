import { slot, type SchemaPair } from "./pair";

/** Partitioned tables (RANGE, LIST, HASH), partitions, default partitions, parent indexes; inheritance. */
export const partitionPairs: SchemaPair[] = [
  ...slot("partitions", "range", {
    prelude: `CREATE TABLE measurement (id bigint NOT NULL, at date NOT NULL, v numeric) PARTITION BY RANGE (at);`,
    variants: {
      one: `CREATE TABLE measurement_2024 PARTITION OF measurement FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
      two: `CREATE TABLE measurement_2024 PARTITION OF measurement FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\nCREATE TABLE measurement_2025 PARTITION OF measurement FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');`,
      default: `CREATE TABLE measurement_2024 PARTITION OF measurement FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\nCREATE TABLE measurement_rest PARTITION OF measurement DEFAULT;`,
      none: ``,
    },
  }),
  ...slot("partitions", "list", {
    prelude: `CREATE TABLE customer_p (id int NOT NULL, country text NOT NULL, name text) PARTITION BY LIST (country);`,
    variants: {
      eu: `CREATE TABLE customer_eu PARTITION OF customer_p FOR VALUES IN ('de', 'fr');`,
      eu_wider: `CREATE TABLE customer_eu PARTITION OF customer_p FOR VALUES IN ('de', 'fr', 'it');`,
      split: `CREATE TABLE customer_eu PARTITION OF customer_p FOR VALUES IN ('de', 'fr');\nCREATE TABLE customer_us PARTITION OF customer_p FOR VALUES IN ('us');`,
    },
  }),
  ...slot("partitions", "hash", {
    prelude: `CREATE TABLE session_p (id uuid NOT NULL, data jsonb) PARTITION BY HASH (id);`,
    variants: {
      two: `CREATE TABLE session_p0 PARTITION OF session_p FOR VALUES WITH (MODULUS 2, REMAINDER 0);\nCREATE TABLE session_p1 PARTITION OF session_p FOR VALUES WITH (MODULUS 2, REMAINDER 1);`,
      four: `CREATE TABLE session_p0 PARTITION OF session_p FOR VALUES WITH (MODULUS 4, REMAINDER 0);\nCREATE TABLE session_p1 PARTITION OF session_p FOR VALUES WITH (MODULUS 4, REMAINDER 1);\nCREATE TABLE session_p2 PARTITION OF session_p FOR VALUES WITH (MODULUS 4, REMAINDER 2);\nCREATE TABLE session_p3 PARTITION OF session_p FOR VALUES WITH (MODULUS 4, REMAINDER 3);`,
    },
  }),
  ...slot("partitions", "parent-index-constraint", {
    prelude: `CREATE TABLE order_p (id bigint NOT NULL, placed date NOT NULL, customer int, total numeric) PARTITION BY RANGE (placed);\nCREATE TABLE order_p_2024 PARTITION OF order_p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
    variants: {
      none: ``,
      pk: `ALTER TABLE order_p ADD CONSTRAINT order_p_pkey PRIMARY KEY (id, placed);`,
      index: `CREATE INDEX order_p_customer_idx ON order_p (customer);`,
      both: `ALTER TABLE order_p ADD CONSTRAINT order_p_pkey PRIMARY KEY (id, placed);\nCREATE INDEX order_p_customer_idx ON order_p (customer);\nALTER TABLE order_p ADD CONSTRAINT order_p_total_check CHECK (total >= 0);`,
    },
  }),
  ...slot("partitions", "parent-columns", {
    variants: {
      a: `CREATE TABLE hit (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);\nCREATE TABLE hit_2024 PARTITION OF hit FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
      b: `CREATE TABLE hit (id bigint NOT NULL, at date NOT NULL, path text, status int DEFAULT 200) PARTITION BY RANGE (at);\nCREATE TABLE hit_2024 PARTITION OF hit FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
    },
  }),
  ...slot("partitions", "sub-partitions", {
    prelude: `CREATE TABLE metric_p (tenant int NOT NULL, at date NOT NULL, v float8) PARTITION BY LIST (tenant);`,
    variants: {
      flat: `CREATE TABLE metric_t1 PARTITION OF metric_p FOR VALUES IN (1);`,
      nested: `CREATE TABLE metric_t1 PARTITION OF metric_p FOR VALUES IN (1) PARTITION BY RANGE (at);\nCREATE TABLE metric_t1_2024 PARTITION OF metric_t1 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
    },
  }),
  // A key column retyped (PostgreSQL cannot alter it): the tree is re-created.
  ...slot("partitions", "key-column-type", {
    variants: {
      int: `CREATE TABLE reading (id int, sensor int NOT NULL, at date NOT NULL) PARTITION BY LIST (sensor);\nCREATE TABLE reading_s1 PARTITION OF reading FOR VALUES IN (1) PARTITION BY RANGE (at);\nCREATE TABLE reading_s1_2024 PARTITION OF reading_s1 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
      bigint: `CREATE TABLE reading (id int, sensor bigint NOT NULL, at date NOT NULL) PARTITION BY LIST (sensor);\nCREATE TABLE reading_s1 PARTITION OF reading FOR VALUES IN (1) PARTITION BY RANGE (at);\nCREATE TABLE reading_s1_2024 PARTITION OF reading_s1 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
      timestamp: `CREATE TABLE reading (id int, sensor int NOT NULL, at timestamp NOT NULL) PARTITION BY LIST (sensor);\nCREATE TABLE reading_s1 PARTITION OF reading FOR VALUES IN (1) PARTITION BY RANGE (at);\nCREATE TABLE reading_s1_2024 PARTITION OF reading_s1 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
    },
  }),
  ...slot("partitions", "plain-to-partitioned", {
    variants: {
      plain: `CREATE TABLE audit_p (id bigint NOT NULL, at date NOT NULL, msg text);`,
      partitioned: `CREATE TABLE audit_p (id bigint NOT NULL, at date NOT NULL, msg text) PARTITION BY RANGE (at);\nCREATE TABLE audit_p_all PARTITION OF audit_p DEFAULT;`,
    },
  }),
];

export const inheritancePairs: SchemaPair[] = [
  ...slot("inheritance", "children", {
    prelude: `CREATE TABLE vehicle (id int PRIMARY KEY, wheels int NOT NULL DEFAULT 4);`,
    variants: {
      none: ``,
      car: `CREATE TABLE car (seats int) INHERITS (vehicle);`,
      two: `CREATE TABLE car (seats int) INHERITS (vehicle);\nCREATE TABLE truck (payload numeric) INHERITS (vehicle);`,
    },
  }),
  ...slot("inheritance", "child-columns", {
    prelude: `CREATE TABLE base_row (id int, created timestamptz DEFAULT now());`,
    variants: {
      a: `CREATE TABLE row_a (note text) INHERITS (base_row);`,
      b: `CREATE TABLE row_a (note text, extra int CHECK (extra > 0)) INHERITS (base_row);`,
    },
  }),
  ...slot("inheritance", "parent-columns", {
    variants: {
      a: `CREATE TABLE animal (id int, name text);\nCREATE TABLE dog (breed text) INHERITS (animal);`,
      b: `CREATE TABLE animal (id int, name text, born date);\nCREATE TABLE dog (breed text) INHERITS (animal);`,
    },
  }),
  ...slot("inheritance", "multiple-parents", {
    prelude: `CREATE TABLE has_name (name text);\nCREATE TABLE has_age (age int);`,
    variants: {
      one: `CREATE TABLE person_i (id int) INHERITS (has_name);`,
      both: `CREATE TABLE person_i (id int) INHERITS (has_name, has_age);`,
    },
  }),
  ...slot("inheritance", "three-parents", {
    prelude: `CREATE TABLE named (name text NOT NULL);
CREATE TABLE audited (changed_at timestamptz DEFAULT now(), changed_by text);
CREATE TABLE owned (owner_id int, changed_by text, CONSTRAINT owner_known CHECK (owner_id > 0));`,
    variants: {
      one: `CREATE TABLE project (budget numeric(12,2)) INHERITS (named);`,
      two: `CREATE TABLE project (budget numeric(12,2)) INHERITS (named, audited);`,
      three: `CREATE TABLE project (budget numeric(12,2)) INHERITS (named, audited, owned);`,
    },
  }),
  ...slot("inheritance", "no-inherit", {
    prelude: `CREATE TABLE ledger (id bigint NOT NULL, amount numeric NOT NULL DEFAULT 0, CONSTRAINT amount_sane CHECK (amount > -1000000));`,
    variants: {
      child: `CREATE TABLE ledger_archive (archived_on date) INHERITS (ledger);`,
      detached: `CREATE TABLE ledger_archive (id bigint NOT NULL, amount numeric NOT NULL DEFAULT 0, archived_on date, CONSTRAINT amount_sane CHECK (amount > -1000000));`,
      narrowed: `CREATE TABLE ledger_archive (id bigint NOT NULL, archived_on date);`,
    },
  }),
  ...slot("inheritance", "parent-type", {
    variants: {
      int: `CREATE TABLE reading (id int NOT NULL, value int DEFAULT 0);\nCREATE TABLE reading_hot (sensor text) INHERITS (reading);\nCREATE TABLE reading_cold () INHERITS (reading);`,
      bigint: `CREATE TABLE reading (id bigint NOT NULL, value bigint DEFAULT 0);\nCREATE TABLE reading_hot (sensor text) INHERITS (reading);\nCREATE TABLE reading_cold () INHERITS (reading);`,
      numeric: `CREATE TABLE reading (id bigint NOT NULL, value numeric(14,3) DEFAULT 0.5);\nCREATE TABLE reading_hot (sensor text) INHERITS (reading);\nCREATE TABLE reading_cold () INHERITS (reading);`,
    },
  }),
  ...slot("inheritance", "parent-dropped", {
    variants: {
      parent: `CREATE TABLE doc_base (id int NOT NULL, title text);\nCREATE TABLE memo (body text) INHERITS (doc_base);\nCREATE TABLE letter (sent date) INHERITS (doc_base);`,
      orphans: `CREATE TABLE memo (id int NOT NULL, title text, body text);\nCREATE TABLE letter (id int NOT NULL, title text, sent date);`,
      gone: ``,
    },
  }),
  ...slot("inheritance", "parent-checks", {
    variants: {
      none: `CREATE TABLE stock (qty int);\nCREATE TABLE stock_eu (vat numeric) INHERITS (stock);\nCREATE TABLE stock_us (CONSTRAINT qty_ok CHECK (qty >= 0)) INHERITS (stock);`,
      check: `CREATE TABLE stock (qty int, CONSTRAINT qty_ok CHECK (qty >= 0));\nCREATE TABLE stock_eu (vat numeric) INHERITS (stock);\nCREATE TABLE stock_us (CONSTRAINT qty_ok CHECK (qty >= 0)) INHERITS (stock);`,
      wider: `CREATE TABLE stock (qty int, CONSTRAINT qty_ok CHECK (qty >= -10));\nCREATE TABLE stock_eu (vat numeric) INHERITS (stock);\nCREATE TABLE stock_us (CONSTRAINT qty_ok CHECK (qty >= -10)) INHERITS (stock);`,
    },
  }),
  ...slot("inheritance", "redeclared", {
    prelude: `CREATE TABLE base_r (id int NOT NULL, name text, CONSTRAINT base_r_named CHECK (name <> ''));`,
    variants: {
      inherited: `CREATE TABLE kid_r (x int) INHERITS (base_r);`,
      own: `CREATE TABLE kid_r (id int NOT NULL, name text, x int, CONSTRAINT base_r_named CHECK (name <> '')) INHERITS (base_r);`,
    },
  }),
  ...slot("inheritance", "grandchildren", {
    variants: {
      two: `CREATE TABLE node (id int);\nCREATE TABLE branch (depth int) INHERITS (node);\nCREATE TABLE leaf (payload text) INHERITS (branch);`,
      grown: `CREATE TABLE node (id int, label text DEFAULT 'n', weight real NOT NULL DEFAULT 1);\nCREATE TABLE branch (depth int) INHERITS (node);\nCREATE TABLE leaf (payload text, label text DEFAULT 'n') INHERITS (branch);`,
    },
  }),
  // A parent's generated column changed, or what it reads retyped: the children's copies follow it.
  ...slot("inheritance", "generated-parent", {
    epilogue: `CREATE TABLE meter_home (room int) INHERITS (meter);\nCREATE TABLE meter_site (site int) INHERITS (meter);`,
    variants: {
      doubled: `CREATE TABLE meter (n int, d int GENERATED ALWAYS AS (n * 2) STORED);`,
      tripled: `CREATE TABLE meter (n int, d int GENERATED ALWAYS AS (n * 3) STORED);`,
      wide: `CREATE TABLE meter (n bigint, d bigint GENERATED ALWAYS AS (n * 3) STORED);`,
      plain: `CREATE TABLE meter (n bigint, d bigint);`,
    },
  }),
  // A child's own default on a column it inherits, set when the child is created.
  ...slot("inheritance", "child-own-default", {
    prelude: `CREATE TABLE account (id int, tier text DEFAULT 'free');`,
    variants: {
      none: ``,
      child: `CREATE TABLE partner (org text) INHERITS (account);\nALTER TABLE partner ALTER COLUMN tier SET DEFAULT 'partner';\nALTER TABLE partner ALTER COLUMN id SET NOT NULL;`,
    },
  }),
];
