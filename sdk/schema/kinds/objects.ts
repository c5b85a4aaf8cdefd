import { quoteIdent, quoteLiteral, quoteQualified } from "../../postgres/quote";
import type { Change, ConvertedColumn } from "../changes";
import { sameOptions, type AttributeDef, type CompositeTypeDef, type DomainDef, type ObjectDef, type ObjectKind, type QualifiedName, type SchemaModel, type TextSearchDictionaryDef, type TextSearchMapping } from "../model";
import { inheritsColumn } from "./inheritance";
import { collationKey, routineKey, textSearchConfigurationKey } from "./expressions";


/**
 * Per-kind handlers of the generic objects (see ADR 0008): the graph keys an object provides, how
 * to create, drop and comment on it, and how a change to it is made (in place, `CREATE OR REPLACE`,
 * or drop and re-create). Pure: no I/O.
 */

/** `kind:schema.identity`: what matches a live object with a desired one. */
export function objectId(o: ObjectDef): string {
  return `${o.kind}:${o.schema}.${o.identity}`;
}

/** Graph keys the object provides (what others list in `dependsOn`). */
export function objectKeys(o: ObjectDef): string[] {
  switch (o.kind) {
    case "function":
    case "procedure":
    case "aggregate":
      return [routineKey(o.schema, o.identity)];
    case "trigger":
      return [`trigger:${o.schema}.${o.identity}`];
    case "policy":
      return [`policy:${o.schema}.${o.identity}`];
    case "domain":
    case "composite type":
    case "range type":
      return [`type:${o.schema}.${o.name}`];
    case "materialized view":
      return [`table:${o.schema}.${o.name}`, ...o.columns.map((c) => `column:${o.schema}.${o.name}.${c}`)];
    case "statistics":
      return [`statistics:${o.schema}.${o.name}`];
    case "collation":
      return [collationKey(o.schema, o.name)];
    case "text search dictionary":
      return [`tsdict:${o.schema}.${o.name}`];
    case "text search configuration":
      return [textSearchConfigurationKey(o.schema, o.name)];
    case "operator":
      return [`operator:${o.schema}.${o.identity}`];
  }
}

/** What must exist before the object is created (and is released when it is dropped). */
export function objectNeeds(o: ObjectDef): string[] {
  // Extension objects: what a routine or trigger calls may be an extension's, so it is dropped first.
  const out = [`schema:${o.schema}`, "extension:*", "extension-objects:*", ...o.dependsOn];
  if (o.kind === "trigger" || o.kind === "policy") out.push(`table:${o.schema}.${o.table}`);
  return out;
}

/** The SQL keyword of the object's kind, as in DROP and COMMENT ON. */
function keyword(kind: ObjectKind): string {
  switch (kind) {
    case "function":
      return "FUNCTION";
    case "procedure":
      return "PROCEDURE";
    case "aggregate":
      return "AGGREGATE";
    case "trigger":
      return "TRIGGER";
    case "policy":
      return "POLICY";
    case "domain":
      return "DOMAIN";
    case "composite type":
    case "range type":
      return "TYPE";
    case "materialized view":
      return "MATERIALIZED VIEW";
    case "statistics":
      return "STATISTICS";
    case "collation":
      return "COLLATION";
    case "text search dictionary":
      return "TEXT SEARCH DICTIONARY";
    case "text search configuration":
      return "TEXT SEARCH CONFIGURATION";
    case "operator":
      return "OPERATOR";
  }
}

/** How DROP and COMMENT ON name the object: `"s"."f"(integer)`, `"t" ON "s"."tbl"`, `"s"."n"`. */
export function objectReference(o: ObjectDef): string {
  switch (o.kind) {
    case "function":
    case "procedure":
    case "aggregate":
      return `${quoteQualified(o.schema, o.name)}${o.identity === `${o.name}()` && o.kind === "aggregate" ? "(*)" : o.identity.slice(o.name.length)}`;
    case "trigger":
    case "policy":
      return `${quoteIdent(o.name)} ON ${quoteQualified(o.schema, o.table)}`;
    case "operator":
      // An operator's name is never quoted: `"s".~== (integer, integer)`.
      return `${quoteIdent(o.schema)}.${o.name} (${o.identity.slice(o.name.length + 1, -1).split(",").join(", ")})`;
    default:
      return quoteQualified(o.schema, o.name);
  }
}

