import { createHash } from "node:crypto";
import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import type { Client } from "pg";
import { InputError } from "../../errors";
import { connect, withDatabase } from "../../postgres/connection";
import { quoteIdent } from "../../postgres/quote";
import { DEFAULT_MAJOR } from "../../postgres/versions";
import { introspect } from "../introspect/introspect";
import { MODEL_VERSION, type SchemaModel } from "../model";
import { lineOf, type DesiredSchema } from "../source/desired";
import { resolveMetaCommands } from "../source/meta-commands";
import type { DevResources} from "./dev-servers";
import { scratchName, startDevServer, sweepAbandonedScratchDatabases } from "./dev-servers";
import type { ModelCache } from "./model-cache";
import { joined, segments, splitStatements, splittable, type Segment } from "./parallel-ddl";
import { withReprintedChecks } from "./reprint";

/** What normalizations of one schema engine share (see `createSchemaEngine`). */
export interface NormalizeResources {
  /** Kept dev servers, pooled scratch databases, work left for after returning. */
  readonly dev: DevResources;
  /** Normalized models in memory (and on disk). */
  readonly models: ModelCache;
}

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
   * transaction, introspects it there, and rolls it back. The engine's `close()` ends them
   * (`closeDevResources()` for the default engine). SQL that cannot run in a transaction block (`CREATE INDEX CONCURRENTLY`, a new enum
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
   * reused scratch database rolls back), and `concurrent`: other idle connections to the same
   * scratch database the hook may use at once (empty inside a transaction). Not called on a cache
   * hit. @default none
   */
  onBuilt?: (scratch: Client, inTransaction: boolean, model: SchemaModel, concurrent: readonly Client[]) => Promise<void>;
  /**
   * The target's model over the desired model's scope, as read meanwhile (null when unknown): a
   * desired CHECK whose text on the target differs is applied once more in that form, to see
   * whether it prints as the desired one (`ConstraintDef.printedFrom`). @default none
   */
  liveFor?: (model: SchemaModel) => Promise<SchemaModel | null>;
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
 * psql meta-commands left in the SQL (inline SQL; a path's were read by `loadSchemaPath`) are
 * blanked or refused as `resolveMetaCommands` says; an include needs the schema given as a path.
 * @throws {InputError} with the file and line when the SQL is invalid (the server's own message).
 */
export async function normalizeWith(given: DesiredSchema, options: NormalizeOptions, resources: NormalizeResources): Promise<{ model: SchemaModel; fingerprint: string; cached: boolean }> {
  const hit = normalizedFromCache(given, options, resources.models);
  if (hit) return hit;
  const desired: DesiredSchema = { ...given, files: given.files.flatMap((f) => resolveMetaCommands(f)) };
  const major = options.major ?? DEFAULT_MAJOR;
  const fingerprint = desiredFingerprint(given, major, options.roles?.applying);
  const cacheDir = options.cacheDir === false ? null : (options.cacheDir ?? defaultCacheDir());
  const roles = options.roles ?? null;
  const onBuilt = options.onBuilt ?? null;
  const liveFor = options.liveFor ?? null;
  const { dev, models } = resources;
  const model = options.reuse
    ? await buildReusing(dev, options.devUrl ?? (await dev.keptDevServer(major, options.scratchDir)), desired, roles, onBuilt, liveFor)
    : options.devUrl
      ? await buildOn(dev, options.devUrl, desired, { dropScratch: true, roles, onBuilt, liveFor })
      : await buildEmbedded(dev, major, desired, roles, onBuilt, liveFor, options.scratchDir);
  if (cacheDir) {
    // Remembered now; written to disk after returning (serializing a 10,000-table model takes ~0.2 s).
    models.remember(cacheDir, fingerprint, model);
    dev.inBackground(new Promise<void>((resolve) => setImmediate(() => resolve(models.write(cacheDir, fingerprint, model)))));
  }
  return { model, fingerprint, cached: false };
}

/** The cached normalized model of `desired`, or null when {@link normalize} would have to build it. */
export function normalizedFromCache(desired: DesiredSchema, options: NormalizeOptions, models: ModelCache): { model: SchemaModel; fingerprint: string; cached: true } | null {
  const fingerprint = desiredFingerprint(desired, options.major ?? DEFAULT_MAJOR, options.roles?.applying);
  const cacheDir = options.cacheDir === false ? null : (options.cacheDir ?? defaultCacheDir());
  const hit = cacheDir ? models.read(cacheDir, fingerprint) : null;
  return hit ? { model: hit, fingerprint, cached: true } : null;
}

type OnBuilt = NormalizeOptions["onBuilt"] & {};
type LiveFor = NormalizeOptions["liveFor"] & {};

async function buildEmbedded(
  dev: DevResources,
  major: number,
  desired: DesiredSchema,
  roles: TargetRoles | null,
  onBuilt: OnBuilt | null,
  liveFor: LiveFor | null,
  scratchDir: string | undefined,
): Promise<SchemaModel> {
  const pg = await startDevServer(major, scratchDir);
  try {
    // The whole server goes, so its scratch database is not dropped first.
    return await buildOn(dev, pg.url(), desired, { dropScratch: false, roles, onBuilt, liveFor });
  } finally {
    // Stopped before returning, so no server outlives a caller that is killed right after (a
    // Pulumi provider process); without the shutdown checkpoint, its data being thrown away.
    await pg.stop({ immediate: true });
  }
}

async function buildOn(
  dev: DevResources,
  devUrl: string,
  desired: DesiredSchema,
  options: { dropScratch: boolean; roles: TargetRoles | null; onBuilt: OnBuilt | null; liveFor: LiveFor | null },
): Promise<SchemaModel> {
  try {
    return await buildOnce(dev, devUrl, desired, options, true);
  } catch (err) {
    // Any failure of the split run (bad SQL included) is decided by the serial run, on a fresh
    // scratch database: it gives the result, or the error with its file and line, as always.
    if (!(err instanceof ParallelDdlFailed)) throw err;
    return await buildOnce(dev, devUrl, desired, options, false);
  }
}

async function buildOnce(
  dev: DevResources,
  devUrl: string,
  desired: DesiredSchema,
  { dropScratch, roles, onBuilt, liveFor }: { dropScratch: boolean; roles: TargetRoles | null; onBuilt: OnBuilt | null; liveFor: LiveFor | null },
  parallel: boolean,
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
      // Introspection reads the global default privileges of the current role: the mirror's.
      const asRunner = second.then(async (c) => (runAs !== null ? (await c.query(`SET ROLE ${quoteIdent(runAs)}`), c) : c));
      asRunner.catch(() => undefined);
      const split = parallel ? parallelSegments(desired) : null;
      if (split) {
        try {
          await runSegments(split, [scratch, () => asRunner, ...extraLanes(url, runAs)]);
        } catch (cause) {
          throw new ParallelDdlFailed(cause);
        }
      } else for (const file of desired.files) await applyFile(scratch, file.name, file.sql);
      const other = await asRunner;
      // The columns query (first lane) needs no relation cache; the index and constraint
      // definitions do, and the connection that ran the DDL has it warm.
      const model = await withReprintedChecks(scratch, await introspect(other, { concurrent: [scratch] }), false, liveFor ?? undefined);
      // The desired catalogs (ADR 0014) are read on both connections too.
      if (onBuilt) await onBuilt(scratch, false, model, [other]);
      return model;
    } finally {
      await Promise.all([scratch.end(), second.then((c) => c.end(), () => undefined)]);
    }
  } finally {
    // The model no longer needs the scratch database: drop it (and any a killed process left behind)
    // after returning, off the caller's critical path.
    dev.inBackground(
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

// ---- The desired DDL on several connections (ADR 0034) ----

/** Raised inside {@link buildOnce} when the split run failed: the serial run decides. */
class ParallelDdlFailed extends Error {
  constructor(cause: unknown) {
    super("the desired SQL failed on the split run", { cause });
  }
}

/** Connections the split DDL may use at once: the cores of this machine, 2 to 4. */
const DDL_LANES = Math.max(2, Math.min(4, availableParallelism()));

/**
 * The shortest run of independent statements worth more connections: 32, or
 * `$SETPOINT_PARALLEL_DDL_MIN_RUN` (the schema suite sets 2 to put the split run through its corpus).
 */
function minRun(): number {
  const n = Number(process.env.SETPOINT_PARALLEL_DDL_MIN_RUN);
  return Number.isInteger(n) && n >= 2 ? n : 32;
}

/** The desired SQL as segments, when the whole schema may be split and some run is worth it; else null. */
function parallelSegments(desired: DesiredSchema): Segment[] | null {
  const files = desired.files.map((f) => splitStatements(f.sql));
  if (!files.every(splittable)) return null;
  const all = files.flatMap((statements) => segments(statements, DDL_LANES, minRun()));
  return all.some((s) => s.kind === "parallel") ? all : null;
}

type Lane = Client | (() => Promise<Client>);

function extraLanes(url: string, runAs: string | null): Lane[] {
  return Array.from({ length: DDL_LANES - 2 }, () => async () => {
    const c = await connect(url, { applicationName: "setpoint-dev" });
    if (runAs !== null) await c.query(`SET ROLE ${quoteIdent(runAs)}`);
    return c;
  });
}

/**
 * Runs the segments in order, each committed before the next: a serial one as one multi-statement
 * query on the first connection, a parallel one with each lane as one multi-statement query on its
 * own connection (opened on first use; those beyond the first two are closed at the end).
 */
async function runSegments(split: readonly Segment[], lanes: readonly Lane[]): Promise<void> {
  const opened: (Promise<Client> | Client | null)[] = lanes.map((l) => (typeof l === "function" ? null : l));
  const laneClient = (k: number): Promise<Client> => {
    const have = opened[k];
    if (have) return Promise.resolve(have);
    const p = (lanes[k] as () => Promise<Client>)();
    opened[k] = p;
    return p;
  };
  try {
    for (const segment of split) {
      if (segment.kind === "serial") await (lanes[0] as Client).query(joined(segment.statements));
      else {
        const results = await Promise.allSettled(segment.lanes.map(async (statements, k) => (await laneClient(k)).query(joined(statements, segment.eachCommitted))));
        const failed = results.find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
      }
    }
  } finally {
    // Connections beyond the scratch and the introspection ones.
    await Promise.all(opened.slice(2).map((c) => (c ? Promise.resolve(c).then((x) => x.end()).catch(() => undefined) : undefined)));
  }
}

// ---- Reused dev resources (NormalizeOptions.reuse) ----

/** SQLSTATEs after which a desired schema is normalized in a fresh scratch database instead. */
const NOT_IN_A_TRANSACTION = new Set([
  "25001", // active_sql_transaction: e.g. CREATE INDEX CONCURRENTLY in a transaction block
  "55P04", // unsafe_new_enum_value_usage: a value added by ALTER TYPE ... ADD VALUE used in the same transaction
]);

/**
 * Normalizes in a reused scratch database: the desired SQL runs in one transaction, is introspected
 * there (uncommitted catalog rows are visible to the session that wrote them), and is rolled back,
 * which leaves the database as empty as it was. No `CREATE DATABASE` or `DROP DATABASE` per
 * normalization, which cost two thirds of it.
 */
async function buildReusing(dev: DevResources, devUrl: string, desired: DesiredSchema, roles: TargetRoles | null, onBuilt: OnBuilt | null, liveFor: LiveFor | null): Promise<SchemaModel> {
  const scratch = await dev.leaseScratch(devUrl);
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
      const model = await withReprintedChecks(client, await introspect(client), true, liveFor ?? undefined);
      if (onBuilt) await onBuilt(client, true, model, []);
      return model;
    }
    const code = (failure as { cause?: { code?: string } }).cause?.code;
    if (!code || !NOT_IN_A_TRANSACTION.has(code)) throw failure;
  } finally {
    reusable = (await rollback(client)) && reusable;
    dev.returnScratch(devUrl, scratch, reusable);
  }
  return await buildOn(dev, devUrl, desired, { dropScratch: true, roles, onBuilt, liveFor });
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

async function applyFile(client: Client, file: string, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (cause) {
    const err = cause as { message?: string; position?: string; code?: string };
    const line = err.position ? lineOf(sql, Number(err.position)) : undefined;
    const where = line === undefined ? file : `${file}:${line}`;
    if (err.code === "53200") {
      // out_of_shared_memory: the lock table (max_locks_per_transaction × connections) cannot hold
      // a lock per object this file creates in one transaction. The schema is fine; the server is small.
      throw new InputError(
        `the dev server ran out of shared memory while creating the desired schema of ${where} (SQLSTATE 53200: ${err.message ?? "out of shared memory"}): ` +
          "each file runs in one transaction, which holds a lock per object it creates; raise max_locks_per_transaction on the dev server " +
          "(Setpoint's embedded dev server, used without --dev-url, has 1024), restart it, and plan again",
        { propertyPath: "devUrl", file },
        { cause },
      );
    }
    // Roles are server-wide: normalization mirrors the target's, and creates none of its own.
    const fix = err.code === "42704" && /^role ".*" does not exist$/.test(err.message ?? "") ? "; create the role on the target first (CREATE ROLE ...), then plan again" : "";
    throw new InputError(`invalid desired schema at ${where}: ${err.message ?? String(cause)}${err.code ? ` (SQLSTATE ${err.code})` : ""}${fix}`, { file, line }, { cause });
  }
}
