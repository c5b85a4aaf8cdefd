import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeightedLru } from "../internal/lru";
import { MODEL_VERSION, type SchemaModel } from "../model";

interface CacheEntry {
  version: number;
  model: SchemaModel;
}

/**
 * How many objects a model holds (every list entry, and each table's columns, constraints and
 * indexes): the weight of its in-memory cache entry, roughly proportional to its memory.
 */
export function modelWeight(model: SchemaModel): number {
  let n = 1;
  for (const value of Object.values(model)) if (Array.isArray(value)) n += value.length;
  for (const t of model.tables) n += t.columns.length + t.constraints.length + t.indexes.length;
  return n;
}

/**
 * Objects kept in the in-memory cache of live models (introspections, which only a new read can
 * replace): ~100,000 (some tens of MB), or one model of any size.
 */
export const MODEL_MEMO_WEIGHT = 100_000;

/**
 * Normalized models by cache directory and desired fingerprint: on disk (`<fingerprint>.json`), and
 * in memory for a long-running process (the operator checks drift often). The memory holds a fifth
 * of the live cache's weight: these are also on disk, where reading a small one back costs well
 * under a millisecond.
 */
export class ModelCache {
  // Keyed by cache directory and fingerprint: another directory is another cache.
  private readonly memo = new WeightedLru<string, SchemaModel>(MODEL_MEMO_WEIGHT / 5, modelWeight);

  /** The cached model of `key` in `dir`, or null. */
  read(dir: string, key: string): SchemaModel | null {
    const hit = this.memo.get(join(dir, key));
    if (hit) return hit;
    try {
      const entry = JSON.parse(readFileSync(join(dir, `${key}.json`), "utf8")) as CacheEntry;
      if (entry.version !== MODEL_VERSION || entry.model?.version !== MODEL_VERSION) return null;
      this.remember(dir, key, entry.model);
      return entry.model;
    } catch {
      return null;
    }
  }

  /** Keeps `model` in memory (see {@link write} for the disk). */
  remember(dir: string, key: string, model: SchemaModel): void {
    this.memo.set(join(dir, key), model);
  }

  /** Keeps `model` in memory and writes it to `dir`; a cache that cannot be written only costs time. */
  write(dir: string, key: string, model: SchemaModel): void {
    this.remember(dir, key, model);
    try {
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `${key}.${process.pid}.tmp`);
      writeFileSync(tmp, JSON.stringify({ version: MODEL_VERSION, model } satisfies CacheEntry));
      renameSync(tmp, join(dir, `${key}.json`));
    } catch {
      // A cache that cannot be written only costs time.
    }
  }

  /** Forgets the in-memory copies (the files stay). */
  clear(): void {
    this.memo.clear();
  }
}
