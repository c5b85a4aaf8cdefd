import { pair, type SchemaPair } from "./pair";

/**
 * The cross-object chain of the issue: a domain used by a column used by a view used by a
 * function used by a trigger. Each variant changes one link.
 */
interface ChainParts {
  domain: string;
  column: string;
  view: string;
  fn: string;
  trigger: string;
}

const base: ChainParts = {
  domain: `CREATE DOMAIN qty AS int CHECK (VALUE >= 0);`,
  column: `CREATE TABLE stock_item (id int PRIMARY KEY, sku text NOT NULL, on_hand qty NOT NULL DEFAULT 0);\nCREATE TABLE stock_alert (sku text, at timestamptz DEFAULT now());`,
  view: `CREATE VIEW low_stock AS SELECT sku, on_hand FROM stock_item WHERE on_hand < 5;`,
  fn: `CREATE FUNCTION note_low_stock() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  INSERT INTO stock_alert (sku) SELECT sku FROM low_stock WHERE sku = NEW.sku;\n  RETURN NEW;\nEND\n$$;`,
  trigger: `CREATE TRIGGER stock_item_low AFTER UPDATE OF on_hand ON stock_item FOR EACH ROW EXECUTE FUNCTION note_low_stock();`,
};

const changes: Record<string, Partial<ChainParts>> = {
  domain: { domain: `CREATE DOMAIN qty AS int CHECK (VALUE >= 0 AND VALUE <= 1000000);` },
  domain_base: { domain: `CREATE DOMAIN qty AS bigint CHECK (VALUE >= 0);` },
  column_type: { column: `CREATE TABLE stock_item (id int PRIMARY KEY, sku varchar(32) NOT NULL, on_hand qty NOT NULL DEFAULT 0);\nCREATE TABLE stock_alert (sku text, at timestamptz DEFAULT now());` },
  column_added: { column: `CREATE TABLE stock_item (id int PRIMARY KEY, sku text NOT NULL, on_hand qty NOT NULL DEFAULT 0, reorder_at qty DEFAULT 5);\nCREATE TABLE stock_alert (sku text, at timestamptz DEFAULT now());` },
  view: { view: `CREATE VIEW low_stock AS SELECT sku, on_hand FROM stock_item WHERE on_hand < 10;` },
  view_columns: { view: `CREATE VIEW low_stock AS SELECT sku, on_hand, id FROM stock_item WHERE on_hand < 5;` },
  function: { fn: `CREATE FUNCTION note_low_stock() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  INSERT INTO stock_alert (sku, at) SELECT sku, clock_timestamp() FROM low_stock WHERE sku = NEW.sku;\n  RETURN NEW;\nEND\n$$;` },
  trigger: { trigger: `CREATE TRIGGER stock_item_low AFTER INSERT OR UPDATE OF on_hand ON stock_item FOR EACH ROW EXECUTE FUNCTION note_low_stock();` },
  trigger_when: { trigger: `CREATE TRIGGER stock_item_low AFTER UPDATE OF on_hand ON stock_item FOR EACH ROW WHEN (NEW.on_hand < 5) EXECUTE FUNCTION note_low_stock();` },
  all: {
    domain: `CREATE DOMAIN qty AS bigint CHECK (VALUE >= 0);`,
    view: `CREATE VIEW low_stock AS SELECT sku, on_hand FROM stock_item WHERE on_hand < 10;`,
    trigger: `CREATE TRIGGER stock_item_low AFTER INSERT OR UPDATE OF on_hand ON stock_item FOR EACH ROW EXECUTE FUNCTION note_low_stock();`,
  },
};

const render = (p: ChainParts) => [p.domain, p.column, p.view, p.fn, p.trigger].join("\n");

