import { describe, expect, it } from "vitest";
import { planSchema } from "../../sdk/schema/engine";
import { catalogFingerprint } from "../../sdk/schema/introspect";
import { schemaFromSql } from "../../sdk/schema/source";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, runSql } from "../support/schema";

describe.each(majors())("catalog fingerprint on PostgreSQL %i", (major) => {
  it("changes with every kind of DDL the engine reads, and not with data changes or ANALYZE", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TYPE mood AS ENUM ('ok'); CREATE TABLE t (id int PRIMARY KEY, m mood, n int); CREATE SEQUENCE s;");
    const c = await db.client();
    let before = await catalogFingerprint(c);
    await c.query("INSERT INTO t SELECT g, 'ok', g FROM generate_series(1, 100) g; ANALYZE t; SELECT nextval('s');");
    expect(await catalogFingerprint(c)).toBe(before);
    for (const ddl of [
      "ALTER TABLE t ADD COLUMN x text",
      "ALTER TABLE t ALTER COLUMN n SET DEFAULT 5",
      "COMMENT ON COLUMN t.n IS 'n'",
      "CREATE INDEX t_n ON t (n)",
      "ALTER TYPE mood ADD VALUE 'sad'",
      "ALTER SEQUENCE s INCREMENT BY 2",
      "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0)",
      "ALTER TABLE t SET (fillfactor = 90)",
      "ALTER TABLE t DROP COLUMN x",
      "CREATE VIEW v AS SELECT id FROM t",
      "ALTER TABLE t RENAME COLUMN n TO n2",
    ]) {
      await c.query(ddl);
      const after = await catalogFingerprint(c);
      expect(after, ddl).not.toBe(before);
      before = after;
    }
  });

  it("a drift check in the same process sees an out-of-band change made after a converged plan", async () => {
    const db = await freshDatabase(major);
    const desired = schemaFromSql("CREATE TABLE t (id int PRIMARY KEY);");
    await runSql(db, "CREATE TABLE t (id int PRIMARY KEY);");
    expect((await planSchema(db.url, desired, engineOptions(db, { cacheDir: undefined }))).plan.steps).toEqual([]);
    await runSql(db, "ALTER TABLE t ADD COLUMN sneaky int");
    const again = await planSchema(db.url, desired, engineOptions(db, { cacheDir: undefined }));
    expect(again.plan.steps.map((s) => s.kind)).toEqual(["dropColumn"]);
  });
});
