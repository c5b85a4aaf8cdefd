import { describe, expect, it } from "vitest";
import { independent, joined, segments, splitStatements, splittable, type Segment } from "./parallel-ddl";

const tables = (n: number, body = "(id int PRIMARY KEY, note text)") => Array.from({ length: n }, (_, i) => `CREATE TABLE t${String(i).padStart(3, "0")} ${body};`).join("\n");
const shape = (segs: Segment[]) => segs.map((s) => (s.kind === "serial" ? `serial ${s.statements.length}` : `parallel ${s.lanes.map((l) => l.length).join("/")}`));
/** The lane of the statement whose text contains `needle`. */
const laneOf = (seg: Segment, needle: string) => (seg.kind === "parallel" ? seg.lanes.findIndex((l) => l.some((s) => s.text.includes(needle))) : -1);

describe("splitStatements", () => {
  it("splits at top-level semicolons only, past strings, quoted identifiers, dollar quotes and nested comments", () => {
    const sql = `CREATE TABLE a (x text DEFAULT 'a;b', y text DEFAULT E'\\';', z text DEFAULT U&'d;');  -- c;
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$; /* x; /* y; */ */ CREATE TABLE "we;""ird" (id int)
;  -- trailing;
`;
    const s = splitStatements(sql);
    expect(s).toHaveLength(3);
    expect(s[0]!.words.map((w) => w.text)).toEqual(["create", "table", "a", "x", "text", "default", "y", "text", "default", "z", "text", "default"]);
    expect(s[1]!.words.map((w) => w.text)).toEqual(["create", "function", "f", "returns", "int", "language", "sql", "as"]);
    expect(s[2]!.words[2]).toEqual({ text: 'we;"ird', quoted: true, depth: 0 });
    // Offsets point into the file (for error lines), and joining keeps a trailing line comment off the `;`.
    expect(sql.slice(s[2]!.offset)).toMatch(/^ \/\* x;/);
    expect(joined(splitStatements("CREATE TABLE a (id int) -- note\n;CREATE TABLE b (id int)"))).toBe("CREATE TABLE a (id int) -- note\n\n;\nCREATE TABLE b (id int)");
  });
});

describe("splittable", () => {
  it("accepts DDL only, and nothing that changes session state or depends on one transaction", () => {
    const ok = (sql: string) => splittable(splitStatements(sql));
    expect(ok("CREATE SCHEMA s; CREATE TABLE s.t (id int); ALTER TABLE s.t ADD COLUMN n int; COMMENT ON TABLE s.t IS 'x'; GRANT SELECT ON s.t TO PUBLIC")).toBe(true);
    for (const bad of [
      "SET search_path = s; CREATE TABLE t (id int)",
      "SELECT set_config('search_path', 's', false); CREATE TABLE t (id int)",
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT set_config('a.b', 'c', false) $$",
      "CREATE INDEX CONCURRENTLY i ON t (id)",
      "ALTER TYPE mood ADD VALUE 'x'",
      "ALTER ROLE CURRENT_USER SET search_path = s",
      "ALTER DATABASE d SET search_path = s",
      "CREATE TEMP TABLE t (id int)",
      "DO $$ BEGIN PERFORM 1; END $$",
      "BEGIN; CREATE TABLE t (id int); COMMIT",
      "INSERT INTO t VALUES (1)",
    ]) {
      expect(ok(bad), bad).toBe(false);
    }
  });
});

