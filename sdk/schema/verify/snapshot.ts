import { createHash } from "node:crypto";
import type { ClientBase } from "pg";
import { CATALOGS, REFERENCE_TYPES, type CatalogSpec } from "./catalogs";

/** Version of {@link CatalogSnapshot}'s format and of what it holds; a cached snapshot of another version is read again. */
export const SNAPSHOT_VERSION = 3;

/** One catalog row, by name: `props` holds every compared column and computed property. */
export interface CatalogRow {
  readonly catalog: string;
  readonly schema: string;
  readonly identity: string;
  readonly props: Readonly<Record<string, unknown>>;
}

/** A hash of the rows of one catalog in one schema: equal hashes mean equal rows. */
export type CatalogHashes = Readonly<Record<string, string>>;

/** The catalogs of some schemas of one database, read by {@link readCatalogSnapshot}. */
export interface CatalogSnapshot {
  readonly version: number;
  /** `server_version_num` of the server it was read on: which columns its catalogs have. */
  readonly serverVersionNum: number;
  /** Schemas read. */
  readonly schemas: readonly string[];
  /** Hash per `catalog|schema` (pairs without rows are absent). */
  readonly hashes: CatalogHashes;
  /** The compared properties of each catalog on that server. */
  readonly properties: Readonly<Record<string, readonly string[]>>;
  /** The rows; empty when only the hashes were read. */
  readonly rows: readonly CatalogRow[];
  /**
   * Other values a property may hold and mean the same, by `catalog|identity` and property: a
   * CHECK PostgreSQL prints differently once its printed form is applied again (ADR 0012).
   */
  readonly equivalents?: Readonly<Record<string, Readonly<Record<string, readonly unknown[]>>>>;
}

/** The key of a hash: catalog and schema. */
export const hashKey = (catalog: string, schema: string) => `${catalog}|${schema}`;

interface BuiltQuery {
  readonly spec: CatalogSpec;
  /** SELECT schema, id, props (text) of the rows whose schema is in $1. */
  readonly rowsSql: string;
  readonly properties: readonly string[];
  /** Reference columns neither mapped nor excluded (a new major's), compared by a generic fallback. */
  readonly fallbacks: readonly string[];
}

interface ServerQueries {
  readonly serverVersionNum: number;
  readonly catalogs: readonly BuiltQuery[];
  readonly hashSql: string;
}

// Numbers JavaScript cannot hold exactly, and floats whose text depends on settings: compared as text.
const AS_TEXT = new Set(["bigint", "real", "double precision"]);

/** The generic fallback for a reference column the spec does not know (a column a new major added). */
function fallback(column: string, type: string): string {
  if (type === "oid") return `CASE WHEN x.${column} < 16384 THEN x.${column}::text ELSE 'user object' END`;
  return `x.${column} IS NOT NULL`;
}

/**
 * The rows query of one catalog for the columns the server's catalog has: excluded ones left out,
 * mapped ones by meaning, reference columns nobody mapped by a generic fallback, the rest as stored.
 */
export function buildCatalogQuery(spec: CatalogSpec, columns: readonly { name: string; type: string }[]): BuiltQuery {
  const pairs: [string, string][] = [];
  const fallbacks: string[] = [];
  for (const { name, type } of columns) {
    if (name in spec.excluded) continue;
    const mapped = spec.mapped[name];
    if (mapped !== undefined) pairs.push([name, mapped]);
    else if (REFERENCE_TYPES.has(type)) {
      pairs.push([name, fallback(name, type)]);
      fallbacks.push(name);
    } else pairs.push([name, AS_TEXT.has(type) ? `x.${name}::text` : `x.${name}`]);
  }
  for (const [name, sql] of Object.entries(spec.computed ?? {})) pairs.push([name, sql]);
  // jsonb_build_object takes at most 100 arguments: 40 properties per call.
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += 40) {
    chunks.push(`jsonb_build_object(${pairs.slice(i, i + 40).map(([k, v]) => `'${k}', ${v}`).join(", ")})`);
  }
  const rowsSql = `SELECT (${spec.schema})::text AS schema, (${spec.identity})::text AS id, (${chunks.join(" || ")})::text AS props
    FROM ${spec.catalog} x ${spec.joins}
   WHERE (${spec.schema}) = ANY ($1::text[])${spec.where ? ` AND ${spec.where}` : ""}`;
  return { spec, rowsSql, properties: pairs.map(([k]) => k), fallbacks };
}

