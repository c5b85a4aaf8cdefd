/**
 * Logical replication between the two sides: the publication, the subscription with its initial
 * copy, synchronization and lag, and the slots' retained WAL. Every function is idempotent.
 */
import type { ClientBase } from "pg";
import { quoteIdent, quoteLiteral } from "../postgres/quote";

/** Creates the publication, or sets its table list when it exists. */
export async function ensurePublication(client: ClientBase, name: string, tables: readonly string[]): Promise<void> {
  const exists = (await client.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name])).rowCount! > 0;
  const list = tables.join(", ");
  if (!exists) {
    await client.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list} WITH (publish_via_partition_root = true)`);
  } else {
    await client.query(`ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list}`);
  }
}

/** Drops the publication if it exists. */
export async function dropPublication(client: ClientBase, name: string): Promise<void> {
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
}

/** Options of {@link ensureSubscription}. */
export interface SubscriptionOptions {
  /** libpq connection string the subscriber uses to reach the publisher (holds a password). */
  readonly conninfo: string;
  readonly publication: string;
  /** Copy existing rows first. */
  readonly copyData: boolean;
  /** Use a slot that already exists on the publisher instead of creating one. */
  readonly existingSlot: boolean;
}

/**
 * Creates the subscription (enabled), or enables it when it exists. An existing subscription whose
 * connection string is not `o.conninfo` (the publisher's primary moved: a pod replaced on a new
 * address) is pointed at `o.conninfo` first (`ALTER SUBSCRIPTION … CONNECTION`; reading
 * `subconninfo` needs a superuser, as the engine's role is). CREATE SUBSCRIPTION cannot run in a
 * transaction block; the connection string goes to the server as a literal and is never logged.
 */
export async function ensureSubscription(client: ClientBase, name: string, o: SubscriptionOptions): Promise<"created" | "existed" | "reconnected"> {
  const existing = await client.query<{ enabled: boolean; conninfo: string }>(`SELECT subenabled AS enabled, subconninfo AS conninfo FROM pg_subscription WHERE subname = $1`, [name]);
  if (existing.rows[0]) {
    const moved = existing.rows[0].conninfo !== o.conninfo;
    if (moved) {
      await safely(name, "ALTER SUBSCRIPTION", () => client.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} CONNECTION ${quoteLiteral(o.conninfo)}`));
      // A worker still connecting to the former address (a failed-over pod's: no answer, only the
      // kernel's TCP timeout, about two minutes) notices the new connection only when that attempt
      // ends. Ended now, the launcher starts it again on the new connection at once; its progress
      // (the replication origin) is kept.
      await client.query(`SELECT pg_terminate_backend(w.pid) FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid WHERE s.subname = $1 AND w.pid IS NOT NULL`, [name]);
    }
    if (!existing.rows[0].enabled) await client.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} ENABLE`);
    return moved ? "reconnected" : "existed";
  }
  const options = [
    `copy_data = ${o.copyData}`,
    `create_slot = ${!o.existingSlot}`,
    `slot_name = ${quoteLiteral(name)}`,
    "enabled = true",
    // Large transactions are streamed while in progress instead of spilled to disk on the publisher.
    "streaming = on",
  ];
  await safely(name, "CREATE SUBSCRIPTION", () => client.query(`CREATE SUBSCRIPTION ${quoteIdent(name)} CONNECTION ${quoteLiteral(o.conninfo)} PUBLICATION ${quoteIdent(o.publication)} WITH (${options.join(", ")})`));
  return "created";
}

/** Runs a statement that carries a connection string; its error keeps the code and a message without secrets. */
async function safely(name: string, statement: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (cause) {
    // The server's message can quote the connection string; keep only the code and a safe message.
    const code = (cause as { code?: string }).code;
    const message = (cause as Error).message.replace(/password=\S+/gi, "password=***").replace(/:\/\/([^:@/]+):[^@/]+@/g, "://$1:***@");
    throw Object.assign(new Error(`${statement} ${name} failed: ${message}`), { code });
  }
}

/** Whether the replication slot `name` exists on the server of `client`. */
export async function slotExists(client: ClientBase, name: string): Promise<boolean> {
  return ((await client.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [name])).rowCount ?? 0) > 0;
}

/** Stops the subscription's apply worker (fast; the slot stays). */
export async function disableSubscription(client: ClientBase, name: string): Promise<void> {
  const { rowCount } = await client.query(`SELECT 1 FROM pg_subscription WHERE subname = $1 AND subenabled`, [name]);
  if (rowCount) await client.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
}

/**
 * Drops the subscription, then its slot through `publisher` directly. The subscription is detached
 * from its slot first (disabled, `slot_name = NONE`), so the subscriber never connects to the
 * address its connection string names: that server may be gone (a publisher that failed over or
 * moved), and a connection to an address nobody answers waits for the kernel's TCP timeout
 * (about two minutes) before DROP SUBSCRIPTION fails.
 */
export async function dropSubscription(subscriber: ClientBase, name: string, publisher: ClientBase): Promise<void> {
  const oid = await subscriptionOid(subscriber, name);
  if (oid !== null) {
    await subscriber.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
    await subscriber.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} SET (slot_name = NONE)`);
    await subscriber.query(`DROP SUBSCRIPTION IF EXISTS ${quoteIdent(name)}`);
  }
  await dropSlot(publisher, name);
  if (oid !== null) {
    const { rows } = await publisher.query<{ slot: string }>(`SELECT slot_name AS slot FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_' || $1 || '\\_sync\\_%'`, [oid]);
    for (const r of rows) await dropSlot(publisher, r.slot);
  }
}

