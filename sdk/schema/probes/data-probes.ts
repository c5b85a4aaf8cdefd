import { quoteIdent, quoteLiteral, quoteQualified } from "../../postgres/quote";
import type { Change } from "../changes";
import { keyOf, type ConstraintDef, type QualifiedName, type SchemaModel, type TableDef } from "../model";

/**
 * Which changes the data probes check, and the read-only SQL that finds the existing rows each
 * would fail on (or change). Pure: `data-probes-run.ts` runs these against the target. See
 * docs/adr/0013-data-probes.md for the bounds and semantics.
 */

/** Hazard codes the probes report. */
export type DataHazardCode = "NOT_NULL_VIOLATION" | "CAST_FAILS" | "TYPE_CAST_LOSSY" | "UNIQUE_VIOLATION" | "CHECK_VIOLATION" | "FOREIGN_KEY_VIOLATION" | "DATA_UNVERIFIED";

/** Most offending rows a row probe reads; more are reported as "more than" this. */
export const PROBE_ROW_CAP = 1000;

/** Column of a probe's projection holding the sample key of each row (a JSON array as text). */
const KEY = quoteIdent("?setpoint probe key");

/**
 * The key under which a change's probe findings are stored, or null when the change is not probed.
 * A constraint is keyed where it is checked: an `addConstraint` that is not NOT VALID, or the
 * `validateConstraint` that follows a NOT VALID one. A step that checks no existing row (NOT VALID,
 * NOT ENFORCED, a NOT VALID NOT NULL constraint of PostgreSQL 18) is not probed.
 */
export function probeKeyOf(change: Change): string | null {
  switch (change.kind) {
    case "setNotNull":
      return change.constraint?.validated === false ? null : `setNotNull:${keyOf(change.table)}.${change.column}`;
    case "addColumn":
      return `addColumn:${keyOf(change.table)}.${change.column.name}`;
    case "alterColumnType":
      return `alterColumnType:${keyOf(change.table)}.${change.column}`;
    case "addConstraint":
      return change.notValid || !change.constraint.enforced ? null : `constraint:${keyOf(change.table)}:${change.constraint.name}`;
    case "validateConstraint":
      return `constraint:${keyOf(change.table)}:${change.constraint}`;
    case "createIndex":
      return change.index.unique ? `index:${keyOf(change.table)}:${change.index.name}` : null;
    case "addDomainConstraint":
      return change.notValid ? null : `domainConstraint:${keyOf(change.domain)}:${change.constraint.name}`;
    case "validateDomainConstraint":
      return `domainConstraint:${keyOf(change.domain)}:${change.constraint}`;
    case "setDomainNotNull":
      return change.notNull ? `domainNotNull:${keyOf(change.domain)}` : null;
    case "recreateEnum":
      return change.removedValues.length > 0 ? `recreateEnum:${keyOf(change.enum)}` : null;
    case "attachPartition":
      return `attachPartition:${keyOf(change.table)}`;
    default:
      return null;
  }
}

/**
 * A probe that reads offending rows: `sql` returns one row per offender (column `k`, the sample key
 * as JSON text), at most {@link PROBE_ROW_CAP} + 1.
 */
export interface RowProbe {
  readonly kind: "rows";
  readonly key: string;
  readonly code: Exclude<DataHazardCode, "DATA_UNVERIFIED" | "TYPE_CAST_LOSSY">;
  /** What the step does, e.g. `SET NOT NULL on public.t.c`. */
  readonly what: string;
  /** What the offending rows do, for one row and for several, e.g. `holds NULL` / `hold NULL`. */
  readonly offence: readonly [one: string, many: string];
  /** Names of the sample key's columns (the live primary key, else `ctid`). */
  readonly keyColumns: readonly string[];
  readonly sql: string;
}

/**
 * A probe of a column type change. `scan` counts the values the cast changes (`n`, with one sample
 * key `k`; lossiness only when `lossy`) and fails with a data exception when some value cannot be
 * cast; then `perRow` (a `DO` block) counts those, leaving the count and a sample in the settings
 * read by `result`.
 */
export interface CastProbe {
  readonly kind: "cast";
  readonly key: string;
  readonly what: string;
  readonly keyColumns: readonly string[];
  readonly table: QualifiedName;
  readonly column: string;
  readonly from: string;
  readonly to: string;
  /** Scan SQL given whether to compare values after a round trip (lossiness). */
  readonly scan: (lossy: boolean) => string;
  readonly perRow: string;
}

