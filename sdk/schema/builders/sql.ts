import { quoteIdent, quoteLiteral, quoteQualified } from "../../postgres/quote";

// A symbol brand, so a JSON default that happens to look like `{ kind: "sql", text }` is never
// mistaken for raw SQL.
const BRAND: unique symbol = Symbol("setpoint.sql");

/**
 * A raw SQL fragment (an expression, a predicate, an exclusion body). Its text is **trusted**: it
 * is written into the DDL verbatim, so build it only from code you control, never from end-user data.
 * Create one with the {@link sql} tag.
 */
export interface SqlExpr {
  readonly kind: "sql";
  readonly text: string;
  readonly [BRAND]: true;
}

/** A value that may be interpolated into {@link sql}: another fragment, or a number. */
export type SqlInterpolation = SqlExpr | number | bigint | boolean;

/** True when `value` was made by {@link sql} (or its helpers). */
export function isSql(value: unknown): value is SqlExpr {
  return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

function make(text: string): SqlExpr {
  const expr = { kind: "sql" as const, text };
  Object.defineProperty(expr, BRAND, { value: true, enumerable: false });
  return Object.freeze(expr) as SqlExpr;
}

function interpolate(value: SqlInterpolation): string {
  if (isSql(value)) return value.text;
  if (typeof value === "bigint" || typeof value === "boolean") return String(value);
  // Strings are refused at the type level too: an interpolated string is exactly how injection happens.
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new TypeError(`sql\`\` accepts only sql fragments, finite numbers, bigints and booleans; got ${typeof value}. Use sql.ident() or sql.literal() for names and strings`);
}

/**
 * Tagged template for trusted raw SQL, e.g. ``sql`now()` `` or ``sql`total >= ${min}` ``.
 * Interpolations must be fragments or numbers; wrap names in {@link sql.ident} and strings in
 * {@link sql.literal} so they are quoted by `sdk/postgres/quote.ts`.
 * @throws {TypeError} when an interpolation is a string or another unsupported value.
 */
export const sql = Object.assign(
  (strings: TemplateStringsArray, ...values: readonly SqlInterpolation[]): SqlExpr => {
    let text = strings[0] ?? "";
    values.forEach((v, i) => {
      text += interpolate(v) + (strings[i + 1] ?? "");
    });
    return make(text);
  },
  {
    /** A quoted identifier: `ident("name")` is `"name"`, `ident("schema", "name")` is `"schema"."name"`. */
    ident(schemaOrName: string, name?: string): SqlExpr {
      return make(name === undefined ? quoteIdent(schemaOrName) : quoteQualified(schemaOrName, name));
    },
    /** A quoted string literal (`'it''s'`). */
    literal(value: string): SqlExpr {
      return make(quoteLiteral(value));
    },
    /** Trusted text built elsewhere, taken verbatim. Same trust rules as the tag. */
    raw(text: string): SqlExpr {
      return make(text);
    },
  },
);
