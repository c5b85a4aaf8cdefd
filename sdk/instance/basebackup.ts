/**
 * A base backup over PostgreSQL's streaming replication protocol, without `pg_basebackup`: the
 * PostgreSQL packages Setpoint installs (npm's) ship only initdb, pg_ctl and postgres, and Debian's
 * client tools are one major only (pg_basebackup refuses a newer server). The replication protocol's
 * `BASE_BACKUP` command is what pg_basebackup itself sends, so the server does the work: a
 * checkpoint, the data directory (and each tablespace) as tar archives, and with `WAL` the segments
 * the backup needs, appended to the main archive (pg_basebackup's `-X fetch`).
 *
 * Two wire formats, chosen by the server's major:
 * - 14: one `CopyOutResponse` per archive, raw tar data, in the order of the tablespace result set
 *   (the main data directory is the row without an oid).
 * - 15 and later: a single `CopyOutResponse` whose `CopyData` messages start with a type byte:
 *   `n` a new archive (its name and tablespace location), `d` archive data, `p` progress, `m` the
 *   manifest.
 * Both begin with a result set holding the start LSN and timeline and end with one holding the end
 * LSN, then `CommandComplete` and `ReadyForQuery`.
 *
 * WAL is included only from what the server still has at the end of the backup: the caller keeps it
 * there (a replica's slot, created with reserved WAL before the clone, or `wal_keep_size`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, chownSync } from "node:fs";
import { join } from "node:path";
import type { Client} from "pg";
import { type ClientConfig } from "pg";
import { pgClient } from "../postgres/client";
import { ConnectionError, InputError, SetpointError } from "../errors";
import { quoteConninfoValue, quoteLiteral } from "../postgres/quote";
import { TarExtractor, type Owner } from "./tar";

/** Where a base backup is taken from: a server accepting replication connections for `user`. */
export interface ReplicationSource {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  /** `application_name` of the connection (and of a standby's `primary_conninfo`). */
  readonly applicationName?: string;
  /** Seconds to wait for the connection. @default 10 */
  readonly connectTimeoutSeconds?: number;
  /**
   * TLS with libpq's `verify-full` semantics: the source's certificate must chain to `caFile` and
   * carry `serverName` (the source is reached at `host`, an address), TLS 1.3 at least, and the
   * client presents `certFile`/`keyFile` (the replication role's certificate, for `cert`
   * authentication). Files, so a standby's `primary_conninfo` can name them too; or the same as PEM
   * in memory (`ca`, `cert`, `key`: the operator's backups, which never write a key to disk).
   */
  readonly tls?:
    | { readonly serverName: string; readonly caFile: string; readonly certFile: string; readonly keyFile: string }
    | { readonly serverName: string; readonly ca: string; readonly cert: string; readonly key: string };
}

/** What the server reported about a finished base backup. */
export interface BaseBackupResult {
  readonly serverVersionNum: number;
  readonly timeline: number;
  readonly startLsn: string;
  readonly endLsn: string;
  /** Bytes of archive data received (tar, uncompressed). */
  readonly bytes: number;
}

/** One archive of a backup: the main data directory (`tablespace: null`) or one tablespace. */
export interface BackupArchive {
  /** The tablespace's oid, or null for the main data directory. */
  readonly tablespace: string | null;
  /** Where the tablespace lives on the source (absent for the main data directory). */
  readonly location?: string;
}

/** Options of {@link streamBaseBackup}. */
export interface StreamBaseBackupOptions {
  readonly source: ReplicationSource;
  /** The backup's label (in backup_label and pg_stat_progress_basebackup). @default "setpoint" */
  readonly label?: string;
  /** Ask for an immediate checkpoint instead of waiting for a spread one (about 100 s on an idle server). @default true */
  readonly fastCheckpoint?: boolean;
  /** Include the WAL the backup needs in the main archive. @default true */
  readonly wal?: boolean;
  /** Transfer limit in kB/s (32–1048576), as pg_basebackup's `--max-rate`. */
  readonly maxRateKbps?: number;
  readonly signal?: AbortSignal;
}

/** The server refused or failed a base backup (after the connection succeeded). */
export class BaseBackupError extends SetpointError {
  /** The source, `host:port`. */
  readonly source: string;

  constructor(source: string, message: string, options: { cause?: unknown } = {}) {
    super("BASE_BACKUP_FAILED", message, options);
    this.source = source;
  }
}

const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 2 * 1024 * 1024;

