import type { ClientBase } from "pg";

/** A session holding (or queued ahead for) the lock an apply step waits for. */
export interface LockBlocker {
  readonly pid: number;
  readonly applicationName: string | null;
  readonly user: string | null;
  /** When its current (or last) query started, ISO 8601. */
  readonly queryStart: string | null;
  /** `active`, `idle in transaction`, ... */
  readonly state: string | null;
  /** The lock modes it holds on the object, or waits for ahead of the step. */
  readonly modes: readonly string[];
  readonly granted: boolean;
}

/** What the step was waiting for when last seen blocked. */
export interface LockWait {
  /** The lock mode the step asked for, e.g. `AccessExclusiveLock`. */
  readonly wanted: string;
  /** The locked object: a relation name, or a lock type (`virtualxid`, `transactionid`, ...). */
  readonly object: string;
  readonly blockers: readonly LockBlocker[];
}

/** A connection of its own, to look at locks while the apply's connection waits on one. */
export type ObserverFactory = () => Promise<ClientBase & { end(): Promise<void> }>;

// The step's ungranted lock, and the sessions pg_blocking_pids names for it: their modes on the
// same object, held or queued ahead. Never their query text (it can hold data or secrets).
const BLOCKERS_SQL = `
WITH w AS (SELECT * FROM pg_locks WHERE pid = $1 AND NOT granted LIMIT 1)
SELECT b.pid, a.application_name, a.usename::text AS usename, to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS query_start, a.state,
       w.mode AS wanted, coalesce(w.relation::regclass::text, w.locktype) AS object,
       array(SELECT DISTINCT l.mode FROM pg_locks l
             WHERE l.pid = b.pid AND l.locktype = w.locktype AND l.database IS NOT DISTINCT FROM w.database
               AND l.relation IS NOT DISTINCT FROM w.relation AND l.page IS NOT DISTINCT FROM w.page AND l.tuple IS NOT DISTINCT FROM w.tuple
               AND l.virtualxid IS NOT DISTINCT FROM w.virtualxid AND l.transactionid IS NOT DISTINCT FROM w.transactionid
               AND l.classid IS NOT DISTINCT FROM w.classid AND l.objid IS NOT DISTINCT FROM w.objid AND l.objsubid IS NOT DISTINCT FROM w.objsubid
             ORDER BY 1) AS modes,
       EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = b.pid AND l.granted AND l.locktype = w.locktype
               AND l.relation IS NOT DISTINCT FROM w.relation AND l.virtualxid IS NOT DISTINCT FROM w.virtualxid
               AND l.transactionid IS NOT DISTINCT FROM w.transactionid AND l.objid IS NOT DISTINCT FROM w.objid) AS granted
FROM w CROSS JOIN LATERAL unnest(pg_blocking_pids($1)) AS b(pid)
LEFT JOIN pg_stat_activity a ON a.pid = b.pid
ORDER BY b.pid`;

/**
 * Watches an apply connection's lock waits from a second connection: while a statement runs, it
 * polls `pg_blocking_pids` a few times per lock timeout and keeps the last wait it saw, so a lock
 * timeout can name who held the lock (the wait is gone once the statement has failed). The
 * second connection opens only when a statement runs long enough to be polled.
 */
export class LockWatch {
  private observer: Promise<(ClientBase & { end(): Promise<void> }) | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  /** The last wait seen during the current batch, if any. */
  last: LockWait | null = null;

  constructor(
    private readonly pid: Promise<number | null>,
    private readonly open: ObserverFactory,
  ) {}

  /** Starts polling for the statement about to run, every quarter of its lock timeout (10–500 ms). */
  start(lockTimeoutMs: number): void {
    this.stop();
    const every = Math.min(500, Math.max(10, Math.floor(lockTimeoutMs / 4)));
    this.timer = setInterval(() => void this.poll(), every);
    this.timer.unref();
  }

  /** Stops polling (the statement finished or failed). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Cancels the statement the watched connection runs (`pg_cancel_backend` from the second
   * connection): a statement waiting on a lock stops at once instead of at its lock timeout.
   * Best effort: a failed cancel leaves the statement to its timeouts.
   */
  async cancel(): Promise<void> {
    try {
      const pid = await this.pid;
      if (pid === null) return;
      this.observer ??= this.open().catch(() => null);
      await (await this.observer)?.query("SELECT pg_cancel_backend($1)", [pid]);
    } catch {
      // The statement then ends by its own timeouts.
    }
  }

  /** Stops polling and closes the second connection. */
  async close(): Promise<void> {
    this.stop();
    const o = await this.observer?.catch(() => null);
    await o?.end().catch(() => undefined);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const pid = await this.pid;
      if (pid === null) return;
      this.observer ??= this.open().catch(() => null);
      const o = await this.observer;
      if (!o || this.timer === null) return;
      const { rows } = await o.query<{
        pid: number;
        application_name: string | null;
        usename: string | null;
        query_start: string | null;
        state: string | null;
        wanted: string;
        object: string;
        modes: string[];
        granted: boolean;
      }>(BLOCKERS_SQL, [pid]);
      if (rows.length === 0) return;
      this.last = {
        wanted: rows[0]!.wanted,
        object: rows[0]!.object,
        blockers: rows.map((r) => ({ pid: r.pid, applicationName: r.application_name, user: r.usename, queryStart: r.query_start, state: r.state, modes: r.modes, granted: r.granted })),
      };
    } catch {
      // Diagnostics only: a failed look changes nothing about the apply.
    } finally {
      this.polling = false;
    }
  }
}

/** The wait in words, for a lock-timeout error: who blocked the step, how, and since when. */
export function describeLockWait(w: LockWait): string {
  const who = w.blockers.map(
    (b) =>
      `pid ${b.pid} (application_name ${JSON.stringify(b.applicationName ?? "")}${b.user ? `, user ${JSON.stringify(b.user)}` : ""}, ` +
      `${b.granted ? "holds" : "queued ahead for"} ${b.modes.join(", ") || "a conflicting lock"}, ${b.state ?? "state unknown"}, query started ${b.queryStart ?? "unknown"})`,
  );
  return `it wanted ${w.wanted} on ${w.object}, blocked by ${who.join("; ")}`;
}
