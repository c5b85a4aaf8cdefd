/**
 * Wiring of the `PostgresCluster` controller: an informer on `PostgresCluster` objects (spec
 * and metadata changes only), informers on the kinds it owns (Pods, PersistentVolumeClaims,
 * Services; Secrets as metadata, shared with the operator) whose events reconcile the owning
 * cluster (and, for a role's password Secret, every cluster whose `spec.roles` names it), the controller running {@link reconcilePostgresCluster}, its Event recorder, and the
 * disk collector (disk.ts), which runs while the controller runs (i.e. while this operator leads).
 */
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject, type V1PersistentVolumeClaim, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../../api/common";
import { KINDS } from "../../api/crds";
import type { Logger, Request } from "../../reconcile/index";
import { Controller } from "../../reconcile/internal/controller";
import { Informer } from "../../reconcile/internal/informer";
import { reportFailureInStatus, type StatusApi } from "../../reconcile/internal/status";
import type { MetricsRegistry } from "../../reconcile/internal/metrics";
import { enqueueForOwner, enqueueMapped, enqueueObject, generationChanged, ReferenceIndex } from "../../reconcile/internal/sources";
import { servedClustersOf } from "./served";
import { clusterObjectNames } from "../../api/names";
import { parsePostgresClusterSpec } from "../../api/parse";
import { controllerOf } from "../../reconcile/owners";
import type { StopOptions } from "../../reconcile/internal/controller";
import { reconcilePostgresCluster, type PostgresClusterObject } from "./controller";
import { DiskCollector, quantityBytes, type DiskTarget } from "./disk";
import { clusterMetrics } from "./metrics";
import { readOperatorTls } from "./tls";
import { kubernetesEventRecorder } from "./events";
import { OPERATOR_POD_LABELS } from "./network-policy";
import { referencedRoleSecrets } from "./roles-sync";
import { customResourceInformer } from "../informers";

/** A controller that also runs its disk collector while it runs. */
class ClusterController extends Controller {
  collector: DiskCollector | undefined;
  override start(): void {
    super.start();
    this.collector?.start();
  }
  override async stop(options?: StopOptions): Promise<void> {
    await this.collector?.stop();
    await super.stop(options);
  }
}

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
 * @param secrets the operator's metadata-only Secrets informer (ConfigMaps likewise).
 */
export function clusterController(opts: {
  kubeConfig: KubeConfig;
  namespace?: string;
  logger: Logger;
  metrics: MetricsRegistry;
  concurrency: number;
  secrets: Informer<KubernetesObject>;
  /** The operator's metadata-only ConfigMaps informer. */
  configMaps: Informer<KubernetesObject>;
  /** The operator's own namespace (its pods' NetworkPolicy peer). @default "default" */
  operatorNamespace?: string;
  /** Time between disk usage samples. @default 10_000 ms */
  diskIntervalMs?: number;
  /** Time between the steps of an authority's rotation (ADR 0049). @default 7 days */
  authorityOverlapMs?: number;
}): ClusterControllerParts {
  const { kubeConfig: kc, namespace: ns, logger, metrics } = opts;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const { plural } = KINDS.PostgresCluster;
  const clusters = customResourceInformer<PostgresClusterObject>({ kubeConfig: kc, plural, namespace: ns, logger, metrics });
  const owned = <T extends KubernetesObject>(resource: string): Informer<T> =>
    new Informer<T>({ kubeConfig: kc, name: resource, path: ns ? `/api/v1/namespaces/${ns}/${resource}` : `/api/v1/${resource}`, logger, metrics });
  const pods = owned<V1Pod>("pods");
  const claims = owned<V1PersistentVolumeClaim>("persistentvolumeclaims");
  const services = owned<V1Service>("services");

  // The reconciler reads the collector's samples through this holder (the collector needs the controller to enqueue).
  const holder: { collector?: DiskCollector } = {};
  const exported = clusterMetrics(metrics);
  const status: StatusApi = { client: objects, group: GROUP, version: VERSION, plural };
  const controller = new ClusterController({
    name: "postgrescluster",
    concurrency: opts.concurrency,
    logger,
    metrics,
    onFailure: reportFailureInStatus(status, clusters),
    reconciler: reconcilePostgresCluster({
      clusters,
      pods,
      claims,
      services,
      secrets: opts.secrets,
      configMaps: opts.configMaps,
      api: core,
      status,
      events: kubernetesEventRecorder({ api: core, logger }),
      disk: { usage: (namespace, instance) => holder.collector?.usage(namespace, instance) },
      metrics: exported,
      networkPolicies: { api: kc.makeApiClient(NetworkingV1Api), operator: { namespace: opts.operatorNamespace ?? "default", podLabels: OPERATOR_POD_LABELS } },
      upgrades: objects,
      ...(opts.authorityOverlapMs !== undefined ? { authorityOverlapMs: opts.authorityOverlapMs } : {}),
      patchCluster: (namespace, name, patch) =>
        objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name, body: patch }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch)),
    }),
  });
  const collector = new DiskCollector({
    intervalMs: opts.diskIntervalMs,
    metrics: exported,
    logger,
    enqueue: (req) => controller.enqueue(req),
    targets: () => {
      const out: DiskTarget[] = [];
      for (const cluster of clusters.list()) {
        const namespace = cluster.metadata?.namespace ?? "";
        const name = cluster.metadata?.name ?? "";
        let threshold: number | undefined;
        try {
          threshold = parsePostgresClusterSpec(cluster.spec).storage.autoGrow?.thresholdPercent;
        } catch {
          continue; // an invalid spec is reported by the reconciler
        }
        const password = async (): Promise<string> => {
          const s = await core.readNamespacedSecret({ name: clusterObjectNames(name).superuserSecret, namespace });
          return Buffer.from(s.data?.["password"] ?? "", "base64").toString("utf8");
        };
        for (const pod of pods.list()) {
          if (pod.metadata?.namespace !== namespace || controllerOf(pod)?.uid !== cluster.metadata?.uid || pod.metadata?.deletionTimestamp) continue;
          const ip = pod.status?.podIP;
          const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
          const request = claims.get(`${namespace}/${pod.metadata.name!}`)?.spec?.resources?.requests?.storage;
          if (!ip || !ready || request === undefined) continue;
          out.push({ cluster: { namespace, name }, instance: pod.metadata.name!, host: ip, requestedBytes: quantityBytes(request), thresholdPercent: threshold, password, tls: () => readOperatorTls(core, namespace, name) });
        }
      }
      return out;
    },
  });
  holder.collector = collector;
  controller.collector = collector;
  const enqueue = (req: Request): void => controller.enqueue(req);
  clusters.onEvent(enqueueObject(enqueue, generationChanged));
  // A green's changes (its primary, its readiness) reconcile the clusters it serves (ADR 0046).
  clusters.onEvent(enqueueMapped((green) => servedClustersOf(clusters.list(), green), enqueue));
  const owner = { group: GROUP, kind: KINDS.PostgresCluster.kind };
  for (const informer of [pods, claims, services, opts.secrets, opts.configMaps] as Informer<KubernetesObject>[]) informer.onEvent(enqueueForOwner(owner, enqueue));
  // A changed role password Secret (a rotation) reconciles the clusters whose spec.roles name it.
  opts.secrets.onEvent(new ReferenceIndex(clusters, referencedRoleSecrets).enqueueReferrers(enqueue));
  return { controller, clusters, informers: [clusters, pods, claims, services] as Informer<KubernetesObject>[] };
}
