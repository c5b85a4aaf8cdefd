/**
 * The `PostgresCluster` custom resource: one PostgreSQL primary with optional streaming
 * replicas, its storage, configuration and services. Shared by the Pulumi component (which
 * creates it) and the operator (which makes it real).
 */
import { z } from "zod";
import { SUPPORTED_MAJORS } from "../postgres/versions";
import { baseStatusShape, duration, intRange, localObjectName, quantity, withRules } from "./common";
import { managedRolesSchema, rolesStatusSchema } from "./roles";

/** Most instances (one primary plus replicas) a cluster may have. */
export const MAX_INSTANCES = 9;

const lowestMajor = SUPPORTED_MAJORS[0];
const highestMajor = SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1]!;

const autoGrowSchema = z
  .object({
    thresholdPercent: intRange(50, 95).default(80).describe("Grow when the volume is fuller than this percentage."),
    step: quantity.describe("How much to add each time, e.g. 5Gi."),
    limit: quantity.describe("Never grow beyond this size, e.g. 100Gi."),
  })
  .describe("Grow the volume automatically when it fills up (needs a StorageClass that allows expansion).");

const storageSchema = z
  .object({
    size: quantity.describe("Size of each instance's data volume, e.g. 10Gi."),
    storageClass: z.string().min(1).optional().describe("StorageClass of the volumes; the cluster default when omitted."),
    autoGrow: autoGrowSchema.optional(),
  })
  .describe("Persistent storage of each instance.");

const resourceListSchema = z.record(z.string(), quantity);

const resourcesSchema = z
  .object({
    requests: resourceListSchema.optional().describe("Minimum resources, e.g. { cpu: 500m, memory: 1Gi }."),
    limits: resourceListSchema.optional().describe("Maximum resources, e.g. { memory: 2Gi }."),
  })
  .describe("CPU and memory of each PostgreSQL container.");

const pgIdentifier = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z_][a-z0-9_]*$/, { error: "must be a lowercase PostgreSQL identifier ([a-z_][a-z0-9_]*)" });

/** A five-field cron expression (minute hour day-of-month month day-of-week), e.g. `0 3 * * *`. */
export const CRON_PATTERN = /^\s*[0-9*,/-]+\s+[0-9*,/-]+\s+[0-9*,/?LW-]+\s+[0-9A-Za-z*,/-]+\s+[0-9A-Za-z*,/?L#-]+\s*$/;

/** A retention period such as `30d`, `4w` or `12h`: base backups older than this (and WAL only they need) are deleted. */
export const RETENTION_PATTERN = /^[1-9][0-9]{0,4}[hdw]$/;

const s3BucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: "bucket must be 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit" });

const objectStoreSchema = z
  .object({
    endpoint: z.url({ protocol: /^https?$/, error: "endpoint must be an http:// or https:// URL" }).describe("S3 endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com."),
    region: z.string().min(1).default("us-east-1").describe("Signing region."),
    forcePathStyle: z.boolean().default(true).describe("Path-style addressing (endpoint/bucket/key), which most S3-compatible servers need."),
    bucket: s3BucketName.describe("Bucket name."),
    prefix: z
      .string()
      .regex(/^(?:[A-Za-z0-9!_.*'()-]+(?:\/[A-Za-z0-9!_.*'()-]+)*)?$/, { error: "prefix must be path segments of letters, digits and !_.*'()- separated by single '/', without a leading or trailing '/'" })
      .optional()
      .describe("Key prefix of this cluster's objects; <namespace>/<cluster> when omitted."),
    credentials: z
      .object({
        secretName: localObjectName.describe("Secret in the cluster's namespace holding the access key and secret."),
        accessKeyIdKey: z.string().min(1).default("AWS_ACCESS_KEY_ID").describe("Key of the access key id in the Secret."),
        secretAccessKeyKey: z.string().min(1).default("AWS_SECRET_ACCESS_KEY").describe("Key of the secret access key in the Secret."),
      })
      .describe("Where the credentials come from (never written anywhere else)."),
  })
  .describe("An S3-compatible bucket (and a prefix in it).");

