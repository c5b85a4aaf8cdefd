/**
 * The normalized schema model: what introspection reads from a database, in PostgreSQL's own
 * canonical text (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef). Desired state
 * is normalized into the same model by applying it to a scratch database and introspecting it, so
 * the diff compares like with like. Plain data only: serializable, comparable, cacheable.
 */

/** Bumped whenever the persisted shape changes; cached models with another version are ignored. */
export const MODEL_VERSION = 17;

/** A schema-qualified name. */
export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

/** A namespace (`CREATE SCHEMA`). */
export interface NamespaceDef {
  readonly name: string;
  readonly comment: string | null;
}

/**
 * An installed extension. Extensions belong to the database, not to a schema: every installed one
 * is read, whatever its schema, so one the desired state wants elsewhere is moved (not created
 * again); only those in managed schemas are dropped.
 */
export interface ExtensionDef {
  readonly name: string;
  readonly schema: string;
  readonly version: string;
  /** `pg_extension.extrelocatable`: whether `ALTER EXTENSION ... SET SCHEMA` can move it. */
  readonly relocatable: boolean;
  /** Extensions it requires (`earthdistance` requires `cube`), sorted: created before it and dropped after it. */
  readonly requires: readonly string[];
  readonly comment: string | null;
}

/** An enum type, values in sort order. */
export interface EnumDef extends QualifiedName {
  readonly values: readonly string[];
  readonly comment: string | null;
}

/** A sequence, standalone or owned by a column (serial). Identity sequences belong to their column. */
export interface SequenceDef extends QualifiedName {
  readonly dataType: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
  /** `OWNED BY` target, when any. */
  readonly ownedBy: { readonly schema: string; readonly table: string; readonly column: string } | null;
  readonly comment: string | null;
}

/** Identity options of a column (`GENERATED ... AS IDENTITY`). */
export interface IdentityDef {
  readonly generation: "ALWAYS" | "BY DEFAULT";
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
}

/** A table column. */
export interface ColumnDef {
  readonly name: string;
  /** Canonical type text from `format_type`, e.g. `character varying(20)`, `integer[]`. */
  readonly type: string;
  readonly notNull: boolean;
  /** Default expression (`pg_get_expr`), null when none. Never set together with `generated`. */
  readonly default: string | null;
  /** Expression of a generated column. */
  readonly generated: string | null;
  /** How a generated column is kept: computed on write (`STORED`) or on read (`VIRTUAL`, PostgreSQL 18); null when not generated. */
  readonly generatedKind: "STORED" | "VIRTUAL" | null;
  /**
   * The column's own NOT NULL constraint as PostgreSQL 18 catalogs it (`pg_constraint` rows of type
   * `n`): its name, `NO INHERIT` and validation. Null before 18, when the column is nullable, and when
   * the table only inherits it (a partition's or child's copy of its parent's, whose name the table
   * does not choose; it becomes the table's own, under the parent's name, when the table is unlinked).
   */
  readonly notNullConstraint: NotNullConstraintDef | null;
  readonly identity: IdentityDef | null;
  /** Collation when it differs from the type's default, as a quoted qualified name. */
  readonly collation: string | null;
  /** The user-defined type (enum, domain, composite, range) the column uses, for dependency ordering. */
  readonly userType: UserTypeRef | null;
  /**
   * Declared by the table itself (`attislocal`). False for a column that only comes from parents
   * (classic inheritance); true for a table's own columns, also when a parent has one of the same
   * name (PostgreSQL merges them). A partition's columns follow its parent and are always false.
   */
  readonly local: boolean;
  /** How many parents provide the column (`attinhcount`); 0 outside inheritance, 1 in a partition. */
  readonly inheritCount: number;
  readonly comment: string | null;
  /** `SET STATISTICS`: the column's own statistics target; absent for the default. */
  readonly statistics?: number;
  /** `SET STORAGE`, when it is not its type's (`attstorage`); absent for the type's own. */
  readonly storage?: ColumnStorage;
  /** `SET COMPRESSION` (`pglz`, `lz4`); absent for the server's default. */
  readonly compression?: string;
  /** `SET (n_distinct = …)`: attribute options, `name=value`, sorted; absent for none. */
  readonly options?: readonly string[];
}