/** `CREATE` statements of the object. */
export function createSql(o: ObjectDef): string[] {
  switch (o.kind) {
    case "materialized view": {
      const options = o.options.length ? ` WITH (${o.options.map(renderOption).join(", ")})` : "";
      return [`CREATE MATERIALIZED VIEW ${quoteQualified(o.schema, o.name)}${options} AS\n${o.definition}${o.populated ? "" : "\nWITH NO DATA"}`];
    }
    case "trigger": {
      const out = [o.definition];
      if (o.enabled !== "O") out.push(triggerEnableSql(o.schema, o.table, o.name, o.enabled));
      return out;
    }
    case "statistics":
      return [o.definition.trimEnd(), ...(o.target === null ? [] : [statisticsTargetSql(o, o.target)])];
    case "text search configuration":
      return [`CREATE TEXT SEARCH CONFIGURATION ${quoteQualified(o.schema, o.name)} (PARSER = ${o.parser})`, ...mappingSql(o, o.mappings, "ADD")];
    default:
      return [o.definition.trimEnd()];
  }
}

/** `DROP` statement of the object. */
export function dropSql(o: ObjectDef): string {
  return `DROP ${keyword(o.kind)} ${objectReference(o)}`;
}

/** `COMMENT ON` target of the object. */
export function commentTargetSql(o: ObjectDef): string {
  return `${keyword(o.kind)} ${objectReference(o)}`;
}

/**
 * The statements that change `from` into `o` in place: `CREATE OR REPLACE` of a routine or plain
 * trigger; a text search dictionary's new options (an option named without a value is removed);
 * a text search configuration's mappings (the ones it loses dropped, the others set).
 */
export function replaceSql(o: ObjectDef, from: ObjectDef): string[] {
  if (o.kind === "text search dictionary" && from.kind === "text search dictionary") return [dictionaryOptionsSql(o, from)];
  if (o.kind === "text search configuration" && from.kind === "text search configuration") {
    const kept = new Set(o.mappings.map((m) => m.token));
    const lost = from.mappings.filter((m) => !kept.has(m.token)).map((m) => m.token);
    const had = new Map(from.mappings.map((m) => [m.token, m.dictionaries.join()]));
    const out = lost.length ? [`ALTER TEXT SEARCH CONFIGURATION ${quoteQualified(o.schema, o.name)} DROP MAPPING FOR ${lost.join(", ")}`] : [];
    out.push(...mappingSql(o, o.mappings.filter((m) => had.has(m.token) && had.get(m.token) !== m.dictionaries.join()), "ALTER"));
    out.push(...mappingSql(o, o.mappings.filter((m) => !had.has(m.token)), "ADD"));
    return out;
  }
  if (o.kind === "trigger") {
    const out = [o.definition.replace(/^CREATE TRIGGER /, "CREATE OR REPLACE TRIGGER ")];
    out.push(triggerEnableSql(o.schema, o.table, o.name, o.enabled));
    return out;
  }
  return createSql(o);
}

/** The rebuilt definition of a text search configuration: its CREATE and one ADD MAPPING per set of token types sharing dictionaries. */
export function textSearchConfigurationDefinition(schema: string, name: string, parser: string, mappings: readonly TextSearchMapping[]): string {
  return [`CREATE TEXT SEARCH CONFIGURATION ${quoteQualified(schema, name)} (PARSER = ${parser})`, ...mappingSql({ schema, name }, mappings, "ADD")].join(";\n");
}

/** `ALTER TEXT SEARCH CONFIGURATION … ADD|ALTER MAPPING FOR t1, t2 WITH d1, d2`, token types grouped by their dictionaries (in token order). */
function mappingSql(c: QualifiedName, mappings: readonly TextSearchMapping[], verb: "ADD" | "ALTER"): string[] {
  const groups = new Map<string, string[]>();
  for (const m of mappings) {
    const key = m.dictionaries.join(", ");
    groups.set(key, [...(groups.get(key) ?? []), m.token]);
  }
  return [...groups].map(([dicts, tokens]) => `ALTER TEXT SEARCH CONFIGURATION ${quoteQualified(c.schema, c.name)} ${verb} MAPPING FOR ${tokens.join(", ")} WITH ${dicts}`);
}

