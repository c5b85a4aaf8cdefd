import type { ClientBase } from "pg";
import { catalogQuery } from "../internal/prepared";
import { catalogFingerprint } from "./introspect";

// Per catalog: how many rows, and the sum of their xmin. Any DDL inserts, updates or deletes rows
// (new xmin values, or a lower count); ANALYZE and VACUUM only update in place.
const agg = (from: string) => `(SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM ${from})`;
// As an array, not IN (subquery): the catalogs are then read through their index on `column` where
// they have one, rather than scanned whole and hashed against the set (pg_attribute, pg_depend and
// pg_index grow with every tenant of the database); and there is less for the planner to weigh.
const within = (column: string, set: string) => `${column} = ANY (ARRAY(SELECT oid FROM ${set}))`;

/** The objects of the managed schemas by catalog (the sets of the query below), whose dependencies count. */
const DEPENDER_SETS = [
  ["pg_namespace", "ns"],
  ["pg_class", "rel"],
  ["pg_type", "typ"],
  ["pg_proc", "pro"],
  ["pg_constraint", "con"],
  ["pg_trigger", "trg"],
  ["pg_policy", "pol"],
  ["pg_rewrite", "rew"],
  ["pg_attrdef", "def"],
  ["pg_statistic_ext", "stx"],
  ["pg_collation", "coll"],
  ["pg_ts_dict", "tsd"],
  ["pg_ts_config", "tsc"],
  ["pg_operator", "opr"],
] as const;

/**
 * The catalog rows of the managed schemas, and of the objects they refer to wherever those are (a
 * table in another schema renamed changes how a view over it prints). Keep in step with what
 * `introspect` reads: each object kind it reads has its catalog here. Owners and ACLs are columns
 * of rows already counted (pg_namespace, pg_class, pg_attribute, pg_proc, pg_type), so GRANT,
 * REVOKE and ALTER ... OWNER change it; global default privileges are counted too. Roles are
 * named in the model, but renaming a role (pg_authid, readable by superusers only) is not seen.
 */
const SCOPED_FINGERPRINT_SQL = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])),
     rel AS (SELECT oid FROM pg_class WHERE ${within("relnamespace", "ns")}),
     typ AS (SELECT oid FROM pg_type WHERE ${within("typnamespace", "ns")}),
     pro AS (SELECT oid FROM pg_proc WHERE ${within("pronamespace", "ns")}),
     con AS (SELECT oid FROM pg_constraint WHERE ${within("connamespace", "ns")}),
     trg AS (SELECT oid FROM pg_trigger WHERE ${within("tgrelid", "rel")}),
     pol AS (SELECT oid FROM pg_policy WHERE ${within("polrelid", "rel")}),
     rew AS (SELECT oid FROM pg_rewrite WHERE ${within("ev_class", "rel")}),
     def AS (SELECT oid FROM pg_attrdef WHERE ${within("adrelid", "rel")}),
     stx AS (SELECT oid FROM pg_statistic_ext WHERE ${within("stxnamespace", "ns")}),
     coll AS (SELECT oid FROM pg_collation WHERE ${within("collnamespace", "ns")}),
     tsd AS (SELECT oid FROM pg_ts_dict WHERE ${within("dictnamespace", "ns")}),
     tsc AS (SELECT oid FROM pg_ts_config WHERE ${within("cfgnamespace", "ns")}),
     opr AS (SELECT oid FROM pg_operator WHERE ${within("oprnamespace", "ns")}),
     objs AS (${DEPENDER_SETS.map(([catalog, set]) => `SELECT '${catalog}'::regclass AS classid, oid FROM ${set}`).join(" UNION ALL ")}),
     dep AS (${DEPENDER_SETS.map(([catalog, set]) => `SELECT d.xmin, d.refclassid, d.refobjid FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ANY (ARRAY(SELECT oid FROM ${set}))`).join("\n       UNION ALL ")}),
     ref_rel AS (SELECT oid, relnamespace AS nsp FROM pg_class WHERE oid IN (SELECT refobjid FROM dep WHERE refclassid = 'pg_class'::regclass)),
     ref_typ AS (SELECT oid, typnamespace AS nsp FROM pg_type WHERE oid IN (SELECT refobjid FROM dep WHERE refclassid = 'pg_type'::regclass)),
     ref_pro AS (SELECT oid, pronamespace AS nsp FROM pg_proc WHERE oid IN (SELECT refobjid FROM dep WHERE refclassid = 'pg_proc'::regclass))
