import { IN_SCOPE, MANAGED_TABLE, NOT_EXTENSION_MEMBER } from "./catalog-scope";

// ---- catalog queries: $1 is the schema scope (text[]) or NULL for every user schema ----

/** Whether the scope holds any object of a kind (ignoring extension members): false means its query returns nothing. */
export interface Presence {
  sequences: boolean;
  enums: boolean;
  views: boolean;
  routines: boolean;
  triggers: boolean;
  domains: boolean;
  composites: boolean;
  ranges: boolean;
  matviews: boolean;
  policies: boolean;
  statistics: boolean;
  collations: boolean;
  textSearchDictionaries: boolean;
  textSearchConfigurations: boolean;
  operators: boolean;
  /** Anything UNMANAGED_SQL could report. */
  unmanaged: boolean;
}

// Each condition is implied by the WHERE clause of its kind's query, so a false is never wrong.
export const PRESENCE_SQL = `
WITH ns AS (SELECT n.oid FROM pg_namespace n WHERE ${IN_SCOPE("n")}),
     rel AS (SELECT c.oid, c.relkind, c.relacl IS NOT NULL AS granted FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns)),
     typ AS (SELECT t.typtype FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'r', 'm'))
SELECT EXISTS (SELECT 1 FROM rel WHERE relkind = 'S') AS sequences,
       EXISTS (SELECT 1 FROM typ WHERE typtype = 'e') AS enums,
       EXISTS (SELECT 1 FROM rel WHERE relkind = 'v') AS views,
       EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns)) AS routines,
       EXISTS (SELECT 1 FROM pg_trigger tg WHERE NOT tg.tgisinternal AND tg.tgrelid IN (SELECT oid FROM rel)) AS triggers,
       EXISTS (SELECT 1 FROM typ WHERE typtype = 'd') AS domains,
       EXISTS (SELECT 1 FROM rel WHERE relkind = 'c') AS composites,
       EXISTS (SELECT 1 FROM typ WHERE typtype = 'r') AS ranges,
       EXISTS (SELECT 1 FROM rel WHERE relkind = 'm') AS matviews,
       EXISTS (SELECT 1 FROM pg_policy pol WHERE pol.polrelid IN (SELECT oid FROM rel)) AS policies,
       EXISTS (SELECT 1 FROM pg_statistic_ext st WHERE st.stxnamespace IN (SELECT oid FROM ns)) AS statistics,
       EXISTS (SELECT 1 FROM pg_collation co WHERE co.collnamespace IN (SELECT oid FROM ns)) AS collations,
       EXISTS (SELECT 1 FROM pg_ts_dict dct WHERE dct.dictnamespace IN (SELECT oid FROM ns)) AS "textSearchDictionaries",
       EXISTS (SELECT 1 FROM pg_ts_config cfg WHERE cfg.cfgnamespace IN (SELECT oid FROM ns)) AS "textSearchConfigurations",
       EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprnamespace IN (SELECT oid FROM ns)) AS operators,
       -- Each branch of UNMANAGED_SQL needs one of these: a foreign table or an inheritance child
       -- (a parent may be foreign), a routine (ordered-set aggregates), a trigger or policy (on an
       -- unmanaged relation), a rule, a sequence with grants (identity sequences' grants), a
       -- multirange, or one of the kinds never managed.
       EXISTS (SELECT 1 FROM rel WHERE relkind = 'f' OR (relkind = 'S' AND granted))
       OR EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid IN (SELECT oid FROM rel))
       OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns))
       OR EXISTS (SELECT 1 FROM pg_trigger tg WHERE NOT tg.tgisinternal AND tg.tgrelid IN (SELECT oid FROM rel))
       OR EXISTS (SELECT 1 FROM pg_policy pol WHERE pol.polrelid IN (SELECT oid FROM rel))
       OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class IN (SELECT oid FROM rel) AND r.rulename <> '_RETURN')
       OR EXISTS (SELECT 1 FROM typ WHERE typtype = 'm')
       OR EXISTS (SELECT 1 FROM pg_opfamily opf WHERE opf.opfnamespace IN (SELECT oid FROM ns))
       OR EXISTS (SELECT 1 FROM pg_cast ca WHERE ca.oid >= 16384)
       OR EXISTS (SELECT 1 FROM pg_event_trigger) AS unmanaged`;

export const SCHEMAS_SQL = `
SELECT n.nspname AS name, obj_description(n.oid, 'pg_namespace') AS comment
FROM pg_namespace n
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_namespace", "n.oid")}
ORDER BY 1`;

export const EXTENSIONS_SQL = `
SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version, e.extrelocatable AS relocatable,
       array(SELECT re.extname::text FROM pg_depend d JOIN pg_extension re ON re.oid = d.refobjid
             WHERE d.classid = 'pg_extension'::regclass AND d.objid = e.oid AND d.refclassid = 'pg_extension'::regclass ORDER BY 1) AS requires,
       obj_description(e.oid, 'pg_extension') AS comment
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
-- Every extension, whatever the scope ($1 is referenced only because every query gets it).
WHERE e.extname <> 'plpgsql' AND ($1::text[] IS NULL OR TRUE)
ORDER BY 1`;

