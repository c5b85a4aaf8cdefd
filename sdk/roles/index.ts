/** Managed roles: declared in `PostgresCluster.spec.roles`, reconciled with drift correction. */
export { managedRoleSchema, managedRolesSchema, RESERVED_ROLES, type ManagedRole, type ManagedRoleInput } from "./spec";
export { planRoles, type ObservedRole, type RolePlan, type RolePlanOptions, type RoleStep } from "./plan";
export { readRoles, applyRoles, RoleApplyError } from "./apply";
export { scramVerifier, verifierMatches } from "./scram";
