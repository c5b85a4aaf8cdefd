/**
 * Managed roles against a server: read the roles (as a superuser: the verifiers are in
 * pg_authid), and apply a plan in one transaction, so a failure leaves every role as it was.
 */
import type { Client } from "pg";
import { SetpointError } from "../errors";
import type { ObservedRole, RolePlan } from "./plan";

/** A role plan failed on the server; the transaction was rolled back, nothing changed. */
export class RoleApplyError extends SetpointError {
  /** The failing step, as displayed (never with a password). */
  readonly step: string;

  constructor(step: string, message: string, options: { cause?: unknown } = {}) {
    super("ROLE_APPLY_FAILED", message, options);
    this.step = step;
  }
}

/**
 * Every role of the server with its attributes, memberships, comment and password verifier.
 * @throws {SetpointError} `ROLES_NEED_SUPERUSER` when the connection's role cannot read pg_authid.
 */
export async function readRoles(client: Client): Promise<ObservedRole[]> {
  const su = await client.query<{ s: boolean }>("SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user");
  if (su.rows[0]?.s !== true) {
    throw new SetpointError("ROLES_NEED_SUPERUSER", "managing roles needs a superuser connection (password verifiers are only readable in pg_authid); connect as the cluster's superuser");
  }
  const r = await client.query<{
    name: string;
    superuser: boolean;
    inherit: boolean;
    createrole: boolean;
    createdb: boolean;
    login: boolean;
    replication: boolean;
    bypassrls: boolean;
    connection_limit: number;
    valid_until: number | null;
    verifier: string | null;
    member_of: string[];
    comment: string | null;
  }>(
    `SELECT a.rolname AS name, a.rolsuper AS superuser, a.rolinherit AS inherit, a.rolcreaterole AS createrole,
            a.rolcreatedb AS createdb, a.rolcanlogin AS login, a.rolreplication AS replication, a.rolbypassrls AS bypassrls,
            a.rolconnlimit AS connection_limit, extract(epoch FROM a.rolvaliduntil)::float8 AS valid_until, a.rolpassword AS verifier,
            array(SELECT DISTINCT p.rolname::text FROM pg_auth_members m JOIN pg_authid p ON p.oid = m.roleid WHERE m.member = a.oid ORDER BY 1) AS member_of,
            shobj_description(a.oid, 'pg_authid') AS comment
       FROM pg_authid a ORDER BY a.rolname`,
  );
  return r.rows.map((row) => ({
    name: row.name,
    superuser: row.superuser,
    inherit: row.inherit,
    createrole: row.createrole,
    createdb: row.createdb,
    login: row.login,
    replication: row.replication,
    bypassrls: row.bypassrls,
    connectionLimit: row.connection_limit,
    validUntil: row.valid_until ?? Infinity,
    verifier: row.verifier,
    memberOf: row.member_of,
    comment: row.comment,
  }));
}

/**
 * Applies `plan` in one transaction (lock timeout 5 s).
 * @throws {RoleApplyError} naming the failing step and the fix, after rolling back everything.
 */
export async function applyRoles(client: Client, plan: RolePlan): Promise<void> {
  if (plan.steps.length === 0) return;
  await client.query("BEGIN");
  let step: string | undefined;
  try {
    await client.query("SET LOCAL lock_timeout = '5s'");
    for (const s of plan.steps) {
      step = s.display;
      await client.query(s.sql);
    }
    await client.query("COMMIT");
  } catch (cause) {
    await client.query("ROLLBACK").catch(() => undefined);
    const message = cause instanceof Error ? cause.message : String(cause);
    const hint = /cannot be dropped because some objects depend on it/.test(message)
      ? "; reassign or drop what it owns first (REASSIGN OWNED BY / DROP OWNED BY in each database), or declare it present"
      : /lock timeout/.test(message)
        ? "; another session holds a lock on the roles; retried on the next reconcile"
        : "";
    throw new RoleApplyError(step ?? "", `role change failed at "${step ?? "BEGIN"}": ${message}${hint}; nothing was changed`, { cause });
  }
}