const backupSchema = z
  .object({
    destination: objectStoreSchema,
    archiveTimeout: duration.default("5m").describe("archive_timeout: the longest a finished transaction waits before its WAL segment is archived (the RPO bound under a light load)."),
    schedule: z
      .string()
      .regex(CRON_PATTERN, { error: "schedule must be a five-field cron expression, e.g. '0 3 * * *'" })
      .optional()
      .describe("When to take base backups (cron, UTC); none scheduled when omitted."),
    retention: z
      .string()
      .regex(RETENTION_PATTERN, { error: "retention must be a number of hours, days or weeks, e.g. 30d, 4w, 12h" })
      .optional()
      .describe("Keep base backups (and the WAL they need) for this long; nothing deleted when omitted."),
    target: z.enum(["prefer-standby", "primary"]).default("prefer-standby").describe("Take base backups from a healthy replica when there is one, or always from the primary."),
    compression: z
      .enum(["none", "gzip"])
      .default("none")
      .describe("Base backups' archives: as they are (fastest to take and restore), or gzip (level 1, on several threads: smaller in the bucket, CPU on the operator). WAL segments are always gzip-compressed."),
    replicaBootstrap: z
      .enum(["primary", "object-store"])
      .default("primary")
      .describe(
        "Where a new replica's data comes from: a base backup streamed from the primary, or the newest base backup in the destination plus the archived WAL (the primary then sends only what the archive lacks); a replica whose store has no usable backup, or only one whose archived WAL since weighs more than twice its data, clones the primary.",
      ),
  })
  .describe("Continuous WAL archiving and base backups to an S3-compatible bucket.");

const recoveryTargetSchema = withRules(
  z
    .object({
      time: z.iso.datetime({ offset: true, error: "target.time must be an RFC 3339 time with a zone, e.g. 2026-01-02T03:04:05Z" }).optional().describe("Recover up to this time."),
      lsn: z
        .string()
        .regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, { error: "target.lsn must be an LSN such as 0/1A2B3C4" })
        .optional()
        .describe("Recover up to this WAL position."),
      name: z.string().min(1).max(63).optional().describe("Recover up to this named restore point (pg_create_restore_point)."),
      inclusive: z.boolean().default(true).describe("Stop just after (true) or just before (false) the target."),
    })
    .describe("Where to stop replaying WAL; the latest archived point when omitted."),
  [
    {
      cel: "[has(self.time), has(self.lsn), has(self.name)].filter(x, x).size() <= 1",
      message: "target may set at most one of time, lsn, name",
      field: "time",
      check: (t) => [t.time, t.lsn, t.name].filter((x) => x !== undefined).length <= 1,
    },
  ],
);

const recoverySchema = z
  .object({
    source: objectStoreSchema.describe("The bucket and prefix the source cluster archives to (its backup.destination)."),
    backupId: z.string().min(1).optional().describe("Base backup to start from; the latest one that ends before the target when omitted."),
    target: recoveryTargetSchema.optional(),
  })
  .describe("Create the cluster by restoring a backup from an object store instead of initdb, then promote it on a new timeline.");

const bootstrapSchema = z
  .object({
    database: pgIdentifier.default("app").describe("Application database created at bootstrap."),
    owner: pgIdentifier.default("app").describe("Role that owns the database; its credentials go to the <cluster>-app Secret."),
    recovery: recoverySchema.optional(),
  })
  .describe("What to create when the cluster is first initialized.");

const servicesSchema = z
  .object({
    rw: z.boolean().default(true).describe("Create <cluster>-rw, routing to the primary."),
    ro: z.boolean().default(true).describe("Create <cluster>-ro, routing to the replicas."),
  })
  .describe("Which Services to create.");

const synchronousSchema = z
  .object({
    method: z.enum(["any", "first"]).default("any").describe("Quorum (any) or priority (first) synchronous replication."),
    number: intRange(1, MAX_INSTANCES - 1).describe("How many replicas must confirm each commit."),
  })
  .describe("Synchronous replication; omitted means asynchronous.");

/**
 * Parameters the operator manages itself (replication, addresses, files): `spec.parameters` may
 * not set them.
 */
export const RESERVED_PARAMETERS = [
  "primary_conninfo",
  "primary_slot_name",
  "synchronous_standby_names",
  "listen_addresses",
  "port",
  "unix_socket_directories",
  "data_directory",
  "config_file",
  "hba_file",
  "ident_file",
  "hot_standby",
  // A replica bootstrapped from the object store reads the archive with it (ADR 0045): the
  // reconcile that resets every parameter the spec does not name must leave it alone.
  "restore_command",
] as const;

/** Most entries `parameters` may have (bounds the CEL rule's cost). */
export const MAX_PARAMETERS = 200;

/** Default of `failoverGrace`. */
export const DEFAULT_FAILOVER_GRACE = "5s";

/** Accepted values of `primaryUpdateStrategy`. */
export const PRIMARY_UPDATE_STRATEGIES = ["unsupervised", "supervised"] as const;

/** PgBouncer pool modes `pooler.poolMode` accepts (statement mode breaks multi-statement transactions: not offered). */
export const POOL_MODES = ["session", "transaction"] as const;

