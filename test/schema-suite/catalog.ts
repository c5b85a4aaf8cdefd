// A description of a database's user objects read straight from the catalogs, independent of the
// engine's own introspection: the suite compares the database after `apply` with one where the new
// SQL was run directly, so an object the engine leaves untouched (unmanaged) cannot pass unseen.
import type { Client } from "pg";

// User namespaces, and objects that are not members of an extension.
const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;
const notExt = (catalog: string, oid: string) => `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

// An ACL as its sorted items, NULL read as the kind's built-in default (`acldefault`): PostgreSQL
// never resets an ACL to NULL, so an object whose grants were all revoked again holds the default
// written out, which grants exactly the same privileges as NULL.
const acl = (value: string, kind: string, owner: string) =>
  `coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce(${value}, acldefault(${kind}, ${owner}))) x), '')`;

/** One query per object kind; each row is one line `kind identity: detail`. */
const QUERIES: readonly string[] = [
  `SELECT 'schema ' || quote_ident(n.nspname) || ': owner=' || pg_get_userbyid(n.nspowner) || ' acl=' || ${acl("n.nspacl", "'n'", "n.nspowner")} AS line
     FROM pg_namespace n WHERE ${USER_NS}`,
  `SELECT 'extension ' || x.extname || ': ' || x.extversion || ' in ' || n.nspname AS line FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'`,
  `SELECT 'relation ' || c.oid::regclass::text || ': kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text || ' owner=' || pg_get_userbyid(c.relowner)
          || ' acl=' || ${acl("c.relacl", `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"`, "c.relowner")} || ' options=' || coalesce(c.reloptions::text, '-') || ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity
          || ' partkey=' || coalesce(pg_get_partkeydef(c.oid), '-') || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '-')
          || ' parents=' || coalesce((SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = c.oid), '-')
          || CASE WHEN c.relkind IN ('v', 'm') THEN ' def=' || pg_get_viewdef(c.oid) ELSE '' END
          || CASE WHEN c.relkind = 'm' THEN ' populated=' || c.relispopulated ELSE '' END
          || CASE WHEN c.relkind IN ('r', 'p', 'm') THEN ' replident=' || c.relreplident::text ELSE '' END AS line
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${notExt("pg_class", "c.oid")}`,
  `SELECT 'column ' || c.oid::regclass::text || '.' || quote_ident(a.attname) || ': #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) || ' ' || format_type(a.atttypid, a.atttypmod)
          || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
          || ' generated=' || a.attgenerated::text || ' identity=' || a.attidentity::text || ' collation=' || coalesce(NULLIF(a.attcollation, t.typcollation)::regcollation::text, '-')
          || ' acl=' || ${acl("a.attacl", "'c'", "c.relowner")} || ' local=' || a.attislocal AS line
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE ${USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped AND ${notExt("pg_class", "c.oid")}`,
  // A foreign key's pieces PostgreSQL clones per partition are named by it in creation order: they
  // are told apart by their parent key and what they reference, not by that name.
  `SELECT 'constraint ' || coalesce(r.oid::regclass::text, ty.oid::regtype::text) || '.'
          || coalesce((SELECT quote_ident(pk.conname) || '[part]' FROM pg_constraint pk WHERE pk.oid = k.conparentid AND k.contype = 'f'), quote_ident(k.conname)) || ': ' || pg_get_constraintdef(k.oid)
          || ' deferrable=' || k.condeferrable || '/' || k.condeferred || ' valid=' || k.convalidated AS line
     FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace LEFT JOIN pg_class r ON r.oid = k.conrelid LEFT JOIN pg_type ty ON ty.oid = k.contypid
    WHERE ${USER_NS} AND ${notExt("pg_constraint", "k.oid")} AND k.contype <> 'n'`,
  `SELECT 'index ' || i.indexrelid::regclass::text || ': ' || pg_get_indexdef(i.indexrelid) || ' options=' || coalesce(c.reloptions::text, '-') || ' replident=' || i.indisreplident AS line
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS} AND ${notExt("pg_class", "i.indrelid")}`,
  `SELECT 'sequence ' || s.seqrelid::regclass::text || ': ' || format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' ' || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcache || ' ' || s.seqcycle
          || ' owned=' || coalesce((SELECT d.refobjid::regclass::text || '.' || quote_ident((SELECT a.attname FROM pg_attribute a WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid)) FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1), '-') AS line
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS} AND ${notExt("pg_class", "c.oid")}`,
  `SELECT 'type ' || t.oid::regtype::text || ': kind=' || t.typtype::text || ' owner=' || pg_get_userbyid(t.typowner) || ' acl=' || ${acl("t.typacl", "'T'", "t.typowner")}
          || CASE t.typtype WHEN 'e' THEN ' labels=' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
                            WHEN 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod) || ' notnull=' || t.typnotnull || ' default=' || coalesce(t.typdefault, '-')
                                       || ' collation=' || coalesce(NULLIF(t.typcollation, bt.typcollation)::regcollation::text, '-')
                            WHEN 'r' THEN ' subtype=' || (SELECT format_type(g.rngsubtype, NULL) || ' diff=' || g.rngsubdiff::text FROM pg_range g WHERE g.rngtypid = t.oid)
                            ELSE '' END AS line
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
    WHERE ${USER_NS} AND t.typtype IN ('e', 'd', 'r', 'c') AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
      AND ${notExt("pg_type", "t.oid")}`,
  `SELECT 'routine ' || p.oid::regprocedure::text || ': owner=' || pg_get_userbyid(p.proowner) || ' acl=' || ${acl("p.proacl", "'f'", "p.proowner")}
          || CASE WHEN p.prokind = 'a' THEN ' aggregate sfunc=' || (SELECT a.aggtransfn::text || ' init=' || coalesce(a.agginitval, '-') || ' parallel=' || p.proparallel::text FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                  ELSE ' ' || pg_get_functiondef(p.oid) END AS line
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_NS} AND ${notExt("pg_proc", "p.oid")}`,
  `SELECT 'trigger ' || t.tgrelid::regclass::text || '.' || quote_ident(t.tgname) || ': ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text AS line
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NS} AND NOT t.tgisinternal`,
  `SELECT 'policy ' || quote_ident(p.schemaname) || '.' || quote_ident(p.tablename) || '.' || quote_ident(p.policyname) || ': ' || p.permissive || ' ' || p.cmd
          || ' roles=' || p.roles::text || ' using=' || coalesce(p.qual, '-') || ' check=' || coalesce(p.with_check, '-') AS line
     FROM pg_policies p`,
  `SELECT 'default acl ' || coalesce(n.nspname, '*') || ' ' || d.defaclobjtype::text || ': ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclacl::text AS line
     FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace`,
  // Text search dictionaries and configurations (mappings by token type, dictionaries in order), operators, collations, extended statistics.
  `SELECT 'text search dictionary ' || d.oid::regdictionary::text || ': template=' || d.dicttemplate::regproc::text || ' options=' || coalesce(d.dictinitoption, '-') AS line
     FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace WHERE ${USER_NS} AND ${notExt("pg_ts_dict", "d.oid")}`,
  `SELECT 'text search configuration ' || c.oid::regconfig::text || ': parser=' || c.cfgparser::text
          || ' map=' || coalesce((SELECT string_agg(m.maptokentype || ':' || m.mapdict::regdictionary::text, ' ' ORDER BY m.maptokentype, m.mapseqno) FROM pg_ts_config_map m WHERE m.mapcfg = c.oid), '-') AS line
     FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE ${USER_NS} AND ${notExt("pg_ts_config", "c.oid")}`,
  `SELECT 'operator ' || o.oid::regoperator::text || ': result=' || o.oprresult::regtype::text || ' code=' || o.oprcode::text || ' com=' || coalesce(nullif(o.oprcom, 0)::regoperator::text, '-')
          || ' neg=' || coalesce(nullif(o.oprnegate, 0)::regoperator::text, '-') || ' rest=' || o.oprrest::text || ' join=' || o.oprjoin::text || ' hash=' || o.oprcanhash || ' merge=' || o.oprcanmerge AS line
     FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE ${USER_NS} AND ${notExt("pg_operator", "o.oid")}`,
  `SELECT 'collation ' || c.oid::regcollation::text || ': provider=' || c.collprovider::text || ' deterministic=' || c.collisdeterministic
          || ' locale=' || coalesce(to_jsonb(c)->>'colllocale', to_jsonb(c)->>'colliculocale', c.collcollate) || '/' || coalesce(c.collctype, '-') AS line
     FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE ${USER_NS} AND ${notExt("pg_collation", "c.oid")}`,
  `SELECT 'statistics ' || quote_ident(n.nspname) || '.' || quote_ident(s.stxname) || ': ' || pg_get_statisticsobjdef(s.oid) || ' target=' || coalesce(s.stxstattarget::int, -1) AS line
     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE ${USER_NS} AND ${notExt("pg_statistic_ext", "s.oid")}`,
  // Comments on objects created by the user: not built-in (OID below 16384) and not an extension's.
  `SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description AS line
     FROM pg_description d
    WHERE d.objoid >= 16384 AND d.classoid <> 'pg_extension'::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')`,
];