/** `ALTER TEXT SEARCH DICTIONARY … (…)`: the desired options, and the live ones it drops named without a value. */
function dictionaryOptionsSql(o: TextSearchDictionaryDef, from: TextSearchDictionaryDef): string {
  const wanted = dictionaryOptions(o.options);
  const dropped = [...dictionaryOptions(from.options).keys()].filter((k) => !wanted.has(k));
  const parts = [...[...wanted].map(([k, v]) => `${k} = ${v}`), ...dropped];
  return `ALTER TEXT SEARCH DICTIONARY ${quoteQualified(o.schema, o.name)} (${parts.join(", ")})`;
}

/** `pg_ts_dict.dictinitoption` (`name = 'value', …`, as PostgreSQL serializes it) by option name; values as written there. */
export function dictionaryOptions(options: string | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!options) return out;
  for (const m of options.matchAll(/\s*("(?:[^"]|"")+"|[^\s=,]+)\s*=\s*('(?:[^']|'')*'|[^,]*?)\s*(?:,|$)/g)) out.set(m[1]!.toLowerCase(), m[2]!);
  return out;
}

/** `ALTER TABLE ... ENABLE/DISABLE TRIGGER` for a `pg_trigger.tgenabled` state. */
export function triggerEnableSql(schema: string, table: string, name: string, enabled: string): string {
  const mode = enabled === "D" ? "DISABLE" : enabled === "R" ? "ENABLE REPLICA" : enabled === "A" ? "ENABLE ALWAYS" : "ENABLE";
  return `ALTER TABLE ${quoteQualified(schema, table)} ${mode} TRIGGER ${quoteIdent(name)}`;
}

/** The rebuilt CREATE DOMAIN of a domain's parts. */
export function domainDefinition(d: Omit<DomainDef, "definition" | "dependsOn" | "comment" | "kind" | "identity">): string {
  let sql = `CREATE DOMAIN ${quoteQualified(d.schema, d.name)} AS ${d.type}`;
  if (d.collation) sql += ` COLLATE ${d.collation}`;
  if (d.default !== null) sql += ` DEFAULT ${d.default}`;
  if (d.notNull) sql += " NOT NULL";
  for (const c of d.constraints) sql += ` CONSTRAINT ${quoteIdent(c.name)} ${c.definition}${c.validated ? "" : " NOT VALID"}`;
  return sql;
}

/** The rebuilt CREATE TYPE ... AS (...) of a composite type. */
export function compositeDefinition(schema: string, name: string, attributes: readonly AttributeDef[]): string {
  return `CREATE TYPE ${quoteQualified(schema, name)} AS (${attributes.map(attributeSql).join(", ")})`;
}

function attributeSql(a: AttributeDef): string {
  return `${quoteIdent(a.name)} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ""}`;
}

/** How a live object becomes the desired one. */
export type ObjectAlteration =
  | { readonly action: "none" }
  | { readonly action: "replace" }
  | { readonly action: "alter"; readonly changes: readonly Change[] }
  /** Drop and create; `columns` set when columns use the type and must be converted (recreateType). */
  | { readonly action: "recreate" };

/** Context of a comparison: both models and the online mode. */
export interface CompareContext {
  readonly live: SchemaModel;
  readonly desired: SchemaModel;
  readonly online: boolean;
}

/**
 * How `l` (live) becomes `d` (desired), same id. Comments are diffed separately. Pure.
 */