/** One probe to run. */
export type Probe = RowProbe | CastProbe;

/** Settings a cast probe's `DO` block leaves its result in (transaction-local). */
export const CAST_RESULT_SETTINGS = { count: "setpoint.probe_count", sample: "setpoint.probe_sample" } as const;

interface Ctx {
  readonly live: SchemaModel;
  readonly desired: SchemaModel;
  /** New table key -> live table key. */
  readonly tableRenames: ReadonlyMap<string, string>;
  /** New table key -> (new column name -> live column name). */
  readonly columnRenames: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Keys of tables the plan creates (or re-creates): empty when the step runs. */
  readonly created: ReadonlySet<string>;
  readonly changes: readonly Change[];
}

/** The probes `changes` need, in change order; a change with nothing to check has none. */
export function probesFor(changes: readonly Change[], live: SchemaModel, desired: SchemaModel): Probe[] {
  const tableRenames = new Map<string, string>();
  const columnRenames = new Map<string, Map<string, string>>();
  for (const c of changes) {
    if (c.kind === "renameTable") tableRenames.set(`${c.table.schema}.${c.to}`, keyOf(c.table));
  }
  for (const c of changes) {
    if (c.kind !== "renameColumn") continue;
    // A column rename names the table by its name at that point; key by the final name.
    const finalKey = [...tableRenames.entries()].find(([, old]) => old === keyOf(c.table))?.[0] ?? keyOf(c.table);
    const m = columnRenames.get(finalKey) ?? new Map<string, string>();
    m.set(c.to, c.from);
    columnRenames.set(finalKey, m);
  }
  const created = new Set(changes.flatMap((c) => (c.kind === "createTable" ? [keyOf(c.table)] : [])));
  const ctx: Ctx = { live, desired, tableRenames, columnRenames, created, changes };
  const out: Probe[] = [];
  for (const c of changes) {
    const key = probeKeyOf(c);
    if (key === null) continue;
    if (c.kind === "addDomainConstraint" || c.kind === "validateDomainConstraint" || c.kind === "setDomainNotNull") out.push(...domainProbes(c, key, ctx));
    else if (c.kind === "recreateEnum") out.push(...enumProbes(c, key, ctx));
    else if ("table" in c && !created.has(keyOf(c.table))) out.push(...probesOfChange(c, key, ctx));
  }
  return out;
}

/**
 * Rows of a table being attached as a partition that lie outside its bound (the ATTACH checks them
 * and fails with a check violation). LIST, RANGE without MINVALUE/MAXVALUE, and HASH bounds of a
 * parent the target has; a DEFAULT partition and other forms are not probed.
 */
function partitionBoundProbe(ctx: Ctx, c: Extract<Change, { kind: "attachPartition" }>, key: string): Probe[] {
  const lt = liveTable(ctx, c.table);
  const parentDef = ctx.desired.tables.find((t) => keyOf(t) === keyOf(c.parent));
  const partKey = parentDef?.partitionBy ? /^(LIST|RANGE|HASH) \((.*)\)$/.exec(parentDef.partitionBy) : null;
  if (!lt || !partKey) return [];
  const keys = splitTopLevel(partKey[2]!).map((k) => `(${k})`);
  const bound = c.bound;
  let outside: string | null = null;
  if (partKey[1] === "LIST" && bound.startsWith("FOR VALUES IN (") && keys.length === 1) {
    const values = splitTopLevel(bound.slice("FOR VALUES IN (".length, closingParen(bound, "FOR VALUES IN ".length)));
    const nonNull = values.filter((v) => v !== "NULL");
    const k = keys[0]!;
    outside = `(${k} IS NULL${values.includes("NULL") ? " AND false" : ""}) OR (${k} IS NOT NULL AND ${nonNull.length ? `${k} NOT IN (${nonNull.join(", ")})` : "true"})`;
  } else if (partKey[1] === "RANGE" && bound.startsWith("FOR VALUES FROM (") && !/\b(MINVALUE|MAXVALUE)\b/.test(bound)) {
    const fromOpen = "FOR VALUES FROM ".length;
    const fromEnd = closingParen(bound, fromOpen);
    const to = bound.slice(fromEnd + 1);
    if (fromEnd < 0 || !to.startsWith(" TO (")) return [];
    const row = `ROW(${keys.join(", ")})`;
    outside = `${keys.map((k) => `${k} IS NULL`).join(" OR ")} OR NOT (${row} >= ROW${bound.slice(fromOpen, fromEnd + 1)} AND ${row} < ROW${to.slice(" TO ".length)})`;
  } else if (partKey[1] === "HASH" && !ctx.created.has(keyOf(c.parent))) {
    const m = /^FOR VALUES WITH \(modulus (\d+), remainder (\d+)\)$/.exec(bound);
    if (!m) return [];
    outside = `NOT satisfies_hash_partition(${quoteLiteral(quoteQualified(c.parent.schema, c.parent.name))}::regclass, ${m[1]}, ${m[2]}, ${keys.join(", ")})`;
  }
  if (outside === null) return [];
  const { expr: k, columns } = sampleKey(lt);
  return [
    {
      kind: "rows",
      key,
      code: "CHECK_VIOLATION",
      what: `attaching ${keyOf(c.table)} to ${keyOf(c.parent)} ${bound}`,
      offence: ["lies outside the bound", "lie outside the bound"],
      keyColumns: columns,
      sql: `SELECT ${k} AS k FROM ${quoteQualified(lt.schema, lt.name)} AS t WHERE ${outside} LIMIT ${PROBE_ROW_CAP + 1}`,
    },
  ];
}

