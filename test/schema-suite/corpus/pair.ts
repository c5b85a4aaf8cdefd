/**
 * One old→new schema pair of the external suite: `old` is applied to a fresh database, then `new`
 * is planned and applied, and a second plan must be empty. The SQL is written for this suite.
 */
export interface SchemaPair {
  /** Unique, path-like name: `kind/slot/from->to` for generated pairs. */
  readonly name: string;
  readonly kind: PairKind;
  readonly old: string;
  readonly new: string;
  /** Schemas to manage (`--schemas`, or `--all-schemas` for "all"), for pairs that drop a whole schema. @default those in the desired SQL */
  readonly schemas?: readonly string[] | "all";
  /** The first PostgreSQL major whose SQL the pair uses. @default every supported major */
  readonly minMajor?: number;
}

/** Object kinds the corpus is organized by (the per-kind table of the runner's report). */
export const PAIR_KINDS = [
  "tables",
  "constraints",
  "indexes",
  "enums",
  "sequences",
  "views",
  "matviews",
  "routines",
  "triggers",
  "domains",
  "composite",
  "ranges",
  "partitions",
  "inheritance",
  "rls",
  "privileges",
  "comments",
  "extensions",
  "schemas",
  "chains",
  "apps",
] as const;

export type PairKind = (typeof PAIR_KINDS)[number];

/** Options of {@link slot}. */
export interface SlotOptions {
  /** SQL shared by every variant, placed before it. @default "" */
  readonly prelude?: string;
  /** Named variants of the slot; "" is a valid variant (the object is absent). */
  readonly variants: Readonly<Record<string, string>>;
  /**
   * Which ordered pairs to build: `all` = every variant to every other, `star` = the first variant
   * to each other one and back, `chain` = each variant to the next and the last back to the first.
   * @default "all" for two variants, "chain" for more (create, change and drop when the first is absent)
   */
  readonly pairs?: "all" | "star" | "chain";
  /** SQL shared by every variant, placed after it (e.g. objects that use the slot's object). @default "" */
  readonly epilogue?: string;
}

/** Pairs from one slot: each variant of an object changed into the others. */
export function slot(kind: PairKind, name: string, options: SlotOptions): SchemaPair[] {
  const names = Object.keys(options.variants);
  const sql = (v: string) => [options.prelude ?? "", options.variants[v] ?? "", options.epilogue ?? ""].filter((s) => s.trim() !== "").join("\n");
  const ordered: [string, string][] = [];
  const mode = options.pairs ?? (names.length <= 2 ? "all" : "chain");
  if (mode === "all") {
    for (const a of names) for (const b of names) if (a !== b) ordered.push([a, b]);
  } else if (mode === "star") {
    for (const b of names.slice(1)) ordered.push([names[0]!, b], [b, names[0]!]);
  } else {
    names.forEach((a, i) => ordered.push([a, names[(i + 1) % names.length]!]));
  }
  return ordered.map(([a, b]) => ({ name: `${kind}/${name}/${a}->${b}`, kind, old: sql(a), new: sql(b) }));
}

/** Pairs along a sequence of versions (v1→v2→…), plus each version to the last and the last back to the first. */
export function versions(kind: PairKind, name: string, steps: readonly (readonly [string, string])[]): SchemaPair[] {
  const out: SchemaPair[] = [];
  for (let i = 0; i + 1 < steps.length; i++) out.push({ name: `${kind}/${name}/${steps[i]![0]}->${steps[i + 1]![0]}`, kind, old: steps[i]![1], new: steps[i + 1]![1] });
  const last = steps.at(-1)!;
  for (let i = 0; i + 2 < steps.length; i++) out.push({ name: `${kind}/${name}/${steps[i]![0]}->${last[0]}`, kind, old: steps[i]![1], new: last[1] });
  if (steps.length > 2) out.push({ name: `${kind}/${name}/${last[0]}->${steps[0]![0]}`, kind, old: last[1], new: steps[0]![1] });
  out.push({ name: `${kind}/${name}/empty->${last[0]}`, kind, old: "", new: last[1] });
  return out;
}

/** A single hand-written pair. */
export function pair(kind: PairKind, name: string, old: string, next: string): SchemaPair {
  return { name: `${kind}/${name}`, kind, old, new: next };
}
