/**
 * A switchover's state and its next step, as pure functions (ADR 0009). The state lives on the
 * target's pod as annotations — the old primary, its WAL position when it was fenced and the
 * start time — so an operator that stops mid-switchover leaves it for the next to resume, and a
 * switchover is never mistaken for a failover. The controller acts on {@link nextSwitchoverStep}.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { firstRequired, SWITCHOVER_GUARDS } from "./decisions";
import { lsnBytes, type InstanceProbe } from "./instance-sql";

/** Annotations on a switchover's target pod: the old primary, its WAL position when fenced, and when it started. */
export const SWITCHOVER_FROM_ANNOTATION = "setpoint.dev/switchover-from";
export const SWITCHOVER_LSN_ANNOTATION = "setpoint.dev/switchover-fence-lsn";
export const SWITCHOVER_AT_ANNOTATION = "setpoint.dev/switchover-started";
/** Every switchover annotation (to clear them). */
export const SWITCHOVER_ANNOTATIONS = [SWITCHOVER_FROM_ANNOTATION, SWITCHOVER_LSN_ANNOTATION, SWITCHOVER_AT_ANNOTATION] as const;
/** A switchover whose target never catches up is abandoned after this long (the failover path takes over). */
export const SWITCHOVER_TIMEOUT_MS = 60_000;

/** A switchover in progress, as read from its target pod. */
export interface Switchover {
  readonly from: string;
  readonly to: string;
  readonly fenceLsn: string;
  /** Epoch milliseconds (0 when unknown). */
  readonly startedAt: number;
}

/** The annotations that start a switchover from `from` (fenced at `fenceLsn`) on the target pod. */
export function switchoverAnnotations(from: string, fenceLsn: string, now: Date): Record<string, string> {
  return { [SWITCHOVER_FROM_ANNOTATION]: from, [SWITCHOVER_LSN_ANNOTATION]: fenceLsn, [SWITCHOVER_AT_ANNOTATION]: now.toISOString() };
}

/** The switchover a live pod is the target of, if any. */
export function readSwitchover(pods: Iterable<V1Pod>): Switchover | undefined {
  for (const p of pods) {
    const a = p.metadata?.annotations;
    if (p.metadata?.deletionTimestamp || a?.[SWITCHOVER_FROM_ANNOTATION] === undefined) continue;
    return { from: a[SWITCHOVER_FROM_ANNOTATION], to: p.metadata!.name!, fenceLsn: a[SWITCHOVER_LSN_ANNOTATION] ?? "0/0", startedAt: Date.parse(a[SWITCHOVER_AT_ANNOTATION] ?? "") || 0 };
  }
  return undefined;
}

/**
 * Whether a switchover's old primary may count as shut down: its pod is gone, or it is being
 * deleted and every container reports terminated (PID 1 exited, so the kernel ended every process
 * of the container: no server runs). Waiting for the pod object to go as well adds the kubelet's
 * sandbox and volume teardown and the API deletion to the clients' pause. Pure.
 */
export function oldPrimaryDown(pod: V1Pod | undefined): boolean {
  if (pod === undefined) return true;
  const statuses = pod.status?.containerStatuses ?? [];
  return pod.metadata?.deletionTimestamp !== undefined && statuses.length > 0 && statuses.every((c) => c.state?.terminated !== undefined && c.state.running === undefined);
}

/** What to do about a switchover in progress. */
export type SwitchoverStep =
  | { readonly kind: "Promote" }
  /** Already promoted (an operator stopped before relabelling): finish. */
  | { readonly kind: "Finish" }
  | { readonly kind: "Wait"; readonly checker: string; readonly reason: string }
  | { readonly kind: "Abandon"; readonly checker: string; readonly reason: string };

/** The furthest WAL position a replica has (received or replayed), if it answers in recovery. */
function replicaLsn(p: InstanceProbe | undefined): string | undefined {
  if (!p?.reachable || !p.inRecovery) return undefined;
  return lsnBytes(p.receiveLsn) >= lsnBytes(p.lsn) ? p.receiveLsn : p.lsn;
}

/**
 * The next step of switchover `s` ({@link SWITCHOVER_GUARDS}); a wait other than for the old
 * primary's shutdown turns into an abandon after {@link SWITCHOVER_TIMEOUT_MS}.
 * @param oldPodPresent the old primary's pod still exists.
 * @param replicas the probes of every other live instance (the target included).
 */
export function nextSwitchoverStep(s: Switchover, oldPodPresent: boolean, replicas: ReadonlyMap<string, InstanceProbe | undefined>, now: Date): SwitchoverStep {
  const target = replicas.get(s.to);
  if (target?.reachable && !target.inRecovery) return { kind: "Finish" };
  const best = [...replicas.values()].map(replicaLsn).sort((a, b) => lsnBytes(b) - lsnBytes(a))[0];
  const hold = firstRequired(SWITCHOVER_GUARDS, {
    from: s.from,
    to: s.to,
    oldPodPresent,
    targetReachable: target?.reachable === true && target.inRecovery,
    fenceLsn: s.fenceLsn,
    targetLsn: replicaLsn(target),
    bestLsn: best,
  });
  if (!hold) return { kind: "Promote" };
  if (hold.checker !== "OldPrimaryRunning" && now.getTime() - s.startedAt > SWITCHOVER_TIMEOUT_MS) return { kind: "Abandon", ...hold };
  return { kind: "Wait", ...hold };
}
