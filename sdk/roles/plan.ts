/**
 * Managed roles, pure part: the steps that make the observed roles what `spec.roles` declares.
 * Creates come first (so memberships may name roles created by the same plan), then attributes,
 * passwords, comments, grants and revokes, then drops. Passwords are sent as SCRAM verifiers
 * (scram.ts) and every step has a display form without them. Roles the spec does not name are
 * reported as unmanaged, never changed.
 */
import { InputError } from "../errors";
import { quoteIdent, quoteLiteral } from "../postgres/quote";
import { scramVerifier, verifierMatches } from "./scram";
import type { ManagedRole } from "./spec";

/** A role as read from the server (introspect.ts). */
export interface ObservedRole {
  readonly name: string;
  readonly superuser: boolean;
  readonly inherit: boolean;
  readonly createrole: boolean;
  readonly createdb: boolean;
  readonly login: boolean;
  readonly replication: boolean;
  readonly bypassrls: boolean;
  readonly connectionLimit: number;
  /** Seconds since the epoch; Infinity for none. */
  readonly validUntil: number;
  /** pg_authid.rolpassword: a SCRAM or MD5 verifier, or null. A secret: never displayed. */
  readonly verifier: string | null;
  readonly memberOf: readonly string[];
  readonly comment: string | null;
}

/** One statement of a plan. `sql` may hold a password verifier: show `display`, never `sql`. */
export interface RoleStep {
  readonly role: string;
  readonly kind: "create" | "alter" | "password" | "comment" | "grant" | "revoke" | "drop";
  readonly sql: string;
  readonly display: string;
}

/** What {@link planRoles} found. */
export interface RolePlan {
  readonly steps: readonly RoleStep[];
  /** Roles on the server that the spec does not name (besides PostgreSQL's and the reserved ones). */
  readonly unmanaged: readonly string[];
}

/** Options of {@link planRoles}. */
export interface RolePlanOptions {
  /** Roles the operator owns itself (superuser, replication role, bootstrap owner): not declarable. */
  readonly reserved: readonly string[];
  /** Passwords of roles with a `passwordSecret`, by role name (read from their Secrets). */
  readonly passwords: ReadonlyMap<string, string>;
}

const FLAGS = [
  ["superuser", "SUPERUSER"],
  ["createdb", "CREATEDB"],
  ["createrole", "CREATEROLE"],
  ["inherit", "INHERIT"],
  ["login", "LOGIN"],
  ["replication", "REPLICATION"],
  ["bypassrls", "BYPASSRLS"],
] as const;

function validUntilSeconds(role: ManagedRole): number {
  return role.validUntil === undefined || role.validUntil === "infinity" ? Infinity : Date.parse(role.validUntil) / 1000;
}

function validUntilSql(role: ManagedRole): string {
  return `VALID UNTIL ${quoteLiteral(role.validUntil === undefined || role.validUntil === "infinity" ? "infinity" : new Date(role.validUntil).toISOString())}`;
}

/** The attribute clauses that differ between `role` and `observed` (all of them when creating). */
function attributeClauses(role: ManagedRole, observed: ObservedRole | undefined): string[] {
  const clauses: string[] = [];
  for (const [key, keyword] of FLAGS) {
    if (observed === undefined || observed[key] !== role[key]) clauses.push(role[key] ? keyword : `NO${keyword}`);
  }
  if (observed === undefined || observed.connectionLimit !== role.connectionLimit) clauses.push(`CONNECTION LIMIT ${role.connectionLimit}`);
  if (observed === undefined ? role.validUntil !== undefined : observed.validUntil !== validUntilSeconds(role)) clauses.push(validUntilSql(role));
  return clauses;
}

/**
 * The plan that makes `observed` match `desired`. Pure.
 * @throws {InputError} when a reserved role is declared, a membership names a role that neither
 *   exists nor is declared, a dropped role is still a declared member's role, or a password is missing.
 */
