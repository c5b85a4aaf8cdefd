/**
 * The `PostgresCluster` custom resource: one PostgreSQL primary with optional streaming
 * replicas, its storage, configuration and services. Shared by the Pulumi component (which
 * creates it) and the operator (which makes it real).
 */
import { z } from "zod";
import { SUPPORTED_MAJORS } from "../postgres/versions";
import { baseStatusShape, duration, intRange, quantity, withRules } from "./common";

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

const bootstrapSchema = z
  .object({
    database: pgIdentifier.default("app").describe("Application database created at bootstrap."),
    owner: pgIdentifier.default("app").describe("Role that owns the database; its credentials go to the <cluster>-app Secret."),
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
      .describe("How long an unready primary that does not answer may stay so before a replica replaces it (a deleted pod is replaced at once)."),
    pooler: poolerSchema.optional(),
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
});

/** `PostgresCluster.status`. */
export type PostgresClusterStatus = z.output<typeof postgresClusterStatusSchema>;
