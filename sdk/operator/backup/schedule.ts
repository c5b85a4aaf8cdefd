/**
 * The backup scheduler and retention runner (docs/adr/0030), run on a timer by the operator while it
 * leads: a cluster's `spec.backup.schedule` and each `PostgresScheduledBackup` create a
 * `PostgresBackup` when a cron time is due (at most one catch-up after downtime: runs missed while
 * the operator was down collapse into the latest), and `spec.backup.retention` is applied to the
 * cluster's bucket periodically. Which times were acted on is read from the PostgresBackups
 * themselves (a label naming the schedule, an annotation with the scheduled time, a name derived
 * from it): a restarted operator needs no other state and never creates one run twice.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION, GROUP } from "../../api/common";
import { parseWithSchema } from "../../api/parse";
import { postgresScheduledBackupSpecSchema, type PostgresScheduledBackupSpec, type PostgresScheduledBackupStatus } from "../../api/postgres-backup";
import { readCatalog } from "../../backup/catalog";
import { kubeName } from "../../api/names";
import type { PostgresClusterStatus } from "../../api/postgres-cluster";
import { dueRun, nextRun, parseCron } from "../../backup/cron";
import type { ObjectStoreOptions } from "../../backup/config";
import { applyRetention } from "../../backup/retention";
import { openObjectStore, type ObjectStore } from "../../backup/store";
import type { Logger } from "../../reconcile/index";
import type { Informer } from "../../reconcile/internal/informer";
import type { EventRecorder } from "../cluster/events";
import { clusterBackupSpec, destinationStore, type BackupClusterObject, type PostgresBackupDeps, type PostgresBackupObject } from "./controller";
import { servedBy } from "../cluster/served";

/** Label naming what created a scheduled PostgresBackup: `cluster.<name>` or `scheduled.<name>`. */
export const SCHEDULED_BY_LABEL = `${GROUP}/scheduled-by`;
/** Label naming the cluster of a PostgresBackup. */
export const CLUSTER_LABEL = `${GROUP}/cluster`;
/** Annotation holding the cron time a scheduled PostgresBackup was created for (RFC 3339). */
export const SCHEDULED_AT_ANNOTATION = `${GROUP}/scheduled-at`;

/** A PostgresScheduledBackup as the informer holds it. */
export interface ScheduledBackupObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresScheduledBackupStatus;
}

/** What the scheduler needs. */
export interface SchedulerDeps {
  clusters: Informer<BackupClusterObject>;
  backups: Informer<PostgresBackupObject>;
  scheduled: Informer<ScheduledBackupObject>;
  api: PostgresBackupDeps["api"];
  createBackup(namespace: string, body: object): Promise<unknown>;
  /** Merge-patches a PostgresScheduledBackup's status (a null value removes a field). */
  patchScheduledStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<unknown>;
  patchClusterBackupStatus(namespace: string, name: string, backup: NonNullable<PostgresClusterStatus["backup"]>): Promise<unknown>;
  events: EventRecorder;
  logger: Logger;
  openStore?: (o: ObjectStoreOptions) => ObjectStore;
}

/** `YYYYMMDDHHMM` of a cron time, for names. */
function stamp(t: Date): string {
  return t.toISOString().replace(/[-:T]/g, "").slice(0, 12);
}

function time(v: Date | string | undefined): Date {
  return v === undefined ? new Date(0) : new Date(v);
}

/** The latest cron time acted on for a schedule, from the PostgresBackups it created; else `created`. */
function lastActedOn(backups: readonly PostgresBackupObject[], namespace: string, by: string, created: Date): Date {
  let last = created;
  for (const b of backups) {
    if (b.metadata?.namespace !== namespace || b.metadata.labels?.[SCHEDULED_BY_LABEL] !== by) continue;
    const at = Date.parse(b.metadata.annotations?.[SCHEDULED_AT_ANNOTATION] ?? "");
    if (!Number.isNaN(at) && at > last.getTime()) last = new Date(at);
  }
  return last;
}

/**
 * One pass of the scheduler: creates the PostgresBackups that are due. Never throws: a bad schedule
 * or a failed create is logged and recorded as an Event, and the next pass tries again.
 */
