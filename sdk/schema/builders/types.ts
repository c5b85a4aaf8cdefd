/**
 * Plain data shapes behind the schema builders. Builders are immutable; `defineSchema` validates
 * these shapes and renders them to DDL that the engine normalizes like any hand-written SQL.
 */
import type { SqlExpr } from "./sql";

/** A schema-qualified object name. */
export interface ObjectName {
  readonly schema: string;
  readonly name: string;
}

/** Built-in types without parameters, by their SQL spelling. */
export type ScalarTypeName =
  | "smallint"
  | "integer"
  | "bigint"
  | "smallserial"
  | "serial"
  | "bigserial"
  | "real"
  | "double precision"
  | "boolean"
  | "text"
  | "uuid"
  | "bytea"
  | "date"
  | "interval"
  | "json"
  | "jsonb"
  | "inet"
  | "cidr"
  | "macaddr"
  | "citext"
  | "tsvector";

/** A column's data type; rendered by `renderType`. */
export type ColumnType =
  | { readonly kind: "scalar"; readonly name: ScalarTypeName }
  | { readonly kind: "numeric"; readonly precision: number | null; readonly scale: number | null }
  | { readonly kind: "varchar" | "char"; readonly length: number | null }
  | { readonly kind: "time" | "timestamp" | "timestamptz"; readonly precision: number | null }
  | { readonly kind: "enum"; readonly enum: ObjectName }
  | { readonly kind: "custom"; readonly text: string; readonly extension: string | null }
  | { readonly kind: "array"; readonly element: ColumnType };

/** A JSON value, as accepted by `default()` on `json` and `jsonb` columns. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Referential action of a foreign key. */
export type ReferentialAction = "no action" | "restrict" | "cascade" | "set null" | "set default";

/** Options of a foreign key (column-level `references` or table-level `foreignKeys`). */
export interface ReferenceOptions {
  /** Constraint name. @default chosen by PostgreSQL (`<table>_<column>_fkey`) */
  readonly name?: string;
  /** @default "no action" */
  readonly onDelete?: ReferentialAction;
  /** @default "no action" */
  readonly onUpdate?: ReferentialAction;
  /** `MATCH FULL` or `MATCH SIMPLE`. @default "simple" */
  readonly match?: "full" | "simple";
  /** @default false */
  readonly deferrable?: boolean;
  /** Only with `deferrable`. @default false */
  readonly initiallyDeferred?: boolean;
}

/** A referenced table that is not a builder table (e.g. defined in SQL next to the builders). */
export interface TableRef {
  /** @default "public" */
  readonly schema?: string;
  readonly name: string;
  /** Never set: it keeps builder tables (which have columns) on the typed overload. */
  readonly columns?: never;
}

/** Where a foreign key points, resolved; `builder` says the target was a builder table. */
export interface ReferenceTarget extends ObjectName {
  readonly builder: boolean;
}

/** A column-level foreign key. */
export interface ReferenceSpec extends ReferenceOptions {
  readonly table: ReferenceTarget;
  readonly column: string;
}

/** Sequence options shared by identity columns and standalone sequences. */
export interface SequenceOptions {
  /** @default 1 (or the maximum for a descending sequence) */
  readonly start?: number | bigint;
  /** @default 1 */
  readonly increment?: number | bigint;
  /** @default the type's minimum (1 for ascending sequences) */
  readonly minValue?: number | bigint;
  /** @default the type's maximum */
  readonly maxValue?: number | bigint;
  /** @default 1 */
  readonly cache?: number | bigint;
  /** @default false */
  readonly cycle?: boolean;
}

/** Identity of a column (`GENERATED ... AS IDENTITY`). */
export interface IdentitySpec {
  readonly generation: "always" | "by default";
  readonly options: SequenceOptions;
}

/** A named or anonymous CHECK constraint. */
export interface CheckSpec {
  /** @default chosen by PostgreSQL (`<table>_<column>_check`) */
  readonly name?: string;
  readonly expression: SqlExpr;
}

