/**
 * Managed roles of a `PostgresCluster` (`spec.roles`): what a role should be, as the custom
 * resource and the Pulumi args declare it. The schema is part of the resource's API
 * (sdk/api/roles.ts, validated by zod and the API server alike); the engine (plan.ts) works on the
 * parsed, defaulted form.
 */
export { managedRoleSchema, managedRolesSchema, RESERVED_ROLES, type ManagedRole, type ManagedRoleInput } from "../api/roles";
