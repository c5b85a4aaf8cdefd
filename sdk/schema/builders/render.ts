/**
 * Renders validated builder definitions to DDL. Every identifier and string literal goes through
 * `sdk/postgres/quote.ts`; numbers are written only after validation proved them finite integers
 * or finite numbers, and keywords come from closed unions.
 */
import { quoteIdent, quoteLiteral, quoteQualified } from "../../postgres/quote";
import { isSql } from "./sql";
import type {
  AnyTable,
  CheckSpec,
  ColumnSpec,
  ColumnType,
  EnumType,
  ExtensionSpec,
  IndexKey,
  IndexSpec,
  ObjectName,
  ReferenceOptions,
  SchemaDefinition,
  Sequence,
  SequenceOptions,
  StorageValue,
  TableRef,
} from "./types";

/** SQL text of a column type, e.g. `character varying(200)`, `"app"."status"[]`. */
export function renderType(type: ColumnType): string {
  switch (type.kind) {
    case "scalar":
      return type.name;
    case "numeric":
      return type.precision === null ? "numeric" : type.scale === null ? `numeric(${type.precision})` : `numeric(${type.precision}, ${type.scale})`;
    case "varchar":
      return type.length === null ? "character varying" : `character varying(${type.length})`;
    case "char":
      return type.length === null ? "character" : `character(${type.length})`;
    case "time":
      return type.precision === null ? "time without time zone" : `time(${type.precision}) without time zone`;
    case "timestamp":
      return type.precision === null ? "timestamp without time zone" : `timestamp(${type.precision}) without time zone`;
    case "timestamptz":
      return type.precision === null ? "timestamp with time zone" : `timestamp(${type.precision}) with time zone`;
    case "enum":
      return quoteQualified(type.enum.schema, type.enum.name);
    case "custom":
      return type.text;
    case "array":
      return `${renderType(type.element)}[]`;
    default:
      return unreachable(type);
  }
}

function unreachable(value: never): never {
  throw new Error(`unhandled builder variant ${JSON.stringify(value)}`);
}

function isJsonType(type: ColumnType): boolean {
  return type.kind === "scalar" && (type.name === "json" || type.name === "jsonb");
}

/** SQL text of a literal default of `type`. */
export function renderValue(type: ColumnType, value: unknown, top = true): string {
  if (isSql(value)) return value.text;
  if (type.kind === "array" && Array.isArray(value)) {
    if (value.length === 0) return quoteLiteral("{}");
    const items = value.map((v: unknown) => renderValue(type.element, v, false)).join(", ");
    // Elements are untyped literals; the cast gives the array its column type.
    return top ? `ARRAY[${items}]::${renderType(type)}` : `ARRAY[${items}]`;
  }
  if (isJsonType(type)) return quoteLiteral(JSON.stringify(value));
  if (value instanceof Date) return quoteLiteral(value.toISOString());
  if (typeof value === "string") return quoteLiteral(value);
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new TypeError(`cannot render ${typeof value} as a default of ${renderType(type)}`);
}

function sequenceClauses(o: SequenceOptions): string[] {
  const out: string[] = [];
  if (o.increment !== undefined) out.push(`INCREMENT BY ${o.increment}`);
  if (o.minValue !== undefined) out.push(`MINVALUE ${o.minValue}`);
  if (o.maxValue !== undefined) out.push(`MAXVALUE ${o.maxValue}`);
  if (o.start !== undefined) out.push(`START WITH ${o.start}`);
  if (o.cache !== undefined) out.push(`CACHE ${o.cache}`);
  if (o.cycle) out.push("CYCLE");
  return out;
}

function named(name: string | undefined): string {
  return name === undefined ? "" : `CONSTRAINT ${quoteIdent(name)} `;
}

function check(c: CheckSpec): string {
  return `${named(c.name)}CHECK (${c.expression.text})`;
}

function columnList(names: readonly string[]): string {
  return names.map(quoteIdent).join(", ");
}

/** One column definition inside CREATE TABLE (foreign keys are rendered separately). */
export function renderColumn(name: string, c: ColumnSpec): string {
  const parts = [quoteIdent(name), renderType(c.type)];
  if (c.collate !== null) parts.push(`COLLATE ${quoteIdent(c.collate)}`);
  if (c.generated !== null) parts.push(`GENERATED ALWAYS AS (${c.generated.text}) STORED`);
  if (c.identity !== null) {
    const opts = sequenceClauses(c.identity.options);
    parts.push(`GENERATED ${c.identity.generation === "always" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY${opts.length ? ` (${opts.join(" ")})` : ""}`);
  }
  if (c.default !== null) parts.push(`DEFAULT ${isSql(c.default) ? c.default.text : renderValue(c.type, c.default.value)}`);
  if (c.notNull) parts.push("NOT NULL");
  if (c.primaryKey) parts.push("PRIMARY KEY");
  if (c.unique !== null) parts.push(`${named(c.unique.name)}UNIQUE${c.unique.nullsNotDistinct ? " NULLS NOT DISTINCT" : ""}`);
  for (const ch of c.checks) parts.push(check(ch));
  return parts.join(" ");
}

