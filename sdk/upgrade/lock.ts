/**
 * One runner at a time. Every operation that changes an upgrade holds a session-level advisory
 * lock in blue's database for as long as it runs, whichever driver started it (CLI, Pulumi
 * provider, operator), so two of them can never drive it at once. The lock is blue's, not the
 * state store's: drivers keep their state in different stores, but all of them reach blue, and two
 * runs out of one blue database would fence it over each other. The server releases the lock when
 * the holding session ends, so a crashed holder never blocks for long: a killed process closes
 * its socket at once, and server-side TCP keepalives end the session of a host that vanished.
 * The holder names itself in its session's `application_name` (driver, pid, host), which, with
 * the session's start and client address, is what a refused runner is told.
 */
import { hostname } from "node:os";
import type { Client } from "pg";
import { SetpointError } from "../errors";
import { connect, type ConnectionInput } from "../postgres/connection";
import { UPGRADE_APPLICATION_NAME } from "./fence";

/** Who holds an upgrade's lock. */
export interface LockHolder {
  /** The driver that runs it, e.g. `cli`, `pulumi`, `operator` (as it named itself). */
  readonly driver: string;
  /** Host (pod) name the runner gave, possibly cut short to fit `application_name`. */
  readonly host: string | null;
  /** The runner's process id on its host. */
  readonly pid: number | null;
  /** When it took the lock (its lock session's start). */
  readonly since: Date | null;
  /** The runner's address as blue sees it. */
  readonly address: string | null;
  /** Blue's backend pid of the lock session (`pg_terminate_backend` ends the run's hold). */
  readonly sessionPid: number;
}

/** Raised when another runner holds the upgrade's lock; names it. Nothing was changed. */
export class UpgradeInProgressError extends SetpointError {
  /** The runner holding the lock, `null` when it let go just as it was looked up. */
  readonly holder: LockHolder | null;

  constructor(holder: LockHolder | null, waitedMs: number) {
    super(
      "UPGRADE_IN_PROGRESS",
      `another runner is running an upgrade of this blue database: ${describeHolder(holder)}${waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : ""}; ` +
        "nothing was changed. Wait for it to finish, or stop it (a `pulumi up` killed hard leaves its provider process running), then run again",
    );
    this.holder = holder;
  }
}

/** The holder in words: driver, pid, host, address and since when. */
export function describeHolder(h: LockHolder | null): string {
  if (!h) return "it has just finished";
  const where = [h.pid === null ? null : `pid ${h.pid}`, h.host ? `on ${h.host}` : null, h.address ? `from ${h.address}` : null].filter(Boolean).join(" ");
  return `${h.driver}${where ? ` (${where})` : ""}${h.since ? ` since ${h.since.toISOString()}` : ""}, blue session ${h.sessionPid}`;
}

/** A held lock; `release` ends its session. */
export interface HeldLock {
  release(): Promise<void>;
}

/** Options of {@link acquireUpgradeLock}. */
export interface LockOptions {
  /** Names the runner to anyone refused: `cli`, `pulumi`, `operator`, ... */
  readonly driver: string;
  /** How long to wait for another holder before refusing. @default 0 */
  readonly waitMs?: number;
  /** Told once when the lock is busy and the call starts waiting. */
  readonly onWait?: (message: string) => void;
}

// Advisory locks are scoped to the database they are taken in: one key per blue database.
const LOCK_KEY = "setpoint-upgrade";
/** `application_name` prefix of lock sessions; it starts with the engine's own, so the login fence spares it. */
const LOCK_APPLICATION_PREFIX = `${UPGRADE_APPLICATION_NAME}:`;
const NAMEDATALEN = 63;

/** The lock session's `application_name`: the prefix, then `driver pid@host`, cut to what PostgreSQL keeps. */
export function lockApplicationName(driver: string, pid: number, host: string): string {
  const name = `${LOCK_APPLICATION_PREFIX}${driver.replace(/\s+/g, "-")} ${pid}@${host}`;
  return Buffer.byteLength(name) <= NAMEDATALEN ? name : Buffer.from(name).subarray(0, NAMEDATALEN).toString("utf8").replace(/\uFFFD+$/, "");
}

/** The parts of a lock session's `application_name`, or `null` when it is not one. */
export function parseLockApplicationName(name: string): { driver: string; pid: number | null; host: string | null } | null {
  if (!name.startsWith(LOCK_APPLICATION_PREFIX)) return null;
  const m = /^(\S+)(?: (\d+)(?:@(.*))?)?$/.exec(name.slice(LOCK_APPLICATION_PREFIX.length));
  if (!m) return null;
  return { driver: m[1]!, pid: m[2] ? Number(m[2]) : null, host: m[3] || null };
}

/**
 * Takes the upgrade lock of blue's database, waiting up to `waitMs` for another holder.
 * @throws {UpgradeInProgressError} naming the holder when the wait ends.
 */
export async function acquireUpgradeLock(blue: ConnectionInput, options: LockOptions): Promise<HeldLock> {
  const client = await connect(blue, { applicationName: lockApplicationName(options.driver, process.pid, hostname()) });
  try {
    // A host that vanishes sends no FIN: probe it, so its session (and lock) ends within ~30 s.
    await client.query("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
    const waitMs = options.waitMs ?? 0;
    const started = Date.now();
    let told = false;
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [LOCK_KEY]);
      if (rows[0]!.ok) break;
      const holder = await readHolder(client);
      if (Date.now() - started >= waitMs) throw new UpgradeInProgressError(holder, waitMs);
      if (!told) {
        options.onWait?.(`waiting up to ${Math.round(waitMs / 1000)} s for another runner of an upgrade of this database: ${describeHolder(holder)}`);
        told = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    release: async () => {
      // Ending the session releases its locks; an explicit unlock first says so in the server's log order.
      await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [LOCK_KEY]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/**
 * The runner holding the lock of the database `client` is in, or `null` when none does.
 * Reading other sessions' details needs a superuser or `pg_read_all_stats` (the engine's role is a superuser).
 */
export async function readHolder(client: Client): Promise<LockHolder | null> {
  // A bigint advisory lock shows in pg_locks as its high and low 32 bits, objsubid 1.
  const { rows } = await client.query<{ pid: number; app: string | null; addr: string | null; since: Date | null }>(
    `SELECT a.pid, a.application_name AS app, a.client_addr::text AS addr, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)`,
    [LOCK_KEY],
  );
  const h = rows[0];
  if (!h) return null;
  const named = parseLockApplicationName(h.app ?? "");
  return {
    driver: named?.driver ?? (h.app ? `unknown (application ${h.app})` : "unknown"),
    host: named?.host ?? null,
    pid: named?.pid ?? null,
    since: h.since,
    address: h.addr,
    sessionPid: h.pid,
  };
}