export async function runSchedules(deps: SchedulerDeps, now: Date): Promise<number> {
  let created = 0;
  const create = async (namespace: string, owner: { apiVersion: string; kind: string; name: string; uid: string }, by: string, cluster: string, due: Date, target: string | undefined): Promise<string | undefined> => {
    const name = kubeName([owner.name, stamp(due)]);
    try {
      await deps.createBackup(namespace, {
        apiVersion: API_VERSION,
        kind: "PostgresBackup",
        metadata: {
          name,
          namespace,
          labels: { [SCHEDULED_BY_LABEL]: by, [CLUSTER_LABEL]: cluster },
          annotations: { [SCHEDULED_AT_ANNOTATION]: due.toISOString() },
          ownerReferences: [{ ...owner, controller: false, blockOwnerDeletion: false }],
        },
        spec: { cluster: { name: cluster }, ...(target ? { target } : {}) },
      });
      created++;
      return name;
    } catch (err) {
      // Already created for this time (by an earlier pass whose cache had not caught up): done.
      if ((err as { code?: number }).code === 409) return name;
      deps.logger.error("could not create a scheduled PostgresBackup", { namespace, name, error: (err as Error).message });
      return undefined;
    }
  };
  const backups = deps.backups.list();
  for (const c of deps.clusters.list()) {
    const namespace = c.metadata?.namespace ?? "";
    const name = c.metadata?.name ?? "";
    const schedule = (c.spec as { backup?: { schedule?: string } } | undefined)?.backup?.schedule;
    // Served by its green after a finalized upgrade (ADR 0046): green has the same schedule and the instances.
    if (!schedule || servedBy(c.status) !== undefined) continue;
    try {
      const cron = parseCron(schedule, "spec.backup.schedule");
      const by = `cluster.${name}`;
      const due = dueRun(cron, lastActedOn(backups, namespace, by, time(c.metadata?.creationTimestamp)), now);
      if (due) await create(namespace, { apiVersion: API_VERSION, kind: "PostgresCluster", name, uid: c.metadata?.uid ?? "" }, by, name, due, undefined);
    } catch (err) {
      await deps.events.record({ apiVersion: API_VERSION, kind: "PostgresCluster", metadata: { name, namespace, uid: c.metadata?.uid ?? "" } }, "Warning", "InvalidSchedule", (err as Error).message);
    }
  }
  for (const s of deps.scheduled.list()) {
    const namespace = s.metadata?.namespace ?? "";
    const name = s.metadata?.name ?? "";
    let spec: PostgresScheduledBackupSpec;
    try {
      spec = parseWithSchema(postgresScheduledBackupSpecSchema, "PostgresScheduledBackup spec", "spec", s.spec);
      const cron = parseCron(spec.schedule, "spec.schedule");
      const by = `scheduled.${name}`;
      const last = lastActedOn(backups, namespace, by, time(s.metadata?.creationTimestamp));
      const due = spec.suspend ? undefined : dueRun(cron, last, now);
      let lastBackup = s.status?.lastBackup;
      let lastScheduleTime = s.status?.lastScheduleTime;
      if (due) {
        const made = await create(namespace, { apiVersion: API_VERSION, kind: "PostgresScheduledBackup", name, uid: s.metadata?.uid ?? "" }, by, spec.cluster.name, due, spec.target);
        if (made) {
          lastBackup = made;
          lastScheduleTime = due.toISOString();
        }
      }
      const next = spec.suspend ? undefined : nextRun(cron, now).toISOString();
      const status: PostgresScheduledBackupStatus = { ...(lastBackup ? { lastBackup } : {}), ...(lastScheduleTime ? { lastScheduleTime } : {}), ...(next ? { nextScheduleTime: next } : {}) };
      if (JSON.stringify(status) !== JSON.stringify({ lastBackup: s.status?.lastBackup, lastScheduleTime: s.status?.lastScheduleTime, nextScheduleTime: s.status?.nextScheduleTime })) {
        await deps.patchScheduledStatus(namespace, name, { ...status, ...(next ? {} : { nextScheduleTime: null }) });
      }
    } catch (err) {
      await deps.events.record({ apiVersion: API_VERSION, kind: "PostgresScheduledBackup", metadata: { name, namespace, uid: s.metadata?.uid ?? "" } }, "Warning", "InvalidSchedule", (err as Error).message);
    }
  }
  return created;
}

/**
 * One pass of retention over every cluster with `spec.backup.retention`: applies it to the
 * cluster's bucket and records `status.backup.lastRetentionTime` and `firstRecoverabilityPoint`.
 * A failure (named: bucket missing, access denied, endpoint unreachable) is an Event on the
 * cluster; nothing is deleted by a run that could not read the bucket.
 */
export async function runRetention(deps: SchedulerDeps, now: Date): Promise<void> {
  for (const c of deps.clusters.list()) {
    const namespace = c.metadata?.namespace ?? "";
    const name = c.metadata?.name ?? "";
    const retention = (c.spec as { backup?: { retention?: string } } | undefined)?.backup?.retention;
    if (!retention) continue;
    const subject = { apiVersion: API_VERSION, kind: "PostgresCluster", metadata: { name, namespace, uid: c.metadata?.uid ?? "" } };
    let store: ObjectStore | undefined;
    try {
      const spec = clusterBackupSpec(c, namespace, name);
      store = (deps.openStore ?? openObjectStore)(await destinationStore(deps.api, namespace, name, spec));
      const { plan, deleted } = await applyRetention(store, { period: retention, now });
      const catalog = await readCatalog(store);
      await deps.patchClusterBackupStatus(namespace, name, { lastRetentionTime: now.toISOString().replace(/\.\d{3}Z$/, "Z"), ...(catalog.recoverable ? { firstRecoverabilityPoint: catalog.recoverable.from } : {}) });
      if (deleted > 0) await deps.events.record(subject, "Normal", "RetentionApplied", `retention ${retention}: deleted ${plan.remove.length} base backup(s) and ${plan.walObjects.length} WAL file(s)`);
    } catch (err) {
      await deps.events.record(subject, "Warning", "RetentionFailed", (err as Error).message);
      deps.logger.error("retention failed", { namespace, name, error: (err as Error).message });
    } finally {
      store?.close();
    }
  }
}
