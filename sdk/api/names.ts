/**
 * The one place Kubernetes object names are generated. The Pulumi components and the operator
 * both derive the names of a cluster's services and secrets from here, so they always agree.
 *
 * Every name is a DNS-1035 label: `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (the
 * strictest rule any object we create is held to: Service names). A name that had to be
 * changed to fit (characters replaced, or truncated) gets a stable hash suffix of its original
 * input, so two different inputs never collapse to the same name.
 */
import { createHash } from "node:crypto";
import { InputError } from "../errors";

/** Longest name Kubernetes accepts for a label-style name (Services, Namespaces, ...). */
export const MAX_NAME_LENGTH = 63;

/** Characters of the hash suffix appended to names that had to be changed to fit. */
const HASH_LENGTH = 8;

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** True when `name` is already a valid DNS-1035 label of at most `maxLength` characters. */
export function isDnsLabel(name: string, maxLength = MAX_NAME_LENGTH): boolean {
  return name.length <= maxLength && DNS_1035_LABEL.test(name);
}

function hashOf(input: string): string {
  return createHash("sha256").update(input).digest("hex").slice(0, HASH_LENGTH);
}

function sanitize(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-0-9]+/, "")
    .replace(/-+$/, "");
}

/**
 * Builds a Kubernetes name from parts joined with `-`.
 *
 * When the joined parts already form a valid DNS-1035 label of at most `maxLength` characters
 * they are returned unchanged. Otherwise characters outside `[a-z0-9-]` become `-`, leading
 * digits and dashes are dropped, the result is cut to leave room for `-<8 hex chars>` and the
 * hash of the original joined input is appended.
 * @param parts non-empty name parts, e.g. `["orders", "rw"]`.
 * @param maxLength longest result. @default 63
 * @throws {InputError} when no part is given or `maxLength` leaves no room for a hashed name.
 */
export function kubeName(parts: readonly string[], maxLength = MAX_NAME_LENGTH): string {
  if (parts.length === 0 || parts.every((p) => p.length === 0)) {
    throw new InputError("a name needs at least one non-empty part", { propertyPath: "name" });
  }
  if (maxLength < HASH_LENGTH + 2 || maxLength > MAX_NAME_LENGTH) {
    throw new InputError(`maxLength must be between ${HASH_LENGTH + 2} and ${MAX_NAME_LENGTH}, got ${maxLength}`, {
      propertyPath: "maxLength",
    });
  }
  const joined = parts.filter((p) => p.length > 0).join("-");
  if (isDnsLabel(joined, maxLength)) return joined;
  const suffix = hashOf(joined);
  const head = sanitize(joined)
    .slice(0, maxLength - HASH_LENGTH - 1)
    .replace(/-+$/, "");
  // A name with no usable characters (e.g. "123") still needs a leading letter.
  return head.length > 0 ? `${head}-${suffix}` : `x${suffix}`;
}

/** Names of the objects the operator creates for one PostgresCluster. */
export interface ClusterObjectNames {
  /** Service routing to the primary (read-write). */
  readonly readWriteService: string;
  /** Service routing to replicas (read-only). */
  readonly readOnlyService: string;
  /** Secret with the application owner's credentials (`username`, `password`, `uri`, ...). */
  readonly appSecret: string;
  /** Secret with the `postgres` superuser's credentials (`username`, `password`), used by the operator. */
  readonly superuserSecret: string;
  /** Secret with the streaming replication role's credentials (`username`, `password`). */
  readonly replicationSecret: string;
  /** ConfigMap with the instances' configuration files Setpoint writes (`pg_hba.conf`). */
  readonly configMap: string;
}

/** Port every PostgresCluster service listens on. */
export const POSTGRES_PORT = 5432;

/**
 * Names of a cluster's services and secrets, by convention `<cluster>-rw`, `<cluster>-ro`,
 * `<cluster>-app` (hashed to fit when the cluster name is long).
 * @param clusterName the PostgresCluster's `metadata.name`.
 */
export function clusterObjectNames(clusterName: string): ClusterObjectNames {
  return {
    readWriteService: kubeName([clusterName, "rw"]),
    readOnlyService: kubeName([clusterName, "ro"]),
    appSecret: kubeName([clusterName, "app"]),
    superuserSecret: kubeName([clusterName, "superuser"]),
    replicationSecret: kubeName([clusterName, "replication"]),
    configMap: kubeName([clusterName, "config"]),
  };
}

/** Names of the objects of a cluster's managed PgBouncer (`spec.pooler`). */
export interface PoolerObjectNames {
  /** Service routing to the PgBouncer pods: `<cluster>-pooler-rw`. */
  readonly service: string;
  /** ConfigMap with `pgbouncer.ini`: `<cluster>-pooler`. */
  readonly configMap: string;
  /** Secret with PgBouncer's `auth_file` (SCRAM verifiers only): `<cluster>-pooler-auth`. */
  readonly authSecret: string;
  /** Secret with the admin console's credentials, read by the operator only: `<cluster>-pooler-admin`. */
  readonly adminSecret: string;
}

/**
 * Names of a cluster's pooler objects (hashed to fit when the cluster name is long).
 * @param clusterName the PostgresCluster's `metadata.name`.
 */
export function poolerObjectNames(clusterName: string): PoolerObjectNames {
  return {
    service: kubeName([clusterName, "pooler", "rw"]),
    configMap: kubeName([clusterName, "pooler"]),
    authSecret: kubeName([clusterName, "pooler", "auth"]),
    adminSecret: kubeName([clusterName, "pooler", "admin"]),
  };
}

/**
 * Name of PgBouncer pod `ordinal` (1-based) of a cluster: `<cluster>-pooler-<ordinal>`.
 * @param clusterName the PostgresCluster's `metadata.name`.
 * @param ordinal 1 for the first pod.
 */
export function poolerPodName(clusterName: string, ordinal: number): string {
  return kubeName([clusterName, "pooler", String(ordinal)]);
}

/**
 * Name of a cluster's instance `ordinal` (1-based): its pod and its PersistentVolumeClaim,
 * `<cluster>-<ordinal>` (hashed to fit when the cluster name is long).
 * @param clusterName the PostgresCluster's `metadata.name`.
 * @param ordinal 1 for the first instance.
 */
export function instanceName(clusterName: string, ordinal: number): string {
  return kubeName([clusterName, String(ordinal)]);
}

/**
 * Name of the physical replication slot (on the primary) and the `application_name` of the
 * streaming connection of an instance: its name with `_` for `-` (slot names allow `[a-z0-9_]`).
 * @param instance an {@link instanceName} result.
 */
export function replicationSlotName(instance: string): string {
  return instance.replaceAll("-", "_");
}

/**
 * In-cluster DNS name of a Service: `<service>.<namespace>.svc`.
 * @param service the Service name.
 * @param namespace the Service's namespace.
 */
export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}
