// The login fence on real PostgreSQL 14-18 against a session whose start-up is slow: the session
// passes its CONNECT check before the REVOKE but is reported in pg_stat_activity only seconds later
// (post_auth_delay holds the backend between the two, as a descheduled backend on a loaded server
// would). The fence must wait for it and end it: no write of it may commit after the fence returns.
import { Client } from "pg";
import { describe, expect, onTestFinished, test } from "vitest";
import { applyLoginFence, liftLoginFence, planLoginFence } from "../../sdk/upgrade/fence";
import { quoteIdent } from "../../sdk/postgres/quote";
import { createPasswordRole, freshDatabase, majors, type PasswordRole } from "../support/postgres";

/** Pids holding (or waiting for) the start-up lock on `database`, read as the superuser `admin`. */
async function startingBackends(admin: Client, database: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'object' AND database = 0 AND classid = 'pg_database'::regclass
        AND objid = (SELECT oid FROM pg_database WHERE datname = $1) AND pid <> pg_backend_pid()`,
    [database],
  );
  return rows.map((r) => r.pid);
}

/**
 * Starts a connection as `url`'s role that sleeps `delaySeconds` after its CONNECT check and before
 * it is reported; resolves once the backend is past the check: holding the start-up lock for longer
 * than any other starter (an autovacuum worker takes the same lock for a moment) would. Should two
 * hold it that long, the fence must wait for both anyway; the first is named. On a loaded machine
 * the polls can be slower than the whole delay, so a session that finished starting unseen is
 * replaced by a new one (a few times) instead of failing the test.
 */
async function slowSession(admin: Client, database: string, url: string, delaySeconds: number): Promise<{ client: Client; connected: Promise<unknown>; pid: number }> {
  const missed: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const client = new Client({ connectionString: url, options: `-c post_auth_delay=${delaySeconds}` });
    client.on("error", () => undefined);
    onTestFinished(() => client.end().catch(() => undefined));
    const connected = client.connect().then(
      () => "connected",
      (e: unknown) => e,
    );
    let seen = new Set<number>();
    let settled: unknown;
    void connected.then((r) => (settled = r));
    for (let i = 0; settled === undefined && i <= 200; i++) {
      const now = await startingBackends(admin, database);
      // Held across two polls: a backend in its start-up sleep (a starter of another kind is gone by then).
      const held = now.filter((pid) => seen.has(pid));
      if (held.length >= 1 && settled === undefined) return { client, connected, pid: held[0]! };
      seen = new Set(now);
      await new Promise((r) => setTimeout(r, 300));
    }
    missed.push(`attempt ${attempt + 1}: holders seen last ${[...seen].join(", ") || "none"}, its connection ${String(settled ?? "pending")}`);
    await client.end().catch(() => undefined);
  }
  throw new Error(`the slow session never held its start-up lock (${missed.join("; ")})`);
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
    const owner = new Client({ connectionString: role.url });
    await owner.connect();
    await owner.query("CREATE TABLE t (x int)");
    await owner.end();

    const fence = await planLoginFence(admin, "blue");
    expect(fence.revoked.map((g) => g.grantee)).toEqual(expect.arrayContaining(["PUBLIC", role.role]));
    const slow = await slowSession(admin, db.name, role.url, 3);
    const ended = await applyLoginFence(admin, fence);

    // The fence returned: the slow session got past its check before the REVOKE, so it had to be
    // waited for and ended; a write it tries now must fail.
    expect(ended).toBeGreaterThanOrEqual(1);
    await slow.connected;
    await expect(slow.client.query("INSERT INTO t VALUES (1)")).rejects.toThrow();
    expect((await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM t")).rows[0]!.n).toBe("0");

    // And a new login is refused by the REVOKE, with the server's own error, until the fence lifts.
    const late = new Client({ connectionString: role.url });
    late.on("error", () => undefined);
    await expect(late.connect()).rejects.toThrow(/permission denied for database/);
    await liftLoginFence(admin, fence);
    const after = new Client({ connectionString: role.url });
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
    const slow = await slowSession(admin, db.name, role.url, 4);
    const err = await applyLoginFence(admin, fence, 500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`still starting after 500 ms`);
    expect((err as Error).message).toContain(String(slow.pid));
    // The REVOKE stays (the caller records the fence before applying it and lifts it on failure).
    await liftLoginFence(admin, fence);
    await slow.connected;
  });
});
