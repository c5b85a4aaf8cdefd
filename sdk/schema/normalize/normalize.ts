import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Client } from "pg";
import { InputError } from "../../errors";
import { connect, withDatabase } from "../../postgres/connection";
import { devScratchDir, startEmbeddedPostgres, type EmbeddedPostgres } from "../../postgres/embedded";
import { quoteIdent } from "../../postgres/quote";
import { isSupportedMajor, DEFAULT_MAJOR } from "../../postgres/versions";
import { introspect } from "../introspect/introspect";
import { withReprintedChecks } from "./reprint";
import { WeightedLru } from "../internal/lru";
import { markKept } from "../internal/prepared";
import { MODEL_VERSION, type SchemaModel } from "../model";
import { lineOf, type DesiredSchema } from "../source/desired";

/** Where to build the desired schema so PostgreSQL itself normalizes it. */
export interface NormalizeOptions {
  /** A server where Setpoint may create and drop scratch databases. @default an embedded server of `major` */
  devUrl?: string;
  /** Server major of the target; the embedded dev server uses the same. @default 17 */
  major?: number;
  /**
   * Directory for cached normalized models, keyed by a hash of the input and the server major;
   * `false` disables the cache. @default ~/.cache/setpoint/schema (or $SETPOINT_CACHE_DIR/schema)
   */
  cacheDir?: string | false;
  /**
   * For a long-running process (the operator) that normalizes many desired schemas: keep the
   * embedded dev server of each major running between normalizations, and reuse scratch databases
   * instead of creating and dropping one each time: each normalization applies the desired SQL in a
   * transaction, introspects it there, and rolls it back. Call {@link closeDevResources} before
   * exiting. SQL that cannot run in a transaction block (`CREATE INDEX CONCURRENTLY`, a new enum
   * value used in the same file) falls back to a fresh scratch database.
   * @default false
   */
  reuse?: boolean;
  /**
   * The target's roles (see {@link TargetRoles}): mirrored onto the dev server before the desired
   * SQL runs, which then runs as the applying role's mirror, so owners and grants come out as they
   * would on the target. @default none: the desired SQL runs as the dev connection's user
   */
  roles?: TargetRoles;
  /**
   * Called with the scratch database's connection once the desired SQL ran there and was
   * introspected, before it is dropped or rolled back (`inTransaction`: inside the transaction a
   * reused scratch database rolls back). Not called on a cache hit. @default none
   */
  onBuilt?: (scratch: Client, inTransaction: boolean, model: SchemaModel) => Promise<void>;
  /**
   * Directory where the embedded dev server keeps its data; it must be writable (a container with a
   * read-only root filesystem mounts a volume there).
   * @default $SETPOINT_SCRATCH_DIR, else /dev/shm when it has 1 GiB free, else $TMPDIR or /tmp
   */
  scratchDir?: string;
}

/**
 * Roles of the target that normalization reproduces on the dev server as NOLOGIN roles without
 * passwords (secrets never leave the target): names only, plus what the applying role needs to
 * act as it does on the target.
 */
export interface TargetRoles {
  /** Every role of the target server. Those missing on the dev server are created there (except `pg_*`). */
  readonly names: readonly string[];
  /** The role the engine applies as (the target connection's `current_user`). */
  readonly applying: string;
  /** Whether the applying role is a superuser on the target (its mirror, when created, is too). */
  readonly superuser: boolean;
  /** Roles the applying role is a direct member of (granted to its mirror). */
  readonly memberOf: readonly string[];
}

/** Hash of the desired input, the server major and the applying role: the cache key of its normalized model. */
export function desiredFingerprint(desired: DesiredSchema, major: number, applyingRole?: string): string {
  const h = createHash("sha256");
  h.update(`setpoint-model-v${MODEL_VERSION}\0${major}\0${applyingRole ?? ""}\0`);
  for (const f of desired.files) h.update(`${f.name}\0${f.sql}\0`);
  return h.digest("hex");
}

/** The normalized-model cache directory {@link NormalizeOptions.cacheDir} resolves to, or null when disabled. */
export function resolvedCacheDir(cacheDir: string | false | undefined): string | null {
  return cacheDir === false ? null : (cacheDir ?? defaultCacheDir());
}

function defaultCacheDir(): string {
  return join(process.env.SETPOINT_CACHE_DIR ?? join(homedir(), ".cache", "setpoint"), "schema");
}

