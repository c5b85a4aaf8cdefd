/**
 * A `PostgresCluster` whose `postgresVersion` was raised (ADR 0033): the cluster controller keeps
 * its instances on the major they run and hands the upgrade to a `PostgresUpgrade` it owns
 * (`<cluster>-to-<major>`, green `<cluster>-v<major>`), which the upgrade controller drives with
 * the engine. The cluster's rw Service and pooler move to green at the cutover, so the cluster's
 * names keep serving, now on the new major.
 *
 * - {@link decideMajor} (pure): the major the instances run, and whether the spec asks the same,
 *   an upgrade, or something refused (a downgrade; a second upgrade while one is not finalized).
 * - {@link ensureMajorUpgrade}: creates the PostgresUpgrade when missing, keeps its `until` in step
 *   with `primaryUpdateStrategy` (supervised: stop at `synchronized` until approved by the
 *   annotation {@link UPGRADE_APPROVED_ANNOTATION}), and reads its phase and refusals back.
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { API_VERSION, GROUP, VERSION } from "../../api/common";
import { KINDS } from "../../api/crds";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import type { PostgresUpgradeStatus } from "../../api/postgres-upgrade";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { setCondition } from "../../reconcile/conditions";
import { setControllerReference } from "../../reconcile/owners";
import type { ClusterObject } from "./objects";

/** Annotation on a PostgresCluster approving a supervised major upgrade's cutover: the major, e.g. `"17"`. */
export const UPGRADE_APPROVED_ANNOTATION = "setpoint.dev/upgrade-approved";
/** Label on the PostgresUpgrade a cluster made for its own major upgrade. */
export const MAJOR_UPGRADE_LABEL = "setpoint.dev/major-upgrade-of";

const MAJOR_ENV = "SETPOINT_POSTGRES_MAJOR";
/** Phases of an upgrade that ended with traffic on the cluster's own instances. */
const ENDED_WITHOUT_SWITCH = new Set(["rolled-back", "aborted"]);
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** The status block of a cluster's major upgrade. */
export type ClusterUpgradeStatus = NonNullable<PostgresClusterStatus["upgrade"]>;

/** Names of a cluster's major upgrade to `major`. */
export function majorUpgradeNames(cluster: string, major: number): { upgrade: string; green: string } {
  return { upgrade: `${cluster}-to-${major}`, green: `${cluster}-v${major}` };
}

/** What {@link decideMajor} decided. */
export type MajorDecision =
  /** The instances run what the spec asks (or the cluster is new). */
  | { readonly kind: "same"; readonly running: number | undefined }
  /** The spec asks a higher major: the instances stay on `from`, an upgrade to `to` runs. */
  | { readonly kind: "upgrade"; readonly from: number; readonly to: number; readonly upgrade: string; readonly green: string; readonly until: "synchronized" | "switched" }
  /** Refused: the instances stay on `running`; nothing is created. */
  | { readonly kind: "refuse"; readonly running: number; readonly reason: string; readonly message: string };

/** The major the cluster's instances run: from status, else from an instance pod's environment. */
export function runningMajor(status: PostgresClusterStatus | undefined, pods: Iterable<V1Pod>): number | undefined {
  if (status?.upgrade) return status.upgrade.from;
  if (status?.postgresVersion !== undefined) return status.postgresVersion;
  for (const pod of pods) {
    const env = pod.spec?.containers?.[0]?.env?.find((e) => e.name === MAJOR_ENV)?.value;
    if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  }
  return undefined;
}

/**
 * Pure: whether the spec's major is the running one, an upgrade, or refused. A cluster given by
 * `image` alone (no `postgresVersion`) is never upgraded here: its image names its major.
 */
export function decideMajor(o: {
  readonly cluster: string;
  readonly spec: PostgresClusterSpec;
  readonly running: number | undefined;
  readonly status: PostgresClusterStatus | undefined;
  readonly annotations: Readonly<Record<string, string>>;
}): MajorDecision {
  const wanted = o.spec.postgresVersion;
  const running = o.running;
  // An upgrade under way (not rolled back or aborted) is the only major change there is until it ends.
  const current = o.status?.upgrade;
  if (current && running !== undefined && wanted !== undefined && wanted !== current.to && !ENDED_WITHOUT_SWITCH.has(current.phase)) {
    return {
      kind: "refuse",
      running,
      reason: "UpgradeTargetChanged",
      message: `an upgrade to ${current.to} (PostgresUpgrade ${current.name}, ${current.phase}) is under way; spec.postgresVersion ${wanted} was not acted on. Set spec.postgresVersion back to ${current.to}, or roll that upgrade back (spec.action: rollback on ${current.name}) first`,
    };
  }
  if (wanted === undefined || running === undefined || wanted === running || o.spec.image !== undefined) return { kind: "same", running: wanted ?? running }; // the instances are rendered with the spec's major
  if (wanted < running) {
    return {
      kind: "refuse",
      running,
      reason: "DowngradeRefused",
      message: `spec.postgresVersion ${wanted} is lower than the ${running} the instances run: PostgreSQL cannot go back a major in place, and nothing was changed. Set spec.postgresVersion back to ${running} (to run ${wanted}, restore a backup into a new cluster)`,
    };
  }
  const names = majorUpgradeNames(o.cluster, wanted);
  const approved = o.annotations[UPGRADE_APPROVED_ANNOTATION] === String(wanted);
  const until = o.spec.primaryUpdateStrategy === "supervised" && !approved ? "synchronized" : "switched";
  return { kind: "upgrade", from: running, to: wanted, ...names, until };
}

