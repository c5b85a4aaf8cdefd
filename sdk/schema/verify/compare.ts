import { CATALOGS, KNOWN_DIFFERENCES } from "./catalogs";
import { hashKey, type CatalogRow, type CatalogSnapshot } from "./snapshot";

/**
 * One difference between the target's catalogs and the desired state's. `UNMODELLED_DIFFERENCE` is
 * an error: the database does not match the desired SQL. `KNOWN_DIFFERENCE` is a documented
 * exception (column order, `attislocal`, ... see `KNOWN_DIFFERENCES`), reported, never an error.
 */
export interface CatalogDifference {
  readonly code: "UNMODELLED_DIFFERENCE" | "KNOWN_DIFFERENCE";
  /** The system catalog, e.g. `pg_class`. */
  readonly catalog: string;
  /** The schema the object is in. */
  readonly schema: string;
  /** The object by name, as the check identifies it, e.g. `public.orders` or `public.orders.id`. */
  readonly object: string;
  /** The catalog column or computed property, e.g. `relreplident`; null when the whole row is on one side only. */
  readonly property: string | null;
  /** The desired state's value; `undefined` when the object is only on the target. */
  readonly expected: unknown;
  /** The target's value; `undefined` when the object is only in the desired state. */
  readonly actual: unknown;
  /** Why a known difference is tolerated. */
  readonly reason?: string;
}

/** A difference as one line: `UNMODELLED_DIFFERENCE pg_class.relreplident public.orders: expected "d", found "f"`. */
export function formatDifference(d: CatalogDifference): string {
  const what =
    d.property === null
      ? d.actual === undefined
        ? "missing on the target"
        : "only on the target"
      : `expected ${JSON.stringify(d.expected) ?? "nothing"}, found ${JSON.stringify(d.actual) ?? "nothing"}`;
  const text = `${d.code} ${d.catalog}${d.property === null ? "" : `.${d.property}`} ${d.object}: ${what}${d.reason ? ` (${d.reason})` : ""}`;
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/** The `catalog|schema` pairs whose hashes differ between the two snapshots, over `schemas`. */
export function differingPairs(expected: CatalogSnapshot, actual: CatalogSnapshot, schemas: readonly string[]): string[] {
  const out: string[] = [];
  for (const { catalog } of CATALOGS) {
    for (const schema of schemas) {
      const k = hashKey(catalog, schema);
      // Snapshots of different server versions hash different column sets: compare their rows.
      if (expected.hashes[k] !== actual.hashes[k] || expected.serverVersionNum !== actual.serverVersionNum) {
        if (expected.hashes[k] !== undefined || actual.hashes[k] !== undefined) out.push(k);
      }
    }
  }
  return out;
}

const CATALOG_ORDER = new Map(CATALOGS.map((c, i) => [c.catalog, i]));

/**
 * The differences between the rows of `pairs` (`catalog|schema`) in the two snapshots, which must
 * hold those rows. Properties only one server's catalog has are not compared. A row on one side only
 * is one difference; the rows of a relation that is itself on one side only are not repeated.
 */
export function compareSnapshots(expected: CatalogSnapshot, actual: CatalogSnapshot, pairs: readonly string[]): CatalogDifference[] {
  const wanted = new Set(pairs);
  const index = (s: CatalogSnapshot) => {
    const m = new Map<string, CatalogRow>();
    for (const r of s.rows) if (wanted.has(hashKey(r.catalog, r.schema))) m.set(`${r.catalog}|${r.identity}`, r);
    return m;
  };
  const want = index(expected);
  const have = index(actual);
  const out: CatalogDifference[] = [];
  const wholeRelations = new Set<string>();
  for (const [key, r] of want) if (!have.has(key) && r.catalog === "pg_class") wholeRelations.add(r.identity);
  for (const [key, r] of have) if (!want.has(key) && r.catalog === "pg_class") wholeRelations.add(r.identity);
  const coveredByRelation = (r: CatalogRow) => r.catalog !== "pg_class" && [...prefixes(r.identity)].some((p) => wholeRelations.has(p));
  for (const [key, w] of want) {
    const h = have.get(key);
    if (!h) {
      if (!coveredByRelation(w)) out.push({ code: "UNMODELLED_DIFFERENCE", catalog: w.catalog, schema: w.schema, object: w.identity, property: null, expected: "present", actual: undefined });
      continue;
    }
    const props = new Set(actual.properties[w.catalog] ?? []);
    for (const p of expected.properties[w.catalog] ?? []) {
      if (!props.has(p)) continue;
      const e = w.props[p] ?? null;
      const a = h.props[p] ?? null;
      if (JSON.stringify(e) === JSON.stringify(a)) continue;
      if (expected.equivalents?.[key]?.[p]?.some((v) => JSON.stringify(v) === JSON.stringify(a))) continue;
      const known = KNOWN_DIFFERENCES[`${w.catalog}.${p}`];
      const isKnown = known !== undefined && (known.applies?.(e, a, w.identity) ?? true);
      out.push({
        code: isKnown ? "KNOWN_DIFFERENCE" : "UNMODELLED_DIFFERENCE",
        catalog: w.catalog,
        schema: w.schema,
        object: w.identity,
        property: p,
        expected: e,
        actual: a,
        ...(isKnown ? { reason: known.reason } : {}),
      });
    }
  }
  for (const [key, h] of have) {
    if (!want.has(key) && !coveredByRelation(h)) {
      out.push({ code: "UNMODELLED_DIFFERENCE", catalog: h.catalog, schema: h.schema, object: h.identity, property: null, expected: undefined, actual: "present" });
    }
  }
  return out.sort(
    (a, b) =>
      (CATALOG_ORDER.get(a.catalog) ?? 99) - (CATALOG_ORDER.get(b.catalog) ?? 99) ||
      cmp(a.object, b.object) ||
      cmp(a.property ?? "", b.property ?? ""),
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every dotted prefix of an identity (`s.t.c` → `s.t.c`, `s.t`, `s`), splitting only outside double quotes. */
function* prefixes(identity: string): Generator<string> {
  let quoted = false;
  for (let i = 0; i < identity.length; i++) {
    const ch = identity[i];
    if (ch === '"') quoted = !quoted;
    else if ((ch === "." || ch === " ") && !quoted) yield identity.slice(0, i);
  }
  yield identity;
}
