/**
 * The PgBouncer traffic switch: PAUSE holds clients (they wait, they do not fail) while the
 * databases file is rewritten to point at the other cluster, RELOAD applies it, RESUME lets them
 * continue there.
 *
 * Measured on PgBouncer 1.18 (test/upgrade/pgbouncer-switch.test.ts keeps these true):
 * - `PAUSE db` waits for the database's in-flight transactions, then closes every server
 *   connection of that database ("closing because: pause mode"); clients that start a transaction
 *   meanwhile wait (up to PgBouncer's `query_wait_timeout`, 120 s by default) and continue after
 *   `RESUME db`.
 * - `RELOAD` of a changed entry marks the database's server connections close_needed: idle ones
 *   close at once, one inside a transaction when the transaction ends; the next transaction
 *   connects to the new host. So no connection keeps sending transactions to blue, even without a
 *   pause, and RECONNECT/KILL are not needed.
 * - `RELOAD` answers OK even when it rejects an entry (bad port, unknown parameter) and keeps the
 *   old one: only `SHOW DATABASES` tells whether a switch happened, so pointTo confirms there.
 *   It also keeps a forced user when the new entry has none ("losing forced user not supported"),
 *   so blue and green must both force a user or neither; changing the forced user works.
 * - `PAUSE db` on a paused database is accepted (and waits again for any active server);
 *   only the global `PAUSE` answers "already suspended/paused". `RESUME db` on a database that is
 *   not paused is an error ("database app is not paused"), so resume reads `paused` first.
 * - A pending `PAUSE` survives a `RESUME` from another connection and never completes; closing
 *   its connection is the only way out, which is what the timeout does.
 */
import type { Client } from "pg";
import { connect, connectionFields, describeConnection, toClientConfig, type ConnectionInput } from "../postgres/connection";
import { InputError, SetpointError } from "../errors";
import {
  DATABASE_NAME,
  describeTarget,
  renderDatabasesFile,
  resolveSettings,
  resolveTarget,
  sameTarget,
  writeFileAtomic,
  type PgBouncerTarget,
  type ResolvedDatabase,
  type ResolvedTarget,
} from "./internal/pgbouncer-config";
import { TrafficSwitchError, type TrafficSwitchFailure, type TrafficSwitchOperation } from "./traffic-error";
import type { PauseOptions, Side, TrafficSwitch } from "./traffic";

export type { PgBouncerTarget, PgBouncerTargetFields } from "./internal/pgbouncer-config";