export function compareObject(l: ObjectDef, d: ObjectDef, ctx: CompareContext): ObjectAlteration {
  switch (d.kind) {
    case "function":
    case "procedure":
    case "aggregate": {
      if (l.kind !== d.kind) return { action: "recreate" };
      if (l.definition === d.definition) return { action: "none" };
      return l.arguments === d.arguments && l.result === d.result ? { action: "replace" } : { action: "recreate" };
    }
    case "trigger": {
      if (l.kind !== "trigger") return { action: "recreate" };
      if (l.definition !== d.definition) return l.constraint || d.constraint ? { action: "recreate" } : { action: "replace" };
      return l.enabled === d.enabled ? { action: "none" } : { action: "alter", changes: [{ kind: "setTriggerEnabled", trigger: d }] };
    }
    case "domain":
      return l.kind === "domain" ? compareDomain(l, d, ctx) : { action: "recreate" };
    case "composite type":
      return l.kind === "composite type" ? compareComposite(l, d, ctx) : { action: "recreate" };
    case "range type":
    case "policy":
      return l.definition === d.definition ? { action: "none" } : { action: "recreate" };
    case "materialized view":
      if (l.kind !== "materialized view") return { action: "recreate" };
      return l.definition === d.definition && sameOptions(l.options, d.options) ? { action: "none" } : { action: "recreate" };
    case "collation":
      return l.kind === "collation" && l.definition === d.definition ? { action: "none" } : { action: "recreate" };
    case "text search dictionary":
      if (l.kind !== d.kind || l.template !== d.template) return { action: "recreate" };
      return l.options === d.options ? { action: "none" } : { action: "replace" };
    case "operator":
      return l.kind === "operator" && l.definition === d.definition ? { action: "none" } : { action: "recreate" };
    case "text search configuration":
      if (l.kind !== d.kind || l.parser !== d.parser) return { action: "recreate" };
      return l.definition === d.definition ? { action: "none" } : { action: "replace" };
    case "statistics":
      // What it holds is only what ANALYZE computes: a new definition re-creates it; a new target is set in place (what was computed stays).
      if (l.kind !== "statistics" || l.definition !== d.definition) return { action: "recreate" };
      return l.target === d.target ? { action: "none" } : { action: "alter", changes: [{ kind: "setStatisticsTarget", statistics: d }] };
  }
}

/** `ALTER STATISTICS … SET STATISTICS n`; -1 (every major) returns to the default. */
export function statisticsTargetSql(o: QualifiedName, target: number | null): string {
  return `ALTER STATISTICS ${quoteQualified(o.schema, o.name)} SET STATISTICS ${target ?? -1}`;
}

function compareDomain(l: DomainDef, d: DomainDef, ctx: CompareContext): ObjectAlteration {
  if (l.type !== d.type || l.collation !== d.collation) return { action: "recreate" };
  const changes: Change[] = [];
  if (l.default !== d.default) changes.push({ kind: "setDomainDefault", domain: d, default: d.default });
  const liveCons = new Map(l.constraints.map((c) => [c.name, c]));
  const desiredCons = new Map(d.constraints.map((c) => [c.name, c]));
  for (const c of l.constraints) {
    const w = desiredCons.get(c.name);
    if (!w || w.definition !== c.definition) changes.push({ kind: "dropDomainConstraint", domain: d, constraint: c });
  }
  if (l.notNull !== d.notNull) changes.push({ kind: "setDomainNotNull", domain: d, notNull: d.notNull });
  for (const c of d.constraints) {
    const lc = liveCons.get(c.name);
    if (!lc || lc.definition !== c.definition) {
      if (ctx.online && c.validated) {
        changes.push({ kind: "addDomainConstraint", domain: d, constraint: c, notValid: true });
        changes.push({ kind: "validateDomainConstraint", domain: d, constraint: c.name });
      } else changes.push({ kind: "addDomainConstraint", domain: d, constraint: c, notValid: !c.validated });
    } else if (!lc.validated && c.validated) changes.push({ kind: "validateDomainConstraint", domain: d, constraint: c.name });
  }
  return changes.length ? { action: "alter", changes } : { action: "none" };
}

