// What the catalog-level convergence check reads: one entry per system catalog, each saying how a
// row is identified by name, which columns are left out and why, and how reference columns (oids,
// expressions, ACLs) are turned into what they mean. Every other column the server's catalog has is
// compared as stored, so a property a new PostgreSQL major adds is compared without a change here.
// See docs/adr/0014-catalog-convergence-check.md.

/** One catalog the check compares. */
export interface CatalogSpec {
  /** The system catalog, e.g. `pg_class`; its row alias in the SQL fragments below is `x`. */
  readonly catalog: string;
  /** Joins after `FROM <catalog> x` that the other fragments use (`n` is the row's namespace). */
  readonly joins: string;
  /** SQL: the name of the schema the row belongs to (scope and per-schema hashes). */
  readonly schema: string;
  /** SQL: the row's identity by name, e.g. `public.orders` or `public.orders.id`. */
  readonly identity: string;
  /** SQL: which rows count, besides being in a compared schema. */
  readonly where?: string;
  /** Columns not compared, each with the reason (identity, physical state, covered by another property). */
  readonly excluded: Readonly<Record<string, string>>;
  /** Columns compared by meaning: the SQL expression that replaces the stored value. */
  readonly mapped: Readonly<Record<string, string>>;
  /** Properties that are no column: PostgreSQL's own rendering of the object (definitions). */
  readonly computed?: Readonly<Record<string, string>>;
}

// ---- SQL fragments ----

const qname = (schema: string, name: string) => `quote_ident(${schema}) || '.' || quote_ident(${name})`;
const role = (oid: string) => `pg_get_userbyid(${oid})`;
/**
 * A foreign key's piece PostgreSQL clones for a partition (of the referencing or the referenced
 * table), named by the key it comes from and the table it references: PostgreSQL numbers the
 * pieces' own names (`fk_1`, `fk_1_2`) in the order it made them, which depends on history, where
 * the same SQL run directly numbers them anew.
 */
const fkPiece = (c: string) =>
  `(WITH RECURSIVE up(oid, parent, name) AS (SELECT k.oid, k.conparentid, k.conname FROM pg_constraint k WHERE k.oid = ${c}.conparentid
     UNION ALL SELECT k.oid, k.conparentid, k.conname FROM pg_constraint k JOIN up ON k.oid = up.parent)
    SELECT quote_ident(up.name) || ' -> ' || ${c}.confrelid::regclass::text FROM up WHERE up.parent = 0)`;
/** A relation (or type, routine...) oid as its qualified name; NULL for 0. */
const relName = (oid: string) => `CASE WHEN ${oid} = 0 THEN NULL ELSE ${oid}::regclass::text END`;
const typeName = (oid: string) => `CASE WHEN ${oid} = 0 THEN NULL ELSE format_type(${oid}, NULL) END`;
const collationName = (oid: string) => `CASE WHEN ${oid} = 0 THEN NULL ELSE ${oid}::regcollation::text END`;
/** A list of `name=value` options as a set: PostgreSQL keeps them in the order they were last set. */
const sortedOptions = (list: string) => `CASE WHEN ${list} IS NOT NULL THEN (SELECT array_agg(o ORDER BY o) FROM unnest(${list}) o) END`;
// One hashed set per query rather than a probe per row (pg_attribute has a row per column).
const notExtensionMember = (catalog: string, oid: string) =>
  `${oid} NOT IN (SELECT e.objid FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.deptype = 'e')`;
/**
 * An ACL as the sorted set of `grantee:PRIVILEGE[*]` it grants (`*`: with grant option), NULL read as
 * the kind's built-in default: who granted an entry, and whether the default is written out, do not
 * change what anyone may do.
 */
export const aclText = (acl: string, kind: string, owner: string, nullIsEmpty = false) =>
  nullIsEmpty ? `CASE WHEN ${acl} IS NULL THEN '' ELSE ${aclItems(acl, kind, owner)} END` : aclItems(acl, kind, owner);
