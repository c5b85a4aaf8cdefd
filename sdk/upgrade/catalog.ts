/**
 * What the upgrade reads from each side's catalogs: the tables logical replication will carry,
 * and the server facts preflight checks. Fixed queries, never one per table.
 */
import type { ClientBase } from "pg";
import { quoteQualified } from "../postgres/quote";
import { majorFromVersionNum } from "../postgres/versions";
import { SENTINEL_SCHEMA, STATE_SCHEMA } from "./state";

/** A user table as replication sees it. */
export interface ReplicatedTable {
  readonly schema: string;
  readonly name: string;
  /** `"schema"."name"`. */
  readonly qualified: string;
  /** `r` table, `p` partitioned parent. */
  readonly relkind: "r" | "p";
  /** `d` default (primary key), `n` nothing, `f` full, `i` index. */
  readonly replident: "d" | "n" | "f" | "i";
  readonly unlogged: boolean;
  readonly hasPrimaryKey: boolean;
  readonly hasReplicaIdentityIndex: boolean;
  /** Columns in attnum order. */
  readonly columns: readonly string[];
  /** Primary-key (or replica-identity index) columns, in key order; empty when neither. */
  readonly keyColumns: readonly string[];
  /** Planner's row estimate (`reltuples`), -1 when never analyzed. */
  readonly estimatedRows: number;
  readonly bytes: number;
}

/** Schemas the upgrade never replicates or copies: PostgreSQL's own and Setpoint's. */
export const EXCLUDED_SCHEMAS_SQL = `n.nspname NOT IN ('pg_catalog', 'information_schema', '${SENTINEL_SCHEMA}', '${STATE_SCHEMA}') AND n.nspname NOT LIKE 'pg\\_%'`;

/**
 * Every user table replication must carry: ordinary tables and partitioned parents (published via
 * the root), not partitions, not tables that belong to an extension (the extension creates them).
 */
export async function replicatedTables(client: ClientBase): Promise<ReplicatedTable[]> {
  const { rows } = await client.query<{
    schema: string;
    name: string;
    relkind: "r" | "p";
    replident: "d" | "n" | "f" | "i";
    unlogged: boolean;
    has_pk: boolean;
    has_ri_index: boolean;
    columns: string[];
    key_columns: string[] | null;
    estimated_rows: string;
    bytes: string;
  }>(`
    SELECT n.nspname AS schema, c.relname AS name, c.relkind, c.relreplident AS replident,
           c.relpersistence = 'u' AS unlogged,
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ri_index,
           ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)::text[] AS columns,
           (SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[]
              FROM pg_index i
             WHERE i.indrelid = c.oid AND (i.indisprimary OR (c.relreplident = 'i' AND i.indisreplident))
             ORDER BY i.indisprimary DESC LIMIT 1) AS key_columns,
           c.reltuples::bigint::text AS estimated_rows,
           (CASE WHEN c.relkind = 'r' THEN pg_total_relation_size(c.oid) ELSE 0 END)::text AS bytes
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${EXCLUDED_SCHEMAS_SQL}
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY n.nspname, c.relname`);
  return rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    qualified: quoteQualified(r.schema, r.name),
    relkind: r.relkind,
    replident: r.replident,
    unlogged: r.unlogged,
    hasPrimaryKey: r.has_pk,
    hasReplicaIdentityIndex: r.has_ri_index,
    columns: r.columns,
    keyColumns: r.key_columns ?? [],
    estimatedRows: Number(r.estimated_rows),
    bytes: Number(r.bytes),
  }));
}

/** True when logical replication can send this table's updates and deletes. */
export function hasUsableReplicaIdentity(t: ReplicatedTable): boolean {
  switch (t.replident) {
    case "d":
      return t.hasPrimaryKey;
    case "f":
      return true;
    case "i":
      return t.hasReplicaIdentityIndex;
    case "n":
      return false;
  }
}