/** A column's storage mode (`attstorage`: p, e, m, x) beside its type's (`typstorage`), which it returns to on reset. */
export interface ColumnStorage {
  readonly mode: string;
  readonly typeDefault: string;
}

/** A column's NOT NULL constraint on PostgreSQL 18 (see {@link ColumnDef.notNullConstraint}). */
export interface NotNullConstraintDef {
  readonly name: string;
  /** `NO INHERIT`: children and partitions do not get it. */
  readonly noInherit: boolean;
  /** False for `NOT NULL ... NOT VALID` not yet validated (rows may still hold nulls). */
  readonly validated: boolean;
}

/** A column's reference to a user-defined type; `array` when the column is an array of it. */
export interface UserTypeRef extends QualifiedName {
  readonly array: boolean;
}

/** Constraint kinds: primary key, unique, check, foreign key, exclusion. */
export type ConstraintKind = "PRIMARY KEY" | "UNIQUE" | "CHECK" | "FOREIGN KEY" | "EXCLUDE";

/**
 * A table constraint. NOT NULL is a column property, not a constraint, in this model. Only a table's
 * own constraints are listed (`conislocal`): a CHECK a child only inherits belongs to its parent.
 */
export interface ConstraintDef {
  readonly name: string;
  readonly kind: ConstraintKind;
  /** `pg_get_constraintdef` text, e.g. `FOREIGN KEY (a) REFERENCES t(id) ON DELETE CASCADE`. */
  readonly definition: string;
  readonly columns: readonly string[];
  /** Referenced table of a foreign key. */
  readonly references: QualifiedName | null;
  /**
   * The unique index of the referenced table a foreign key depends on (`conindid`, in the referenced
   * table's schema; a primary key's or unique constraint's index has the constraint's name), else
   * null. Dropping it takes the foreign key down with it, so the plan drops and re-adds the key.
   */
  readonly referencedIndex: string | null;
  readonly deferrable: boolean;
  readonly initiallyDeferred: boolean;
  /** False for a constraint added NOT VALID and not yet validated (and for one NOT ENFORCED). */
  readonly validated: boolean;
  /** False for a CHECK or foreign key declared `NOT ENFORCED` (PostgreSQL 18): never checked, never validated. */
  readonly enforced: boolean;
  /**
   * The definition as PostgreSQL prints it once more after it is re-applied from its own text, when
   * that differs (`ANY (ARRAY[...]::text[])` becomes per-item casts): what a database the engine
   * changed holds. Set by normalization on desired CHECKs only; the diff accepts either text.
   */
  readonly reprinted?: string;
  /**
   * The target's own texts of this CHECK that PostgreSQL prints as this definition once applied
   * (a schema restored from pg_dump holds the text before the reprint, ADR 0057): the same
   * constraint, not a change. Set by normalization on desired CHECKs only, from the target read
   * meanwhile.
   */
  readonly printedFrom?: readonly string[];
  /** How many parents also provide this CHECK (`coninhcount`): the table's own copy is merged with theirs. */
  readonly inheritCount: number;
  /** A CHECK marked `NO INHERIT` (`connoinherit`): children do not get it. */
  readonly noInherit: boolean;
  readonly comment: string | null;
}

/** An index that does not back a constraint. */
export interface IndexDef {
  readonly name: string;
  /** `pg_get_indexdef` text (it names the table and index). */
  readonly definition: string;
  readonly unique: boolean;
  /** False for an index left invalid by a failed CREATE INDEX CONCURRENTLY. */
  readonly valid: boolean;
  /** Columns referenced (for dependency ordering and drop-column impact). */
  readonly columns: readonly string[];
  readonly comment: string | null;
}

/**
 * A partition's index that is attached to an index of its parent (`ALTER INDEX ... ATTACH
 * PARTITION`, or built when the parent's index or the partition was created): only its name is the
 * partition's own; its definition follows the parent's index.
 */
export interface PartitionIndexDef extends IndexDef {
  /** The parent's index it is attached to (in the parent's schema). */
  readonly parentIndex: string;
}