/**
 * PgBouncer settings `pooler.parameters` may set. Everything else in `pgbouncer.ini` (addresses,
 * authentication, the admin console, databases, logging targets, pool mode and sizes) is the
 * operator's: a setting outside this list is refused, naming it.
 */
export const POOLER_PARAMETERS = [
  "server_idle_timeout",
  "server_lifetime",
  "server_connect_timeout",
  "server_login_retry",
  "server_reset_query",
  "server_reset_query_always",
  "server_check_delay",
  "server_check_query",
  "query_timeout",
  "query_wait_timeout",
  "client_idle_timeout",
  "client_login_timeout",
  "idle_transaction_timeout",
  "min_pool_size",
  "reserve_pool_size",
  "reserve_pool_timeout",
  "max_db_connections",
  "max_user_connections",
  "ignore_startup_parameters",
  "application_name_add_host",
  "log_connections",
  "log_disconnections",
  "log_pooler_errors",
  "stats_period",
  "tcp_keepalive",
  "tcp_keepidle",
  "tcp_keepintvl",
  "tcp_keepcnt",
] as const;

/** A PgBouncer setting's value: one line of printable characters, no `;` or `#` (comments in pgbouncer.ini). */
export const POOLER_VALUE_PATTERN = /^[A-Za-z0-9_.,:/ *=-]*$/;

/** Most PgBouncer pods a pooler may have. */
export const MAX_POOLER_INSTANCES = 9;

const poolerSchema = withRules(
  z.object({
    instances: intRange(1, MAX_POOLER_INSTANCES).default(1).describe("Number of PgBouncer pods behind <cluster>-pooler-rw."),
    poolMode: z
      .enum(POOL_MODES)
      .default("transaction")
      .describe("transaction: a server connection per transaction (switchovers wait between transactions); session: per client session."),
    defaultPoolSize: intRange(1, 10_000).default(20).describe("Server connections per database and user pair (PgBouncer default_pool_size)."),
    maxClientConn: intRange(1, 100_000).default(1000).describe("Client connections each PgBouncer pod accepts (max_client_conn)."),
    parameters: z
      .record(z.string().max(63), z.string().max(256).regex(POOLER_VALUE_PATTERN, { error: "must be one line of letters, digits, spaces and _ . , : / * = - (no ; or #)" }))
      .refine((p) => Object.keys(p).length <= POOLER_PARAMETERS.length, { error: `at most ${POOLER_PARAMETERS.length} parameters` })
      .meta({ maxProperties: POOLER_PARAMETERS.length })
      .optional()
      .describe(`Other pgbouncer.ini settings, e.g. { query_wait_timeout: "60" }; one of ${POOLER_PARAMETERS.join(", ")}.`),
    image: z.string().min(1).optional().describe("PgBouncer image (Setpoint's pooler image, images/recipes.ts); setpoint-pooler:<version> when omitted."),
    resources: resourcesSchema.optional().describe("CPU and memory of each PgBouncer container."),
  }),
  [
    {
      cel: `!has(self.parameters) || self.parameters.all(k, k in [${POOLER_PARAMETERS.map((p) => `'${p}'`).join(", ")}])`,
      message: `pooler.parameters may only set ${POOLER_PARAMETERS.join(", ")} (the operator owns the rest of pgbouncer.ini)`,
      field: "parameters",
      check: (p) => Object.keys(p.parameters ?? {}).every((k) => (POOLER_PARAMETERS as readonly string[]).includes(k)),
    },
  ],
).describe("A managed PgBouncer in front of the primary (<cluster>-pooler-rw): it follows the primary and holds clients through planned switchovers.");

/** `spec.tls` (ADR 0035): TLS is always on; this only widens who may log in how. */
const tlsSchema = z
  .object({
    superuserPasswordOverNetwork: z
      .boolean()
      .default(false)
      .describe(
        "Let the superuser log in over the network (TLS only) with its password, besides the operator's client certificate. Off by default; nothing of Setpoint needs it (a major upgrade connects by certificate, ADR 0042).",
      ),
    serverNames: z
      .array(z.string().min(1).max(253).regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, { error: "must be a lower-case DNS name" }))
      .max(32)
      .optional()
      .describe("More DNS names the server certificate carries besides the cluster's Services' (an upgrade's green carries blue's, whose Services move to it)."),
    authority: z
      .object({ secretName: z.string().min(1).max(253).describe("Secret in the cluster's namespace with ca.crt and ca.key (PEM).") })
      .optional()
      .describe(
        "A certificate authority the operator issues this cluster's certificates from instead of generating one (yours, or another cluster's <name>-ca: an upgrade's green shares blue's). The operator never writes it.",
      ),
  })
  .describe("Client authentication over TLS. Every connection is TLS 1.3 with a certificate of the cluster's own authority; plaintext is refused.");

