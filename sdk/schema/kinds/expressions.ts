import { quoteIdent, quoteIdentIfNeeded } from "../../postgres/quote";
import type { SchemaModel } from "../model";

/**
 * What an expression names without `pg_depend` to tell (a column default, a check, an index
 * expression, as PostgreSQL prints them under the canonical search_path): routines, collations,
 * text search configurations, operators and types, as graph keys. Over-matching only adds ordering
 * edges (or rebuilds) between steps that exist anyway. Pure: no I/O.
 */

/** The graph key of a routine. */
export function routineKey(schema: string, identity: string): string {
  return `function:${schema}.${identity}`;
}

/** The graph key of a text search configuration. */
export function textSearchConfigurationKey(schema: string, name: string): string {
  return `tsconfig:${schema}.${name}`;
}

/** The graph key of a collation. */
export function collationKey(schema: string, name: string): string {
  return `collation:${schema}.${name}`;
}

/**
 * Graph keys of the model's collations that `text` names after `COLLATE` (a column's collation as
 * the model quotes it, an index's or constraint's definition, which prints a collation in `public`
 * unqualified under the canonical search_path).
 */
export function collationsIn(text: string | null, model: SchemaModel): string[] {
  if (text === null || !text.includes("COLLATE")) return [];
  const out: string[] = [];
  for (const o of model.objects) {
    if (o.kind !== "collation") continue;
    // Quoted as quote_ident does (only where needed) or always.
    const forms = (x: string) => [...new Set([quoteIdentIfNeeded(x), quoteIdent(x)])];
    const names = [...forms(o.schema).flatMap((sch) => forms(o.name).map((n) => `${sch}.${n}`)), ...(o.schema === "public" ? forms(o.name) : [])];
    if (names.some((n) => new RegExp(`COLLATE ${escapeRegExp(n)}(?![\\w$".])`).test(text))) out.push(collationKey(o.schema, o.name));
  }
  return out;
}

/**
 * Graph keys of the model's text search configurations that `text` names as a constant
 * (`'public.english_nostop'::regconfig`, or unqualified in `public` under the canonical
 * search_path): the expressions of indexes, checks, defaults and generated columns. Such a
 * constant records a dependency PostgreSQL enforces, but the desired model's expressions are text.
 */
export function textSearchConfigurationsIn(text: string | null, model: SchemaModel): string[] {
  if (text === null || !text.includes("::regconfig")) return [];
  const out: string[] = [];
  for (const m of text.matchAll(/'((?:[^']|'')*)'::regconfig/g)) {
    const name = parseQualified(m[1]!.replace(/''/g, "'"));
    if (name === undefined) continue;
    const schema = name.schema ?? "public";
    if (model.objects.some((o) => o.kind === "text search configuration" && o.schema === schema && o.name === name.name)) out.push(textSearchConfigurationKey(schema, name.name));
  }
  return [...new Set(out)];
}

/**
 * Graph keys of everything of the model that `text` (an index's, a constraint's or a column's
 * expression) names without `pg_depend` to tell: collations, text search configurations, operators.
 */
export function objectsNamedIn(text: string | null, model: SchemaModel): string[] {
  if (text === null) return [];
  return [...collationsIn(text, model), ...textSearchConfigurationsIn(text, model), ...operatorsIn(text, model), ...typesNamedIn(text, model)];
}

const TYPE_NAME_PART = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const CAST_TARGET = new RegExp(String.raw`::\s*(${TYPE_NAME_PART}(?:\.${TYPE_NAME_PART})?)`, "g");
const typeKeyCache = new WeakMap<SchemaModel, ReadonlySet<string>>();

/**
 * Graph keys of the model's enums, domains, composite and range types that `text` (an index's, a
 * constraint's or a column's expression, as PostgreSQL prints it) names as a cast's target
 * (`'a'::status`, `'{}'::k.status[]`; a type in `public` prints unqualified under the canonical
 * search_path). PostgreSQL records that dependency, and re-parses the text when a column it reads
 * changes type: an expression naming a type that is renamed aside and re-created must be rebuilt.
 */
export function typesNamedIn(text: string | null, model: SchemaModel): string[] {
  if (text === null || !text.includes("::")) return [];
  let types = typeKeyCache.get(model);
  if (!types) {
    types = new Set([
      ...model.enums.map((e) => `type:${e.schema}.${e.name}`),
      ...model.objects.filter((o) => o.kind === "domain" || o.kind === "composite type" || o.kind === "range type").map((o) => `type:${o.schema}.${o.name}`),
    ]);
    typeKeyCache.set(model, types);
  }
  if (types.size === 0) return [];
  const out = new Set<string>();
  for (const m of text.replace(/'(?:[^']|'')*'/g, "''").matchAll(CAST_TARGET)) {
    const name = parseQualified(m[1]!);
    if (name === undefined) continue;
    const key = `type:${name.schema ?? "public"}.${name.name}`;
    if (types.has(key)) out.add(key);
  }
  return [...out];
}