/** `REPLICA IDENTITY` of a table: what logical replication writes to identify updated and deleted rows. */
export type ReplicaIdentity = { readonly kind: "DEFAULT" | "FULL" | "NOTHING" } | { readonly kind: "INDEX"; readonly index: string };

/** A table: regular (optionally unlogged), partitioned, or a partition; a regular table may inherit from others. */
export interface TableDef extends QualifiedName {
  readonly unlogged: boolean;
  readonly columns: readonly ColumnDef[];
  readonly constraints: readonly ConstraintDef[];
  readonly indexes: readonly IndexDef[];
  /** A partition's indexes attached to its parent's indexes, sorted by name (empty for other tables). */
  readonly partitionIndexes: readonly PartitionIndexDef[];
  /** `REPLICA IDENTITY` (`pg_class.relreplident`, and the index marked `indisreplident`). */
  readonly replicaIdentity: ReplicaIdentity;
  /** Storage parameters, `name=value`, in the order the catalog holds them (the order they were set; compared as a set: {@link sameOptions}). */
  readonly options: readonly string[];
  /** `ALTER TABLE ... CLUSTER ON`: the index marked `indisclustered` (a constraint's index has its name); absent for none. */
  readonly clusterOn?: string;
  /** `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`. */
  readonly rowSecurity: boolean;
  /** `ALTER TABLE ... FORCE ROW LEVEL SECURITY`. */
  readonly forceRowSecurity: boolean;
  /** Partition key of a partitioned table (`pg_get_partkeydef`, e.g. `RANGE (created_at)`), else null. */
  readonly partitionBy: string | null;
  /**
   * Parent and bound of a partition (`FOR VALUES ...` or `DEFAULT`, from `pg_get_expr`), else null.
   * A partition's columns follow its parent; its constraints and indexes are only its own (those
   * cloned from the parent are left out).
   */
  readonly partitionOf: { readonly schema: string; readonly name: string; readonly bound: string } | null;
  /**
   * Parents in classic inheritance (`INHERITS (...)`, pg_inherits in `inhseqno` order); empty for a
   * table without parents and for a partition. Columns and CHECKs a child only inherits are not its own
   * (see {@link ColumnDef.local}); parents' changes reach them.
   */
  readonly inherits: readonly QualifiedName[];
  readonly comment: string | null;
}

/** A (non-materialized) view. */
export interface ViewDef extends QualifiedName {
  /** Never set: tells a view from a generic {@link ObjectDef} (a materialized view has the same fields). */
  readonly kind?: undefined;
  /** `pg_get_viewdef` text, without the trailing semicolon. */
  readonly definition: string;
  /** Output column names, in order. */
  readonly columns: readonly string[];
  /** View options (`check_option=local`, `security_barrier=true`, ...), in catalog order (compared as a set). */
  readonly options: readonly string[];
  /** Graph keys (see {@link ObjectDef.dependsOn}) of what the view reads: relations, columns, routines, types. */
  readonly dependsOn: readonly string[];
  /** Comments on output columns (`COMMENT ON COLUMN view.c`), by column name; columns without one are absent. */
  readonly columnComments: Readonly<Record<string, string>>;
  readonly comment: string | null;
}

/** Kinds of objects managed through the generic {@link ObjectDef}. */
export type ObjectKind = "function" | "procedure" | "aggregate" | "trigger" | "domain" | "composite type" | "range type" | "materialized view" | "policy" | "statistics" | "collation" | "text search dictionary" | "text search configuration" | "operator";

/** What every generic object has. */
interface ObjectBase extends QualifiedName {
  /**
   * What identifies the object among those of its kind in its schema: `name(argtypes)` for
   * routines, `table.name` for triggers and policies, the name otherwise.
   */
  readonly identity: string;
  /** PostgreSQL's own canonical text of the object (or a CREATE rebuilt from the catalog). */
  readonly definition: string;
  /**
   * Graph keys of what the object needs, from pg_depend: `schema:s`, `table:s.t`, `column:s.t.c`,
   * `type:s.n`, `function:s.f(argtypes)`, `sequence:s.n`, `index:s.n`, `constraint:s.t.c`.
   */
  readonly dependsOn: readonly string[];
  readonly comment: string | null;
}

