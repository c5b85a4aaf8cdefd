/**
 * What the instance manager is told, through its container's environment (the pod spec the
 * operator writes, sdk/operator/cluster/objects.ts). The environment is a trust boundary: it is
 * read once, checked, and every problem names the variable and what it may hold. Passwords come
 * from Secrets as environment variables; they are read here and never passed on to `postgres`,
 * written into logs or put on a command line.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { parseObjectStoreOptions, type ObjectStoreOptions } from "../backup/config";
import type { RecoveryTarget } from "../backup/restore";
import { InputError } from "../errors";
import { STATUS_PORT } from "./status-server";
import { isSupportedMajor, SUPPORTED_MAJORS, type PostgresMajor } from "../postgres/versions";

/** Environment variable names of the instance manager's contract with the pod spec. */
export const INSTANCE_ENV = {
  /** The data directory (absent or empty on a pod's first start, or a data directory). */
  pgdata: "PGDATA",
  /** PostgreSQL major of the data directory and the binaries to run. */
  major: "SETPOINT_POSTGRES_MAJOR",
  /** `primary` (bootstraps a new cluster when PGDATA is empty) or `replica` (clones the primary). */
  role: "SETPOINT_ROLE",
  /** The pod's uid (downward API): what happens once per pod, not once per container start. */
  podUid: "SETPOINT_POD_UID",
  /** The superuser's name. @default postgres */
  superuser: "SETPOINT_SUPERUSER",
  /** The superuser's password (from the cluster's Secret): initdb's `--pwfile`. */
  superuserPassword: "SETPOINT_SUPERUSER_PASSWORD",
  /** A replica's source: the primary's address. */
  primaryHost: "SETPOINT_PRIMARY_HOST",
  /** The primary's port. @default the instance's own port */
  primaryPort: "SETPOINT_PRIMARY_PORT",
  /** The role replicas clone and stream as. */
  replicationUser: "SETPOINT_REPLICATION_USER",
  /** Its password (from the cluster's replication Secret). */
  replicationPassword: "SETPOINT_REPLICATION_PASSWORD",
  /** The replica's replication slot on the primary (created by the controller). */
  slot: "SETPOINT_REPLICATION_SLOT",
  /** The replica's `application_name` (what `synchronous_standby_names` lists). @default the slot */
  applicationName: "SETPOINT_APPLICATION_NAME",
  /** The port the server listens on (libpq's variable, as PostgreSQL itself reads it). @default 5432 */
  port: "PGPORT",
  /** The server's `listen_addresses`. @default * */
  listenAddresses: "SETPOINT_LISTEN_ADDRESSES",
  /** Directory of the server's Unix socket (the readiness probe connects there). @default /tmp */
  socketDir: "SETPOINT_SOCKET_DIR",
  /**
   * Optional file whose settings are appended to `postgresql.conf` right after initdb: defaults
   * of an environment (e.g. small buffers for tests), below `ALTER SYSTEM` and server arguments.
   */
  initialConf: "SETPOINT_INITIAL_CONF",
  /**
   * The client authentication file Setpoint gives the instance (the cluster's ConfigMap, mounted).
   * The manager keeps a private copy in the runtime directory for `hba_file` and puts it back
   * whenever it drifts (files.ts).
   */
  hbaSource: "SETPOINT_HBA_SOURCE",
  /**
   * The cluster's parameters (`parameters.json` of its ConfigMap, mounted): written into a new data
   * directory right after initdb, so the first start runs them (parameters.ts, ADR 0043).
   */
  parametersSource: "SETPOINT_PARAMETERS_SOURCE",
  /**
   * A directory holding the server's `tls.crt`, `tls.key` and the authority's `ca.crt` (a
   * `kubernetes.io/tls` Secret, mounted; cert-manager's shape). With it the server runs TLS only
   * (`ssl`, TLS 1.3 at least) and verifies client certificates with `ca.crt`; renewed files are
   * picked up by a reload, never a restart.
   */
  tlsServerDir: "SETPOINT_TLS_SERVER_DIR",
  /** A directory holding the replication role's client certificate (`tls.crt`, `tls.key`): a replica clones and streams with it. */
  tlsClientDir: "SETPOINT_TLS_CLIENT_DIR",
  /** The name a replica verifies its primary's certificate against (libpq `verify-full`; the primary is reached by address). */
  tlsServerName: "SETPOINT_TLS_SERVER_NAME",
  /** A private writable directory for the manager's copies of those files. @default /tmp/setpoint */
  runtimeDir: "SETPOINT_RUNTIME_DIR",
  /** How often (ms) the manager compares its copies with their sources. @default 10000 */
  syncIntervalMs: "SETPOINT_SYNC_INTERVAL_MS",
  /**
   * The address the manager's status endpoint listens on (status-server.ts; the pod's IP from the
   * downward API). Unset: no endpoint (the `ready` command still answers).
   */
  statusAddress: "SETPOINT_STATUS_ADDRESS",
  /** The status endpoint's port. @default 8000 */
  statusPort: "SETPOINT_STATUS_PORT",
  /**
   * Continuous WAL archiving (spec.backup): the destination as JSON (endpoint, region,
   * forcePathStyle, bucket, prefix; never a credential). Set only when the cluster archives.
   */
  backupDestination: "SETPOINT_BACKUP_DESTINATION",
  /** The destination's access key id and secret (secretKeyRef to the user's Secret). */
  backupAccessKeyId: "SETPOINT_BACKUP_ACCESS_KEY_ID",
  backupSecretAccessKey: "SETPOINT_BACKUP_SECRET_ACCESS_KEY",
  /**
   * How a replica with an empty PGDATA gets its data: `primary` (a base backup streamed from the
   * primary, the default) or `object-store` (the newest base backup of the backup destination, then
   * the archive's WAL, then streaming; the primary's clone when the store has none or fails).
   */
  replicaBootstrap: "SETPOINT_REPLICA_BOOTSTRAP",
  /**
   * bootstrap.recovery: the source bucket as JSON (same shape as the destination), and the target
   * as JSON (`{ kind: "latest" } | { kind: "time", time, inclusive? } | { kind: "lsn", lsn, inclusive? } | { kind: "name", name }`
   * plus an optional `backupId`). Set only on a restored cluster's primary pods.
   */
  recoverySource: "SETPOINT_RECOVERY_SOURCE",
  recoveryTarget: "SETPOINT_RECOVERY_TARGET",
  recoveryAccessKeyId: "SETPOINT_RECOVERY_ACCESS_KEY_ID",
  recoverySecretAccessKey: "SETPOINT_RECOVERY_SECRET_ACCESS_KEY",
  /**
   * The command line (words without spaces) that runs the WAL CLI, set by the manager itself for
   * `postgres` (archive_command is `$SETPOINT_WAL_COMMAND archive %p %f`); may be given to override.
   */
  walCommand: "SETPOINT_WAL_COMMAND",
  /** A restored cluster's bootstrap owner: its password is set anew after the restore (the source's is not this cluster's). */
  ownerName: "SETPOINT_OWNER",
  ownerPassword: "SETPOINT_OWNER_PASSWORD",
  /** Where the container's termination message goes (the kubelet's terminationMessagePath). @default /dev/termination-log */
  terminationLog: "SETPOINT_TERMINATION_LOG",
} as const;