export const ENUMS_SQL = `
SELECT n.nspname AS schema, t.typname AS name,
       array(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS values,
       obj_description(t.oid, 'pg_type') AS comment
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
ORDER BY 1, 2`;

// Identity sequences (which belong to their column) are set aside first, before the per-sequence joins.
export const SEQUENCES_SQL = `
SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
       s.seqcache::text AS cache, s.seqcycle AS cycle,
       own_n.nspname AS owned_schema, own_c.relname AS owned_table, own_a.attname AS owned_column,
       obj_description(c.oid, 'pg_class') AS comment
FROM (SELECT sq.* FROM pg_sequence sq
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass AND i.objid = sq.seqrelid AND i.deptype = 'i')
      OFFSET 0) s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
LEFT JOIN pg_class own_c ON own_c.oid = d.refobjid
LEFT JOIN pg_namespace own_n ON own_n.oid = own_c.relnamespace
LEFT JOIN pg_attribute own_a ON own_a.attrelid = d.refobjid AND own_a.attnum = d.refobjsubid
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
ORDER BY 1, 2`;

// The in-scope managed tables, computed once (OFFSET 0 keeps the planner from flattening it, so the
// scope and inheritance tests run per table rather than per column, constraint or index row).
const MANAGED_TABLES = `(SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${MANAGED_TABLE} AND ${IN_SCOPE("n")} OFFSET 0)`;

export const RELATIONS_SQL = `
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relpersistence = 'u' AS unlogged,
       c.reloptions AS options, c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security, dsc.description AS comment,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_by,
       CASE WHEN c.relispartition THEN (SELECT json_build_object('schema', pn.nspname, 'name', pc.relname, 'bound', pg_get_expr(c.relpartbound, c.oid))
         FROM pg_inherits pi JOIN pg_class pc ON pc.oid = pi.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE pi.inhrelid = c.oid) END AS partition_of,
       CASE WHEN NOT c.relispartition THEN (SELECT json_agg(json_build_object('schema', pn.nspname, 'name', pc.relname) ORDER BY pi.inhseqno)
         FROM pg_inherits pi JOIN pg_class pc ON pc.oid = pi.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE pi.inhrelid = c.oid) END AS inherits,
       c.relreplident::text AS replident,
       CASE WHEN c.relreplident = 'i' THEN (SELECT ric.relname FROM pg_index ri JOIN pg_class ric ON ric.oid = ri.indexrelid WHERE ri.indrelid = c.oid AND ri.indisreplident) END AS replident_index,
       CASE WHEN c.relhasindex AND c.relkind = 'r' THEN (SELECT cic.relname FROM pg_index ci JOIN pg_class cic ON cic.oid = ci.indexrelid WHERE ci.indrelid = c.oid AND ci.indisclustered) END AS cluster_on
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
WHERE ${MANAGED_TABLE} AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
ORDER BY 2, 3`;

// Defaults cannot refer to columns, so they are deparsed without their table (relid 0), which spares
// opening every table; generated expressions do refer to columns and need it. Identity options come
// from a hashed join of identity sequences rather than one pg_depend probe per column. Rows come
// unordered; assembleTables orders each table's columns by attnum.
export const COLUMNS_SQL = `
SELECT a.attrelid::int AS relid, a.attnum::int AS attnum, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(ad.adbin, CASE WHEN a.attgenerated = '' THEN 0 ELSE ad.adrelid END) AS default_expr,
       a.attgenerated::text AS generated, a.attidentity::text AS identity,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       dsc.description AS comment,
       CASE WHEN utn.nspname NOT IN ('pg_catalog', 'information_schema') THEN utn.nspname END AS ut_schema,
       ut.typname AS ut_name, t.typcategory = 'A' AND t.typelem <> 0 AS ut_array, a.attislocal AS local, a.attinhcount::int AS inherit_count,
       s.seqstart::text AS id_start, s.seqincrement::text AS id_increment, s.seqmin::text AS id_min,
       s.seqmax::text AS id_max, s.seqcache::text AS id_cache, s.seqcycle AS id_cycle,
       nn.conname AS nn_name, nn.connoinherit AS nn_no_inherit, nn.convalidated AS nn_validated,
       -- Before PostgreSQL 17 the default statistics target is -1, from 17 on NULL.
       CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::int END AS stat_target,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       CASE WHEN a.attstorage <> t.typstorage THEN t.typstorage::text END AS type_storage,
       CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END AS compression,
       a.attoptions AS attribute_options
FROM ${MANAGED_TABLES} m
JOIN pg_attribute a ON a.attrelid = m.oid
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type ut ON ut.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
JOIN pg_namespace utn ON utn.oid = ut.typnamespace
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN (SELECT idd.refobjid, idd.refobjsubid, sq.* FROM pg_depend idd JOIN pg_sequence sq ON sq.seqrelid = idd.objid
           WHERE idd.classid = 'pg_class'::regclass AND idd.refclassid = 'pg_class'::regclass AND idd.deptype = 'i') s
     ON a.attidentity <> '' AND s.refobjid = a.attrelid AND s.refobjsubid = a.attnum
LEFT JOIN pg_description dsc ON dsc.objoid = a.attrelid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = a.attnum
-- PostgreSQL 18 catalogs NOT NULL as constraints (contype 'n', one column); none exist before.
LEFT JOIN pg_constraint nn ON nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum AND nn.conislocal
WHERE a.attnum > 0 AND NOT a.attisdropped`;

