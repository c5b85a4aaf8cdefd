/**
 * The child objects of a `PostgresCluster`, as pure functions of the cluster and its spec:
 * credential Secrets, one PersistentVolumeClaim and one Pod per instance, and the rw / ro
 * Services. Every child carries the cluster's labels and a controller owner reference, so the
 * garbage collector deletes it with the cluster and its events reconcile the cluster.
 *
 * Pods are written for the official `postgres` image: the image tag names the major, the
 * superuser password comes from the superuser Secret through `POSTGRES_PASSWORD`, and PGDATA is
 * a subdirectory of the claim's mount. What the operator relies on is set by Setpoint, not by the
 * image (ADR 0016): the client authentication file comes from the cluster's ConfigMap
 * (`-c hba_file=...`, sdk/instance/hba.ts), and parameters are written by the controller with
 * `ALTER SYSTEM`, so they can change without recreating the pod. A replica's pod clones the
 * primary with an init container running the image's `pg_basebackup` (streaming the WAL it
 * needs, through the replica's own slot, writing the standby configuration, after a fast
 * checkpoint), guarded so that a pod recreated on a volume that already holds data starts from
 * that data, as a standby.
 */
import { createHash } from "node:crypto";
import type { V1ConfigMap, V1PersistentVolumeClaim, V1Pod, V1Secret, V1Service } from "@kubernetes/client-node";
import { HBA_FILE, instanceHba } from "../../instance/hba";
import { clusterObjectNames, instanceName, POSTGRES_PORT, replicationSlotName, serviceHost } from "../../api/names";
import type { PostgresClusterSpec } from "../../api/postgres-cluster";
import { setControllerReference, type OwnerObject } from "../../reconcile/owners";

/** Label on every child: the owning cluster's name. */
export const CLUSTER_LABEL = "setpoint.dev/cluster";
/** Label on instance pods and claims: the instance (pod) name. */
export const INSTANCE_LABEL = "setpoint.dev/instance";
/**
 * On a cluster's rw Service: a `PostgresUpgrade` owns its selector (it switches traffic between
 * the upgrade's blue and green primaries), so the cluster controller leaves the selector alone.
 */
export const TRAFFIC_OWNER_ANNOTATION = "setpoint.dev/traffic-owner";
/** Label on instance pods: `primary` or `replica`. */
export const ROLE_LABEL = "setpoint.dev/role";

/** The role replicas stream as (`REPLICATION`, no superuser). */
export const REPLICATION_USER = "streaming_replica";

/**
 * The clone init container's guard: when PGDATA already holds a data directory (a replica's pod
 * recreated on its volume, or a former primary rejoining after a switchover) nothing is cloned,
 * and the data is marked a standby, so a replica pod can never start a second primary.
 */
export const STANDBY_IF_INITIALIZED = 'if [ -s "$PGDATA/PG_VERSION" ]; then touch "$PGDATA/standby.signal"; exit 0; fi; exec "$0" "$@"';

/** Where the data volume is mounted, and PGDATA inside it (as the official image expects). */
const DATA_MOUNT = "/var/lib/postgresql/data";
const PGDATA = `${DATA_MOUNT}/pgdata`;
/** Where the cluster's ConfigMap (the configuration files Setpoint writes) is mounted, read-only. */
export const CONFIG_MOUNT = "/etc/setpoint";
/** Annotation on the cluster's ConfigMap: a hash of its data, so the controller sees a stale one from its metadata. */
export const CONFIG_HASH_ANNOTATION = "setpoint.dev/config-hash";

/** A PostgresCluster as read from the API server (it has a uid, so it can own children). */
export interface ClusterObject extends OwnerObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly generation?: number };
}

function meta(cluster: ClusterObject, name: string, extra: Record<string, string> = {}): { name: string; namespace: string; labels: Record<string, string> } {
  return { name, namespace: cluster.metadata.namespace, labels: { [CLUSTER_LABEL]: cluster.metadata.name, ...extra } };
}

/** The container image of a spec: `spec.image`, else `postgres:<postgresVersion>`. */
export function imageOf(spec: PostgresClusterSpec): string {
  return spec.image ?? `postgres:${String(spec.postgresVersion)}`;
}

