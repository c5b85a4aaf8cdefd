/**
 * The cluster controller's Prometheus series on the operator's `/metrics` (the registry served by
 * sdk/operator/main.ts): WAL archiving of each cluster's primary (what `status.backup` shows, as
 * numbers a rule can alert on) and each instance's disk use as the disk collector measures it,
 * pg_wal apart (WAL held back by a failing archive shows there first).
 */
import { defaultRegistry, type Gauge, type MetricsRegistry } from "../../reconcile/internal/metrics";
import type { ArchiveProbe } from "./instance-sql";

/** Seconds since the Unix epoch of an ISO time, or undefined. */
function epochSeconds(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t / 1000;
}

/** Timeline and segment number of a WAL file name (`000000020000000A000000FE`), or undefined. */
function walPosition(wal: string | undefined): { timeline: number; segment: number } | undefined {
  const m = wal === undefined ? null : /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})/.exec(wal);
  if (!m) return undefined;
  // The segment's index within its timeline: log id × 2^32 + offset, in units of the 8-hex-digit
  // segment field (for 16 MiB segments that field runs to FF): monotonic per timeline.
  return { timeline: parseInt(m[1]!, 16), segment: parseInt(m[2]!, 16) * 2 ** 32 + parseInt(m[3]!, 16) };
}

/** The series of {@link clusterMetrics}. */
export interface ClusterMetrics {
  /**
   * Records the archiver of the cluster's primary; `undefined` (no `spec.backup`, or no primary to
   * ask) drops the cluster's archive series rather than exporting stale values.
   */
  archive(namespace: string, cluster: string, archive: ArchiveProbe | undefined): void;
  /** Records one instance's disk sample: bytes in use (databases + pg_wal), of them pg_wal, and the claim's size. */
  disk(namespace: string, cluster: string, instance: string, sample: { usedBytes: number; walBytes?: number; requestedBytes: number }): void;
  /** Drops one instance's disk series (the instance is gone). */
  forgetInstance(namespace: string, instance: string): void;
  /** Drops every series of a cluster (it was deleted). */
  forgetCluster(namespace: string, cluster: string): void;
}

/**
 * Registers (idempotently) and returns the cluster series in `registry`:
 * `setpoint_backup_archive_lag_seconds`, `…_archive_failing`, `…_wal_pending_files`,
 * `…_wal_pending_bytes`, `…_last_archived_time_seconds`, `…_last_failed_time_seconds`,
 * `…_last_archived_wal_segment` / `…_last_archived_wal_timeline` (and the same for the last
 * failed WAL), labelled `namespace`, `cluster`; `setpoint_instance_disk_used_bytes`,
 * `setpoint_instance_wal_bytes`, `setpoint_instance_disk_requested_bytes`, labelled `namespace`,
 * `cluster`, `instance`.
 */
export function clusterMetrics(registry: MetricsRegistry = defaultRegistry): ClusterMetrics {
  const c = ["namespace", "cluster"] as const;
  const i = ["namespace", "cluster", "instance"] as const;
  const g = (name: string, help: string, labels: readonly string[]): Gauge => registry.gauge(name, help, labels);
  const lag = g("setpoint_backup_archive_lag_seconds", "Seconds since the oldest WAL file waiting to be archived on the primary was completed (0 when none waits).", c);
  const failing = g("setpoint_backup_archive_failing", "1 while the primary's last archive attempt failed (a failure newer than the last success), else 0.", c);
  const pendingFiles = g("setpoint_backup_wal_pending_files", "WAL files on the primary waiting to be archived (.ready).", c);
  const pendingBytes = g("setpoint_backup_wal_pending_bytes", "Bytes of the WAL files on the primary waiting to be archived (held in pg_wal until archived).", c);
  const archivedAt = g("setpoint_backup_last_archived_time_seconds", "Unix time of the primary's last successful WAL archive (pg_stat_archiver).", c);
  const failedAt = g("setpoint_backup_last_failed_time_seconds", "Unix time of the primary's last failed WAL archive (pg_stat_archiver).", c);
  const archivedSeg = g("setpoint_backup_last_archived_wal_segment", "Segment number (log id × 2^32 + segment) of the last archived WAL file on its timeline.", c);
  const archivedTli = g("setpoint_backup_last_archived_wal_timeline", "Timeline of the last archived WAL file.", c);
  const failedSeg = g("setpoint_backup_last_failed_wal_segment", "Segment number (log id × 2^32 + segment) of the last WAL file whose archiving failed.", c);
  const failedTli = g("setpoint_backup_last_failed_wal_timeline", "Timeline of the last WAL file whose archiving failed.", c);
  const archiveSeries = [lag, failing, pendingFiles, pendingBytes, archivedAt, failedAt, archivedSeg, archivedTli, failedSeg, failedTli];
  const used = g("setpoint_instance_disk_used_bytes", "Bytes of an instance's data directory that PostgreSQL accounts for (every database plus pg_wal), as the disk collector last measured.", i);
  const wal = g("setpoint_instance_wal_bytes", "Bytes in an instance's pg_wal (part of setpoint_instance_disk_used_bytes), as the disk collector last measured.", i);
  const requested = g("setpoint_instance_disk_requested_bytes", "Size an instance's volume claim asks for.", i);
  const diskSeries = [used, wal, requested];
  return {
    archive(namespace, cluster, a) {
      const labels = { namespace, cluster };
      for (const m of archiveSeries) m.remove(labels);
      if (a === undefined) return;
      lag.set(labels, a.lagSeconds);
      failing.set(labels, a.failing ? 1 : 0);
      pendingFiles.set(labels, a.pendingFiles);
      pendingBytes.set(labels, a.pendingBytes);
      const at = epochSeconds(a.lastArchivedTime);
      if (at !== undefined) archivedAt.set(labels, at);
      const ft = epochSeconds(a.lastFailedTime);
      if (ft !== undefined) failedAt.set(labels, ft);
      const aw = walPosition(a.lastArchivedWal);
      if (aw) {
        archivedSeg.set(labels, aw.segment);
        archivedTli.set(labels, aw.timeline);
      }
      const fw = walPosition(a.lastFailedWal);
      if (fw) {
        failedSeg.set(labels, fw.segment);
        failedTli.set(labels, fw.timeline);
      }
    },
    disk(namespace, cluster, instance, sample) {
      const labels = { namespace, cluster, instance };
      used.set(labels, sample.usedBytes);
      requested.set(labels, sample.requestedBytes);
      if (sample.walBytes === undefined) wal.remove(labels);
      else wal.set(labels, sample.walBytes);
    },
    forgetInstance(namespace, instance) {
      for (const m of diskSeries) m.remove({ namespace, instance });
    },
    forgetCluster(namespace, cluster) {
      for (const m of [...archiveSeries, ...diskSeries]) m.remove({ namespace, cluster });
    },
  };
}
