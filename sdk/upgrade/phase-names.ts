// The upgrade's phase names, in a module without zod so that published declarations naming them
// (the Upgrade component's summary) never reference zod (ADR 0011).

/**
 * Where the upgrade stands. `switched` is the only state with traffic on green; `finalized`,
 * `aborted` and `rolled-back` are final.
 */
export const UPGRADE_PHASES = [
  "new",
  "preflighted",
  "schema-ready",
  "replicating",
  "synchronized",
  "switched",
  "finalized",
  "aborted",
  "rolled-back",
] as const;

/** One of {@link UPGRADE_PHASES}. */
export type UpgradePhase = (typeof UPGRADE_PHASES)[number];