/** A function or procedure (`definition` is `pg_get_functiondef`), or a normal aggregate (a rebuilt CREATE OR REPLACE AGGREGATE). */
export interface RoutineDef extends ObjectBase {
  readonly kind: "function" | "procedure" | "aggregate";
  /** `pg_get_function_arguments`: names, modes and defaults (CREATE OR REPLACE cannot change them). */
  readonly arguments: string;
  /** `pg_get_function_result` (null for a procedure): CREATE OR REPLACE cannot change it. */
  readonly result: string | null;
}

/** A trigger (also a constraint trigger). `definition` is `pg_get_triggerdef`. */
export interface TriggerDef extends ObjectBase {
  readonly kind: "trigger";
  readonly table: string;
  readonly constraint: boolean;
  /** `pg_trigger.tgenabled`: O (origin/local), D (disabled), R (replica), A (always). */
  readonly enabled: string;
}

/** A domain check constraint. */
export interface DomainConstraintDef {
  readonly name: string;
  /** `pg_get_constraintdef`, e.g. `CHECK ((VALUE > 0))`. */
  readonly definition: string;
  readonly validated: boolean;
  /** `COMMENT ON CONSTRAINT … ON DOMAIN`; absent when none. */
  readonly comment?: string;
}

/** A domain. `definition` is the CREATE DOMAIN without default, NOT NULL and constraints (those are altered in place). */
export interface DomainDef extends ObjectBase {
  readonly kind: "domain";
  readonly type: string;
  readonly collation: string | null;
  readonly default: string | null;
  readonly notNull: boolean;
  readonly constraints: readonly DomainConstraintDef[];
}

/** An attribute of a composite type. */
export interface AttributeDef {
  readonly name: string;
  readonly type: string;
  readonly collation: string | null;
  /** `COMMENT ON COLUMN type.attribute`; absent when none. */
  readonly comment?: string;
}

/** A composite type (`CREATE TYPE ... AS (...)`). `definition` is the rebuilt CREATE TYPE. */
export interface CompositeTypeDef extends ObjectBase {
  readonly kind: "composite type";
  readonly attributes: readonly AttributeDef[];
}

/** A range type. `definition` is the rebuilt CREATE TYPE ... AS RANGE; any change re-creates it. */
export interface RangeTypeDef extends ObjectBase {
  readonly kind: "range type";
}

/** A materialized view with its indexes. `definition` is `pg_get_viewdef`. */
export interface MaterializedViewDef extends ObjectBase {
  readonly kind: "materialized view";
  readonly columns: readonly string[];
  readonly options: readonly string[];
  readonly indexes: readonly IndexDef[];
  /** See {@link ViewDef.columnComments}. */
  readonly columnComments: Readonly<Record<string, string>>;
  /**
   * `pg_class.relispopulated`: false when created `WITH NO DATA` and not refreshed since. Only
   * decides how the view is created (see ADR 0008): a kept view is never emptied, and one left
   * unpopulated is refreshed when the desired state is populated.
   */
  readonly populated: boolean;
}

/** A row-level security policy. `definition` is the rebuilt CREATE POLICY. */
export interface PolicyDef extends ObjectBase {
  readonly kind: "policy";
  readonly table: string;
}

/**
 * An extended statistics object (`CREATE STATISTICS`). `definition` is `pg_get_statisticsobjdef`;
 * a changed definition re-creates it (it holds only what ANALYZE computes), a changed target is
 * altered in place.
 */
export interface StatisticsDef extends ObjectBase {
  readonly kind: "statistics";
  /** `ALTER STATISTICS … SET STATISTICS`: its own statistics target; null for the default. */
  readonly target: number | null;
}

/**
 * A collation (`CREATE COLLATION`). `definition` is rebuilt from the catalog: provider, locale (or
 * `lc_collate`/`lc_ctype`), ICU rules, determinism; never the library version. PostgreSQL cannot
 * alter one: a changed definition re-creates it, refused while columns or indexes use it.
 */
export interface CollationDef extends ObjectBase {
  readonly kind: "collation";
}

