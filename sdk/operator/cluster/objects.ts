/**
 * The child objects of a `PostgresCluster`, as pure functions of the cluster and its spec:
 * credential Secrets, one PersistentVolumeClaim and one Pod per instance, and the rw / ro
 * Services. Every child carries the cluster's labels and a controller owner reference, so the
 * garbage collector deletes it with the cluster and its events reconcile the cluster.
 *
 * Pods run Setpoint's instance image (`setpoint-postgres:<major>`, images/recipes.ts) whose PID 1
 * is Setpoint's instance manager (sdk/instance, ADR 0020): `run` prepares PGDATA for the pod's
 * role (initdb with Setpoint's options for the first primary; a clone of the primary over the
 * replication protocol, fast checkpoint, through the replica's own slot, for a new replica;
 * existing data of a replica pod started as a standby) and supervises `postgres`; its status
 * endpoint on the pod's address answers the readiness probe (`GET /readyz`, ADR 0026). Its settings are environment variables (sdk/instance/settings.ts), the
 * passwords come from the cluster's Secrets (never in arguments). What the operator relies on is
 * set by Setpoint, not by the image (ADR 0016): the client authentication file comes from the
 * cluster's ConfigMap (`-c hba_file=...`, sdk/instance/hba.ts), and parameters are written by the
 * controller with `ALTER SYSTEM`, so they can change without recreating the pod.
 */
import { createHash } from "node:crypto";
import type { V1ConfigMap, V1EnvVar, V1PersistentVolumeClaim, V1Pod, V1Secret, V1Service } from "@kubernetes/client-node";
import { HBA_FILE, instanceHba } from "../../instance/hba";
import { INSTANCE_ENV } from "../../instance/settings";
import { STATUS_PORT } from "../../instance/status-server";
import { archiveParameters } from "../../instance/backup";
import { PARAMETERS_FILE } from "../../instance/parameters";
import { durationToMs } from "../../api/common";
import { clusterObjectNames, instanceName, POSTGRES_PORT, replicationSlotName, serviceHost } from "../../api/names";
import type { PostgresClusterSpec } from "../../api/postgres-cluster";
import { setControllerReference, type OwnerObject } from "../../reconcile/owners";
import { runtimeFiles } from "../../instance/settings";
import { clusterTlsNames, verifiedServerName } from "./tls";

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

/** The superuser's name (the operator's client certificate's common name). */
export const SUPERUSER_NAME = "postgres";

/** The role replicas stream as (`REPLICATION`, no superuser). */
export const REPLICATION_USER = "streaming_replica";

/** Where the data volume is mounted, and PGDATA inside it (a subdirectory: a fresh volume's root may hold lost+found). */
const DATA_MOUNT = "/var/lib/postgresql/data";
const PGDATA = `${DATA_MOUNT}/pgdata`;
/**
 * The container's only writable paths besides the data volume (its root filesystem is read-only):
 * `/tmp` (the server's Unix socket, initdb's private password file) as an emptyDir.
 */
export const SCRATCH_MOUNT = "/tmp";
/** Where the cluster's ConfigMap (the configuration files Setpoint writes) is mounted, read-only. */
export const CONFIG_MOUNT = "/etc/setpoint";
/**
 * Where the cluster's certificate Secrets are mounted, read-only (issue 19, ADR 0035): the
 * server's (`tls.crt`, `tls.key`, `ca.crt`) and the replication role's client certificate. The
 * instance manager copies them into {@link RUNTIME_DIR} (0600, its own) and runs the server on
 * the copies; the volumes' files are mode 0440, group {@link INSTANCE_UID} (fsGroup), so no other
 * user of the node can read a key and the manager can.
 */
export const TLS_SERVER_MOUNT = "/etc/setpoint-tls/server";
export const TLS_CLIENT_MOUNT = "/etc/setpoint-tls/replication";
/** The manager's private directory (in the `/tmp` emptyDir): its copies of the hba file and TLS files. */
export const RUNTIME_DIR = `${SCRATCH_MOUNT}/setpoint`;
/** Mode of the certificate Secret volumes' files (group-readable for fsGroup, never others). */
export const TLS_VOLUME_MODE = 0o440;
/** Annotation on the cluster's ConfigMap: a hash of its data, so the controller sees a stale one from its metadata. */
export const CONFIG_HASH_ANNOTATION = "setpoint.dev/config-hash";