/** Zod schema of `PostgresCluster.spec` (the trust boundary for components and the operator). */
export const postgresClusterSpecSchema = withRules(
  z.object({
    instances: intRange(1, MAX_INSTANCES).default(1).describe("Number of instances: one primary plus replicas."),
    postgresVersion: intRange(lowestMajor, highestMajor)
      .optional()
      .describe(`PostgreSQL major version (${lowestMajor}-${highestMajor}). Required unless image is set.`),
    image: z.string().min(1).optional().describe("Container image to run; overrides the default image of postgresVersion."),
    storage: storageSchema,
    parameters: z
      .record(z.string().max(63), z.string().max(4096))
      .refine((p) => Object.keys(p).length <= MAX_PARAMETERS, { error: `at most ${MAX_PARAMETERS} parameters` })
      .meta({ maxProperties: MAX_PARAMETERS })
      .optional()
      .describe("postgresql.conf parameters, e.g. { work_mem: 8MB }."),
    resources: resourcesSchema.optional(),
    bootstrap: bootstrapSchema.prefault({}),
    services: servicesSchema.prefault({}),
    primaryUpdateStrategy: z
      .enum(PRIMARY_UPDATE_STRATEGIES)
      .default("unsupervised")
      .describe("unsupervised: the operator switches over to an updated replica itself; supervised: it waits for you."),
    synchronous: synchronousSchema.optional(),
    failoverGrace: duration
      .default(DEFAULT_FAILOVER_GRACE)
      .describe("How long an unready primary that does not answer, and whose container still runs (hung, overloaded, cut off), may stay so before a replica replaces it. A deleted pod, or a container its kubelet saw exit, is replaced at once."),
    pooler: poolerSchema.optional(),
    backup: backupSchema.optional(),
    // Managed roles (ADR 0032).
    roles: managedRolesSchema.optional(),
    tls: tlsSchema.optional(),
  }),
  [
    {
      cel: "has(self.postgresVersion) || has(self.image)",
      message: `postgresVersion (${lowestMajor}-${highestMajor}) or image must be set`,
      field: "postgresVersion",
      check: (s) => s.postgresVersion !== undefined || s.image !== undefined,
    },
    {
      cel: "!has(self.synchronous) || self.synchronous.number < self.instances",
      message: "synchronous.number must be less than instances (the primary does not count)",
      field: "synchronous",
      check: (s) => s.synchronous === undefined || s.synchronous.number < s.instances,
    },
    {
      cel: `!has(self.parameters) || self.parameters.all(k, !(k in [${RESERVED_PARAMETERS.map((p) => `'${p}'`).join(", ")}]))`,
      message: `parameters may not set ${RESERVED_PARAMETERS.join(", ")} (the operator manages them)`,
      field: "parameters",
      check: (s) => Object.keys(s.parameters ?? {}).every((k) => !(RESERVED_PARAMETERS as readonly string[]).includes(k)),
    },
    {
      cel: "!has(self.roles) || self.roles.all(r, r.name != (has(self.bootstrap) && has(self.bootstrap.owner) ? self.bootstrap.owner : 'app'))",
      message: "roles may not declare the bootstrap owner (bootstrap.owner, 'app' by default): the operator manages it and its <cluster>-app Secret; choose another name",
      field: "roles",
      check: (s) => (s.roles ?? []).every((r) => r.name !== s.bootstrap.owner),
    },
  ],
);

export type { PostgresClusterSpecInput } from "./postgres-cluster-input";
import type { PostgresClusterSpecInput } from "./postgres-cluster-input";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile when the documented input type and the schema drift apart. */
export const SPEC_INPUT_MATCHES_SCHEMA: Equal<PostgresClusterSpecInput, z.input<typeof postgresClusterSpecSchema>> = true;
/** `PostgresCluster.spec` after validation, with every default applied. */
export type PostgresClusterSpec = z.output<typeof postgresClusterSpecSchema>;

const instanceStatusSchema = z.object({
  name: z.string().describe("Pod name."),
  role: z.enum(["primary", "replica"]),
  ready: z.boolean(),
  lagBytes: z.int().min(0).optional().describe("Replay lag behind the primary, in bytes (replicas only)."),
  pendingRestart: z.boolean().optional().describe("A changed parameter needs a restart to take effect."),
  diskUsedBytes: z.int().min(0).optional().describe("Bytes used on the data volume, as last measured."),
});

