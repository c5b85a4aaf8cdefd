import { createHash } from "node:crypto";
import type { Client } from "pg";
import { connect, type ConnectionInput } from "../../postgres/connection";
import { markKept } from "./prepared";

// Target connections a long-running process (the operator) keeps between plans and applies
// (`SchemaEngineOptions.keepConnections`), owned by its schema engine. A new backend costs the server 100-200 ms of CPU before
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

function keyOf(input: ConnectionInput): string {
  return createHash("sha256").update(JSON.stringify(input)).digest("hex");
}

/**
 * The target connections one schema engine keeps (see `createSchemaEngine`): {@link lease} an idle
 * one or a new one, {@link giveBack} it reset, {@link close} them all.
 */
export class KeptConnections {
  // Keyed by a hash of the connection input: the input holds the password, which has no business
  // being a long-lived map key that a heap dump prints.
  private readonly idle = new Map<string, Idle[]>();
  private readonly broken = new WeakSet<Client>();
  /** Bumped by {@link close}: a connection leased before is closed when given back. */
  private epoch = 0;
  private readonly leasedIn = new WeakMap<Client, number>();
  private sweeper: NodeJS.Timeout | undefined;

  /** A kept connection to `input` (an idle one, or a new one), for {@link giveBack}. */
  async lease(input: ConnectionInput): Promise<Client> {
    const list = this.idle.get(keyOf(input));
    while (list && list.length > 0) {
      const { client } = list.pop()!;
      // An idle connection the server ended (a restart, pg_terminate_backend) may not have said so
      // yet: one round trip finds out before the caller's work depends on it.
      if (!this.broken.has(client) && (await client.query("SELECT 1").then(() => true, () => false))) {
        this.leasedIn.set(client, this.epoch);
        return client;
      }
      void client.end().catch(() => undefined);
    }
    const client = await connect(input);
    // A server restart ends the connection; it is not handed out again.
    client.on("error", () => this.broken.add(client));
    client.on("end", () => this.broken.add(client));
    markKept(client);
    this.leasedIn.set(client, this.epoch);
    return client;
  }

  /**
   * Returns a leased connection, also after a failure: whatever transaction it is in is rolled back,
   * its session settings and advisory locks are reset, and it is kept for the next {@link lease} of
   * the same target. A connection that cannot be reset (gone, or broken) is closed.
   */
  async giveBack(input: ConnectionInput, client: Client): Promise<void> {
    if (!this.broken.has(client) && this.leasedIn.get(client) === this.epoch) {
      try {
        // Named prepared statements stay (that is the point); transactions, settings and locks do not.
        // (ROLLBACK outside a transaction is only a warning.)
        await client.query("ROLLBACK; RESET ALL; SELECT pg_advisory_unlock_all()");
        const key = keyOf(input);
        const list = this.idle.get(key) ?? [];
        if (list.length < IDLE_PER_TARGET) {
          if (this.count() >= IDLE_IN_ALL) this.closeOldestIdle();
          list.push({ client, since: Date.now() });
          this.idle.set(key, list);
          this.sweepLater();
          return;
        }
      } catch {
        // Closed below.
      }
    }
    await client.end().catch(() => undefined);
  }

  /** Closes every idle kept connection. Connections leased now are closed when given back. */
  async close(): Promise<void> {
    this.epoch++;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await Promise.all(all.map((c) => c.client.end().catch(() => undefined)));
  }

  /** How many idle connections are kept now. */
  count(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  private closeOldestIdle(): void {
    let oldest: { key: string; at: number } | undefined;
    for (const [key, list] of this.idle) {
      const at = list[0]?.since;
      if (at !== undefined && (oldest === undefined || at < oldest.at)) oldest = { key, at };
    }
    if (oldest === undefined) return;
    const list = this.idle.get(oldest.key)!;
    const [gone] = list.splice(0, 1);
    if (list.length === 0) this.idle.delete(oldest.key);
    void gone!.client.end().catch(() => undefined);
  }

  private sweepLater(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [key, list] of this.idle) {
        const keep = list.filter((c) => now - c.since < IDLE_CLOSE_MS && !this.broken.has(c.client));
        for (const c of list) if (!keep.includes(c)) void c.client.end().catch(() => undefined);
        if (keep.length > 0) this.idle.set(key, keep);
        else this.idle.delete(key);
      }
      if (this.idle.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, IDLE_CLOSE_MS / 4);
    // Never what keeps a process alive.
    this.sweeper.unref();
  }
}
