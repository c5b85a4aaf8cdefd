import { quoteIdent, quoteQualified } from "../../postgres/quote";
import type { AclTarget, Change, DefaultAclTarget } from "../changes";
import type { AclDef, AclEntry, AclObjectType, DefaultAclDef, DefaultAclObjects, SchemaModel } from "../model";

/**
 * Owners and privileges (see ADR 0008): the ACL arithmetic, the diff of {@link SchemaModel.acls}
 * and {@link SchemaModel.defaultAcls}, and the SQL of owner and privilege changes. Pure: no I/O.
 */

/** Grants and revocations that turn one ACL into another, one statement's worth per entry. */
export interface AclDelta {
  readonly revokes: readonly { readonly grantee: string | null; readonly privileges: readonly string[]; readonly grantOptionOnly: boolean }[];
  readonly grants: readonly { readonly grantee: string | null; readonly privileges: readonly string[]; readonly withGrantOption: boolean }[];
}

const granteeKey = (g: string | null) => (g === null ? "" : `:${g}`);

function byGrantee(acl: readonly AclEntry[]): Map<string, { grantee: string | null; privileges: Map<string, boolean> }> {
  const out = new Map<string, { grantee: string | null; privileges: Map<string, boolean> }>();
  for (const e of acl) {
    const k = granteeKey(e.grantee);
    let g = out.get(k);
    if (!g) out.set(k, (g = { grantee: e.grantee, privileges: new Map() }));
    g.privileges.set(e.privilege, (g.privileges.get(e.privilege) ?? false) || e.grantable);
  }
  return out;
}

/**
 * The minimal GRANT and REVOKE (per grantee: privileges revoked, grant options revoked, privileges
 * granted, privileges granted with grant option) that turn `live` into `desired`. `possible` are
 * entries `live` may also hold (default privileges that may or may not have applied): revoked when
 * not desired, never counted on for a grant.
 */
export function aclDelta(live: readonly AclEntry[], desired: readonly AclEntry[], possible: readonly AclEntry[] = []): AclDelta {
  const have = byGrantee(live);
  const maybe = byGrantee([...live, ...possible]);
  const want = byGrantee(desired);
  const revokes: AclDelta["revokes"][number][] = [];
  const grants: AclDelta["grants"][number][] = [];
  const keys = [...new Set([...maybe.keys(), ...want.keys()])].sort();
  for (const k of keys) {
    const m = maybe.get(k)?.privileges ?? new Map<string, boolean>();
    const h = have.get(k)?.privileges ?? new Map<string, boolean>();
    const w = want.get(k)?.privileges ?? new Map<string, boolean>();
    const grantee = (want.get(k) ?? maybe.get(k))!.grantee;
    const sorted = (xs: string[]) => xs.sort();
    const revokeAll = sorted([...m.keys()].filter((p) => !w.has(p)));
    const revokeOption = sorted([...m.entries()].filter(([p, g]) => g && w.get(p) === false).map(([p]) => p));
    const grantPlain = sorted([...w.entries()].filter(([p, g]) => !g && !h.has(p)).map(([p]) => p));
    const grantOption = sorted([...w.entries()].filter(([p, g]) => g && h.get(p) !== true).map(([p]) => p));
    if (revokeAll.length) revokes.push({ grantee, privileges: revokeAll, grantOptionOnly: false });
    if (revokeOption.length) revokes.push({ grantee, privileges: revokeOption, grantOptionOnly: true });
    if (grantPlain.length) grants.push({ grantee, privileges: grantPlain, withGrantOption: false });
    if (grantOption.length) grants.push({ grantee, privileges: grantOption, withGrantOption: true });
  }
  return { revokes, grants };
}

/**
 * The ACL after `ALTER ... OWNER TO to`: PostgreSQL gives the old owner's entries to the new owner
 * (merged with any it had).
 */
export function transferOwner(acl: readonly AclEntry[], from: string, to: string): AclEntry[] {
  if (from === to) return [...acl];
  const merged = new Map<string, AclEntry>();
  for (const e of acl) {
    const grantee = e.grantee === from ? to : e.grantee;
    const k = `${granteeKey(grantee)}\0${e.privilege}`;
    const prev = merged.get(k);
    merged.set(k, { grantee, privilege: e.privilege, grantable: e.grantable || (prev?.grantable ?? false) });
  }
  return [...merged.values()];
}

const TABLE_PRIVILEGES = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"];

/** The owner's privileges in PostgreSQL's built-in default ACL of a kind (`acldefault`). */
function ownerPrivileges(type: AclObjectType, major: number): string[] {
  switch (type) {
    case "table":
    case "view":
    case "materialized view":
      return major >= 17 ? [...TABLE_PRIVILEGES, "MAINTAIN"] : TABLE_PRIVILEGES;
    case "sequence":
      return ["SELECT", "UPDATE", "USAGE"];
    case "function":
    case "procedure":
    case "aggregate":
      return ["EXECUTE"];
    case "type":
    case "domain":
      return ["USAGE"];
    case "schema":
      return ["CREATE", "USAGE"];
    case "column":
      return [];
  }
}