/** An async iterable of chunks fed by the protocol handler, pausing the socket when the consumer lags. */
class Channel implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private done = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(private readonly flow: { pause(): void; resume(): void }) {}

  push(chunk: Buffer): void {
    // pg-protocol may reuse its read buffer: keep a copy.
    this.queue.push(Buffer.from(chunk));
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) this.flow.pause();
    this.notify();
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.done = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.length;
        if (this.queued < LOW_WATER) this.flow.resume();
        yield chunk;
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

function sourceName(source: ReplicationSource): string {
  return `${source.host}:${source.port}`;
}

/** Opens a physical replication connection (`replication=true`). */
async function connectReplication(source: ReplicationSource): Promise<Client> {
  const config: ClientConfig & { replication: string } = {
    host: source.host,
    port: source.port,
    user: source.user,
    database: "replication",
    replication: "true",
    connectionTimeoutMillis: (source.connectTimeoutSeconds ?? 10) * 1000,
    ...(source.password === undefined ? {} : { password: source.password }),
    ...(source.applicationName === undefined ? {} : { application_name: source.applicationName }),
    ...(source.tls === undefined
      ? {}
      : {
          ssl: {
            ...("caFile" in source.tls
              ? { ca: readFileSync(source.tls.caFile, "utf8"), cert: readFileSync(source.tls.certFile, "utf8"), key: readFileSync(source.tls.keyFile, "utf8") }
              : { ca: source.tls.ca, cert: source.tls.cert, key: source.tls.key }),
            servername: source.tls.serverName,
            minVersion: "TLSv1.3" as const,
            rejectUnauthorized: true,
          },
        }),
  };
  const client = pgClient(config);
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    const message = cause instanceof Error ? cause.message : String(cause);
    const hint = /pg_hba\.conf/.test(message)
      ? `; the server's pg_hba.conf must allow a replication connection for "${source.user}" from this host`
      : /password authentication failed|SASL|SCRAM/i.test(message)
        ? `; check the replication role's password`
        : /must have the REPLICATION|permission denied to start WAL sender/i.test(message)
          ? `; grant the role REPLICATION`
          : "";
    throw new ConnectionError(sourceName(source), `cannot open a replication connection to ${sourceName(source)} as "${source.user}": ${message}${hint}`, { cause });
  }
  return client;
}

/** The `BASE_BACKUP` command for a server of `versionNum`. */
export function baseBackupCommand(versionNum: number, o: Pick<StreamBaseBackupOptions, "label" | "fastCheckpoint" | "wal" | "maxRateKbps">): string {
  const label = o.label ?? "setpoint";
  const fast = o.fastCheckpoint ?? true;
  const wal = o.wal ?? true;
  if (o.maxRateKbps !== undefined && (!Number.isInteger(o.maxRateKbps) || o.maxRateKbps < 32 || o.maxRateKbps > 1048576)) {
    throw new InputError(`maxRateKbps must be an integer from 32 to 1048576 (kB/s), got ${String(o.maxRateKbps)}`, { propertyPath: "maxRateKbps" });
  }
  if (versionNum >= 150000) {
    const options = [`LABEL ${quoteLiteral(label)}`, `CHECKPOINT '${fast ? "fast" : "spread"}'`, `WAL ${String(wal)}`, "WAIT false", "MANIFEST 'no'"];
    if (o.maxRateKbps !== undefined) options.push(`MAX_RATE ${o.maxRateKbps}`);
    return `BASE_BACKUP (${options.join(", ")})`;
  }
  const parts = ["BASE_BACKUP", `LABEL ${quoteLiteral(label)}`];
  if (fast) parts.push("FAST");
  if (wal) parts.push("WAL");
  // No TABLESPACE_MAP: tablespaces stay symbolic links in pg_tblspc, so a clone can move them.
  parts.push("NOWAIT");
  if (o.maxRateKbps !== undefined) parts.push(`MAX_RATE ${o.maxRateKbps}`);
  return parts.join(" ");
}

type Row = (string | null)[];

/**
 * Streams a base backup of `options.source`. `onArchive` is called once per archive, in the order
 * the server sends them, and must consume `data` (it is backpressured: the socket pauses while the
 * consumer lags). Resolves when the server has confirmed the backup's end and every `onArchive` has
 * finished.
 * @throws {ConnectionError} when no replication connection can be opened (names the fix).
 * @throws {BaseBackupError} when the server refuses or fails the backup, or the stream breaks.
 */