/**
 * A text search dictionary (`CREATE TEXT SEARCH DICTIONARY`, ADR 0054): its template (qualified)
 * and options as PostgreSQL stores them. New options are set in place (`ALTER … (…)`); a new
 * template re-creates it, with the configurations that map to it.
 */
export interface TextSearchDictionaryDef extends ObjectBase {
  readonly kind: "text search dictionary";
  readonly template: string;
  /** `pg_ts_dict.dictinitoption`: `name = 'value', …`; null when none. */
  readonly options: string | null;
}

/** One token type's dictionaries in a text search configuration, in the order they are consulted. */
export interface TextSearchMapping {
  /** The parser's alias of the token type (`asciiword`). */
  readonly token: string;
  /** Qualified dictionary names. */
  readonly dictionaries: readonly string[];
}

/**
 * A text search configuration (`CREATE TEXT SEARCH CONFIGURATION`, ADR 0054): its parser
 * (qualified) and its mappings by token type. New mappings are made in place; a new parser
 * re-creates it. Indexes and checks whose expressions name it are rebuilt after either (what
 * they hold was computed with the old mappings).
 */
export interface TextSearchConfigurationDef extends ObjectBase {
  readonly kind: "text search configuration";
  readonly parser: string;
  readonly mappings: readonly TextSearchMapping[];
}

/**
 * An operator (`CREATE OPERATOR`, ADR 0056), identified by its name and argument types
 * (`~==(integer,integer)`, `NONE` for a prefix operator's left). `definition` is rebuilt from
 * `pg_operator`: function, commutator, negator, estimators, HASHES, MERGES. A changed definition
 * re-creates it, with the indexes and checks whose expressions use it.
 */
export interface OperatorDef extends ObjectBase {
  readonly kind: "operator";
}

/** An object managed through the generic path: one handler per kind in `objects.ts`. */
export type ObjectDef =
  | OperatorDef
  | RoutineDef
  | TriggerDef
  | DomainDef
  | CompositeTypeDef
  | RangeTypeDef
  | MaterializedViewDef
  | PolicyDef
  | StatisticsDef
  | CollationDef
  | TextSearchDictionaryDef
  | TextSearchConfigurationDef;

/** Kinds of objects the engine sees but does not manage yet. */
export type UnmanagedKind =
  | "foreign table"
  | "aggregate"
  | "rule"
  /** A table inheriting from a relation the engine does not manage (a foreign table). */
  | "inherited table"
  /** A trigger or policy on a relation the engine does not manage (a foreign table, ...). */
  | "trigger"
  | "policy"
  /**
   * Grants on an object the engine does not manage the privileges of: an identity sequence, a
   * multirange type, an unmanaged relation or aggregate; default privileges of a role for a kind
   * PostgreSQL keeps only globally.
   */
  | "privileges"
  | "collation"
  | "operator"
  | "extended statistics"
  | "text search configuration"
  | "text search dictionary"
  /** `CREATE OPERATOR CLASS` and the family it belongs to (`name USING method`). */
  | "operator class"
  | "operator family"
  /** `CREATE CAST`: reported under the schema of its function or of a type it converts. */
  | "cast"
  /** `CREATE EVENT TRIGGER`: reported under its function's schema. */
  | "event trigger";

/** Kinds of objects whose owner and privileges are managed (see {@link AclDef}). */
export type AclObjectType = "schema" | "table" | "view" | "materialized view" | "sequence" | "function" | "procedure" | "aggregate" | "type" | "domain" | "column";

/** One privilege of an ACL, whoever granted it. */
export interface AclEntry {
  /** Role name; null for PUBLIC. */
  readonly grantee: string | null;
  /** `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`, `REFERENCES`, `TRIGGER`, `MAINTAIN`, `USAGE`, `EXECUTE`, `CREATE`. */
  readonly privilege: string;
  readonly grantable: boolean;
}

/**
 * The owner and effective privileges of a managed object (a NULL ACL is read as the kind's
 * default, `acldefault`), or a column's own privileges. Entries are sorted by grantee (PUBLIC
 * first), then privilege; the owner's own privileges are entries like any other.
 */