export function planRoles(desired: readonly ManagedRole[], observed: readonly ObservedRole[], options: RolePlanOptions): RolePlan {
  const byName = new Map(observed.map((r) => [r.name, r]));
  const reserved = new Set(options.reserved);
  const present = desired.filter((r) => r.ensure === "present");
  for (const role of desired) {
    if (reserved.has(role.name)) throw new InputError(`role "${role.name}" is managed by the operator itself and cannot be declared in spec.roles; choose another name`, { propertyPath: "spec.roles" });
  }
  const willExist = new Set([...observed.map((r) => r.name), ...present.map((r) => r.name)]);
  const dropped = new Set(desired.filter((r) => r.ensure === "absent").map((r) => r.name));
  for (const role of present) {
    for (const parent of role.inRoles) {
      if (!willExist.has(parent) || dropped.has(parent)) {
        throw new InputError(`role "${role.name}" is declared a member of "${parent}", which does not exist and is not declared present; declare "${parent}" or remove it from inRoles`, {
          propertyPath: "spec.roles.inRoles",
        });
      }
    }
    if (role.passwordSecret && !options.passwords.has(role.name)) {
      throw new InputError(`the password of role "${role.name}" was not found (Secret "${role.passwordSecret.secretName}", key "${role.passwordSecret.key}"); create the Secret with that key`, {
        propertyPath: "spec.roles.passwordSecret",
      });
    }
  }

  const creates: RoleStep[] = [];
  const alters: RoleStep[] = [];
  const grants: RoleStep[] = [];
  const revokes: RoleStep[] = [];
  const drops: RoleStep[] = [];
  for (const role of present) {
    const have = byName.get(role.name);
    const ident = quoteIdent(role.name);
    const password = options.passwords.get(role.name);
    const setPassword = role.passwordSecret !== undefined && password !== undefined && !verifierMatches(have?.verifier ?? null, password);
    const clearPassword = role.disablePassword && (have === undefined ? false : have.verifier !== null);
    const clauses = attributeClauses(role, have);
    if (have === undefined) {
      const pw = setPassword ? ` PASSWORD ${quoteLiteral(scramVerifier(password))}` : "";
      const text = `CREATE ROLE ${ident} WITH ${clauses.join(" ")}`;
      creates.push({ role: role.name, kind: "create", sql: `${text}${pw}`, display: `${text}${setPassword ? " PASSWORD '<from Secret>'" : ""}` });
    } else if (clauses.length > 0) {
      const text = `ALTER ROLE ${ident} WITH ${clauses.join(" ")}`;
      alters.push({ role: role.name, kind: "alter", sql: text, display: text });
    }
    if (have !== undefined && setPassword) {
      alters.push({ role: role.name, kind: "password", sql: `ALTER ROLE ${ident} PASSWORD ${quoteLiteral(scramVerifier(password))}`, display: `ALTER ROLE ${ident} PASSWORD '<from Secret>'` });
    }
    if (clearPassword) alters.push({ role: role.name, kind: "password", sql: `ALTER ROLE ${ident} PASSWORD NULL`, display: `ALTER ROLE ${ident} PASSWORD NULL` });
    if (role.comment !== undefined && (have?.comment ?? "") !== role.comment) {
      const text = `COMMENT ON ROLE ${ident} IS ${role.comment === "" ? "NULL" : quoteLiteral(role.comment)}`;
      alters.push({ role: role.name, kind: "comment", sql: text, display: text });
    }
    const current = new Set(have?.memberOf ?? []);
    for (const parent of role.inRoles) {
      if (!current.has(parent)) {
        const text = `GRANT ${quoteIdent(parent)} TO ${ident}`;
        grants.push({ role: role.name, kind: "grant", sql: text, display: text });
      }
    }
    for (const parent of current) {
      if (!role.inRoles.includes(parent)) {
        const text = `REVOKE ${quoteIdent(parent)} FROM ${ident}`;
        revokes.push({ role: role.name, kind: "revoke", sql: text, display: text });
      }
    }
  }
  for (const name of dropped) {
    if (byName.has(name)) {
      const text = `DROP ROLE ${quoteIdent(name)}`;
      drops.push({ role: name, kind: "drop", sql: text, display: text });
    }
  }
  const declared = new Set(desired.map((r) => r.name));
  const unmanaged = observed
    .map((r) => r.name)
    .filter((n) => !declared.has(n) && !reserved.has(n) && !n.startsWith("pg_"))
    .sort();
  return { steps: [...creates, ...alters, ...grants, ...revokes, ...drops], unmanaged };
}