/** A PostgresCluster as read from the API server (it has a uid, so it can own children). */
export interface ClusterObject extends OwnerObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly generation?: number };
}

function meta(cluster: ClusterObject, name: string, extra: Record<string, string> = {}): { name: string; namespace: string; labels: Record<string, string> } {
  return { name, namespace: cluster.metadata.namespace, labels: { [CLUSTER_LABEL]: cluster.metadata.name, ...extra } };
}

/** Name of Setpoint's instance image (tagged with the PostgreSQL major it holds). */
export const INSTANCE_IMAGE = "setpoint-postgres";
/** The uid and gid the instance image runs as (the pod's `runAsUser`/`fsGroup`, so a fresh volume is writable). */
export const INSTANCE_UID = 26;
/** How the container starts the instance manager (relative to the image's working directory). */
export const INSTANCE_MANAGER = ["node", "dist/sdk/instance/main.js"] as const;

/** The container image of a spec: `spec.image`, else Setpoint's instance image of the major, `setpoint-postgres:<postgresVersion>`. */
export function imageOf(spec: PostgresClusterSpec): string {
  return spec.image ?? `${INSTANCE_IMAGE}:${String(spec.postgresVersion)}`;
}

/** A `kubernetes.io/basic-auth` Secret of the cluster, owned by it. */
function basicAuthSecret(cluster: ClusterObject, name: string, stringData: Record<string, string>): V1Secret {
  return setControllerReference(cluster, { apiVersion: "v1", kind: "Secret", metadata: meta(cluster, name), type: "kubernetes.io/basic-auth", stringData });
}

/** The superuser Secret (`username`, `password`), with a freshly generated password. */
export function superuserSecret(cluster: ClusterObject, password: string): V1Secret {
  return basicAuthSecret(cluster, clusterObjectNames(cluster.metadata.name).superuserSecret, { username: SUPERUSER_NAME, password });
}

/** On the app Secret: a hash of the authority its `ca.crt` holds (the controller's cache sees Secrets' metadata only). */
export const CA_HASH_ANNOTATION = "setpoint.dev/ca-hash";

/** {@link CA_HASH_ANNOTATION}'s value for `caPem`. Pure. */
export function caHash(caPem: string): string {
  return createHash("sha256").update(caPem).digest("hex").slice(0, 16);
}

/**
 * The application Secret: the bootstrap owner's credentials and how to reach the rw Service over
 * TLS: `ca.crt` (the cluster's authority, when known) and `uri` with `sslmode=verify-full` (libpq
 * reads the authority from `sslrootcert`; a client that cannot name a file passes `ca.crt` itself).
 */
export function appSecret(cluster: ClusterObject, spec: PostgresClusterSpec, password: string, caPem?: string): V1Secret {
  const names = clusterObjectNames(cluster.metadata.name);
  const host = serviceHost(names.readWriteService, cluster.metadata.namespace);
  const { owner, database } = spec.bootstrap;
  const secret = basicAuthSecret(cluster, names.appSecret, {
    username: owner,
    password,
    dbname: database,
    host,
    port: String(POSTGRES_PORT),
    sslmode: "verify-full",
    uri: `postgresql://${encodeURIComponent(owner)}:${encodeURIComponent(password)}@${host}:${POSTGRES_PORT}/${encodeURIComponent(database)}?sslmode=verify-full`,
    ...(caPem === undefined ? {} : { "ca.crt": caPem }),
  });
  if (caPem !== undefined) secret.metadata = { ...secret.metadata, annotations: { [CA_HASH_ANNOTATION]: caHash(caPem) } };
  return secret;
}

/** The replication Secret (`username`, `password`) of the streaming replication role. */
export function replicationSecret(cluster: ClusterObject, password: string): V1Secret {
  return basicAuthSecret(cluster, clusterObjectNames(cluster.metadata.name).replicationSecret, { username: REPLICATION_USER, password });
}

