import { afterEach, describe, expect, it } from "vitest";
import { createSchemaEngine, keptConnectionsOf } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions, runSql } from "../support/schema";

const tenant = (s: string, extra = "") => schemaFromSql(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.item (id bigint PRIMARY KEY, name text NOT NULL${extra});`);

/** Backends of the current database opened by the engine (application_name "setpoint"). */
async function engineBackends(c: { query: (sql: string) => Promise<{ rows: { pid: number }[] }> }): Promise<number[]> {
  const { rows } = await c.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'setpoint' ORDER BY pid");
  return rows.map((r) => r.pid);
}

describe.each(majors())("kept target connections (keepConnections) on PostgreSQL %i", (major) => {
  // Each test's own engine, closed after it: what the operator does.
  let engine = createSchemaEngine();
  afterEach(async () => {
    await engine.close();
    engine = createSchemaEngine();
  });
  const applySchema: typeof engine.apply = (...args) => engine.apply(...args);
  const planSchema: typeof engine.plan = (...args) => engine.plan(...args);
  const lease = (url: string) => keptConnectionsOf(engine).lease(url);
  const giveBack: ReturnType<typeof keptConnectionsOf>["giveBack"] = (...args) => keptConnectionsOf(engine).giveBack(...args);

  it("plans and applies over one kept connection, reset between calls, and converge as without it", async () => {
    const db = await freshDatabase(major);
    const options = { ...engineOptions(db), keepConnections: true };
    const watcher = await db.client();
    await applySchema(db.url, tenant("alpha"), options);
    const afterFirst = await engineBackends(watcher);
    expect(afterFirst).toHaveLength(1);
    expect(engine.keptConnections()).toBe(1);
    // A change, a drift check and a plan later, still that one backend: no new connection per call.
    await applySchema(db.url, tenant("alpha", ", price numeric"), options);
    expect((await planSchema(db.url, tenant("alpha", ", price numeric"), options)).plan.steps).toEqual([]);
    expect(await engineBackends(watcher)).toEqual(afterFirst);
    // Given back idle: no transaction open, no advisory lock held, no session setting left over.
    const { rows } = await watcher.query(
      `SELECT a.state, (SELECT count(*)::int FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory') AS locks
       FROM pg_stat_activity a WHERE a.pid = $1`,
      [afterFirst[0]],
    );
    expect(rows).toEqual([{ state: "idle", locks: 0 }]);
    const columns = await watcher.query("SELECT attname FROM pg_attribute WHERE attrelid = 'alpha.item'::regclass AND attnum > 0 ORDER BY attnum");
    expect(columns.rows.map((r: { attname: string }) => r.attname)).toEqual(["id", "name", "price"]);
  });

  it("replaces a kept connection the server ended, and a failed apply gives back a clean session", async () => {
    const db = await freshDatabase(major);
    const options = { ...engineOptions(db), keepConnections: true };
    const watcher = await db.client();
    await applySchema(db.url, tenant("beta"), options);
    const [first] = await engineBackends(watcher);
    await watcher.query("SELECT pg_terminate_backend($1)", [first]);
    for (let i = 0; i < 100 && (await engineBackends(watcher)).includes(first!); i++) await new Promise((r) => setTimeout(r, 20));
    // The next call notices the ended connection and opens another instead of failing.
    await applySchema(db.url, tenant("beta", ", price numeric"), options);
    const [second] = await engineBackends(watcher);
    expect(second).not.toBe(first);
    // A plan that fails on the server (a NOT NULL column added to a table with rows, without a default).
    await runSql(db, "INSERT INTO beta.item VALUES (1, 'x', 2)");
    const failed = await applySchema(db.url, tenant("beta", ", price numeric, sku text NOT NULL"), { ...options, allowHazards: "all" }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(await engineBackends(watcher)).toEqual([second]);
    const { rows } = await watcher.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [second]);
    expect(rows).toEqual([{ state: "idle" }]);
    // Nothing half-done, and the kept connection serves the next apply.
    expect((await watcher.query("SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'beta.item'::regclass AND attname = 'sku'")).rows).toEqual([{ n: 0 }]);
    await applySchema(db.url, tenant("beta", ", price numeric, sku text"), options);
    expect(await engineBackends(watcher)).toEqual([second]);
  });

  it("the engine's close() closes the idle connections", async () => {
    const db = await freshDatabase(major);
    const watcher = await db.client();
    await applySchema(db.url, tenant("gamma"), { ...engineOptions(db), keepConnections: true });
    expect(await engineBackends(watcher)).toHaveLength(1);
    await engine.close();
    expect(engine.keptConnections()).toBe(0);
    for (let i = 0; i < 50 && (await engineBackends(watcher)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await engineBackends(watcher)).toEqual([]);
  });

  it("keeps at most 16 idle connections in all, however many targets", async () => {
    const dbs = await Promise.all(Array.from({ length: 18 }, () => freshDatabase(major)));
    for (const [i, db] of dbs.entries()) await applySchema(db.url, tenant(`t${i}`), { ...engineOptions(db), keepConnections: true });
    expect(engine.keptConnections()).toBe(16);
    // The oldest went: the first two targets have no engine connection left, the last one has its one.
    const first = await dbs[0]!.client();
    for (let i = 0; i < 50 && (await engineBackends(first)).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await engineBackends(first)).toEqual([]);
    expect(await engineBackends(await dbs[17]!.client())).toHaveLength(1);
  });

  it("goes on with unnamed statements when the server lost the kept connection's prepared ones (a pooler, DEALLOCATE ALL)", async () => {
    const db = await freshDatabase(major);
    const options = { ...engineOptions(db), keepConnections: true };
    await applySchema(db.url, tenant("delta"), options);
    // What PgBouncer's server_reset_query or another client's DISCARD ALL does to the session.
    const kept = await lease(db.url);
    expect((await kept.query("SELECT count(*)::int AS n FROM pg_prepared_statements")).rows[0].n).toBeGreaterThan(0);
    await kept.query("DEALLOCATE ALL");
    await giveBack(db.url, kept);
    await applySchema(db.url, tenant("delta", ", price numeric"), options);
    expect((await planSchema(db.url, tenant("delta", ", price numeric"), options)).plan.steps).toEqual([]);
    const again = await lease(db.url);
    expect(again).toBe(kept);
    await giveBack(db.url, again);
  });
});