/** Server facts preflight needs from one side. */
export interface ServerFacts {
  readonly major: number;
  readonly database: string;
  readonly user: string;
  readonly superuser: boolean;
  readonly replicationRole: boolean;
  readonly walLevel: string;
  readonly maxReplicationSlots: number;
  readonly usedReplicationSlots: number;
  readonly maxWalSenders: number;
  readonly usedWalSenders: number;
  readonly maxLogicalReplicationWorkers: number;
  readonly maxWorkerProcesses: number;
  readonly maxSyncWorkersPerSubscription: number;
  /** Replication origins available to subscriptions (PostgreSQL 18's own setting, older servers reuse max_replication_slots). */
  readonly maxReplicationOrigins: number;
  readonly usedReplicationOrigins: number;
  readonly largeObjects: number;
  readonly systemIdentifier: string;
}

/** Reads {@link ServerFacts}. `ownSlotPrefix` slots (from an earlier run of this upgrade) do not count as used. */
export async function serverFacts(client: ClientBase, ownSlotPrefix: string): Promise<ServerFacts> {
  const setting = async (name: string): Promise<string | null> =>
    (await client.query<{ v: string | null }>(`SELECT current_setting($1, true) AS v`, [name])).rows[0]!.v;
  const num = Number(await setting("server_version_num"));
  const major = majorFromVersionNum(num);
  const { rows } = await client.query<{
    database: string;
    user: string;
    superuser: boolean;
    replication: boolean;
    used_slots: string;
    used_senders: string;
    used_origins: string;
    large_objects: string;
    system_identifier: string;
  }>(
    `SELECT current_database() AS database, current_user AS user, r.rolsuper AS superuser, r.rolreplication AS replication,
            (SELECT count(*) FROM pg_replication_slots WHERE slot_name NOT LIKE $1)::text AS used_slots,
            (SELECT count(*) FROM pg_stat_replication)::text AS used_senders,
            (SELECT count(*) FROM pg_replication_origin)::text AS used_origins,
            (SELECT count(*) FROM pg_largeobject_metadata)::text AS large_objects,
            (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier
       FROM pg_roles r WHERE r.rolname = current_user`,
    [`${ownSlotPrefix}%`],
  );
  const r = rows[0]!;
  const n = async (name: string, fallback: number): Promise<number> => {
    const v = await setting(name);
    return v === null ? fallback : Number(v);
  };
  const maxSlots = await n("max_replication_slots", 0);
  return {
    major,
    database: r.database,
    user: r.user,
    superuser: r.superuser,
    replicationRole: r.replication,
    walLevel: (await setting("wal_level")) ?? "unknown",
    maxReplicationSlots: maxSlots,
    usedReplicationSlots: Number(r.used_slots),
    maxWalSenders: await n("max_wal_senders", 0),
    usedWalSenders: Number(r.used_senders),
    maxLogicalReplicationWorkers: await n("max_logical_replication_workers", 0),
    maxWorkerProcesses: await n("max_worker_processes", 0),
    maxSyncWorkersPerSubscription: await n("max_sync_workers_per_subscription", 2),
    maxReplicationOrigins: major >= 18 ? await n("max_active_replication_origins", maxSlots) : maxSlots,
    usedReplicationOrigins: Number(r.used_origins),
    largeObjects: Number(r.large_objects),
    systemIdentifier: r.system_identifier,
  };
}

/** Extensions installed on a side (name → version). */
export async function installedExtensions(client: ClientBase): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; version: string }>(`SELECT extname AS name, extversion AS version FROM pg_extension WHERE extname <> 'plpgsql'`);
  return new Map(rows.map((r) => [r.name, r.version]));
}

/** Extensions a side could install. */
export async function availableExtensions(client: ClientBase): Promise<Set<string>> {
  const { rows } = await client.query<{ name: string }>(`SELECT name FROM pg_available_extensions`);
  return new Set(rows.map((r) => r.name));
}

/** Objects logical replication does not carry that hold data: materialized views, foreign tables. */
export async function unreplicatedDataObjects(client: ClientBase): Promise<{ kind: string; qualified: string }[]> {
  const { rows } = await client.query<{ kind: string; schema: string; name: string }>(`
    SELECT CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END AS kind, n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('m', 'f') AND ${EXCLUDED_SCHEMAS_SQL}
     ORDER BY 2, 3`);
  return rows.map((r) => ({ kind: r.kind, qualified: quoteQualified(r.schema, r.name) }));
}