const COLUMNS_SQL = `
SELECT current_setting('server_version_num')::int AS v,
       coalesce(json_agg(json_build_object('catalog', c.relname, 'name', a.attname, 'type', format_type(a.atttypid, NULL)) ORDER BY c.relname, a.attnum), '[]') AS columns
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = ANY ($1::text[]) AND a.attnum > 0 AND NOT a.attisdropped`;

// Built once per server version: catalogs only change between majors (and never within one).
const built = new Map<number, ServerQueries>();

/** The check's queries for the connected server (reads its catalogs' columns on first use per version). */
export async function serverQueries(client: ClientBase): Promise<ServerQueries> {
  const { rows } = await client.query<{ v: number; columns: { catalog: string; name: string; type: string }[] }>(COLUMNS_SQL, [CATALOGS.map((c) => c.catalog)]);
  const v = rows[0]!.v;
  const hit = built.get(v);
  if (hit) return hit;
  const catalogs = CATALOGS.map((spec) => buildCatalogQuery(spec, rows[0]!.columns.filter((c) => c.catalog === spec.catalog)));
  const hashSql = catalogs
    .map(
      (q) => `SELECT '${q.spec.catalog}' AS catalog, r.schema, md5(string_agg(r.id || E'\\t' || r.props, E'\\n' ORDER BY r.id COLLATE "C")) AS hash
                FROM (${q.rowsSql}) r GROUP BY r.schema`,
    )
    .join("\nUNION ALL\n");
  const queries = { serverVersionNum: v, catalogs, hashSql };
  built.set(v, queries);
  return queries;
}

/**
 * Runs `work` with the session settings that make PostgreSQL print names and values the same way
 * on every database: `search_path` = pg_catalog (every user object printed schema-qualified) and
 * fixed float output, inside a transaction (or a savepoint of the caller's) that restores them.
 */
async function withStableOutput<T>(client: ClientBase, inTransaction: boolean, work: () => Promise<T>): Promise<T> {
  await client.query(inTransaction ? "SAVEPOINT setpoint_verify" : "BEGIN READ ONLY");
  try {
    await client.query("SET LOCAL search_path = pg_catalog; SET LOCAL extra_float_digits = 1; SET LOCAL quote_all_identifiers = off; SET LOCAL work_mem = '64MB'");
    return await work();
  } finally {
    await client.query(inTransaction ? "ROLLBACK TO SAVEPOINT setpoint_verify; RELEASE SAVEPOINT setpoint_verify" : "ROLLBACK");
  }
}

/** What to read: the schemas, whether the connection is inside a transaction, and whether to read rows or only hashes. */
export interface SnapshotOptions {
  /** Schemas to read. @default every schema but the system ones */
  readonly schemas?: readonly string[];
  /** The connection is inside a transaction (a savepoint is used). @default false */
  readonly inTransaction?: boolean;
  /** Read the rows of these `catalog|schema` pairs only (`"all"`: every row). @default "all" */
  readonly rowsOf?: readonly string[] | "all";
  /**
   * Other idle connections to the same database: the catalogs' rows are read on all of them at once
   * (each catalog query on the first connection free). Ignored with `inTransaction` (another
   * session would not see the transaction's rows). @default none
   */
  readonly concurrent?: readonly ClientBase[];
}

const USER_SCHEMAS_SQL = `SELECT coalesce(array_agg(nspname::text ORDER BY nspname), '{}') AS schemas FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'`;

/**
 * Reads the catalogs of `schemas` by name, with a hash per catalog and schema, and the rows asked for.
 * Only catalog reads; nothing is written.
 */
