/**
 * Status helpers in the controller-runtime style: conditions that carry `observedGeneration`,
 * a `lastTransitionTime` that moves only when a condition's status flips, and a structural
 * equality so a reconciler writes status only when something changed.
 */
import type { Condition, ConditionType } from "../api/common";

/** The parts of a condition a reconciler decides; the helper fills in the rest. */
export interface ConditionInput {
  /** Ready, Progressing or Degraded. */
  readonly type: ConditionType;
  /** The condition's status. */
  readonly status: Condition["status"];
  /** CamelCase reason, e.g. `Converged`, `DriftDetected`. */
  readonly reason: string;
  /** Human-readable details; never a secret. @default undefined */
  readonly message?: string;
}

// The API server stores metav1.Time with second precision; writing milliseconds would make the
// value read back differ from the value written.
function rfc3339Seconds(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Returns a new condition list with `input` set: an existing condition of the same type is
 * replaced in place (keeping its `lastTransitionTime` when the status is unchanged), a new one
 * is appended. The input array is not modified.
 * @param conditions the current `status.conditions`, if any.
 * @param input the condition to set.
 * @param observedGeneration the `metadata.generation` this condition was computed from.
 * @param now the current time, used as `lastTransitionTime` when the status changes.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const i = list.findIndex((c) => c.type === input.type);
  const previous = i < 0 ? undefined : list[i];
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    ...(input.message === undefined ? {} : { message: input.message }),
    lastTransitionTime:
      previous !== undefined && previous.status === input.status ? previous.lastTransitionTime : rfc3339Seconds(now),
    observedGeneration,
  };
  if (i < 0) return [...list, next];
  return list.map((c, j) => (j === i ? next : c));
}

/**
 * The condition of `type`, if present.
 * @param conditions `status.conditions`, if any.
 */
export function findCondition(conditions: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * True when the condition of `type` has status `True` (and, when `generation` is given, was
 * computed from exactly that generation, so a stale `True` does not count).
 * @param conditions `status.conditions`, if any.
 * @param type the condition type.
 * @param generation the `metadata.generation` it must have been observed at. @default undefined (any)
 */
export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
  generation?: number,
): boolean {
  const c = findCondition(conditions, type);
  if (c?.status !== "True") return false;
  return generation === undefined || c.observedGeneration === generation;
}

/**
 * Structural equality of two JSON-like status values: object key order does not matter, a
 * property set to `undefined` equals an absent one (JSON drops both), array order matters.
 * Use it to skip the status write entirely when the computed status equals the observed one.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => statusEqual(x, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!statusEqual(ra[k], rb[k])) return false;
  return true;
}
