/** Blue-green major-version upgrades over logical replication: the contract of `setpoint/upgrade`. */
export { planUpgrade, runUpgrade, rollbackUpgrade, finalizeUpgrade, forgetUpgrade, followUpgrade, PreflightRefusedError, UpgradeRefusedError, UPGRADE_STEPS } from "./engine";
export type { UpgradePlan, UpgradeResult, RunOptions, PlanOptions, UpgradeStep, FollowResult } from "./engine";
export {
  UPGRADE_PHASE_TABLE,
  RUN_UNTIL,
  phaseRule,
  planSteps,
  optionsConflict,
  switchInterrupted,
  type PhaseRule,
  type ForwardStep,
  type RunUntil,
  type RollbackRule,
  type FinalizeRule,
  type ForgetRule,
  type UpgradeRequest,
  type UpgradeRefusal,
  type StepPlan,
  type OptionsConflict,
} from "./phases";
export { UpgradeInProgressError, describeHolder, type LockHolder } from "./lock";
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