export async function streamBaseBackup(
  options: StreamBaseBackupOptions,
  onArchive: (archive: BackupArchive, data: AsyncIterable<Buffer>) => Promise<void>,
): Promise<BaseBackupResult> {
  return takeBaseBackup(options, asyncConsumer(onArchive));
}

async function takeBaseBackup(options: StreamBaseBackupOptions, open: OpenArchive): Promise<BaseBackupResult> {
  const source = sourceName(options.source);
  options.signal?.throwIfAborted();
  const client = await connectReplication(options.source);
  const abort = (): void => void client.end().catch(() => undefined);
  options.signal?.addEventListener("abort", abort, { once: true });
  try {
    // Aborted while connecting: the listener came too late to fire.
    options.signal?.throwIfAborted();
    const version = await client.query("SHOW server_version_num");
    const versionNum = Number((version.rows[0] as { server_version_num: string }).server_version_num);
    const text = baseBackupCommand(versionNum, options);
    return await runBaseBackup(client, versionNum, text, source, open);
  } catch (err) {
    if (options.signal?.aborted) throw new BaseBackupError(source, `the base backup from ${source} was aborted`, { cause: options.signal.reason });
    if (err instanceof SetpointError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new BaseBackupError(source, `the base backup from ${source} failed: ${message}`, { cause: err });
  } finally {
    options.signal?.removeEventListener("abort", abort);
    await client.end().catch(() => undefined);
  }
}

/** Where one archive's bytes go: pushed in order, then ended (or failed). May throw: the backup stops. */
interface ArchiveSink {
  push(chunk: Buffer): void;
  end(): void;
  fail(err: unknown): void;
}

/** Opens the sink of one archive; `done` settles when its consumer has finished with it. */
type OpenArchive = (archive: BackupArchive, flow: { pause(): void; resume(): void }) => { sink: ArchiveSink; done: Promise<void> };

/** {@link OpenArchive} for an async consumer of each archive's chunks (backpressured). */
function asyncConsumer(onArchive: (archive: BackupArchive, data: AsyncIterable<Buffer>) => Promise<void>): OpenArchive {
  return (archive, flow) => {
    const channel = new Channel(flow);
    return { sink: channel, done: onArchive(archive, channel) };
  };
}

async function runBaseBackup(client: Client, versionNum: number, text: string, source: string, open: OpenArchive): Promise<BaseBackupResult> {
  // Internal but stable since pg 8: the protocol connection and its socket.
  const connection = (client as unknown as { connection: NodeJS.EventEmitter & { stream: { pause(): void; resume(): void } } }).connection;
  const flow = connection.stream;
  const resultSets: Row[][] = [];
  let rows: Row[] | undefined;
  let current: ArchiveSink | undefined;
  let copyIndex = 0;
  let bytes = 0;
  const consumers: Promise<void>[] = [];
  let consumerError: { err: unknown } | undefined;
  const legacy = versionNum < 150000;

  // A consumer that fails stops the transfer (an async one's channel would otherwise fill and pause
  // the socket forever); its error is the one reported.
  const stopWith = (err: unknown): void => {
    consumerError ??= { err };
    current?.fail(err);
    current = undefined;
    flow.resume();
    void client.end().catch(() => undefined);
  };
  const endCurrent = (): void => {
    const sink = current;
    current = undefined;
    sink?.end();
  };
  const startArchive = (archive: BackupArchive): void => {
    endCurrent();
    const { sink, done } = open(archive, flow);
    current = sink;
    consumers.push(done.catch(stopWith));
  };
  const closeRows = (): void => {
    if (rows !== undefined) resultSets.push(rows);
    rows = undefined;
  };
  const onCopyOut = (): void => {
    closeRows();
    if (!legacy) return;
    // 14: one copy per tablespace, in the order of the second result set.
    const tablespaces = resultSets[1] ?? [];
    const row = tablespaces[copyIndex++];
    if (row === undefined) throw new BaseBackupError(source, "the server sent more archives than tablespaces");
    startArchive(row[0] === null ? { tablespace: null } : { tablespace: row[0]!, location: row[1] ?? "" });
  };
  const onCopyData = (chunk: Buffer): void => {
    if (legacy) {
      bytes += chunk.length;
      current?.push(chunk);
      return;
    }
    const kind = String.fromCharCode(chunk[0]!);
    const body = chunk.subarray(1);
    if (kind === "n") {
      const nameEnd = body.indexOf(0);
      const name = body.subarray(0, nameEnd).toString("utf8");
      const location = body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString("utf8");
      const oid = /^(\d+)\.tar$/.exec(name)?.[1];
      startArchive(oid === undefined ? { tablespace: null } : { tablespace: oid, location });
    } else if (kind === "d") {
      bytes += body.length;
      current?.push(body);
    } else if (kind === "m") {
      endCurrent();
    }
    // "p" (progress) carries nothing we need.
  };
  const guarded =
    <A extends unknown[]>(f: (...args: A) => void) =>
    (...args: A): void => {
      if (consumerError !== undefined) return;
      try {
        f(...args);
      } catch (err) {
        stopWith(err);
      }
    };
  const copyOut = guarded(onCopyOut);
  const copyDone = guarded(() => legacy && endCurrent());

  connection.on("copyOutResponse", copyOut);
  connection.on("copyDone", copyDone);
  try {
    await new Promise<void>((resolve, reject) => {
      client.query({
        submit: (c: { query(text: string): void }) => c.query(text),
        handleRowDescription: () => {
          closeRows();
          rows = [];
        },
        handleDataRow: (msg: { fields: Row }) => rows?.push(msg.fields),
        handleCommandComplete: () => closeRows(),
        handleEmptyQuery: () => undefined,
        handleCopyData: guarded((msg: { chunk: Buffer }) => onCopyData(msg.chunk)),
        handlePortalSuspended: () => undefined,
        // An error before ReadyForQuery: the client reports ReadyForQuery next, or the socket closed.
        handleError: (err: Error) => reject(err),
        handleReadyForQuery: () => resolve(),
      } as unknown as Parameters<Client["query"]>[0]);
    });
    endCurrent();
  } catch (err) {
    // Let every consumer stop before reporting, so a caller's cleanup never races a writer.
    current?.fail(err);
    current = undefined;
    await Promise.all(consumers);
    throw consumerError === undefined ? err : consumerError.err;
  } finally {
    connection.off("copyOutResponse", copyOut);
    connection.off("copyDone", copyDone);
  }
  closeRows();
  await Promise.all(consumers);
  if (consumerError !== undefined) throw consumerError.err;
  const start = resultSets[0]?.[0];
  const end = resultSets[resultSets.length - 1]?.[0];
  if (start === undefined || end === undefined || resultSets.length < 3) {
    throw new BaseBackupError(source, `the server ended the base backup without its start and end positions (${resultSets.length} result sets)`);
  }
  return { serverVersionNum: versionNum, startLsn: start[0] ?? "", timeline: Number(start[1]), endLsn: end[0] ?? "", bytes };
}

/** Options of {@link cloneInstance}. */
export interface CloneOptions {
  readonly source: ReplicationSource;
  /** The new data directory: absent or empty. */
  readonly pgdata: string;
  /** Write the standby configuration: `standby.signal`, `primary_conninfo` (and `primary_slot_name`). @default true */
  readonly standby?: boolean;
  /** The physical replication slot the standby streams through (must exist on the source, with reserved WAL). */
  readonly slot?: string;
  readonly label?: string;
  /**
   * Where tablespaces go on this host, by their location on the source (pg_basebackup's
   * `--tablespace-mapping`); unmapped ones keep their source location.
   */
  readonly tablespaceMapping?: Readonly<Record<string, string>>;
  /** Owner of every file (a root process cloning for the server's user). */
  readonly owner?: Owner;
  readonly signal?: AbortSignal;
}

/**
 * `primary_conninfo` for a standby of `source`: libpq key=value, each value quoted. With TLS,
 * `host` is the name the certificate carries and `hostaddr` the address (libpq verifies the one and
 * connects to the other), `sslmode=verify-full`, and the client certificate's files.
 */
export function primaryConninfo(source: ReplicationSource): string {
  const t = source.tls;
  if (t !== undefined && !("caFile" in t)) throw new InputError("primary_conninfo names TLS files: give tls.caFile, tls.certFile and tls.keyFile, not PEM in memory", { propertyPath: "tls" });
  const pairs: [string, string][] = [
    ...(t === undefined
      ? ([["host", source.host]] as [string, string][])
      : ([
          ["host", t.serverName],
          ["hostaddr", source.host],
          ["sslmode", "verify-full"],
          ["sslrootcert", t.caFile],
          ["sslcert", t.certFile],
          ["sslkey", t.keyFile],
          ["ssl_min_protocol_version", "TLSv1.3"],
        ] as [string, string][])),
    ["port", String(source.port)],
    ["user", source.user],
    ...(source.password === undefined ? [] : ([["password", source.password]] as [string, string][])),
    ...(source.applicationName === undefined ? [] : ([["application_name", source.applicationName]] as [string, string][])),
  ];
  return pairs.map(([k, v]) => `${k}=${quoteConninfoValue(v)}`).join(" ");
}

/** A configuration file's string value (`'...'`, quotes doubled) — the form ALTER SYSTEM writes. */
function configString(value: string): string {
  if (value.includes("\n") || value.includes("\0")) throw new InputError("a configuration value cannot contain a newline or NUL byte");
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

function isEmptyDir(path: string): boolean {
  return !existsSync(path) || readdirSync(path).length === 0;
}

/**
 * Clones `options.source` into `options.pgdata` over the replication protocol: a fast checkpoint,
 * the WAL the copy needs included, tablespaces extracted to their source locations, and (by
 * default) the standby configuration written. On any failure everything it wrote is removed, so a
 * retry starts from an empty directory; the source is never changed.
 * @throws {InputError} when `pgdata` or a tablespace location is not empty (nothing is touched).
 * @throws {ConnectionError | BaseBackupError} see {@link streamBaseBackup}.
 */
export async function cloneInstance(options: CloneOptions): Promise<BaseBackupResult> {
  const { pgdata } = options;
  if (!isEmptyDir(pgdata)) {
    throw new InputError(`the data directory ${pgdata} is not empty; a clone needs an empty directory (remove its contents, or start the existing data instead)`, { propertyPath: "pgdata" });
  }
  const created: string[] = [];
  const createdPgdata = !existsSync(pgdata);
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  if (options.owner) chownSync(pgdata, options.owner.uid, options.owner.gid);
  try {
    const mapping = options.tablespaceMapping ?? {};
    const relocate = (location: string): string => mapping[location] ?? location;
    // Extracted synchronously as the data arrives: no copy of the protocol's buffers, no queue.
    const open: OpenArchive = (archive) => {
      const target = archive.tablespace === null ? pgdata : relocate(archive.location ?? "");
      if (archive.tablespace !== null) {
        if (target === "") throw new BaseBackupError(sourceName(options.source), `tablespace ${archive.tablespace} has no location`);
        if (!isEmptyDir(target)) {
          throw new InputError(`tablespace ${archive.tablespace}'s location ${target} is not empty on this host; a clone writes it there as on the source`, { propertyPath: "tablespace" });
        }
        if (!existsSync(target)) created.push(target);
      }
      const extractor = new TarExtractor(target, options.owner, { linkTarget: (name, link) => (name.startsWith("pg_tblspc/") ? relocate(link) : link) });
      return { sink: { push: (chunk) => extractor.write(chunk), end: () => void extractor.end(), fail: () => extractor.abandon() }, done: Promise.resolve() };
    };
    const result = await takeBaseBackup({ source: options.source, label: options.label ?? "setpoint clone", ...(options.signal ? { signal: options.signal } : {}) }, open);
    if (options.standby ?? true) writeStandbyConfig(pgdata, options.source, options.slot, options.owner);
    return result;
  } catch (err) {
    for (const dir of created) rmSync(dir, { recursive: true, force: true });
    if (createdPgdata) rmSync(pgdata, { recursive: true, force: true });
    else for (const entry of readdirSync(pgdata)) rmSync(join(pgdata, entry), { recursive: true, force: true });
    throw err;
  }
}

/** `standby.signal` plus `primary_conninfo` / `primary_slot_name` appended to postgresql.auto.conf (later lines win). */
export function writeStandbyConfig(pgdata: string, source: ReplicationSource, slot: string | undefined, owner: Owner | undefined): void {
  const signal = join(pgdata, "standby.signal");
  writeFileSync(signal, "", { mode: 0o600 });
  const auto = join(pgdata, "postgresql.auto.conf");
  const lines = [`primary_conninfo = ${configString(primaryConninfo(source))}`];
  if (slot !== undefined) lines.push(`primary_slot_name = ${configString(slot)}`);
  appendFileSync(auto, `${lines.join("\n")}\n`, { mode: 0o600 });
  if (owner) for (const f of [signal, auto]) chownSync(f, owner.uid, owner.gid);
}

export { extractTar, TarError, type Owner } from "./tar";