// Key columns come as attnums, named in assembleTables from the columns query (a subquery per row
// cost more than the rest of the query); only keys that include a system column (tableoid, in a
// CHECK) are named here, so the subquery runs for those rows alone.
export const CONSTRAINTS_SQL = `
SELECT con.conrelid::int AS relid, con.conname AS name, con.contype::text AS contype,
       pg_get_constraintdef(con.oid) AS definition,
       con.conkey::int[] AS keys,
       CASE WHEN 0 > ANY (con.conkey) THEN
         array(SELECT att.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum ORDER BY k.ord) END AS columns,
       rn.nspname AS ref_schema, rc.relname AS ref_table,
       CASE WHEN con.contype = 'f' THEN (SELECT ri.relname FROM pg_class ri WHERE ri.oid = con.conindid) END AS ref_index,
       con.condeferrable AS deferrable, con.condeferred AS deferred, con.convalidated AS validated,
       con.coninhcount::int AS inherit_count, con.connoinherit AS no_inherit,
       CASE WHEN con.contype IN ('p', 'u') THEN (SELECT ic.reloptions FROM pg_class ic WHERE ic.oid = con.conindid) END AS index_options,
       dsc.description AS comment
FROM ${MANAGED_TABLES} m
JOIN pg_constraint con ON con.conrelid = m.oid
LEFT JOIN pg_description dsc ON dsc.objoid = con.oid AND dsc.classoid = 'pg_constraint'::regclass AND dsc.objsubid = 0
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype IN ('p', 'u', 'c', 'f', 'x') AND con.conislocal AND con.conparentid = 0
ORDER BY con.conrelid, con.conname`;

// Key columns come as attnums (0 for an expression), named in assembleTables.
export const INDEXES_SQL = `
SELECT i.indrelid::int AS relid, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS unique, i.indisvalid AS valid, i.indkey::int2[]::int[] AS keys,
       dsc.description AS comment,
       CASE WHEN ic.relispartition THEN (SELECT pic.relname FROM pg_inherits ii JOIN pg_class pic ON pic.oid = ii.inhparent WHERE ii.inhrelid = i.indexrelid) END AS parent_index
FROM ${MANAGED_TABLES} m
JOIN pg_index i ON i.indrelid = m.oid
LEFT JOIN pg_description dsc ON dsc.objoid = i.indexrelid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
JOIN pg_class ic ON ic.oid = i.indexrelid
-- A partition's index attached to its parent's index is listed apart (parent_index): its definition
-- follows the parent's index, its name is the partition's own.
WHERE NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, ic.relname`;

/** An operator's identity: its name and argument types, `NONE` for a prefix operator's left. */
const OPERATOR_IDENTITY = (o: string) =>
  `${o}.oprname || '(' || CASE WHEN ${o}.oprleft = 0 THEN 'NONE' ELSE format_type(${o}.oprleft, NULL) END || ',' || format_type(${o}.oprright, NULL) || ')'`;

/**
 * The graph keys (see ObjectDef.dependsOn) of the pg_depend rows `d` that match `where`: relations,
 * columns, sequences, indexes, user types (a table's row type is the table; an array its element),
 * routines (by name and argument types), schemas and table constraints (a view or SQL-standard body
 * grouping by a primary key depends on it). Built-in objects have no key.
 */