SELECT concat_ws('|',
  ${agg("pg_namespace WHERE oid = ANY (ARRAY(SELECT oid FROM ns UNION SELECT nsp FROM ref_rel UNION SELECT nsp FROM ref_typ UNION SELECT nsp FROM ref_pro))")},
  ${agg("pg_class WHERE oid = ANY (ARRAY(SELECT oid FROM rel UNION SELECT oid FROM ref_rel))")},
  ${agg(`pg_attribute WHERE ${within("attrelid", "rel")}`)},
  ${agg("pg_type WHERE oid = ANY (ARRAY(SELECT oid FROM typ UNION SELECT oid FROM ref_typ))")},
  ${agg(`pg_enum WHERE ${within("enumtypid", "typ")}`)},
  ${agg(`pg_range WHERE ${within("rngtypid", "typ")}`)},
  ${agg("pg_proc WHERE oid = ANY (ARRAY(SELECT oid FROM pro UNION SELECT oid FROM ref_pro))")},
  ${agg(`pg_aggregate WHERE ${within("aggfnoid", "pro")}`)},
  ${agg(`pg_constraint WHERE ${within("oid", "con")}`)},
  ${agg(`pg_trigger WHERE ${within("oid", "trg")}`)},
  ${agg(`pg_policy WHERE ${within("oid", "pol")}`)},
  ${agg(`pg_rewrite WHERE ${within("oid", "rew")}`)},
  ${agg(`pg_attrdef WHERE ${within("oid", "def")}`)},
  ${agg(`pg_statistic_ext WHERE ${within("oid", "stx")}`)},
  ${agg(`pg_index WHERE ${within("indrelid", "rel")}`)},
  ${agg(`pg_sequence WHERE ${within("seqrelid", "rel")}`)},
  ${agg(`pg_inherits WHERE ${within("inhrelid", "rel")} OR ${within("inhparent", "rel")}`)},
  ${agg(`pg_partitioned_table WHERE ${within("partrelid", "rel")}`)},
  ${agg("pg_description WHERE objoid = ANY (ARRAY(SELECT oid FROM objs)) AND (classoid, objoid) IN (SELECT classid, oid FROM objs)")},
  ${agg(`pg_collation WHERE ${within("collnamespace", "ns")}`)},
  ${agg(`pg_ts_dict WHERE ${within("oid", "tsd")}`)},
  ${agg(`pg_ts_config WHERE ${within("oid", "tsc")}`)},
  ${agg(`pg_ts_config_map WHERE ${within("mapcfg", "tsc")}`)},
  ${agg(`pg_operator WHERE ${within("oid", "opr")}`)},
  ${agg(`pg_opfamily WHERE ${within("opfnamespace", "ns")}`)},
  ${agg(`pg_opclass WHERE ${within("opcnamespace", "ns")}`)},
  ${agg(`pg_default_acl WHERE ${within("defaclnamespace", "ns")} OR defaclnamespace = 0`)},
  ${agg("dep")},
  ${agg("pg_extension")},
  -- Read whatever the scope (EXTENSIONS_SQL, and the casts and event triggers UNMANAGED_SQL reports).
  ${agg("pg_description WHERE classoid = 'pg_extension'::regclass")},
  ${agg("pg_cast WHERE oid >= 16384")},
  ${agg("pg_event_trigger")}) AS fp,
  (SELECT coalesce(array_agg(nspname::text ORDER BY nspname), '{}') FROM pg_namespace WHERE oid IN (SELECT oid FROM ns)) AS existing`;

/**
 * A cheap fingerprint of what introspection reads for `schemas` (row counts and transaction ids of
 * their catalog rows, and of the objects they refer to elsewhere): equal fingerprints mean no DDL
 * touched them in between, so a previous introspection of those schemas is still exact. Unlike
 * {@link catalogFingerprint}, DDL in other schemas of the database leaves it unchanged, and its
 * cost follows the size of the schemas, not of the whole catalog (a database of a thousand
 * tenant schemas). `undefined` (every schema) is the whole-catalog fingerprint.
 */
export async function scopedCatalogFingerprint(client: ClientBase, schemas: readonly string[] | undefined): Promise<string> {
  if (schemas === undefined) return catalogFingerprint(client);
  return (await scopedCatalogState(client, schemas)).fingerprint;
}

/**
 * {@link scopedCatalogFingerprint} of `schemas`, and which of them exist. Only catalog rows that
 * exist count, so the fingerprint of a scope equals that of its existing schemas.
 */
export async function scopedCatalogState(client: ClientBase, schemas: readonly string[]): Promise<{ fingerprint: string; existing: string[] }> {
  const rows = await catalogQuery<{ fp: string; existing: string[] }>(client, SCOPED_FINGERPRINT_SQL, [schemas]);
  return { fingerprint: rows[0]!.fp, existing: rows[0]!.existing };
}