const aclItems = (acl: string, kind: string, owner: string) =>
  `(SELECT coalesce(string_agg(a.item, ',' ORDER BY a.item), '') FROM (SELECT CASE WHEN p.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(p.grantee) END
     || ':' || p.privilege_type || CASE WHEN p.is_grantable THEN '*' ELSE '' END AS item FROM aclexplode(coalesce(${acl}, acldefault(${kind}, ${owner}))) p) a)`;

/** The column an identity sequence belongs to (`public.t.id`), else NULL: such a sequence is identified by it. */
const identityOwner = (oid: string) => `(SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname) FROM pg_depend d
   JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE d.classid = 'pg_class'::regclass AND d.objid = ${oid} AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i')`;
/** A sequence's identity: an identity sequence's is its column's (PostgreSQL names it when the column is created, and keeps the name when table or column is renamed). */
const sequenceIdentity = (relkind: string, oid: string, schema: string, name: string) =>
  `coalesce(CASE WHEN ${relkind} = 'S' THEN ${identityOwner(oid)} || ' identity' END, ${qname(schema, name)})`;

const OID = "the row's oid: differs between any two databases";
const NAME = "part of the row's identity";
const PHYSICAL = "physical state (storage, statistics, transaction ids), not the object's definition";
const IN_DEFINITION = "part of the definition PostgreSQL prints (the `definition` property)";