export interface AclDef extends QualifiedName {
  readonly type: AclObjectType;
  /** The routine's `name(argtypes)`, `table.column` for a column, else the name (the schema's name for a schema). */
  readonly identity: string;
  /** The column of a column ACL, else null (`name` is then the table). */
  readonly column: string | null;
  /** Owner role; null for a column. A sequence owned by a column has its table's owner (it follows the table). */
  readonly owner: string | null;
  readonly acl: readonly AclEntry[];
}

/** Object kinds of `ALTER DEFAULT PRIVILEGES ... ON <kind>`. */
export type DefaultAclObjects = "TABLES" | "SEQUENCES" | "FUNCTIONS" | "TYPES" | "SCHEMAS";

/**
 * Default privileges (`pg_default_acl`) of a role: in a schema (privileges added to what new
 * objects there get), or global (schema null: what new objects get instead of the built-in default;
 * only those of the role the model was read as).
 */
export interface DefaultAclDef {
  readonly schema: string | null;
  readonly role: string;
  readonly objects: DefaultAclObjects;
  /** In a schema: the added privileges; global: the effective ACL (built-in default when absent). */
  readonly acl: readonly AclEntry[];
}

/** An object present in a managed schema that this engine version does not diff. */
export interface UnmanagedObject extends QualifiedName {
  readonly kind: UnmanagedKind;
}

/** A whole database's managed objects. Arrays are sorted by (schema, name) for stable output. */
export interface SchemaModel {
  readonly version: typeof MODEL_VERSION;
  readonly schemas: readonly NamespaceDef[];
  readonly extensions: readonly ExtensionDef[];
  readonly enums: readonly EnumDef[];
  readonly sequences: readonly SequenceDef[];
  readonly tables: readonly TableDef[];
  readonly views: readonly ViewDef[];
  /** Routines, triggers, domains, composite and range types, materialized views, policies; sorted by kind, schema, identity. */
  readonly objects: readonly ObjectDef[];
  /** Owners and privileges of the managed objects (not of `public` itself), and columns' own privileges; sorted by type, schema, identity. */
  readonly acls: readonly AclDef[];
  /** Default privileges in the managed schemas, and the global ones of the role the model was read as. */
  readonly defaultAcls: readonly DefaultAclDef[];
  readonly unmanaged: readonly UnmanagedObject[];
}

/** An empty model: what a freshly created database holds outside `public`. */
export function emptyModel(): SchemaModel {
  return { version: MODEL_VERSION, schemas: [], extensions: [], enums: [], sequences: [], tables: [], views: [], objects: [], acls: [], defaultAcls: [], unmanaged: [] };
}

/** `schema.name` key used for maps and sorting. */
export function keyOf(o: QualifiedName): string {
  return `${o.schema}.${o.name}`;
}

/** Indexes a list of qualified objects by key. */
export function byKey<T extends QualifiedName>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((i) => [keyOf(i), i]));
}

/**
 * The part of a model in `schemas`: what {@link introspect} returns when given those schemas, from an
 * introspection of more of them.
 */
export function inSchemas(model: SchemaModel, schemas: readonly string[]): SchemaModel {
  const keep = new Set(schemas);
  const inScope = <T extends { readonly schema: string }>(items: readonly T[]) => items.filter((i) => keep.has(i.schema));
  return {
    version: model.version,
    schemas: model.schemas.filter((s) => keep.has(s.name)),
    // Extensions are database-wide (see ExtensionDef): introspect reads them all.
    extensions: model.extensions,
    enums: inScope(model.enums),
    sequences: inScope(model.sequences),
    tables: inScope(model.tables),
    views: inScope(model.views),
    objects: inScope(model.objects),
    acls: inScope(model.acls),
    defaultAcls: model.defaultAcls.filter((d) => d.schema === null || keep.has(d.schema)),
    unmanaged: inScope(model.unmanaged),
  };
}

/**
 * Whether two lists of `name=value` options are the same set. PostgreSQL keeps a relation's
 * options in the order they were set, and the model keeps that order so that what is created
 * holds them as the desired SQL wrote them; the order itself is never a change.
 */
export function sameOptions(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join("\u0000") === [...b].sort().join("\u0000");
}
