/**
 * `PostgresCluster` status as a pure function of the previous status and one observation:
 * conditions (`Ready`, `Progressing`, `Degraded`, each with `observedGeneration`), the current
 * primary, per-instance role, readiness, lag, pending restart and disk usage, the parameters the
 * instances run, managed roles' outcomes (a failure makes a ready cluster Degraded with its
 * reason), and where to connect.
 */
import type { ClusterObjectNames } from "../../api/names";
import { POSTGRES_PORT } from "../../api/names";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import { setCondition, type ConditionInput } from "../../reconcile/conditions";
import type { ArchiveProbe, InstanceProbe } from "./instance-sql";

/** One instance as observed: its pod's readiness and what its database said. */
export interface InstanceObservation {
  readonly name: string;
  readonly podReady: boolean;
  readonly probe: InstanceProbe;
  readonly ip?: string;
  /** Replay lag behind the primary (replicas), from the primary's pg_stat_replication. */
  readonly lagBytes?: number;
  /** A replica streams from the primary (it appears in the primary's pg_stat_replication). */
  readonly streaming?: boolean;
  /** Bytes used on its data volume, from the disk collector. */
  readonly diskUsedBytes?: number;
}

/** What a reconcile found. */
export type Observation =
  | { readonly kind: "InvalidSpec"; readonly message: string }
  | {
      readonly kind: "Observed";
      readonly instances: readonly InstanceObservation[];
      /** The instance that should be primary. */
      readonly primary: string;
      /** The bootstrap database and owner exist on the primary. */
      readonly bootstrapped: boolean;
      readonly wantedInstances: number;
      readonly names: ClusterObjectNames;
      readonly services: PostgresClusterSpec["services"];
      /** A failover, switchover, restart or another change this reconcile made or is waiting for, with its reason. */
      readonly topology?: { readonly reason: string; readonly message: string };
      /** Desired parameters as an instance runs them (`current_setting`). */
      readonly effectiveParameters?: Readonly<Record<string, string>>;
      /** The fullest instance's data volume. */
      readonly diskUsage?: { readonly usedBytes: number; readonly capacityBytes: number };
      /** The managed PgBouncer, when the spec has one. */
      readonly pooler?: NonNullable<PostgresClusterStatus["pooler"]>;
      /** Managed roles (roles-sync.ts), when the spec has them: `status.roles`, and why they are not as declared. */
      readonly roles?: { readonly status: NonNullable<PostgresClusterStatus["roles"]>; readonly failure?: { readonly reason: string; readonly message: string } };
      /** The primary's WAL archiver, when the spec archives (spec.backup) and the primary answered. */
      readonly archive?: ArchiveProbe;
      /** A backup problem that keeps the cluster from being what its spec says (a failed restore), with its reason. */
      readonly backupProblem?: { readonly reason: string; readonly message: string };
    };

/** Condition reason of a failing WAL archive, from the WAL CLI's named reason. */
export function archiveFailureReason(archive: ArchiveProbe): string {
  switch (archive.failure?.reason) {
    case "BUCKET_NOT_FOUND":
      return "ArchiveBucketNotFound";
    case "ACCESS_DENIED":
      return "ArchiveAccessDenied";
    case "ENDPOINT_UNREACHABLE":
      return "ArchiveEndpointUnreachable";
    case "ARCHIVE_CONFLICT":
      return "ArchiveConflict";
    default:
      return "ArchiveFailing";
  }
}

/** A failing archive's message: the segment, the named reason, and the WAL held back in pg_wal meanwhile. */
export function archiveFailureMessage(archive: ArchiveProbe): string {
  const wal = archive.failure?.wal ?? archive.lastFailedWal ?? "a WAL file";
  const why = archive.failure ? `${archive.failure.reason}: ${archive.failure.message}` : "see the instance's log";
  return `archiving ${wal} fails (${why}); ${String(archive.pendingFiles)} WAL files (${String(Math.round(archive.pendingBytes / 2 ** 20))} MiB) wait in pg_wal, archive lag ${String(Math.round(archive.lagSeconds))} s`;
}

/**
 * The next status.
 * @param previous the status as read.
 * @param observation what this reconcile found.
 * @param generation `metadata.generation` the observation was made for.
 * @param now the controller's clock.
 */