/** One PgBouncer database (what clients connect to) and where it points on each side. */
export interface PgBouncerDatabase {
  /** The database name clients give PgBouncer: letters, digits and underscores. */
  readonly name: string;
  readonly blue: PgBouncerTarget;
  readonly green: PgBouncerTarget;
  /**
   * Further connection-string parameters written into both entries, e.g. `{ pool_size: 20 }`.
   * @default {}
   */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** Options of {@link pgbouncerSwitch}. */
export interface PgBouncerSwitchOptions {
  /**
   * PgBouncer's admin console: a user in `admin_users`, database `pgbouncer`, e.g.
   * `postgres://admin:secret@pgbouncer:6432/pgbouncer`. The password is never logged.
   */
  readonly admin: ConnectionInput;
  /**
   * Path of the file holding these databases' entries, which the switch owns and rewrites whole.
   * PgBouncer's main configuration must `%include` it as its last line (the file starts its own
   * `[databases]` section), and this process must be able to write its directory.
   */
  readonly databasesFile: string;
  /** The databases to switch, all together. */
  readonly databases: readonly PgBouncerDatabase[];
  /** Milliseconds to wait for an admin console connection. @default 10000 */
  readonly connectTimeoutMs?: number;
}

interface DatabaseRow {
  name: string;
  host: string | null;
  port: number | string;
  database: string;
  force_user: string | null;
  paused: number | string;
}

const KIND = "pgbouncer";

/**
 * A {@link TrafficSwitch} over PgBouncer's admin console (`canPause`: the pause is the write
 * fence). Connects lazily; call `close()` when done.
 * @throws {InputError} when a database name, target or setting is invalid, or blue and green of a
 *   database point at the same place.
 */
export function pgbouncerSwitch(options: PgBouncerSwitchOptions): TrafficSwitch {
  return new PgBouncerSwitch(validate(options));
}

interface Resolved {
  admin: ConnectionInput;
  databasesFile: string;
  databases: readonly ResolvedDatabase[];
  connectTimeoutMs: number;
}

function validate(options: PgBouncerSwitchOptions): Resolved {
  const adminConfig = toClientConfig(options.admin); // validates a URL's scheme
  const adminDatabase = typeof options.admin === "string" ? connectionFields(options.admin).database : adminConfig.database;
  if (adminDatabase !== "pgbouncer") {
    throw new InputError(`admin must connect to PgBouncer's admin console, database "pgbouncer"; got "${adminDatabase ?? ""}" (${describeConnection(options.admin)})`, { propertyPath: "admin" });
  }
  if (!options.databasesFile) throw new InputError("databasesFile is required: the file PgBouncer %includes with these databases", { propertyPath: "databasesFile" });
  if (options.databases.length === 0) throw new InputError("databases must name at least one PgBouncer database", { propertyPath: "databases" });
  const seen = new Set<string>();
  const databases = options.databases.map((db, i): ResolvedDatabase => {
    const path = `databases[${i}]`;
    if (!DATABASE_NAME.test(db.name)) throw new InputError(`${path}.name "${db.name}" must be letters, digits and underscores (it is sent bare to the admin console)`, { propertyPath: `${path}.name` });
    if (db.name === "pgbouncer") throw new InputError(`${path}.name cannot be "pgbouncer", the admin console`, { propertyPath: `${path}.name` });
    if (seen.has(db.name)) throw new InputError(`${path}.name "${db.name}" is listed twice`, { propertyPath: `${path}.name` });
    seen.add(db.name);
    const blue = resolveTarget(db.blue, `${path}.blue`);
    const green = resolveTarget(db.green, `${path}.green`);
    if (sameTarget(blue, green)) {
      throw new InputError(`${path}: blue and green both point at ${describeTarget(blue)}; the switch could not tell them apart`, { propertyPath: path });
    }
    if ((blue.user === undefined) !== (green.user === undefined)) {
      // PgBouncer keeps a forced user across RELOAD when the new entry has none ("losing forced
      // user not supported, keeping old setting"), so such a switch could never be confirmed.
      throw new InputError(`${path}: give a user for both blue and green or for neither; PgBouncer cannot drop a forced user on RELOAD`, { propertyPath: path });
    }
    return { name: db.name, blue, green, settings: resolveSettings(db.settings, `${path}.settings`) };
  });
  return { admin: options.admin, databasesFile: options.databasesFile, databases, connectTimeoutMs: options.connectTimeoutMs ?? 10_000 };
}

class PgBouncerSwitch implements TrafficSwitch {
  readonly kind = KIND;
  readonly canPause = true;
  private console: Client | undefined;
  private consoleBroken = false;
  private readonly object: string;

  constructor(private readonly o: Resolved) {
    this.object = o.databases.map((d) => d.name).join(", ");
  }

  async current(): Promise<Side> {
    const rows = await this.showDatabases("current");
    const sides = this.o.databases.map((db) => {
      const row = rows.get(db.name)!;
      const live = liveTarget(row);
      const side: Side | undefined = matches(live, db.blue) ? "blue" : matches(live, db.green) ? "green" : undefined;
      if (!side) {
        throw this.error("current", "unknown-side", `PgBouncer database ${db.name} points at ${describeLive(live)}, which is neither blue (${describeTarget(db.blue)}) nor green (${describeTarget(db.green)})`);
      }
      return { name: db.name, side };
    });
    const first = sides[0]!.side;
    if (sides.some((s) => s.side !== first)) {
      throw this.error("current", "unknown-side", `the databases point at different sides (${sides.map((s) => `${s.name}: ${s.side}`).join(", ")}); point them all at one side`);
    }
    return first;
  }