function compareComposite(l: CompositeTypeDef, d: CompositeTypeDef, ctx: CompareContext): ObjectAlteration {
  const same = (a: AttributeDef, b: AttributeDef) => a.type === b.type && a.collation === b.collation;
  const wanted = new Map(d.attributes.map((a) => [a.name, a]));
  const kept = l.attributes.filter((a) => wanted.has(a.name));
  // ALTER TYPE can drop, retype and append attributes: the kept ones must come first, in order.
  if (!kept.every((a, i) => d.attributes[i]?.name === a.name)) return { action: "recreate" };
  const retyped = kept.filter((a) => !same(a, wanted.get(a.name)!));
  // PostgreSQL refuses to retype an attribute of a type that a column uses: such a type is
  // re-created, or, when columns use it only inside other composite types, altered while those
  // columns are text (the outer types are altered after they come back, so the text still fits).
  const outer = retyped.length && !columnsUsing(ctx.live, d).length ? containingTypes(ctx.live, d) : [];
  const nested = outer.map((o) => ({ type: o, columns: convertedColumns(ctx.live, ctx.desired, o) })).filter((x) => x.columns.length);
  if (retyped.length && usedByColumns(ctx.live, d) && !nested.length) return { action: "recreate" };
  const actions = [
    ...l.attributes.filter((a) => !wanted.has(a.name)).map((a) => `DROP ATTRIBUTE ${quoteIdent(a.name)}`),
    ...retyped.map((a) => {
      const w = wanted.get(a.name)!;
      return `ALTER ATTRIBUTE ${quoteIdent(a.name)} TYPE ${w.type}${w.collation ? ` COLLATE ${w.collation}` : ""}`;
    }),
    ...d.attributes.slice(kept.length).map((a) => `ADD ATTRIBUTE ${attributeSql(a)}`),
  ];
  if (!actions.length) return { action: "none" };
  return {
    action: "alter",
    changes: [
      ...nested.map((n): Change => ({ kind: "columnsToText", type: n.type, columns: n.columns, inner: d })),
      { kind: "alterCompositeType", type: d, actions },
      ...nested.map((n): Change => ({ kind: "columnsFromText", type: n.type, columns: n.columns, inner: d })),
    ],
  };
}

/** The composite types of `model` that contain `t`, directly or through others. */
function containingTypes(model: SchemaModel, t: QualifiedName): CompositeTypeDef[] {
  const out: CompositeTypeDef[] = [];
  const keys = [`type:${t.schema}.${t.name}`];
  for (let i = 0; i < keys.length; i++) {
    for (const o of model.objects) {
      if (o.kind !== "composite type" || !o.dependsOn.includes(keys[i]!) || out.includes(o)) continue;
      out.push(o);
      keys.push(`type:${o.schema}.${o.name}`);
    }
  }
  return out;
}

/** Columns of `model`'s tables whose type is `t` (or an array of it). */
export function columnsUsing(model: SchemaModel, t: QualifiedName): { table: QualifiedName; column: string; array: boolean; type: string }[] {
  return model.tables.flatMap((tb) =>
    tb.columns
      .filter((c) => c.userType?.schema === t.schema && c.userType.name === t.name)
      .map((c) => ({ table: { schema: tb.schema, name: tb.name }, column: c.name, array: c.userType!.array, type: c.type })),
  );
}

/**
 * Columns to convert when type `t` is re-created: those that use it live and still use it, with the
 * same type text, in the desired model (others are changed by their own steps).
 */
export function convertedColumns(live: SchemaModel, desired: SchemaModel, t: QualifiedName): ConvertedColumn[] {
  const wanted = new Map(columnsUsing(desired, t).map((c) => [`${c.table.schema}.${c.table.name}.${c.column}`, c]));
  return columnsUsing(live, t).flatMap((c) => {
    const w = wanted.get(`${c.table.schema}.${c.table.name}.${c.column}`);
    if (!w || w.type !== c.type) return [];
    const table = live.tables.find((x) => x.schema === c.table.schema && x.name === c.table.name)!;
    const column = (m: SchemaModel) => m.tables.find((x) => x.schema === c.table.schema && x.name === c.table.name)?.columns.find((x) => x.name === c.column);
    const inherited = inheritsColumn(live, table, c.column) ? { inherited: true as const } : {};
    return [{ table: c.table, column: c.column, array: c.array, dropDefault: (column(live)?.default ?? null) !== null, default: column(desired)?.default ?? null, ...inherited }];
  });
}

/**
 * The statements of a recreateType change. Domains and composite types: the old type is renamed,
 * the new one created, the columns converted, the old one dropped. A range type cannot be renamed
 * aside (its constructor functions and multirange keep their names), so its columns go through text.
 */
