import type { ClientBase } from "pg";
import { MODEL_VERSION, type EnumDef, type ExtensionDef, type NamespaceDef, type SchemaModel, type UnmanagedKind, type UnmanagedObject, type ViewDef } from "../model";
import { ACLS_SQL, DEFAULT_ACLS_SQL, toAcls, toDefaultAcls, type AclRow, type DefaultAclRow } from "./acls";
import { catalogQuery } from "../internal/prepared";
import type { ColumnRow, CompositeRow, ConstraintRow, DomainRow, IndexRow, MatViewRow, PolicyRow, RangeRow, RelationRow, RoutineRow, ObjectRow, SequenceRow, StatisticsRow, TextSearchConfigurationRow, TextSearchDictionaryRow, TriggerRow, ViewRow } from "./assemble";
import { assembleObjects, assembleTables, toSequence } from "./assemble";
import type { Presence} from "./queries";
import { AGGREGATES_SQL, COLUMNS_SQL, COMPOSITES_SQL, CONSTRAINTS_SQL, DOMAINS_SQL, ENUMS_SQL, EXTENSIONS_SQL, INDEXES_SQL, MATVIEWS_SQL, POLICIES_SQL, PRESENCE_SQL, RANGES_SQL, RELATIONS_SQL, ROUTINES_SQL, SCHEMAS_SQL, SEQUENCES_SQL, STATISTICS_SQL, COLLATIONS_SQL, TRIGGERS_SQL, TS_CONFIGURATIONS_SQL, TS_DICTIONARIES_SQL, OPERATORS_SQL, UNMANAGED_SQL, VIEWS_SQL } from "./queries";

/** Options for {@link introspect}. */
export interface IntrospectOptions {
  /**
   * Schemas to read. Objects elsewhere are invisible to the engine.
   * @default every schema except PostgreSQL's own (pg_*, information_schema)
   */
  schemas?: readonly string[];
  /**
   * More connections to the same database: the catalog queries are spread over them and run
   * concurrently. Only for a database that nothing changes meanwhile (each connection reads its own
   * snapshot), such as the scratch database of normalization. Sets `search_path` on each.
   * @default [] (every query runs on `client`, in sequence)
   */
  concurrent?: readonly ClientBase[];
}

/**
 * The search_path under which introspection renders names and expressions and apply runs DDL, so
 * both sides of a diff print names the same way.
 */
export const CANONICAL_SEARCH_PATH = "public";

/**
 * Reads the managed objects of a database into a {@link SchemaModel} with a fixed number of
 * catalog queries (one per object kind, never one per table). Objects that belong to an extension
 * are left to the extension. Sets `search_path` on the session (see {@link CANONICAL_SEARCH_PATH}).
 */
