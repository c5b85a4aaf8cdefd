import type { Client } from "pg";
import { WeightedLru } from "../internal/lru";
import { resolvedCacheDir, type NormalizeOptions } from "../normalize/normalize";
import type { SchemaModel } from "../model";
import type { DesiredSchema } from "../source/desired";
import { DesiredCatalogs } from "./desired-catalogs";
import { checkCatalogs, type CatalogCheck } from "./index";
import { readCatalogSnapshot, type CatalogSnapshot } from "./snapshot";

export { UnmodelledDifferenceError, type CatalogCheck } from "./index";

/**
 * A `NormalizeOptions.onBuilt` hook that reads the desired state's catalogs on the dev database
 * while it holds the desired SQL, and `remember`, which keeps what it read by the desired fingerprint.
 */
export function snapshotReader(): {
  onBuilt: (scratch: Client, inTransaction: boolean, model: SchemaModel, concurrent?: readonly Client[]) => Promise<void>;
  remember: (store: DesiredCatalogs, fingerprint: string, cacheDir: string | null) => CatalogSnapshot | null;
} {
  let read: CatalogSnapshot | null = null;
  return {
    onBuilt: async (scratch, inTransaction, model, concurrent = []) => {
      const snapshot = await readCatalogSnapshot(scratch, { inTransaction, concurrent });
      const equivalents = await reprintedEquivalents(scratch, model);
      read = equivalents ? { ...snapshot, equivalents } : snapshot;
    },
    remember: (store, fingerprint, cacheDir) => {
      if (read) store.remember(fingerprint, cacheDir, read);
      return read;
    },
  };
}

/**
 * The re-printed form of each desired CHECK PostgreSQL prints differently once its printed form is
 * applied again (the form a target built by the plan shows), and the target's texts that print as
 * it (`printedFrom`), keyed as the snapshot's rows are;
 * identities are quoted by the server, as the snapshot's are. Null when there is none.
 */
async function reprintedEquivalents(scratch: Client, model: SchemaModel): Promise<CatalogSnapshot["equivalents"] | null> {
  const items = model.tables.flatMap((t) =>
    t.constraints.flatMap((c) => {
      const also = [...(c.reprinted ? [c.reprinted] : []), ...(c.printedFrom ?? [])];
      return also.length > 0 ? [{ schema: t.schema, table: t.name, name: c.name, also }] : [];
    }),
  );
  if (items.length === 0) return null;
  // The same CHECK on every table below it (partitions, inheritance children): their copies are
  // not in the model but are catalog rows of their own, printed as the parent's.
  const { rows } = await scratch.query<{ i: number; id: string }>(
    `WITH RECURSIVE tree(i, rel, n) AS (
       SELECT u.i::int, c.oid, u.n FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(s, t, n, i)
         JOIN pg_namespace ns ON ns.nspname = u.s JOIN pg_class c ON c.relnamespace = ns.oid AND c.relname = u.t
       UNION SELECT tree.i, h.inhrelid, tree.n FROM tree JOIN pg_inherits h ON h.inhparent = tree.rel)
     SELECT tree.i, quote_ident(ns.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(k.conname) AS id
       FROM tree JOIN pg_class c ON c.oid = tree.rel JOIN pg_namespace ns ON ns.oid = c.relnamespace
       JOIN pg_constraint k ON k.conrelid = tree.rel AND k.conname = tree.n AND k.contype = 'c'`,
    [items.map((i) => i.schema), items.map((i) => i.table), items.map((i) => i.name)],
  );
  return Object.fromEntries(rows.map((r) => [`pg_constraint|${r.id}`, { definition: items[r.i - 1]!.also }]));
}

/** What {@link desiredCatalogCheck} compares. */
export interface CheckInput {
  readonly desired: DesiredSchema;
  /** How the desired state is normalized (to read its catalogs again when they are not remembered). */
  readonly normalizeOptions: NormalizeOptions;
  /** The desired fingerprint (normalized model's cache key). */
  readonly fingerprint: string;
  /** The managed schemas. */
  readonly schemas: readonly string[];
  /** The target's scoped catalog fingerprint the live model was read at, when known. */
  readonly liveReadAt: string | undefined;
}

/**
 * What the catalog checks of one schema engine remember: the desired catalogs, and the last check
 * per target, desired state and scope, reused while the target's scoped catalog fingerprint is
 * unchanged (no DDL in between): a converged drift check then reads nothing more.
 */
export class CatalogChecks {
  readonly desired = new DesiredCatalogs();
  readonly last = new WeightedLru<string, { at: string; check: CatalogCheck }>(10_000, (e) => 1 + e.check.differences.length + e.check.known.length);

  /** Forgets remembered checks and in-memory desired catalogs (each next check reads again). */
  clear(): void {
    this.desired.clear();
    this.last.clear();
  }
}

/** Normalizes the desired state again (without the model cache) with an `onBuilt` hook. */
export type NormalizeAgain = (desired: DesiredSchema, options: NormalizeOptions) => Promise<unknown>;

/**
 * The catalog-level check of the target connected on `client` against the desired state: its
 * catalogs as remembered from normalization (else normalized again, without the model cache, to
 * read them), compared hash first (see {@link checkCatalogs}).
 */
export async function desiredCatalogCheck(client: Client, input: CheckInput, state: CatalogChecks, normalizeAgain: NormalizeAgain): Promise<CatalogCheck> {
  const key = `${client.host}:${client.port}/${client.database}|${input.fingerprint}|${[...input.schemas].sort().join(",")}`;
  const last = state.last.get(key);
  if (last && input.liveReadAt !== undefined && last.at === input.liveReadAt) return last.check;
  const cacheDir = resolvedCacheDir(input.normalizeOptions.cacheDir);
  let desired = state.desired.get(input.fingerprint, cacheDir);
  if (!desired) {
    // Not read when the model was normalized (a plan with steps, or an older cache): build it once
    // more to read them.
    const reader = snapshotReader();
    await normalizeAgain(input.desired, { ...input.normalizeOptions, cacheDir: false, onBuilt: reader.onBuilt });
    desired = reader.remember(state.desired, input.fingerprint, cacheDir);
    if (!desired) throw new Error("normalization did not read the desired catalogs"); // unreachable: onBuilt runs on every build
  }
  const check = await checkCatalogs(client, desired, input.schemas);
  if (input.liveReadAt !== undefined) state.last.set(key, { at: input.liveReadAt, check });
  return check;
}