/**
 * An enum re-created without some values: each column converted through text fails on a row
 * holding one (the probe reads the live columns the step converts, by their live names).
 */
function enumProbes(c: Extract<Change, { kind: "recreateEnum" }>, key: string, ctx: Ctx): Probe[] {
  const removed = c.removedValues.map(quoteLiteral).join(", ");
  const out: Probe[] = [];
  for (const col of c.columns) {
    const t = ctx.live.tables.find((x) => keyOf(x) === keyOf(col.table));
    const def = t?.columns.find((x) => x.name === col.column);
    // A partition's or child's inherited column is read through its parent.
    if (!t || !def || (!def.local && def.inheritCount > 0)) continue;
    const { expr: k, columns } = sampleKey(t);
    const v = `t.${quoteIdent(col.column)}`;
    const where = col.array ? `${v}::text[] && ARRAY[${removed}]::text[]` : `${v}::text IN (${removed})`;
    out.push({
      kind: "rows",
      key,
      code: "CAST_FAILS",
      what: `recreating enum ${keyOf(c.enum)} without ${c.removedValues.map((x) => `'${x}'`).join(", ")} (column ${keyOf(t)}.${col.column})`,
      offence: ["holds a removed value", "hold removed values"],
      keyColumns: columns,
      sql: `SELECT ${k} AS k FROM ${quoteQualified(t.schema, t.name)} AS t WHERE ${where} LIMIT ${PROBE_ROW_CAP + 1}`,
    });
  }
  return out;
}

/**
 * A domain's new CHECK or NOT NULL is checked against every live column of the domain (not arrays
 * or composites of it). Each column's values are read as `value`, the name `VALUE` in a domain
 * CHECK resolves to outside a domain.
 */
function domainProbes(c: Extract<Change, { kind: "addDomainConstraint" | "validateDomainConstraint" | "setDomainNotNull" }>, key: string, ctx: Ctx): Probe[] {
  let what: string;
  let where: string;
  let code: RowProbe["code"];
  let offence: RowProbe["offence"];
  if (c.kind === "setDomainNotNull") {
    what = `SET NOT NULL on domain ${keyOf(c.domain)}`;
    where = "t.value IS NULL";
    code = "NOT_NULL_VIOLATION";
    offence = ["holds NULL", "hold NULL"];
  } else {
    const name = c.kind === "addDomainConstraint" ? c.constraint.name : c.constraint;
    const def = c.kind === "addDomainConstraint" ? c.constraint : c.domain.constraints.find((x) => x.name === name);
    const expr = def ? checkExpression(def.definition) : null;
    if (!expr) return [];
    what = `check constraint ${name} of domain ${keyOf(c.domain)}`;
    where = `(${expr}) IS FALSE`;
    code = "CHECK_VIOLATION";
    offence = ["violates it", "violate it"];
  }
  const out: Probe[] = [];
  for (const t of ctx.live.tables) {
    for (const col of t.columns) {
      const u = col.userType;
      if (!u || u.array || u.schema !== c.domain.schema || u.name !== c.domain.name) continue;
      // Partitions and inheritance children are read through their parent when it has the column too.
      if (!col.local && col.inheritCount > 0) continue;
      const { expr: k, columns } = sampleKey(t);
      const from = `(SELECT ${k} AS ${KEY}, t.${quoteIdent(col.name)} AS value FROM ${quoteQualified(t.schema, t.name)} AS t) AS t`;
      out.push({ kind: "rows", key, code, what: `${what} (column ${keyOf(t)}.${col.name})`, offence, keyColumns: columns, sql: `SELECT t.${KEY} AS k FROM ${from} WHERE ${where} LIMIT ${PROBE_ROW_CAP + 1}` });
    }
  }
  return out;
}

