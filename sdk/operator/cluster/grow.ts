/**
 * Volume growth as a pure plan: for each instance's claim with a disk sample, its usage for
 * status, and whether it grows now ({@link GROW_GUARDS}) and to what size (one step, capped at
 * the limit). Usage is compared with the claim's requested size, so one threshold crossing grows
 * a claim once, with no state kept between reconciles (ADR 0009).
 */
import type { PostgresClusterSpec } from "../../api/postgres-cluster";
import { firstRequired, GROW_GUARDS } from "./decisions";
import { bytesQuantity, quantityBytes } from "./disk";

/** One claim as observed. */
export interface ClaimUsage {
  readonly name: string;
  /** `spec.resources.requests.storage`. */
  readonly requested: string;
  /** `status.capacity.storage`, once bound. */
  readonly capacity?: string;
  /** The disk collector's latest sample. */
  readonly usedBytes: number;
}

/** What {@link planGrowth} decided. */
export interface GrowthPlan {
  /** Per instance: used bytes and the volume's capacity. */
  readonly usage: ReadonlyMap<string, { readonly usedBytes: number; readonly capacityBytes: number }>;
  /** Claims to grow now, with the new request and why. */
  readonly grow: readonly { readonly name: string; readonly from: string; readonly to: string; readonly reason: string }[];
  /** Why claims at their limit do not grow (for a Warning). */
  readonly atLimit: readonly string[];
}

/** See the module documentation. */
export function planGrowth(claims: readonly ClaimUsage[], autoGrow: PostgresClusterSpec["storage"]["autoGrow"]): GrowthPlan {
  const usage = new Map<string, { usedBytes: number; capacityBytes: number }>();
  const grow: { name: string; from: string; to: string; reason: string }[] = [];
  const atLimit: string[] = [];
  const auto = autoGrow && { thresholdPercent: autoGrow.thresholdPercent, stepBytes: quantityBytes(autoGrow.step), limitBytes: quantityBytes(autoGrow.limit) };
  for (const c of claims) {
    const requestedBytes = quantityBytes(c.requested);
    const capacityBytes = quantityBytes(c.capacity ?? c.requested);
    usage.set(c.name, { usedBytes: c.usedBytes, capacityBytes });
    const hold = firstRequired(GROW_GUARDS, { autoGrow: auto, instance: c.name, usedBytes: c.usedBytes, requestedBytes, capacityBytes });
    if (hold?.checker === "AtLimit") atLimit.push(hold.reason);
    if (hold || !auto) continue;
    grow.push({
      name: c.name,
      from: c.requested,
      to: bytesQuantity(Math.min(requestedBytes + auto.stepBytes, auto.limitBytes)),
      reason: `${c.name} uses ${Math.round((c.usedBytes / requestedBytes) * 100)}% of ${c.requested} (threshold ${auto.thresholdPercent}%)`,
    });
  }
  return { usage, grow, atLimit };
}
