/**
 * `PostgresCluster.spec.roles`: roles the operator keeps as declared on the primary (ADR 0032).
 * One zod schema, checked by zod (component args, the operator) and, as CEL rules, by the API
 * server. Roles the operator owns itself (the superuser, the replication role, the pooler's admin,
 * PostgreSQL's `pg_*` roles; the bootstrap owner, checked on the spec) and the superuser and
 * replication attributes are refused, each with the fix named.
 */
import { z } from "zod";
import { localObjectName, withRules } from "./common";

/**
 * Role names the operator owns itself: the superuser (`postgres`), the streaming replication role
 * and the pooler's admin user. `spec.roles` may neither declare them nor make a role a member of
 * them. (The bootstrap owner, `spec.bootstrap.owner`, is refused as a declared name as well.)
 */
export const RESERVED_ROLES = ["postgres", "streaming_replica", "setpoint_pooler_admin"] as const;

/** Most roles `spec.roles` may declare (bounds the CEL rules' cost). */
export const MAX_ROLES = 200;

/** Most memberships one role may declare. */
export const MAX_ROLE_MEMBERSHIPS = 64;

const celList = (names: readonly string[]): string => `[${names.map((n) => `'${n}'`).join(", ")}]`;
const reservedText = RESERVED_ROLES.join(", ");

/** `validUntil`: an RFC 3339 time with a zone, or `infinity` (one pattern for zod and the API server). */
export const VALID_UNTIL_PATTERN = /^(infinity|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))$/;
const VALID_UNTIL_ERROR = "validUntil must be an RFC 3339 time with a zone (e.g. 2027-01-01T00:00:00Z) or infinity";

/** A PostgreSQL role name (any characters but NUL, at most 63 bytes' worth). */
const roleName = z.string().min(1).max(63).regex(/^[^\0]+$/, { error: "must not contain a NUL byte" });