const poolerStatusSchema = z.object({
  service: z.string().describe("Service routing to the PgBouncer pods."),
  instances: z.int().min(0).describe("PgBouncer pods that exist."),
  readyInstances: z.int().min(0).describe("PgBouncer pods that are ready."),
  primary: z.string().optional().describe("Instance (pod name) every ready PgBouncer pod sends its server connections to."),
  paused: z.boolean().optional().describe("The operator holds clients (PAUSE) for a switchover in progress."),
});

const backupStatusSchema = z.object({
  lastArchivedWal: z.string().optional().describe("Last WAL segment archived."),
  lastArchivedTime: z.string().optional().describe("When it was archived (RFC 3339)."),
  lastFailedWal: z.string().optional().describe("Last WAL segment whose archiving failed."),
  lastFailedTime: z.string().optional().describe("When it failed (RFC 3339)."),
  archiveLagSeconds: z.number().min(0).optional().describe("Age of the oldest WAL not yet archived, as last measured (0 when all is archived)."),
  lastBackup: z.string().optional().describe("Name of the last completed base backup."),
  lastBackupTime: z.string().optional().describe("When it ended (RFC 3339)."),
  firstRecoverabilityPoint: z.string().optional().describe("Oldest time the cluster can be restored to (RFC 3339)."),
  lastRetentionTime: z.string().optional().describe("When retention last ran (RFC 3339)."),
});

/** Zod schema of `PostgresCluster.status` (written by the operator, read by the component). */
export const postgresClusterStatusSchema = z.object({
  ...baseStatusShape,
  currentPrimary: z.string().optional().describe("Pod name of the current primary."),
  instances: z.array(instanceStatusSchema).max(MAX_INSTANCES).optional(),
  effectiveParameters: z.record(z.string(), z.string()).optional().describe("Parameters as the server reports them."),
  diskUsage: z
    .object({
      usedBytes: z.int().min(0),
      capacityBytes: z.int().min(0),
    })
    .optional()
    .describe("Data volume usage of the fullest instance."),
  readWriteService: z.string().optional().describe("Service routing to the primary."),
  readOnlyService: z.string().optional().describe("Service routing to replicas."),
  port: z.int().min(1).max(65535).optional(),
  secretName: z.string().optional().describe("Secret with the application credentials."),
  pooler: poolerStatusSchema.optional().describe("The managed PgBouncer, when spec.pooler is set."),
  backup: backupStatusSchema.optional().describe("WAL archiving and base backups, when spec.backup is set."),
  roles: rolesStatusSchema.optional().describe("Managed roles (spec.roles): each one's outcome and the roles the spec does not name."),
  // Major upgrades by a postgresVersion bump (ADR 0033).
  postgresVersion: z.int().min(1).optional().describe("Major serving the cluster's Services: the instances' own, or the new one once a major upgrade switched traffic."),
  upgrade: z
    .object({
      name: z.string().describe("The PostgresUpgrade the cluster owns for it."),
      green: z.string().describe("The PostgresCluster of the new major."),
      from: z.int().min(1).describe("Major of the cluster's own instances."),
      to: z.int().min(1),
      phase: z.string().describe("The upgrade's phase (new, schema-ready, replicating, synchronized, switched, finalized, ...)."),
      gate: z.enum(["supervised"]).optional().describe("Set while the cutover waits for approval (primaryUpdateStrategy: supervised)."),
    })
    .optional()
    .describe("A major upgrade started by raising spec.postgresVersion."),
  // Preflight before a postgresVersion bump (ADR 0037).
  upgradeReadiness: z
    .object({
      postgresVersion: z.int().min(1).describe("Major of the instances inspected."),
      checkedAt: z.string().describe("When the primary was inspected (RFC 3339)."),
      targets: z
        .array(
          z.object({
            postgresVersion: z.int().min(1),
            findings: z
              .array(
                z.object({
                  code: z.string(),
                  severity: z.enum(["error", "warning"]),
                  object: z.string().optional(),
                  message: z.string(),
                  fix: z.string(),
                }),
              )
              .describe("The upgrade engine's preflight findings that need only the running cluster and the new major's packages; an error refuses the bump."),
            more: z.int().min(1).optional().describe("Findings left out of the list (it holds at most 20)."),
          }),
        )
        .describe("Each supported major above the running one."),
    })
    .optional()
    .describe("What raising spec.postgresVersion would meet, refreshed while the cluster runs: pulumi preview refuses a bump with errors, naming the fix."),
});

/** `PostgresCluster.status`. */
export type PostgresClusterStatus = z.output<typeof postgresClusterStatusSchema>;
