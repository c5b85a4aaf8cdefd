import { createHash } from "node:crypto";
import { HAZARD_CODES, type HazardCode } from "../hazards";
import type { AllowedHazards, Plan } from "./plan";

/**
 * Approvals of one plan: hazards accepted for the plan with a given hash only. When the plan
 * changes (other SQL, other steps, other hazards), its hash changes and the approval no longer
 * applies, unlike `allowHazards`, which accepts a hazard in every plan.
 */

/** Hazards approved for the plan whose {@link planHash} is `planHash`. */
export interface PlanApproval {
  /** The plan's hash, as the preview, `setpoint schema plan` and refusals print it. */
  readonly planHash: string;
  /** Hazard codes approved for that plan, or `"all"` (every hazard that plan has). */
  readonly hazards: readonly HazardCode[] | "all";
}

/** Prefix of plan hashes, so they are recognisable in config and logs. */
const PREFIX = "sha256:";

/**
 * The hash of what a plan runs: per step its kind, SQL, transaction mode, timeouts and hazard
 * codes, in order. Hazard messages are left out (their row estimates move with ANALYZE, and the
 * plan does not). Equal hashes mean the same statements with the same hazards.
 */
export function planHash(plan: Plan): string {
  const h = createHash("sha256");
  for (const s of plan.steps) {
    h.update(JSON.stringify([s.kind, s.sql, s.transaction, s.lockTimeoutMs, s.statementTimeoutMs, s.hazards.map((x) => x.code)]));
    h.update("\n");
  }
  return PREFIX + h.digest("hex");
}

/** The hash the user wrote names this plan: the full hash, or a prefix of at least 12 hex digits. */
export function hashMatches(approved: string, actual: string): boolean {
  const a = approved.startsWith(PREFIX) ? approved : PREFIX + approved;
  return a.length >= PREFIX.length + 12 && actual.startsWith(a);
}

/**
 * The hazards allowed for `plan`: the code-level `allowHazards`, plus those approved for this
 * plan's hash.
 */
export function allowedForPlan(plan: Plan, allowHazards: AllowedHazards, approvals: readonly PlanApproval[] = []): AllowedHazards {
  if (allowHazards === "all") return "all";
  const hash = planHash(plan);
  const approved = approvals.filter((a) => hashMatches(a.planHash, hash));
  if (approved.some((a) => a.hazards === "all")) return "all";
  return [...new Set([...allowHazards, ...approved.flatMap((a) => a.hazards as readonly HazardCode[])])].filter((c) => (HAZARD_CODES as readonly string[]).includes(c));
}
