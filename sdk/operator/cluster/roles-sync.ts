/**
 * Managed roles on the primary (`spec.roles`, ADR 0032), one step of the cluster controller:
 * read each declared password from its Secret (fresh from the API server, never cached or
 * logged), read the server's roles as the superuser, plan with sdk/roles (passwords as SCRAM
 * verifiers; a password the stored verifier already accepts is never re-set) and apply the plan in
 * one transaction. The result is data: per-role outcomes and the roles the spec does not name for
 * status, a failure with a named reason for the Degraded condition, password-free step texts for
 * the log and Events to record.
 *
 * A role whose Secret (or key) is missing still gets its other attributes; only its password waits,
 * and it is reported `Failed` with `RoleSecretMissing`. A plan the server refuses changes nothing
 * (`RoleApplyFailed`); a plan that cannot be made (a membership in a role that does not exist)
 * changes nothing either (`RoleSpecInvalid`). Other API or connection errors are thrown (backoff).
 */
import type { CoreV1Api } from "@kubernetes/client-node";
import { RESERVED_ROLES, type ManagedRole, type RolesStatus } from "../../api/roles";
import { InputError } from "../../errors";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { applyRoles, planRoles, readRoles, RoleApplyError, type RolePlan } from "../../roles/index";
import { withClient, type InstanceTarget } from "./instance-sql";

/** Why managed roles are not as declared (the Degraded condition's reason). */
export type RolesFailureReason = "RoleSecretMissing" | "RoleSpecInvalid" | "RoleApplyFailed";

/** What {@link syncRoles} found and did. */
export interface RolesSyncResult {
  /** `status.roles`: never a password or verifier. */
  readonly status: RolesStatus;
  /** Set when a declared role is not as declared. */
  readonly failure?: { readonly reason: RolesFailureReason; readonly message: string };
  /** The statements applied, as displayed (passwords shown as `'<from Secret>'`). */
  readonly applied: readonly string[];
  /** Events to record on the cluster. */
  readonly events: readonly { readonly type: "Normal" | "Warning"; readonly reason: string; readonly message: string }[];
}

/** Inputs of {@link syncRoles}. */
export interface RolesSyncInput {
  readonly roles: readonly ManagedRole[];
  /** `spec.bootstrap.owner`: the operator's too, never reported as unmanaged. */
  readonly bootstrapOwner: string;
  /** A superuser connection to the primary. */
  readonly target: InstanceTarget;
  readonly api: Pick<CoreV1Api, "readNamespacedSecret">;
  readonly namespace: string;
  /** `status.roles` as last written (to record an Event only when the unmanaged roles change). */
  readonly previous?: RolesStatus;
}

/** Most unmanaged role names listed in status and Events. */
const MAX_UNMANAGED_LISTED = 500;

/**
 * Reads every declared password: the value by role, and why it could not be read by role.
 * @throws the API error when reading a Secret fails for another reason than its absence.
 */
async function readPasswords(input: RolesSyncInput): Promise<{ passwords: Map<string, string>; missing: Map<string, string> }> {
  const passwords = new Map<string, string>();
  const missing = new Map<string, string>();
  const secrets = new Map<string, Record<string, string> | undefined>();
  for (const role of input.roles) {
    const ref = role.passwordSecret;
    if (role.ensure !== "present" || ref === undefined) continue;
    if (!secrets.has(ref.secretName)) {
      try {
        secrets.set(ref.secretName, (await input.api.readNamespacedSecret({ name: ref.secretName, namespace: input.namespace })).data ?? {});
      } catch (err) {
        if (apiStatusCode(err) !== 404) throw err;
        secrets.set(ref.secretName, undefined);
      }
    }
    const data = secrets.get(ref.secretName);
    const encoded = data?.[ref.key];
    if (data === undefined) missing.set(role.name, `Secret "${ref.secretName}" not found in namespace ${input.namespace}; create it with the password under key "${ref.key}"`);
    else if (encoded === undefined || encoded === "") missing.set(role.name, `Secret "${ref.secretName}" has no (or an empty) key "${ref.key}"; add the password under that key or change passwordSecret.key`);
    else passwords.set(role.name, Buffer.from(encoded, "base64").toString("utf8"));
  }
  return { passwords, missing };
}

/** Each declared role's outcome from the applied plan. */
function outcomes(roles: readonly ManagedRole[], plan: RolePlan, existed: ReadonlySet<string>): Map<string, NonNullable<RolesStatus["managed"]>[number]["outcome"]> {
  const out = new Map<string, NonNullable<RolesStatus["managed"]>[number]["outcome"]>();
  for (const role of roles) {
    const kinds = new Set(plan.steps.filter((s) => s.role === role.name).map((s) => s.kind));
    if (role.ensure === "absent") out.set(role.name, kinds.has("drop") ? "Dropped" : "Absent");
    else if (!existed.has(role.name)) out.set(role.name, "Created");
    else out.set(role.name, kinds.size > 0 ? "Updated" : "Unchanged");
  }
  return out;
}

