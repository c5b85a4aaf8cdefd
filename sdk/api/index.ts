/**
 * `setpoint/api`: the Setpoint custom resources (group `setpoint.dev`, version `v1alpha1`) as
 * zod schemas, TypeScript types, parsers and CustomResourceDefinition manifests.
 *
 * To write the CRDs to a file kubectl can apply (a JSON `List`):
 * `node -e 'console.log(JSON.stringify(require("setpoint/api").crdManifestList(), null, 2))' > crds.json`
 */
export {
  GROUP,
  VERSION,
  API_VERSION,
  CONDITION_TYPES,
  QUANTITY_PATTERN,
  DURATION_PATTERN,
  durationToMs,
  type Condition,
  type ConditionType,
} from "./common";
export {
  postgresClusterSpecSchema,
  postgresClusterStatusSchema,
  PRIMARY_UPDATE_STRATEGIES,
  MAX_INSTANCES,
  MAX_POOLER_INSTANCES,
  POOL_MODES,
  POOLER_PARAMETERS,
  type PostgresClusterSpec,
  type PostgresClusterSpecInput,
  type PostgresClusterStatus,
} from "./postgres-cluster";
export { RESERVED_ROLES, MAX_ROLES, ROLE_OUTCOMES, type ManagedRole, type ManagedRoleInput, type RolesStatus } from "./roles";
export {
  postgresSchemaSpecSchema,
  postgresSchemaStatusSchema,
  ALLOW_HAZARD_VALUES,
  type PostgresSchemaSpec,
  type PostgresSchemaSpecInput,
  type PostgresSchemaStatus,
} from "./postgres-schema";
export {
  postgresUpgradeSpecSchema,
  postgresUpgradeStatusSchema,
  type PostgresUpgradeSpec,
  type PostgresUpgradeSpecInput,
  type PostgresUpgradeStatus,
} from "./postgres-upgrade";
export {
  postgresBackupSpecSchema,
  postgresBackupStatusSchema,
  postgresScheduledBackupSpecSchema,
  postgresScheduledBackupStatusSchema,
  BACKUP_PHASES,
  BACKUP_TARGETS,
  type PostgresBackupSpec,
  type PostgresBackupSpecInput,
  type PostgresBackupStatus,
  type PostgresScheduledBackupSpec,
  type PostgresScheduledBackupSpecInput,
  type PostgresScheduledBackupStatus,
} from "./postgres-backup";
export {
  parsePostgresClusterSpec,
  parsePostgresSchemaSpec,
  parsePostgresUpgradeSpec,
  parsePostgresClusterStatus,
  parsePostgresSchemaStatus,
  parseWithSchema,
  specIssues,
  type SpecIssue,
} from "./parse";
export { toOpenApiSchema, structuralViolations, SchemaConversionError, type OpenApiSchema } from "./openapi";
export {
  crdManifests,
  crdManifestList,
  crdName,
  KINDS,
  type CustomResourceDefinitionManifest,
  type KindNames,
  type SetpointKind,
} from "./crds";
export { readyCondition, isReadyFor } from "./conditions";
export {
  kubeName,
  isDnsLabel,
  clusterObjectNames,
  poolerObjectNames,
  instanceName,
  serviceHost,
  MAX_NAME_LENGTH,
  POSTGRES_PORT,
  type ClusterObjectNames,
  type PoolerObjectNames,
} from "./names";
