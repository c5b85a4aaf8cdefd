/**
 * The `PostgresBackup` controller (docs/adr/0030): one base backup of a cluster, over the
 * replication protocol (BASE_BACKUP as the cluster's replication role) from a healthy replica when
 * there is one and the backup prefers a standby, else the primary, streamed into the cluster's
 * `spec.backup.destination` with the credentials read from the Secret it names. A backup runs once:
 * Completed and Failed are final. The cluster's `status.backup` gets the last backup and the first
 * recoverability point by a merge patch that touches nothing else.
 */
import type { CoreV1Api, KubernetesObject } from "@kubernetes/client-node";
import type { Condition } from "../../api/common";
import { clusterObjectNames, POSTGRES_PORT } from "../../api/names";
import { parsePostgresClusterSpec } from "../../api/parse";
import type { PostgresBackupSpec, PostgresBackupStatus } from "../../api/postgres-backup";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import { takeBaseBackup } from "../../backup/base-backup";
import { readCatalog } from "../../backup/catalog";
import type { ObjectStoreOptions } from "../../backup/config";
import { openObjectStore, type ObjectStore } from "../../backup/store";
import { BackupError, InputError } from "../../errors";
import { requestKey, type Reconciler, type Result } from "../../reconcile/index";
import { setCondition } from "../../reconcile/conditions";
import type { Informer } from "../../reconcile/internal/informer";
import type { EventRecorder, EventSubject } from "../cluster/events";
import { defaultBackupPrefix, REPLICATION_USER } from "../cluster/objects";
import { readOperatorTls } from "../cluster/tls";
import { servedBy } from "../cluster/served";

/** A PostgresBackup as the informer holds it. */
export interface PostgresBackupObject extends KubernetesObject {
  spec?: PostgresBackupSpec;
  status?: PostgresBackupStatus;
}

/** A PostgresCluster as this controller reads it. */
export interface BackupClusterObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresClusterStatus;
}

/** What the controller needs from the API server. */
export interface PostgresBackupDeps {
  backups: Informer<PostgresBackupObject>;
  clusters: Informer<BackupClusterObject>;
  api: Pick<CoreV1Api, "readNamespacedSecret" | "readNamespacedPod">;
  /** Merge-patches a PostgresBackup's status. */
  patchBackupStatus(namespace: string, name: string, status: PostgresBackupStatus): Promise<unknown>;
  /** Merge-patches a PostgresCluster's `status.backup` (the cluster controller owns the rest). */
  patchClusterBackupStatus(namespace: string, name: string, backup: NonNullable<PostgresClusterStatus["backup"]>): Promise<unknown>;
  events: EventRecorder;
  /** Opens the bucket. @default openObjectStore */
  openStore?: (o: ObjectStoreOptions) => ObjectStore;
}

/** The condition reason of a failure, by {@link BackupError} reason or our own. */
const REASONS: Record<string, string> = {
  BUCKET_NOT_FOUND: "BucketNotFound",
  ACCESS_DENIED: "AccessDenied",
  ENDPOINT_UNREACHABLE: "EndpointUnreachable",
};

/** A failure that ends a backup: a condition reason and a message naming the problem and the fix. */
export class BackupRefused extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "BackupRefused";
  }
}

/**
 * The key prefix of a cluster's backups: `spec.backup.destination.prefix`, else the default the
 * instances archive to ({@link defaultBackupPrefix}: one rule for the archive and the base backups).
 */
export function clusterBackupPrefix(namespace: string, cluster: string, spec: PostgresClusterSpec): string {
  return spec.backup?.destination.prefix ?? defaultBackupPrefix(namespace, cluster);
}

/** A backup of a cluster its green serves after a finalized upgrade (ADR 0046): refused, naming green. */
export function servedRefusal(namespace: string, clusterName: string, status: PostgresClusterStatus | undefined): { reason: string; message: string } | undefined {
  const served = servedBy(status);
  if (served === undefined) return undefined;
  return {
    reason: "ClusterServedByUpgrade",
    message: `PostgresCluster ${namespace}/${clusterName} has no instances of its own: ${served.green} (PostgreSQL ${served.to}) serves it since PostgresUpgrade ${served.name} was finalized, and archives to its own prefix. Back up ${served.green} (spec.cluster.name: ${served.green})`,
  };
}

/** The instance a backup is taken from: a ready replica when preferred and there is one, else the ready primary. */
export function chooseBackupSource(status: PostgresClusterStatus | undefined, target: "prefer-standby" | "primary"): { name: string; role: "primary" | "replica" } | undefined {
  const instances = status?.instances ?? [];
  if (target === "prefer-standby") {
    const replicas = instances.filter((i) => i.role === "replica" && i.ready).sort((a, b) => (a.lagBytes ?? 0) - (b.lagBytes ?? 0) || a.name.localeCompare(b.name));
    if (replicas[0]) return { name: replicas[0].name, role: "replica" };
  }
  const primary = instances.find((i) => i.role === "primary" && i.ready && (status?.currentPrimary === undefined || i.name === status.currentPrimary));
  return primary ? { name: primary.name, role: "primary" } : undefined;
}

