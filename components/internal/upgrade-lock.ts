/**
 * One run per upgrade at a time. A `pulumi up` killed hard leaves its provider process running
 * (Pulumi starts plugins in their own process groups), and that process carries on with the
 * phase it was in; a second `up` must not drive the same upgrade alongside it. A session-level
 * advisory lock on blue, keyed by the state key, serializes them, and is released by the server
 * when the holding process dies.
 */
import type { Client } from "pg";
import { SetpointError } from "../../sdk/errors";
import { connect } from "../../sdk/postgres/connection";

/** Raised when another process holds the upgrade's lock past the wait. */
export class UpgradeLockedError extends SetpointError {
  constructor(message: string) {
    super("UPGRADE_LOCKED", message);
  }
}

/** A held lock. */
export interface UpgradeLock {
  release(): Promise<void>;
}

const LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok";

/**
 * Takes the lock of upgrade `key` on blue, waiting up to `waitMs` for another holder.
 * @throws {UpgradeLockedError} naming the holder's session when the wait ends.
 */
export async function lockUpgrade(blue: string, key: string, options: { waitMs: number; onWait?: (message: string) => void }): Promise<UpgradeLock> {
  const lockKey = `setpoint-upgrade:${key}`;
  const client = await connect(blue, { applicationName: "setpoint-upgrade-lock" });
  try {
    const until = Date.now() + options.waitMs;
    let reported = false;
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>(LOCK_SQL, [lockKey]);
      if (rows[0]!.ok) break;
      const holder = await describeHolder(client, lockKey);
      if (Date.now() >= until) {
        throw new UpgradeLockedError(
          `another process is running this upgrade (${holder}); wait for it to finish, or end it (a \`pulumi up\` killed hard leaves its provider process running), then run again`,
        );
      }
      if (!reported) {
        options.onWait?.(`waiting up to ${Math.round(options.waitMs / 1000)} s for another process running this upgrade (${holder})`);
        reported = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    release: async () => {
      try {
        await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey]);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

async function describeHolder(client: Client, lockKey: string): Promise<string> {
  // A bigint advisory lock shows in pg_locks as its high and low 32 bits, objsubid 1.
  const { rows } = await client.query<{ pid: number; app: string | null; addr: string | null; since: Date | null }>(
    `SELECT a.pid, a.application_name AS app, a.client_addr::text AS addr, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)`,
    [lockKey],
  );
  const h = rows[0];
  if (!h) return "it has just finished";
  return `blue session pid ${h.pid}${h.app ? `, application ${h.app}` : ""}${h.addr ? ` from ${h.addr}` : ""}${h.since ? `, connected since ${h.since.toISOString()}` : ""}`;
}