/** Where a replica clones from and streams from. */
export interface ReplicaSource {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly slot: string;
  readonly applicationName: string;
  /** TLS to the source (verify-full with the cluster's authority, the replication role's client certificate). */
  readonly tls?: ReplicaTls;
}

/** How a replica reaches its source over TLS: files in the manager's runtime directory. */
export interface ReplicaTls {
  /** The name the source's certificate must carry. */
  readonly serverName: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** The files the manager keeps in its runtime directory, from their sources (files.ts). */
export interface ManagedSources {
  readonly runtimeDir: string;
  readonly hbaSource: string | undefined;
  readonly tlsServerDir: string | undefined;
  readonly tlsClientDir: string | undefined;
  readonly syncIntervalMs: number;
}

/** The instance manager's settings (see {@link INSTANCE_ENV}). */
export interface InstanceSettings {
  readonly pgdata: string;
  readonly major: PostgresMajor;
  readonly role: "primary" | "replica";
  readonly podUid: string | undefined;
  readonly superuser: string;
  /** Needed only to bootstrap (initdb). */
  readonly superuserPassword: string | undefined;
  /** Set for a replica. */
  readonly source: ReplicaSource | undefined;
  readonly port: number;
  readonly listenAddresses: string;
  readonly socketDir: string;
  readonly initialConf: string | undefined;
  /** {@link INSTANCE_ENV.parametersSource}. */
  readonly parametersSource: string | undefined;
  readonly managed: ManagedSources;
  /** Where the status endpoint listens; undefined: none. */
  readonly status: { readonly host: string; readonly port: number } | undefined;
  /** Where WAL is archived, when the cluster archives (credentials from the environment). */
  readonly backup: ObjectStoreOptions | undefined;
  /** What to restore when PGDATA is empty and this pod bootstraps the cluster. */
  readonly recovery: RecoverySettings | undefined;
  /** {@link INSTANCE_ENV.replicaBootstrap}; `object-store` only with {@link backup}. */
  readonly replicaBootstrap: ReplicaBootstrap;
}

/** Where a new replica's data comes from (see {@link INSTANCE_ENV.replicaBootstrap}). */
export type ReplicaBootstrap = "primary" | "object-store";

/** A restore bootstrap (`bootstrap.recovery`). */
export interface RecoverySettings {
  readonly source: ObjectStoreOptions;
  readonly target: RecoveryTarget;
  readonly backupId: string | undefined;
}

const storeJson = z
  .object({ endpoint: z.string(), region: z.string().optional(), forcePathStyle: z.boolean().optional(), bucket: z.string(), prefix: z.string().optional() })
  .strict();
const targetJson = z.union([
  z.object({ kind: z.literal("latest"), backupId: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal("time"), time: z.iso.datetime({ offset: true }), inclusive: z.boolean().optional(), backupId: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal("lsn"), lsn: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/), inclusive: z.boolean().optional(), backupId: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal("name"), name: z.string().min(1), backupId: z.string().min(1).optional() }).strict(),
]);

