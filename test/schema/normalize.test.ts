import { describe, expect, it, onTestFinished } from "vitest";
import { connect } from "../../sdk/postgres/connection";
import { startEmbeddedPostgres } from "../../sdk/postgres/embedded";
import { quoteIdent } from "../../sdk/postgres/quote";
import { planSchema } from "../../sdk/schema/engine";
import { normalize, scratchCleanup } from "../../sdk/schema/normalize";
import { schemaFromSql } from "../../sdk/schema/source";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

describe.each(majors())("normalization and the overlapped plan on PostgreSQL %i", (major) => {
  it("reads the target over a schema the desired SQL creates in a way the early read does not foresee", async () => {
    // The target is read while the dev server normalizes, over `public` and the schemas named in
    // CREATE SCHEMA statements; a schema made by dynamic SQL is only known afterwards and read then.
    await expectConverges(
      major,
      "CREATE SCHEMA s2; CREATE TABLE s2.t (id int PRIMARY KEY);",
      "DO $$ BEGIN EXECUTE format('CREATE SCHEMA %I', 's' || '2'); END $$; CREATE TABLE s2.t (id bigint PRIMARY KEY, note text);",
    );
  });

  it("never touches a schema the desired SQL only mentions", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE SCHEMA legacy; CREATE TABLE legacy.old (id int); CREATE TABLE t (id int);");
    const planned = await planSchema(db.url, schemaFromSql("-- we used to CREATE SCHEMA legacy here\nCREATE TABLE t (id int, note text);"), engineOptions(db));
    expect(planned.live.schemas.map((s) => s.name)).toEqual(["public"]);
    expect(planned.plan.steps.map((s) => s.sql.join("; "))).toEqual(['ALTER TABLE "public"."t" ADD COLUMN "note" text']);
  });

  it("drops its scratch database after returning, and sweeps those a killed process left behind", async () => {
    // A dev server of its own: other tests create and drop scratch databases on the shared one.
    const dev = await startEmbeddedPostgres({ major });
    onTestFinished(() => dev.stop());
    const admin = await connect(dev.url());
    onTestFinished(() => admin.end());
    const seconds = Math.floor(Date.now() / 1000);
    const abandoned = [`setpoint_dev_${(seconds - 3600).toString(36)}_0123456789ab`, "setpoint_dev_0123456789ab"];
    const recent = `setpoint_dev_${(seconds - 5).toString(36)}_0123456789ab`;
    for (const name of [...abandoned, recent]) await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);

    const { model } = await normalize(schemaFromSql("CREATE TABLE t (id int PRIMARY KEY);"), { devUrl: dev.url(), major, cacheDir: false });
    expect(model.tables.map((t) => t.name)).toEqual(["t"]);
    await scratchCleanup();
    const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'setpoint%' ORDER BY 1");
    // Only the one that may still be in use by another process (created moments ago) is left.
    expect(rows.map((r) => r.datname)).toEqual([recent]);
  });

  it("normalizes on an embedded server of the target's major when there is no dev database", async () => {
    const { model } = await normalize(schemaFromSql("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n numeric(5,2) DEFAULT 0);"), { major, cacheDir: false });
    expect(model.tables[0]!.columns.map((c) => [c.name, c.type, c.default])).toEqual([
      ["id", "integer", null],
      ["n", "numeric(5,2)", "0"],
    ]);
    await scratchCleanup();
  });
});
