/**
 * Reading conditions: the one definition of "ready" that the Pulumi components wait for and
 * the operator reports.
 */
import type { Condition } from "./common";

/** The `Ready` condition of a status, when present. */
export function readyCondition(status: { conditions?: readonly Condition[] } | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === "Ready");
}

/**
 * True when the status reports `Ready=True` for exactly `generation`: the condition's own
 * `observedGeneration` must equal it (and the status' `observedGeneration`, when set), so a
 * Ready left over from an older spec never counts.
 * @param status the resource's status (already parsed).
 * @param generation the resource's `metadata.generation`.
 */
export function isReadyFor(
  status: { observedGeneration?: number; conditions?: readonly Condition[] } | undefined,
  generation: number,
): boolean {
  const ready = readyCondition(status);
  if (ready?.status !== "True" || ready.observedGeneration !== generation) return false;
  return status?.observedGeneration === undefined || status.observedGeneration === generation;
}
