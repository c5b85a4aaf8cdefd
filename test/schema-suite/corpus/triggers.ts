import { slot, type SchemaPair } from "./pair";

const touch = `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND\n$$;`;
const base = `CREATE TABLE doc (id int PRIMARY KEY, body text, updated_at timestamptz, version int NOT NULL DEFAULT 0);\n${touch}`;

/** Triggers: timing, events, columns, WHEN, FOR EACH, constraint triggers, trigger functions. */
export const triggerPairs: SchemaPair[] = [
  ...slot("triggers", "basic", {
    prelude: base,
    variants: {
      none: ``,
      before_update: `CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch();`,
      before_ins_upd: `CREATE TRIGGER doc_touch BEFORE INSERT OR UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch();`,
      columns: `CREATE TRIGGER doc_touch BEFORE UPDATE OF body ON doc FOR EACH ROW EXECUTE FUNCTION touch();`,
      when: `CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body) EXECUTE FUNCTION touch();`,
    },
  }),
  ...slot("triggers", "function-body", {
    prelude: `CREATE TABLE doc (id int PRIMARY KEY, body text, updated_at timestamptz, version int NOT NULL DEFAULT 0);`,
    epilogue: `CREATE TRIGGER doc_bump BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION bump();`,
    variants: {
      v1: `CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$;`,
      v2: `CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.version := OLD.version + 1; NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;`,
    },
  }),
  ...slot("triggers", "statement-level", {
    prelude: `CREATE TABLE counter (n bigint NOT NULL);\nCREATE TABLE thing (id int PRIMARY KEY);\nCREATE FUNCTION count_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE counter SET n = (SELECT count(*) FROM thing); RETURN NULL; END $$;`,
    variants: {
      none: ``,
      after_stmt: `CREATE TRIGGER thing_count AFTER INSERT OR DELETE ON thing FOR EACH STATEMENT EXECUTE FUNCTION count_rows();`,
      truncate: `CREATE TRIGGER thing_count AFTER INSERT OR DELETE OR TRUNCATE ON thing FOR EACH STATEMENT EXECUTE FUNCTION count_rows();`,
    },
  }),
  ...slot("triggers", "transition-tables", {
    prelude: `CREATE TABLE ledger (id int PRIMARY KEY, amount numeric);\nCREATE TABLE ledger_sum (total numeric);\nCREATE FUNCTION sum_new() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE ledger_sum SET total = total + (SELECT coalesce(sum(amount), 0) FROM new_rows); RETURN NULL; END $$;`,
    variants: {
      none: ``,
      insert: `CREATE TRIGGER ledger_sum_trg AFTER INSERT ON ledger REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sum_new();`,
    },
  }),
  ...slot("triggers", "constraint-trigger", {
    prelude: `CREATE TABLE reservation (id int PRIMARY KEY, seats int NOT NULL);\nCREATE FUNCTION check_seats() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.seats > 10 THEN RAISE EXCEPTION 'too many seats'; END IF; RETURN NULL; END $$;`,
    variants: {
      none: ``,
      immediate: `CREATE CONSTRAINT TRIGGER reservation_seats AFTER INSERT OR UPDATE ON reservation FOR EACH ROW EXECUTE FUNCTION check_seats();`,
      deferred: `CREATE CONSTRAINT TRIGGER reservation_seats AFTER INSERT OR UPDATE ON reservation DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_seats();`,
    },
  }),
  ...slot("triggers", "arguments", {
    prelude: `CREATE TABLE area (id int PRIMARY KEY, name text);\nCREATE FUNCTION tag_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := TG_ARGV[0] || NEW.name; RETURN NEW; END $$;`,
    variants: {
      a: `CREATE TRIGGER area_tag BEFORE INSERT ON area FOR EACH ROW EXECUTE FUNCTION tag_name('a-');`,
      b: `CREATE TRIGGER area_tag BEFORE INSERT ON area FOR EACH ROW EXECUTE FUNCTION tag_name('b-');`,
    },
  }),
  ...slot("triggers", "view-instead-of", {
    prelude: `CREATE TABLE raw_item (id int PRIMARY KEY, name text);\nCREATE VIEW item_v AS SELECT id, name FROM raw_item;\nCREATE FUNCTION item_v_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO raw_item VALUES (NEW.id, NEW.name); RETURN NEW; END $$;`,
    variants: {
      none: ``,
      instead: `CREATE TRIGGER item_v_ins INSTEAD OF INSERT ON item_v FOR EACH ROW EXECUTE FUNCTION item_v_ins();`,
    },
  }),
  ...slot("triggers", "disabled", {
    prelude: base,
    variants: {
      enabled: `CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch();`,
      disabled: `CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch();\nALTER TABLE doc DISABLE TRIGGER doc_touch;`,
      replica: `CREATE TRIGGER doc_touch BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION touch();\nALTER TABLE doc ENABLE ALWAYS TRIGGER doc_touch;`,
    },
  }),
];
