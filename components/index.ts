/**
 * Pulumi components: `setpoint/components`.
 *
 * Every module here loads only what its own component needs, and these declarations name no type
 * of `@pulumi/kubernetes`, `@kubernetes/client-node` or zod: a `Schema`-only program runs and
 * type-checks (Pulumi's stock tsconfig, no skipLibCheck) without `@pulumi/kubernetes` installed.
 * `Operator` and `PostgresCluster` load it when constructed (ADR 0011).
 */
export {
  Schema,
  connectionUrl,
  desiredFiles,
  type SchemaArgs,
  type SchemaConnectionFields,
  type SchemaSecretRef,
} from "./schema";
export {
  Upgrade,
  validateUpgradeArgs,
  type UpgradeArgs,
  type UpgradeConnection,
  type UpgradeSchemaArgs,
  type UpgradeTraffic,
  type UpgradePgBouncerDatabase,
  type UpgradePgBouncerTarget,
  type UpgradeKubernetesObject,
  type UpgradeSummary,
  type UpgradePhaseResult,
} from "./upgrade";
export {
  Operator,
  MAX_OPERATOR_REPLICAS,
  operatorDefaults,
  operatorClusterRules,
  operatorNamespaceRules,
  operatorObjectNames,
  type OperatorArgs,
  type ResolvedOperatorArgs,
  type PolicyRule,
} from "./operator";
export { PostgresCluster, type PostgresClusterArgs, type ClusterEndpoints } from "./postgres-cluster";