/**
 * Makes the primary's roles what `spec.roles` declares (see the module documentation).
 * @throws API errors other than a missing Secret, and connection errors (the reconcile backs off).
 */
export async function syncRoles(input: RolesSyncInput): Promise<RolesSyncResult> {
  const { passwords, missing } = await readPasswords(input);
  // A role whose password cannot be read converges in everything else; its password waits.
  const desired = input.roles.map((r) => (missing.has(r.name) ? { ...r, passwordSecret: undefined } : r));
  const reserved = [...RESERVED_ROLES, input.bootstrapOwner];
  const events: { type: "Normal" | "Warning"; reason: string; message: string }[] = [];
  const failedAll = (reason: RolesFailureReason, message: string): RolesSyncResult => ({
    status: { managed: input.roles.map((r) => ({ name: r.name, outcome: "Failed" as const, reason, message })), unmanaged: input.previous?.unmanaged ?? [] },
    failure: { reason, message },
    applied: [],
    events: [{ type: "Warning", reason, message }],
  });

  const result = await withClient({ ...input.target, queryTimeoutMs: Math.max(input.target.timeoutMs, 10_000) }, async (c) => {
    const observed = await readRoles(c);
    let plan: RolePlan;
    try {
      plan = planRoles(desired, observed, { reserved, passwords });
    } catch (err) {
      if (err instanceof InputError) return { error: { reason: "RoleSpecInvalid" as const, message: `spec.roles: ${err.message}; nothing was changed` } };
      throw err;
    }
    try {
      await applyRoles(c, plan);
    } catch (err) {
      if (err instanceof RoleApplyError) return { error: { reason: "RoleApplyFailed" as const, message: err.message } };
      throw err;
    }
    return { plan, existed: new Set(observed.map((r) => r.name)), error: undefined };
  });
  if (result.error !== undefined) return failedAll(result.error.reason, result.error.message);

  const { plan, existed } = result;
  const byRole = outcomes(input.roles, plan, existed);
  const managed = input.roles.map((r) => {
    const why = missing.get(r.name);
    return why !== undefined ? { name: r.name, outcome: "Failed" as const, reason: "RoleSecretMissing", message: `role "${r.name}": ${why}` } : { name: r.name, outcome: byRole.get(r.name)! };
  });
  const unmanaged = plan.unmanaged.slice(0, MAX_UNMANAGED_LISTED);
  if (plan.steps.length > 0) {
    const changed = (o: string) => managed.filter((m) => m.outcome === o).map((m) => m.name);
    const rotated = [...new Set(plan.steps.filter((s) => s.kind === "password" && existed.has(s.role)).map((s) => s.role))];
    const parts = [
      ["created", changed("Created")],
      ["updated", changed("Updated")],
      ["password set from its Secret", rotated],
      ["dropped", changed("Dropped")],
    ] as const;
    events.push({ type: "Normal", reason: "RolesReconciled", message: parts.filter(([, names]) => names.length > 0).map(([what, names]) => `${what}: ${names.join(", ")}`).join("; ") });
  }
  const before = input.previous?.unmanaged ?? [];
  if (unmanaged.length > 0 && (unmanaged.length !== before.length || unmanaged.some((n, i) => before[i] !== n))) {
    events.push({ type: "Normal", reason: "UnmanagedRoles", message: `roles not in spec.roles, left as they are: ${unmanaged.join(", ")}` });
  }
  let failure: RolesSyncResult["failure"];
  if (missing.size > 0) {
    const message = [...missing].map(([role, why]) => `role "${role}": ${why}`).join("; ");
    failure = { reason: "RoleSecretMissing", message };
    events.push({ type: "Warning", reason: "RoleSecretMissing", message });
  }
  return { status: { managed, unmanaged }, ...(failure ? { failure } : {}), applied: plan.steps.map((s) => s.display), events };
}

/**
 * The password Secrets a PostgresCluster's `spec.roles` names, as `namespace/name` keys, so that
 * changing one (a rotation) reconciles the cluster at once. Reads the unvalidated object leniently:
 * never throws.
 */
export function referencedRoleSecrets(obj: { metadata?: { namespace?: string }; spec?: unknown }): string[] {
  const roles = (obj.spec as { roles?: unknown } | undefined)?.roles;
  if (!Array.isArray(roles)) return [];
  const out: string[] = [];
  for (const r of roles as unknown[]) {
    const name = (r as { passwordSecret?: { secretName?: unknown } } | null)?.passwordSecret?.secretName;
    if (typeof name === "string" && name !== "") out.push(`${obj.metadata?.namespace ?? ""}/${name}`);
  }
  return out;
}