/** PostgreSQL's built-in default ACL (`acldefault`) of an object of `type` owned by `owner`. */
export function defaultAcl(type: AclObjectType, owner: string, major: number): AclEntry[] {
  const out: AclEntry[] = [];
  if (type === "function" || type === "procedure" || type === "aggregate") out.push({ grantee: null, privilege: "EXECUTE", grantable: false });
  if (type === "type" || type === "domain") out.push({ grantee: null, privilege: "USAGE", grantable: false });
  for (const p of ownerPrivileges(type, major)) out.push({ grantee: owner, privilege: p, grantable: false });
  return out;
}

/** The `ALTER DEFAULT PRIVILEGES ... ON <objects>` kind whose defaults a new object of `type` gets. */
function defaultsFor(type: AclObjectType): DefaultAclObjects | null {
  switch (type) {
    case "table":
    case "view":
    case "materialized view":
      return "TABLES";
    case "sequence":
      return "SEQUENCES";
    case "function":
    case "procedure":
    case "aggregate":
      return "FUNCTIONS";
    case "type":
    case "domain":
      return "TYPES";
    case "schema":
      return "SCHEMAS";
    case "column":
      return null;
  }
}

/** The graph key of the object an ACL belongs to (see `dependencies.ts`). */
export function aclObjectKey(t: AclTarget): string {
  switch (t.type) {
    case "schema":
      return `schema:${t.schema}`;
    case "table":
    case "view":
    case "materialized view":
      return `table:${t.schema}.${t.name}`;
    case "sequence":
      return `sequence:${t.schema}.${t.name}`;
    case "function":
    case "procedure":
    case "aggregate":
      return `function:${t.schema}.${t.identity}`;
    case "type":
    case "domain":
      return `type:${t.schema}.${t.name}`;
    case "column":
      return `column:${t.schema}.${t.name}.${t.column}`;
  }
}

const aclId = (a: AclTarget) => `${a.type}:${a.schema}.${a.identity}`;
const target = (a: AclDef): AclTarget => ({ type: a.type, schema: a.schema, name: a.name, identity: a.identity, column: a.column });

/** Options of {@link diffPrivileges}. */
export interface PrivilegeDiffOptions {
  /** Server major of the target (the built-in default ACLs differ). */
  readonly major: number;
  /** The role the plan is applied as, which owns what it creates. @default each object's desired owner */
  readonly role?: string;
  /**
   * Graph keys of objects the plan drops (and, when desired, creates again): their live ACL and
   * owner are gone; they start from what a new object gets.
   */
  readonly recreated: ReadonlySet<string>;
}

/**
 * The owner and privilege changes that turn `live`'s ACLs into `desired`'s: per object an
 * `ALTER ... OWNER TO` when the owner differs, then the minimal REVOKEs and GRANTs (compared after
 * the owner change, which moves the old owner's entries to the new one). An object the plan
 * creates starts from what PostgreSQL gives a new object of the applying role: the built-in default
 * ACL, and revokes whatever default privileges might have added that is not desired. `changes` are
 * the plan's other changes (renames are followed).
 */
export function diffPrivileges(live: SchemaModel, desired: SchemaModel, changes: readonly Change[], options: PrivilegeDiffOptions): Change[] {
  const out: Change[] = [];
  const liveAcls = new Map(renamed(live.acls, changes).map((a) => [aclId(a), a]));
  const ownedSequences = new Set(desired.sequences.filter((s) => s.ownedBy).map((s) => `${s.schema}.${s.name}`));
  const defaults = [...live.defaultAcls, ...desired.defaultAcls];
  for (const d of desired.acls) {
    const t = target(d);
    const l = options.recreated.has(aclObjectKey(t)) ? undefined : liveAcls.get(aclId(d));
    const followsTable = d.type === "column" || (d.type === "sequence" && ownedSequences.has(`${d.schema}.${d.name}`));
    let acl: AclEntry[];
    let possible: AclEntry[] = [];
    let owner: string | null;
    if (l) {
      acl = [...l.acl];
      owner = l.owner;
    } else {
      owner = options.role ?? d.owner;
      const fresh = freshAcl(d, owner, defaults, options.major);
      acl = fresh.sure;
      possible = fresh.possible;
    }
    if (owner !== null && d.owner !== null && owner !== d.owner) {
      if (!followsTable) out.push({ kind: "setOwner", target: t, owner: d.owner, from: owner, existing: l !== undefined });
      acl = transferOwner(acl, owner, d.owner);
      possible = transferOwner(possible, owner, d.owner);
    }
    const delta = aclDelta(acl, d.acl, possible);
    for (const r of delta.revokes) out.push({ kind: "revokePrivileges", target: t, ...r, existing: l !== undefined });
    for (const g of delta.grants) out.push({ kind: "grantPrivileges", target: t, ...g });
  }
  // A column ACL only the live side has: its privileges are revoked (the column stays).
  const desiredIds = new Set(desired.acls.map(aclId));
  const desiredColumns = new Set(desired.tables.flatMap((t) => t.columns.map((c) => `${t.schema}.${t.name}.${c.name}`)));
  for (const l of liveAcls.values()) {
    if (l.type !== "column" || desiredIds.has(aclId(l)) || options.recreated.has(aclObjectKey(l)) || !desiredColumns.has(`${l.schema}.${l.name}.${l.column}`)) continue;
    for (const r of aclDelta(l.acl, []).revokes) out.push({ kind: "revokePrivileges", target: target(l), ...r, existing: true });
  }
  out.push(...diffDefaultPrivileges(live.defaultAcls, desired.defaultAcls));
  return out;
}