function probesOfChange(c: Change, key: string, ctx: Ctx): Probe[] {
  switch (c.kind) {
    case "setNotNull":
      return rowProbe(ctx, c.table, [c.column], key, "NOT_NULL_VIOLATION", `SET NOT NULL on ${keyOf(c.table)}.${c.column}`, ["holds NULL", "hold NULL"], `t.${quoteIdent(c.column)} IS NULL`);
    case "addColumn": {
      // Only a column whose rows would all be NULL: a default (even nextval) or identity fills them,
      // and a generated column is computed.
      const col = c.column;
      if (!col.notNull || col.generated !== null || col.identity !== null || (col.default !== null && !/^NULL(::[\w\s]+)?$/i.test(col.default))) return [];
      return rowProbe(ctx, c.table, [], key, "NOT_NULL_VIOLATION", `adding NOT NULL column ${keyOf(c.table)}.${col.name} without a default`, ["exists (it would hold NULL)", "exist (each would hold NULL)"], "true");
    }
    case "alterColumnType":
      return castProbe(ctx, c, key);
    case "attachPartition":
      return partitionBoundProbe(ctx, c, key);
    case "addConstraint":
      return constraintProbes(ctx, c.table, c.constraint, key);
    case "validateConstraint": {
      const def = constraintDef(ctx, c.table, c.constraint);
      return def ? constraintProbes(ctx, c.table, def, key) : [];
    }
    case "createIndex": {
      const parsed = parseUniqueIndex(c.index.definition);
      if (!parsed) return [];
      // An expression key's columns are not listed: read those its text may name (more is harmless).
      const dt = desiredTable(ctx, c.table);
      const named = (dt?.columns ?? []).filter((col) => c.index.definition.includes(col.name));
      return duplicatesProbe(ctx, c.table, [...c.index.columns, ...named.map((col) => col.name)], key, `unique index ${c.index.name} on ${keyOf(c.table)}`, parsed.keys, parsed.nullsDistinct, parsed.where);
    }
    default:
      return [];
  }
}

// The definition of a constraint a validateConstraint step validates: added by the same plan, or desired.
function constraintDef(ctx: Ctx, table: QualifiedName, name: string): ConstraintDef | undefined {
  for (const c of ctx.changes) if (c.kind === "addConstraint" && keyOf(c.table) === keyOf(table) && c.constraint.name === name) return c.constraint;
  return desiredTable(ctx, table)?.constraints.find((c) => c.name === name);
}

function constraintProbes(ctx: Ctx, table: QualifiedName, c: ConstraintDef, key: string): Probe[] {
  // The CHECK behind an online SET NOT NULL is probed as the SET NOT NULL.
  if (c.name.endsWith("_setpoint_not_null")) return [];
  const label = `${c.kind === "PRIMARY KEY" ? "primary key" : c.kind === "UNIQUE" ? "unique constraint" : c.kind === "CHECK" ? "check constraint" : c.kind === "FOREIGN KEY" ? "foreign key" : "constraint"} ${c.name} on ${keyOf(table)}`;
  switch (c.kind) {
    case "CHECK": {
      const expr = checkExpression(c.definition);
      // A NULL result passes a CHECK: only FALSE offends.
      return expr ? rowProbe(ctx, table, c.columns, key, "CHECK_VIOLATION", label, ["violates it", "violate it"], `(${expr}) IS FALSE`) : [];
    }
    case "FOREIGN KEY":
      return foreignKeyProbe(ctx, table, c, key, label);
    case "UNIQUE":
    case "PRIMARY KEY": {
      const cols = c.columns.map(quoteIdent);
      const nullsDistinct = !/^UNIQUE NULLS NOT DISTINCT /.test(c.definition);
      // NULLs in a new primary key's columns are found by the SET NOT NULL the diff plans with it.
      return duplicatesProbe(ctx, table, c.columns, key, label, cols, nullsDistinct && c.kind === "UNIQUE", null);
    }
    default:
      return [];
  }
}

