import { describe, expect, it } from "vitest";
import { expectCatalogConverges } from "../support/catalog-props";
import { majors } from "../support/postgres";

// PostgreSQL 18's new table features, each proven by the catalogs (see catalog-props.ts): virtual
// generated columns, temporal keys (WITHOUT OVERLAPS / PERIOD), NOT NULL as named constraints, and
// NOT ENFORCED constraints. Only on 18: the syntax does not exist before.
const on18 = majors().filter((m) => m >= 18);

describe.skipIf(on18.length === 0).each(on18)("PostgreSQL %i table features", (major) => {
  it("virtual generated columns: created, added, changed and switched with stored ones", async () => {
    const base = "CREATE TABLE g (id int PRIMARY KEY, a int NOT NULL, b int);";
    const virtual = "CREATE TABLE g (id int PRIMARY KEY, a int NOT NULL, b int GENERATED ALWAYS AS (a * 2) VIRTUAL);";
    await expectCatalogConverges(major, "", virtual);
    await expectCatalogConverges(major, `${base} INSERT INTO g VALUES (1, 2, 3);`, virtual);
    await expectCatalogConverges(major, virtual, virtual.replace("a * 2", "a * 3"));
    await expectCatalogConverges(major, virtual, virtual.replace("VIRTUAL", "STORED"));
    await expectCatalogConverges(major, virtual.replace("VIRTUAL", "STORED"), virtual);
    await expectCatalogConverges(major, virtual, base);
    await expectCatalogConverges(major, virtual, "CREATE TABLE g (id int PRIMARY KEY, a int NOT NULL, b int, c text GENERATED ALWAYS AS ('#' || a) VIRTUAL);");
  });

  it("PRIMARY KEY and UNIQUE WITHOUT OVERLAPS, and a foreign key with PERIOD", async () => {
    const base = `CREATE EXTENSION btree_gist;
      CREATE TABLE room (id int, during tstzrange NOT NULL);
      CREATE TABLE booking (id int, room_id int, during tstzrange NOT NULL);`;
    const temporal = `${base}
      ALTER TABLE room ADD CONSTRAINT room_pk PRIMARY KEY (id, during WITHOUT OVERLAPS);
      ALTER TABLE booking ADD CONSTRAINT booking_once UNIQUE (id, during WITHOUT OVERLAPS),
        ADD CONSTRAINT booking_room FOREIGN KEY (room_id, PERIOD during) REFERENCES room (id, PERIOD during);`;
    await expectCatalogConverges(major, base, temporal);
    await expectCatalogConverges(major, "", temporal);
    await expectCatalogConverges(major, temporal, base);
  });

  it("NOT NULL constraints: named, renamed, NO INHERIT and NOT VALID, and kept when a primary key is dropped", async () => {
    const named = "CREATE TABLE nn (id int PRIMARY KEY, code text CONSTRAINT nn_code_required NOT NULL, note text);";
    await expectCatalogConverges(major, "CREATE TABLE nn (id int PRIMARY KEY, code text, note text);", named);
    await expectCatalogConverges(major, "CREATE TABLE nn (id int PRIMARY KEY, code text NOT NULL, note text);", named);
    await expectCatalogConverges(major, "", named);
    const noInherit = "CREATE TABLE nn (id int PRIMARY KEY, code text, note text); ALTER TABLE nn ADD CONSTRAINT nn_code_required NOT NULL code NO INHERIT;";
    await expectCatalogConverges(major, named, noInherit);
    await expectCatalogConverges(major, noInherit, named);
    await expectCatalogConverges(major, "", noInherit);
    const notValid = "CREATE TABLE nn (id int PRIMARY KEY, code text, note text); ALTER TABLE nn ADD CONSTRAINT nn_code_required NOT NULL code NOT VALID;";
    await expectCatalogConverges(major, "CREATE TABLE nn (id int PRIMARY KEY, code text, note text); INSERT INTO nn VALUES (1, NULL, NULL);", notValid);
    await expectCatalogConverges(major, "", notValid);
    await expectCatalogConverges(major, named, notValid);
    await expectCatalogConverges(major, notValid, named);
    // The primary key goes; the NOT NULL it needed stays, as when the SQL runs directly.
    await expectCatalogConverges(major, "CREATE TABLE k (id int PRIMARY KEY, v text);", "CREATE TABLE k (id int NOT NULL, v text);");
    await expectCatalogConverges(major, "CREATE TABLE k (id int PRIMARY KEY, v text);", "CREATE TABLE k (id int, v text);");
    await expectCatalogConverges(major, "CREATE TABLE k (id int, v text);", "CREATE TABLE k (id int PRIMARY KEY, v text);");
  });

  it("NOT ENFORCED checks and foreign keys, added, and switched with enforced ones", async () => {
    const base = "CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int PRIMARY KEY, parent_id int, qty int);";
    const notEnforced = `${base} ALTER TABLE child ADD CONSTRAINT child_qty CHECK (qty > 0) NOT ENFORCED,
      ADD CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) NOT ENFORCED;`;
    const enforced = notEnforced.replaceAll(" NOT ENFORCED", "");
    const { db } = await expectCatalogConverges(major, `${base} INSERT INTO child VALUES (1, 42, -1);`, notEnforced);
    // Rows that break them are still there: they were never checked.
    expect((await (await db.client()).query("SELECT count(*)::int AS n FROM child")).rows).toEqual([{ n: 1 }]);
    await expectCatalogConverges(major, "", notEnforced);
    await expectCatalogConverges(major, enforced, notEnforced);
    await expectCatalogConverges(major, notEnforced, enforced);
  });

  it("a partition's own NOT NULL constraint keeps its name", async () => {
    const parent = "CREATE TABLE pn (id int, v text) PARTITION BY RANGE (id);";
    const wanted = `${parent} CREATE TABLE pn1 PARTITION OF pn (v CONSTRAINT pn1_v_set NOT NULL) FOR VALUES FROM (0) TO (10);`;
    await expectCatalogConverges(major, "", wanted);
    await expectCatalogConverges(major, `${parent} CREATE TABLE pn1 PARTITION OF pn FOR VALUES FROM (0) TO (10);`, wanted);
  });
});