const DEP_KEYS = (where: string) => `array(
  SELECT DISTINCT k.key FROM pg_depend d CROSS JOIN LATERAL (SELECT CASE
    WHEN d.refclassid = 'pg_class'::regclass THEN (
      SELECT CASE WHEN rc.relkind = 'S' THEN 'sequence:' WHEN rc.relkind IN ('i', 'I') THEN 'index:' WHEN d.refobjsubid > 0 THEN 'column:' ELSE 'table:' END
             || rn.nspname || '.' || rc.relname || CASE WHEN d.refobjsubid > 0 AND rc.relkind NOT IN ('S', 'i', 'I') THEN '.' || ra.attname ELSE '' END
      FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
      LEFT JOIN pg_attribute ra ON ra.attrelid = rc.oid AND ra.attnum = d.refobjsubid AND d.refobjsubid > 0
      WHERE rc.oid = d.refobjid AND rc.relkind <> 'c' AND rn.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_type'::regclass THEN (
      SELECT CASE WHEN et.typrelid <> 0 AND ec.relkind <> 'c' THEN 'table:' ELSE 'type:' END || en.nspname || '.' || coalesce(ec.relname, et.typname)
      FROM pg_type t0 JOIN pg_type et ON et.oid = CASE WHEN t0.typcategory = 'A' AND t0.typelem <> 0 THEN t0.typelem ELSE t0.oid END
      JOIN pg_namespace en ON en.oid = et.typnamespace LEFT JOIN pg_class ec ON ec.oid = et.typrelid
      WHERE t0.oid = d.refobjid AND en.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_proc'::regclass THEN (
      SELECT 'function:' || pn.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')'
      FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace
      WHERE p.oid = d.refobjid AND pn.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_collation'::regclass THEN (
      SELECT 'collation:' || cn.nspname || '.' || co.collname FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE co.oid = d.refobjid AND cn.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_ts_dict'::regclass THEN (
      SELECT 'tsdict:' || tn.nspname || '.' || td.dictname FROM pg_ts_dict td JOIN pg_namespace tn ON tn.oid = td.dictnamespace
      WHERE td.oid = d.refobjid AND tn.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_ts_config'::regclass THEN (
      SELECT 'tsconfig:' || tn.nspname || '.' || tc.cfgname FROM pg_ts_config tc JOIN pg_namespace tn ON tn.oid = tc.cfgnamespace
      WHERE tc.oid = d.refobjid AND tn.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_operator'::regclass THEN (
      SELECT 'operator:' || opn.nspname || '.' || ${OPERATOR_IDENTITY("op")} FROM pg_operator op JOIN pg_namespace opn ON opn.oid = op.oprnamespace
      WHERE op.oid = d.refobjid AND opn.nspname NOT IN ('pg_catalog', 'information_schema'))
    WHEN d.refclassid = 'pg_namespace'::regclass THEN (
      SELECT 'schema:' || dn.nspname FROM pg_namespace dn WHERE dn.oid = d.refobjid AND dn.nspname NOT IN ('pg_catalog', 'information_schema'))
    -- A query grouping by a primary key reads the other columns through it (functional dependency).
    WHEN d.refclassid = 'pg_constraint'::regclass THEN (
      SELECT 'constraint:' || kn.nspname || '.' || kr.relname || '.' || kc.conname
      FROM pg_constraint kc JOIN pg_class kr ON kr.oid = kc.conrelid JOIN pg_namespace kn ON kn.oid = kr.relnamespace
      WHERE kc.oid = d.refobjid)
  END AS key) k
  WHERE ${where} AND d.deptype IN ('n', 'a') AND k.key IS NOT NULL
  ORDER BY 1)`;

// Comments on a view's or materialized view's columns, as a JSON object by column name (null when none).
const COLUMN_COMMENTS = (rel: string) => `(SELECT json_object_agg(a.attname, dsc.description)
  FROM pg_attribute a JOIN pg_description dsc ON dsc.objoid = a.attrelid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = a.attnum
  WHERE a.attrelid = ${rel} AND a.attnum > 0 AND NOT a.attisdropped)`;

export const VIEWS_SQL = `
SELECT n.nspname AS schema, c.relname AS name, pg_get_viewdef(c.oid) AS definition,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
       c.reloptions AS options,
       ${DEP_KEYS("d.classid = 'pg_rewrite'::regclass AND d.objid IN (SELECT rw.oid FROM pg_rewrite rw WHERE rw.ev_class = c.oid) AND d.refobjid <> c.oid")} AS depends,
       ${COLUMN_COMMENTS("c.oid")} AS column_comments,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
ORDER BY 1, 2`;

// Relations whose triggers and policies are managed: views and the managed tables.
const MANAGED_RELATION = (c: string) => `(${c}.relkind = 'v' OR (${MANAGED_TABLE.replaceAll("c.", `${c}.`)}))`;

