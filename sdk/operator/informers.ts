import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../api/common";
import type { Logger } from "../reconcile/index";
import { Informer } from "../reconcile/internal/informer";
import type { MetricsRegistry } from "../reconcile/internal/metrics";

/** An informer on one of our custom resources (`plural` of {@link GROUP}/{@link VERSION}), in `namespace` or all of them. */
export function customResourceInformer<T extends KubernetesObject>(opts: {
  kubeConfig: KubeConfig;
  plural: string;
  namespace?: string;
  logger: Logger;
  metrics: MetricsRegistry;
}): Informer<T> {
  const { kubeConfig, plural, namespace: ns, logger, metrics } = opts;
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  return new Informer<T>({
    kubeConfig,
    name: plural,
    path: ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`,
    list: async () =>
      (ns
        ? await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural })
        : await objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as KubernetesListObject<T>,
    logger,
    metrics,
  });
}