/**
 * The libpq connection parameters a replica streams from `primaryIp` with (the password comes
 * separately: the replication Secret's value, in the pod's environment and in `primary_conninfo`).
 * Over TLS (ADR 0035): `host` is the name the primary's certificate carries and `hostaddr` its
 * address (libpq verifies the one and connects to the other), `sslmode=verify-full`, and the
 * replication role's client certificate as the replica's manager keeps it in `runtimeDir` (the
 * same string the manager itself writes, sdk/instance/basebackup.ts `primaryConninfo`).
 * @param instance the replica's instance name (its `application_name`).
 * @param tls the verified name and the replica's runtime directory; undefined: plaintext (a cluster without TLS).
 * @param dbname a database for the standby's slot synchronization worker (ADR 0050: it reads the
 *   primary's failover slots over a database connection); physical streaming ignores it.
 */
export function streamingConninfo(primaryIp: string, instance: string, tls?: { readonly serverName: string; readonly runtimeDir: string }, dbname?: string): Record<string, string> {
  const common = { port: String(POSTGRES_PORT), user: REPLICATION_USER, application_name: replicationSlotName(instance), ...(dbname === undefined ? {} : { dbname }) };
  if (tls === undefined) return { host: primaryIp, ...common };
  const f = runtimeFiles(tls.runtimeDir);
  return { host: tls.serverName, hostaddr: primaryIp, sslmode: "verify-full", sslrootcert: f.ca, sslcert: f.clientCert, sslkey: f.clientKey, ssl_min_protocol_version: "TLSv1.3", ...common };
}

/**
 * Whether the cluster's standbys synchronize the primary's failover slots (ADR 0050): its
 * parameters turn `sync_replication_slots` on (PostgreSQL 17+; a major upgrade's green of 17+ gets
 * it, with `hot_standby_feedback`). Then `primary_conninfo` names a database. Pure.
 */
export function synchronizesSlots(spec: Pick<PostgresClusterSpec, "parameters">): boolean {
  const v = spec.parameters?.sync_replication_slots;
  return v !== undefined && ["on", "true", "1", "yes"].includes(String(v).toLowerCase());
}

/**
 * The configuration files every instance of a cluster reads: `pg_hba.conf` (TLS only, the
 * replication role and the superuser by client certificate, ADR 0031/0035) and, with the spec's
 * parameters, `parameters.json` ({@link desiredParameters}), which a new data directory starts
 * with (ADR 0043). Pure.
 */
