/**
 * Wiring of the `PostgresCluster` controller: an informer on `PostgresCluster` objects (spec
 * and metadata changes only), informers on the kinds it owns (Pods, PersistentVolumeClaims,
 * Services; Secrets as metadata, shared with the operator) whose events reconcile the owning
 * cluster, and the controller running {@link reconcilePostgresCluster}.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1PersistentVolumeClaim, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../../api/common";
import { KINDS } from "../../api/crds";
import type { Logger, Request } from "../../reconcile/index";
import { Controller } from "../../reconcile/internal/controller";
import { Informer } from "../../reconcile/internal/informer";
import type { MetricsRegistry } from "../../reconcile/internal/metrics";
import { enqueueForOwner, enqueueObject, generationChanged } from "../../reconcile/internal/sources";
import { reconcilePostgresCluster, type PostgresClusterObject } from "./controller";

/** The parts of the cluster controller the operator starts, stops and resyncs. */
export interface ClusterControllerParts {
  readonly controller: Controller;
  /** Every informer this controller added (the shared Secrets informer is not among them). */
  readonly informers: readonly Informer<KubernetesObject>[];
  /** The PostgresCluster cache, for the resync. */
  readonly clusters: Informer<PostgresClusterObject>;
}

/**
 * Builds (does not start) the PostgresCluster controller and its informers.
 * @param secrets the operator's metadata-only Secrets informer.
 */
export function clusterController(opts: {
  kubeConfig: KubeConfig;
  namespace?: string;
  logger: Logger;
  metrics: MetricsRegistry;
  concurrency: number;
  secrets: Informer<KubernetesObject>;
}): ClusterControllerParts {
  const { kubeConfig: kc, namespace: ns, logger, metrics } = opts;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const { plural } = KINDS.PostgresCluster;
  const clusters = new Informer<PostgresClusterObject>({
    kubeConfig: kc,
    name: plural,
    path: ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`,
    list: async () =>
      (ns
        ? await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural })
        : await objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as KubernetesListObject<PostgresClusterObject>,
    logger,
    metrics,
  });
  const owned = <T extends KubernetesObject>(resource: string): Informer<T> =>
    new Informer<T>({ kubeConfig: kc, name: resource, path: ns ? `/api/v1/namespaces/${ns}/${resource}` : `/api/v1/${resource}`, logger, metrics });
  const pods = owned<V1Pod>("pods");
  const claims = owned<V1PersistentVolumeClaim>("persistentvolumeclaims");
  const services = owned<V1Service>("services");

  const controller = new Controller({
    name: "postgrescluster",
    concurrency: opts.concurrency,
    logger,
    metrics,
    reconciler: reconcilePostgresCluster({
      clusters,
      pods,
      claims,
      services,
      secrets: opts.secrets,
      api: core,
      status: { client: objects, group: GROUP, version: VERSION, plural },
    }),
  });
  const enqueue = (req: Request): void => controller.enqueue(req);
  clusters.onEvent(enqueueObject(enqueue, generationChanged));
  const owner = { group: GROUP, kind: KINDS.PostgresCluster.kind };
  for (const informer of [pods, claims, services, opts.secrets] as Informer<KubernetesObject>[]) informer.onEvent(enqueueForOwner(owner, enqueue));
  return { controller, clusters, informers: [clusters, pods, claims, services] as Informer<KubernetesObject>[] };
}
