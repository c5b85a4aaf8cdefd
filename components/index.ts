/** Pulumi components: `setpoint/components`. */
export { Schema, connectionUrl, desiredFiles, type SchemaArgs, type SchemaConnectionFields, type SchemaSecretRef } from "./schema";
export { parseSchemaInputs, type SchemaResourceInputs } from "./schema-args";
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
} from "./upgrade";
export * from "./operator";
export * from "./postgres-cluster";