/** A column default: a literal value (quoted) or a raw expression. */
export type DefaultSpec = { readonly kind: "value"; readonly value: unknown } | SqlExpr;

/** Everything a column builder has collected. */
export interface ColumnSpec {
  readonly type: ColumnType;
  readonly notNull: boolean;
  readonly default: DefaultSpec | null;
  readonly primaryKey: boolean;
  readonly unique: { readonly name?: string; readonly nullsNotDistinct: boolean } | null;
  readonly checks: readonly CheckSpec[];
  readonly references: ReferenceSpec | null;
  readonly generated: SqlExpr | null;
  readonly identity: IdentitySpec | null;
  readonly collate: string | null;
  /** `ALTER COLUMN … SET STATISTICS`. */
  readonly statistics: number | null;
  /** `ALTER COLUMN … SET STORAGE`. */
  readonly storage: ColumnStorageMode | null;
  /** `ALTER COLUMN … SET COMPRESSION`. */
  readonly compression: ColumnCompression | null;
  readonly comment: string | null;
  readonly renamedFrom: string | null;
}

/** A column's storage mode (`SET STORAGE`). */
export type ColumnStorageMode = "plain" | "external" | "extended" | "main";

/** A column's TOAST compression method (`SET COMPRESSION`; `lz4` needs a server built with it). */
export type ColumnCompression = "pglz" | "lz4";

/** The primary key of a table: column names, or a named constraint. */
export type PrimaryKeySpec<K extends string> = readonly K[] | { readonly name?: string; readonly columns: readonly K[] };

/** A table-level UNIQUE constraint. */
export interface UniqueSpec<K extends string> {
  /** @default chosen by PostgreSQL (`<table>_<columns>_key`) */
  readonly name?: string;
  readonly columns: readonly K[];
  /** `NULLS NOT DISTINCT` (PostgreSQL 15+). @default false */
  readonly nullsNotDistinct?: boolean;
}

/** A table-level (composite) foreign key. */
export interface ForeignKeySpec<K extends string> extends ReferenceOptions {
  readonly columns: readonly K[];
  /** A builder table, or the name of a table defined elsewhere. */
  readonly references: AnyTable | TableRef;
  /** Referenced columns, in the order of `columns`. */
  readonly referencedColumns: readonly string[];
}

/** An exclusion constraint; `definition` is everything after `EXCLUDE`. */
export interface ExclusionSpec {
  /** @default chosen by PostgreSQL (`<table>_<columns>_excl`) */
  readonly name?: string;
  /** Trusted text, e.g. ``sql`USING gist (during WITH &&)` ``. */
  readonly definition: SqlExpr;
}

/** Index access methods. */
export type IndexMethod = "btree" | "hash" | "gist" | "spgist" | "gin" | "brin";

/** One key of an index, with its per-key options. */
export type IndexKey<K extends string> = (
  | { readonly column: K; readonly expression?: never }
  | { readonly expression: SqlExpr; readonly column?: never }
) & {
  /** Operator class, e.g. `text_pattern_ops`. @default the type's default for the method */
  readonly opclass?: string;
  /** @default "asc" */
  readonly order?: "asc" | "desc";
  /** @default "last" for ascending keys, "first" for descending ones */
  readonly nulls?: "first" | "last";
  /** @default the column's collation */
  readonly collate?: string;
};

/** A storage parameter value (`WITH (name = value)`). */
export type StorageValue = string | number | boolean;

/** An index that does not back a constraint. */
export interface IndexSpec<K extends string> {
  /** @default chosen by PostgreSQL (`<table>_<column>_idx`); required with `comment` */
  readonly name?: string;
  /** Keys: column names, or `{ column | expression, opclass, order, nulls, collate }`. */
  readonly columns: readonly (K | IndexKey<K>)[];
  /** @default false */
  readonly unique?: boolean;
  /** `NULLS NOT DISTINCT` for unique indexes (PostgreSQL 15+). @default false */
  readonly nullsNotDistinct?: boolean;
  /** @default "btree" */
  readonly method?: IndexMethod;
  /** Partial-index predicate. @default none */
  readonly where?: SqlExpr;
  /** Non-key columns (`INCLUDE`). @default [] */
  readonly include?: readonly K[];
  /** Storage parameters, e.g. `{ fillfactor: 70 }`. @default {} */
  readonly with?: Readonly<Record<string, StorageValue>>;
  /** @default none */
  readonly comment?: string;
}

