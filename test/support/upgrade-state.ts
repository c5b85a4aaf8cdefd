// Upgrade state fixtures for the unit tests of the phase table and of its views (no server needed):
// a saved state at any phase, and the cutover record of a switch that completed.
import { STATE_VERSION, type UpgradePhase, type UpgradeState } from "../../sdk/upgrade/state";

/** A saved upgrade state at `phase` with nothing done yet besides it, overridden by `extra`. */
export function upgradeState(phase: UpgradePhase, extra: Partial<UpgradeState> = {}): UpgradeState {
  return { version: STATE_VERSION, id: "abc123", phase, tables: [], fences: [], reverseSubscribed: false, history: [], ...extra };
}

/** The cutover record of a switch that completed, post-switch work included. */
export const CUTOVER_DONE: NonNullable<UpgradeState["cutover"]> = {
  fencedAt: 1,
  deadline: 2,
  fence: "logins",
  caughtUp: true,
  forwardDisabled: true,
  reverseSlotCreated: true,
  switching: true,
  writePauseMs: 42,
  postSwitchDone: true,
};