async function secretValue(api: PostgresBackupDeps["api"], namespace: string, name: string, key: string, what: string): Promise<string> {
  let data: Record<string, string> | undefined;
  try {
    data = (await api.readNamespacedSecret({ name, namespace })).data;
  } catch (err) {
    if ((err as { code?: number }).code === 404) throw new BackupRefused("CredentialsNotFound", `Secret ${namespace}/${name} (${what}) does not exist; create it`);
    throw err;
  }
  const v = data?.[key];
  if (v === undefined || v === "") throw new BackupRefused("CredentialsNotFound", `Secret ${namespace}/${name} (${what}) has no key "${key}"; add it or name the right key`);
  return Buffer.from(v, "base64").toString("utf8");
}

/** The store options of a cluster's destination, credentials read from its Secret (kept in memory only). */
export async function destinationStore(api: PostgresBackupDeps["api"], namespace: string, cluster: string, spec: PostgresClusterSpec): Promise<ObjectStoreOptions> {
  const d = spec.backup!.destination;
  const c = d.credentials;
  const accessKeyId = await secretValue(api, namespace, c.secretName, c.accessKeyIdKey, "spec.backup.destination.credentials");
  const secretAccessKey = await secretValue(api, namespace, c.secretName, c.secretAccessKeyKey, "spec.backup.destination.credentials");
  return { endpoint: d.endpoint, region: d.region, forcePathStyle: d.forcePathStyle, bucket: d.bucket, prefix: clusterBackupPrefix(namespace, cluster, spec), credentials: { kind: "static", accessKeyId, secretAccessKey } };
}

/** Reads a cluster's spec, refusing one without `spec.backup`. */
export function clusterBackupSpec(cluster: BackupClusterObject | undefined, namespace: string, name: string): PostgresClusterSpec {
  if (cluster === undefined) throw new BackupRefused("ClusterNotFound", `PostgresCluster ${namespace}/${name} (spec.cluster.name) does not exist`);
  let spec: PostgresClusterSpec;
  try {
    spec = parsePostgresClusterSpec(cluster.spec);
  } catch (err) {
    throw new BackupRefused("InvalidClusterSpec", `PostgresCluster ${namespace}/${name}: ${(err as Error).message}`);
  }
  if (spec.backup === undefined) throw new BackupRefused("BackupNotConfigured", `PostgresCluster ${namespace}/${name} has no spec.backup: set spec.backup.destination (bucket, endpoint, credentials Secret) first`);
  return spec;
}

/** How long after its end a Completed backup is re-checked for its WAL reaching the archive. */
const USABLE_RECHECK_MS = 10 * 60_000;