function foreignKeyProbe(ctx: Ctx, table: QualifiedName, c: ConstraintDef, key: string, label: string): Probe[] {
  const ref = c.references;
  const refCols = ref ? referencedColumns(c.definition) : null;
  if (!ref || !refCols || refCols.length !== c.columns.length) return [];
  const local = c.columns.map((x) => `t.${quoteIdent(x)}`);
  const allSet = local.map((x) => `${x} IS NOT NULL`).join(" AND ");
  // A referenced table the plan creates is empty when the constraint is checked.
  const refSource = ctx.created.has(keyOf(ref)) ? null : projection(ctx, ref, "r", refCols.map(unquoteIdent));
  if (refSource === undefined) return [];
  const match = refSource === null ? "false" : `EXISTS (SELECT 1 FROM ${refSource.from} WHERE ${refCols.map((rc, i) => `r.${rc} = ${local[i]}`).join(" AND ")})`;
  const full = / MATCH FULL\b/.test(c.definition);
  // MATCH SIMPLE: a key with any NULL passes. MATCH FULL: all NULL passes, some NULL offends.
  const where = full ? `(${local.map((x) => `${x} IS NOT NULL`).join(" OR ")}) AND NOT (${allSet} AND ${match})` : `${allSet} AND NOT ${match}`;
  return rowProbe(ctx, table, c.columns, key, "FOREIGN_KEY_VIOLATION", label, [`references no row of ${keyOf(ref)}`, `reference no row of ${keyOf(ref)}`], where);
}

function duplicatesProbe(ctx: Ctx, table: QualifiedName, needed: readonly string[], key: string, label: string, keys: readonly string[], nullsDistinct: boolean, where: string | null): Probe[] {
  const p = projection(ctx, table, "t", needed);
  const q = projection(ctx, table, "u", needed);
  if (!p || !q) return [];
  const filter = [...(nullsDistinct ? keys.map((k) => `(${k}) IS NOT NULL`) : []), ...(where ? [`(${where})`] : [])];
  const whereClause = filter.length ? ` WHERE ${filter.join(" AND ")}` : "";
  // Duplicate keys by a hashed aggregate first (no sort of the table), then rows holding them. Key
  // expressions are unqualified: inside, they read u; outside, t (d has only d1, d2, ...).
  const dup = `SELECT ${keys.map((k, i) => `(${k}) AS d${i + 1}`).join(", ")} FROM ${q.from}${whereClause} GROUP BY ${keys.map((_, i) => i + 1).join(", ")} HAVING count(*) > 1 LIMIT ${PROBE_ROW_CAP + 1}`;
  const eq = nullsDistinct ? "=" : "IS NOT DISTINCT FROM";
  const sql = `SELECT t.${KEY} AS k FROM ${p.from} JOIN (${dup}) AS d ON ${keys.map((k, i) => `(${k}) ${eq} d.d${i + 1}`).join(" AND ")}${whereClause} LIMIT ${PROBE_ROW_CAP + 1}`;
  return [{ kind: "rows", key, code: "UNIQUE_VIOLATION", what: label, offence: ["shares its key with another row", "share their key with another row"], keyColumns: p.keyColumns, sql }];
}

function rowProbe(ctx: Ctx, table: QualifiedName, needed: readonly string[], key: string, code: RowProbe["code"], what: string, offence: RowProbe["offence"], where: string): Probe[] {
  const p = projection(ctx, table, "t", needed);
  if (!p) return [];
  const sql = `SELECT t.${KEY} AS k FROM ${p.from} WHERE ${where} LIMIT ${PROBE_ROW_CAP + 1}`;
  return [{ kind: "rows", key, code, what, offence, keyColumns: p.keyColumns, sql }];
}

