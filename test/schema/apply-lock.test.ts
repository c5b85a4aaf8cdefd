import { describe, expect, it } from "vitest";
import { acquireApplyLock, APPLY_LOCK_KEY, ConcurrentApplyError, lockScopeOf } from "../../sdk/schema/apply/apply";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, runSql } from "../support/schema";

const tenant = (s: string) => schemaFromSql(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.item (id bigint PRIMARY KEY, name text NOT NULL); CREATE INDEX item_name ON ${s}.item (name);`);

describe.each(majors())("the apply lock on PostgreSQL %i", (major) => {
  it("scopes a plan's lock to the schemas it changes, and to the whole database for an extension", async () => {
    const db = await freshDatabase(major);
    const planned = await planSchema(db.url, tenant("alpha"), engineOptions(db));
    expect(lockScopeOf(planned.plan)).toEqual(["alpha"]);
    const withFk = await planSchema(
      db.url,
      schemaFromSql("CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.p (id int PRIMARY KEY); CREATE TABLE b.c (p int REFERENCES a.p (id)); COMMENT ON SCHEMA b IS 'kids';"),
      engineOptions(db),
    );
    expect(lockScopeOf(withFk.plan)).toEqual(["a", "b"]);
    const ext = await planSchema(db.url, schemaFromSql("CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE TABLE t (id int);"), engineOptions(db));
    expect(lockScopeOf(ext.plan)).toBeNull();
  });

  it("lets applies to different schemas of one database run while one holds its schema, and refuses the same schema", async () => {
    const db = await freshDatabase(major);
    const other = await db.client();
    // Another apply is changing schema alpha right now.
    const release = await acquireApplyLock(other, ["alpha"]);
    const beta = await applySchema(db.url, tenant("beta"), engineOptions(db));
    expect(beta.results.every((r) => r.status === "Succeeded")).toBe(true);
    const refused = await applySchema(db.url, tenant("alpha"), engineOptions(db)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConcurrentApplyError);
    expect((refused as Error).message).toBe('another Setpoint apply is changing schema "alpha" of this database (advisory lock held); wait for it to finish and run again');
    // Nothing of alpha was created, and the refused apply left no lock behind.
    const c = await db.client();
    expect((await c.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'alpha'")).rows).toEqual([{ n: 0 }]);
    expect((await c.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid <> $1", [(await other.query("SELECT pg_backend_pid() AS p")).rows[0].p])).rows).toEqual([{ n: 0 }]);
    // An extension reaches beyond schemas: it waits for every schema apply to finish.
    const ext = await applySchema(db.url, schemaFromSql("CREATE EXTENSION IF NOT EXISTS pg_trgm;"), engineOptions(db)).catch((e: unknown) => e);
    expect((ext as Error).message).toContain("is changing this database");
    await release();
    await applySchema(db.url, tenant("alpha"), engineOptions(db));
    expect((await c.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows).toEqual([{ n: 0 }]);
  });

  it("is excluded by an apply that holds the whole database (an earlier Setpoint version's lock)", async () => {
    const db = await freshDatabase(major);
    const other = await db.client();
    await other.query(`SELECT pg_advisory_lock(${APPLY_LOCK_KEY})`);
    const err = await applySchema(db.url, tenant("gamma"), engineOptions(db)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConcurrentApplyError);
    await other.query(`SELECT pg_advisory_unlock(${APPLY_LOCK_KEY})`);
  });

  it("two applies of one change started together: each converges or is refused whole, never runs stale steps", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE SCHEMA delta; CREATE TABLE delta.item (id bigint PRIMARY KEY);");
    const desired = schemaFromSql("CREATE SCHEMA delta; CREATE TABLE delta.item (id bigint PRIMARY KEY, name text, price numeric);");
    // Both plan against the same catalog; the one that gets the lock second plans again under it
    // (and finds nothing to do) or is refused, however they interleave.
    const results = await Promise.allSettled([applySchema(db.url, desired, engineOptions(db)), applySchema(db.url, desired, engineOptions(db))]);
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as unknown);
    for (const e of refused) expect(e).toBeInstanceOf(ConcurrentApplyError);
    expect(refused.length).toBeLessThan(2);
    const again = await planSchema(db.url, desired, engineOptions(db));
    expect(again.plan.steps).toEqual([]);
    const c = await db.client();
    expect((await c.query("SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'delta.item'::regclass AND attnum > 0")).rows).toEqual([{ n: 3 }]);
  });
});