/**
 * What a new object of the applying role surely has (the built-in default, and the global default
 * privileges on both sides where they agree) and may also have (any default privileges for it).
 */
function freshAcl(d: AclDef, creator: string | null, defaults: readonly DefaultAclDef[], major: number): { sure: AclEntry[]; possible: AclEntry[] } {
  if (d.type === "column" || creator === null) return { sure: [], possible: [] };
  const objects = defaultsFor(d.type);
  const builtIn = defaultAcl(d.type, creator, major);
  const global = defaults.filter((x) => x.schema === null && x.role === creator && x.objects === objects).map((x) => x.acl);
  const inSchema = defaults.filter((x) => x.schema === d.schema && d.type !== "schema" && x.role === creator && x.objects === objects).flatMap((x) => x.acl);
  const candidates = [builtIn, ...global];
  const key = (e: AclEntry) => `${granteeKey(e.grantee)}\0${e.privilege}`;
  const sure = builtIn.filter((e) => candidates.every((c) => c.some((x) => key(x) === key(e))));
  return { sure, possible: [...candidates.flat(), ...inSchema] };
}

// Live ACLs under the names the plan's renames give their objects.
function renamed(acls: readonly AclDef[], changes: readonly Change[]): AclDef[] {
  let out = [...acls];
  for (const c of changes) {
    if (c.kind === "renameTable") {
      const { schema, name } = c.table;
      out = out.map((a) =>
        a.schema !== schema || a.name !== name || !(a.type === "table" || a.type === "column")
          ? a
          : { ...a, name: c.to, identity: a.type === "column" ? `${c.to}.${a.column}` : c.to },
      );
    } else if (c.kind === "renameColumn") {
      out = out.map((a) => (a.type === "column" && a.schema === c.table.schema && a.name === c.table.name && a.column === c.from ? { ...a, column: c.to, identity: `${a.name}.${c.to}` } : a));
    } else if (c.kind === "renameSequence") {
      out = out.map((a) => (a.type === "sequence" && a.schema === c.sequence.schema && a.name === c.sequence.name ? { ...a, name: c.to, identity: c.to } : a));
    }
  }
  return out;
}

/**
 * Default privilege changes. In a schema, a missing entry is no privileges; a global entry is
 * compared only when both sides have one for the same role (the role each model was read as).
 */
export function diffDefaultPrivileges(live: readonly DefaultAclDef[], desired: readonly DefaultAclDef[]): Change[] {
  const id = (d: DefaultAclDef) => `${d.schema ?? ""}\0${d.role}\0${d.objects}`;
  const liveById = new Map(live.map((d) => [id(d), d]));
  const desiredById = new Map(desired.map((d) => [id(d), d]));
  const out: Change[] = [];
  const emit = (t: DefaultAclTarget, from: readonly AclEntry[], to: readonly AclEntry[]) => {
    const delta = aclDelta(from, to);
    for (const r of delta.revokes) out.push({ kind: "revokeDefaultPrivileges", target: t, ...r });
    for (const g of delta.grants) out.push({ kind: "grantDefaultPrivileges", target: t, ...g });
  };
  for (const d of desired) {
    const l = liveById.get(id(d));
    if (d.schema === null && !l) continue;
    emit({ schema: d.schema, role: d.role, objects: d.objects }, l?.acl ?? [], d.acl);
  }
  for (const l of live) if (l.schema !== null && !desiredById.has(id(l))) emit({ schema: l.schema, role: l.role, objects: l.objects }, l.acl, []);
  return out;
}

// ---- SQL ----

function grantee(g: string | null): string {
  return g === null ? "PUBLIC" : quoteIdent(g);
}