function json(env: NodeJS.ProcessEnv, name: string): unknown {
  try {
    return JSON.parse(env[name]!) as unknown;
  } catch {
    throw new InputError(`${name} must be JSON`, { propertyPath: name });
  }
}

/** The object store named by variable `name`, its credentials from the variables `idVar` and `secretVar`. */
function store(env: NodeJS.ProcessEnv, name: string, idVar: string, secretVar: string): ObjectStoreOptions {
  const raw = storeJson.safeParse(json(env, name));
  if (!raw.success) throw new InputError(`${name}: ${raw.error.issues[0]!.path.join(".") || "(root)"}: ${raw.error.issues[0]!.message}`, { propertyPath: name });
  return parseObjectStoreOptions({ ...raw.data, credentials: { kind: "env", accessKeyIdVar: idVar, secretAccessKeyVar: secretVar } }, name);
}

function recovery(env: NodeJS.ProcessEnv): RecoverySettings | undefined {
  const E = INSTANCE_ENV;
  if (!env[E.recoverySource]) return undefined;
  const source = store(env, E.recoverySource, E.recoveryAccessKeyId, E.recoverySecretAccessKey);
  const t = targetJson.safeParse(env[E.recoveryTarget] ? json(env, E.recoveryTarget) : { kind: "latest" });
  if (!t.success) throw new InputError(`${E.recoveryTarget}: ${t.error.issues[0]!.message}`, { propertyPath: E.recoveryTarget });
  const v = t.data;
  // The time as written (a Date would drop its microseconds); inclusive unless it says false.
  const inclusive = "inclusive" in v && v.inclusive === false ? { inclusive: false } : {};
  const target: RecoveryTarget =
    v.kind === "time" ? { kind: "time", time: v.time, ...inclusive } : v.kind === "lsn" ? { kind: "lsn", lsn: v.lsn, ...inclusive } : v.kind === "name" ? { kind: "name", name: v.name } : { kind: "latest" };
  return { source, target, backupId: v.backupId };
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InputError(`${name} must be a TCP port (1-65535), got ${JSON.stringify(raw)}`, { propertyPath: name });
  return n;
}

