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
 * (waiting up to `timeoutMs` for each to exit). Idempotent.
 * @returns how many sessions were ended.
 */
export async function applyLoginFence(client: ClientBase, fence: LoginFence, timeoutMs = 5000): Promise<number> {
  for (const g of fence.revoked) await client.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(fence.database)} FROM ${grantee(g.grantee)}`);
  // A session that passed its CONNECT check just before the REVOKE may not be listed in
  // pg_stat_activity yet: end sessions until two passes, well apart, find none.
  let ended = 0;
  for (let quiet = 0; quiet < 2; ) {
    const { rows } = await client.query<{ ended: string; seen: string }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2))::text AS ended, count(*)::text AS seen
         FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND application_name NOT LIKE $1`,
      [`${UPGRADE_APPLICATION_NAME}%`, timeoutMs],
    );
    ended += Number(rows[0]!.ended);
    quiet = Number(rows[0]!.seen) === 0 ? quiet + 1 : 0;
    if (quiet < 2) await new Promise((r) => setTimeout(r, 100));
  }
  return ended;
}

/** Lifts the fence: grants back every CONNECT it revoked. Idempotent. */
export async function liftLoginFence(client: ClientBase, fence: LoginFence): Promise<void> {
  for (const g of fence.revoked) await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(fence.database)} TO ${grantee(g.grantee)}`);
}