function storage(options: Readonly<Record<string, StorageValue>> | undefined): string {
  const entries = Object.entries(options ?? {});
  if (entries.length === 0) return "";
  const rendered = entries.map(([k, v]) => {
    // Namespaced parameters (`toast.autovacuum_enabled`) are two identifiers.
    const key = k.split(".").map(quoteIdent).join(".");
    return `${key} = ${typeof v === "string" ? quoteLiteral(v) : String(v)}`;
  });
  return ` WITH (${rendered.join(", ")})`;
}

function qualified(o: ObjectName): string {
  return quoteQualified(o.schema, o.name);
}

/** CREATE TABLE with columns and every constraint except foreign keys. */
export function renderCreateTable(t: AnyTable): string {
  const lines = Object.entries(t.columns).map(([name, col]) => renderColumn(name, col.spec));
  if (t.primaryKey) {
    const pk = Array.isArray(t.primaryKey) ? { columns: t.primaryKey as readonly string[] } : (t.primaryKey as { name?: string; columns: readonly string[] });
    lines.push(`${named(pk.name)}PRIMARY KEY (${columnList(pk.columns)})`);
  }
  for (const u of t.uniques ?? []) lines.push(`${named(u.name)}UNIQUE${u.nullsNotDistinct ? " NULLS NOT DISTINCT" : ""} (${columnList(u.columns)})`);
  for (const c of t.checks ?? []) lines.push(check(c));
  for (const x of t.exclusions ?? []) lines.push(`${named(x.name)}EXCLUDE ${x.definition.text}`);
  const body = lines.map((l) => `  ${l}`).join(",\n");
  return `CREATE ${t.unlogged ? "UNLOGGED " : ""}TABLE ${qualified(t)} (\n${body}\n)${storage(t.storage)};`;
}

/** `ALTER TABLE … ALTER COLUMN … SET STATISTICS / STORAGE / COMPRESSION` of the columns that set them (STORAGE is no CREATE TABLE clause before PostgreSQL 16). */
export function renderColumnAttributes(t: AnyTable): string[] {
  const actions = Object.entries(t.columns).flatMap(([name, col]) => {
    const c = col.spec;
    const on = `ALTER COLUMN ${quoteIdent(name)}`;
    return [
      ...(c.statistics !== null && c.statistics !== undefined ? [`${on} SET STATISTICS ${c.statistics}`] : []),
      ...(c.storage !== null && c.storage !== undefined ? [`${on} SET STORAGE ${c.storage.toUpperCase()}`] : []),
      ...(c.compression !== null && c.compression !== undefined ? [`${on} SET COMPRESSION ${c.compression}`] : []),
    ];
  });
  return actions.length === 0 ? [] : [`ALTER TABLE ${qualified(t)} ${actions.join(", ")};`];
}

function fkTail(o: ReferenceOptions): string {
  let s = "";
  if (o.match === "full") s += " MATCH FULL";
  if (o.onDelete && o.onDelete !== "no action") s += ` ON DELETE ${o.onDelete.toUpperCase()}`;
  if (o.onUpdate && o.onUpdate !== "no action") s += ` ON UPDATE ${o.onUpdate.toUpperCase()}`;
  if (o.deferrable) s += o.initiallyDeferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE";
  return s;
}

/** Resolves a builder table or a `{ schema, name }` reference to a qualified name. */
export function targetOf(ref: AnyTable | TableRef): ObjectName {
  return { schema: ref.schema ?? "public", name: ref.name };
}

/** `ALTER TABLE ... ADD ... FOREIGN KEY` statements, column-level first, then table-level. */
export function renderForeignKeys(t: AnyTable): string[] {
  const out: string[] = [];
  const add = (name: string | undefined, cols: readonly string[], target: ObjectName, refCols: readonly string[], o: ReferenceOptions) =>
    out.push(`ALTER TABLE ${qualified(t)} ADD ${named(name)}FOREIGN KEY (${columnList(cols)}) REFERENCES ${qualified(target)} (${columnList(refCols)})${fkTail(o)};`);
  for (const [name, col] of Object.entries(t.columns)) {
    const r = col.spec.references;
    if (r) add(r.name, [name], r.table, [r.column], r);
  }
  for (const fk of t.foreignKeys ?? []) add(fk.name, fk.columns, targetOf(fk.references), fk.referencedColumns, fk);
  return out;
}