/** A `kubernetes.io/basic-auth` Secret of the cluster, owned by it. */
function basicAuthSecret(cluster: ClusterObject, name: string, stringData: Record<string, string>): V1Secret {
  return setControllerReference(cluster, { apiVersion: "v1", kind: "Secret", metadata: meta(cluster, name), type: "kubernetes.io/basic-auth", stringData });
}

/** The superuser Secret (`username`, `password`), with a freshly generated password. */
export function superuserSecret(cluster: ClusterObject, password: string): V1Secret {
  return basicAuthSecret(cluster, clusterObjectNames(cluster.metadata.name).superuserSecret, { username: "postgres", password });
}

/** The application Secret: the bootstrap owner's credentials and how to reach the rw Service. */
export function appSecret(cluster: ClusterObject, spec: PostgresClusterSpec, password: string): V1Secret {
  const names = clusterObjectNames(cluster.metadata.name);
  const host = serviceHost(names.readWriteService, cluster.metadata.namespace);
  const { owner, database } = spec.bootstrap;
  return basicAuthSecret(cluster, names.appSecret, {
    username: owner,
    password,
    dbname: database,
    host,
    port: String(POSTGRES_PORT),
    uri: `postgresql://${encodeURIComponent(owner)}:${encodeURIComponent(password)}@${host}:${POSTGRES_PORT}/${encodeURIComponent(database)}`,
  });
}

/** The replication Secret (`username`, `password`) of the streaming replication role. */
export function replicationSecret(cluster: ClusterObject, password: string): V1Secret {
  return basicAuthSecret(cluster, clusterObjectNames(cluster.metadata.name).replicationSecret, { username: REPLICATION_USER, password });
}

/**
 * The libpq connection parameters a replica streams from `primaryHost` with (the password comes
 * separately: PGPASSWORD in the clone, the Secret's value in `primary_conninfo`).
 * @param instance the replica's instance name (its `application_name`).
 */
export function streamingConninfo(primaryHost: string, instance: string): Record<string, string> {
  return { host: primaryHost, port: String(POSTGRES_PORT), user: REPLICATION_USER, application_name: replicationSlotName(instance) };
}

/** The configuration files every instance of a cluster reads (today `pg_hba.conf`). Pure. */
export function instanceConfigFiles(): Record<string, string> {
  return { [HBA_FILE]: instanceHba({ replicationUser: REPLICATION_USER }) };
}

/** The cluster's ConfigMap of {@link instanceConfigFiles}, annotated with their hash ({@link CONFIG_HASH_ANNOTATION}). */
export function instanceConfigMap(cluster: ClusterObject): V1ConfigMap {
  const data = instanceConfigFiles();
  const hash = createHash("sha256").update(JSON.stringify(Object.entries(data).sort())).digest("hex").slice(0, 16);
  const body: V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { ...meta(cluster, clusterObjectNames(cluster.metadata.name).configMap), annotations: { [CONFIG_HASH_ANNOTATION]: hash } },
    data,
  };
  return setControllerReference(cluster, body);
}

/**
 * The server arguments of every instance: what Setpoint owns that cannot be a parameter written
 * with `ALTER SYSTEM` (the files it writes). Passed as container args, which the official image's
 * entrypoint hands to `postgres` (also for its own first-start server).
 */
export function serverArgs(): string[] {
  return ["-c", `hba_file=${CONFIG_MOUNT}/${HBA_FILE}`];
}

/**
 * pg_basebackup's options besides the connection and the target: the standby configuration
 * (`-R`), WAL streamed alongside (`-X stream`) through the replica's own slot, no password prompt,
 * and a fast checkpoint. Without `--checkpoint=fast` the clone waits for a spread checkpoint on
 * the source (about 100 s on an idle cluster, measured on real pods).
 */
export function cloneOptions(slot: string): string[] {
  return ["-R", "-X", "stream", "-S", slot, "--checkpoint=fast", "-w"];
}

/**
 * The data volume claim of instance `ordinal`.
 * @param size the size to ask for. @default spec.storage.size
 */
export function instanceClaim(cluster: ClusterObject, spec: PostgresClusterSpec, ordinal: number, size: string = spec.storage.size): V1PersistentVolumeClaim {
  const name = instanceName(cluster.metadata.name, ordinal);
  const body: V1PersistentVolumeClaim = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: meta(cluster, name, { [INSTANCE_LABEL]: name }),
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: size } },
      ...(spec.storage.storageClass ? { storageClassName: spec.storage.storageClass } : {}),
    },
  };
  return setControllerReference(cluster, body);
}

