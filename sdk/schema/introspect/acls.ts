import type { AclDef, AclEntry, AclObjectType, DefaultAclDef, DefaultAclObjects } from "../model";
import { IN_SCOPE, MANAGED_TABLE, NOT_EXTENSION_MEMBER } from "./catalog-scope";

/**
 * Catalog queries of owners and privileges (see {@link AclDef}): one over every managed kind, one
 * over default privileges. `$1` is the schema scope, as for the other introspection queries.
 */

/**
 * The effective entries of an ACL (a NULL ACL is the kind's `acldefault`), one per grantee and
 * privilege whoever granted it (grantable if any grant is), as JSON. Grantees by name, not
 * `regrole` text: names are quoted where SQL is rendered.
 */
const ACL = (acl: string, kind: string, owner: string) => `(
  SELECT coalesce(json_agg(json_build_object('grantee', e.g, 'privilege', e.p, 'grantable', e.o)), '[]'::json)
  FROM (SELECT CASE WHEN x.grantee = 0 THEN NULL ELSE pg_get_userbyid(x.grantee)::text END AS g, x.privilege_type AS p, bool_or(x.is_grantable) AS o
        FROM aclexplode(coalesce(${acl}, acldefault(${kind}, ${owner}))) x GROUP BY 1, 2) e)`;

const IDENTITY_SEQUENCE = `EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')`;

/** Owners and ACLs of the managed objects in scope; `public` itself is left out (see ADR 0008). */
export const ACLS_SQL = `
SELECT type, schema, name, identity, "column", owner, acl FROM (
  SELECT 'schema' AS type, n.nspname AS schema, n.nspname AS name, n.nspname AS identity, NULL::text AS "column",
         pg_get_userbyid(n.nspowner)::text AS owner, ${ACL("n.nspacl", "'n'", "n.nspowner")} AS acl
  FROM pg_namespace n
  WHERE n.nspname <> 'public' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_namespace", "n.oid")}
  UNION ALL
  SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'table' END,
         n.nspname, c.relname, c.relname, NULL,
         pg_get_userbyid(c.relowner)::text,
         ${ACL("c.relacl", "CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\"", "c.relowner")}
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE (c.relkind IN ('v', 'm') OR (c.relkind = 'S' AND NOT ${IDENTITY_SEQUENCE}) OR (${MANAGED_TABLE}))
    AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
  UNION ALL
  SELECT 'column', n.nspname, c.relname, c.relname || '.' || a.attname, a.attname::text, NULL, ${ACL("a.attacl", "'c'", "c.relowner")}
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL AND (c.relkind IN ('v', 'm') OR (${MANAGED_TABLE}))
    AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
    -- The columns of the relations in scope, read through pg_attribute's index: not a scan of every
    -- column of the database (a database of a thousand tenants has tens of thousands).
    AND a.attrelid = ANY (ARRAY(SELECT rc.oid FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                                WHERE rc.relkind IN ('r', 'p', 'v', 'm') AND ${IN_SCOPE("rn")}))
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
         n.nspname, p.proname, p.proname || '(' || oidvectortypes(p.proargtypes) || ')', NULL,
         pg_get_userbyid(p.proowner)::text, ${ACL("p.proacl", "'f'", "p.proowner")}
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE (p.prokind IN ('f', 'p', 'w') OR EXISTS (SELECT 1 FROM pg_aggregate ag WHERE ag.aggfnoid = p.oid AND ag.aggkind = 'n'))
    AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid AND dep.deptype = 'i')
    AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname, t.typname, t.typname, NULL,
         pg_get_userbyid(t.typowner)::text, ${ACL("t.typacl", "'T'", "t.typowner")}
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class tc WHERE tc.oid = t.typrelid AND tc.relkind = 'c')))
    AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
) a`;

/**
 * Default privileges in the schemas in scope (any role), and the global ones of the current role
 * for every object kind (the built-in default when it has none, so both sides compare alike).
 */
export const DEFAULT_ACLS_SQL = `
SELECT n.nspname AS schema, pg_get_userbyid(d.defaclrole)::text AS role, d.defaclobjtype::text AS objtype,
       ${ACL("d.defaclacl", "'r'", "d.defaclrole")} AS acl
FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
WHERE ${IN_SCOPE("n")}
UNION ALL
SELECT NULL, current_user::text, k.objtype::text,
       ${ACL("d.defaclacl", "k.kind", "r.oid")}
FROM (VALUES ('r'::"char", 'r'::"char"), ('S', 's'), ('f', 'f'), ('T', 'T'), ('n', 'n')) k(objtype, kind)
CROSS JOIN (SELECT oid FROM pg_roles WHERE rolname = current_user) r
LEFT JOIN pg_default_acl d ON d.defaclnamespace = 0 AND d.defaclrole = r.oid AND d.defaclobjtype = k.objtype`;

/** A row of {@link ACLS_SQL}. */
export interface AclRow {
  type: AclObjectType;
  schema: string;
  name: string;
  identity: string;
  column: string | null;
  owner: string | null;
  acl: AclEntry[];
}

/** A row of {@link DEFAULT_ACLS_SQL}. */
export interface DefaultAclRow {
  schema: string | null;
  role: string;
  objtype: string;
  acl: AclEntry[];
}

const OBJECTS: Record<string, DefaultAclObjects> = { r: "TABLES", S: "SEQUENCES", f: "FUNCTIONS", T: "TYPES", n: "SCHEMAS" };

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** ACL entries in a stable order (PUBLIC first, then by grantee and privilege), independent of collations. */
export function sortAcl(acl: readonly AclEntry[]): AclEntry[] {
  return [...acl].sort((a, b) => (a.grantee === b.grantee ? cmp(a.privilege, b.privilege) : a.grantee === null ? -1 : b.grantee === null ? 1 : cmp(a.grantee, b.grantee)));
}

/** The model's ACLs from their rows, sorted by type, schema and identity. */
export function toAcls(rows: readonly AclRow[]): AclDef[] {
  return rows
    .map((r): AclDef => ({ type: r.type, schema: r.schema, name: r.name, identity: r.identity, column: r.column, owner: r.owner, acl: sortAcl(r.acl) }))
    .sort((a, b) => cmp(a.type, b.type) || cmp(a.schema, b.schema) || cmp(a.identity, b.identity));
}

/** The model's default privileges from their rows, sorted; global ones first. */
export function toDefaultAcls(rows: readonly DefaultAclRow[]): DefaultAclDef[] {
  return rows
    .map((r): DefaultAclDef => ({ schema: r.schema, role: r.role, objects: OBJECTS[r.objtype]!, acl: sortAcl(r.acl) }))
    .sort((a, b) => cmp(a.schema ?? "", b.schema ?? "") || cmp(a.role, b.role) || cmp(a.objects, b.objects));
}
