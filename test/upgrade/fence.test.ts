// The login fence on real PostgreSQL 14-18 against a session whose start-up is slow: the session
// passes its CONNECT check before the REVOKE but is reported in pg_stat_activity only later. The
// test holds such a backend there on a lock: its start-up options set default_text_search_config,
// whose check (after the CONNECT check, before the report) reads pg_ts_config, which the test keeps
// locked — as a descheduled backend on a loaded server would be held. (post_auth_delay was used
// before: any signal cuts its sleep short, e.g. the catch-up interrupt that concurrent DDL sends —
// measured here: 8 s cut to 45 ms with DDL beside it — so under concurrent tests the session was
// sometimes never held, or left start-up during the fence's wait.) The fence must wait for it and
// end it: no write of it may commit after the fence returns.
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { describe, expect, onTestFinished, test } from "vitest";
import { applyLoginFence, liftLoginFence, planLoginFence } from "../../sdk/upgrade/fence";
import { quoteIdent } from "../../sdk/postgres/quote";
import { createPasswordRole, freshDatabase, majors, type PasswordRole, type TestDatabase } from "../support/postgres";

/** A connection held in start-up, past its CONNECT check, until `release`. */
interface HeldSession {
  readonly client: Client;
  /** Settles when the connection attempt does: "connected" or the error. */
  readonly connected: Promise<unknown>;
  readonly pid: number;
  release(): Promise<void>;
}

/**
 * Starts a connection as `url`'s role and holds it in start-up, after its CONNECT check and before
 * it is reported, until `release`: it waits for pg_ts_config, which a second superuser session
 * keeps locked. Resolves once the backend waits there (the only one that can: nothing else in the
 * fresh database reads that catalog).
 */
async function heldSession(db: TestDatabase, admin: Client, url: string): Promise<HeldSession> {
  const locker = await db.client();
  await locker.query("BEGIN");
  await locker.query("LOCK TABLE pg_catalog.pg_ts_config IN ACCESS EXCLUSIVE MODE");
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await locker.query("COMMIT");
  };
  onTestFinished(release);
  const client = pgClient({ connectionString: url, options: "-c default_text_search_config=pg_catalog.simple" });
  onTestFinished(() => client.end().catch(() => undefined));
  const connected = client.connect().then(
    () => "connected",
    (e: unknown) => e,
  );
  let settled: unknown;
  void connected.then((r) => (settled = r));
  for (let i = 0; ; i++) {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'relation' AND relation = 'pg_catalog.pg_ts_config'::regclass AND NOT granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    if (rows.length > 0) return { client, connected, pid: rows[0]!.pid, release };
    if (settled !== undefined || i > 600) {
      throw new Error(`the held session never waited for pg_ts_config in start-up (its connection: ${String(settled ?? "pending after 60 s")})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True when `pid` holds the start-up lock on the current database (read as the superuser `admin`). */
async function holdsStartupLock(admin: Client, pid: number): Promise<boolean> {
  const { rowCount } = await admin.query(
    `SELECT 1 FROM pg_locks WHERE locktype = 'object' AND database = 0 AND classid = 'pg_database'::regclass AND granted
        AND objid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid = $1`,
    [pid],
  );
  return rowCount === 1;
}

/** Drops the test role once its objects in the test database are gone (hooks run before the database is dropped). */
async function dropRole(admin: Client, role: PasswordRole): Promise<void> {
  await admin.query(`DROP OWNED BY ${quoteIdent(role.role)}`);
  await role.drop();
}

describe.each(majors())("login fence (PostgreSQL %i)", (major) => {
  test("a session still starting when the fence closes is waited for and ended: none of its writes commits after the fence", async () => {
    const db = await freshDatabase(major);
    const role = await createPasswordRole(db);
    const admin = await db.client();
    onTestFinished(() => dropRole(admin, role));
    const owner = pgClient({ connectionString: role.url });
    await owner.connect();
    await owner.query("CREATE TABLE t (x int)");
    await owner.end();

    const fence = await planLoginFence(admin, "blue");
    expect(fence.revoked.map((g) => g.grantee)).toEqual(expect.arrayContaining(["PUBLIC", role.role]));
    const slow = await heldSession(db, admin, role.url);
    expect(await holdsStartupLock(admin, slow.pid)).toBe(true);
    let returned = false;
    const fencing = applyLoginFence(admin, fence).finally(() => (returned = true));
    // While the session is held in start-up the fence must not return: it cannot tell yet whether
    // the session passed its CONNECT check. Released, the session finishes starting and is ended.
    await new Promise((r) => setTimeout(r, 1000));
    expect(returned).toBe(false);
    await slow.release();
    const ended = await fencing;

    // The fence returned: the slow session got past its check before the REVOKE, so it had to be
    // waited for and ended (with the database's other session); a write it tries now must fail.
    expect(ended).toBeGreaterThanOrEqual(2);
    expect((await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [slow.pid])).rowCount).toBe(0);
    await slow.connected;
    await expect(slow.client.query("INSERT INTO t VALUES (1)")).rejects.toThrow();
    expect((await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM t")).rows[0]!.n).toBe("0");

    // And a new login is refused by the REVOKE, with the server's own error, until the fence lifts.
    const late = pgClient({ connectionString: role.url });
    await expect(late.connect()).rejects.toThrow(/permission denied for database/);
    await liftLoginFence(admin, fence);
    const after = pgClient({ connectionString: role.url });
    await after.connect();
    await after.query("INSERT INTO t VALUES (2)");
    await after.end();
    expect((await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM t")).rows[0]!.n).toBe("1");
  });

  test("a backend that stays in start-up longer than the timeout stops the fence with an error naming it", async () => {
    const db = await freshDatabase(major);
    const role = await createPasswordRole(db);
    const admin = await db.client();
    onTestFinished(() => dropRole(admin, role));
    const fence = await planLoginFence(admin, "blue");
    const slow = await heldSession(db, admin, role.url);
    const err = await applyLoginFence(admin, fence, 500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`still starting after 500 ms`);
    expect((err as Error).message).toContain(String(slow.pid));
    // The REVOKE stays (the caller records the fence before applying it and lifts it on failure).
    await liftLoginFence(admin, fence);
    await slow.release();
    expect(await slow.connected).toBe("connected");
  });
});
