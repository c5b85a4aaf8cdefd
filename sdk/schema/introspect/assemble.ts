import type { ColumnDef, ConstraintDef, ConstraintKind, IdentityDef, IndexDef, SequenceDef, TableDef, AttributeDef, DomainConstraintDef, IndexDef as IndexDefinition, ObjectDef, PartitionIndexDef, ReplicaIdentity } from "../model";
import { compositeDefinition, domainDefinition, objectKeys, textSearchConfigurationDefinition } from "../kinds/objects";
import { withIndexOptions } from "../index-definition";

// Catalog rows as the queries of `queries.ts` return them, assembled into the model's definitions.

/** The generic objects from their rows, sorted by kind, schema and identity; an object's own keys are not among its dependencies. */
export function assembleObjects(rows: {
  routines: RoutineRow[];
  triggers: TriggerRow[];
  domains: DomainRow[];
  composites: CompositeRow[];
  ranges: RangeRow[];
  matviews: MatViewRow[];
  policies: PolicyRow[];
  statistics?: StatisticsRow[];
  collations?: ObjectRow[];
  textSearchDictionaries?: TextSearchDictionaryRow[];
  textSearchConfigurations?: TextSearchConfigurationRow[];
  operators?: ObjectRow[];
}): ObjectDef[] {
  const base = (r: ObjectRow) => ({ schema: r.schema, name: r.name, identity: r.identity, definition: r.definition, dependsOn: r.depends, comment: r.comment });
  const out: ObjectDef[] = [
    ...rows.routines.map((r): ObjectDef => ({ ...base(r), kind: r.kind, arguments: r.arguments, result: r.result })),
    ...rows.triggers.map((r): ObjectDef => ({ ...base(r), kind: "trigger", table: r.table, constraint: r.constraint, enabled: r.enabled })),
    ...rows.domains.map((r): ObjectDef => {
      const parts = { schema: r.schema, name: r.name, type: r.type, collation: r.collation, default: r.default, notNull: r.not_null, constraints: r.constraints ?? [] };
      return { ...base(r), ...parts, kind: "domain", definition: domainDefinition(parts) };
    }),
    ...rows.composites.map((r): ObjectDef => ({ ...base(r), kind: "composite type", attributes: r.attributes ?? [], definition: compositeDefinition(r.schema, r.name, r.attributes ?? []) })),
    ...rows.ranges.map((r): ObjectDef => ({ ...base(r), kind: "range type" })),
    ...rows.matviews.map((r): ObjectDef => {
      const name = (attnum: number) => r.columns[attnum - 1]!;
      const indexes = (r.indexes ?? []).map(
        (i): IndexDefinition => ({ name: i.name, definition: i.definition, unique: i.unique, valid: i.valid, columns: indexColumns(i.keys, name), comment: i.comment }),
      );
      return {
        ...base(r),
        kind: "materialized view",
        definition: r.definition.trim().replace(/;$/, ""),
        columns: r.columns,
        options: r.options ?? [],
        indexes,
        columnComments: r.column_comments ?? {},
        populated: r.populated,
      };
    }),
    ...rows.policies.map((r): ObjectDef => ({ ...base(r), kind: "policy", table: r.table })),
    ...(rows.statistics ?? []).map((r): ObjectDef => ({ ...base(r), kind: "statistics", target: r.target })),
    ...(rows.collations ?? []).map((r): ObjectDef => ({ ...base(r), kind: "collation" })),
    ...(rows.operators ?? []).map((r): ObjectDef => ({ ...base(r), kind: "operator" })),
    ...(rows.textSearchDictionaries ?? []).map((r): ObjectDef => ({ ...base(r), kind: "text search dictionary", template: r.template, options: r.options })),
    ...(rows.textSearchConfigurations ?? []).map((r): ObjectDef => {
      const mappings = r.mappings.map((m) => ({ token: m.token, dictionaries: m.dictionaries }));
      return { ...base({ ...r, definition: "" }), kind: "text search configuration", parser: r.parser, mappings, definition: textSearchConfigurationDefinition(r.schema, r.name, r.parser, mappings) };
    }),
  ];
  return out
    .map((o) => {
      const own = new Set(objectKeys(o));
      return o.dependsOn.some((k) => own.has(k)) ? { ...o, dependsOn: o.dependsOn.filter((k) => !own.has(k)) } : o;
    })
    .sort((a, b) => (a.kind === b.kind ? (a.schema === b.schema ? cmp(a.identity, b.identity) : cmp(a.schema, b.schema)) : cmp(a.kind, b.kind)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
export interface TextSearchDictionaryRow extends ObjectRow {
  template: string;
  options: string | null;
}

export interface TextSearchConfigurationRow extends Omit<ObjectRow, "definition"> {
  parser: string;
  mappings: { token: string; dictionaries: string[] }[];
}

export interface ViewRow {
  schema: string;
  name: string;
  definition: string;
  columns: string[];
  options: string[] | null;
  depends: string[];
  column_comments: Record<string, string> | null;
  comment: string | null;
}

export interface ObjectRow {
  schema: string;
  name: string;
  identity: string;
  definition: string;
  depends: string[];
  comment: string | null;
}

export interface RoutineRow extends ObjectRow {
  kind: "function" | "procedure" | "aggregate";
  arguments: string;
  result: string | null;
}

export interface TriggerRow extends ObjectRow {
  table: string;
  constraint: boolean;
  enabled: string;
}

export interface DomainRow extends ObjectRow {
  type: string;
  collation: string | null;
  default: string | null;
  not_null: boolean;
  constraints: DomainConstraintDef[] | null;
}

export interface CompositeRow extends ObjectRow {
  attributes: AttributeDef[] | null;
}

export type RangeRow = ObjectRow;

export interface MatViewRow extends ObjectRow {
  columns: string[];
  options: string[] | null;
  column_comments: Record<string, string> | null;
  populated: boolean;
  indexes: { name: string; definition: string; unique: boolean; valid: boolean; keys: number[]; comment: string | null }[] | null;
}

export interface PolicyRow extends ObjectRow {
  table: string;
}

export interface StatisticsRow extends ObjectRow {
  /** Its own statistics target, null for the default. */
  target: number | null;
}

export interface SequenceRow {
  schema: string;
  name: string;
  data_type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  owned_schema: string | null;
  owned_table: string | null;
  owned_column: string | null;
  comment: string | null;
}

export interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  unlogged: boolean;
  options: string[] | null;
  row_security: boolean;
  force_row_security: boolean;
  comment: string | null;
  partition_by: string | null;
  partition_of: { schema: string; name: string; bound: string } | null;
  inherits: { schema: string; name: string }[] | null;
  /** `pg_class.relreplident`: d, f, n or i. */
  replident: string;
  /** The index marked `indisreplident`, when any. */
  replident_index: string | null;
  /** The index marked `indisclustered` (`CLUSTER ON`), when any. */
  cluster_on?: string | null;
}

export interface ColumnRow {
  relid: number;
  attnum: number;
  name: string;
  type: string;
  not_null: boolean;
  default_expr: string | null;
  generated: string;
  identity: string;
  collation: string | null;
  comment: string | null;
  ut_schema: string | null;
  ut_name: string;
  ut_array: boolean;
  local: boolean;
  inherit_count: number;
  id_start: string | null;
  id_increment: string | null;
  id_min: string | null;
  id_max: string | null;
  id_cache: string | null;
  id_cycle: boolean | null;
  /** The column's own NOT NULL constraint (PostgreSQL 18). */
  nn_name: string | null;
  nn_no_inherit: boolean | null;
  nn_validated: boolean | null;
  /** Non-default column attributes (`ALTER COLUMN … SET STATISTICS / STORAGE / COMPRESSION / (…)`), null when default. */
  stat_target?: number | null;
  storage?: string | null;
  type_storage?: string | null;
  compression?: string | null;
  attribute_options?: string[] | null;
}

export interface ConstraintRow {
  relid: number;
  name: string;
  contype: string;
  definition: string;
  /** attnums of the key columns */
  keys: number[] | null;
  /** names of the key columns, only when a key is a system column */
  columns: string[] | null;
  ref_schema: string | null;
  ref_table: string | null;
  /** A foreign key's referenced index (conindid). */
  ref_index: string | null;
  deferrable: boolean;
  deferred: boolean;
  validated: boolean;
  inherit_count: number;
  no_inherit: boolean;
  /** Storage parameters of a primary key's or unique constraint's index (`name=value`). */
  index_options: string[] | null;
  comment: string | null;
}

export interface IndexRow {
  relid: number;
  name: string;
  definition: string;
  unique: boolean;
  valid: boolean;
  /** attnums of the key columns, 0 for an expression */
  keys: number[];
  comment: string | null;
  /** The parent's index a partition's index is attached to. */
  parent_index: string | null;
}

const CONSTRAINT_KINDS: Record<string, ConstraintKind> = {
  p: "PRIMARY KEY",
  u: "UNIQUE",
  c: "CHECK",
  f: "FOREIGN KEY",
  x: "EXCLUDE",
};

export function toSequence(r: SequenceRow): SequenceDef {
  return {
    schema: r.schema,
    name: r.name,
    dataType: r.data_type,
    start: r.start,
    increment: r.increment,
    min: r.min,
    max: r.max,
    cache: r.cache,
    cycle: r.cycle,
    ownedBy: r.owned_table ? { schema: r.owned_schema!, table: r.owned_table, column: r.owned_column! } : null,
    comment: r.comment,
  };
}

function toIdentity(c: ColumnRow): IdentityDef | null {
  if (c.identity !== "a" && c.identity !== "d") return null;
  return {
    generation: c.identity === "a" ? "ALWAYS" : "BY DEFAULT",
    start: c.id_start ?? "1",
    increment: c.id_increment ?? "1",
    min: c.id_min ?? "1",
    max: c.id_max ?? "",
    cache: c.id_cache ?? "1",
    cycle: c.id_cycle ?? false,
  };
}

export function assembleTables(relations: RelationRow[], columns: ColumnRow[], constraints: ConstraintRow[], indexes: IndexRow[]): TableDef[] {
  const cols = groupBy(columns, (c) => c.relid);
  for (const list of cols.values()) list.sort((a, b) => a.attnum - b.attnum);
  const cons = groupBy(constraints, (c) => c.relid);
  const idx = groupBy(indexes, (i) => i.relid);
  return relations.map((r): TableDef => {
    const tableColumns = cols.get(r.oid) ?? [];
    const byAttnum = new Map(tableColumns.map((c) => [c.attnum, c.name]));
    const name = (attnum: number) => byAttnum.get(attnum)!;
    return {
      schema: r.schema,
      name: r.name,
      unlogged: r.unlogged,
      options: r.options ?? [],
      rowSecurity: r.row_security,
      forceRowSecurity: r.force_row_security,
      partitionBy: r.partition_by,
      partitionOf: r.partition_of,
      inherits: r.inherits ?? [],
      comment: r.comment,
      columns: tableColumns.map(
        (c): ColumnDef => ({
          name: c.name,
          type: c.type,
          notNull: c.not_null,
          default: c.generated === "s" || c.generated === "v" ? null : c.default_expr,
          generated: c.generated === "s" || c.generated === "v" ? c.default_expr : null,
          generatedKind: c.generated === "s" ? "STORED" : c.generated === "v" ? "VIRTUAL" : null,
          notNullConstraint: c.nn_name === null ? null : { name: c.nn_name, noInherit: c.nn_no_inherit === true, validated: c.nn_validated !== false },
          identity: toIdentity(c),
          collation: c.collation,
          userType: c.ut_schema === null ? null : { schema: c.ut_schema, name: c.ut_name, array: c.ut_array },
          // A partition's columns always follow its parent's (attached or created as one).
          local: r.partition_of ? false : c.local,
          inheritCount: c.inherit_count,
          comment: c.comment,
          ...columnAttributes(c),
        }),
      ),
      constraints: (cons.get(r.oid) ?? []).map(
        (c): ConstraintDef => ({
          name: c.name,
          kind: CONSTRAINT_KINDS[c.contype]!,
          definition: withIndexOptions(c.definition, c.index_options),
          columns: c.columns ?? (c.keys ?? []).map(name),
          references: c.ref_table ? { schema: c.ref_schema!, name: c.ref_table } : null,
          referencedIndex: c.ref_index,
          deferrable: c.deferrable,
          initiallyDeferred: c.deferred,
          validated: c.validated,
          // PostgreSQL 18 prints NOT ENFORCED last (there is no such clause before).
          enforced: !c.definition.endsWith(" NOT ENFORCED"),
          inheritCount: c.inherit_count,
          noInherit: c.no_inherit,
          comment: c.comment,
        }),
      ),
      indexes: (idx.get(r.oid) ?? [])
        .filter((i) => i.parent_index === null)
        .map((i): IndexDef => ({ name: i.name, definition: i.definition, unique: i.unique, valid: i.valid, columns: indexColumns(i.keys, name), comment: i.comment })),
      partitionIndexes: (idx.get(r.oid) ?? [])
        .filter((i) => i.parent_index !== null)
        .map((i): PartitionIndexDef => ({ name: i.name, definition: i.definition, unique: i.unique, valid: i.valid, columns: indexColumns(i.keys, name), comment: i.comment, parentIndex: i.parent_index! })),
      replicaIdentity: toReplicaIdentity(r),
      ...(r.cluster_on ? { clusterOn: r.cluster_on } : {}),
    };
  });
}

// relreplident 'i' whose index is gone (dropped) behaves as NOTHING, as PostgreSQL documents.
function toReplicaIdentity(r: RelationRow): ReplicaIdentity {
  switch (r.replident) {
    case "f":
      return { kind: "FULL" };
    case "n":
      return { kind: "NOTHING" };
    case "i":
      return r.replident_index === null ? { kind: "NOTHING" } : { kind: "INDEX", index: r.replident_index };
    default:
      return { kind: "DEFAULT" };
  }
}

// An index's plain key columns in attnum order, repeated as often as they appear (expressions, 0, are left out).
function indexColumns(keys: readonly number[], name: (attnum: number) => string): string[] {
  return keys
    .filter((k) => k > 0)
    .sort((a, b) => a - b)
    .map(name);
}

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  }
  return m;
}

/** A column's non-default attributes ({@link ColumnDef.statistics} and the rest): absent when default, so most columns carry none. */
function columnAttributes(c: ColumnRow): Pick<ColumnDef, "statistics" | "storage" | "compression" | "options"> {
  return {
    ...(c.stat_target !== null && c.stat_target !== undefined ? { statistics: c.stat_target } : {}),
    ...(c.storage ? { storage: { mode: c.storage, typeDefault: c.type_storage ?? "" } } : {}),
    ...(c.compression ? { compression: c.compression } : {}),
    ...(c.attribute_options && c.attribute_options.length > 0 ? { options: [...c.attribute_options].sort() } : {}),
  };
}
