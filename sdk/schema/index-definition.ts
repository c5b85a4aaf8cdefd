import { quoteIdent, quoteLiteral } from "../postgres/quote";

// Index and key definitions as PostgreSQL prints them (`pg_get_indexdef`, `pg_get_constraintdef`):
// names and storage parameters read out of and written into their text.

// Storage parameters of the index behind a primary key or unique constraint, carried in the
// constraint's definition text so the diff compares and the renderer re-creates them with it.

/**
 * A primary key or unique constraint's definition with its index's storage parameters, where
 * CREATE TABLE and ADD CONSTRAINT take them (`pg_get_constraintdef` leaves them out): before the
 * deferral clause. Sorted, so the text compares equal whatever order they were set in.
 */
export function withIndexOptions(definition: string, options: readonly string[] | null): string {
  if (!options?.length) return definition;
  const clause = ` WITH (${[...options].sort().map(renderStorageParameter).join(", ")})`;
  const at = definition.search(/ DEFERRABLE\b| NOT DEFERRABLE\b/);
  return at < 0 ? definition + clause : definition.slice(0, at) + clause + definition.slice(at);
}

function renderStorageParameter(opt: string): string {
  const eq = opt.indexOf("=");
  return `${quoteIdent(opt.slice(0, eq))}=${quoteLiteral(opt.slice(eq + 1))}`;
}

const OPTION = `(?:"(?:[^"]|"")+"|[^=,\\s()]+)='(?:[^']|'')*'`;
const WITH_CLAUSE = new RegExp(` WITH \\((${OPTION}(?:, ${OPTION})*)\\)`);

/** A constraint definition without the `WITH (...)` that {@link withIndexOptions} adds. */
export function withoutIndexOptions(definition: string): string {
  return definition.replace(WITH_CLAUSE, "");
}

/** The storage parameters (`name=value`) in a constraint definition's `WITH (...)`, as {@link withIndexOptions} writes them. */
export function indexOptionsOf(definition: string): string[] {
  const m = WITH_CLAUSE.exec(definition);
  if (!m) return [];
  return [...m[1]!.matchAll(/("(?:[^"]|"")+"|[^=,\s()]+)='((?:[^']|'')*)'/g)].map(
    ([, name, value]) => `${name!.startsWith('"') ? name!.slice(1, -1).replaceAll('""', '"') : name}=${value!.replaceAll("''", "'")}`,
  );
}

/** Splits `CREATE [UNIQUE] INDEX name ON ...` into its parts; the name may be quoted. */
export function splitIndexDefinition(def: string): { head: string; name: string; rest: string } {
  const m = /^CREATE (UNIQUE )?INDEX /.exec(def);
  if (!m) throw new Error(`not an index definition: ${def}`);
  let i = m[0].length;
  let name = "";
  if (def[i] === '"') {
    i++;
    while (i < def.length) {
      if (def[i] === '"' && def[i + 1] === '"') {
        name += '"';
        i += 2;
      } else if (def[i] === '"') {
        i++;
        break;
      } else name += def[i++];
    }
  } else {
    while (i < def.length && def[i] !== " ") name += def[i++];
  }
  return { head: m[0], name, rest: def.slice(i) };
}

/** The index definition with CONCURRENTLY inserted. */
export function withConcurrently(def: string): string {
  const { head, name, rest } = splitIndexDefinition(def);
  return `${head}CONCURRENTLY ${quoteIdent(name)}${rest}`;
}

/** The index definition under another name (used to rebuild an index without a gap). */
export function withIndexName(def: string, newName: string): string {
  const { head, rest } = splitIndexDefinition(def);
  return `${head}${quoteIdent(newName)}${rest}`;
}

/**
 * Whether an index definition (`pg_get_indexdef`) has an expression key or a predicate: PostgreSQL
 * rebuilds an index of plain columns itself when their type changes, but re-parses expressions.
 */
export function hasIndexExpressions(definition: string): boolean {
  const text = definition.replace(/'(?:[^']|'')*'/g, "''").replace(/"(?:[^"]|"")*"/g, "x");
  const open = text.indexOf("(", text.indexOf(" USING "));
  if (open < 0) return true;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return text.slice(open + 1, i).includes("(") || / WHERE /.test(text.slice(i));
  }
  return true;
}