function castProbe(ctx: Ctx, c: Extract<Change, { kind: "alterColumnType" }>, key: string): Probe[] {
  if (!c.rewrite || c.to === "text" || SAFE_WIDENINGS.has(`${c.from}>${c.to}`)) return [];
  const lt = liveTable(ctx, c.table);
  if (!lt) return [];
  const col = quoteIdent(liveColumnName(ctx, c.table, c.column));
  const { expr: keyExpr, columns: keyColumns } = sampleKey(lt);
  const source = `FROM ${quoteQualified(lt.schema, lt.name)} AS t WHERE t.${col} IS NOT NULL`;
  // Type texts come from format_type (PostgreSQL's own quoting), as in the ALTER the plan renders.
  const cast = `(t.${col}::${c.to})`;
  const scan = (lossy: boolean) =>
    lossy
      ? `SELECT count(*) FILTER (WHERE (${cast}::${c.from}) IS DISTINCT FROM t.${col})::bigint AS n, min(${keyExpr}) FILTER (WHERE (${cast}::${c.from}) IS DISTINCT FROM t.${col}) AS k ${source}`
      : `SELECT count(*) FILTER (WHERE ${cast} IS NULL)::bigint AS n, NULL::text AS k ${source}`;
  const body =
    `DECLARE r record; n bigint := 0; s text; BEGIN ` +
    `FOR r IN SELECT ${keyExpr} AS k, t.${col} AS v ${source} LOOP ` +
    `BEGIN PERFORM r.v::${c.to}; EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN n := n + 1; s := coalesce(s, r.k); END; ` +
    `END LOOP; ` +
    `PERFORM set_config('${CAST_RESULT_SETTINGS.count}', n::text, true); PERFORM set_config('${CAST_RESULT_SETTINGS.sample}', coalesce(s, ''), true); END`;
  return [
    {
      kind: "cast",
      key,
      what: `changing ${keyOf(c.table)}.${c.column} from ${c.from} to ${c.to}`,
      keyColumns,
      table: c.table,
      column: c.column,
      from: c.from,
      to: c.to,
      scan,
      perRow: body,
    },
  ];
}

// Type changes that keep every value (beyond those that need no rewrite, see diff.ts needsRewrite).
const SAFE_WIDENINGS = new Set(
  [
    ["smallint", "integer"],
    ["smallint", "bigint"],
    ["integer", "bigint"],
    ["smallint", "numeric"],
    ["integer", "numeric"],
    ["bigint", "numeric"],
    ["smallint", "real"],
    ["smallint", "double precision"],
    ["integer", "double precision"],
    ["real", "double precision"],
    ["date", "timestamp without time zone"],
    ["date", "timestamp with time zone"],
  ].map(([a, b]) => `${a}>${b}`),
);

/**
 * The rows of a table as they will be when the step runs, under the desired column names: the live
 * table with renamed columns under their new names, type changes cast, and added columns at their
 * default (NULL without one); only the `needed` columns. `undefined` when the table is not live.
 */
function projection(ctx: Ctx, table: QualifiedName, alias: string, needed: readonly string[]): { from: string; keyColumns: readonly string[] } | undefined {
  const lt = liveTable(ctx, table);
  const dt = desiredTable(ctx, table);
  if (!lt || !dt) return undefined;
  const liveCols = new Map(lt.columns.map((c) => [c.name, c]));
  // Only the columns the probe reads: another new column's default (a nextval of a sequence the
  // plan creates) must not be evaluated, nor even parsed.
  const cols = dt.columns.filter((d) => needed.includes(d.name)).map((d) => {
    const lc = liveCols.get(liveColumnName(ctx, table, d.name));
    if (lc) return `t.${quoteIdent(lc.name)}${lc.type === d.type ? "" : `::${d.type}`} AS ${quoteIdent(d.name)}`;
    // A generated or identity column is filled by the server; its value is not predicted here.
    const value = d.default !== null && d.generated === null && d.identity === null ? `(${d.default})` : "NULL";
    return `${value}::${d.type} AS ${quoteIdent(d.name)}`;
  });
  const { expr, columns } = sampleKey(lt);
  return { from: `(SELECT ${expr} AS ${KEY}${cols.map((c) => `, ${c}`).join("")} FROM ${quoteQualified(lt.schema, lt.name)} AS t) AS ${alias}`, keyColumns: columns };
}

