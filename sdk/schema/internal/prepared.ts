import { createHash } from "node:crypto";
import type { ClientBase, QueryResultRow } from "pg";

// Connections a long-running process keeps open between plans (see kept-connections.ts and the
// pooled scratch databases of normalize.ts). Catalog queries on them are named prepared
// statements: PostgreSQL parses them once per connection and, once it settles on a generic plan,
// stops planning them. The introspection queries join a dozen catalogs each; planning them cost
// more server time than running them on the small schemas of the operator benchmark.
const keptClients = new WeakSet<ClientBase>();

/** Marks `client` as kept between calls: {@link catalogQuery} prepares its statements on it. */
export function markKept(client: ClientBase): void {
  keptClients.add(client);
}

const names = new Map<string, string>();

/** A statement name per query text, stable for the life of the process (node-postgres prepares a name once per connection). */
function nameOf(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = `setpoint_${createHash("sha256").update(sql).digest("hex").slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}

/**
 * Runs a catalog query: as a named prepared statement on a kept connection ({@link markKept}),
 * as an unnamed one elsewhere (a one-off connection would parse and plan it once either way), and
 * on a kept connection whose prepared statements the server lost.
 */
export async function catalogQuery<R extends QueryResultRow>(client: ClientBase, sql: string, values: unknown[] = []): Promise<R[]> {
  if (keptClients.has(client)) {
    try {
      return (await client.query<R>({ name: nameOf(sql), text: sql, values })).rows;
    } catch (err) {
      if (!PREPARED_STATEMENT_GONE.has((err as { code?: string }).code ?? "")) throw err;
      // The server no longer has what this connection prepared: a pooler in between (PgBouncer in
      // transaction mode hands each transaction another server connection), or DEALLOCATE /
      // DISCARD ALL. Unnamed statements work everywhere: this connection uses them from now on.
      keptClients.delete(client);
    }
  }
  return (await client.query<R>(sql, values)).rows;
}

const PREPARED_STATEMENT_GONE = new Set([
  "26000", // invalid_sql_statement_name: prepared statement "..." does not exist
  "42P05", // duplicate_prepared_statement: another client's statement of that name on a pooled server connection
]);
