import { createHash } from "node:crypto";
import type { Client } from "pg";
import { connect, type ConnectionInput } from "../../postgres/connection";
import { markKept } from "./prepared";

// Target connections a long-running process (the operator) keeps between plans and applies
// (`SchemaEngineOptions.keepConnections`). A new backend costs the server 100-200 ms of CPU before
// its first catalog query (process start, authentication, catalog caches read cold), more than a
// converged drift check costs in total; and kept connections plan their catalog queries once.

/** Idle connections kept per target; more are closed when given back. */
const IDLE_PER_TARGET = 4;
/**
 * Idle connections kept in all: an operator checking a thousand databases must not hold a
 * thousand connections open (against max_connections, 100 by default). The oldest goes first.
 */
const IDLE_IN_ALL = 16;
/** An idle connection unused for this long is closed. */
const IDLE_CLOSE_MS = 60_000;

interface Idle {
  readonly client: Client;
  readonly since: number;
}

// Keyed by a hash of the connection input: the input holds the password, which has no business
// being a long-lived map key that a heap dump prints.
const idle = new Map<string, Idle[]>();
const broken = new WeakSet<Client>();
/** Bumped by {@link closeKeptConnections}: a connection leased before is closed when given back. */
let epoch = 0;
const leasedIn = new WeakMap<Client, number>();
let sweeper: NodeJS.Timeout | undefined;

function keyOf(input: ConnectionInput): string {
  return createHash("sha256").update(JSON.stringify(input)).digest("hex");
}

/** A kept connection to `input` (an idle one, or a new one), for {@link giveBack}. */
export async function lease(input: ConnectionInput): Promise<Client> {
  const list = idle.get(keyOf(input));
  while (list && list.length > 0) {
    const { client } = list.pop()!;
    // An idle connection the server ended (a restart, pg_terminate_backend) may not have said so
    // yet: one round trip finds out before the caller's work depends on it.
    if (!broken.has(client) && (await client.query("SELECT 1").then(() => true, () => false))) {
      leasedIn.set(client, epoch);
      return client;
    }
    void client.end().catch(() => undefined);
  }
  const client = await connect(input);
  // A server restart ends the connection; it is not handed out again.
  client.on("error", () => broken.add(client));
  client.on("end", () => broken.add(client));
  markKept(client);
  leasedIn.set(client, epoch);
  return client;
}

/**
 * Returns a leased connection, also after a failure: whatever transaction it is in is rolled back,
 * its session settings and advisory locks are reset, and it is kept for the next {@link lease} of
 * the same target. A connection that cannot be reset (gone, or broken) is closed.
 */
export async function giveBack(input: ConnectionInput, client: Client): Promise<void> {
  if (!broken.has(client) && leasedIn.get(client) === epoch) {
    try {
      // Named prepared statements stay (that is the point); transactions, settings and locks do not.
      // (ROLLBACK outside a transaction is only a warning.)
      await client.query("ROLLBACK; RESET ALL; SELECT pg_advisory_unlock_all()");
      const key = keyOf(input);
      const list = idle.get(key) ?? [];
      if (list.length < IDLE_PER_TARGET) {
        if (keptConnectionCount() >= IDLE_IN_ALL) closeOldestIdle();
        list.push({ client, since: Date.now() });
        idle.set(key, list);
        sweepLater();
        return;
      }
    } catch {
      // Closed below.
    }
  }
  await client.end().catch(() => undefined);
}

function closeOldestIdle(): void {
  let oldest: { key: string; at: number } | undefined;
  for (const [key, list] of idle) {
    const at = list[0]?.since;
    if (at !== undefined && (oldest === undefined || at < oldest.at)) oldest = { key, at };
  }
  if (oldest === undefined) return;
  const list = idle.get(oldest.key)!;
  const [gone] = list.splice(0, 1);
  if (list.length === 0) idle.delete(oldest.key);
  void gone!.client.end().catch(() => undefined);
}

function sweepLater(): void {
  if (sweeper) return;
  sweeper = setInterval(() => {
    const now = Date.now();
    for (const [key, list] of idle) {
      const keep = list.filter((c) => now - c.since < IDLE_CLOSE_MS && !broken.has(c.client));
      for (const c of list) if (!keep.includes(c)) void c.client.end().catch(() => undefined);
      if (keep.length > 0) idle.set(key, keep);
      else idle.delete(key);
    }
    if (idle.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }, IDLE_CLOSE_MS / 4);
  // Never what keeps a process alive.
  sweeper.unref();
}

/** Closes every idle kept connection. Connections leased now are closed when given back. */
export async function closeKeptConnections(): Promise<void> {
  epoch++;
  const all = [...idle.values()].flat();
  idle.clear();
  if (sweeper) clearInterval(sweeper);
  sweeper = undefined;
  await Promise.all(all.map((c) => c.client.end().catch(() => undefined)));
}

/** How many idle connections are kept now (for tests). */
export function keptConnectionCount(): number {
  let n = 0;
  for (const list of idle.values()) n += list.length;
  return n;
}