/** The catalogs compared, in report order. */
export const CATALOGS: readonly CatalogSpec[] = [
  {
    catalog: "pg_namespace",
    joins: "",
    schema: "x.nspname",
    identity: "quote_ident(x.nspname)",
    excluded: { oid: OID, nspname: NAME },
    mapped: { nspowner: role("x.nspowner"), nspacl: aclText("x.nspacl", "'n'", "x.nspowner") },
  },
  {
    catalog: "pg_class",
    joins: "JOIN pg_namespace n ON n.oid = x.relnamespace",
    schema: "n.nspname",
    identity: sequenceIdentity("x.relkind", "x.oid", "n.nspname", "x.relname"),
    where: `x.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c', 'i', 'I') AND ${notExtensionMember("pg_class", "x.oid")}`,
    excluded: {
      oid: OID,
      relname: NAME,
      relnamespace: NAME,
      relfilenode: PHYSICAL,
      relpages: PHYSICAL,
      reltuples: PHYSICAL,
      relallvisible: PHYSICAL,
      relallfrozen: PHYSICAL,
      relfrozenxid: PHYSICAL,
      relminmxid: PHYSICAL,
      relrewrite: PHYSICAL,
      reltoastrelid: "the TOAST table follows the columns' storage, compared in pg_attribute",
      relnatts: "counts dropped columns too; the columns are compared in pg_attribute",
      relchecks: "the number of CHECK constraints, compared one by one in pg_constraint",
      relhasindex: "set eagerly, cleared only by VACUUM: says what the table once had; indexes are compared in pg_index",
      relhasrules: "cleared lazily like relhasindex; rules are compared in pg_rewrite",
      relhastriggers: "cleared lazily like relhasindex; triggers are compared in pg_trigger",
      relhassubclass: "cleared lazily like relhasindex; inheritance is compared in pg_inherits",
    },
    computed: { name: `CASE WHEN x.relkind = 'S' AND ${identityOwner("x.oid")} IS NOT NULL THEN x.relname END` },
    mapped: {
      reltype: "x.reltype <> 0",
      reloftype: typeName("x.reloftype"),
      relowner: role("x.relowner"),
      relam: "(SELECT amname FROM pg_am WHERE oid = x.relam)",
      reltablespace: "(SELECT spcname FROM pg_tablespace WHERE oid = x.reltablespace)",
      reloptions: sortedOptions("x.reloptions"),
      relacl: aclText("x.relacl", `CASE WHEN x.relkind = 'S' THEN 's' ELSE 'r' END::"char"`, "x.relowner"),
      relpartbound: "pg_get_expr(x.relpartbound, x.oid)",
    },
  },
  {
    catalog: "pg_attribute",
    joins: "JOIN pg_class c ON c.oid = x.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "c.relname")} || '.' || quote_ident(x.attname)`,
    where: `c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND x.attnum > 0 AND NOT x.attisdropped AND ${notExtensionMember("pg_class", "c.oid")}`,
    excluded: {
      attrelid: NAME,
      attname: NAME,
      attnum: "differs after dropped columns; the column's place among the live ones is the `position` property",
      attisdropped: "dropped columns are not compared",
      attcacheoff: PHYSICAL,
      atthasmissing: "whether rows written before ADD COLUMN ... DEFAULT hold the default (physical history)",
      attndims: "declared array dimensions: not enforced, and not kept by ALTER COLUMN TYPE or pg_dump (types print with one [])",
      attmissingval: "whether rows written before ADD COLUMN ... DEFAULT hold the default (physical history)",
    },
    mapped: {
      atttypid: "format_type(x.atttypid, NULL)",
      attcollation: collationName("x.attcollation"),
      // A column's built-in default ACL is empty.
      attacl: aclText("x.attacl", "'c'", "c.relowner", true),
      attoptions: sortedOptions("x.attoptions"),
      attfdwoptions: sortedOptions("x.attfdwoptions"),
    },
    computed: { position: "row_number() OVER (PARTITION BY x.attrelid ORDER BY x.attnum)" },
  },
  {
    catalog: "pg_attrdef",
    joins:
      "JOIN pg_class c ON c.oid = x.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute att ON att.attrelid = x.adrelid AND att.attnum = x.adnum",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "c.relname")} || '.' || quote_ident(att.attname)`,
    where: notExtensionMember("pg_class", "c.oid"),
    excluded: { oid: OID, adrelid: NAME, adnum: NAME },
    mapped: { adbin: "pg_get_expr(x.adbin, x.adrelid)" },
  },
  {
    catalog: "pg_constraint",
    joins: "JOIN pg_namespace n ON n.oid = x.connamespace LEFT JOIN pg_class c ON c.oid = x.conrelid LEFT JOIN pg_type ty ON ty.oid = x.contypid",
    schema: "n.nspname",
    // A NOT NULL constraint (catalogued since PostgreSQL 18, for domains since 17) is identified by
    // its column (or domain): PostgreSQL names it after the table and column it was first made for
    // and keeps that name through renames and inheritance, where the same SQL run directly names it anew.
    identity: `coalesce(${qname("n.nspname", "c.relname")}, ${qname("n.nspname", "ty.typname")}) || '.' || CASE WHEN x.contype = 'n'
      THEN coalesce((SELECT quote_ident(a.attname) || ' ' FROM pg_attribute a WHERE a.attrelid = x.conrelid AND a.attnum = x.conkey[1]), '') || 'NOT NULL'
      WHEN x.contype = 'f' AND x.conparentid <> 0 THEN ${fkPiece("x")}
      ELSE quote_ident(x.conname) END`,
    where: notExtensionMember("pg_constraint", "x.oid"),
    excluded: {
      oid: OID,
      conname: NAME,
      connamespace: NAME,
      conrelid: NAME,
      contypid: NAME,
      conkey: IN_DEFINITION,
      confkey: IN_DEFINITION,
      confrelid: IN_DEFINITION,
      conpfeqop: IN_DEFINITION,
      conppeqop: IN_DEFINITION,
      conffeqop: IN_DEFINITION,
      conexclop: IN_DEFINITION,
      confdelsetcols: IN_DEFINITION,
      conbin: IN_DEFINITION,
    },
    mapped: {
      // Index-backed constraints (primary key, unique, exclusion) are never inherited through this
      // flag: a partition gets them from its parent's partitioned index. PostgreSQL sets it by how
      // the constraint came about — false when cascaded from a partitioned parent, true when made on
      // the partition with ALTER TABLE ONLY and attached, as pg_dump restores it (ADR 0057) — and no
      // DDL changes it.
      connoinherit: "CASE WHEN x.contype IN ('p', 'u', 'x') THEN NULL ELSE x.connoinherit END",
      conindid: relName("x.conindid"),
      conparentid: `(SELECT coalesce(pc.relname::text, pt.typname::text) || '.' || CASE WHEN p.contype = 'n' THEN 'NOT NULL'
        WHEN p.contype = 'f' AND p.conparentid <> 0 THEN ${fkPiece("p")} ELSE p.conname::text END
        FROM pg_constraint p LEFT JOIN pg_class pc ON pc.oid = p.conrelid LEFT JOIN pg_type pt ON pt.oid = p.contypid WHERE p.oid = x.conparentid)`,
    },
    computed: { definition: "pg_get_constraintdef(x.oid)", name: "CASE WHEN x.contype = 'n' THEN x.conname END" },
  },
  {
    catalog: "pg_index",
    joins: "JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "c.relname"),
    where: notExtensionMember("pg_class", "x.indrelid"),
    excluded: {
      indexrelid: NAME,
      indrelid: IN_DEFINITION,
      indkey: IN_DEFINITION,
      indcollation: IN_DEFINITION,
      indclass: IN_DEFINITION,
      indoption: IN_DEFINITION,
      indexprs: IN_DEFINITION,
      indpred: IN_DEFINITION,
      indcheckxmin: "set when the index was built over broken HOT chains (physical history)",
    },
    mapped: {},
    // Storage parameters print in the order they were set: compared as a set in pg_class.reloptions.
    computed: {
      definition: `CASE WHEN c.reloptions IS NULL THEN pg_get_indexdef(x.indexrelid)
                        ELSE regexp_replace(pg_get_indexdef(x.indexrelid), ' WITH \\((?:[^()'']|''[^'']*'')*\\)', '') END`,
      // An expression column's statistics target (ALTER INDEX … ALTER COLUMN n SET STATISTICS), not
      // modelled: compared so that a desired one is reported rather than silently never set. The
      // default is -1 before PostgreSQL 17 and NULL from 17 on.
      statistics: "(SELECT string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = x.indexrelid AND a.attstattarget >= 0)",
    },
  },
  {
    catalog: "pg_inherits",
    joins: "JOIN pg_class c ON c.oid = x.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "c.relname")} || ' < ' || x.inhparent::regclass::text`,
    where: notExtensionMember("pg_class", "c.oid"),
    excluded: { inhrelid: NAME, inhparent: NAME },
    mapped: {},
  },
  {
    catalog: "pg_partitioned_table",
    joins: "JOIN pg_class c ON c.oid = x.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "c.relname"),
    where: notExtensionMember("pg_class", "c.oid"),
    excluded: { partrelid: NAME, partattrs: IN_DEFINITION, partclass: IN_DEFINITION, partcollation: IN_DEFINITION, partexprs: IN_DEFINITION },
    mapped: { partdefid: relName("x.partdefid") },
    computed: { definition: "pg_get_partkeydef(x.partrelid)" },
  },
  {
    catalog: "pg_sequence",
    joins: "JOIN pg_class c ON c.oid = x.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: sequenceIdentity("c.relkind", "c.oid", "n.nspname", "c.relname"),
    where: notExtensionMember("pg_class", "c.oid"),
    excluded: { seqrelid: NAME },
    mapped: { seqtypid: "format_type(x.seqtypid, NULL)" },
    computed: {
      owned_by: `(SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname) || ' (' || d.deptype::text || ')' FROM pg_depend d
                   JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = x.seqrelid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1)`,
    },
  },
  {
    catalog: "pg_type",
    joins: "JOIN pg_namespace n ON n.oid = x.typnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "x.typname"),
    // Not the row types of relations other than composite types, nor implicit array types: they
    // follow their relation or element type.
    where: `(x.typrelid = 0 OR (SELECT r.relkind FROM pg_class r WHERE r.oid = x.typrelid) = 'c')
            AND NOT (x.typelem <> 0 AND EXISTS (SELECT 1 FROM pg_type el WHERE el.oid = x.typelem AND el.typarray = x.oid))
            AND ${notExtensionMember("pg_type", "x.oid")}`,
    excluded: {
      oid: OID,
      typname: NAME,
      typnamespace: NAME,
      typrelid: "the composite type's relation, compared in pg_class",
      typarray: "the implicit array type, which follows its element type",
      typdefaultbin: "the same default as typdefault, which is compared",
    },
    mapped: {
      typowner: role("x.typowner"),
      typelem: typeName("x.typelem"),
      typbasetype: typeName("x.typbasetype"),
      typcollation: collationName("x.typcollation"),
      typacl: aclText("x.typacl", "'T'", "x.typowner"),
    },
    computed: { labels: "(SELECT array_agg(l.enumlabel ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = x.oid)" },
  },
  {
    catalog: "pg_range",
    joins: "JOIN pg_type t ON t.oid = x.rngtypid JOIN pg_namespace n ON n.oid = t.typnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "t.typname"),
    where: notExtensionMember("pg_type", "t.oid"),
    excluded: { rngtypid: NAME },
    mapped: {
      rngsubtype: "format_type(x.rngsubtype, NULL)",
      rngmultitypid: typeName("x.rngmultitypid"),
      rngcollation: collationName("x.rngcollation"),
      rngsubopc: "(SELECT quote_ident(on_.nspname) || '.' || quote_ident(o.opcname) FROM pg_opclass o JOIN pg_namespace on_ ON on_.oid = o.opcnamespace WHERE o.oid = x.rngsubopc)",
    },
  },
  {
    catalog: "pg_proc",
    joins: "JOIN pg_namespace n ON n.oid = x.pronamespace",
    schema: "n.nspname",
    identity: "x.oid::regprocedure::text",
    where: notExtensionMember("pg_proc", "x.oid"),
    excluded: {
      oid: OID,
      proname: NAME,
      pronamespace: NAME,
      proargtypes: NAME,
      prosrc: IN_DEFINITION,
      probin: IN_DEFINITION,
      prosqlbody: IN_DEFINITION,
      proargdefaults: IN_DEFINITION,
    },
    mapped: {
      proowner: role("x.proowner"),
      prolang: "(SELECT lanname FROM pg_language WHERE oid = x.prolang)",
      provariadic: typeName("x.provariadic"),
      prorettype: "format_type(x.prorettype, NULL)",
      proallargtypes: "(SELECT array_agg(format_type(t, NULL) ORDER BY i) FROM unnest(x.proallargtypes) WITH ORDINALITY AS u(t, i))",
      protrftypes: "(SELECT array_agg(format_type(t, NULL) ORDER BY i) FROM unnest(x.protrftypes) WITH ORDINALITY AS u(t, i))",
      proacl: aclText("x.proacl", "'f'", "x.proowner"),
      proconfig: sortedOptions("x.proconfig"),
    },
    computed: { definition: "CASE WHEN x.prokind <> 'a' THEN pg_get_functiondef(x.oid) END" },
  },
  {
    catalog: "pg_aggregate",
    joins: "JOIN pg_proc p ON p.oid = x.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace",
    schema: "n.nspname",
    identity: "x.aggfnoid::regprocedure::text",
    where: notExtensionMember("pg_proc", "p.oid"),
    excluded: { aggfnoid: NAME },
    mapped: {
      aggsortop: "CASE WHEN x.aggsortop = 0 THEN NULL ELSE x.aggsortop::regoperator::text END",
      aggtranstype: typeName("x.aggtranstype"),
      aggmtranstype: typeName("x.aggmtranstype"),
    },
  },
  {
    catalog: "pg_trigger",
    joins: "JOIN pg_class c ON c.oid = x.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "c.relname")} || '.' || quote_ident(x.tgname)`,
    // Internal triggers implement foreign keys (compared in pg_constraint) and carry oids in their names.
    where: `NOT x.tgisinternal AND ${notExtensionMember("pg_class", "c.oid")}`,
    excluded: {
      oid: OID,
      tgrelid: NAME,
      tgname: NAME,
      tgattr: IN_DEFINITION,
      tgargs: IN_DEFINITION,
      tgnargs: IN_DEFINITION,
      tgqual: IN_DEFINITION,
    },
    mapped: {
      tgparentid: "(SELECT p.tgrelid::regclass::text || '.' || quote_ident(p.tgname) FROM pg_trigger p WHERE p.oid = x.tgparentid)",
      tgfoid: "x.tgfoid::regprocedure::text",
      tgconstrrelid: relName("x.tgconstrrelid"),
      tgconstrindid: relName("x.tgconstrindid"),
      tgconstraint: "(SELECT k.conname FROM pg_constraint k WHERE k.oid = x.tgconstraint)",
    },
    computed: { definition: "pg_get_triggerdef(x.oid)" },
  },
  {
    catalog: "pg_policy",
    joins: "JOIN pg_class c ON c.oid = x.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "c.relname")} || '.' || quote_ident(x.polname)`,
    excluded: { oid: OID, polrelid: NAME, polname: NAME },
    mapped: {
      polroles: "(SELECT array_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END ORDER BY 1) FROM unnest(x.polroles) r)",
      polqual: "pg_get_expr(x.polqual, x.polrelid)",
      polwithcheck: "pg_get_expr(x.polwithcheck, x.polrelid)",
    },
  },
  {
    catalog: "pg_collation",
    joins: "JOIN pg_namespace n ON n.oid = x.collnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "x.collname"),
    where: notExtensionMember("pg_collation", "x.oid"),
    excluded: {
      oid: OID,
      collname: NAME,
      collnamespace: NAME,
      collversion: "the collation library's version when it was created: follows the server's ICU or C library, not the definition",
      collencoding: "-1 (any) or the database's encoding: the same collation for this database either way",
    },
    mapped: { collowner: role("x.collowner") },
  },
  {
    catalog: "pg_operator",
    joins: "JOIN pg_namespace n ON n.oid = x.oprnamespace",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "x.oprname")} || '(' || CASE WHEN x.oprleft = 0 THEN 'NONE' ELSE format_type(x.oprleft, NULL) END || ',' || format_type(x.oprright, NULL) || ')'`,
    where: notExtensionMember("pg_operator", "x.oid"),
    excluded: { oid: OID, oprname: NAME, oprnamespace: NAME, oprleft: NAME, oprright: NAME },
    mapped: {
      oprowner: role("x.oprowner"),
      oprresult: typeName("x.oprresult"),
      oprcom: "CASE WHEN x.oprcom = 0 THEN NULL ELSE x.oprcom::regoperator::text END",
      oprnegate: "CASE WHEN x.oprnegate = 0 THEN NULL ELSE x.oprnegate::regoperator::text END",
      oprcode: "CASE WHEN x.oprcode = 0 THEN NULL ELSE x.oprcode::regprocedure::text END",
      oprrest: "CASE WHEN x.oprrest = 0 THEN NULL ELSE x.oprrest::regprocedure::text END",
      oprjoin: "CASE WHEN x.oprjoin = 0 THEN NULL ELSE x.oprjoin::regprocedure::text END",
    },
  },
  {
    catalog: "pg_ts_dict",
    joins: "JOIN pg_namespace n ON n.oid = x.dictnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "x.dictname"),
    where: notExtensionMember("pg_ts_dict", "x.oid"),
    excluded: { oid: OID, dictname: NAME, dictnamespace: NAME },
    mapped: {
      dictowner: role("x.dictowner"),
      dicttemplate: "(SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.tmplname) FROM pg_ts_template t JOIN pg_namespace tn ON tn.oid = t.tmplnamespace WHERE t.oid = x.dicttemplate)",
    },
  },
  {
    // pg_ts_config_map's rows are compared as this property: each token type's dictionaries in order.
    catalog: "pg_ts_config",
    joins: "JOIN pg_namespace n ON n.oid = x.cfgnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "x.cfgname"),
    where: notExtensionMember("pg_ts_config", "x.oid"),
    excluded: { oid: OID, cfgname: NAME, cfgnamespace: NAME },
    mapped: {
      cfgowner: role("x.cfgowner"),
      cfgparser: "(SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.prsname) FROM pg_ts_parser p JOIN pg_namespace pn ON pn.oid = p.prsnamespace WHERE p.oid = x.cfgparser)",
    },
    computed: {
      mappings: `(SELECT string_agg(m.maptokentype || ':' || m.mapseqno || ':' || quote_ident(dn.nspname) || '.' || quote_ident(d.dictname), ' ' ORDER BY m.maptokentype, m.mapseqno)
        FROM pg_ts_config_map m JOIN pg_ts_dict d ON d.oid = m.mapdict JOIN pg_namespace dn ON dn.oid = d.dictnamespace WHERE m.mapcfg = x.oid)`,
    },
  },
  {
    catalog: "pg_statistic_ext",
    joins: "JOIN pg_namespace n ON n.oid = x.stxnamespace",
    schema: "n.nspname",
    identity: qname("n.nspname", "x.stxname"),
    where: notExtensionMember("pg_statistic_ext", "x.oid"),
    excluded: { oid: OID, stxname: NAME, stxnamespace: NAME, stxrelid: IN_DEFINITION, stxkeys: IN_DEFINITION, stxkind: IN_DEFINITION, stxexprs: IN_DEFINITION },
    mapped: {
      stxowner: role("x.stxowner"),
      // The default target: -1 before PostgreSQL 17, NULL from 17 on.
      stxstattarget: "CASE WHEN x.stxstattarget >= 0 THEN x.stxstattarget::int END",
    },
    computed: { definition: "pg_get_statisticsobjdef(x.oid)" },
  },
  {
    catalog: "pg_rewrite",
    joins: "JOIN pg_class c ON c.oid = x.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace",
    schema: "n.nspname",
    identity: `${qname("n.nspname", "c.relname")} || '.' || quote_ident(x.rulename)`,
    where: notExtensionMember("pg_class", "c.oid"),
    excluded: { oid: OID, ev_class: NAME, rulename: NAME, ev_qual: "part of ev_action as printed" },
    mapped: { ev_action: "pg_get_ruledef(x.oid)" },
  },
  {
    catalog: "pg_description",
    joins: "CROSS JOIN LATERAL pg_identify_object(x.classoid, x.objoid, 0) io",
    // Triggers, policies and rules have no schema of their own: their table's.
    schema: `CASE x.classoid
      WHEN 'pg_namespace'::regclass THEN (SELECT s.nspname FROM pg_namespace s WHERE s.oid = x.objoid)
      WHEN 'pg_trigger'::regclass THEN (SELECT s.nspname FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace s ON s.oid = r.relnamespace WHERE t.oid = x.objoid)
      WHEN 'pg_policy'::regclass THEN (SELECT s.nspname FROM pg_policy t JOIN pg_class r ON r.oid = t.polrelid JOIN pg_namespace s ON s.oid = r.relnamespace WHERE t.oid = x.objoid)
      WHEN 'pg_rewrite'::regclass THEN (SELECT s.nspname FROM pg_rewrite t JOIN pg_class r ON r.oid = t.ev_class JOIN pg_namespace s ON s.oid = r.relnamespace WHERE t.oid = x.objoid)
      ELSE io.schema END`,
    identity: "pg_describe_object(x.classoid, x.objoid, x.objsubid)",
    // The public schema by its name: initdb's has a system oid, one re-created (DROP SCHEMA public;
    // CREATE SCHEMA public) a user oid, and a comment on it is the same comment either way.
    where: `(x.objoid >= 16384 OR (x.classoid = 'pg_namespace'::regclass AND x.objoid = (SELECT p.oid FROM pg_namespace p WHERE p.nspname = 'public'))) AND x.classoid <> 'pg_extension'::regclass
            AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = x.classoid AND e.objid = x.objoid AND e.deptype = 'e')`,
    excluded: { objoid: NAME, classoid: NAME, objsubid: NAME },
    mapped: {},
  },
  {
    catalog: "pg_extension",
    joins: "JOIN pg_namespace n ON n.oid = x.extnamespace",
    schema: "n.nspname",
    identity: "quote_ident(x.extname)",
    where: "x.extname <> 'plpgsql'",
    excluded: { oid: OID, extname: NAME, extnamespace: NAME },
    mapped: {
      extowner: role("x.extowner"),
      extconfig: "(SELECT array_agg(r::regclass::text ORDER BY i) FROM unnest(x.extconfig) WITH ORDINALITY AS u(r, i))",
    },
  },
  {
    catalog: "pg_default_acl",
    joins: "JOIN pg_namespace n ON n.oid = x.defaclnamespace",
    schema: "n.nspname",
    identity: `${role("x.defaclrole")} || ' in ' || quote_ident(n.nspname) || ' on ' || x.defaclobjtype::text`,
    excluded: { oid: OID, defaclrole: NAME, defaclnamespace: NAME, defaclobjtype: NAME },
    mapped: {
      defaclacl: "(SELECT coalesce(string_agg(a, ',' ORDER BY a), '') FROM (SELECT CASE WHEN p.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(p.grantee) END || ':' || p.privilege_type || CASE WHEN p.is_grantable THEN '*' ELSE '' END AS a FROM aclexplode(x.defaclacl) p) s)",
    },
  },
];

/**
 * Differences that are known and documented, reported apart from errors: what PostgreSQL cannot
 * reach by ALTER, or what the engine deliberately leaves as it is. Keyed `catalog.property`.
 */
export const KNOWN_DIFFERENCES: Readonly<Record<string, { readonly reason: string; readonly applies?: (expected: unknown, actual: unknown, identity: string) => boolean }>> = {
  "pg_attribute.position": { reason: "column order: PostgreSQL adds columns at the end and cannot reorder them (ADR 0003)" },
  "pg_class.name": { reason: "an identity sequence keeps the name PostgreSQL gave it when its table or column is renamed" },
  "pg_constraint.name": { reason: "a NOT NULL constraint keeps the name PostgreSQL gave it when its table or column is renamed, or when it came from a parent" },
  "pg_attribute.attislocal": { reason: "no DDL turns a table's own column into an inherited-only one (ADR 0008)" },
  "pg_constraint.conislocal": { reason: "no DDL turns a table's own CHECK into an inherited-only one (ADR 0008)" },
  "pg_class.relispopulated": {
    reason: "a populated materialized view declared WITH NO DATA is not emptied (ADR 0008)",
    applies: (expected, actual) => expected === false && actual === true,
  },
  "pg_namespace.nspowner": { reason: "the public schema's owner is the database administrator's (ADR 0008)", applies: (_e, _a, id) => id === "public" },
  "pg_namespace.nspacl": { reason: "the public schema's privileges are the database administrator's (ADR 0008)", applies: (_e, _a, id) => id === "public" },
};

/** Catalog column types that hold references or expressions, which must be compared by meaning. */
export const REFERENCE_TYPES: ReadonlySet<string> = new Set(["oid", "oid[]", "oidvector", "pg_node_tree", "aclitem[]", "anyarray", "xid", "int2vector"]);