describe("independent and segments", () => {
  it("runs independent tables and named indexes in lanes, and what ties relations together in order", () => {
    expect(independent(splitStatements("CREATE UNIQUE INDEX t_email_key ON ONLY public.t USING btree (lower(email))")[0]!)).toEqual({ class: "create", relation: "t", creates: ["t_email_key"] });
    expect(independent(splitStatements("CREATE TABLE s.t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)")[0]!)).toEqual({ class: "create", relation: "t", creates: ["t"] });
    for (const tied of [
      "CREATE TABLE t (id int REFERENCES p)",
      "CREATE TABLE t (id int, FOREIGN KEY (id) REFERENCES p)",
      "CREATE TABLE t (LIKE p)",
      "CREATE TABLE t () INHERITS (p)",
      "CREATE TABLE t PARTITION OF p FOR VALUES IN (1)",
      "CREATE TABLE t (id int) PARTITION BY LIST (id)",
      "CREATE TABLE t OF pair",
      "CREATE TABLE t AS SELECT 1",
      "CREATE TABLE IF NOT EXISTS t (id int)",
      "CREATE INDEX ON t (id)",
      "CREATE INDEX IF NOT EXISTS i ON t (id)",
      "ALTER TABLE t ADD FOREIGN KEY (id) REFERENCES p",
      "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES p NOT VALID",
      "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES p, ADD COLUMN x int",
      "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES p, ALTER COLUMN id SET NOT NULL",
      "ALTER TABLE IF EXISTS t ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES p",
      "ALTER TABLE t ADD CONSTRAINT f CHECK (id > 0)",
    ]) {
      expect(independent(splitStatements(tied)[0]!), tied).toBeNull();
    }
    expect(independent(splitStatements("ALTER TABLE ONLY s.t ADD CONSTRAINT t_fk FOREIGN KEY (a, b) REFERENCES s.p (x, y) MATCH FULL ON DELETE SET NULL (a) DEFERRABLE INITIALLY DEFERRED")[0]!)).toEqual({
      class: "foreignKey",
      relation: "t",
      creates: ["t_fk"],
      locks: ['"s"."t"', '"s"."p"'],
    });
    const fk = Array.from({ length: 40 }, (_, i) => `ALTER TABLE t${String(i).padStart(3, "0")} ADD CONSTRAINT f${i} FOREIGN KEY (id) REFERENCES t000;`).join("\n");
    // Creations and foreign keys never share a run: the keys' run starts once every table exists.
    expect(shape(segments(splitStatements(`CREATE SCHEMA s;\n${tables(40)}\nCREATE TYPE x AS (a int);\n${tables(10)}\n${fk}`), 2))).toEqual(["serial 1", "parallel 20/20", "serial 11", "parallel 20/20"]);
    expect(shape(segments(splitStatements(`${tables(40)}\n${fk}`), 2))).toEqual(["parallel 20/20", "parallel 20/20"]);
    const [, keys] = segments(splitStatements(`${tables(40)}\n${fk}`), 2);
    expect(keys?.kind === "parallel" && keys.eachCommitted).toBe(true);
    expect(joined(splitStatements("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES b; ALTER TABLE c ADD CONSTRAINT g FOREIGN KEY (x) REFERENCES b"), true)).toBe(
      // Each key in its own transaction, its two tables locked first in one order (no deadlock on a cycle).
      'BEGIN;\nLOCK TABLE "a" IN SHARE ROW EXCLUSIVE MODE;\nLOCK TABLE "b" IN SHARE ROW EXCLUSIVE MODE;\nALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES b\n;\nCOMMIT;\n' +
        'BEGIN;\nLOCK TABLE "b" IN SHARE ROW EXCLUSIVE MODE;\nLOCK TABLE "c" IN SHARE ROW EXCLUSIVE MODE;\n ALTER TABLE c ADD CONSTRAINT g FOREIGN KEY (x) REFERENCES b\n;\nCOMMIT',
    );
    // With partitions in the file a key may be cloned onto them: keys run in order.
    expect(shape(segments(splitStatements(`${tables(40)}\nCREATE TABLE pt (id int) PARTITION BY LIST (id);\n${fk}`), 2))).toEqual(["parallel 20/20", "serial 41"]);
    // Too short a run is not worth more connections.
    expect(shape(segments(splitStatements(tables(31)), 2))).toEqual(["serial 31"]);
    expect(shape(segments(splitStatements(tables(40)), 1))).toEqual(["serial 40"]);
  });

  it("keeps in one lane, in their order, statements on one relation and those whose names could meet", () => {
    const sql = [
      tables(40),
      "CREATE INDEX t001_note_idx ON t001 (note);",
      // Derived names: orders_id_seq, orders_pkey ... and a table named like one of them.
      "CREATE TABLE orders (id serial PRIMARY KEY, code text UNIQUE);",
      "CREATE TABLE orders_code (id int);",
      // An array type name: a table `_items` meets the array type of `items`.
      "CREATE TABLE items (id int);",
      "CREATE TABLE _items (id int);",
      // A column of another table's row type.
      "CREATE TABLE holder (o orders);",
      // An explicit constraint name in the form another table's derived one takes.
      "CREATE TABLE notes (id int, CONSTRAINT t002_id_check CHECK (id > 0));",
      // Long names PostgreSQL truncates to build derived names: same first 20 bytes.
      "CREATE TABLE a_very_long_table_name_number_one (id int PRIMARY KEY);",
      "CREATE TABLE a_very_long_table_name_number_two (id int PRIMARY KEY);",
      // The same first 20 bytes in UTF-8 (ten two-byte letters), not in characters.
      'CREATE TABLE "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9_one" (id int PRIMARY KEY);',
      'CREATE TABLE "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9_two" (id int PRIMARY KEY);',
    ].join("\n");
    const [seg] = segments(splitStatements(sql), 2);
    expect(seg!.kind).toBe("parallel");
    const pairs: [string, string][] = [
      ["TABLE t001 ", "t001_note_idx"],
      ["TABLE orders (", "TABLE orders_code"],
      ["TABLE orders (", "TABLE holder"],
      ["TABLE items", "TABLE _items"],
      ["TABLE t002 ", "TABLE notes"],
      ["number_one", "number_two"],
      ["\u00e9_one", "\u00e9_two"],
    ];
    for (const [a, b] of pairs) expect(laneOf(seg!, a), `${a} / ${b}`).toBe(laneOf(seg!, b));
    // Within a lane, the file's order.
    if (seg?.kind === "parallel") for (const lane of seg.lanes) expect(lane.map((s) => s.offset)).toEqual([...lane.map((s) => s.offset)].sort((x, y) => x - y));
  });
});