export async function readCatalogSnapshot(client: ClientBase, options: SnapshotOptions = {}): Promise<CatalogSnapshot> {
  const queries = await serverQueries(client);
  const schemas = options.schemas ?? (await client.query<{ schemas: string[] }>(USER_SCHEMAS_SQL)).rows[0]!.schemas;
  const rowsOf = options.rowsOf ?? "all";
  const inTransaction = options.inTransaction ?? false;
  // Reading every row, the hashes are computed here from the rows' text as the server would
  // (the hash query costs as much server CPU as the rows themselves); on a database whose
  // encoding is not UTF-8 the bytes the server hashes are not JavaScript's, so it hashes them.
  const hashHere = rowsOf === "all" && (await client.query<{ e: string }>("SELECT current_setting('server_encoding') AS e")).rows[0]!.e === "UTF8";
  const work = queries.catalogs.flatMap((q, at) => {
    const wanted = rowsOf === "all" ? schemas : rowsOf.filter((k) => k.startsWith(`${q.spec.catalog}|`)).map((k) => k.slice(q.spec.catalog.length + 1));
    return wanted.length === 0 ? [] : [{ q, at, wanted }];
  });
  const hashes: Record<string, string> = {};
  // Per catalog, kept in the catalogs' order whichever connection read them.
  const read: CatalogRow[][] = [];
  const readHashes: Record<string, string>[] = [];
  let next = 0;
  const lanes = inTransaction ? [client] : [client, ...(options.concurrent ?? [])];
  const settled = await Promise.allSettled(
    lanes.map((lane) =>
      withStableOutput(lane, inTransaction, async () => {
        if (lane === client && !hashHere) {
          const { rows: hashRows } = await client.query<{ catalog: string; schema: string; hash: string }>(queries.hashSql, [schemas]);
          for (const h of hashRows) hashes[hashKey(h.catalog, h.schema)] = h.hash;
        }
        // Each connection takes the next catalog when it is free; a failure stops the others' taking.
        while (next < work.length) {
          const { q, at, wanted } = work[next++]!;
          const { rows: found } = await lane.query<{ schema: string; id: string | null; props: string | null }>(q.rowsSql, [wanted]);
          if (hashHere) readHashes[at] = rowHashes(q.spec.catalog, found);
          read[at] = found.map((r) => ({ catalog: q.spec.catalog, schema: r.schema, identity: r.id!, props: JSON.parse(r.props!) as Record<string, unknown> }));
        }
      }).catch((err: unknown) => {
        next = work.length;
        throw err;
      }),
    ),
  );
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  for (const h of readHashes) if (h) Object.assign(hashes, h);
  const rows = read.flatMap((r) => r ?? []);
  const properties = Object.fromEntries(queries.catalogs.map((q) => [q.spec.catalog, q.properties]));
  return { version: SNAPSHOT_VERSION, serverVersionNum: queries.serverVersionNum, schemas: [...schemas], hashes, properties, rows };
}

/**
 * The hash the server's hash query gives each schema's rows of one catalog:
 * `md5(string_agg(id || E'\t' || props, E'\n' ORDER BY id COLLATE "C"))` over the UTF-8 bytes
 * (the C collation orders by bytes; rows with a NULL id or props are left out, as `string_agg` does).
 */
export function rowHashes(catalog: string, rows: readonly { schema: string; id: string | null; props: string | null }[]): Record<string, string> {
  const bySchema = new Map<string, { key: Buffer; line: Buffer }[]>();
  for (const r of rows) {
    if (r.id === null || r.props === null) continue;
    const key = Buffer.from(r.id, "utf8");
    const list = bySchema.get(r.schema) ?? [];
    list.push({ key, line: Buffer.concat([key, Buffer.from(`\t${r.props}`, "utf8")]) });
    bySchema.set(r.schema, list);
  }
  const out: Record<string, string> = {};
  for (const [schema, list] of bySchema) {
    list.sort((a, b) => Buffer.compare(a.key, b.key));
    const h = createHash("md5");
    list.forEach((r, i) => {
      if (i > 0) h.update("\n");
      h.update(r.line);
    });
    out[hashKey(catalog, schema)] = h.digest("hex");
  }
  return out;
}

/** Reference columns of the connected server's catalogs that no spec maps or excludes (for tests: none on supported majors). */
export async function unmappedReferenceColumns(client: ClientBase): Promise<string[]> {
  const queries = await serverQueries(client);
  return queries.catalogs.flatMap((q) => q.fallbacks.map((f) => `${q.spec.catalog}.${f}`));
}
