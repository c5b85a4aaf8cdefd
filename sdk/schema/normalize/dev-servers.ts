import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { InputError } from "../../errors";
import { connect, withDatabase } from "../../postgres/connection";
import { devScratchDir, startEmbeddedPostgres, type EmbeddedPostgres } from "../../postgres/embedded";
import { quoteIdent } from "../../postgres/quote";
import { isSupportedMajor } from "../../postgres/versions";
import { markKept } from "../internal/prepared";

// Dev servers and scratch databases: started and created for one normalization, or kept by a
// schema engine between normalizations (`NormalizeOptions.reuse`) until its `close()`.

/**
 * Settings of the embedded dev server: it holds only scratch databases, so no WAL senders and no
 * autovacuum. WAL stays at `replica`: with `minimal`, every relation created in a transaction is
 * synced or WAL-logged at commit, fork by fork, which costs more than the WAL of DDL without data
 * (the benchmark's DDL takes ~5 % less CPU at `replica`).
 */
export const DEV_SERVER_PARAMETERS: Readonly<Record<string, string | number>> = {
  wal_level: "replica",
  max_wal_senders: 0,
  autovacuum: "off",
  max_locks_per_transaction: 1024,
};

/** An embedded dev server of `major`. @throws {InputError} when there is no embedded PostgreSQL of that major. */
export function startDevServer(major: number, scratchDir: string | undefined): Promise<EmbeddedPostgres> {
  if (!isSupportedMajor(major)) {
    throw new InputError(`no embedded PostgreSQL ${major} to normalize the desired schema; pass a dev database URL (--dev-url) of that major`, { propertyPath: "devUrl" });
  }
  // Scratch data: on tmpfs when there is one, where creating relation files is several times cheaper.
  // The server starts from a copy of a data directory initialized there once per major (~40 MB),
  // not from initdb each time.
  const baseDir = scratchDir ?? devScratchDir();
  return startEmbeddedPostgres({ major, parameters: DEV_SERVER_PARAMETERS, baseDir, templateDir: baseDir });
}

/** Prefix of scratch database names; the rest is the creation time (base-36 seconds) and a random suffix. */
export const SCRATCH_PREFIX = "setpoint_dev_";

/** A new scratch database name. */
export function scratchName(): string {
  return `${SCRATCH_PREFIX}${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(6).toString("hex")}`;
}

/** A scratch database without connections older than this was left by a process that died. */
const ABANDONED_AFTER_S = 600;

/**
 * Drops scratch databases that a killed process left on the dev server: no connection, and created
 * more than ten minutes ago (a normalization holds a connection to its scratch database until it is
 * done). Without FORCE, so a database someone connects to meanwhile stays. Errors are ignored.
 */