/** Each link changed (and changed back), the whole chain created and dropped. */
export const chainPairs: SchemaPair[] = [
  ...Object.entries(changes).flatMap(([name, change]) => [
    pair("chains", `domain-column-view-function-trigger/${name}`, render(base), render({ ...base, ...change })),
    pair("chains", `domain-column-view-function-trigger/${name}-back`, render({ ...base, ...change }), render(base)),
  ]),
  pair("chains", "domain-column-view-function-trigger/create", `CREATE TABLE chain_keep (id int PRIMARY KEY);`, `CREATE TABLE chain_keep (id int PRIMARY KEY);\n${render(base)}`),
  pair("chains", "domain-column-view-function-trigger/drop", `CREATE TABLE chain_keep (id int PRIMARY KEY);\n${render(base)}`, `CREATE TABLE chain_keep (id int PRIMARY KEY);`),
  pair(
    "chains",
    "enum-column-view/add-value-and-use",
    `CREATE TYPE prio AS ENUM ('low', 'high');\nCREATE TABLE task (id int PRIMARY KEY, p prio);\nCREATE VIEW urgent AS SELECT id FROM task WHERE p = 'high';`,
    `CREATE TYPE prio AS ENUM ('low', 'high', 'urgent');\nCREATE TABLE task (id int PRIMARY KEY, p prio);\nCREATE VIEW urgent AS SELECT id FROM task WHERE p = 'urgent';`,
  ),
  pair(
    "chains",
    "table-view-matview-index/column-type",
    `CREATE TABLE tx (id int PRIMARY KEY, amount int);\nCREATE VIEW tx_v AS SELECT id, amount FROM tx;\nCREATE MATERIALIZED VIEW tx_sum AS SELECT sum(amount) AS s FROM tx_v;\nCREATE INDEX tx_amount_idx ON tx (amount);`,
    `CREATE TABLE tx (id int PRIMARY KEY, amount bigint);\nCREATE VIEW tx_v AS SELECT id, amount FROM tx;\nCREATE MATERIALIZED VIEW tx_sum AS SELECT sum(amount) AS s FROM tx_v;\nCREATE INDEX tx_amount_idx ON tx (amount);`,
  ),
  pair(
    "chains",
    "composite-function-view/attribute-added",
    `CREATE TYPE pair_t AS (a int, b int);\nCREATE FUNCTION make_pair(x int) RETURNS pair_t LANGUAGE sql AS $$ SELECT x, x * 2 $$;\nCREATE VIEW pairs AS SELECT (make_pair(g)).* FROM generate_series(1, 3) g;`,
    `CREATE TYPE pair_t AS (a int, b int, c int);\nCREATE FUNCTION make_pair(x int) RETURNS pair_t LANGUAGE sql AS $$ SELECT x, x * 2, x * 3 $$;\nCREATE VIEW pairs AS SELECT (make_pair(g)).* FROM generate_series(1, 3) g;`,
  ),
  pair(
    "chains",
    "function-check-domain/function-changed",
    `CREATE FUNCTION is_sku(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT t ~ '^[A-Z]+$' $$;\nCREATE DOMAIN sku AS text CHECK (is_sku(VALUE));\nCREATE TABLE article (id int PRIMARY KEY, s sku);`,
    `CREATE FUNCTION is_sku(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT t ~ '^[A-Z0-9]+$' $$;\nCREATE DOMAIN sku AS text CHECK (is_sku(VALUE));\nCREATE TABLE article (id int PRIMARY KEY, s sku);`,
  ),
  pair(
    "chains",
    "range-exclusion-partition/added",
    `CREATE EXTENSION btree_gist;\nCREATE TABLE res_p (room int NOT NULL, during daterange NOT NULL) PARTITION BY LIST (room);\nCREATE TABLE res_p1 PARTITION OF res_p FOR VALUES IN (1);`,
    `CREATE EXTENSION btree_gist;\nCREATE TABLE res_p (room int NOT NULL, during daterange NOT NULL) PARTITION BY LIST (room);\nCREATE TABLE res_p1 PARTITION OF res_p FOR VALUES IN (1);\nCREATE TABLE res_p2 PARTITION OF res_p FOR VALUES IN (2);\nALTER TABLE res_p1 ADD CONSTRAINT res_p1_excl EXCLUDE USING gist (room WITH =, during WITH &&);`,
  ),
  pair(
    "chains",
    "view-policy-function/policy-uses-function",
    `CREATE TABLE doc_p (id int PRIMARY KEY, owner text);\nCREATE FUNCTION me() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_user::text $$;\nALTER TABLE doc_p ENABLE ROW LEVEL SECURITY;\nCREATE POLICY own ON doc_p USING (owner = me());`,
    `CREATE TABLE doc_p (id int PRIMARY KEY, owner text);\nCREATE FUNCTION me() RETURNS text LANGUAGE sql STABLE AS $$ SELECT session_user::text $$;\nALTER TABLE doc_p ENABLE ROW LEVEL SECURITY;\nCREATE POLICY own ON doc_p USING (owner = me() OR owner IS NULL);`,
  ),
];
