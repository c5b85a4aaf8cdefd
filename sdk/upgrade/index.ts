/** Blue-green major-version upgrades over logical replication: the contract of `setpoint/upgrade`. */
export { planUpgrade, runUpgrade, rollbackUpgrade, finalizeUpgrade, PreflightRefusedError, UPGRADE_STEPS } from "./engine";
export type { UpgradePlan, UpgradeResult, RunOptions, UpgradeStep } from "./engine";
export { UpgradeError, describeSides, type UpgradeOptions, type UpgradeEvent } from "./context";
export { CutoverAbortedError, type CutoverResult } from "./cutover";
export { PREFLIGHT_CHECKERS, type PreflightReport, type PreflightFinding, type PreflightCode, type SideSummary } from "./preflight";
export { SchemaMismatchError } from "./schema";
export type { VerifyReport, TableMismatch } from "./verify";
export {
  memoryStateStore,
  fileStateStore,
  tableStateStore,
  parseUpgradeState,
  upgradeObjectNames,
  UpgradeStateError,
  UPGRADE_PHASES,
  STATE_VERSION,
  type StateStore,
  type UpgradeState,
  type UpgradePhase,
  type PhaseResult,
  type LoginFence,
  type VerificationSummary,
} from "./state";
export type { TrafficSwitch, Side, PauseOptions } from "./traffic";
export { pgbouncerSwitch, type PgBouncerSwitchOptions, type PgBouncerDatabase, type PgBouncerTarget, type PgBouncerTargetFields } from "./pgbouncer";
export { kubernetesServiceSwitch, kubernetesSecretSwitch, type KubernetesServiceSwitchOptions, type KubernetesSecretSwitchOptions, type KubernetesConnectionOptions } from "./kubernetes";
export { TrafficSwitchError, type TrafficSwitchFailure, type TrafficSwitchOperation } from "./traffic-error";
export { RetentionExceededError } from "./lag";