export function statusFor(previous: PostgresClusterStatus | undefined, observation: Observation, generation: number, now: Date): PostgresClusterStatus {
  const cond = (type: ConditionInput["type"], status: "True" | "False", reason: string, message?: string): ConditionInput => ({ type, status, reason, message });
  let inputs: ConditionInput[];
  let fields: Partial<PostgresClusterStatus> = {};
  switch (observation.kind) {
    case "InvalidSpec":
      inputs = [cond("Ready", "False", "InvalidSpec", observation.message), cond("Degraded", "True", "InvalidSpec", observation.message), cond("Progressing", "False", "InvalidSpec")];
      break;
    case "Observed": {
      const instances = observation.instances.map((i) => ({
        name: i.name,
        role: i.probe.reachable && i.probe.inRecovery ? ("replica" as const) : i.name === observation.primary ? ("primary" as const) : ("replica" as const),
        ready: i.podReady && i.probe.reachable,
        ...(i.lagBytes !== undefined && i.name !== observation.primary ? { lagBytes: i.lagBytes } : {}),
        ...(i.probe.reachable && i.probe.pendingRestart !== undefined ? { pendingRestart: i.probe.pendingRestart.length > 0 } : {}),
        ...(i.diskUsedBytes !== undefined ? { diskUsedBytes: i.diskUsedBytes } : {}),
      }));
      const primary = observation.instances.find((i) => i.name === observation.primary);
      const primaryUp = primary !== undefined && primary.podReady && primary.probe.reachable && !primary.probe.inRecovery;
      const ready = primaryUp && observation.bootstrapped;
      const replicas = observation.instances.filter((i) => i.name !== observation.primary);
      const notStreaming = replicas.filter((i) => !(i.podReady && i.probe.reachable && i.streaming));
      const running = observation.instances.length;
      const why = observation.backupProblem
        ? [observation.backupProblem.reason, observation.backupProblem.message]
        : !primary
        ? ["PrimaryPending", `waiting for pod ${observation.primary}`]
        : !primaryUp
          ? ["PrimaryNotReady", primary.probe.reachable ? `pod ${primary.name} is not ready` : `instance ${primary.name}: ${primary.probe.error}`]
          : !observation.bootstrapped
            ? ["Bootstrapping", "creating the bootstrap database and owner"]
            : ["Ready", `primary ${observation.primary} is accepting connections`];
      const archive = observation.archive;
      const archiveFailing = archive?.failing === true;
      inputs = [
        cond("Ready", ready ? "True" : "False", why[0]!, why[1]),
        // Degraded: a backup problem first, then a failing archive, then (on a ready cluster) managed roles not as declared.
        observation.backupProblem
          ? cond("Degraded", "True", observation.backupProblem.reason, observation.backupProblem.message)
          : archiveFailing
            ? cond("Degraded", "True", archiveFailureReason(archive), archiveFailureMessage(archive))
            : ready && observation.roles?.failure
              ? cond("Degraded", "True", observation.roles.failure.reason, observation.roles.failure.message)
              : cond("Degraded", "False", ready ? "Ready" : why[0]!),
        observation.topology
          ? cond("Progressing", "True", observation.topology.reason, observation.topology.message)
          : !ready
            ? cond("Progressing", "True", why[0]!)
            : running !== observation.wantedInstances
              ? cond("Progressing", "True", "Scaling", `${running} of ${observation.wantedInstances} instances`)
              : notStreaming.length > 0
                ? cond("Progressing", "True", "ReplicasNotStreaming", `not streaming yet: ${notStreaming.map((i) => i.name).join(", ")}`)
                : cond("Progressing", "False", "Ready"),
      ];
      fields = {
        currentPrimary: primaryUp ? observation.primary : (previous?.currentPrimary ?? observation.primary),
        instances,
        port: POSTGRES_PORT,
        secretName: observation.names.appSecret,
        readWriteService: observation.services.rw ? observation.names.readWriteService : undefined,
        readOnlyService: observation.services.ro ? observation.names.readOnlyService : undefined,
        ...(observation.effectiveParameters ? { effectiveParameters: { ...observation.effectiveParameters } } : {}),
        ...(observation.diskUsage ? { diskUsage: { ...observation.diskUsage } } : {}),
        pooler: observation.pooler ? { ...observation.pooler } : undefined,
        roles: observation.roles ? { ...observation.roles.status } : undefined,
        // The archive's fields; the rest of status.backup (base backups, retention) belongs to other controllers.
        ...(archive
          ? {
              backup: {
                ...previous?.backup,
                ...(archive.lastArchivedWal ? { lastArchivedWal: archive.lastArchivedWal } : {}),
                ...(archive.lastArchivedTime ? { lastArchivedTime: archive.lastArchivedTime } : {}),
                ...(archive.lastFailedWal ? { lastFailedWal: archive.lastFailedWal } : {}),
                ...(archive.lastFailedTime ? { lastFailedTime: archive.lastFailedTime } : {}),
                archiveLagSeconds: Math.round(archive.lagSeconds * 10) / 10,
              },
            }
          : {}),
      };
      break;
    }
    default: {
      const never: never = observation;
      throw new Error(`unhandled observation ${JSON.stringify(never)}`);
    }
  }
  let conditions = previous?.conditions;
  for (const input of inputs) conditions = setCondition(conditions, input, generation, now);
  return { ...previous, ...fields, observedGeneration: generation, conditions };
}