/**
 * Parameters every instance gets unless `spec.parameters` sets them: a standby retries its WAL
 * source every second (PostgreSQL's default is 5 s), so replicas find a new primary quickly.
 * Like `spec.parameters`, they are written with `ALTER SYSTEM` (postgresql.auto.conf) by the
 * controller, never as `-c` arguments: arguments override the configuration files, so a
 * parameter passed that way could only change by recreating the pod, and not by a reload.
 */
export const DEFAULT_PARAMETERS: Readonly<Record<string, string>> = { wal_retrieve_retry_interval: "1s" };

/** The parameters an instance should run: {@link DEFAULT_PARAMETERS} overridden by `spec.parameters`. */
export function desiredParameters(spec: PostgresClusterSpec): Record<string, string> {
  return { ...DEFAULT_PARAMETERS, ...spec.parameters };
}

/**
 * The pod of instance `ordinal`, running as `role`.
 * @param primaryHost for a replica: where it clones from and streams from (the primary's pod IP).
 */
export function instancePod(cluster: ClusterObject, spec: PostgresClusterSpec, ordinal: number, role: "primary" | "replica", primaryHost?: string): V1Pod {
  const name = instanceName(cluster.metadata.name, ordinal);
  const names = clusterObjectNames(cluster.metadata.name);
  if (role === "replica" && primaryHost === undefined) throw new TypeError("a replica's pod needs the primary's host");
  const conninfo = primaryHost === undefined ? "" : Object.entries(streamingConninfo(primaryHost, name)).map(([k, v]) => `${k}=${v}`).join(" ");
  const clone = {
    name: "clone",
    image: imageOf(spec),
    command: ["sh", "-c", STANDBY_IF_INITIALIZED],
    args: ["pg_basebackup", "-d", conninfo, "-D", PGDATA, ...cloneOptions(replicationSlotName(name))],
    env: [
      { name: "PGDATA", value: PGDATA },
      { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: names.replicationSecret, key: "password" } } },
    ],
    volumeMounts: [{ name: "pgdata", mountPath: DATA_MOUNT }],
  };
  const body: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta(cluster, name, { [INSTANCE_LABEL]: name, [ROLE_LABEL]: role }),
    spec: {
      hostname: name,
      terminationGracePeriodSeconds: 30,
      ...(role === "replica" ? { initContainers: [clone] } : {}),
      containers: [
        {
          name: "postgres",
          image: imageOf(spec),
          env: [
            { name: "POSTGRES_USER", value: "postgres" },
            { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: names.superuserSecret, key: "password" } } },
            { name: "PGDATA", value: PGDATA },
          ],
          args: serverArgs(),
          ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
          volumeMounts: [
            { name: "pgdata", mountPath: DATA_MOUNT },
            { name: "config", mountPath: CONFIG_MOUNT, readOnly: true },
          ],
          readinessProbe: { exec: { command: ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"] }, periodSeconds: 5 },
          ...(spec.resources ? { resources: spec.resources } : {}),
        },
      ],
      volumes: [
        { name: "pgdata", persistentVolumeClaim: { claimName: name } },
        { name: "config", configMap: { name: names.configMap } },
      ],
    },
  };
  return setControllerReference(cluster, body);
}

/** Selector of the read-write Service: exactly the primary's pod. */
export function readWriteSelector(cluster: ClusterObject, primary: string): Record<string, string> {
  return { [CLUSTER_LABEL]: cluster.metadata.name, [INSTANCE_LABEL]: primary };
}

/** Selector of the read-only Service: the replicas. */
export function readOnlySelector(cluster: ClusterObject): Record<string, string> {
  return { [CLUSTER_LABEL]: cluster.metadata.name, [ROLE_LABEL]: "replica" };
}

/** A ClusterIP Service on the PostgreSQL port with `selector`. */
export function service(cluster: ClusterObject, name: string, selector: Record<string, string>): V1Service {
  const body: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(cluster, name),
    spec: { type: "ClusterIP", selector, ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: "postgres", protocol: "TCP" }] },
  };
  return setControllerReference(cluster, body);
}