/**
 * Normalizes desired SQL into a {@link SchemaModel}: applies it to a scratch database (on the dev
 * server, or an embedded server of the target's major) and introspects it, then caches the result.
 * @throws {InputError} with the file and line when the SQL is invalid (the server's own message).
 */
export async function normalize(desired: DesiredSchema, options: NormalizeOptions = {}): Promise<{ model: SchemaModel; fingerprint: string; cached: boolean }> {
  const hit = normalizedFromCache(desired, options);
  if (hit) return hit;
  const major = options.major ?? DEFAULT_MAJOR;
  const fingerprint = desiredFingerprint(desired, major, options.roles?.applying);
  const cacheDir = options.cacheDir === false ? null : (options.cacheDir ?? defaultCacheDir());
  const roles = options.roles ?? null;
  const onBuilt = options.onBuilt ?? null;
  const model = options.reuse
    ? await buildReusing(options.devUrl ?? (await keptDevServer(major, options.scratchDir)), desired, roles, onBuilt)
    : options.devUrl
      ? await buildOn(options.devUrl, desired, { dropScratch: true, roles, onBuilt })
      : await buildEmbedded(major, desired, roles, onBuilt, options.scratchDir);
  if (cacheDir) {
    // Remembered now; written to disk after returning (serializing a 10,000-table model takes ~0.2 s).
    remember(join(cacheDir, fingerprint), model);
    inBackground(new Promise<void>((resolve) => setImmediate(() => resolve(writeCache(cacheDir, fingerprint, model)))));
  }
  return { model, fingerprint, cached: false };
}

/** The cached normalized model of `desired`, or null when {@link normalize} would have to build it. */
export function normalizedFromCache(desired: DesiredSchema, options: NormalizeOptions = {}): { model: SchemaModel; fingerprint: string; cached: true } | null {
  const fingerprint = desiredFingerprint(desired, options.major ?? DEFAULT_MAJOR, options.roles?.applying);
  const cacheDir = options.cacheDir === false ? null : (options.cacheDir ?? defaultCacheDir());
  const hit = cacheDir ? readCache(cacheDir, fingerprint) : null;
  return hit ? { model: hit, fingerprint, cached: true } : null;
}

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

function startDevServer(major: number, scratchDir: string | undefined): Promise<EmbeddedPostgres> {
  if (!isSupportedMajor(major)) {
    throw new InputError(`no embedded PostgreSQL ${major} to normalize the desired schema; pass a dev database URL (--dev-url) of that major`, { propertyPath: "devUrl" });
  }
  // Scratch data: on tmpfs when there is one, where creating relation files is several times cheaper.
  // The server starts from a copy of a data directory initialized there once per major (~40 MB),
  // not from initdb each time.
  const baseDir = scratchDir ?? devScratchDir();
  return startEmbeddedPostgres({ major, parameters: DEV_SERVER_PARAMETERS, baseDir, templateDir: baseDir });
}

type OnBuilt = NormalizeOptions["onBuilt"] & {};

async function buildEmbedded(major: number, desired: DesiredSchema, roles: TargetRoles | null, onBuilt: OnBuilt | null, scratchDir: string | undefined): Promise<SchemaModel> {
  const pg = await startDevServer(major, scratchDir);
  try {
    // The whole server goes, so its scratch database is not dropped first.
    return await buildOn(pg.url(), desired, { dropScratch: false, roles, onBuilt });
  } finally {
    // Stopped before returning, so no server outlives a caller that is killed right after (a
    // Pulumi provider process); without the shutdown checkpoint, its data being thrown away.
    await pg.stop({ immediate: true });
  }
}

/** Prefix of scratch database names; the rest is the creation time (base-36 seconds) and a random suffix. */
const SCRATCH_PREFIX = "setpoint_dev_";
/** A scratch database without connections older than this was left by a process that died. */
const ABANDONED_AFTER_S = 600;

function scratchName(): string {
  return `${SCRATCH_PREFIX}${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(6).toString("hex")}`;
}

