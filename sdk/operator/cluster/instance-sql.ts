/**
 * What the cluster controller asks of and does to one instance's database, over short-lived
 * superuser connections with short timeouts: the probe (role, WAL position, replication state,
 * the parameters written with `ALTER SYSTEM` and those waiting for a restart), replication slots
 * and `synchronous_standby_names` on the primary, `primary_conninfo` on a replica, parameters
 * (`ALTER SYSTEM` + reload), promotion. Statements carrying passwords are never logged.
 */
import type { Client } from "pg";
import { pgClient } from "../../postgres/client";
import { POSTGRES_PORT } from "../../api/names";
import { quoteConninfoValue, quoteIdent, quoteLiteral } from "../../postgres/quote";

/** One walsender on a primary, from `pg_stat_replication`. */
export interface StreamingPeer {
  readonly applicationName: string;
  readonly state: string;
  readonly syncState: string;
  /** Bytes between the primary's current WAL position and the peer's replay position. */
  readonly lagBytes: number | undefined;
}

/** What one instance's database says about itself. */
export type InstanceProbe =
  | {
      readonly reachable: true;
      readonly inRecovery: boolean;
      /** Current WAL position (primary) or last replayed (replica), as `X/Y`. */
      readonly lsn?: string;
      /** Last received WAL position (replica). */
      readonly receiveLsn?: string;
      /** Physical slots (primary). */
      readonly slots?: readonly { readonly name: string; readonly active: boolean }[];
      /** Connected replicas (primary). */
      readonly peers?: readonly StreamingPeer[];
      readonly synchronousStandbyNames?: string;
      /** `primary_conninfo` and `primary_slot_name` (replica). */
      readonly primaryConninfo?: string;
      readonly primarySlotName?: string;
      /**
       * With `ssl = on`: the directory of the server's `ssl_ca_file`, i.e. the instance manager's
       * runtime directory, where it also keeps the replication client certificate (ADR 0035).
       */
      readonly tlsRuntimeDir?: string;
      /** What postgresql.auto.conf says now (`ALTER SYSTEM`), from pg_file_settings. */
      readonly autoConf?: Readonly<Record<string, string>>;
      /** Each auto.conf parameter's value as the server runs it (`current_setting`). */
      readonly effective?: Readonly<Record<string, string>>;
      /** Parameters changed in the configuration that wait for a restart (`pg_settings.pending_restart`). */
      readonly pendingRestart?: readonly string[];
      /** WAL archiving, when `archive_mode` is not off. */
      readonly archive?: ArchiveProbe;
    }
  | { readonly reachable: false; readonly error: string };

/** An instance's WAL archiver: `pg_stat_archiver`, the segments waiting (`.ready`), the WAL CLI's last failure. */
export interface ArchiveProbe {
  readonly lastArchivedWal?: string;
  readonly lastArchivedTime?: string;
  readonly lastFailedWal?: string;
  readonly lastFailedTime?: string;
  /** WAL files waiting to be archived, and their bytes (kept in pg_wal until archived). */
  readonly pendingFiles: number;
  readonly pendingBytes: number;
  /** Seconds since the oldest file waiting was completed (0 when none waits). */
  readonly lagSeconds: number;
  /** The last attempt failed (a failure newer than the last success). */
  readonly failing: boolean;
  /** The WAL CLI's named reason of the last failure (sdk/backup/wal-cli.ts ArchiveFailure), when recorded. */
  readonly failure?: { readonly reason: string; readonly message: string; readonly wal: string };
}

/** Where the WAL CLI records its last failure, relative to PGDATA (sdk/instance/backup.ts ARCHIVE_STATUS_FILE). */
const ARCHIVE_STATUS_FILE = "pg_stat_tmp/setpoint-archive.json";

