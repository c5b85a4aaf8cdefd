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
 * as an unnamed one elsewhere (a one-off connection would parse and plan it once either way).
 */
export async function catalogQuery<R extends QueryResultRow>(client: ClientBase, sql: string, values: unknown[] = []): Promise<R[]> {
  const { rows } = keptClients.has(client) ? await client.query<R>({ name: nameOf(sql), text: sql, values }) : await client.query<R>(sql, values);
  return rows;
}