async function buildOn(
  devUrl: string,
  desired: DesiredSchema,
  { dropScratch, roles, onBuilt }: { dropScratch: boolean; roles: TargetRoles | null; onBuilt: OnBuilt | null },
): Promise<SchemaModel> {
  const admin = await connect(devUrl, { applicationName: "setpoint-dev" });
  const name = scratchName();
  let runAs: string | null = null;
  try {
    runAs = await mirrorRoles(admin, roles);
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
    // Owning the scratch database gives the mirror what the applying role has on its own database
    // (CREATE, and on 15+ the public schema through pg_database_owner).
    if (runAs !== null) await admin.query(`ALTER DATABASE ${quoteIdent(name)} OWNER TO ${quoteIdent(runAs)}`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  try {
    const url = withDatabase(devUrl, name);
    const scratch = await connect(url, { applicationName: "setpoint-dev" });
    // A second connection, opened while the DDL runs, reads half of the catalogs at the same time.
    const second = connect(url, { applicationName: "setpoint-dev" });
    second.catch(() => undefined); // its failure is reported where it is awaited
    try {
      if (runAs !== null) await scratch.query(`SET ROLE ${quoteIdent(runAs)}`);
      for (const file of desired.files) await applyFile(scratch, file.name, file.sql);
      // Introspection reads the global default privileges of the current role: the mirror's.
      const other = await second;
      if (runAs !== null) await other.query(`SET ROLE ${quoteIdent(runAs)}`);
      // The columns query (first lane) needs no relation cache; the index and constraint
      // definitions do, and the connection that ran the DDL has it warm.
      const model = await withReprintedChecks(scratch, await introspect(other, { concurrent: [scratch] }), false);
      if (onBuilt) await onBuilt(scratch, false, model);
      return model;
    } finally {
      await Promise.all([scratch.end(), second.then((c) => c.end(), () => undefined)]);
    }
  } finally {
    // The model no longer needs the scratch database: drop it (and any a killed process left behind)
    // after returning, off the caller's critical path.
    inBackground(
      (async () => {
        try {
          if (dropScratch) {
            await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
            await sweepAbandonedScratchDatabases(admin);
          }
        } finally {
          await admin.end();
        }
      })(),
    );
  }
}

/**
 * Drops scratch databases that a killed process left on the dev server: no connection, and created
 * more than ten minutes ago (a normalization holds a connection to its scratch database until it is
 * done). Without FORCE, so a database someone connects to meanwhile stays. Errors are ignored.
 */
async function sweepAbandonedScratchDatabases(admin: Client): Promise<void> {
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

// ---- Reused dev resources (NormalizeOptions.reuse) ----

/** A scratch database is dropped and replaced after this many normalizations (rolled-back DDL leaves dead catalog rows). */
const SCRATCH_REUSES = 200;
/** SQLSTATEs after which a desired schema is normalized in a fresh scratch database instead. */
const NOT_IN_A_TRANSACTION = new Set([
  "25001", // active_sql_transaction: e.g. CREATE INDEX CONCURRENTLY in a transaction block
  "55P04", // unsafe_new_enum_value_usage: a value added by ALTER TYPE ... ADD VALUE used in the same transaction
]);

interface PooledScratch {
  readonly name: string;
  readonly client: Client;
  uses: number;
}

interface ScratchPool {
  readonly devUrl: string;
  readonly idle: PooledScratch[];
  /** Leased and idle scratch databases, for {@link closeDevResources}. */
  readonly all: Set<PooledScratch>;
}

const pools = new Map<string, ScratchPool>();
const keptServers = new Map<number, Promise<EmbeddedPostgres>>();

/** The embedded dev server of `major`, started on first use and kept until {@link closeDevResources}. */
async function keptDevServer(major: number, scratchDir: string | undefined): Promise<string> {
  let server = keptServers.get(major);
  if (!server) {
    server = startDevServer(major, scratchDir);
    keptServers.set(major, server);
    server.catch(() => keptServers.delete(major));
  }
  return (await server).url();
}

function poolOf(devUrl: string): ScratchPool {
  let pool = pools.get(devUrl);
  if (!pool) {
    pool = { devUrl, idle: [], all: new Set() };
    pools.set(devUrl, pool);
  }
  return pool;
}

async function leaseScratch(pool: ScratchPool): Promise<PooledScratch> {
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
    client.on("error", () => retireScratch(pool, scratch)); // a server restart ends the connection
    pool.all.add(scratch);
    return scratch;
  } catch (err) {
    inBackground(dropScratchDatabase(pool.devUrl, name));
    throw err;
  }
}

function returnScratch(pool: ScratchPool, scratch: PooledScratch, reusable: boolean): void {
  scratch.uses += 1;
  if (reusable && scratch.uses < SCRATCH_REUSES && pool.all.has(scratch)) pool.idle.push(scratch);
  else retireScratch(pool, scratch);
}

function retireScratch(pool: ScratchPool, scratch: PooledScratch): void {
  if (!pool.all.delete(scratch)) return;
  const at = pool.idle.indexOf(scratch);
  if (at >= 0) pool.idle.splice(at, 1);
  inBackground(scratch.client.end().then(() => dropScratchDatabase(pool.devUrl, scratch.name)));
}

async function dropScratchDatabase(devUrl: string, name: string): Promise<void> {
  const admin = await connect(devUrl, { applicationName: "setpoint-dev" });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Normalizes in a reused scratch database: the desired SQL runs in one transaction, is introspected
 * there (uncommitted catalog rows are visible to the session that wrote them), and is rolled back,
 * which leaves the database as empty as it was. No `CREATE DATABASE` or `DROP DATABASE` per
 * normalization, which cost two thirds of it.
 */
async function buildReusing(devUrl: string, desired: DesiredSchema, roles: TargetRoles | null, onBuilt: OnBuilt | null): Promise<SchemaModel> {
  const pool = poolOf(devUrl);
  const scratch = await leaseScratch(pool);
  const { client } = scratch;
  let reusable = false;
  try {
    const runAs = await mirrorRoles(client, roles);
    await client.query("BEGIN");
    let failure: unknown;
    try {
      if (runAs !== null) {
        // Both undone by the rollback, so the pooled database serves any applying role next.
        await client.query(`ALTER DATABASE ${quoteIdent(scratch.name)} OWNER TO ${quoteIdent(runAs)}`);
        await client.query(`SET LOCAL ROLE ${quoteIdent(runAs)}`);
      }
      for (const file of desired.files) await applyFile(client, file.name, file.sql);
    } catch (err) {
      failure = err;
    }
    // A file that ended the transaction itself (COMMIT) left objects behind: that database goes.
    reusable = await stillInTransaction(client);
    if (failure === undefined) {
      const model = await withReprintedChecks(client, await introspect(client), true);
      if (onBuilt) await onBuilt(client, true, model);
      return model;
    }
    const code = (failure as { cause?: { code?: string } }).cause?.code;
    if (!code || !NOT_IN_A_TRANSACTION.has(code)) throw failure;
  } finally {
    reusable = (await rollback(client)) && reusable;
    returnScratch(pool, scratch, reusable);
  }
  return await buildOn(devUrl, desired, { dropScratch: true, roles, onBuilt });
}

/**
 * Creates on the dev server, as NOLOGIN roles without passwords, the target's roles it lacks (a
 * superuser mirror of a superuser applying role; the applying role's memberships granted), and
 * returns the role the desired SQL runs as: the applying role's mirror, or null when that is the
 * dev connection's own user (or no roles were given). Roles are committed (they are server-wide);
 * a concurrent normalization creating the same one is not an error.
 * @throws {InputError} when the dev server does not let this connection create roles.
 */
async function mirrorRoles(admin: Client, roles: TargetRoles | null): Promise<string | null> {
  if (roles === null) return null;
  const { rows } = await admin.query<{ me: string; have: string[] }>(
    "SELECT current_user::text AS me, array(SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1::text[])) AS have",
    [roles.names],
  );
  const have = new Set(rows[0]!.have);
  for (const name of roles.names) {
    if (have.has(name) || name.startsWith("pg_")) continue;
    const attributes = name === roles.applying && roles.superuser ? "NOLOGIN SUPERUSER" : "NOLOGIN";
    try {
      await admin.query(`CREATE ROLE ${quoteIdent(name)} ${attributes}`);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === "42710" || code === "23505") continue; // created meanwhile by another normalization
      throw new InputError(
        `cannot mirror the target's role ${quoteIdent(name)} onto the dev server to normalize the desired schema: ${(cause as Error).message}; ` +
          "use a dev server (--dev-url) where Setpoint's user may create roles, or the default embedded one",
        { propertyPath: "devUrl" },
        { cause },
      );
    }
  }
  if (roles.applying === rows[0]!.me) return null;
  for (const m of roles.memberOf) {
    if (m !== roles.applying) await admin.query(`GRANT ${quoteIdent(m)} TO ${quoteIdent(roles.applying)}`).catch(() => undefined);
  }
  return roles.applying;
}

/** Whether the session is still inside the transaction this module opened (aborted counts). */
async function stillInTransaction(client: Client): Promise<boolean> {
  try {
    await client.query("SAVEPOINT setpoint_still_open");
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "25P02"; // in_failed_sql_transaction: still ours
  }
}

async function rollback(client: Client): Promise<boolean> {
  return client.query("ROLLBACK").then(
    () => true,
    () => false,
  );
}

/** Majors whose embedded dev server {@link NormalizeOptions.reuse} keeps running now. */
export function keptDevServers(): number[] {
  return [...keptServers.keys()].sort();
}

/**
 * Ends what {@link NormalizeOptions.reuse} kept: drops the reused scratch databases and stops the
 * kept embedded dev servers. Normalizations started afterwards create them again.
 */
export async function closeDevResources(): Promise<void> {
  for (const pool of pools.values()) for (const scratch of [...pool.all]) retireScratch(pool, scratch);
  pools.clear();
  const servers = [...keptServers.values()];
  keptServers.clear();
  await scratchCleanup();
  await Promise.all(servers.map((s) => s.then((pg) => pg.stop({ immediate: true }), () => undefined)));
}

// Work normalizations left for after returning: scratch databases to drop, cache writes.
const cleanups = new Set<Promise<void>>();

function inBackground(work: Promise<unknown>): void {
  const done: Promise<void> = work.then(
    () => undefined,
    () => undefined,
  );
  cleanups.add(done);
  void done.then(() => cleanups.delete(done));
}

/**
 * Resolves when the work earlier normalizations left for after returning is done: scratch databases
 * dropped (with those a killed process left) and models written to the cache directory. A process
 * that exits normally waits for it anyway; benchmarks and tests call this to measure or assert
 * without that work in flight.
 */
export async function scratchCleanup(): Promise<void> {
  await Promise.all([...cleanups]);
}

async function applyFile(client: Client, file: string, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (cause) {
    const err = cause as { message?: string; position?: string; code?: string };
    const line = err.position ? lineOf(sql, Number(err.position)) : undefined;
    const where = line === undefined ? file : `${file}:${line}`;
    // Roles are server-wide: normalization mirrors the target's, and creates none of its own.
    const fix = err.code === "42704" && /^role ".*" does not exist$/.test(err.message ?? "") ? "; create the role on the target first (CREATE ROLE ...), then plan again" : "";
    throw new InputError(`invalid desired schema at ${where}: ${err.message ?? String(cause)}${err.code ? ` (SQLSTATE ${err.code})` : ""}${fix}`, { file, line }, { cause });
  }
}

interface CacheEntry {
  version: number;
  model: SchemaModel;
}

/**
 * How many objects a model holds (every list entry, and each table's columns, constraints and
 * indexes): the weight of its in-memory cache entry, roughly proportional to its memory.
 */
export function modelWeight(model: SchemaModel): number {
  let n = 1;
  for (const value of Object.values(model)) if (Array.isArray(value)) n += value.length;
  for (const t of model.tables) n += t.columns.length + t.constraints.length + t.indexes.length;
  return n;
}

/**
 * Objects kept in the in-memory cache of live models (introspections, which only a new read can
 * replace): ~100,000 (some tens of MB), or one model of any size.
 */
export const MODEL_MEMO_WEIGHT = 100_000;

// A long-running process (the operator) checks drift often: keep parsed models in memory too. A
// fifth of the live cache: these are also on disk, where reading a small one back costs well
// under a millisecond.
const memo = new WeightedLru<string, SchemaModel>(MODEL_MEMO_WEIGHT / 5, modelWeight);

function readCache(dir: string, key: string): SchemaModel | null {
  const hit = memo.get(join(dir, key));
  if (hit) return hit;
  try {
    const entry = JSON.parse(readFileSync(join(dir, `${key}.json`), "utf8")) as CacheEntry;
    if (entry.version !== MODEL_VERSION || entry.model?.version !== MODEL_VERSION) return null;
    remember(join(dir, key), entry.model);
    return entry.model;
  } catch {
    return null;
  }
}

/** Forgets the in-memory copies of cached models (the on-disk cache stays); for benchmarks and tests. */
export function forgetCachedModels(): void {
  memo.clear();
}

// Keyed by cache directory and fingerprint: another directory is another cache.
function remember(key: string, model: SchemaModel): void {
  memo.set(key, model);
}

function writeCache(dir: string, key: string, model: SchemaModel): void {
  remember(join(dir, key), model);
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `${key}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ version: MODEL_VERSION, model } satisfies CacheEntry));
    renameSync(tmp, join(dir, `${key}.json`));
  } catch {
    // A cache that cannot be written only costs time.
  }
}