/** The PostgresUpgrade a cluster owns for its upgrade (pure). */
export function majorUpgradeObject(cluster: ClusterObject, d: Extract<MajorDecision, { kind: "upgrade" }>): object {
  return setControllerReference(cluster, {
    apiVersion: API_VERSION,
    kind: "PostgresUpgrade",
    metadata: { name: d.upgrade, namespace: cluster.metadata.namespace, labels: { [MAJOR_UPGRADE_LABEL]: cluster.metadata.name } },
    spec: { from: { clusterRef: { name: cluster.metadata.name }, postgresVersion: d.from }, to: { clusterRef: { name: d.green }, postgresVersion: d.to }, until: d.until },
  });
}

/** The custom objects calls of {@link ensureMajorUpgrade}. */
export type MajorUpgradeApi = Pick<CustomObjectsApi, "getNamespacedCustomObject" | "createNamespacedCustomObject" | "patchNamespacedCustomObject">;

/**
 * Creates the cluster's PostgresUpgrade when missing and keeps its `until` in step with the
 * spec; returns the status block for the cluster (phase and any refusal read from it).
 */
export async function ensureMajorUpgrade(api: MajorUpgradeApi, cluster: ClusterObject, d: Extract<MajorDecision, { kind: "upgrade" }>): Promise<{ status: ClusterUpgradeStatus; created: boolean; refusal?: string }> {
  const plural = KINDS.PostgresUpgrade.plural;
  const namespace = cluster.metadata.namespace;
  let live: { spec?: { until?: string }; status?: PostgresUpgradeStatus; metadata?: { ownerReferences?: { uid?: string }[] } } | undefined;
  try {
    live = (await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name: d.upgrade })) as typeof live;
  } catch (err) {
    if (apiStatusCode(err) !== 404) throw err;
  }
  let created = false;
  if (live === undefined) {
    try {
      await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, body: majorUpgradeObject(cluster, d) });
      created = true;
    } catch (err) {
      if (apiStatusCode(err) !== 409) throw err;
    }
  } else if (live.spec?.until !== d.until && live.status?.phase !== "finalized") {
    await api.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name: d.upgrade, body: { spec: { until: d.until } } }, MERGE_PATCH);
  }
  const phase = live?.status?.phase ?? "new";
  const degraded = live?.status?.conditions?.find((c) => c.type === "Degraded" && c.status === "True");
  const status: ClusterUpgradeStatus = { name: d.upgrade, green: d.green, from: d.from, to: d.to, phase, ...(d.until === "synchronized" ? { gate: "supervised" } : {}) };
  return { status, created, ...(degraded ? { refusal: `PostgresUpgrade ${d.upgrade}: ${degraded.reason}: ${degraded.message ?? ""}` } : {}) };
}

/** The major that serves the cluster's names: `to` once traffic moved to green. */
export function servingMajor(u: ClusterUpgradeStatus): number {
  return u.phase === "switched" || u.phase === "finalized" ? u.to : u.from;
}

/** What one reconcile's major-upgrade step found. */
export interface MajorUpgradeOutcome {
  readonly status?: ClusterUpgradeStatus;
  readonly refusal?: { readonly reason: string; readonly message: string };
}

/**
 * The cluster controller's major-upgrade step: a refusal is reported (Warning Event), an upgrade
 * is ensured (Normal Event when created). Without `api` (tests of other steps) nothing is done.
 */
export async function majorUpgradeStep(
  api: MajorUpgradeApi | undefined,
  cluster: ClusterObject,
  d: MajorDecision,
  event: (type: "Normal" | "Warning", reason: string, message: string) => void,
): Promise<MajorUpgradeOutcome | undefined> {
  if (d.kind === "same") return undefined;
  if (d.kind === "refuse") {
    event("Warning", d.reason, d.message);
    return { refusal: { reason: d.reason, message: d.message } };
  }
  if (api === undefined) return undefined;
  const r = await ensureMajorUpgrade(api, cluster, d);
  if (r.created) event("Normal", "MajorUpgradeStarted", `created PostgresUpgrade ${d.upgrade}: ${d.from} -> ${d.to} on PostgresCluster ${d.green}${d.until === "synchronized" ? ", stopping before the cutover (supervised)" : ""}`);
  return { status: r.status, ...(r.refusal ? { refusal: { reason: "UpgradeRefused", message: r.refusal } } : {}) };
}

/**
 * The cluster's status with its major upgrade: `postgresVersion` (the major serving its names),
 * `upgrade`, and `Degraded` True with the refusal's reason and fix.
 */
export function withMajorUpgrade(next: PostgresClusterStatus, outcome: MajorUpgradeOutcome | undefined, d: MajorDecision, generation: number, now: Date): PostgresClusterStatus {
  const upgrade = outcome?.status ?? (d.kind === "same" ? undefined : next.upgrade);
  const postgresVersion = upgrade ? servingMajor(upgrade) : d.kind === "upgrade" ? d.from : d.running;
  let conditions = next.conditions;
  if (outcome?.refusal) conditions = setCondition(conditions, { type: "Degraded", status: "True", reason: outcome.refusal.reason, message: outcome.refusal.message }, generation, now);
  return { ...next, conditions, postgresVersion, upgrade };
}