export async function sweepAbandonedScratchDatabases(admin: Client): Promise<void> {
  const { rows } = await admin.query<{ name: string }>(
    `SELECT d.datname AS name FROM pg_database d
     WHERE d.datname LIKE 'setpoint\\_dev\\_%' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)`,
  );
  const now = Date.now() / 1000;
  for (const { name } of rows) {
    const created = parseInt(name.slice(SCRATCH_PREFIX.length).split("_")[0] ?? "", 36);
    // Names without a time come from an earlier version; with no connection they are abandoned.
    const abandoned = !name.slice(SCRATCH_PREFIX.length).includes("_") || (Number.isFinite(created) && now - created > ABANDONED_AFTER_S);
    if (abandoned) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`).catch(() => undefined);
  }
}

async function dropScratchDatabase(devUrl: string, name: string): Promise<void> {
  const admin = await connect(devUrl, { applicationName: "setpoint-dev" });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** A scratch database is dropped and replaced after this many normalizations (rolled-back DDL leaves dead catalog rows). */
const SCRATCH_REUSES = 200;

/** A reused scratch database and its connection. */
export interface PooledScratch {
  readonly name: string;
  readonly client: Client;
  uses: number;
}

interface ScratchPool {
  readonly devUrl: string;
  readonly idle: PooledScratch[];
  /** Leased and idle scratch databases, for {@link DevResources.close}. */
  readonly all: Set<PooledScratch>;
}

/**
 * What normalizations of one schema engine share: the embedded dev servers and scratch databases
 * kept for reuse, and the work normalizations left for after returning (scratch databases to drop,
 * cache writes).
 */
export class DevResources {
  private readonly pools = new Map<string, ScratchPool>();
  private readonly servers = new Map<number, Promise<EmbeddedPostgres>>();
  private readonly cleanups = new Set<Promise<void>>();

  /** The embedded dev server of `major`, started on first use and kept until {@link close}. */
  async keptDevServer(major: number, scratchDir: string | undefined): Promise<string> {
    let server = this.servers.get(major);
    if (!server) {
      server = startDevServer(major, scratchDir);
      this.servers.set(major, server);
      server.catch(() => this.servers.delete(major));
    }
    return (await server).url();
  }

  /** Majors whose embedded dev server is kept running now. */
  keptMajors(): number[] {
    return [...this.servers.keys()].sort();
  }

  /** An idle scratch database of `devUrl`, or a new one; give it back with {@link returnScratch}. */
  async leaseScratch(devUrl: string): Promise<PooledScratch> {
    const pool = this.poolOf(devUrl);
    const idle = pool.idle.pop();
    if (idle) return idle;
    const admin = await connect(pool.devUrl, { applicationName: "setpoint-dev" });
    const name = scratchName();
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
      await sweepAbandonedScratchDatabases(admin);
    } finally {
      await admin.end();
    }
    try {
      const client = await connect(withDatabase(pool.devUrl, name), { applicationName: "setpoint-dev" });
      markKept(client);
      const scratch: PooledScratch = { name, client, uses: 0 };
      client.on("error", () => this.retire(pool, scratch)); // a server restart ends the connection
      pool.all.add(scratch);
      return scratch;
    } catch (err) {
      this.inBackground(dropScratchDatabase(pool.devUrl, name));
      throw err;
    }
  }

  /** Gives a leased scratch database back: kept when `reusable` and not used too often, else dropped. */
  returnScratch(devUrl: string, scratch: PooledScratch, reusable: boolean): void {
    const pool = this.poolOf(devUrl);
    scratch.uses += 1;
    if (reusable && scratch.uses < SCRATCH_REUSES && pool.all.has(scratch)) pool.idle.push(scratch);
    else this.retire(pool, scratch);
  }

  /** Runs `work` after the caller returns; {@link settled} waits for it. Its failure is ignored. */
  inBackground(work: Promise<unknown>): void {
    const done: Promise<void> = work.then(
      () => undefined,
      () => undefined,
    );
    this.cleanups.add(done);
    void done.then(() => this.cleanups.delete(done));
  }

  /** Resolves when the work left for after returning is done. */
  async settled(): Promise<void> {
    await Promise.all([...this.cleanups]);
  }

  /** Drops the reused scratch databases and stops the kept dev servers; later use starts them again. */
  async close(): Promise<void> {
    for (const pool of this.pools.values()) for (const scratch of [...pool.all]) this.retire(pool, scratch);
    this.pools.clear();
    const servers = [...this.servers.values()];
    this.servers.clear();
    await this.settled();
    await Promise.all(servers.map((s) => s.then((pg) => pg.stop({ immediate: true }), () => undefined)));
  }

  private poolOf(devUrl: string): ScratchPool {
    let pool = this.pools.get(devUrl);
    if (!pool) {
      pool = { devUrl, idle: [], all: new Set() };
      this.pools.set(devUrl, pool);
    }
    return pool;
  }

  private retire(pool: ScratchPool, scratch: PooledScratch): void {
    if (!pool.all.delete(scratch)) return;
    const at = pool.idle.indexOf(scratch);
    if (at >= 0) pool.idle.splice(at, 1);
    this.inBackground(scratch.client.end().then(() => dropScratchDatabase(pool.devUrl, scratch.name)));
  }
}