function statusEndpoint(env: NodeJS.ProcessEnv): InstanceSettings["status"] {
  const host = env[INSTANCE_ENV.statusAddress];
  if (host === undefined || host === "") return undefined;
  if (!isIP(host)) throw new InputError(`${INSTANCE_ENV.statusAddress} must be an IP address (the pod's, from the downward API status.podIP), got ${JSON.stringify(host)}`, { propertyPath: INSTANCE_ENV.statusAddress });
  return { host, port: port(env, INSTANCE_ENV.statusPort, STATUS_PORT) };
}

/**
 * Reads and checks the settings from `env`. Pure.
 * @throws {InputError} naming the variable when one is missing or malformed (never echoing a password).
 */
export function instanceSettings(env: NodeJS.ProcessEnv): InstanceSettings {
  const E = INSTANCE_ENV;
  const required = (name: string, why: string): string => {
    const v = env[name];
    if (v === undefined || v === "") throw new InputError(`${name} is not set: ${why}`, { propertyPath: name });
    return v;
  };
  const pgdata = required(E.pgdata, "the instance manager needs the data directory's path");
  if (!pgdata.startsWith("/")) throw new InputError(`${E.pgdata} must be an absolute path, got ${JSON.stringify(pgdata)}`, { propertyPath: E.pgdata });
  const majorRaw = required(E.major, `the PostgreSQL major to run (one of ${SUPPORTED_MAJORS.join(", ")})`);
  const major = Number(majorRaw);
  if (!isSupportedMajor(major)) throw new InputError(`${E.major} must be one of ${SUPPORTED_MAJORS.join(", ")}, got ${JSON.stringify(majorRaw)}`, { propertyPath: E.major });
  const role = required(E.role, "primary or replica");
  if (role !== "primary" && role !== "replica") throw new InputError(`${E.role} must be "primary" or "replica", got ${JSON.stringify(role)}`, { propertyPath: E.role });
  const ownPort = port(env, E.port, 5432);
  const absolute = (name: string): string | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    if (!v.startsWith("/")) throw new InputError(`${name} must be an absolute path, got ${JSON.stringify(v)}`, { propertyPath: name });
    return v;
  };
  const intervalRaw = env[E.syncIntervalMs];
  const syncIntervalMs = intervalRaw === undefined || intervalRaw === "" ? 10_000 : Number(intervalRaw);
  if (!Number.isInteger(syncIntervalMs) || syncIntervalMs < 100 || syncIntervalMs > 3_600_000) {
    throw new InputError(`${E.syncIntervalMs} must be a whole number of milliseconds from 100 to 3600000, got ${JSON.stringify(intervalRaw)}`, { propertyPath: E.syncIntervalMs });
  }
  const managed: ManagedSources = {
    runtimeDir: absolute(E.runtimeDir) ?? "/tmp/setpoint",
    hbaSource: absolute(E.hbaSource),
    tlsServerDir: absolute(E.tlsServerDir),
    tlsClientDir: absolute(E.tlsClientDir),
    syncIntervalMs,
  };
  let source: ReplicaSource | undefined;
  if (role === "replica") {
    const slot = required(E.slot, "a replica streams through its own replication slot on the primary");
    source = {
      host: required(E.primaryHost, "a replica clones and streams from the primary"),
      port: port(env, E.primaryPort, ownPort),
      user: required(E.replicationUser, "the role replicas clone and stream as"),
      password: required(E.replicationPassword, "the replication role's password (from the cluster's replication Secret)"),
      slot,
      applicationName: env[E.applicationName] || slot,
    };
    if (managed.tlsClientDir !== undefined || managed.tlsServerDir !== undefined) {
      if (managed.tlsClientDir === undefined || managed.tlsServerDir === undefined) {
        throw new InputError(`a replica over TLS needs both ${E.tlsServerDir} (the authority's ca.crt) and ${E.tlsClientDir} (the replication role's client certificate)`, {
          propertyPath: managed.tlsClientDir === undefined ? E.tlsClientDir : E.tlsServerDir,
        });
      }
      const files = runtimeFiles(managed.runtimeDir);
      source = {
        ...source,
        tls: { serverName: required(E.tlsServerName, "the name the primary's certificate carries (verify-full)"), caFile: files.ca, certFile: files.clientCert, keyFile: files.clientKey },
      };
    }
  }
  return {
    pgdata,
    major,
    role,
    podUid: env[E.podUid] || undefined,
    superuser: env[E.superuser] || "postgres",
    superuserPassword: env[E.superuserPassword] || undefined,
    source,
    port: ownPort,
    listenAddresses: env[E.listenAddresses] || "*",
    socketDir: env[E.socketDir] || "/tmp",
    initialConf: env[E.initialConf] || undefined,
    parametersSource: absolute(E.parametersSource),
    managed,
    status: statusEndpoint(env),
    backup: env[E.backupDestination] ? store(env, E.backupDestination, E.backupAccessKeyId, E.backupSecretAccessKey) : undefined,
    recovery: recovery(env),
    replicaBootstrap: replicaBootstrap(env),
  };
}