  async pause(options: PauseOptions): Promise<void> {
    const { timeoutMs } = options;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new InputError(`pause timeoutMs must be a positive number of milliseconds; got ${String(timeoutMs)}`, { propertyPath: "timeoutMs" });
    const deadline = Date.now() + timeoutMs;
    await this.showDatabases("pause"); // every database exists, before anything is paused
    // One connection per database, all opened before any PAUSE is sent: a PAUSE sent late (after
    // the timeout resumed traffic) would pause the database with nobody left to resume it.
    const connections: Client[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      while (connections.length < this.o.databases.length) connections.push(await this.open("pause"));
      // Names are validated against DATABASE_NAME: the admin console takes them as bare words.
      const paused = Promise.all(this.o.databases.map((db, i) => connections[i]!.query(`PAUSE ${db.name}`)));
      paused.catch(() => undefined); // settled below, or abandoned on timeout
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(1, deadline - Date.now()))));
      let outcome: "paused" | "timeout";
      try {
        outcome = await Promise.race([paused.then(() => "paused" as const), timedOut]);
      } catch (cause) {
        const undone = await this.undoPause(connections);
        throw this.error("pause", "unavailable", `PgBouncer refused PAUSE: ${(cause as Error).message}; ${undone}`, undefined, cause);
      }
      if (outcome === "timeout") {
        const busy = await this.activeServers().catch(() => undefined);
        const undone = await this.undoPause(connections);
        throw this.error(
          "pause",
          "pause-timeout",
          `in-flight transactions did not finish within ${timeoutMs} ms${busy ? ` (server connections still in a transaction: ${busy})` : ""}; ` +
            `${undone}. Retry when long transactions have ended, or raise the timeout`,
        );
      }
    } finally {
      clearTimeout(timer);
      await Promise.all(connections.map((c) => c.end().catch(() => undefined)));
    }
  }

  async resume(): Promise<void> {
    const rows = await this.showDatabases("resume");
    for (const db of this.o.databases) {
      if (Number(rows.get(db.name)!.paused) === 0) continue; // RESUME of an unpaused database is an error
      await this.command("resume", `RESUME ${db.name}`);
    }
  }

  async pointTo(side: Side): Promise<void> {
    try {
      await writeFileAtomic(this.o.databasesFile, renderDatabasesFile(this.o.databases, side));
    } catch (cause) {
      throw this.error("pointTo", "unavailable", `cannot write the databases file ${this.o.databasesFile}: ${(cause as Error).message}`, side, cause);
    }
    await this.command("pointTo", "RELOAD", side);
    const rows = await this.showDatabases("pointTo", side);
    for (const db of this.o.databases) {
      const want = side === "blue" ? db.blue : db.green;
      const live = liveTarget(rows.get(db.name)!);
      if (!matches(live, want)) {
        throw this.error(
          "pointTo",
          "not-applied",
          `after RELOAD, PgBouncer database ${db.name} still points at ${describeLive(live)} instead of ${describeTarget(want)}; ` +
            `PgBouncer rejected ${this.o.databasesFile} or does not %include it (see its log)`,
          side,
        );
      }
    }
  }

  async close(): Promise<void> {
    const c = this.console;
    this.console = undefined;
    await c?.end().catch(() => undefined);
  }

  /** `SHOW DATABASES` rows by name. @throws {TrafficSwitchError} `not-found` when one of ours is missing. */
  private async showDatabases(operation: TrafficSwitchOperation, side?: Side): Promise<Map<string, DatabaseRow>> {
    const result = await this.command<DatabaseRow>(operation, "SHOW DATABASES", side);
    const rows = new Map(result.map((r) => [r.name, r]));
    const missing = this.o.databases.filter((db) => !rows.has(db.name)).map((db) => db.name);
    if (missing.length > 0) {
      throw this.error(operation, "not-found", `PgBouncer has no database ${missing.join(", ")}; does its configuration %include ${this.o.databasesFile}?`, side);
    }
    return rows;
  }

  /** Server connections of our databases inside a transaction, e.g. `app: 2`, from SHOW POOLS. */
  private async activeServers(): Promise<string> {
    const pools = await this.command<{ database: string; sv_active: number | string }>("pause", "SHOW POOLS");
    const ours = new Set(this.o.databases.map((d) => d.name));
    const counts = new Map<string, number>();
    for (const p of pools) if (ours.has(p.database)) counts.set(p.database, (counts.get(p.database) ?? 0) + Number(p.sv_active));
    return [...counts].map(([db, n]) => `${db}: ${n}`).join(", ");
  }

  /** Ends a failed pause; says in words whether traffic flows again, for the error. */
  private async undoPause(connections: readonly Client[]): Promise<string> {
    // Close the pending PAUSEs first: PgBouncer never completes them once resumed.
    await Promise.all(connections.map((c) => c.end().catch(() => undefined)));
    try {
      await this.resume();
      return "traffic was resumed";
    } catch (err) {
      return `resuming failed too (${(err as Error).message}), so traffic may still be paused: call resume()`;
    }
  }

  private async command<R extends object = Record<string, unknown>>(operation: TrafficSwitchOperation, text: string, side?: Side): Promise<R[]> {
    const client = await this.admin(operation);
    try {
      // No parameters: the admin console speaks only the simple query protocol.
      return (await client.query<R>(text)).rows;
    } catch (cause) {
      throw this.error(operation, "unavailable", `PgBouncer admin command ${text.split(" ")[0]} failed: ${(cause as Error).message}`, side, cause);
    }
  }

  private async admin(operation: TrafficSwitchOperation): Promise<Client> {
    if (this.console && !this.consoleBroken) return this.console;
    await this.close();
    this.console = await this.open(operation);
    this.consoleBroken = false;
    const c = this.console;
    c.on("error", () => {
      if (this.console === c) this.consoleBroken = true;
    });
    c.on("end", () => {
      if (this.console === c) this.consoleBroken = true;
    });
    return c;
  }

  private async open(operation: TrafficSwitchOperation): Promise<Client> {
    try {
      return await connect(this.o.admin, { connectTimeoutMs: this.o.connectTimeoutMs, applicationName: "setpoint-traffic-switch" });
    } catch (cause) {
      // ConnectionError's message names the target with the password redacted.
      throw this.error(operation, "unavailable", `cannot reach PgBouncer's admin console: ${(cause as Error).message}`, undefined, cause);
    }
  }

  private error(operation: TrafficSwitchOperation, reason: TrafficSwitchFailure, message: string, side?: Side, cause?: unknown): TrafficSwitchError {
    return new TrafficSwitchError({ switchKind: KIND, operation, reason, object: this.object, ...(side ? { side } : {}) }, message, cause === undefined ? {} : { cause: scrub(cause) });
  }
}

interface LiveTarget {
  host: string | null;
  port: number;
  database: string;
  user: string | null;
}

function liveTarget(row: DatabaseRow): LiveTarget {
  return { host: row.host, port: Number(row.port), database: row.database, user: row.force_user };
}

function matches(live: LiveTarget, want: ResolvedTarget): boolean {
  return live.host === want.host && live.port === want.port && live.database === want.database && (live.user ?? undefined) === want.user;
}

function describeLive(live: LiveTarget): string {
  return `${live.user === null ? "" : `${live.user}@`}${live.host ?? "(unix socket)"}:${live.port}/${live.database}`;
}

// node-postgres errors may carry connection parameters; keep the message and SQLSTATE only.
function scrub(cause: unknown): unknown {
  if (!(cause instanceof Error) || cause instanceof SetpointError) return cause;
  const safe = new Error(cause.message);
  (safe as Error & { code?: unknown }).code = (cause as { code?: unknown }).code;
  return safe;
}
