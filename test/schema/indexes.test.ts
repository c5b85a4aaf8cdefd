import { describe, expect, it } from "vitest";
import { planSchema } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

const BASE = `CREATE EXTENSION IF NOT EXISTS btree_gist; CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE docs (id int PRIMARY KEY, title text, body text, tags text[], created timestamptz, pos point, score int, meta jsonb);`;

describe.each(majors())("indexes on PostgreSQL %i", (major) => {
  it("creates indexes of every method, partial, expression, INCLUDE, opclass, sort order and storage options", async () => {
    await expectConverges(
      major,
      "",
      `${BASE}
       CREATE INDEX docs_title_btree ON docs (title DESC NULLS LAST, id) INCLUDE (score) WITH (fillfactor = 70);
       CREATE UNIQUE INDEX docs_lower_title ON docs (lower(title)) WHERE score > 0;
       CREATE INDEX docs_id_hash ON docs USING hash (id);
       CREATE INDEX docs_tags_gin ON docs USING gin (tags);
       CREATE INDEX docs_body_trgm ON docs USING gin (body gin_trgm_ops);
       CREATE INDEX docs_created_brin ON docs USING brin (created) WITH (pages_per_range = 32);
       CREATE INDEX docs_pos_gist ON docs USING gist (pos);
       CREATE INDEX docs_title_spgist ON docs USING spgist (title);
       CREATE INDEX docs_meta_path ON docs USING gin (meta jsonb_path_ops);
       COMMENT ON INDEX docs_id_hash IS 'equality lookups';`,
    );
  });

  it("builds new indexes on a live table CONCURRENTLY, outside a transaction, under INDEX_BUILD", async () => {
    const old = `${BASE} CREATE INDEX docs_score ON docs (score);`;
    const next = `${BASE} CREATE INDEX docs_title ON docs (title); CREATE INDEX docs_score ON docs (score, id);`;
    const { applied } = await expectConverges(major, old, next);
    const steps = applied.plan.steps;
    const create = steps.find((s) => s.kind === "createIndex" && s.index.name === "docs_title")!;
    expect(create.sql[0]).toMatch(/^CREATE INDEX CONCURRENTLY "docs_title" ON/);
    expect(create.transaction).toBe("none");
    expect(create.hazards.map((h) => h.code)).toEqual(["INDEX_BUILD"]);
    // A changed index is rebuilt beside the old one, then swapped in: never a moment without it.
    expect(steps.filter((s) => s.kind === "createIndex" || s.kind === "dropIndex" || s.kind === "renameIndex").map((s) => s.sql[0]!.split(" ON ")[0])).toEqual([
      'CREATE INDEX CONCURRENTLY "docs_score_setpoint_new"',
      'DROP INDEX CONCURRENTLY "public"."docs_score"',
      'ALTER INDEX "public"."docs_score_setpoint_new" RENAME TO "docs_score"',
      'CREATE INDEX CONCURRENTLY "docs_title"',
    ]);
  });

  it("drops indexes CONCURRENTLY under INDEX_DROPPED, and plainly in offline mode", async () => {
    const old = `${BASE} CREATE INDEX docs_score ON docs (score);`;
    const { applied } = await expectConverges(major, old, BASE);
    expect(applied.plan.steps.map((s) => s.sql[0])).toEqual(['DROP INDEX CONCURRENTLY "public"."docs_score"']);
    expect(applied.plan.steps[0]!.hazards.map((h) => h.code)).toEqual(["INDEX_DROPPED"]);
    const offline = await expectConverges(major, old, BASE, { online: false });
    expect(offline.applied.plan.steps.map((s) => s.sql[0])).toEqual(['DROP INDEX "public"."docs_score"']);
  });

  it("detects an invalid index left by a failed concurrent build and rebuilds it", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE u (id int, email text); INSERT INTO u VALUES (1, 'a'), (2, 'a');");
    const c = await db.client();
    // A unique build over duplicates fails and leaves an invalid index behind, as a killed build would.
    await expect(c.query("CREATE UNIQUE INDEX CONCURRENTLY u_email ON u (email)")).rejects.toThrow(/could not create unique index/);
    await c.query("DELETE FROM u WHERE id = 2");
    const desired = schemaFromSql("CREATE TABLE u (id int, email text); CREATE UNIQUE INDEX u_email ON u (email);");
    const planned = await planSchema(db.url, desired, engineOptions(db));
    expect(planned.plan.steps.map((s) => s.kind)).toEqual(["dropIndex", "createIndex"]);
    await expectConverges(major, "CREATE TABLE u (id int, email text); INSERT INTO u VALUES (1, 'a');", desired);
  });
});