export async function introspect(client: ClientBase, options: IntrospectOptions = {}): Promise<SchemaModel> {
  const scope = options.schemas ? [...options.schemas] : null;
  const lanes = [client, ...(options.concurrent ?? [])];
  await Promise.all(lanes.map((c) => c.query(`SET search_path = ${CANONICAL_SEARCH_PATH}`)));
  // One query per object kind. On one connection they run in sequence (node-postgres does not
  // pipeline); with more, each goes to the connection with the least expected work queued.
  const queued = lanes.map(() => ({ work: 0, tail: Promise.resolve() as Promise<unknown> }));
  const q = <R extends object>(sql: string, weight: number): Promise<R[]> => {
    const lane = queued.reduce((best, l, i) => (l.work < queued[best]!.work ? i : best), 0);
    queued[lane]!.work += weight;
    const run = queued[lane]!.tail.then(() => catalogQuery<R>(lanes[lane]!, sql, [scope]));
    queued[lane]!.tail = run.catch(() => undefined);
    return run;
  };
  // Which of the rarer kinds the scope holds at all (one cheap query): the query of a kind with
  // nothing to read is skipped. Planning a catalog query costs the server more than running it on a
  // small schema, and most schemas hold tables and little else.
  const present = q<Presence>(PRESENCE_SQL, 0).then((rows) => rows[0]!);
  const ifPresent = <R extends object>(kind: keyof Presence, sql: string): Promise<R[]> => present.then((p) => (p[kind] ? q<R>(sql, 0) : []));
  // Heaviest first, weighted by their relative cost on the benchmark schemas.
  const pending = {
    columns: q<ColumnRow>(COLUMNS_SQL, 10),
    indexes: q<IndexRow>(INDEXES_SQL, 7),
    constraints: q<ConstraintRow>(CONSTRAINTS_SQL, 3),
    relations: q<RelationRow>(RELATIONS_SQL, 1),
    sequences: ifPresent<SequenceRow>("sequences", SEQUENCES_SQL),
    unmanaged: ifPresent<UnmanagedObject>("unmanaged", UNMANAGED_SQL),
    schemas: q<{ name: string; comment: string | null }>(SCHEMAS_SQL, 0),
    extensions: q<ExtensionDef>(EXTENSIONS_SQL, 0),
    enums: ifPresent<{ schema: string; name: string; values: string[]; comment: string | null }>("enums", ENUMS_SQL),
    views: ifPresent<ViewRow>("views", VIEWS_SQL),
    routines: ifPresent<RoutineRow>("routines", ROUTINES_SQL),
    aggregates: ifPresent<RoutineRow>("routines", AGGREGATES_SQL),
    triggers: ifPresent<TriggerRow>("triggers", TRIGGERS_SQL),
    domains: ifPresent<DomainRow>("domains", DOMAINS_SQL),
    composites: ifPresent<CompositeRow>("composites", COMPOSITES_SQL),
    ranges: ifPresent<RangeRow>("ranges", RANGES_SQL),
    matviews: ifPresent<MatViewRow>("matviews", MATVIEWS_SQL),
    policies: ifPresent<PolicyRow>("policies", POLICIES_SQL),
    statistics: ifPresent<StatisticsRow>("statistics", STATISTICS_SQL),
    collations: ifPresent<ObjectRow>("collations", COLLATIONS_SQL),
    textSearchDictionaries: ifPresent<TextSearchDictionaryRow>("textSearchDictionaries", TS_DICTIONARIES_SQL),
    textSearchConfigurations: ifPresent<TextSearchConfigurationRow>("textSearchConfigurations", TS_CONFIGURATIONS_SQL),
    operators: ifPresent<ObjectRow>("operators", OPERATORS_SQL),
    acls: q<AclRow>(ACLS_SQL, 1),
    defaultAcls: q<DefaultAclRow>(DEFAULT_ACLS_SQL, 0),
  };
  // Wait for all before reporting the first failure, so no query is left running on a connection.
  await Promise.allSettled(Object.values(pending));
  const [columns, indexes, constraints, relations, sequences, unmanaged, schemas, extensions, enums, views, routines, aggregates, triggers, domains, composites, ranges, matviews, policies, statistics, collations, textSearchDictionaries, textSearchConfigurations, operators, acls, defaultAcls] = await Promise.all([
    pending.columns,
    pending.indexes,
    pending.constraints,
    pending.relations,
    pending.sequences,
    pending.unmanaged,
    pending.schemas,
    pending.extensions,
    pending.enums,
    pending.views,
    pending.routines,
    pending.aggregates,
    pending.triggers,
    pending.domains,
    pending.composites,
    pending.ranges,
    pending.matviews,
    pending.policies,
    pending.statistics,
    pending.collations,
    pending.textSearchDictionaries,
    pending.textSearchConfigurations,
    pending.operators,
    pending.acls,
    pending.defaultAcls,
  ]);

  const tables = assembleTables(relations, columns, constraints, indexes);
  return {
    version: MODEL_VERSION,
    schemas: schemas.map((s): NamespaceDef => ({ name: s.name, comment: s.comment })),
    extensions: extensions.map((e) => ({ ...e })),
    enums: enums.map((e): EnumDef => ({ schema: e.schema, name: e.name, values: e.values, comment: e.comment })),
    sequences: sequences.map(toSequence),
    tables,
    views: views.map(
      (v): ViewDef => ({
        schema: v.schema,
        name: v.name,
        definition: v.definition.trim().replace(/;$/, ""),
        columns: v.columns,
        options: v.options ?? [],
        dependsOn: v.depends,
        columnComments: v.column_comments ?? {},
        comment: v.comment,
      }),
    ),
    objects: assembleObjects({ routines: [...routines, ...aggregates], triggers, domains, composites, ranges, matviews, policies, statistics, collations, textSearchDictionaries, textSearchConfigurations, operators }),
    acls: toAcls(acls),
    defaultAcls: toDefaultAcls(defaultAcls),
    unmanaged: unmanaged.map((u) => ({ schema: u.schema, name: u.name, kind: u.kind as UnmanagedKind })),
  };
}


// Catalogs whose rows describe what the engine reads. Any DDL inserts, updates or deletes rows in
// them (new xmin values or a lower count); ANALYZE and VACUUM only update in place.
const FINGERPRINT_CATALOGS = [
  "pg_namespace", "pg_class", "pg_attribute", "pg_attrdef", "pg_constraint", "pg_index", "pg_description", "pg_enum", "pg_type",
  "pg_sequence", "pg_extension", "pg_rewrite", "pg_depend", "pg_proc", "pg_trigger", "pg_policy", "pg_inherits", "pg_collation", "pg_default_acl",
  "pg_statistic_ext", "pg_ts_dict", "pg_ts_config", "pg_ts_config_map", "pg_operator", "pg_opfamily", "pg_opclass", "pg_cast", "pg_event_trigger",
];

const FINGERPRINT_SQL = `SELECT concat_ws('|', ${FINGERPRINT_CATALOGS.map(
  (c) => `(SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) || ':' || coalesce(max(xmin::text::bigint), 0) FROM ${c})`,
).join(", ")}) AS fp`;

/**
 * A cheap fingerprint of the database's catalogs (row counts and transaction ids): equal
 * fingerprints mean no DDL ran in between, so a previous introspection is still exact. One query
 * over the system catalogs' tuple headers, far cheaper than introspection.
 */
export async function catalogFingerprint(client: ClientBase): Promise<string> {
  const rows = await catalogQuery<{ fp: string }>(client, FINGERPRINT_SQL);
  return rows[0]!.fp;
}
