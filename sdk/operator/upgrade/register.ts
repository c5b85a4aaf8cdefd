/**
 * Wiring of the `PostgresUpgrade` controller: an informer on `PostgresUpgrade` objects (spec and
 * metadata changes only), the operator's `PostgresCluster` cache (a cluster's change reconciles
 * the upgrades naming it), the controller running {@link reconcilePostgresUpgrade}, its Event
 * recorder, and the default traffic switch (blue's rw Service).
 */
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../../api/common";
import { KINDS } from "../../api/crds";
import { clusterObjectNames } from "../../api/names";
import type { Logger, Request } from "../../reconcile/index";
import { Controller } from "../../reconcile/internal/controller";
import type { Informer } from "../../reconcile/internal/informer";
import type { MetricsRegistry } from "../../reconcile/internal/metrics";
import { enqueueObject, generationChanged } from "../../reconcile/internal/sources";
import { reportFailureInStatus, type StatusApi } from "../../reconcile/internal/status";
import type { UpgradeState } from "../../upgrade/state";
import { kubernetesServiceSwitch } from "../../upgrade/kubernetes";
import { kubernetesEventRecorder } from "../cluster/events";
import { customResourceInformer } from "../informers";
import { managedPoolerSwitch } from "./pooler-traffic";
import { reconcilePostgresUpgrade, type PostgresUpgradeObject, type TrafficSwitchFactory, type UpgradeClusterObject } from "./controller";

/** The parts of the upgrade controller the operator starts, stops and resyncs. */
export interface UpgradeControllerParts {
  readonly controller: Controller;
  readonly informers: readonly Informer<KubernetesObject>[];
  readonly upgrades: Informer<PostgresUpgradeObject>;
}

/** Builds (does not start) the PostgresUpgrade controller and its informer. */
export function upgradeController(opts: {
  kubeConfig: KubeConfig;
  namespace?: string;
  logger: Logger;
  metrics: MetricsRegistry;
  /** The cluster controller's PostgresCluster cache. */
  clusters: Informer<UpgradeClusterObject>;
  /** Test seam: runs at each engine checkpoint of an operator-driven upgrade. */
  onCheckpoint?: (name: string, state: UpgradeState) => void | Promise<void>;
  /** Another traffic switch (a pooler's) instead of blue's rw Service. */
  traffic?: TrafficSwitchFactory;
}): UpgradeControllerParts {
  const { kubeConfig: kc, namespace: ns, logger, metrics } = opts;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const { plural } = KINDS.PostgresUpgrade;
  const upgrades = customResourceInformer<PostgresUpgradeObject>({ kubeConfig: kc, plural, namespace: ns, logger, metrics });
  const status: StatusApi = { client: objects, group: GROUP, version: VERSION, plural };
  // Blue's rw Service; with a managed pooler, blue's PgBouncers too (they hold the clients: ADR 0033).
  const serviceSwitch: TrafficSwitchFactory = ({ namespace, blueCluster, blueUid, bluePooler, blue, green }) => {
    const service = kubernetesServiceSwitch({ kubeconfig: kc, namespace, name: clusterObjectNames(blueCluster).readWriteService, blue: blue.selector, green: green.selector });
    if (!bluePooler) return service;
    return managedPoolerSwitch({ api: core, namespace, blueCluster: { name: blueCluster, uid: blueUid }, pooler: bluePooler, blue, green, service });
  };
  const controller = new Controller({
    name: "postgresupgrade",
    // Upgrades of different blue databases run side by side; the engine's lock serializes one blue's.
    concurrency: 2,
    logger,
    metrics,
    onFailure: reportFailureInStatus(status, upgrades),
    reconciler: reconcilePostgresUpgrade({
      upgrades,
      clusters: opts.clusters,
      api: core,
      createCluster: (namespace, body) => objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.PostgresCluster.plural, body }),
      patchUpgradeMetadata: (namespace, name, metadata) =>
        objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name, body: { metadata } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)),
      patchClusterMetadata: (namespace, name, metadata) =>
        objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.PostgresCluster.plural, name, body: { metadata } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)),
      status,
      events: kubernetesEventRecorder({ api: core, logger }),
      traffic: opts.traffic ?? serviceSwitch,
      ...(opts.onCheckpoint ? { onCheckpoint: opts.onCheckpoint } : {}),
    }),
  });
  const enqueue = (req: Request): void => controller.enqueue(req);
  upgrades.onEvent(enqueueObject(enqueue, generationChanged));
  // A cluster named by an upgrade changed (e.g. green became Ready): reconcile those upgrades.
  opts.clusters.onEvent((event) => {
    const obj = event.object;
    const namespace = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    for (const u of upgrades.list()) {
      if (u.metadata?.namespace !== namespace) continue;
      const spec = u.spec as { from?: { clusterRef?: { name?: string } }; to?: { clusterRef?: { name?: string } } } | undefined;
      if (spec?.from?.clusterRef?.name === name || spec?.to?.clusterRef?.name === name) enqueue({ namespace, name: u.metadata.name ?? "" });
    }
  });
  return { controller, upgrades, informers: [upgrades as Informer<KubernetesObject>] };
}
