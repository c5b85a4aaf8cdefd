/**
 * Managed roles of a `PostgresCluster` (`spec.roles`): what a role should be, as the custom
 * resource and the Pulumi args declare it. Validated with zod at the trust boundary; the engine
 * (plan.ts) works on the parsed, defaulted form.
 */
import { z } from "zod";

const roleName = z
  .string()
  .min(1)
  .max(63)
  .refine((n) => !n.startsWith("pg_"), { error: "names starting with pg_ are reserved by PostgreSQL" })
  .refine((n) => !/[\0]/.test(n), { error: "must not contain a NUL byte" });

/** One role as declared. */
export const managedRoleSchema = z
  .object({
    name: roleName.describe("The role's name."),
    ensure: z.enum(["present", "absent"]).default("present").describe("absent drops the role (it must own nothing)."),
    comment: z.string().optional().describe("COMMENT ON ROLE."),
    login: z.boolean().default(false).describe("LOGIN."),
    superuser: z.boolean().default(false).describe("SUPERUSER."),
    createdb: z.boolean().default(false).describe("CREATEDB."),
    createrole: z.boolean().default(false).describe("CREATEROLE."),
    inherit: z.boolean().default(true).describe("INHERIT: use the privileges of roles it is a member of."),
    replication: z.boolean().default(false).describe("REPLICATION."),
    bypassrls: z.boolean().default(false).describe("BYPASSRLS."),
    connectionLimit: z.int().min(-1).default(-1).describe("CONNECTION LIMIT; -1 for none."),
    validUntil: z
      .union([z.literal("infinity"), z.iso.datetime({ offset: true })])
      .optional()
      .describe("VALID UNTIL: when the password stops being accepted (an ISO timestamp), or infinity."),
    inRoles: z.array(roleName).default([]).describe("Roles it is a member of (GRANT ... TO it); other memberships are revoked."),
    passwordSecret: z
      .object({ name: z.string().min(1).describe("A Secret in the cluster's namespace with key `password`.") })
      .optional()
      .describe("Where its password is; changing the Secret rotates the password."),
    disablePassword: z.boolean().default(false).describe("PASSWORD NULL: no password authentication for it."),
  })
  .refine((r) => !(r.passwordSecret && r.disablePassword), { error: "passwordSecret and disablePassword exclude each other", path: ["disablePassword"] })
  .describe("A role the operator keeps as declared (drift is corrected).");

/** The list, with names unique. */
export const managedRolesSchema = z
  .array(managedRoleSchema)
  .refine((roles) => new Set(roles.map((r) => r.name)).size === roles.length, { error: "role names must be unique" })
  .describe("Roles the operator manages; roles it does not name are reported, never dropped.");

/** A declared role, parsed and defaulted. */
export type ManagedRole = z.output<typeof managedRoleSchema>;
/** A declared role as written. */
export type ManagedRoleInput = z.input<typeof managedRoleSchema>;