/** Drops a replication slot (and this subscription's leftover table-sync slots) once no walsender uses it. */
export async function dropSlot(client: ClientBase, name: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ slot_name: string; active_pid: number | null }>(
      `SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name = $1`,
      [name],
    );
    const slot = rows[0];
    if (!slot) return;
    if (slot.active_pid === null) {
      await client.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NULL`, [name]);
      continue;
    }
    if (Date.now() > until) {
      // A walsender still streams from it (its subscriber is gone or stuck): end it.
      await client.query(`SELECT pg_terminate_backend($1)`, [slot.active_pid]);
    }
    await sleep(50);
  }
}

/**
 * Creates a logical slot for pgoutput if it does not exist. On PostgreSQL 17 and later it is a
 * failover slot (`failover = true`): standbys that synchronize slots (`sync_replication_slots`,
 * ADR 0050) keep a copy, so the slot survives a failover of its server.
 */
export async function ensureLogicalSlot(client: ClientBase, name: string): Promise<void> {
  if (await slotExists(client, name)) return;
  const { rows } = await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
  if (rows[0]!.v >= 170000) await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)`, [name]);
  else await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [name]);
}

/** Per-table synchronization of a subscription. */
export interface SyncState {
  readonly exists: boolean;
  readonly tables: number;
  /** Tables in state `r` (ready: copied and caught up). */
  readonly ready: number;
  /** Tables copying (`i`, `d`, `f`) or just copied (`s`). */
  readonly copying: number;
  /** The apply worker's process id, when running. */
  readonly applyPid: number | null;
  /** Errors the apply and table-sync workers hit since the subscription started (PostgreSQL 15+). */
  readonly errors: number;
}

/** Reads the subscription's synchronization state on the subscriber. */
export async function syncState(client: ClientBase, name: string): Promise<SyncState> {
  const major = Math.floor(Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) / 10000);
  const errors = major >= 15 ? `(SELECT coalesce(apply_error_count + sync_error_count, 0) FROM pg_stat_subscription_stats st WHERE st.subid = s.oid)` : "0";
  const { rows } = await client.query<{ tables: string; ready: string; pid: number | null; errors: string | null }>(
    `SELECT (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid)::text AS tables,
            (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate = 'r')::text AS ready,
            (SELECT pid FROM pg_stat_subscription w WHERE w.subid = s.oid AND w.relid IS NULL LIMIT 1) AS pid,
            ${errors}::text AS errors
       FROM pg_subscription s WHERE s.subname = $1`,
    [name],
  );
  const r = rows[0];
  if (!r) return { exists: false, tables: 0, ready: 0, copying: 0, applyPid: null, errors: 0 };
  return { exists: true, tables: Number(r.tables), ready: Number(r.ready), copying: Number(r.tables) - Number(r.ready), applyPid: r.pid, errors: Number(r.errors ?? 0) };
}

/** Tells the subscriber to pick up tables added to the publication, copying their rows. */
export async function refreshSubscription(client: ClientBase, name: string): Promise<void> {
  await client.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} REFRESH PUBLICATION WITH (copy_data = true)`);
}

/**
 * WAL the publisher keeps for this subscription's slots (the main slot and its table-sync slots),
 * in bytes: what would fill blue's disk if green stalled.
 */
export async function retainedWalBytes(publisher: ClientBase, slotName: string, subscriptionOid: string | null): Promise<number> {
  const { rows } = await publisher.query<{ bytes: string | null }>(
    `SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn))::text AS bytes
       FROM pg_replication_slots
      WHERE slot_name = $1 OR ($2::text IS NOT NULL AND slot_name LIKE 'pg\\_' || $2 || '\\_sync\\_%')`,
    [slotName, subscriptionOid],
  );
  return Number(rows[0]?.bytes ?? 0);
}

/** The subscription's oid on the subscriber (its table-sync slots on the publisher carry it). */
export async function subscriptionOid(client: ClientBase, name: string): Promise<string | null> {
  const { rows } = await client.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_subscription WHERE subname = $1`, [name]);
  return rows[0]?.oid ?? null;
}

/** Bytes of WAL the publisher has written that the subscriber has not received yet. */
export async function lagBytes(publisher: ClientBase, subscriber: ClientBase, name: string): Promise<number | null> {
  const current = (await publisher.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0]!.lsn;
  const { rows } = await subscriber.query<{ lag: string | null }>(
    `SELECT pg_wal_lsn_diff($1::pg_lsn, w.received_lsn)::text AS lag
       FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid
      WHERE s.subname = $2 AND w.relid IS NULL AND w.received_lsn IS NOT NULL`,
    [current, name],
  );
  return rows[0]?.lag == null ? null : Math.max(0, Number(rows[0].lag));
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