/**
 * Sorted lines describing every user object of the connected database: relations, columns,
 * constraints, indexes, sequences, types, routines, triggers, policies, privileges, owners,
 * comments and extensions, in PostgreSQL's own rendering.
 */
export async function catalogLines(client: Client): Promise<string[]> {
  const lines: string[] = [];
  for (const sql of QUERIES) {
    const { rows } = await client.query<{ line: string | null }>(sql);
    for (const r of rows) if (r.line !== null) lines.push(r.line.replace(/\s+/g, " ").trim());
  }
  return lines.sort();
}

/** Lines only in `actual` (+) and only in `expected` (-), at most `limit`. */
export function catalogDiff(expected: readonly string[], actual: readonly string[], limit = 8): string[] {
  const want = new Set(expected);
  const have = new Set(actual);
  const out = [...expected.filter((l) => !have.has(l)).map((l) => `- ${l}`), ...actual.filter((l) => !want.has(l)).map((l) => `+ ${l}`)];
  return out.slice(0, limit).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
}

/**
 * Puts every CHECK of a table outside inheritance through one round trip on its own server (dropped
 * and added again from its printed text), so two databases compare by the form PostgreSQL settles on:
 * its printed text is not always a fixed point (`c IN ('a', 'b')` on varchar prints an array cast
 * that prints per-item casts once re-applied; see ADR 0012). Changes the database.
 */
export async function settleChecks(client: Client): Promise<void> {
  await client.query(`DO $settle$ DECLARE r record; BEGIN
    FOR r IN SELECT k.conrelid::regclass::text AS rel, k.conname, pg_get_constraintdef(k.oid) AS def
               FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE k.contype = 'c' AND ${USER_NS} AND k.conislocal AND k.coninhcount = 0 AND NOT k.connoinherit
                AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = k.conrelid OR i.inhrelid = k.conrelid)
    LOOP
      EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I %s', r.rel, r.conname, r.conname, r.def);
    END LOOP;
  END $settle$`);
}