export const UNMANAGED_SQL = `
SELECT schema, name, kind FROM (
  SELECT n.nspname AS schema, c.relname AS name, CASE WHEN c.relkind = 'f' THEN 'foreign table' ELSE 'inherited table' END AS kind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
    AND (c.relkind = 'f' OR (c.relkind IN ('r', 'p') AND NOT (${MANAGED_TABLE})))
  UNION ALL
  SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', 'aggregate'
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_aggregate a ON a.aggfnoid = p.oid
  WHERE a.aggkind <> 'n' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}
  UNION ALL
  SELECT n.nspname, c.relname || '.' || tg.tgname, 'trigger'
  FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND NOT ${MANAGED_RELATION("c")} AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
  UNION ALL
  SELECT n.nspname, c.relname || '.' || pol.polname, 'policy'
  FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT ${MANAGED_RELATION("c")} AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
  UNION ALL
  SELECT n.nspname, c.relname || '.' || r.rulename, 'rule'
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE r.rulename <> '_RETURN' AND ${IN_SCOPE("n")}
  UNION ALL
  -- Privileges of what the engine manages are managed (ACLS_SQL); those of the rest are reported.
  SELECT n.nspname, c.relname, 'privileges'
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
    AND (c.relkind = 'f' OR (c.relkind IN ('r', 'p') AND NOT (${MANAGED_TABLE}))
         OR (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass AND i.objid = c.oid AND i.deptype = 'i')))
    AND (c.relacl IS NOT NULL OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL))
  UNION ALL
  SELECT n.nspname, p.proname || '(' || oidvectortypes(p.proargtypes) || ')', 'privileges'
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_aggregate a ON a.aggfnoid = p.oid
  WHERE p.proacl IS NOT NULL AND a.aggkind <> 'n' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}
  UNION ALL
  SELECT n.nspname, t.typname, 'privileges'
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typacl IS NOT NULL AND t.typtype = 'm' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}


  UNION ALL
  SELECT n.nspname, opf.opfname || ' USING ' || am.amname, 'operator family'
  FROM pg_opfamily opf JOIN pg_namespace n ON n.oid = opf.opfnamespace JOIN pg_am am ON am.oid = opf.opfmethod
  WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_opfamily", "opf.oid")}
  UNION ALL
  SELECT n.nspname, opc.opcname || ' USING ' || am.amname, 'operator class'
  FROM pg_opclass opc JOIN pg_namespace n ON n.oid = opc.opcnamespace JOIN pg_am am ON am.oid = opc.opcmethod
  WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_opclass", "opc.oid")}
  UNION ALL
  -- A cast belongs to no schema: it is reported under the first of its function's, its source
  -- type's and its target type's schemas that is in scope.
  SELECT n.nspname, '(' || format_type(ca.castsource, NULL) || ' AS ' || format_type(ca.casttarget, NULL) || ')', 'cast'
  FROM pg_cast ca
  CROSS JOIN LATERAL (
    SELECT x.nsp FROM (VALUES (1, (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = ca.castfunc)),
                              (2, (SELECT t.typnamespace FROM pg_type t WHERE t.oid = ca.castsource)),
                              (3, (SELECT t.typnamespace FROM pg_type t WHERE t.oid = ca.casttarget))) x(o, nsp)
    JOIN pg_namespace n ON n.oid = x.nsp WHERE ${IN_SCOPE("n")} ORDER BY x.o LIMIT 1) s
  JOIN pg_namespace n ON n.oid = s.nsp
  WHERE ca.oid >= 16384 AND ${NOT_EXTENSION_MEMBER("pg_cast", "ca.oid")}
    -- A range type's casts to its multirange are the type's own (an internal dependency).
    AND NOT EXISTS (SELECT 1 FROM pg_depend di WHERE di.classid = 'pg_cast'::regclass AND di.objid = ca.oid AND di.deptype IN ('i', 'a'))
  UNION ALL
  -- An event trigger belongs to the database: reported under its function's schema.
  SELECT n.nspname, e.evtname, 'event trigger'
  FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_event_trigger", "e.oid")}
) u
ORDER BY schema, kind, name`;

// A collation other than the type's default, as a quoted qualified name.
const COLLATION = (coll: string, typeColl: string) =>
  `CASE WHEN ${coll} <> 0 AND ${coll} <> ${typeColl} THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
     FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${coll}) END`;

export const ROUTINES_SQL = `
SELECT n.nspname AS schema, p.proname AS name, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
       p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS identity,
       pg_get_functiondef(p.oid) AS definition, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS result,
       ${DEP_KEYS("d.classid = 'pg_proc'::regclass AND d.objid = p.oid")} AS depends,
       obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p', 'w') AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}
  -- Constructors of range and multirange types belong to their type.
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid AND dep.deptype = 'i')
ORDER BY 1, 4`;

