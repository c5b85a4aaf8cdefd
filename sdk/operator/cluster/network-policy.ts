/**
 * The NetworkPolicy of a `PostgresCluster`'s instances (issue 19): PostgreSQL's port is reachable
 * only from the cluster's own pods (replication, clones, the cluster's pooler), from the
 * operator's pods, and from the peers the cluster declares (the application); every other
 * ingress to the instances is denied by selecting them at all. Egress is not restricted (instances
 * reach their peers and the object store). {@link clusterNetworkPolicy} is pure;
 * {@link syncNetworkPolicy} is the controller's step that creates it and corrects drift.
 *
 * A policy only takes effect where the cluster's network plugin enforces NetworkPolicy; kube-proxy
 * alone does not (the real-node harness runs none, so its tests check the rules' contents).
 * Written with client-node's model names (`_from`), which its serializer sends as `from`.
 */
import type { NetworkingV1Api, V1NetworkPolicy, V1NetworkPolicyPeer } from "@kubernetes/client-node";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { POSTGRES_PORT } from "../../api/names";
import { setControllerReference } from "../../reconcile/owners";
import { CLUSTER_LABEL, INSTANCE_LABEL, type ClusterObject } from "./objects";

/** Labels every operator pod carries (components/operator.ts): the operator's NetworkPolicy peer. */
export const OPERATOR_POD_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": "setpoint-operator" };

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

/**
 * The peers an instance accepts by default besides the cluster's own pods and the operator: every
 * pod of the cluster's namespace (the application and the cluster's pooler live there). Pods of
 * other namespaces are refused.
 */
export const SAME_NAMESPACE_PEERS: readonly V1NetworkPolicyPeer[] = [{ podSelector: {} }];

/** The API calls {@link syncNetworkPolicy} makes (a `NetworkingV1Api` in production). */
export type NetworkPolicyApi = Pick<NetworkingV1Api, "readNamespacedNetworkPolicy" | "createNamespacedNetworkPolicy" | "replaceNamespacedNetworkPolicy">;

/** A policy's spec as JSON with sorted keys and no undefined fields (the client's model objects carry them). */
function canonicalSpec(policy: V1NetworkPolicy): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sort(x)])) : v;
  return JSON.stringify(sort(policy.spec));
}

/**
 * Makes the cluster's NetworkPolicy exist with exactly `desired`'s spec: created when missing,
 * replaced when someone changed it (drift is corrected on every reconcile).
 * @returns what was done.
 */
export async function syncNetworkPolicy(api: NetworkPolicyApi, desired: V1NetworkPolicy): Promise<"Created" | "Updated" | "Unchanged"> {
  const name = desired.metadata!.name!;
  const namespace = desired.metadata!.namespace!;
  let live: V1NetworkPolicy;
  try {
    live = await api.readNamespacedNetworkPolicy({ name, namespace });
  } catch (err) {
    if (apiStatusCode(err) !== 404) throw err;
    try {
      await api.createNamespacedNetworkPolicy({ namespace, body: desired });
      return "Created";
    } catch (createErr) {
      if (apiStatusCode(createErr) === 409) return "Unchanged"; // created meanwhile: the next reconcile compares it
      throw createErr;
    }
  }
  if (canonicalSpec(live) === canonicalSpec(desired)) return "Unchanged";
  await api.replaceNamespacedNetworkPolicy({ name, namespace, body: { ...desired, metadata: { ...desired.metadata, resourceVersion: live.metadata?.resourceVersion } } });
  return "Updated";
}
