/**
 * The NetworkPolicy of a `PostgresCluster`'s instances (issue 19): PostgreSQL's port is reachable
 * only from the cluster's own pods (replication, clones, the cluster's pooler), from the
 * operator's pods, and from the peers the cluster declares (the application); every other
 * ingress to the instances is denied by selecting them at all. Egress is not restricted (instances
 * reach their peers and the object store). Pure.
 *
 * A policy only takes effect where the cluster's network plugin enforces NetworkPolicy; kube-proxy
 * alone does not (the real-node harness runs none, so its tests check the rules' contents).
 * Written with client-node's model names (`_from`), which its serializer sends as `from`.
 */
import type { V1NetworkPolicy, V1NetworkPolicyPeer } from "@kubernetes/client-node";
import { POSTGRES_PORT } from "../../api/names";
import { setControllerReference } from "../../reconcile/owners";
import { CLUSTER_LABEL, INSTANCE_LABEL, type ClusterObject } from "./objects";

/** Who besides the cluster's own pods may connect. */
export interface NetworkPolicyOptions {
  /** Where the operator runs: its namespace and its pods' labels. */
  readonly operator: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> };
  /** The application's pods (and namespaces), as Kubernetes NetworkPolicy peers. */
  readonly allowFrom: readonly V1NetworkPolicyPeer[];
}

/** Name of the cluster's policy: `<cluster>-instances`. */
export function networkPolicyName(cluster: ClusterObject): string {
  return `${cluster.metadata.name}-instances`;
}

/** The NetworkPolicy of `cluster`'s instances, owned by the cluster. */
export function clusterNetworkPolicy(cluster: ClusterObject, options: NetworkPolicyOptions): V1NetworkPolicy {
  const port = [{ protocol: "TCP", port: POSTGRES_PORT }];
  const body: V1NetworkPolicy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: networkPolicyName(cluster), namespace: cluster.metadata.namespace, labels: { [CLUSTER_LABEL]: cluster.metadata.name } },
    spec: {
      podSelector: { matchLabels: { [CLUSTER_LABEL]: cluster.metadata.name }, matchExpressions: [{ key: INSTANCE_LABEL, operator: "Exists" }] },
      policyTypes: ["Ingress"],
      ingress: [
        { _from: [{ podSelector: { matchLabels: { [CLUSTER_LABEL]: cluster.metadata.name } } }], ports: port },
        {
          _from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": options.operator.namespace } }, podSelector: { matchLabels: { ...options.operator.podLabels } } }],
          ports: port,
        },
        ...(options.allowFrom.length > 0 ? [{ _from: [...options.allowFrom], ports: port }] : []),
      ],
    },
  };
  return setControllerReference(cluster, body);
}