function replicaBootstrap(env: NodeJS.ProcessEnv): ReplicaBootstrap {
  const E = INSTANCE_ENV;
  const v = env[E.replicaBootstrap] || "primary";
  if (v !== "primary" && v !== "object-store") throw new InputError(`${E.replicaBootstrap} must be "primary" or "object-store", got ${JSON.stringify(v)}`, { propertyPath: E.replicaBootstrap });
  if (v === "object-store" && !env[E.backupDestination]) {
    throw new InputError(`${E.replicaBootstrap}=object-store needs ${E.backupDestination}: replicas bootstrap from the cluster's own backups`, { propertyPath: E.replicaBootstrap });
  }
  return v;
}

/** Where the manager keeps its copies in `runtimeDir`. Pure. */
export function runtimeFiles(runtimeDir: string): { hba: string; serverCert: string; serverKey: string; ca: string; clientCert: string; clientKey: string } {
  return {
    hba: `${runtimeDir}/pg_hba.conf`,
    serverCert: `${runtimeDir}/server.crt`,
    serverKey: `${runtimeDir}/server.key`,
    ca: `${runtimeDir}/ca.crt`,
    clientCert: `${runtimeDir}/replication.crt`,
    clientKey: `${runtimeDir}/replication.key`,
  };
}

/**
 * `env` without the passwords: what initdb and `postgres` get (they need none of them). The
 * archive destination's credentials stay: `archive_command` runs as a child of `postgres`. The
 * recovery source's go (the restore's own server gets them explicitly, see backup.ts).
 */
export function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out[INSTANCE_ENV.superuserPassword];
  delete out[INSTANCE_ENV.replicationPassword];
  delete out[INSTANCE_ENV.ownerPassword];
  delete out[INSTANCE_ENV.recoveryAccessKeyId];
  delete out[INSTANCE_ENV.recoverySecretAccessKey];
  delete out.PGPASSWORD;
  return out;
}