/** One role as declared in `spec.roles`. */
export const managedRoleSchema = withRules(
  z.object({
    name: roleName.describe("The role's name; not a pg_* name and not one of the operator's roles."),
    ensure: z.enum(["present", "absent"]).default("present").describe("present: the role exists as declared; absent: it is dropped (it must own nothing)."),
    comment: z.string().max(1024).optional().describe("COMMENT ON ROLE; an empty string removes the comment."),
    login: z.boolean().default(false).describe("LOGIN: the role may connect."),
    superuser: z.boolean().default(false).describe("Always false: superuser roles are refused (the cluster's superuser is the operator's)."),
    createdb: z.boolean().default(false).describe("CREATEDB."),
    createrole: z.boolean().default(false).describe("CREATEROLE."),
    inherit: z.boolean().default(true).describe("INHERIT: use the privileges of the roles it is a member of."),
    replication: z.boolean().default(false).describe("Always false: replication roles are refused (streaming replication is the operator's)."),
    bypassrls: z.boolean().default(false).describe("BYPASSRLS."),
    connectionLimit: z.int().min(-1).max(1_000_000).default(-1).describe("CONNECTION LIMIT; -1 for none."),
    validUntil: z
      .string()
      .regex(VALID_UNTIL_PATTERN, { error: VALID_UNTIL_ERROR })
      .refine((v) => v === "infinity" || !Number.isNaN(Date.parse(v)), { error: VALID_UNTIL_ERROR })
      .optional()
      .describe("VALID UNTIL: when its password stops being accepted (RFC 3339), or infinity; none when omitted."),
    inRoles: z
      .array(roleName)
      .max(MAX_ROLE_MEMBERSHIPS)
      .default([])
      .describe("Roles it is a member of (declared, existing, or PostgreSQL's pg_* roles); memberships not listed are revoked."),
    passwordSecret: z
      .object({
        secretName: localObjectName.describe("A Secret in the cluster's namespace."),
        key: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[-._a-zA-Z0-9]+$/, { error: "must be a Secret key (letters, digits, '-', '_', '.')" })
          .default("password")
          .describe("The key holding the password."),
      })
      .optional()
      .describe("Where its password is. The operator sets it as a SCRAM verifier and rotates it when the Secret changes; the password itself is never stored elsewhere."),
    disablePassword: z.boolean().default(false).describe("PASSWORD NULL: no password authentication for it. Without passwordSecret or this, its password is left as it is."),
  }),
  [
    {
      cel: "!self.name.startsWith('pg_')",
      message: "roles[].name may not start with pg_ (PostgreSQL reserves those names); choose another name, or list a predefined pg_* role in inRoles",
      field: "name",
      check: (r) => !r.name.startsWith("pg_"),
    },
    {
      cel: `!(self.name in ${celList(RESERVED_ROLES)})`,
      message: `roles[].name may not be ${reservedText} (the operator manages its superuser, replication and pooler roles); choose another name`,
      field: "name",
      check: (r) => !(RESERVED_ROLES as readonly string[]).includes(r.name),
    },
    {
      cel: "!has(self.superuser) || !self.superuser",
      message: "superuser roles are refused in spec.roles (the cluster's superuser is in the <cluster>-superuser Secret); remove superuser and grant createdb, createrole or predefined roles (inRoles: [pg_read_all_data, ...]) instead",
      field: "superuser",
      check: (r) => !r.superuser,
    },
    {
      cel: "!has(self.replication) || !self.replication",
      message: "replication roles are refused in spec.roles (the operator owns streaming replication and its role); remove replication",
      field: "replication",
      check: (r) => !r.replication,
    },
    {
      cel: `!has(self.inRoles) || self.inRoles.all(p, !(p in ${celList(RESERVED_ROLES)}))`,
      message: `roles[].inRoles may not name ${reservedText}: membership would hand over the operator's superuser, replication or pooler role; remove it`,
      field: "inRoles",
      check: (r) => r.inRoles.every((p) => !(RESERVED_ROLES as readonly string[]).includes(p)),
    },
    {
      cel: "!has(self.passwordSecret) || !has(self.disablePassword) || !self.disablePassword",
      message: "roles[]: passwordSecret and disablePassword exclude each other; keep one",
      field: "disablePassword",
      check: (r) => !(r.passwordSecret && r.disablePassword),
    },
  ],
).describe("A role the operator keeps as declared on the primary (drift is corrected).");

/** `spec.roles`: names unique (a list keyed by name, so the API server checks it too). */
export const managedRolesSchema = z
  .array(managedRoleSchema)
  .max(MAX_ROLES)
  .refine((roles) => new Set(roles.map((r) => r.name)).size === roles.length, { error: "roles[].name must be unique; merge the duplicate entries" })
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
  .describe("Roles the operator manages on the primary; roles it does not name are reported in status, never dropped.");

/** A declared role, parsed and defaulted. */
export type ManagedRole = z.output<typeof managedRoleSchema>;
/** A declared role as written. */
export type ManagedRoleInput = z.input<typeof managedRoleSchema>;

/** What happened to one declared role in the last reconcile that reached the primary. */
export const ROLE_OUTCOMES = ["Created", "Updated", "Unchanged", "Dropped", "Absent", "Failed"] as const;

/** `status.roles`: per-role outcomes and the roles the spec does not name. Never a password or verifier. */
export const rolesStatusSchema = z.object({
  managed: z
    .array(
      z.object({
        name: z.string(),
        outcome: z.enum(ROLE_OUTCOMES).describe("Created, Updated, Unchanged, Dropped, Absent or Failed."),
        reason: z.string().optional().describe("Why it failed, e.g. RoleSecretMissing."),
        message: z.string().optional().describe("What failed and the fix (never a password)."),
      }),
    )
    .max(MAX_ROLES)
    .optional()
    .describe("Each declared role's outcome."),
  unmanaged: z.array(z.string()).max(500).optional().describe("Roles on the server that spec.roles does not name (left as they are)."),
});

/** `status.roles`. */
export type RolesStatus = z.output<typeof rolesStatusSchema>;