/** The sample key of a row of `t` (alias `t`): its primary key, else its `ctid`, as JSON array text. */
function sampleKey(t: TableDef): { expr: string; columns: readonly string[] } {
  const pk = t.constraints.find((c) => c.kind === "PRIMARY KEY");
  if (pk && pk.columns.length) return { expr: `json_build_array(${pk.columns.map((c) => `t.${quoteIdent(c)}`).join(", ")})::text`, columns: pk.columns };
  return { expr: `json_build_array(t.ctid::text)::text`, columns: ["ctid"] };
}

function unquoteIdent(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replaceAll('""', '"') : text;
}

function liveTable(ctx: Ctx, table: QualifiedName): TableDef | undefined {
  const k = ctx.tableRenames.get(keyOf(table)) ?? keyOf(table);
  return ctx.live.tables.find((t) => keyOf(t) === k);
}

function desiredTable(ctx: Ctx, table: QualifiedName): TableDef | undefined {
  return ctx.desired.tables.find((t) => keyOf(t) === keyOf(table));
}

function liveColumnName(ctx: Ctx, table: QualifiedName, column: string): string {
  return ctx.columnRenames.get(keyOf(table))?.get(column) ?? column;
}

/** The expression of a `CHECK ((expr))` definition, or null when it has another form. */
export function checkExpression(definition: string): string | null {
  if (!definition.startsWith("CHECK (")) return null;
  const end = closingParen(definition, "CHECK ".length);
  return end < 0 ? null : definition.slice("CHECK (".length, end);
}

/** The referenced columns of a `FOREIGN KEY (...) REFERENCES t(...)` definition, as printed (quoted where needed). */
export function referencedColumns(definition: string): string[] | null {
  const at = definition.indexOf(" REFERENCES ");
  if (at < 0) return null;
  const open = nextOpenParen(definition, at + " REFERENCES ".length);
  const end = open < 0 ? -1 : closingParen(definition, open);
  return end < 0 ? null : splitTopLevel(definition.slice(open + 1, end));
}

/**
 * The key expressions, NULLS NOT DISTINCT and predicate of a `CREATE UNIQUE INDEX` definition
 * (`pg_get_indexdef`), or null when it is not a unique btree index of a recognised form.
 */
export function parseUniqueIndex(definition: string): { keys: string[]; nullsDistinct: boolean; where: string | null } | null {
  const m = /^CREATE UNIQUE INDEX .*? USING btree \(/.exec(definition);
  if (!m) return null;
  const open = m[0].length - 1;
  const end = closingParen(definition, open);
  if (end < 0) return null;
  // Sort order and NULLS placement do not change which keys are equal.
  const keys = splitTopLevel(definition.slice(open + 1, end)).map((k) => k.replace(/(?: (?:ASC|DESC))?(?: NULLS (?:FIRST|LAST))?$/, ""));
  const rest = definition.slice(end + 1);
  const where = topLevelIndex(rest, " WHERE ");
  return { keys, nullsDistinct: !/^(?: INCLUDE \(.*?\))? NULLS NOT DISTINCT/.test(rest), where: where < 0 ? null : rest.slice(where + " WHERE ".length) };
}

// Scanning of SQL text printed by PostgreSQL: parentheses outside quoted identifiers and literals.
function scan(text: string, from: number, visit: (ch: string, i: number, depth: number) => boolean): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'" || ch === '"') {
      const close = text.indexOf(ch, i + 1);
      if (close < 0) return -1;
      i = close;
      // A doubled quote inside continues the quoted text: the next iteration sees it as a new one.
      continue;
    }
    if (ch === "(") depth++;
    if (visit(ch, i, depth)) return i;
    if (ch === ")") depth--;
  }
  return -1;
}

function closingParen(text: string, open: number): number {
  return scan(text, open, (ch, _i, depth) => ch === ")" && depth === 1);
}

function nextOpenParen(text: string, from: number): number {
  return scan(text, from, (ch) => ch === "(");
}

function topLevelIndex(text: string, needle: string): number {
  return scan(text, 0, (_ch, i, depth) => depth === 0 && text.startsWith(needle, i));
}

function splitTopLevel(list: string): string[] {
  const out: string[] = [];
  let start = 0;
  scan(list, 0, (ch, i, depth) => {
    if (ch === "," && depth === 0) {
      out.push(list.slice(start, i).trim());
      start = i + 1;
    }
    return false;
  });
  out.push(list.slice(start).trim());
  return out.filter(Boolean);
}
