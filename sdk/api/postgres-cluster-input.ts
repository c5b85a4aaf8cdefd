// The user-facing input type of PostgresCluster.spec, free of zod (see ADR 0011).

/**
 * `PostgresCluster.spec` as written by a user (defaults not yet applied). Spelled out for
 * documentation, and in a module without zod so that the declarations of `setpoint/components`
 * never reference zod (ADR 0011); a compile-time check in `postgres-cluster.ts` keeps it identical
 * to the zod schema's input.
 */
export interface PostgresClusterSpecInput {
  /** Number of instances, one primary plus replicas (1-9). @default 1 */
  instances?: number;
  /** PostgreSQL major version (14-18). Required unless `image` is set. */
  postgresVersion?: number;
  /** Container image; overrides the default image of `postgresVersion`. @default the image of `postgresVersion` */
  image?: string;
  /** Persistent storage of each instance. */
  storage: {
    /** Size of each data volume, a quantity such as `10Gi`. */
    size: string;
    /** StorageClass of the volumes. @default the cluster's default StorageClass */
    storageClass?: string;
    /** Grow volumes automatically (needs an expandable StorageClass). @default no automatic growth */
    autoGrow?: {
      /** Grow when a volume is fuller than this percentage (50-95). @default 80 */
      thresholdPercent?: number;
      /** How much to add each time, e.g. `5Gi`. */
      step: string;
      /** Never grow beyond this size, e.g. `100Gi`. */
      limit: string;
    };
  };
  /**
   * postgresql.conf parameters, e.g. `{ work_mem: "8MB" }`, applied with a reload when that is
   * enough, else by restarting replicas then switching over (see `primaryUpdateStrategy`).
   * Not the parameters the operator manages (`RESERVED_PARAMETERS` of `setpoint/api`). @default {} (PostgreSQL's defaults)
   */
  parameters?: Record<string, string>;
  /** CPU and memory of each PostgreSQL container, as quantities. @default none (no requests or limits) */
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** What to create when the cluster is first initialized. @default { database: "app", owner: "app" } */
  bootstrap?: {
    /** Application database. @default "app" */
    database?: string;
    /** Role owning it; its credentials go to the `<cluster>-app` Secret. @default "app" */
    owner?: string;
    /**
     * Create the cluster by restoring a base backup and replaying archived WAL from an object
     * store (another cluster's `backup.destination`) instead of `initdb`; once at its target it is
     * promoted on a new timeline. A restore that cannot reach its target fails with a condition;
     * it never comes up short of it. @default none (initdb)
     */
    recovery?: {
      /** The bucket and prefix the source cluster archives to. */
      source: ObjectStoreInput;
      /** Base backup to start from. @default the latest one that ends before the target */
      backupId?: string;
      /** Where to stop; at most one of `time`, `lsn`, `name`. @default the latest archived point */
      target?: {
        /** An RFC 3339 time with a zone. */
        time?: string;
        /** A WAL position such as `0/1A2B3C4`. */
        lsn?: string;
        /** A restore point made with `pg_create_restore_point`. */
        name?: string;
        /** Stop just after (true) or just before (false) the target. @default true */
        inclusive?: boolean;
      };
    };
  };
  /** Which Services to create. @default { rw: true, ro: true } */
  services?: {
    /** `<cluster>-rw`, routing to the primary. @default true */
    rw?: boolean;
    /** `<cluster>-ro`, routing to the replicas. @default true */
    ro?: boolean;
  };
  /**
   * `unsupervised`: the operator switches over to an updated replica by itself; `supervised`:
   * it waits for you. @default "unsupervised"
   */
  primaryUpdateStrategy?: "unsupervised" | "supervised";
  /**
   * How long a primary that is unready and does not answer, while its container still runs (a
   * hung, overloaded or cut-off server), may stay so before it is fenced and a replica promoted,
   * e.g. `5s`, `30s`. Longer rides out a slow spell; shorter fails over sooner. A deleted primary
   * pod, or a primary container its kubelet saw exit (crash, kill, OOM), is replaced at once
   * (ADR 0038). @default "5s"
   */
  failoverGrace?: string;
  /**
   * A managed PgBouncer in front of the primary, reached through the `<cluster>-pooler-rw`
   * Service (port 5432). The operator owns its configuration and authentication (clients log in
   * with their PostgreSQL role's password; superusers and replication roles cannot), points it at
   * the primary after every failover and switchover, and pauses it through a planned switchover so
   * that clients wait instead of failing. @default none (no pooler)
   */
  pooler?: {
    /** PgBouncer pods (1-9). @default 1 */
    instances?: number;
    /** `transaction` (a server connection per transaction) or `session`. @default "transaction" */
    poolMode?: "session" | "transaction";
    /** Server connections per database and user pair (`default_pool_size`). @default 20 */
    defaultPoolSize?: number;
    /** Client connections each pod accepts (`max_client_conn`). @default 1000 */
    maxClientConn?: number;
    /**
     * Other `pgbouncer.ini` settings, from `POOLER_PARAMETERS` of `setpoint/api` only, e.g.
     * `{ query_wait_timeout: "60" }`. @default {} (PgBouncer's defaults)
     */
    parameters?: Record<string, string>;
    /** PgBouncer image, built from Setpoint's pooler recipe. @default "setpoint-pooler:<version>" */
    image?: string;
    /** CPU and memory of each PgBouncer container. @default none */
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  };
  /**
   * Continuous WAL archiving and base backups to an S3-compatible bucket. @default none (no backups)
   */
  backup?: {
    /** Where the WAL archive and base backups go. */
    destination: ObjectStoreInput;
    /** `archive_timeout`: the longest a finished transaction waits before its WAL is archived. @default "5m" */
    archiveTimeout?: string;
    /** Five-field cron (UTC) for scheduled base backups, e.g. `0 3 * * *`. @default none */
    schedule?: string;
    /** How long base backups (and the WAL they need) are kept, e.g. `30d`, `4w`, `12h`. @default forever */
    retention?: string;
    /** Take base backups from a healthy replica (`prefer-standby`) or from the primary. @default "prefer-standby" */
    target?: "prefer-standby" | "primary";
    /**
     * Base backups' archives: `none` (fastest to take and restore) or `gzip` (level 1 on several
     * threads: smaller in the bucket, CPU on the operator). WAL segments are always gzip-compressed.
     * @default "none"
     */
    compression?: "none" | "gzip";
    /**
     * Where a new replica's data comes from: a base backup streamed from the `primary`, or the
     * `object-store`: the newest base backup here plus the archived WAL, then streaming (the
     * primary sends only what the archive lacks). A store without a usable backup, or one that
     * fails, falls back to the primary. @default "primary"
     */
    replicaBootstrap?: "primary" | "object-store";
  };
  /**
   * Client authentication over TLS (ADR 0035). TLS is always on: every connection is TLS 1.3 with
   * a certificate of the cluster's own authority; plaintext is refused. @default {}
   */
  tls?: {
    /**
     * Let the superuser log in over the network (TLS only) with its password, besides the
     * operator's client certificate. Nothing of Setpoint needs it (a major upgrade connects by
     * certificate, ADR 0042).
     * @default false
     */
    superuserPasswordOverNetwork?: boolean;
    /** More DNS names the server certificate carries (an upgrade's green carries blue's). @default none */
    serverNames?: string[];
    /**
     * A Secret (`ca.crt`, `ca.key`) the operator issues this cluster's certificates from instead of
     * generating an authority; never written by the operator. An upgrade's green shares blue's.
     * @default the operator's own `<cluster>-ca`
     */
    authority?: {
      /** Secret name, in the cluster's namespace. */
      secretName: string;
    };
  };
  /**
   * Roles the operator keeps as declared on the primary (ADR 0032): created, altered back when
   * changed by hand, their passwords set from a Secret as SCRAM verifiers (rotated when the Secret
   * changes, never re-set when unchanged), dropped only with `ensure: "absent"`. Roles not listed
   * are reported in `status.roles.unmanaged` and left alone. Not allowed: `pg_*` names, the
   * operator's roles (`postgres`, `streaming_replica`, `setpoint_pooler_admin`, the bootstrap
   * owner), superuser or replication roles. @default none (roles are not managed)
   */
  roles?: {
    /** The role's name. */
    name: string;
    /** `present`, or `absent` to drop it (it must own nothing). @default "present" */
    ensure?: "present" | "absent";
    /** `COMMENT ON ROLE`; `""` removes it. @default left as it is */
    comment?: string;
    /** `LOGIN`. @default false */
    login?: boolean;
    /** Must be false: superuser roles are refused. @default false */
    superuser?: boolean;
    /** `CREATEDB`. @default false */
    createdb?: boolean;
    /** `CREATEROLE`. @default false */
    createrole?: boolean;
    /** `INHERIT`. @default true */
    inherit?: boolean;
    /** Must be false: replication roles are refused. @default false */
    replication?: boolean;
    /** `BYPASSRLS`. @default false */
    bypassrls?: boolean;
    /** `CONNECTION LIMIT`; -1 for none. @default -1 */
    connectionLimit?: number;
    /** `VALID UNTIL`: an RFC 3339 time, or `infinity`. @default none */
    validUntil?: string;
    /** Roles it is a member of; others are revoked. @default [] */
    inRoles?: string[];
    /** Its password, from a Secret in the cluster's namespace. @default its password is not managed */
    passwordSecret?: {
      /** Secret name. */
      secretName: string;
      /** Key of the password. @default "password" */
      key?: string;
    };
    /** `PASSWORD NULL` (excludes `passwordSecret`). @default false */
    disablePassword?: boolean;
  }[];
  /** Synchronous replication. @default none (asynchronous) */
  synchronous?: {
    /** Quorum (`any`) or priority (`first`). @default "any" */
    method?: "any" | "first";
    /** Replicas that must confirm each commit (less than `instances`). */
    number: number;
  };
}


/** An S3-compatible bucket and a prefix in it, as `backup.destination` and `bootstrap.recovery.source` take it. */
export interface ObjectStoreInput {
  /** Endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://minio.storage:9000`. */
  endpoint: string;
  /** Signing region. @default "us-east-1" */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`). @default true */
  forcePathStyle?: boolean;
  /** Bucket name. */
  bucket: string;
  /** Key prefix of the cluster's objects. @default "<namespace>/<cluster>" for a destination; the bucket's root for a recovery source */
  prefix?: string;
  /** The Secret (in the cluster's namespace) holding the access key; its values are never copied anywhere else. */
  credentials: {
    /** Secret name. */
    secretName: string;
    /** Key of the access key id. @default "AWS_ACCESS_KEY_ID" */
    accessKeyIdKey?: string;
    /** Key of the secret access key. @default "AWS_SECRET_ACCESS_KEY" */
    secretAccessKeyKey?: string;
  };
}