// `"s"."f"(integer, text)`: the identity's argument types; an aggregate without arguments is `(*)`.
function routineReference(t: AclTarget): string {
  const args = t.identity.slice(t.name.length);
  return `${quoteQualified(t.schema, t.name)}${t.type === "aggregate" && args === "()" ? "(*)" : args}`;
}

/** The object as GRANT and REVOKE name it, e.g. `TABLE "s"."t"`, `ROUTINE "s"."f"(integer)`. */
export function privilegeTargetSql(t: AclTarget): string {
  switch (t.type) {
    case "schema":
      return `SCHEMA ${quoteIdent(t.schema)}`;
    case "table":
    case "view":
    case "materialized view":
    case "column":
      return `TABLE ${quoteQualified(t.schema, t.name)}`;
    case "sequence":
      return `SEQUENCE ${quoteQualified(t.schema, t.name)}`;
    case "function":
    case "procedure":
    case "aggregate":
      return `ROUTINE ${routineReference(t)}`;
    case "type":
      return `TYPE ${quoteQualified(t.schema, t.name)}`;
    case "domain":
      return `DOMAIN ${quoteQualified(t.schema, t.name)}`;
  }
}

function privilegeList(t: AclTarget, privileges: readonly string[]): string {
  return privileges.map((p) => (t.column === null ? p : `${p} (${quoteIdent(t.column)})`)).join(", ");
}

/** `ALTER <kind> <object> OWNER TO role`. */
export function ownerSql(t: AclTarget, owner: string): string {
  const to = `OWNER TO ${quoteIdent(owner)}`;
  switch (t.type) {
    case "schema":
      return `ALTER SCHEMA ${quoteIdent(t.schema)} ${to}`;
    case "table":
    case "column":
      return `ALTER TABLE ${quoteQualified(t.schema, t.name)} ${to}`;
    case "view":
      return `ALTER VIEW ${quoteQualified(t.schema, t.name)} ${to}`;
    case "materialized view":
      return `ALTER MATERIALIZED VIEW ${quoteQualified(t.schema, t.name)} ${to}`;
    case "sequence":
      return `ALTER SEQUENCE ${quoteQualified(t.schema, t.name)} ${to}`;
    case "function":
      return `ALTER FUNCTION ${routineReference(t)} ${to}`;
    case "procedure":
      return `ALTER PROCEDURE ${routineReference(t)} ${to}`;
    case "aggregate":
      return `ALTER AGGREGATE ${routineReference(t)} ${to}`;
    case "type":
      return `ALTER TYPE ${quoteQualified(t.schema, t.name)} ${to}`;
    case "domain":
      return `ALTER DOMAIN ${quoteQualified(t.schema, t.name)} ${to}`;
  }
}

/** `GRANT privileges ON target TO grantee [WITH GRANT OPTION]`. */
export function grantPrivilegesSql(t: AclTarget, to: string | null, privileges: readonly string[], withGrantOption: boolean): string {
  return `GRANT ${privilegeList(t, privileges)} ON ${privilegeTargetSql(t)} TO ${grantee(to)}${withGrantOption ? " WITH GRANT OPTION" : ""}`;
}

/** `REVOKE [GRANT OPTION FOR] privileges ON target FROM grantee`. */
export function revokePrivilegesSql(t: AclTarget, from: string | null, privileges: readonly string[], grantOptionOnly: boolean): string {
  return `REVOKE ${grantOptionOnly ? "GRANT OPTION FOR " : ""}${privilegeList(t, privileges)} ON ${privilegeTargetSql(t)} FROM ${grantee(from)}`;
}

function defaultsPrefix(t: DefaultAclTarget): string {
  return `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(t.role)}${t.schema === null ? "" : ` IN SCHEMA ${quoteIdent(t.schema)}`}`;
}

/** `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT ... ON <objects> TO grantee`. */
export function grantDefaultPrivilegesSql(t: DefaultAclTarget, to: string | null, privileges: readonly string[], withGrantOption: boolean): string {
  return `${defaultsPrefix(t)} GRANT ${privileges.join(", ")} ON ${t.objects} TO ${grantee(to)}${withGrantOption ? " WITH GRANT OPTION" : ""}`;
}

/** `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] REVOKE [GRANT OPTION FOR] ... ON <objects> FROM grantee`. */
export function revokeDefaultPrivilegesSql(t: DefaultAclTarget, from: string | null, privileges: readonly string[], grantOptionOnly: boolean): string {
  return `${defaultsPrefix(t)} REVOKE ${grantOptionOnly ? "GRANT OPTION FOR " : ""}${privileges.join(", ")} ON ${t.objects} FROM ${grantee(from)}`;
}

/** A short human name of the target, for hazards: `table public.t`, `column public.t.c`. */
export function describeTarget(t: AclTarget): string {
  return t.type === "schema" ? `schema ${t.schema}` : `${t.type} ${t.schema}.${t.identity}`;
}
