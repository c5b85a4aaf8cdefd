/**
 * The login fence: stops writes to one side's database when no pausing traffic switch does it.
 * Revokes CONNECT on the database from every grantee (PUBLIC and roles alike; it covers every role,
 * not one) and ends the sessions already connected. What was revoked is recorded first, so unfence
 * restores it exactly, even after a crash. Superusers bypass CONNECT: their sessions are ended too,
 * but a superuser application that reconnects is not stopped (use a pausing switch for that).
 */
import type { ClientBase } from "pg";
import { quoteIdent } from "../postgres/quote";
import type { LoginFence } from "./state";

/** Application name of every Setpoint upgrade session; the fence never ends these. */
export const UPGRADE_APPLICATION_NAME = "setpoint-upgrade";

/** Reads what a fence of the current database would revoke (nothing changes yet). */
export async function planLoginFence(client: ClientBase, side: "blue" | "green"): Promise<LoginFence> {
  const { rows } = await client.query<{ database: string; acl: string | null; grants: { grantee: string; grantor: string }[] | null }>(
    `SELECT d.datname AS database, d.datacl::text AS acl,
            (SELECT json_agg(json_build_object('grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                                               'grantor', pg_get_userbyid(a.grantor)))
               FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
              WHERE a.privilege_type = 'CONNECT') AS grants
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  const r = rows[0]!;
  return { side, database: r.database, aclBefore: r.acl, revoked: r.grants ?? [] };
}

function grantee(name: string): string {
  return name === "PUBLIC" ? "PUBLIC" : quoteIdent(name);
}

/**
 * Applies the fence: revokes CONNECT, then ends every other client session on the database
 * (waiting up to `timeoutMs` for each to exit). Idempotent. `client` must not be inside a
 * transaction block: the REVOKE has to be committed before the wait below starts.
 *
 * A session that passed its CONNECT check just before the REVOKE committed may not be listed in
 * `pg_stat_activity` yet (PostgreSQL reports a backend there only at the end of its start-up; 18
 * lists it earlier with no database), so no number of quiet passes proves the database closed:
 * under load a backend's start-up can take longer than any pause. What does prove it is the lock
 * every backend holds on its database from before its CONNECT check until after it is reported:
 * once every holder seen after the REVOKE has released it, each session that got past the check
 * is listed, and every later one is refused. So: wait for those holders, then end the listed
 * sessions, and repeat until a pass ends none.
 * @returns how many sessions were ended.
 * @throws {Error} when a backend stays in start-up longer than `timeoutMs`.
 */
export async function applyLoginFence(client: ClientBase, fence: LoginFence, timeoutMs = 5000): Promise<number> {
  for (const g of fence.revoked) await client.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(fence.database)} FROM ${grantee(g.grantee)}`);
  let ended = 0;
  for (;;) {
    await waitForStartingBackends(client, timeoutMs);
    // A separate statement after the wait: pg_stat_activity is read afresh, after the holders' reports.
    // A pass is quiet only when it lists no session at all: one whose termination timed out (it may
    // still be committing) keeps the fence going, like one that was just ended.
    const { rows } = await client.query<{ ended: string; seen: string }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2))::text AS ended, count(*)::text AS seen
         FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND application_name NOT LIKE $1`,
      [`${UPGRADE_APPLICATION_NAME}%`, timeoutMs],
    );
    ended += Number(rows[0]!.ended);
    if (Number(rows[0]!.seen) === 0) return ended;
  }
}

/** Backends holding (or waiting for) the start-up lock on the current database, other than this one. */
const STARTING_BACKENDS = `SELECT pid FROM pg_locks
  WHERE locktype = 'object' AND database = 0 AND classid = 'pg_database'::regclass
    AND objid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objsubid = 0
    AND pid <> pg_backend_pid()`;

/**
 * Waits until every backend that holds the current database's start-up lock now has released it
 * (finished starting, or exited). Backends that take the lock later are not waited for: they make
 * their CONNECT check after the caller's REVOKE. Long-lived holders (other than start-up, nothing
 * takes this lock in a mode a connecting backend waits on) would keep the wait going: bounded.
 */
async function waitForStartingBackends(client: ClientBase, timeoutMs: number): Promise<void> {
  const first = new Set((await client.query<{ pid: number }>(STARTING_BACKENDS)).rows.map((r) => r.pid));
  const deadline = Date.now() + timeoutMs;
  for (let pending = first; pending.size > 0; ) {
    if (Date.now() > deadline) {
      throw new Error(
        `login fence on database ${JSON.stringify((await client.query<{ d: string }>("SELECT current_database() AS d")).rows[0]!.d)}: ` +
          `backend${pending.size === 1 ? "" : "s"} ${[...pending].join(", ")} still starting after ${timeoutMs} ms; ` +
          "the fence cannot tell whether they passed their CONNECT check (check the server's load, then run again)",
      );
    }
    await new Promise((r) => setTimeout(r, 20));
    const now = new Set((await client.query<{ pid: number }>(STARTING_BACKENDS)).rows.map((r) => r.pid));
    pending = new Set([...pending].filter((pid) => now.has(pid)));
  }
}

/** Lifts the fence: grants back every CONNECT it revoked. Idempotent. */
export async function liftLoginFence(client: ClientBase, fence: LoginFence): Promise<void> {
  for (const g of fence.revoked) await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(fence.database)} TO ${grantee(g.grantee)}`);
}
