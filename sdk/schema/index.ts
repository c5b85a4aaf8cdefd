/**
 * The schema engine: source → introspect → normalize → diff → probes → plan (render) → apply → verify,
 * one directory per stage (ADR 0023); `createSchemaEngine` owns the state a long-running process keeps.
 */
export type {
  SchemaModel,
  TableDef,
  ColumnDef,
  ConstraintDef,
  ConstraintKind,
  IndexDef,
  EnumDef,
  SequenceDef,
  ExtensionDef,
  NamespaceDef,
  IdentityDef,
  UnmanagedObject,
  UnmanagedKind,
  QualifiedName,
} from "./model";
export { MODEL_VERSION, emptyModel } from "./model";
export { introspect, type IntrospectOptions } from "./introspect/introspect";
export { desiredFingerprint, type NormalizeOptions } from "./normalize/normalize";
export { loadSchemaPath, schemaFromSql, type DesiredSchema, type SqlFile } from "./source/desired";
export { diff, type DiffOptions } from "./diff/diff";
export type { Rename } from "./source/rename";
export type { Change, ChangeKind, RowFacts } from "./changes";
export { HAZARD_CODES, UNALLOWABLE_HAZARDS, isHazardCode, isUnallowable, type Hazard, type HazardCode } from "./hazards";
export type { DataProbeOptions } from "./probes/data-probes-run";
export {
  plan,
  assertHazardsAllowed,
  refusedHazards,
  HazardsRefusedError,
  type Plan,
  type PlanStep,
  type PlanPolicy,
  type AllowedHazards,
  type TransactionMode,
} from "./plan/plan";
export { applyPlan, ApplyError, ConcurrentApplyError, type ApplyOptions, type StepResult, type StepStatus } from "./apply/apply";
export {
  createSchemaEngine,
  planSchema,
  applySchema,
  verifySchema,
  normalize,
  scratchCleanup,
  closeKeptConnections,
  closeDevResources,
  NonConvergenceError,
  type SchemaEngine,
  type SchemaEngineOptions,
  type ApplyOptions as ApplySchemaOptions,
  type PlannedSchema,
  type AppliedSchema,
  type VerifiedSchema,
} from "./engine";
export { UncastableColumnsError, type UncastableColumn } from "./probes/casts";
export { ExtensionInUseError, type ExtensionDependent } from "./probes/extension-dependents";
export * from "./builders/index";
