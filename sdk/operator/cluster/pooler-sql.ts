/**
 * What the cluster controller asks of the primary for its pooler (the login roles' SCRAM
 * verifiers, the connectable databases) and does through each PgBouncer's admin console
 * (`SHOW DATABASES`, `SHOW STATE`, `PAUSE`, `RESUME`, `RELOAD`), over short-lived connections
 * with short timeouts. Verifiers and passwords are never logged.
 */
import type { Client} from "pg";
import { type ClientConfig } from "pg";
import { pgClient } from "../../postgres/client";
import { withClient, type InstanceTarget } from "./instance-sql";
import { PGBOUNCER_PORT, POOLER_ADMIN_USER, type PoolerRole } from "./pooler";

/** What the primary says the pooler must serve. */
export interface PoolerSource {
  /** Login roles that are neither superusers nor replication roles, with a SCRAM verifier that has not expired. */
  readonly roles: readonly PoolerRole[];
  /** Databases that accept connections (templates excluded). */
  readonly databases: readonly string[];
}

/** Reads {@link PoolerSource} from the primary as the superuser. */
export function readPoolerSource(t: InstanceTarget): Promise<PoolerSource> {
  return withClient(t, async (c) => {
    const roles = await c.query<{ name: string; verifier: string }>(
      `select rolname as name, rolpassword as verifier from pg_catalog.pg_authid
        where rolcanlogin and not rolsuper and not rolreplication and rolpassword like 'SCRAM-SHA-256$%'
          and (rolvaliduntil is null or rolvaliduntil > now()) order by rolname`,
    );
    const dbs = await c.query<{ name: string }>("select datname as name from pg_catalog.pg_database where datallowconn and not datistemplate order by datname");
    return { roles: roles.rows, databases: dbs.rows.map((r) => r.name) };
  });
}

/** A connection to one PgBouncer's admin console. */
export interface PoolerTarget {
  readonly host: string;
  readonly password: string;
  readonly timeoutMs: number;
  /**
   * TLS to the pod (ADR 0044): the cluster's authority and the name its pooler certificate is
   * verified against (the pooler Service's; the pod is reached by address). Undefined: plaintext
   * (a PgBouncer configured without client TLS, e.g. one an older operator made).
   */
  readonly tls?: PoolerTls;
}

/** How the operator verifies a PgBouncer's certificate. */
export interface PoolerTls {
  readonly ca: string;
  readonly serverName: string;
  /** The certificate PgBouncer should serve (its Secret's `tls.crt`): until it does, it is told RELOAD. */
  readonly certificatePem?: string;
}

/** The `pg` connection options of an admin console session to `t`: TLS 1.3, verified against `t.tls` when given. */
export function consoleConfig(t: Pick<PoolerTarget, "host" | "password" | "tls">, timeoutMs: number, queryTimeoutMs = timeoutMs): ClientConfig {
  return {
    host: t.host,
    port: PGBOUNCER_PORT,
    user: POOLER_ADMIN_USER,
    password: t.password,
    database: "pgbouncer",
    connectionTimeoutMillis: timeoutMs,
    query_timeout: queryTimeoutMs,
    ...(t.tls === undefined ? {} : { ssl: { ca: t.tls.ca, servername: t.tls.serverName, rejectUnauthorized: true, minVersion: "TLSv1.3" as const } }),
  };
}

/** What one PgBouncer reports. */
export interface PoolerProbe {
  /** Host of each configured database (the admin database excluded). */
  readonly hosts: Readonly<Record<string, string>>;
  /** Every user it has loaded from its auth file so far (`SHOW USERS`; a removed one stays until it restarts). */
  readonly users: readonly string[];
  /**
   * The serial (hex, upper case) of the certificate it served this TLS session: the one it has
   * loaded (ADR 0044). Undefined over plaintext.
   */
  readonly certificateSerial?: string;
  /** Every setting as it runs now (`SHOW CONFIG`: key → value). */
  readonly config: Readonly<Record<string, string>>;
}

/** The certificate the server of a TLS session showed (node-postgres keeps the TLS socket as `connection.stream`). */
function peerSerial(c: Client): string | undefined {
  const stream = (c as unknown as { connection?: { stream?: { getPeerCertificate?: () => { serialNumber?: string } | undefined } } }).connection?.stream;
  const serial = typeof stream?.getPeerCertificate === "function" ? stream.getPeerCertificate()?.serialNumber : undefined;
  return serial === undefined || serial === "" ? undefined : serial.toUpperCase();
}

/**
 * Runs `fn` on a fresh connection to PgBouncer's admin console (simple query protocol: the
 * console accepts nothing else), closed after.
 */
async function withConsole<T>(t: PoolerTarget, fn: (c: Client) => Promise<T>, queryTimeoutMs = t.timeoutMs): Promise<T> {
  const client = pgClient(consoleConfig(t, t.timeoutMs, queryTimeoutMs));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `SHOW DATABASES`, `SHOW USERS` and `SHOW CONFIG` of one PgBouncer (whether it is paused is not asked: PgBouncer
 * 1.18, Debian bookworm's, has no `SHOW STATE`; the operator's pause is its pod annotation).
 * @throws when its console does not answer.
 */
export function probePooler(t: PoolerTarget): Promise<PoolerProbe> {
  return withConsole(t, async (c) => {
    const dbs = await c.query<{ name: string; host: string | null }>("SHOW DATABASES");
    const users = await c.query<{ name: string }>("SHOW USERS");
    const config = await c.query<{ key: string; value: string | null }>("SHOW CONFIG");
    const serial = t.tls === undefined ? undefined : peerSerial(c);
    return {
      hosts: Object.fromEntries(dbs.rows.filter((r) => r.name !== "pgbouncer").map((r) => [r.name, r.host ?? ""])),
      users: users.rows.map((r) => r.name),
      config: Object.fromEntries(config.rows.map((r) => [r.key, r.value ?? ""])),
      ...(serial === undefined ? {} : { certificateSerial: serial }),
    };
  });
}

/**
 * `PAUSE`: PgBouncer releases every server connection once its transaction (transaction mode) or
 * session (session mode) ends and holds new queries until `RESUME`. Waits up to `waitMs` for it
 * to complete; false when it had not by then (the pause stays in force).
 */
export async function pausePooler(t: PoolerTarget, waitMs: number): Promise<boolean> {
  return withConsole(
    t,
    async (c) => {
      try {
        await c.query("PAUSE");
        return true;
      } catch (err) {
        // Already paused: done.
        if (/already (in progress|paused|suspended)/i.test(err instanceof Error ? err.message : "")) return true;
        if (/timeout/i.test(err instanceof Error ? err.message : "")) return false;
        throw err;
      }
    },
    waitMs,
  );
}

/**
 * `RELOAD`: PgBouncer re-reads its configuration files; new server connections use them. With
 * `server_tls_sslmode` set, PgBouncer 1.18 also recycles every server connection on each RELOAD
 * and drops those still logging in, which makes it refuse clients for `server_login_retry`
 * ("server login has been failing") when no other server connection is left: send it only when a
 * file changed.
 */
export function reloadPooler(t: PoolerTarget): Promise<void> {
  return withConsole(t, async (c) => {
    await c.query("RELOAD");
  });
}

/** `RESUME` (a PgBouncer that is not paused counts as resumed). */
export function resumePooler(t: PoolerTarget): Promise<void> {
  return withConsole(t, async (c) => {
    try {
      await c.query("RESUME");
    } catch (err) {
      if (!/not paused|not suspended/i.test(err instanceof Error ? err.message : "")) throw err;
    }
  });
}