/** Builds the reconciler. */
export function reconcilePostgresBackup(deps: PostgresBackupDeps): Reconciler {
  const open = deps.openStore ?? openObjectStore;
  return async (ctx, req): Promise<Result | void> => {
    const obj = deps.backups.get(requestKey(req));
    if (obj?.metadata?.name === undefined || obj.spec === undefined) return;
    const { namespace, name } = req;
    const generation = obj.metadata.generation ?? 1;
    const previous = obj.status;
    const subject: EventSubject = { apiVersion: obj.apiVersion ?? "setpoint.dev/v1alpha1", kind: "PostgresBackup", metadata: { name, namespace, uid: obj.metadata.uid ?? "" } };
    const conditions = (list: Condition[] | undefined, ready: Condition["status"], reason: string, message: string, degraded: boolean, progressing: boolean): Condition[] => {
      let c = setCondition(list, { type: "Ready", status: ready, reason, message }, generation, ctx.now());
      c = setCondition(c, { type: "Progressing", status: progressing ? "True" : "False", reason, message }, generation, ctx.now());
      return setCondition(c, { type: "Degraded", status: degraded ? "True" : "False", reason, message }, generation, ctx.now());
    };
    const clusterName = obj.spec.cluster.name;

    if (previous?.phase === "Failed") return;
    if (previous?.phase === "Completed") {
      // A backup's last WAL segment reaches the archive after it ends (BASE_BACKUP runs WAIT false).
      if (previous.usable === true || previous.backupId === undefined || Date.now() - Date.parse(previous.endTime ?? "") > USABLE_RECHECK_MS) return;
      const cluster = deps.clusters.get(`${namespace}/${clusterName}`);
      let spec: PostgresClusterSpec;
      try {
        spec = clusterBackupSpec(cluster, namespace, clusterName);
      } catch {
        return;
      }
      const store = open(await destinationStore(deps.api, namespace, clusterName, spec));
      try {
        const catalog = await readCatalog(store);
        const found = catalog.backups.find((b) => b.id === previous.backupId);
        if (found?.usable) {
          await deps.patchBackupStatus(namespace, name, { usable: true });
          await deps.patchClusterBackupStatus(namespace, clusterName, { ...(catalog.recoverable ? { firstRecoverabilityPoint: catalog.recoverable.from } : {}) });
          return;
        }
      } finally {
        store.close();
      }
      return { requeueAfterMs: 15_000 };
    }

    const fail = async (reason: string, message: string): Promise<void> => {
      await deps.patchBackupStatus(namespace, name, { observedGeneration: generation, phase: "Failed", error: `${reason}: ${message}`, conditions: conditions(previous?.conditions, "False", reason, message, true, false) });
      await deps.events.record(subject, "Warning", reason, message);
      ctx.log.error("backup failed", { reason, message });
    };

    let spec: PostgresClusterSpec;
    let storeOptions: ObjectStoreOptions;
    try {
      spec = clusterBackupSpec(deps.clusters.get(`${namespace}/${clusterName}`), namespace, clusterName);
      storeOptions = await destinationStore(deps.api, namespace, clusterName, spec);
    } catch (err) {
      if (err instanceof BackupRefused) return fail(err.reason, err.message);
      throw err;
    }
    const cluster = deps.clusters.get(`${namespace}/${clusterName}`)!;
    const noInstances = servedRefusal(namespace, clusterName, cluster.status);
    if (noInstances) return fail(noInstances.reason, noInstances.message);
    const target = obj.spec.target ?? spec.backup!.target;
    const source = chooseBackupSource(cluster.status, target);
    if (source === undefined) {
      const message = `no ready instance of PostgresCluster ${namespace}/${clusterName} to take the backup from; waiting`;
      await deps.patchBackupStatus(namespace, name, { observedGeneration: generation, phase: "Pending", conditions: conditions(previous?.conditions, "False", "NoInstanceReady", message, false, true) });
      return { requeueAfterMs: 10_000 };
    }
    const pod = await deps.api.readNamespacedPod({ name: source.name, namespace });
    const host = pod.status?.podIP;
    if (!host) return { requeueAfterMs: 5_000 };
    let password: string;
    try {
      password = await secretValue(deps.api, namespace, clusterObjectNames(clusterName).replicationSecret, "password", "the cluster's replication credentials");
    } catch (err) {
      if (err instanceof BackupRefused) return fail(err.reason, err.message);
      throw err;
    }
    // The instances take replication by certificate only, over TLS (ADR 0035).
    const tls = await readOperatorTls(deps.api, namespace, clusterName, "replication");
    if (tls === undefined) return { requeueAfterMs: 5_000 };
    const running = `taking a base backup of ${namespace}/${clusterName} from ${source.role} ${source.name}`;
    await deps.patchBackupStatus(namespace, name, { observedGeneration: generation, phase: "Running", instance: source.name, role: source.role, conditions: conditions(previous?.conditions, "False", "Running", running, false, true) });
    ctx.log.info("backup started", { instance: source.name, role: source.role, bucket: storeOptions.bucket, prefix: storeOptions.prefix });

    const store = open(storeOptions);
    try {
      let taken;
      try {
        await store.check();
        taken = await takeBaseBackup(store, { source: { host, port: cluster.status?.port ?? POSTGRES_PORT, user: REPLICATION_USER, password, tls, applicationName: `setpoint-backup-${name}`.slice(0, 63) }, label: `setpoint ${namespace}/${name}`, compression: spec.backup!.compression, signal: ctx.signal });
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        if (err instanceof BackupError) return fail(REASONS[err.reason] ?? "BackupFailed", err.message);
        if (err instanceof InputError) return fail("BackupFailed", err.message);
        // The instance's errors (connection, BASE_BACKUP refused) carry no credential.
        return fail("BackupFailed", `base backup from ${source.role} ${source.name} failed: ${(err as Error).message}`);
      }
      const m = taken.manifest;
      let usable = false;
      let firstRecoverabilityPoint: string | undefined;
      try {
        const catalog = await readCatalog(store);
        usable = catalog.backups.find((b) => b.id === m.id)?.usable ?? false;
        firstRecoverabilityPoint = catalog.recoverable?.from;
      } catch (err) {
        ctx.log.error("could not read the catalog after the backup", { error: (err as Error).message });
      }
      const done = `base backup ${m.id} of ${namespace}/${clusterName} from ${source.role} ${source.name}: ${m.bytes} bytes (${m.storedBytes} stored), LSN ${m.startLsn} .. ${m.endLsn}`;
      await deps.patchBackupStatus(namespace, name, {
        observedGeneration: generation,
        phase: "Completed",
        backupId: m.id,
        instance: source.name,
        role: source.role,
        beginLsn: m.startLsn,
        endLsn: m.endLsn,
        beginTime: m.beginTime,
        endTime: m.endTime,
        timeline: m.timeline,
        sizeBytes: m.bytes,
        storedBytes: m.storedBytes,
        usable,
        conditions: conditions(previous?.conditions, "True", "Completed", done, false, false),
      });
      await deps.patchClusterBackupStatus(namespace, clusterName, { lastBackup: name, lastBackupTime: m.endTime, ...(firstRecoverabilityPoint ? { firstRecoverabilityPoint } : {}) });
      await deps.events.record(subject, "Normal", "Completed", done);
      ctx.log.info("backup completed", { backupId: m.id, bytes: m.bytes, seconds: taken.seconds });
      return usable ? undefined : { requeueAfterMs: 15_000 };
    } finally {
      store.close();
    }
  };
}