const OPERATOR_CHARS = "+\\-*/<>=~!@#%^&|`?";

/**
 * Graph keys of the model's operators whose name `text` uses: as a bare symbol (an operator in
 * `public` prints so under the canonical search_path) or as `OPERATOR(schema.name)`. Operators of
 * one name with other argument types are all listed: more order than needed, never less.
 */
export function operatorsIn(text: string | null, model: SchemaModel): string[] {
  if (text === null) return [];
  const operators = operatorPatterns(model);
  if (operators.length === 0) return [];
  const unquoted = text.replace(/'(?:[^']|'')*'/g, "''");
  return operators.filter((o) => o.qualified.some((q) => text.includes(q)) || o.bare?.test(unquoted) === true).map((o) => o.key);
}

const operatorPatternCache = new WeakMap<SchemaModel, { key: string; qualified: string[]; bare: RegExp | undefined }[]>();

/** The model's operators with what finds them in an expression, built once per model (expressions are read per column, index and constraint). */
function operatorPatterns(model: SchemaModel): { key: string; qualified: string[]; bare: RegExp | undefined }[] {
  let out = operatorPatternCache.get(model);
  if (!out) {
    out = (model.objects ?? []).flatMap((o) =>
      o.kind !== "operator"
        ? []
        : [
            {
              key: `operator:${o.schema}.${o.identity}`,
              qualified: [...new Set([`OPERATOR(${quoteIdentIfNeeded(o.schema)}.${o.name})`, `OPERATOR(${quoteIdent(o.schema)}.${o.name})`])],
              bare: o.schema === "public" ? new RegExp(`(?<![${OPERATOR_CHARS}])${escapeRegExp(o.name)}(?![${OPERATOR_CHARS}])`) : undefined,
            },
          ],
    );
    operatorPatternCache.set(model, out);
  }
  return out;
}

/** `a.b`, `"A".b` or `b` as regconfig prints it (quote_ident parts); undefined when not a name. */
function parseQualified(text: string): { schema: string | null; name: string } | undefined {
  const part = String.raw`(?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*))`;
  const m = new RegExp(`^(?:${part}\\.)?${part}$`).exec(text);
  if (!m) return undefined;
  const pick = (quoted: string | undefined, plain: string | undefined) => (quoted !== undefined ? quoted.replace(/""/g, '"') : plain);
  const schema = pick(m[1], m[2]);
  return { schema: schema ?? null, name: pick(m[3], m[4])! };
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name;
}

/**
 * Graph keys of the user routines an expression calls, found by name in its canonical text (a
 * column default, check or index expression; PostgreSQL records these dependencies, but reading
 * them per column would cost a catalog query over every column). Over-matching only adds ordering
 * edges between steps that exist anyway.
 */
export function routinesInExpression(expr: string | null, model: SchemaModel): string[] {
  if (!expr) return [];
  const byName = routinesByName(model);
  if (byName.size === 0) return [];
  const out: string[] = [];
  for (const m of expr.matchAll(/((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*\.\s*)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*\(/g)) {
    const name = m[2]!.startsWith('"') ? unquote(m[2]!) : m[2]!.toLowerCase();
    const schema = m[1] ? unquote(m[1].replace(/\s*\.\s*$/, "")) : null;
    for (const r of byName.get(name) ?? []) if (schema === null || r.schema === (m[1]!.startsWith('"') ? schema : schema.toLowerCase())) out.push(r.key);
  }
  return out;
}

const routineNames = new WeakMap<SchemaModel, Map<string, { schema: string; key: string }[]>>();

function routinesByName(model: SchemaModel): Map<string, { schema: string; key: string }[]> {
  let m = routineNames.get(model);
  if (!m) {
    m = new Map();
    for (const o of model.objects ?? []) {
      if (o.kind !== "function" && o.kind !== "procedure" && o.kind !== "aggregate") continue;
      const list = m.get(o.name) ?? [];
      list.push({ schema: o.schema, key: routineKey(o.schema, o.identity) });
      m.set(o.name, list);
    }
    routineNames.set(model, m);
  }
  return m;
}