/** Reads an instance's {@link ArchiveProbe} (undefined when `archive_mode` is off). */
export async function readArchive(c: Client): Promise<ArchiveProbe | undefined> {
  const r = (
    await c.query<{ mode: string; aw: string | null; at: Date | null; fw: string | null; ft: Date | null; n: string; oldest: Date | null; now: Date; seg: string; failure: string | null }>(
      `select current_setting('archive_mode') as mode, a.last_archived_wal as aw, a.last_archived_time as at, a.last_failed_wal as fw, a.last_failed_time as ft,
              (select count(*) from pg_ls_archive_statusdir() where name like '%.ready')::text as n,
              (select min(modification) from pg_ls_archive_statusdir() where name like '%.ready') as oldest,
              now() as now, current_setting('wal_segment_size', true) as seg,
              pg_read_file($1, 0, 8192, true) as failure
         from pg_stat_archiver a`,
      [ARCHIVE_STATUS_FILE],
    )
  ).rows[0];
  if (r === undefined || r.mode === "off") return undefined;
  const pendingFiles = Number(r.n);
  const segBytes = /^\d+MB$/.test(r.seg) ? Number(r.seg.slice(0, -2)) * 2 ** 20 : Number(r.seg) || 16 * 2 ** 20;
  // The WAL CLI's record is written on a failure and removed on the next success: it is current
  // before the server's statistics are (pg_stat_archiver is updated after the command returns).
  const failing = Boolean(r.failure) || (r.ft !== null && (r.at === null || r.ft.getTime() > r.at.getTime()));
  let failure: ArchiveProbe["failure"];
  if (r.failure) {
    try {
      const f = JSON.parse(r.failure) as { reason?: unknown; message?: unknown; wal?: unknown };
      if (typeof f.reason === "string" && typeof f.message === "string" && typeof f.wal === "string") failure = { reason: f.reason, message: f.message, wal: f.wal };
    } catch {
      failure = undefined;
    }
  }
  return {
    ...(r.aw ? { lastArchivedWal: r.aw } : {}),
    ...(r.at ? { lastArchivedTime: r.at.toISOString() } : {}),
    ...(r.fw ? { lastFailedWal: r.fw } : {}),
    ...(r.ft ? { lastFailedTime: r.ft.toISOString() } : {}),
    pendingFiles,
    pendingBytes: pendingFiles * segBytes,
    lagSeconds: r.oldest ? Math.max(0, (r.now.getTime() - r.oldest.getTime()) / 1000) : 0,
    failing,
    ...(failure ? { failure } : {}),
  };
}

/**
 * The operator's TLS identity towards a cluster's instances (ADR 0035): the cluster's authority
 * (the server must present a certificate it signed), the name to verify (the rw Service's: an
 * instance is reached by its pod address, which no certificate names), and the operator's client
 * certificate (common name = the superuser; pg_hba's `cert` lets the superuser in only with it).
 */
export interface OperatorTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly serverName: string;
}

/** Connection of the controller to an instance. */
export interface InstanceTarget {
  readonly host: string;
  /** @default POSTGRES_PORT (5432, every instance pod's) */
  readonly port?: number;
  readonly password: string;
  /** Bounds the connection's establishment, and each query unless {@link queryTimeoutMs} is set. */
  readonly timeoutMs: number;
  /**
   * Each query's bound when a statement may legitimately take longer than a probe (CREATE DATABASE,
   * a promotion). Never the connection's: a server that stopped answering since it was last probed
   * (a hung postmaster) must fail the connection within `timeoutMs`, not hold a failover that long.
   */
  readonly queryTimeoutMs?: number;
  /** TLS with verify-full and the operator's certificate; undefined: plaintext (a server without TLS). */
  readonly tls?: OperatorTls;
  /** @default "postgres" */
  readonly database?: string;
  /** The connection's `application_name` (how it shows in pg_stat_activity). @default none */
  readonly applicationName?: string;
}

/** node-postgres' `ssl` for `tls`: verify-full (the authority, the name), TLS 1.3, the client certificate. Pure. */
export function operatorSsl(tls: OperatorTls): { ca: string; cert: string; key: string; servername: string; minVersion: "TLSv1.3"; rejectUnauthorized: true } {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName, minVersion: "TLSv1.3", rejectUnauthorized: true };
}

/**
 * Runs `fn` on a fresh superuser connection to the instance's `postgres` database (or `t.database`), closed after.
 * @throws the connection's or `fn`'s error.
 */