function indexKey(k: string | IndexKey<string>): string {
  if (typeof k === "string") return quoteIdent(k);
  let s = k.column !== undefined ? quoteIdent(k.column) : `(${k.expression.text})`;
  if (k.collate !== undefined) s += ` COLLATE ${quoteIdent(k.collate)}`;
  if (k.opclass !== undefined) s += ` ${quoteIdent(k.opclass)}`;
  if (k.order === "desc") s += " DESC";
  if (k.nulls !== undefined) s += ` NULLS ${k.nulls.toUpperCase()}`;
  return s;
}

/** CREATE INDEX for one index of a table. */
export function renderIndex(t: AnyTable, ix: IndexSpec<string>): string {
  let s = `CREATE ${ix.unique ? "UNIQUE " : ""}INDEX ${ix.name === undefined ? "" : `${quoteIdent(ix.name)} `}ON ${qualified(t)}`;
  if (ix.method !== undefined && ix.method !== "btree") s += ` USING ${ix.method}`;
  s += ` (${ix.columns.map(indexKey).join(", ")})`;
  if (ix.include?.length) s += ` INCLUDE (${columnList(ix.include)})`;
  if (ix.nullsNotDistinct) s += " NULLS NOT DISTINCT";
  s += storage(ix.with);
  if (ix.where !== undefined) s += ` WHERE ${ix.where.text}`;
  return `${s};`;
}

function renderEnum(e: EnumType): string {
  return `CREATE TYPE ${qualified(e)} AS ENUM (${e.values.map(quoteLiteral).join(", ")});`;
}

function renderSequence(q: Sequence): string {
  const clauses = [...(q.as !== undefined ? [`AS ${q.as}`] : []), ...sequenceClauses(q)];
  return `CREATE SEQUENCE ${qualified(q)}${clauses.length ? ` ${clauses.join(" ")}` : ""};`;
}

function renderExtension(e: ExtensionSpec): string {
  const x = typeof e === "string" ? { name: e } : e;
  return `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(x.name)}${x.schema === undefined ? "" : ` WITH SCHEMA ${quoteIdent(x.schema)}`};`;
}

function comment(target: string, text: string | null | undefined): string[] {
  return text === undefined || text === null ? [] : [`COMMENT ON ${target} IS ${quoteLiteral(text)};`];
}

/** Every non-public schema the definition puts objects in, sorted. */
export function schemasOf(def: SchemaDefinition): string[] {
  const names = new Set<string>();
  for (const o of [...(def.tables ?? []), ...(def.enums ?? []), ...(def.sequences ?? [])]) names.add(o.schema);
  for (const e of def.extensions ?? []) if (typeof e !== "string" && e.schema !== undefined) names.add(e.schema);
  names.delete("public");
  return [...names].sort();
}

/**
 * The whole definition as one script, in dependency order: schemas, extensions, enums,
 * sequences, tables, sequence ownership, foreign keys, indexes, comments.
 */
export function renderSchema(def: SchemaDefinition): string {
  const tables = def.tables ?? [];
  const sequences = def.sequences ?? [];
  const sections: string[][] = [
    schemasOf(def).map((s) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)};`),
    (def.extensions ?? []).map(renderExtension),
    (def.enums ?? []).map(renderEnum),
    sequences.map(renderSequence),
    tables.map(renderCreateTable),
    tables.flatMap(renderColumnAttributes),
    sequences.flatMap((q) =>
      q.ownedBy ? [`ALTER SEQUENCE ${qualified(q)} OWNED BY ${qualified(targetOf(q.ownedBy.table))}.${quoteIdent(q.ownedBy.column)};`] : [],
    ),
    tables.flatMap(renderForeignKeys),
    tables.flatMap((t) => (t.indexes ?? []).map((ix) => renderIndex(t, ix))),
    [
      ...(def.enums ?? []).flatMap((e) => comment(`TYPE ${qualified(e)}`, e.comment)),
      ...sequences.flatMap((q) => comment(`SEQUENCE ${qualified(q)}`, q.comment)),
      ...tables.flatMap((t) => [
        ...comment(`TABLE ${qualified(t)}`, t.comment),
        ...Object.entries(t.columns).flatMap(([name, col]) => comment(`COLUMN ${qualified(t)}.${quoteIdent(name)}`, col.spec.comment)),
        ...(t.indexes ?? []).flatMap((ix) => (ix.name === undefined ? [] : comment(`INDEX ${quoteQualified(t.schema, ix.name)}`, ix.comment))),
      ]),
    ],
  ];
  return sections
    .filter((s) => s.length > 0)
    .map((s) => s.join("\n"))
    .join("\n\n")
    .concat("\n");
}