export function instanceConfigFiles(spec?: Pick<PostgresClusterSpec, "tls"> & Partial<Pick<PostgresClusterSpec, "parameters" | "backup">>): Record<string, string> {
  const hba = instanceHba({ replicationUser: REPLICATION_USER, tls: true, superuser: SUPERUSER_NAME, superuserPasswordOverNetwork: spec?.tls?.superuserPasswordOverNetwork === true });
  if (spec === undefined) return { [HBA_FILE]: hba };
  const parameters = Object.fromEntries(Object.entries(desiredParameters(spec)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { [HBA_FILE]: hba, [PARAMETERS_FILE]: `${JSON.stringify(parameters, null, 2)}\n` };
}

/** The cluster's ConfigMap of {@link instanceConfigFiles} (`spec.tls` decides the superuser's rule), annotated with their hash ({@link CONFIG_HASH_ANNOTATION}). */
export function instanceConfigMap(cluster: ClusterObject, spec?: Pick<PostgresClusterSpec, "tls"> & Partial<Pick<PostgresClusterSpec, "parameters" | "backup">>): V1ConfigMap {
  const data = instanceConfigFiles(spec);
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
 * The server arguments of every instance, passed as container args after `run`. None today: what
 * Setpoint owns that cannot be a parameter written with `ALTER SYSTEM` (`hba_file`, `ssl` and its
 * files, TLS 1.3 minimum) the instance manager adds itself, on its own copies of the mounted files
 * (sdk/instance/files.ts `managedServerArgs`), so a renewed certificate or changed rule reaches
 * the server by a reload.
 */
export function serverArgs(): string[] {
  return [];
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
export function desiredParameters(spec: Partial<Pick<PostgresClusterSpec, "parameters" | "backup">>): Record<string, string> {
  const archiving = spec.backup ? archiveParameters(durationToMs(spec.backup.archiveTimeout) / 1000) : {};
  return { ...DEFAULT_PARAMETERS, ...spec.parameters, ...archiving };
}

/** `<namespace>/<cluster>`: the prefix of a destination that names none. */
export function defaultBackupPrefix(namespace: string, cluster: string): string {
  return `${namespace}/${cluster}`;
}

type StoreSpec = NonNullable<PostgresClusterSpec["backup"]>["destination"];

/** A destination's location as the instance manager reads it (JSON; never a credential). */
function storeLocation(store: StoreSpec, prefix: string): string {
  return JSON.stringify({ endpoint: store.endpoint, region: store.region, forcePathStyle: store.forcePathStyle, bucket: store.bucket, prefix });
}

/** The credentials of `store` as environment variables from the user's Secret (secretKeyRef: the values never enter the pod spec). */
function storeCredentials(store: StoreSpec, idVar: string, secretVar: string): V1EnvVar[] {
  const { secretName, accessKeyIdKey, secretAccessKeyKey } = store.credentials;
  return [
    { name: idVar, valueFrom: { secretKeyRef: { name: secretName, key: accessKeyIdKey } } },
    { name: secretVar, valueFrom: { secretKeyRef: { name: secretName, key: secretAccessKeyKey } } },
  ];
}

/** The archive destination of a spec with `backup`, its prefix resolved (`<namespace>/<cluster>` by default). */
export function backupDestination(cluster: Pick<ClusterObject, "metadata">, spec: PostgresClusterSpec): (StoreSpec & { prefix: string }) | undefined {
  return spec.backup ? { ...spec.backup.destination, prefix: spec.backup.destination.prefix ?? defaultBackupPrefix(cluster.metadata.namespace, cluster.metadata.name) } : undefined;
}

/** The recovery target as the instance manager reads it (JSON). */
function recoveryTarget(recovery: NonNullable<PostgresClusterSpec["bootstrap"]["recovery"]>): string {
  const t = recovery.target;
  const id = recovery.backupId ? { backupId: recovery.backupId } : {};
  // Only an exclusive target says so (an inclusive one's value stays as it always was).
  const inclusive = t?.inclusive === false ? { inclusive: false } : {};
  if (t?.time !== undefined) return JSON.stringify({ kind: "time", time: t.time, ...inclusive, ...id });
  if (t?.lsn !== undefined) return JSON.stringify({ kind: "lsn", lsn: t.lsn, ...inclusive, ...id });
  if (t?.name !== undefined) return JSON.stringify({ kind: "name", name: t.name, ...id });
  return JSON.stringify({ kind: "latest", ...id });
}

/**
 * The pod of instance `ordinal`, running as `role`.
 * @param primaryHost for a replica: where it clones from and streams from (the primary's pod IP).
 */
export function instancePod(cluster: ClusterObject, spec: PostgresClusterSpec, ordinal: number, role: "primary" | "replica", primaryHost?: string): V1Pod {
  const name = instanceName(cluster.metadata.name, ordinal);
  const names = clusterObjectNames(cluster.metadata.name);
  const tls = clusterTlsNames(cluster.metadata.name);
  if (role === "replica" && primaryHost === undefined) throw new TypeError("a replica's pod needs the primary's host");
  const E = INSTANCE_ENV;
  const secret = (env: string, secretName: string): V1EnvVar => ({ name: env, valueFrom: { secretKeyRef: { name: secretName, key: "password" } } });
  const env: V1EnvVar[] = [
    { name: E.pgdata, value: PGDATA },
    // Without postgresVersion (spec.image alone), the image's own SETPOINT_POSTGRES_MAJOR names it.
    ...(spec.postgresVersion === undefined ? [] : [{ name: E.major, value: String(spec.postgresVersion) }]),
    { name: E.role, value: role },
    { name: E.podUid, valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
    // The manager's status endpoint listens on the pod's address only (the kubelet probes it there).
    { name: E.statusAddress, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    { name: E.statusPort, value: String(STATUS_PORT) },
    { name: E.port, value: String(POSTGRES_PORT) },
    { name: E.superuser, value: SUPERUSER_NAME },
    secret(E.superuserPassword, names.superuserSecret),
    // TLS and client authentication (ADR 0035): the manager keeps private copies of these and runs the server on them.
    { name: E.hbaSource, value: `${CONFIG_MOUNT}/${HBA_FILE}` },
    // The parameters a new data directory starts with (ADR 0043); later changes go by ALTER SYSTEM.
    { name: E.parametersSource, value: `${CONFIG_MOUNT}/${PARAMETERS_FILE}` },
    { name: E.tlsServerDir, value: TLS_SERVER_MOUNT },
    { name: E.tlsClientDir, value: TLS_CLIENT_MOUNT },
    { name: E.tlsServerName, value: verifiedServerName(cluster.metadata.name, cluster.metadata.namespace) },
    { name: E.runtimeDir, value: RUNTIME_DIR },
  ];
  const destination = backupDestination(cluster, spec);
  if (destination) {
    env.push({ name: E.backupDestination, value: storeLocation(destination, destination.prefix) }, ...storeCredentials(destination, E.backupAccessKeyId, E.backupSecretAccessKey));
    // Only when chosen: the default adds nothing, so existing pods' specs do not change.
    if (spec.backup?.replicaBootstrap === "object-store" && primaryHost !== undefined) env.push({ name: E.replicaBootstrap, value: "object-store" });
  }
  const recovery = spec.bootstrap.recovery;
  if (recovery && role === "primary") {
    // Used only while PGDATA is empty (the restore bootstrap); the new cluster's passwords replace the source's.
    env.push(
      { name: E.recoverySource, value: storeLocation(recovery.source, recovery.source.prefix ?? "") },
      { name: E.recoveryTarget, value: recoveryTarget(recovery) },
      ...storeCredentials(recovery.source, E.recoveryAccessKeyId, E.recoverySecretAccessKey),
      { name: E.ownerName, value: spec.bootstrap.owner },
      { name: E.ownerPassword, valueFrom: { secretKeyRef: { name: names.appSecret, key: "password" } } },
      { name: E.replicationUser, value: REPLICATION_USER },
    );
  }
  if (primaryHost !== undefined) {
    const c = streamingConninfo(primaryHost, name);
    env.push(
      { name: E.primaryHost, value: primaryHost },
      { name: E.primaryPort, value: String(POSTGRES_PORT) },
      { name: E.replicationUser, value: REPLICATION_USER },
      secret(E.replicationPassword, names.replicationSecret),
      { name: E.slot, value: replicationSlotName(name) },
      { name: E.applicationName, value: c.application_name! },
    );
  }
  const body: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta(cluster, name, { [INSTANCE_LABEL]: name, [ROLE_LABEL]: role }),
    spec: {
      hostname: name,
      terminationGracePeriodSeconds: 30,
      // Least privilege (issue 19): the image runs as an unprivileged user (fsGroup makes a fresh
      // volume writable for it) under the runtime's default seccomp profile; the manager never
      // talks to the Kubernetes API, so the pod gets no service-account token.
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: INSTANCE_UID, runAsGroup: INSTANCE_UID, fsGroup: INSTANCE_UID, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "postgres",
          image: imageOf(spec),
          command: [...INSTANCE_MANAGER],
          args: ["run", ...serverArgs()],
          env,
          ports: [
            { name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" },
            { name: "status", containerPort: STATUS_PORT, protocol: "TCP" },
          ],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } },
          volumeMounts: [
            { name: "pgdata", mountPath: DATA_MOUNT },
            { name: "config", mountPath: CONFIG_MOUNT, readOnly: true },
            { name: "scratch", mountPath: SCRATCH_MOUNT },
            { name: "tls-server", mountPath: TLS_SERVER_MOUNT, readOnly: true },
            { name: "tls-replication", mountPath: TLS_CLIENT_MOUNT, readOnly: true },
          ],
          // Answered by the running manager (ADR 0026): every second, unready after two misses.
          readinessProbe: { httpGet: { path: "/readyz", port: "status" }, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1 },
          // The manager writes a failure's named reason there (a failed restore); the controller puts it in a condition.
          terminationMessagePolicy: "FallbackToLogsOnError",
          ...(spec.resources ? { resources: spec.resources } : {}),
        },
      ],
      volumes: [
        { name: "pgdata", persistentVolumeClaim: { claimName: name } },
        { name: "config", configMap: { name: names.configMap } },
        { name: "scratch", emptyDir: { sizeLimit: "64Mi" } },
        { name: "tls-server", secret: { secretName: tls.server, defaultMode: TLS_VOLUME_MODE } },
        { name: "tls-replication", secret: { secretName: tls.replication, defaultMode: TLS_VOLUME_MODE } },
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
