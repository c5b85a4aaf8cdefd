import { quoteIdent, quoteLiteral } from "../postgres/quote";

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