// Normal aggregates, rebuilt from pg_aggregate (pg_get_functiondef refuses them); ordered-set and
// hypothetical-set aggregates stay unmanaged.
export const AGGREGATES_SQL = `
SELECT n.nspname AS schema, p.proname AS name, 'aggregate' AS kind,
       p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS identity,
       'CREATE OR REPLACE AGGREGATE ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
       || '(' || CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_arguments(p.oid) END || ') (SFUNC = ' || a.aggtransfn::regproc::text
       || ', STYPE = ' || format_type(a.aggtranstype, NULL)
       || CASE WHEN a.aggtransspace <> 0 THEN ', SSPACE = ' || a.aggtransspace ELSE '' END
       || CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc::text ELSE '' END
       || CASE WHEN a.aggfinalextra THEN ', FINALFUNC_EXTRA' ELSE '' END
       || CASE WHEN a.aggfinalfn <> 0 AND a.aggfinalmodify <> 'r' THEN ', FINALFUNC_MODIFY = ' || CASE a.aggfinalmodify WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END ELSE '' END
       || CASE WHEN a.aggcombinefn <> 0 THEN ', COMBINEFUNC = ' || a.aggcombinefn::regproc::text ELSE '' END
       || CASE WHEN a.aggserialfn <> 0 THEN ', SERIALFUNC = ' || a.aggserialfn::regproc::text ELSE '' END
       || CASE WHEN a.aggdeserialfn <> 0 THEN ', DESERIALFUNC = ' || a.aggdeserialfn::regproc::text ELSE '' END
       || coalesce(', INITCOND = ' || quote_literal(a.agginitval), '')
       || CASE WHEN a.aggmtransfn <> 0 THEN ', MSFUNC = ' || a.aggmtransfn::regproc::text || ', MINVFUNC = ' || a.aggminvtransfn::regproc::text
               || ', MSTYPE = ' || format_type(a.aggmtranstype, NULL)
               || CASE WHEN a.aggmtransspace <> 0 THEN ', MSSPACE = ' || a.aggmtransspace ELSE '' END
               || CASE WHEN a.aggmfinalfn <> 0 THEN ', MFINALFUNC = ' || a.aggmfinalfn::regproc::text ELSE '' END
               || CASE WHEN a.aggmfinalextra THEN ', MFINALFUNC_EXTRA' ELSE '' END
               || CASE WHEN a.aggmfinalfn <> 0 AND a.aggmfinalmodify <> 'r' THEN ', MFINALFUNC_MODIFY = ' || CASE a.aggmfinalmodify WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END ELSE '' END
               || coalesce(', MINITCOND = ' || quote_literal(a.aggminitval), '') ELSE '' END
       || CASE WHEN a.aggsortop <> 0 THEN ', SORTOP = OPERATOR('
            || (SELECT quote_ident(opn.nspname) || '.' || op.oprname FROM pg_operator op JOIN pg_namespace opn ON opn.oid = op.oprnamespace WHERE op.oid = a.aggsortop)
            || ')' ELSE '' END
       || CASE p.proparallel WHEN 's' THEN ', PARALLEL = SAFE' WHEN 'r' THEN ', PARALLEL = RESTRICTED' ELSE '' END
       || ')' AS definition,
       pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS result,
       ${DEP_KEYS("d.classid = 'pg_proc'::regclass AND d.objid = p.oid")} AS depends,
       obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE a.aggkind = 'n' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}
ORDER BY 1, 4`;

export const TRIGGERS_SQL = `
SELECT n.nspname AS schema, tg.tgname AS name, c.relname AS table, c.relname || '.' || tg.tgname AS identity,
       pg_get_triggerdef(tg.oid) AS definition, tg.tgconstraint <> 0 AS constraint, tg.tgenabled::text AS enabled,
       ${DEP_KEYS("d.classid = 'pg_trigger'::regclass AND d.objid = tg.oid")} AS depends,
       obj_description(tg.oid, 'pg_trigger') AS comment
FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND ${MANAGED_RELATION("c")} AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
ORDER BY 1, 4`;

export const DOMAINS_SQL = `
SELECT n.nspname AS schema, t.typname AS name, t.typname AS identity, format_type(t.typbasetype, t.typtypmod) AS type,
       ${COLLATION("t.typcollation", "bt.typcollation")} AS collation,
       pg_get_expr(t.typdefaultbin, 0) AS default, t.typnotnull AS not_null,
       (SELECT json_agg(json_strip_nulls(json_build_object('name', con.conname, 'definition', pg_get_constraintdef(con.oid), 'validated', con.convalidated,
                                           'comment', obj_description(con.oid, 'pg_constraint'))) ORDER BY con.conname)
          FROM pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c') AS constraints,
       ${DEP_KEYS("((d.classid = 'pg_type'::regclass AND d.objid = t.oid) OR (d.classid = 'pg_constraint'::regclass AND d.objid IN (SELECT con.oid FROM pg_constraint con WHERE con.contypid = t.oid))) AND d.refobjid <> t.oid")} AS depends,
       '' AS definition,
       obj_description(t.oid, 'pg_type') AS comment
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE t.typtype = 'd' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
ORDER BY 1, 2`;

export const COMPOSITES_SQL = `
SELECT n.nspname AS schema, t.typname AS name, t.typname AS identity,
       (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                          'collation', ${COLLATION("a.attcollation", "at.typcollation")})::jsonb
                        || CASE WHEN col_description(t.typrelid, a.attnum) IS NULL THEN '{}'::jsonb
                                ELSE jsonb_build_object('comment', col_description(t.typrelid, a.attnum)) END ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes,
       ${DEP_KEYS("d.classid = 'pg_class'::regclass AND d.objid = t.typrelid")} AS depends,
       '' AS definition,
       obj_description(t.oid, 'pg_type') AS comment
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class tc ON tc.oid = t.typrelid
WHERE t.typtype = 'c' AND tc.relkind = 'c' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
ORDER BY 1, 2`;

export const RANGES_SQL = `
SELECT n.nspname AS schema, t.typname AS name, t.typname AS identity,
       'CREATE TYPE ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' AS RANGE (SUBTYPE = ' || format_type(r.rngsubtype, NULL)
       || CASE WHEN NOT opc.opcdefault THEN ', SUBTYPE_OPCLASS = ' || quote_ident(opcn.nspname) || '.' || quote_ident(opc.opcname) ELSE '' END
       || coalesce(', COLLATION = ' || ${COLLATION("r.rngcollation", "st.typcollation")}, '')
       || CASE WHEN r.rngcanonical <> 0 THEN ', CANONICAL = ' || r.rngcanonical::regproc::text ELSE '' END
       || CASE WHEN r.rngsubdiff <> 0 THEN ', SUBTYPE_DIFF = ' || r.rngsubdiff::regproc::text ELSE '' END
       || ', MULTIRANGE_TYPE_NAME = ' || quote_ident(mn.nspname) || '.' || quote_ident(mt.typname) || ')' AS definition,
       ${DEP_KEYS("d.classid = 'pg_type'::regclass AND d.objid = t.oid")} AS depends,
       obj_description(t.oid, 'pg_type') AS comment
FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_type st ON st.oid = r.rngsubtype
JOIN pg_opclass opc ON opc.oid = r.rngsubopc JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
JOIN pg_type mt ON mt.oid = r.rngmultitypid JOIN pg_namespace mn ON mn.oid = mt.typnamespace
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
ORDER BY 1, 2`;