/** The columns record of a table, keyed by the SQL column names (used verbatim). */
export type ColumnsShape = Readonly<Record<string, ColumnLike>>;

/** What tables hold in `columns`; `Column` is the only implementation. */
export interface ColumnLike {
  readonly spec: ColumnSpec;
}

/** Arguments of `table()`, typed by its columns. */
export interface TableOptions<TCols extends ColumnsShape> {
  /** @default "public" */
  readonly schema?: string;
  readonly columns: TCols;
  /** Composite primary key; use `.primaryKey()` on the column for a single one. @default none */
  readonly primaryKey?: PrimaryKeySpec<keyof TCols & string>;
  /** @default [] */
  readonly uniques?: readonly UniqueSpec<keyof TCols & string>[];
  /** @default [] */
  readonly checks?: readonly CheckSpec[];
  /** @default [] */
  readonly foreignKeys?: readonly ForeignKeySpec<keyof TCols & string>[];
  /** @default [] */
  readonly exclusions?: readonly ExclusionSpec[];
  /** @default [] */
  readonly indexes?: readonly IndexSpec<keyof TCols & string>[];
  /** `CREATE UNLOGGED TABLE`. @default false */
  readonly unlogged?: boolean;
  /** Storage parameters, e.g. `{ fillfactor: 80, autovacuum_enabled: false }`. @default {} */
  readonly storage?: Readonly<Record<string, StorageValue>>;
  /** @default none */
  readonly comment?: string;
  /** The table's previous name in the same schema; becomes a declared rename. @default none */
  readonly renamedFrom?: string;
}

/** A table built by `table()`; immutable. */
export interface Table<TCols extends ColumnsShape = ColumnsShape> extends TableOptions<TCols> {
  readonly kind: "table";
  readonly schema: string;
  readonly name: string;
}

/**
 * Any builder table, whatever its columns. A separate interface, not `Table<ColumnsShape>`:
 * `keyof TCols` makes `Table` invariant in its columns, so only a structural match accepts all.
 */
export interface AnyTable extends TableOptions<ColumnsShape> {
  readonly kind: "table";
  readonly schema: string;
  readonly name: string;
}

/** An enum type built by `enumType()`; immutable. */
export interface EnumType<V extends string = string> {
  readonly kind: "enum";
  readonly schema: string;
  readonly name: string;
  readonly values: readonly V[];
  readonly comment?: string;
}

/** A standalone sequence built by `sequence()`; immutable. */
export interface Sequence extends SequenceOptions {
  readonly kind: "sequence";
  readonly schema: string;
  readonly name: string;
  /** @default "bigint" */
  readonly as?: "smallint" | "integer" | "bigint";
  /** Column that owns the sequence (dropped with it). @default none */
  readonly ownedBy?: { readonly table: AnyTable | TableRef; readonly column: string };
  readonly comment?: string;
  /** `nextval('<sequence>')`, for a column default. */
  nextval(): SqlExpr;
}

/** An extension to install: its name, or its name and target schema. */
export type ExtensionSpec = string | { readonly name: string; /** @default the extension's own default */ readonly schema?: string };

/** Input of `defineSchema`. */
export interface SchemaDefinition {
  /** @default [] */
  readonly extensions?: readonly ExtensionSpec[];
  /** @default [] */
  readonly enums?: readonly EnumType[];
  /** @default [] */
  readonly sequences?: readonly Sequence[];
  /** @default [] */
  readonly tables?: readonly AnyTable[];
}