export function recreateTypeSql(change: Extract<Change, { kind: "recreateType" }>): string[] {
  const t = change.type;
  const word = t.kind === "domain" ? "DOMAIN" : "TYPE";
  const type = quoteQualified(t.schema, t.name);
  const columns = change.columns.map((col) => ({ ...col, tbl: quoteQualified(col.table.schema, col.table.name), c: quoteIdent(col.column), target: col.array ? `${type}[]` : type }));
  const own = columns.filter((col) => !col.inherited);
  const out: string[] = [];
  if (change.from.kind === "range type") {
    for (const col of own) out.push(`ALTER TABLE ${col.tbl} ALTER COLUMN ${col.c} TYPE text${col.array ? "[]" : ""} USING ${col.c}::text${col.array ? "[]" : ""}`);
    out.push(`DROP TYPE ${type}`, ...createSql(t));
    for (const col of own) out.push(`ALTER TABLE ${col.tbl} ALTER COLUMN ${col.c} TYPE ${col.target} USING ${col.c}::${col.target}`);
  } else {
    const oldName = `${t.name}`.slice(0, 40) + "_setpoint_old";
    out.push(`ALTER ${word} ${type} RENAME TO ${quoteIdent(oldName)}`, ...createSql(t));
    for (const col of own) out.push(`ALTER TABLE ${col.tbl} ALTER COLUMN ${col.c} TYPE ${col.target} USING ${col.c}::text${col.array ? "[]" : ""}::${col.target}`);
    out.push(`DROP ${word} ${quoteQualified(t.schema, oldName)}`);
  }
  return withDefaultsAround(change.columns, out);
}

/**
 * Column conversions' statements with the live defaults dropped before (PostgreSQL cannot cast a
 * default along) and the desired ones set after: a parent's SET DEFAULT reaches its partitions and
 * children, so the defaults of inherited columns are set last.
 */
export function withDefaultsAround(columns: readonly ConvertedColumn[], conversion: readonly string[]): string[] {
  const ref = (col: ConvertedColumn) => `ALTER TABLE ${quoteQualified(col.table.schema, col.table.name)} ALTER COLUMN ${quoteIdent(col.column)}`;
  const drops = columns.filter((col) => col.dropDefault).map((col) => `${ref(col)} DROP DEFAULT`);
  const sets = [...columns.filter((col) => !col.inherited), ...columns.filter((col) => col.inherited)].filter((col) => col.default !== null).map((col) => `${ref(col)} SET DEFAULT ${col.default}`);
  return [...drops, ...conversion, ...sets];
}

/** The statements of a columnsToText or columnsFromText change (defaults dropped before, set after). */
export function columnsThroughTextSql(change: Extract<Change, { kind: "columnsToText" | "columnsFromText" }>): string[] {
  const type = quoteQualified(change.type.schema, change.type.name);
  const alters = change.columns.flatMap((col) => {
    if (col.inherited) return [];
    const c = quoteIdent(col.column);
    const suffix = col.array ? "[]" : "";
    const target = change.kind === "columnsToText" ? `text${suffix}` : `${type}${suffix}`;
    return [`ALTER TABLE ${quoteQualified(col.table.schema, col.table.name)} ALTER COLUMN ${c} TYPE ${target} USING ${c}::${target}`];
  });
  if (change.kind === "columnsToText") return withDefaultsAround(change.columns.map((col) => ({ ...col, default: null })), alters);
  return withDefaultsAround(change.columns.map((col) => ({ ...col, dropDefault: false })), alters);
}

/**
 * Whether columns of `model` use composite type `t`, directly or inside other composite types
 * (PostgreSQL refuses to retype an attribute of such a type).
 */
export function usedByColumns(model: SchemaModel, t: QualifiedName, seen: Set<string> = new Set()): boolean {
  const key = `type:${t.schema}.${t.name}`;
  if (seen.has(key)) return false;
  seen.add(key);
  if (columnsUsing(model, t).length) return true;
  return model.objects.some((o) => o.kind === "composite type" && o.dependsOn.includes(key) && usedByColumns(model, o, seen));
}

// Storage parameters come from pg_class.reloptions as name=value; values are re-quoted as literals.
function renderOption(opt: string): string {
  const eq = opt.indexOf("=");
  return `${quoteIdent(opt.slice(0, eq))} = ${quoteLiteral(opt.slice(eq + 1))}`;
}

