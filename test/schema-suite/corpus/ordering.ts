import { pair, slot, type SchemaPair } from "./pair";

// Plan ordering (issue 16, ADR 0015): pairs where PostgreSQL drops something on its own, or refuses
// a drop, because of another change. Their slots are named `ordering-*` (`--filter ordering-`).

// A ledger whose CHECK and default call SQL-standard routines that read it.
const ledger = (partitionBy: string | null) => `CREATE TABLE ledger (id int NOT NULL, amount numeric NOT NULL)${partitionBy ? ` PARTITION BY ${partitionBy} (id)` : ""};
${partitionBy ? "CREATE TABLE ledger_rest PARTITION OF ledger DEFAULT;\n" : ""}CREATE FUNCTION ledger_total() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT coalesce(sum(amount), 0) FROM ledger; END;
CREATE FUNCTION ledger_next() RETURNS int LANGUAGE sql VOLATILE RETURN (SELECT coalesce(max(id), 0) + 1 FROM ledger);
ALTER TABLE ledger ALTER COLUMN id SET DEFAULT ledger_next();
ALTER TABLE ledger ADD CONSTRAINT ledger_cap CHECK (ledger_total() < 1000000);`;

/** Ordering pairs, spread over the kinds they concern. */
export const orderingPairs: SchemaPair[] = [
  ...slot("routines", "ordering-table-routine-cycle", {
    prelude: `CREATE TABLE audit_note (id int PRIMARY KEY);`,
    variants: { none: ``, plain: ledger(null), range: ledger("RANGE"), list: ledger("LIST") },
  }),
  ...slot("domains", "ordering-domain-routine-cycle", {
    prelude: `CREATE TABLE audit_note (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      capped: `CREATE TABLE stall (id int PRIMARY KEY);
CREATE FUNCTION stall_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM stall; END;
CREATE DOMAIN stall_slot AS int CONSTRAINT stall_slot_cap CHECK (VALUE < stall_count() + 100);
ALTER TABLE stall ADD COLUMN slot stall_slot;`,
    },
  }),
  ...slot("routines", "ordering-atomic-callee", {
    variants: {
      narrow: `CREATE FUNCTION rate(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE RETURN x * 0.2;
CREATE FUNCTION gross(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT x + rate(x); END;`,
      wide: `CREATE FUNCTION rate(x numeric, pct numeric DEFAULT 0.2) RETURNS numeric LANGUAGE sql IMMUTABLE RETURN x * pct;
CREATE FUNCTION gross(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT x + rate(x); END;`,
      text: `CREATE FUNCTION rate(x numeric) RETURNS text LANGUAGE sql IMMUTABLE RETURN (x * 0.2)::text;
CREATE FUNCTION gross(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT x + rate(x)::numeric; END;`,
    },
    pairs: "all",
  }),
  ...slot("constraints", "ordering-fk-over-key", {
    epilogue: `CREATE TABLE shipment (id int PRIMARY KEY, depot_id int REFERENCES depot (id));`,
    variants: {
      pkey: `CREATE TABLE depot (id int NOT NULL, code text NOT NULL, CONSTRAINT depot_pkey PRIMARY KEY (id));`,
      unique: `CREATE TABLE depot (id int NOT NULL, code text NOT NULL, CONSTRAINT depot_pkey PRIMARY KEY (code), CONSTRAINT depot_id_key UNIQUE (id));`,
      uindex: `CREATE TABLE depot (id int, code text NOT NULL, CONSTRAINT depot_pkey PRIMARY KEY (code));\nCREATE UNIQUE INDEX depot_id_idx ON depot (id);`,
      tuned: `CREATE TABLE depot (id int, code text NOT NULL, CONSTRAINT depot_pkey PRIMARY KEY (code));\nCREATE UNIQUE INDEX depot_id_idx ON depot (id) WITH (fillfactor = 60);`,
    },
    pairs: "all",
  }),
  ...slot("constraints", "ordering-key-swap", {
    variants: {
      single: `CREATE TABLE seat (row_no int NOT NULL, seat_no int NOT NULL, hall int, CONSTRAINT seat_pkey PRIMARY KEY (row_no));`,
      pair: `CREATE TABLE seat (row_no int NOT NULL, seat_no int NOT NULL, hall int, CONSTRAINT seat_pkey PRIMARY KEY (row_no, seat_no));`,
      unique: `CREATE TABLE seat (row_no int NOT NULL, seat_no int NOT NULL, hall int, CONSTRAINT seat_pkey UNIQUE (row_no, seat_no));`,
      nullable: `CREATE TABLE seat (row_no int, seat_no int NOT NULL, hall int, CONSTRAINT seat_pkey PRIMARY KEY (seat_no));`,
      hall: `CREATE TABLE seat (row_no int, seat_no int, hall int, CONSTRAINT seat_pkey PRIMARY KEY (hall));`,
    },
    pairs: "all",
  }),
  ...slot("views", "ordering-functional-dependency", {
    variants: {
      bykey: `CREATE TABLE author (id int PRIMARY KEY, name text, born date);\nCREATE VIEW author_books AS SELECT id, name, count(*) AS n FROM author GROUP BY id;`,
      wide: `CREATE TABLE author (id int, name text, born date, CONSTRAINT author_pkey PRIMARY KEY (id, name));\nCREATE VIEW author_books AS SELECT id, name, count(*) AS n FROM author GROUP BY id, name;`,
    },
  }),
  ...slot("tables", "ordering-fk-cycle-drop", {
    prelude: `CREATE TABLE survivor (id int PRIMARY KEY);`,
    variants: {
      none: ``,
      cycle: `CREATE TABLE team (id int PRIMARY KEY, captain_id int);
CREATE TABLE player (id int PRIMARY KEY, team_id int REFERENCES team (id), mentor_id int REFERENCES player (id));
ALTER TABLE team ADD CONSTRAINT team_captain_fkey FOREIGN KEY (captain_id) REFERENCES player (id);`,
    },
  }),
  ...slot("partitions", "ordering-fk-cycle-partitioned", {
    epilogue: `CREATE TABLE cart (id int PRIMARY KEY, order_id int REFERENCES orderx (id));
ALTER TABLE orderx ADD CONSTRAINT orderx_cart_fkey FOREIGN KEY (cart_id) REFERENCES cart (id);`,
    variants: {
      plain: `CREATE TABLE orderx (id int PRIMARY KEY, cart_id int);`,
      hashed: `CREATE TABLE orderx (id int PRIMARY KEY, cart_id int) PARTITION BY HASH (id);\nCREATE TABLE orderx_0 PARTITION OF orderx FOR VALUES WITH (MODULUS 2, REMAINDER 0);\nCREATE TABLE orderx_1 PARTITION OF orderx FOR VALUES WITH (MODULUS 2, REMAINDER 1);`,
      ranged: `CREATE TABLE orderx (id int PRIMARY KEY, cart_id int) PARTITION BY RANGE (id);\nCREATE TABLE orderx_low PARTITION OF orderx FOR VALUES FROM (MINVALUE) TO (1000);\nCREATE TABLE orderx_high PARTITION OF orderx FOR VALUES FROM (1000) TO (MAXVALUE);`,
    },
    pairs: "all",
  }),
  ...slot("partitions", "ordering-referenced-partition", {
    epilogue: `CREATE TABLE reading_note (id int PRIMARY KEY, reading_id int REFERENCES reading (id));`,
    variants: {
      two: `CREATE TABLE reading (id int PRIMARY KEY) PARTITION BY RANGE (id);\nCREATE TABLE reading_a PARTITION OF reading FOR VALUES FROM (0) TO (100);\nCREATE TABLE reading_b PARTITION OF reading FOR VALUES FROM (100) TO (200);`,
      one: `CREATE TABLE reading (id int PRIMARY KEY) PARTITION BY RANGE (id);\nCREATE TABLE reading_a PARTITION OF reading FOR VALUES FROM (0) TO (100);`,
      nested: `CREATE TABLE reading (id int PRIMARY KEY) PARTITION BY RANGE (id);\nCREATE TABLE reading_a PARTITION OF reading FOR VALUES FROM (0) TO (100);\nCREATE TABLE reading_b PARTITION OF reading FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);\nCREATE TABLE reading_b1 PARTITION OF reading_b FOR VALUES FROM (100) TO (150);`,
    },
    pairs: "all",
  }),
  ...slot("partitions", "ordering-partition-own-index", {
    variants: {
      with: `CREATE TABLE visit (id int, at date NOT NULL, note text) PARTITION BY RANGE (at);
CREATE TABLE visit_2020 PARTITION OF visit (CONSTRAINT visit_2020_note CHECK (note <> '')) FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE INDEX visit_2020_note_idx ON visit_2020 (note);`,
      without: `CREATE TABLE visit (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE visit_2020 PARTITION OF visit FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');`,
    },
  }),
  ...slot("sequences", "ordering-owned-by-dropped-column", {
    variants: {
      serial: `CREATE TABLE ticket (label text, id serial);`,
      gone: `CREATE TABLE ticket (label text);`,
      standalone: `CREATE SEQUENCE ticket_id_seq;\nCREATE TABLE ticket (label text);`,
      moved: `CREATE SEQUENCE ticket_id_seq AS integer;\nCREATE TABLE ticket (label text, no int DEFAULT nextval('ticket_id_seq'));\nALTER SEQUENCE ticket_id_seq OWNED BY ticket.no;`,
    },
    pairs: "star",
  }),
  ...slot("sequences", "ordering-serial-repartition", {
    variants: {
      range: `CREATE TABLE event_log (id bigserial, seq serial, at date NOT NULL) PARTITION BY RANGE (at);\nCOMMENT ON SEQUENCE event_log_id_seq IS 'event ids';`,
      list: `CREATE TABLE event_log (id bigserial, seq int GENERATED ALWAYS AS IDENTITY, at date NOT NULL) PARTITION BY LIST (at);\nCOMMENT ON SEQUENCE event_log_id_seq IS 'event ids';`,
    },
  }),
  ...slot("indexes", "ordering-recreated-column", {
    epilogue: `CREATE INDEX gauge_level_idx ON gauge (level) WHERE site > 0;
ALTER TABLE gauge ADD CONSTRAINT gauge_level_check CHECK (level >= 0), ADD CONSTRAINT gauge_level_site_key UNIQUE (level, site);
CREATE TABLE gauge_alarm (id int PRIMARY KEY, level int, site int, FOREIGN KEY (level, site) REFERENCES gauge (level, site));`,
    variants: {
      plain: `CREATE TABLE gauge (raw int, site int, level int);`,
      generated: `CREATE TABLE gauge (raw int, site int, level int GENERATED ALWAYS AS (raw * 10) STORED);`,
    },
  }),
  pair(
    "constraints",
    "ordering-identity-not-null",
    `CREATE TABLE badge (id int GENERATED BY DEFAULT AS IDENTITY, code text, CONSTRAINT badge_pkey PRIMARY KEY (id));`,
    `CREATE TABLE badge (id int, code text NOT NULL, CONSTRAINT badge_pkey PRIMARY KEY (code));`,
  ),
];
