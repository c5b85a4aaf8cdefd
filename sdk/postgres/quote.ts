/**
 * The only place SQL text is escaped. Every renderer builds identifiers and literals through these
 * functions; nothing else in Setpoint concatenates user strings into SQL.
 */

/**
 * Quotes an identifier for PostgreSQL: always double-quoted, embedded quotes doubled.
 * @throws {TypeError} when the name is empty or contains a NUL byte (PostgreSQL cannot store either).
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new TypeError("an SQL identifier cannot be empty");
  if (name.includes("\0")) throw new TypeError("an SQL identifier cannot contain a NUL byte");
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes an identifier only when PostgreSQL would otherwise fold or reject it; used for readable output. */
export function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdent(name);
}

/**
 * The same SQL with each double-quoted identifier quoted only where needed ({@link
 * quoteIdentIfNeeded}), for people to read: `"public"."books"` becomes `public.books`, `"Order"`
 * stays quoted. String literals, dollar-quoted bodies and comments are left as they are.
 */
export function readableSql(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'") {
      // A literal, to its closing quote ('' is an escaped quote; E'' literals also escape with \).
      const escapes = /[eE]$/.test(out) && !/[\w$]$/.test(out.slice(0, -1));
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (ch === "$" && !/[\w$]$/.test(out)) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (!tag) {
        out += ch;
        i++;
        continue;
      }
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end < 0 ? sql.length : end + tag.length;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '"') {
      let j = i + 1;
      let name = "";
      while (j < sql.length) {
        if (sql[j] === '"' && sql[j + 1] === '"') {
          name += '"';
          j += 2;
        } else if (sql[j] === '"') break;
        else name += sql[j++];
      }
      out += j < sql.length && name.length > 0 ? quoteIdentIfNeeded(name) : sql.slice(i, j + 1);
      i = j + 1;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** Quotes a schema-qualified name, e.g. `"public"."users"`. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Quotes a string literal. Uses the standard form (`'it''s'`), or the escape form (`E'a\\b'`) when
 * the value contains a backslash, so the result is correct whatever `standard_conforming_strings` is.
 * @throws {TypeError} when the value contains a NUL byte.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new TypeError("an SQL literal cannot contain a NUL byte");
  const body = value.replaceAll("'", "''");
  return value.includes("\\") ? `E'${body.replaceAll("\\", "\\\\")}'` : `'${body}'`;
}

/**
 * Quotes one value of a libpq connection string (`key='value'`): single quotes and backslashes
 * escaped with a backslash, as libpq's conninfo parser expects.
 * @throws {TypeError} when the value contains a NUL byte.
 */
export function quoteConninfoValue(value: string): string {
  if (value.includes("\0")) throw new TypeError("a connection parameter cannot contain a NUL byte");
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * Dollar-quotes a body (`$tag$...$tag$`, e.g. the code of a `DO` block) with a tag that does not
 * occur in it, so nothing in the body can end the quote.
 * @throws {TypeError} when the body contains a NUL byte.
 */
export function dollarQuote(body: string): string {
  if (body.includes("\0")) throw new TypeError("an SQL literal cannot contain a NUL byte");
  let tag = "$sp$";
  // The body's end must not complete a tag either (`x$sp` + `$sp$`).
  for (let i = 0; (body + tag).indexOf(tag) !== body.length; i++) tag = `$sp${i}$`;
  return `${tag}${body}${tag}`;
}

/** Renders a nullable string as an SQL literal or `NULL`. */
export function quoteNullableLiteral(value: string | null): string {
  return value === null ? "NULL" : quoteLiteral(value);
}

// Keywords that cannot be used as bare column names (PostgreSQL's "reserved" category).
const RESERVED = new Set([
  "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast",
  "check", "collate", "column", "constraint", "create", "current_catalog", "current_date", "current_role",
  "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
  "else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in",
  "initially", "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not",
  "null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning", "select",
  "session_user", "some", "symmetric", "system_user", "table", "then", "to", "trailing", "true", "union",
  "unique", "user", "using", "variadic", "when", "where", "window", "with", "authorization", "binary",
  "collation", "concurrently", "cross", "current_schema", "freeze", "full", "ilike", "inner", "is",
  "isnull", "join", "left", "like", "natural", "notnull", "outer", "overlaps", "right", "similar",
  "tablesample", "verbose",
]);
