/**
 * A cluster served by its green after a finalized major upgrade (ADR 0046). Finalizing drops the
 * rollback path (ADR 0033): from then on green serves the cluster's names for good, and the
 * cluster's own instances of the old major only cost pods, volumes and a stale read-only Service.
 *
 * - {@link servedBy} (pure): the finalized upgrade a cluster's status records, if any.
 * - {@link retirement} (pure): which of the cluster's own pods and claims still have to go.
 * - {@link servedStatus} (pure): the cluster's status while green serves it — Ready as green is,
 *   green's primary, no instances of its own, and what is still being removed.
 */
import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { PostgresClusterStatus } from "../../api/postgres-cluster";
import { setCondition } from "../../reconcile/conditions";
import type { ClusterUpgradeStatus } from "./major-upgrade";

/** The finalized upgrade whose green serves the cluster's names, from the cluster's own status. */
export function servedBy(status: PostgresClusterStatus | undefined): ClusterUpgradeStatus | undefined {
  return status?.upgrade?.phase === "finalized" ? status.upgrade : undefined;
}

/**
 * The clusters `green` serves (same namespace, finalized upgrade naming it): a change of green —
 * its primary after a failover, its readiness — reconciles them at once, so their rw Service and
 * pooler follow without waiting for a periodic look. Pure.
 */
export function servedClustersOf(
  clusters: Iterable<{ metadata?: { name?: string; namespace?: string }; status?: PostgresClusterStatus }>,
  green: { metadata?: { name?: string; namespace?: string } },
): { namespace: string; name: string }[] {
  const out: { namespace: string; name: string }[] = [];
  for (const c of clusters) {
    if (c.metadata?.namespace === green.metadata?.namespace && servedBy(c.status)?.green === green.metadata?.name) out.push({ namespace: c.metadata?.namespace ?? "", name: c.metadata?.name ?? "" });
  }
  return out;
}

/** What still has to be removed of a served cluster's own instances: pods first, then their claims. */
export interface Retirement {
  /** Instance pods not yet being deleted. */
  readonly deletePods: readonly string[];
  /** Claims not yet being deleted (the claim's protection keeps it until its pod is gone). */
  readonly deleteClaims: readonly string[];
  /** Pods and claims that still exist, deleted or not: the removal is done when this is empty. */
  readonly remaining: readonly string[];
}

/** Pure: the cluster's instance pods and claims (never the pooler's) still to delete. */
export function retirement(pods: Iterable<V1Pod>, claims: Iterable<V1PersistentVolumeClaim>): Retirement {
  const podList = [...pods];
  const claimList = [...claims];
  const names = (xs: { metadata?: { name?: string; deletionTimestamp?: Date | string } }[], pending: boolean): string[] =>
    xs.filter((x) => !pending || !x.metadata?.deletionTimestamp).map((x) => x.metadata!.name!).sort();
  return {
    deletePods: names(podList, true),
    deleteClaims: names(claimList, true),
    remaining: [...new Set([...names(podList, false).map((n) => `pod ${n}`), ...names(claimList, false).map((n) => `claim ${n}`)])],
  };
}

/** Green as the cluster controller's cache holds it. */
export interface GreenView {
  readonly status?: PostgresClusterStatus;
}

/**
 * Pure: the status of a cluster served by `upgrade.green`. Ready mirrors green's Ready (the
 * cluster's names lead to green); `currentPrimary` is green's; `instances` is empty (its own are
 * removed); Progressing stays True until every pod and claim of the old instances is gone;
 * Degraded says when the spec asks a major the served cluster cannot move to from here.
 */
export function servedStatus(
  previous: PostgresClusterStatus | undefined,
  o: {
    readonly upgrade: ClusterUpgradeStatus;
    readonly green: GreenView | undefined;
    readonly remaining: readonly string[];
    readonly wantedMajor: number | undefined;
    readonly pooler?: PostgresClusterStatus["pooler"];
  },
  generation: number,
  now: Date,
): PostgresClusterStatus {
  const { upgrade, green } = o;
  const greenReady = green?.status?.conditions?.find((c) => c.type === "Ready");
  const serving = `PostgresCluster ${upgrade.green} (PostgreSQL ${upgrade.to}) serves this cluster's names since PostgresUpgrade ${upgrade.name} was finalized`;
  const ready =
    green === undefined
      ? { status: "False" as const, reason: "ServingClusterMissing", message: `${serving}, but it does not exist: nothing serves the cluster's names. Restore it from its backups, or recreate this cluster` }
      : greenReady?.status === "True"
        ? { status: "True" as const, reason: "ServedByUpgrade", message: serving }
        : { status: "False" as const, reason: "ServingClusterNotReady", message: `${serving}; it is not ready: ${greenReady?.reason ?? "no status yet"}${greenReady?.message ? `: ${greenReady.message}` : ""}` };
  const wrongMajor =
    o.wantedMajor !== undefined && o.wantedMajor !== upgrade.to
      ? `spec.postgresVersion ${o.wantedMajor} was not acted on: this cluster is served by ${upgrade.green} on ${upgrade.to} and has no instances of its own. Set spec.postgresVersion back to ${upgrade.to}; a further major upgrade is made on ${upgrade.green}`
      : undefined;
  let conditions = previous?.conditions;
  conditions = setCondition(conditions, { type: "Ready", ...ready }, generation, now);
  conditions = setCondition(
    conditions,
    wrongMajor
      ? { type: "Degraded", status: "True", reason: "ServedByUpgrade", message: wrongMajor }
      : { type: "Degraded", status: ready.status === "True" ? "False" : "True", reason: ready.reason, ...(ready.status === "True" ? {} : { message: ready.message }) },
    generation,
    now,
  );
  conditions = setCondition(
    conditions,
    o.remaining.length > 0
      ? { type: "Progressing", status: "True", reason: "RetiringInstances", message: `removing the ${upgrade.from} instances (finalized upgrade ${upgrade.name}): ${o.remaining.join(", ")}` }
      : { type: "Progressing", status: "False", reason: "ServedByUpgrade" },
    generation,
    now,
  );
  const { effectiveParameters: _effective, diskUsage: _disk, roles: _roles, upgradeReadiness: _readiness, ...kept } = previous ?? {};
  return {
    ...kept,
    ...(green?.status?.currentPrimary ? { currentPrimary: green.status.currentPrimary } : {}),
    instances: [],
    postgresVersion: upgrade.to,
    upgrade,
    pooler: o.pooler,
    observedGeneration: generation,
    conditions,
  };
}