export const MATVIEWS_SQL = `
SELECT n.nspname AS schema, c.relname AS name, c.relname AS identity, pg_get_viewdef(c.oid) AS definition,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
       c.reloptions AS options,
       ${DEP_KEYS("d.classid = 'pg_rewrite'::regclass AND d.objid IN (SELECT rw.oid FROM pg_rewrite rw WHERE rw.ev_class = c.oid) AND d.refobjid <> c.oid")} AS depends,
       (SELECT json_agg(json_build_object('name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid), 'unique', i.indisunique, 'valid', i.indisvalid,
                                          'keys', i.indkey::int2[]::int[], 'comment', obj_description(i.indexrelid, 'pg_class')) ORDER BY ic.relname)
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid) AS indexes,
       ${COLUMN_COMMENTS("c.oid")} AS column_comments, c.relispopulated AS populated,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm' AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
ORDER BY 1, 2`;

export const POLICIES_SQL = `
SELECT n.nspname AS schema, pol.polname AS name, c.relname AS table, c.relname || '.' || pol.polname AS identity,
       'CREATE POLICY ' || quote_ident(pol.polname) || ' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
       || ' AS ' || CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END
       || ' FOR ' || CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END
       || ' TO ' || (SELECT string_agg(CASE WHEN x.r = 0 THEN 'PUBLIC' ELSE x.r::regrole::text END, ', ' ORDER BY 1) FROM unnest(pol.polroles) x(r))
       || coalesce(' USING (' || pg_get_expr(pol.polqual, pol.polrelid) || ')', '')
       || coalesce(' WITH CHECK (' || pg_get_expr(pol.polwithcheck, pol.polrelid) || ')', '') AS definition,
       ${DEP_KEYS("d.classid = 'pg_policy'::regclass AND d.objid = pol.oid")} AS depends,
       obj_description(pol.oid, 'pg_policy') AS comment
FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${MANAGED_RELATION("c")} AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
ORDER BY 1, 4`;

// Extended statistics objects. The default target is -1 before PostgreSQL 17, NULL from 17 on.
export const STATISTICS_SQL = `
SELECT n.nspname AS schema, st.stxname AS name, st.stxname AS identity, pg_get_statisticsobjdef(st.oid) AS definition,
       CASE WHEN st.stxstattarget >= 0 THEN st.stxstattarget::int END AS target,
       ${DEP_KEYS("d.classid = 'pg_statistic_ext'::regclass AND d.objid = st.oid")} AS depends,
       obj_description(st.oid, 'pg_statistic_ext') AS comment
FROM pg_statistic_ext st JOIN pg_namespace n ON n.oid = st.stxnamespace
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_statistic_ext", "st.oid")}
ORDER BY 1, 2`;

// Collations, as the CREATE COLLATION that makes them: the ICU locale is colliculocale on 15–16 and
// colllocale from 17 (read through to_jsonb, which has whichever the server has); rules from 16;
// the builtin provider from 17. The library version is left out (it follows the server's ICU).
export const COLLATIONS_SQL = `
SELECT n.nspname AS schema, co.collname AS name, co.collname AS identity,
       'CREATE COLLATION ' || quote_ident(n.nspname) || '.' || quote_ident(co.collname) || ' (provider = '
       || CASE co.collprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END
       || CASE WHEN co.collprovider IN ('i', 'b') THEN ', locale = ' || quote_literal(coalesce(x.j->>'colllocale', x.j->>'colliculocale', co.collcollate))
               ELSE ', lc_collate = ' || quote_literal(co.collcollate) || ', lc_ctype = ' || quote_literal(co.collctype) END
       || coalesce(', rules = ' || quote_literal(x.j->>'collicurules'), '')
       || CASE WHEN co.collisdeterministic THEN '' ELSE ', deterministic = false' END || ')' AS definition,
       ${DEP_KEYS("d.classid = 'pg_collation'::regclass AND d.objid = co.oid")} AS depends,
       obj_description(co.oid, 'pg_collation') AS comment
FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace CROSS JOIN LATERAL (SELECT to_jsonb(co) AS j) x
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_collation", "co.oid")}
ORDER BY 1, 2`;

