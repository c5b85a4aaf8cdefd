import { quoteLiteral, quoteQualified } from "../../postgres/quote";
import { sql, type SqlExpr } from "./sql";
import type { ColumnsShape, EnumType, Sequence, SequenceOptions, Table, TableOptions, TableRef, AnyTable } from "./types";

// Freezing the top level is enough: nested arrays come from the caller's literal and are copied.
function frozen<T extends object>(value: T): T {
  return Object.freeze(value);
}

/**
 * Defines a table. Column keys are the SQL column names, used verbatim. Table-level options are
 * typed by the column keys, so `primaryKey`, `uniques`, `foreignKeys` and `indexes` can only name
 * columns the table has. Validated by `defineSchema`, not here, so errors carry the full path.
 * @param options.schema @default "public"
 */
export function table<TCols extends ColumnsShape>(name: string, options: TableOptions<TCols>): Table<TCols> {
  return frozen({ ...options, columns: frozen({ ...options.columns }), kind: "table" as const, schema: options.schema ?? "public", name });
}

/**
 * Defines an enum type; values keep their order (it is the enum's sort order).
 * @param options.schema @default "public"
 * @param options.comment @default none
 */
export function enumType<const V extends string>(name: string, values: readonly V[], options: { schema?: string; comment?: string } = {}): EnumType<V> {
  return frozen({
    kind: "enum" as const,
    schema: options.schema ?? "public",
    name,
    values: frozen([...values]),
    ...(options.comment === undefined ? {} : { comment: options.comment }),
  });
}

/** Options of `sequence()`. */
export interface SequenceDefinition extends SequenceOptions {
  /** @default "public" */
  readonly schema?: string;
  /** @default "bigint" */
  readonly as?: "smallint" | "integer" | "bigint";
  /** Column that owns the sequence; `table` must be a builder table or a table defined elsewhere. @default none */
  readonly ownedBy?: { readonly table: AnyTable | TableRef; readonly column: string };
  /** @default none */
  readonly comment?: string;
}

/** Defines a standalone sequence; use `seq.nextval()` as a column default. */
export function sequence(name: string, options: SequenceDefinition = {}): Sequence {
  const schema = options.schema ?? "public";
  return frozen({
    ...options,
    kind: "sequence" as const,
    schema,
    name,
    nextval(): SqlExpr {
      // The regclass argument is a string literal holding a quoted qualified name.
      return sql.raw(`nextval(${quoteLiteral(quoteQualified(schema, name))})`);
    },
  });
}
