/**
 * Wiring of the backup controllers: an informer on `PostgresBackup` and one on
 * `PostgresScheduledBackup`, the operator's `PostgresCluster` cache, the controller running
 * {@link reconcilePostgresBackup}, and the scheduler and retention timers, which run only while
 * the controller runs (i.e. while this operator leads).
 */
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../../api/common";
import { KINDS } from "../../api/crds";
import type { Logger, Request } from "../../reconcile/index";
import { Controller, type StopOptions } from "../../reconcile/internal/controller";
import type { Informer } from "../../reconcile/internal/informer";
import type { MetricsRegistry } from "../../reconcile/internal/metrics";
import { enqueueObject, generationChanged } from "../../reconcile/internal/sources";
import { reportFailureInStatus, type StatusApi } from "../../reconcile/internal/status";
import { kubernetesEventRecorder } from "../cluster/events";
import { customResourceInformer } from "../informers";
import { reconcilePostgresBackup, type BackupClusterObject, type PostgresBackupObject } from "./controller";
import { runRetention, runSchedules, type ScheduledBackupObject, type SchedulerDeps } from "./schedule";

/** Timings of the backup controllers. */
export interface BackupTimings {
  /** How often schedules are checked. @default 30_000 ms */
  scheduleIntervalMs?: number;
  /** How often retention runs per cluster. @default 3_600_000 ms */
  retentionIntervalMs?: number;
}

/** A controller that runs the scheduler and retention timers while it runs. */
class BackupController extends Controller {
  timers: (() => void)[] = [];
  starters: (() => () => void)[] = [];
  override start(): void {
    super.start();
    this.timers = this.starters.map((s) => s());
  }
  override async stop(options?: StopOptions): Promise<void> {
    for (const stop of this.timers) stop();
    this.timers = [];
    await super.stop(options);
  }
}

/** The parts of the backup controllers the operator starts, stops and resyncs. */
export interface BackupControllerParts {
  readonly controller: Controller;
  readonly informers: readonly Informer<KubernetesObject>[];
}

/** Builds (does not start) the PostgresBackup controller, its informers and timers. */
export function backupController(opts: { kubeConfig: KubeConfig; namespace?: string; logger: Logger; metrics: MetricsRegistry; clusters: Informer<BackupClusterObject> } & BackupTimings): BackupControllerParts {
  const { kubeConfig: kc, namespace: ns, logger, metrics } = opts;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const backups = customResourceInformer<PostgresBackupObject>({ kubeConfig: kc, plural: KINDS.PostgresBackup.plural, namespace: ns, logger, metrics });
  const scheduled = customResourceInformer<ScheduledBackupObject>({ kubeConfig: kc, plural: KINDS.PostgresScheduledBackup.plural, namespace: ns, logger, metrics });
  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const patchStatus = (plural: string) => (namespace: string, name: string, status: object) =>
    objects.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace, plural, name, body: { status } }, merge);
  const patchClusterBackupStatus = (namespace: string, name: string, backup: object) => patchStatus(KINDS.PostgresCluster.plural)(namespace, name, { backup });
  const events = kubernetesEventRecorder({ api: core, logger });
  const status: StatusApi = { client: objects, group: GROUP, version: VERSION, plural: KINDS.PostgresBackup.plural };
  const controller = new BackupController({
    name: "postgresbackup",
    onFailure: reportFailureInStatus(status, backups),
    // One backup at a time: each streams a whole database through this process.
    concurrency: 1,
    logger,
    metrics,
    reconciler: reconcilePostgresBackup({
      backups,
      clusters: opts.clusters,
      api: core,
      patchBackupStatus: patchStatus(KINDS.PostgresBackup.plural),
      patchClusterBackupStatus,
      events,
    }),
  });
  const deps: SchedulerDeps = {
    clusters: opts.clusters,
    backups,
    scheduled,
    api: core,
    createBackup: (namespace, body) => objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.PostgresBackup.plural, body }),
    patchScheduledStatus: patchStatus(KINDS.PostgresScheduledBackup.plural),
    patchClusterBackupStatus,
    events,
    logger: logger.child({ component: "backup-scheduler" }),
  };
  const every = (ms: number, run: () => Promise<unknown>) => (): (() => void) => {
    let busy = false;
    const tick = (): void => {
      if (busy) return;
      busy = true;
      void run()
        .catch((err: unknown) => logger.error("backup timer failed", { error: (err as Error).message }))
        .finally(() => (busy = false));
    };
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  };
  controller.starters.push(every(opts.scheduleIntervalMs ?? 30_000, () => runSchedules(deps, new Date())));
  controller.starters.push(every(opts.retentionIntervalMs ?? 3_600_000, () => runRetention(deps, new Date())));
  const enqueue = (req: Request): void => controller.enqueue(req);
  backups.onEvent(enqueueObject(enqueue, generationChanged));
  // A cluster that became ready (or got spec.backup) may unblock a pending backup.
  opts.clusters.onEvent((event) => {
    const namespace = event.object.metadata?.namespace ?? "";
    const name = event.object.metadata?.name ?? "";
    for (const b of backups.list()) {
      if (b.metadata?.namespace === namespace && b.spec?.cluster.name === name && (b.status?.phase === undefined || b.status.phase === "Pending")) enqueue({ namespace, name: b.metadata.name ?? "" });
    }
  });
  return { controller, informers: [backups as Informer<KubernetesObject>, scheduled as Informer<KubernetesObject>] };
}
