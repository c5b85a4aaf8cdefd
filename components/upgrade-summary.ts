// The Upgrade component's summary output, in a module without zod so that the published
// declarations of \`setpoint/components\` never reference zod (ADR 0011).
import type { UpgradePhase } from "../sdk/upgrade/phase-names";

/** The outcome of one phase run (the engine's \`PhaseResult\`, spelled out). */
export interface UpgradePhaseResult {
  readonly phase: string;
  readonly status: "Succeeded" | "Failed" | "Skipped" | "NotStarted";
  /** Epoch ms. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly message: string;
}

/** The engine's state as the resource outputs it: no connection, no password. */
export interface UpgradeSummary {
  /** The engine's id of this upgrade (every replication object it creates carries it). */
  readonly id: string;
  readonly phase: UpgradePhase;
  readonly blueMajor: number | null;
  readonly greenMajor: number | null;
  /** Where blue stands, e.g. `serving; publishing to green`. */
  readonly blue: string;
  /** Where green stands, e.g. `serving`. */
  readonly green: string;
  /** One entry per phase run so far (the last 50): phase, status, start, duration, message. */
  readonly history: readonly UpgradePhaseResult[];
  /** The cutover's data verification, once it ran. */
  readonly verification: { mode: string; equal: boolean | null; tables: number; rows: number; mismatchedTables: string[]; skipped?: string } | null;
  /** How long writes were held during the cutover. */
  readonly writePauseMs: number | null;
  /** Epoch ms of the switch to green. */
  readonly switchedAt: number | null;
}
