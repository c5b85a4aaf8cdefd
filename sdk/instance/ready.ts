/**
 * The readiness check of an instance (the pod's readiness probe): a real connection to the
 * server over its container-local Unix socket, as the superuser, and a query. A server that is
 * starting, recovering to consistency or shutting down refuses it; a hot standby that accepts
 * connections is ready.
 */
import { pgClient } from "../postgres/client";
import type { InstanceSettings } from "./settings";

/** The outcome of one check. */
export type Readiness = { readonly ready: true; readonly inRecovery: boolean } | { readonly ready: false; readonly reason: string };

/**
 * Connects once over the socket and asks whether the server is in recovery.
 * @param timeoutMs how long the connection may take. @default 3000
 */
export async function checkReady(settings: Pick<InstanceSettings, "socketDir" | "port" | "superuser">, timeoutMs = 3000): Promise<Readiness> {
  const client = pgClient({ host: settings.socketDir, port: settings.port, user: settings.superuser, database: "postgres", connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  try {
    await client.connect();
    const r = await client.query<{ r: boolean }>("select pg_is_in_recovery() as r");
    return { ready: true, inRecovery: r.rows[0]?.r === true };
  } catch (err) {
    return { ready: false, reason: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}