export async function withClient<T>(t: InstanceTarget, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = pgClient({
    host: t.host,
    port: t.port ?? POSTGRES_PORT,
    user: "postgres",
    password: t.password,
    database: t.database ?? "postgres",
    ...(t.applicationName === undefined ? {} : { application_name: t.applicationName }),
    connectionTimeoutMillis: t.timeoutMs,
    query_timeout: t.queryTimeoutMs ?? t.timeoutMs,
    ...(t.tls === undefined ? {} : { ssl: operatorSsl(t.tls) }),
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Asks an instance for its role, position and replication state; never throws. */
export async function probeInstance(t: InstanceTarget): Promise<InstanceProbe> {
  try {
    return await withClient(t, async (c) => {
      const r = (
        await c.query<{ r: boolean; lsn: string | null; rlsn: string | null; ssn: string; pci: string; psn: string; ssl: string; caf: string }>(
          `select pg_is_in_recovery() as r,
                  (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as lsn,
                  pg_last_wal_receive_lsn()::text as rlsn,
                  current_setting('synchronous_standby_names') as ssn,
                  current_setting('primary_conninfo') as pci,
                  current_setting('primary_slot_name') as psn,
                  current_setting('ssl') as ssl,
                  current_setting('ssl_ca_file') as caf`,
        )
      ).rows[0]!;
      const config = await readConfig(c);
      const slots = (await c.query<{ name: string; active: boolean }>("select slot_name as name, active from pg_replication_slots where slot_type = 'physical'")).rows;
      const tlsRuntimeDir = r.ssl === "on" && r.caf.includes("/") ? r.caf.slice(0, r.caf.lastIndexOf("/")) : undefined;
      if (r.r) return { reachable: true, inRecovery: true, lsn: r.lsn ?? undefined, receiveLsn: r.rlsn ?? undefined, primaryConninfo: r.pci, primarySlotName: r.psn, slots, ...(tlsRuntimeDir ? { tlsRuntimeDir } : {}), ...config };
      const peers = (
        await c.query<{ a: string; state: string; sync: string; lag: string | null }>(
          "select application_name as a, state, sync_state as sync, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text as lag from pg_stat_replication",
        )
      ).rows.map((p) => ({ applicationName: p.a, state: p.state, syncState: p.sync, lagBytes: p.lag === null ? undefined : Math.max(0, Number(p.lag)) }));
      const archive = await readArchive(c);
      return { reachable: true, inRecovery: false, lsn: r.lsn ?? undefined, slots, peers, synchronousStandbyNames: r.ssn, ...config, ...(archive ? { archive } : {}) };
    });
  } catch (err) {
    return { reachable: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** postgresql.auto.conf as the server would read it now, what it runs, and what waits for a restart. */
async function readConfig(c: Client): Promise<{ autoConf: Record<string, string>; effective: Record<string, string>; pendingRestart: string[] }> {
  // Every entry, applied or not: a restart parameter's new value shows "setting could not be
  // applied" until the restart, and it is still what the file says.
  const auto = (
    await c.query<{ name: string; setting: string }>(
      "select name, setting from pg_file_settings where sourcefile like '%/postgresql.auto.conf' order by seqno",
    )
  ).rows;
  const autoConf: Record<string, string> = {};
  for (const a of auto) autoConf[a.name] = a.setting;
  const effective: Record<string, string> = {};
  const names = Object.keys(autoConf);
  if (names.length > 0) {
    for (const e of (await c.query<{ name: string; value: string }>("select name, current_setting(name) as value from pg_settings where name = any($1::text[])", [names])).rows) {
      effective[e.name] = e.value;
    }
  }
  const pendingRestart = (await c.query<{ name: string }>("select name from pg_settings where pending_restart order by name")).rows.map((p) => p.name);
  return { autoConf, effective, pendingRestart };
}

/** Outcome of {@link applyParameters}: parameters the server refused, with its message. */
export interface ApplyResult {
  readonly rejected: readonly { readonly name: string; readonly message: string }[];
}

/**
 * Writes parameters with `ALTER SYSTEM` (SET `set`, RESET `reset`), then reloads. A value the
 * server refuses (unknown parameter, invalid value) is reported, not thrown; the rest apply.
 */
export async function applyParameters(t: InstanceTarget, set: Readonly<Record<string, string>>, reset: readonly string[]): Promise<ApplyResult> {
  return withClient(t, async (c) => {
    const rejected: { name: string; message: string }[] = [];
    for (const [k, v] of Object.entries(set)) {
      await c.query(`ALTER SYSTEM SET ${quoteIdent(k)} = ${quoteLiteral(v)}`).catch((err: unknown) => rejected.push({ name: k, message: err instanceof Error ? err.message : String(err) }));
    }
    for (const k of reset) await c.query(`ALTER SYSTEM RESET ${quoteIdent(k)}`).catch((err: unknown) => rejected.push({ name: k, message: err instanceof Error ? err.message : String(err) }));
    await c.query("select pg_reload_conf()");
    return { rejected };
  });
}

/** Drops physical slots that nobody streams from (on a replica: left over from when it was primary). */
export async function dropInactiveSlots(t: InstanceTarget, names: readonly string[]): Promise<void> {
  await withClient(t, async (c) => {
    for (const s of names) await c.query("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active", [s]);
  });
}

/** A WAL position `X/Y` as a number of bytes (exact below 2^53, ample for tests and ordering). */
export function lsnBytes(lsn: string | undefined): number {
  if (!lsn) return -1;
  const [hi, lo] = lsn.split("/");
  return parseInt(hi ?? "0", 16) * 2 ** 32 + parseInt(lo ?? "0", 16);
}

/** Creates the replication role when missing (idempotent); true when it did. */
export async function ensureReplicationRole(t: InstanceTarget, user: string, password: string): Promise<boolean> {
  return withClient(t, async (c) => {
    const exists = await c.query("select 1 from pg_roles where rolname = $1 and rolreplication", [user]);
    if (exists.rowCount !== 0) return false;
    const any = await c.query("select 1 from pg_roles where rolname = $1", [user]);
    // The password travels as a literal inside the statement; statements are never logged here.
    await c.query(`${any.rowCount === 0 ? "CREATE" : "ALTER"} ROLE ${quoteIdent(user)} LOGIN REPLICATION PASSWORD ${quoteLiteral(password)}`);
    return true;
  });
}

/**
 * Creates the bootstrap owner role (LOGIN, with `ownerPassword()`) and its database when missing.
 * @returns what it created, e.g. `["role app", "database app"]` (empty when both existed).
 */
export async function ensureBootstrap(t: InstanceTarget, owner: string, database: string, ownerPassword: () => Promise<string>): Promise<string[]> {
  return withClient(t, async (c) => {
    const created: string[] = [];
    if ((await c.query("select 1 from pg_roles where rolname = $1", [owner])).rowCount === 0) {
      // The password travels as a literal inside the statement; statements are never logged here.
      await c.query(`CREATE ROLE ${quoteIdent(owner)} LOGIN PASSWORD ${quoteLiteral(await ownerPassword())}`);
      created.push(`role ${owner}`);
    }
    if ((await c.query("select 1 from pg_database where datname = $1", [database])).rowCount === 0) {
      await c.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(owner)}`);
      created.push(`database ${database}`);
    }
    return created;
  });
}

/** Creates physical slots `create` (reserving WAL now) and drops inactive slots `drop`. */
export async function syncSlots(t: InstanceTarget, create: readonly string[], drop: readonly string[]): Promise<void> {
  await withClient(t, async (c) => {
    for (const s of create) {
      await c.query("select pg_create_physical_replication_slot($1, true) where not exists (select 1 from pg_replication_slots where slot_name = $1)", [s]);
    }
    for (const s of drop) await c.query("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active", [s]);
  });
}

/** Sets parameters with ALTER SYSTEM and reloads (only reloadable ones are passed here). */
export async function setAndReload(t: InstanceTarget, settings: Readonly<Record<string, string>>): Promise<void> {
  await withClient(t, async (c) => {
    for (const [k, v] of Object.entries(settings)) await c.query(`ALTER SYSTEM SET ${quoteIdent(k)} = ${quoteLiteral(v)}`);
    await c.query("select pg_reload_conf()");
  });
}

/** A `primary_conninfo` value from parameters (each value quoted). */
export function renderConninfo(params: Readonly<Record<string, string>>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${quoteConninfoValue(v)}`)
    .join(" ");
}

/** Parses a libpq `key=value` connection string (values bare or single-quoted with `\` escapes). */
export function parseConninfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/g;
  for (const m of s.matchAll(re)) out[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!;
  return out;
}

/** Promotes a replica and waits (up to `waitSeconds`) until it accepts writes. */
export async function promote(t: InstanceTarget, waitSeconds: number): Promise<boolean> {
  return withClient({ ...t, queryTimeoutMs: t.timeoutMs + waitSeconds * 1000 }, async (c) => (await c.query<{ ok: boolean }>("select pg_promote(true, $1) as ok", [waitSeconds])).rows[0]?.ok ?? false);
}

/**
 * `CHECKPOINT` on a primary, before a switchover pauses its clients: the shutdown checkpoint that
 * fences it then flushes only what was written since, so the pause is shorter under writes.
 * @param waitMs how long the checkpoint may take.
 */
export async function checkpoint(t: InstanceTarget, waitMs: number): Promise<void> {
  await withClient({ ...t, timeoutMs: t.timeoutMs + waitMs }, (c) => c.query("CHECKPOINT"));
}