// Text search dictionaries (ADR 0054): the template qualified, the options as stored (PostgreSQL
// keeps them as a re-parsable `name = 'value'` list).
export const TS_DICTIONARIES_SQL = `
SELECT n.nspname AS schema, dct.dictname AS name, dct.dictname AS identity,
       'CREATE TEXT SEARCH DICTIONARY ' || quote_ident(n.nspname) || '.' || quote_ident(dct.dictname)
       || ' (TEMPLATE = ' || quote_ident(tn.nspname) || '.' || quote_ident(tm.tmplname) || coalesce(', ' || dct.dictinitoption, '') || ')' AS definition,
       quote_ident(tn.nspname) || '.' || quote_ident(tm.tmplname) AS template, dct.dictinitoption AS options,
       ${DEP_KEYS("d.classid = 'pg_ts_dict'::regclass AND d.objid = dct.oid")} AS depends,
       obj_description(dct.oid, 'pg_ts_dict') AS comment
FROM pg_ts_dict dct JOIN pg_namespace n ON n.oid = dct.dictnamespace
JOIN pg_ts_template tm ON tm.oid = dct.dicttemplate JOIN pg_namespace tn ON tn.oid = tm.tmplnamespace
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_ts_dict", "dct.oid")}
ORDER BY 1, 2`;

// Text search configurations (ADR 0054): the parser qualified, each mapped token type (by the
// parser's alias, in token order) with its dictionaries qualified, in the order they are consulted.
export const TS_CONFIGURATIONS_SQL = `
SELECT n.nspname AS schema, cfg.cfgname AS name, cfg.cfgname AS identity,
       quote_ident(pn.nspname) || '.' || quote_ident(prs.prsname) AS parser,
       coalesce((SELECT json_agg(json_build_object('token', tt.alias, 'dictionaries', m.dicts) ORDER BY m.maptokentype)
                 FROM (SELECT mm.maptokentype, array_agg(quote_ident(dn.nspname) || '.' || quote_ident(dd.dictname) ORDER BY mm.mapseqno) AS dicts
                       FROM pg_ts_config_map mm JOIN pg_ts_dict dd ON dd.oid = mm.mapdict JOIN pg_namespace dn ON dn.oid = dd.dictnamespace
                       WHERE mm.mapcfg = cfg.oid GROUP BY mm.maptokentype) m
                 JOIN ts_token_type(cfg.cfgparser) tt ON tt.tokid = m.maptokentype), '[]'::json) AS mappings,
       ${DEP_KEYS("d.classid = 'pg_ts_config'::regclass AND d.objid = cfg.oid")} AS depends,
       obj_description(cfg.oid, 'pg_ts_config') AS comment
FROM pg_ts_config cfg JOIN pg_namespace n ON n.oid = cfg.cfgnamespace
JOIN pg_ts_parser prs ON prs.oid = cfg.cfgparser JOIN pg_namespace pn ON pn.oid = prs.prsnamespace
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_ts_config", "cfg.oid")}
ORDER BY 1, 2`;

// Operators (ADR 0056), as the CREATE OPERATOR that makes them; procedures and operators named
// qualified (a commutator may be a shell operator not yet defined: it is named all the same).
const PROC_NAME = (oid: string) => `(SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.proname) FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = ${oid})`;
const OPERATOR_NAME = (oid: string) => `(SELECT 'OPERATOR(' || quote_ident(xn.nspname) || '.' || x.oprname || ')' FROM pg_operator x JOIN pg_namespace xn ON xn.oid = x.oprnamespace WHERE x.oid = ${oid})`;
export const OPERATORS_SQL = `
SELECT n.nspname AS schema, o.oprname AS name, ${OPERATOR_IDENTITY("o")} AS identity,
       'CREATE OPERATOR ' || quote_ident(n.nspname) || '.' || o.oprname || ' (' || concat_ws(', ',
         CASE WHEN o.oprleft <> 0 THEN 'LEFTARG = ' || format_type(o.oprleft, NULL) END,
         'RIGHTARG = ' || format_type(o.oprright, NULL),
         'FUNCTION = ' || ${PROC_NAME("o.oprcode")},
         CASE WHEN o.oprcom <> 0 THEN 'COMMUTATOR = ' || ${OPERATOR_NAME("o.oprcom")} END,
         CASE WHEN o.oprnegate <> 0 THEN 'NEGATOR = ' || ${OPERATOR_NAME("o.oprnegate")} END,
         CASE WHEN o.oprrest <> 0 THEN 'RESTRICT = ' || ${PROC_NAME("o.oprrest")} END,
         CASE WHEN o.oprjoin <> 0 THEN 'JOIN = ' || ${PROC_NAME("o.oprjoin")} END,
         CASE WHEN o.oprcanhash THEN 'HASHES' END,
         CASE WHEN o.oprcanmerge THEN 'MERGES' END) || ')' AS definition,
       ${DEP_KEYS("d.classid = 'pg_operator'::regclass AND d.objid = o.oid")} AS depends,
       obj_description(o.oid, 'pg_operator') AS comment
FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
-- A shell operator (named as another's commutator, never defined) has no function.
WHERE o.oprcode <> 0 AND ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_operator", "o.oid")}
ORDER BY 1, 3`;
