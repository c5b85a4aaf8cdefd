import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeightedLru } from "../internal/lru";
import { SNAPSHOT_VERSION, type CatalogSnapshot } from "./snapshot";

// The desired state's catalogs, read on the dev database when the desired SQL is normalized, kept
// by the desired fingerprint (the normalized model's cache key) in memory and beside the model's
// cache file, so a check whose desired state was normalized before reads no dev database.

/** Catalog rows kept in memory (~ some tens of MB); a larger snapshot is kept alone. */
const MEMO_ROWS = 200_000;
const memo = new WeightedLru<string, CatalogSnapshot>(MEMO_ROWS, (s) => 1 + s.rows.length);

const fileOf = (dir: string, fingerprint: string) => join(dir, `${fingerprint}.catalogs.json`);

/** Remembers the desired catalogs of `fingerprint` (and writes them to `cacheDir` when there is one). */
export function rememberDesiredCatalogs(fingerprint: string, cacheDir: string | null, snapshot: CatalogSnapshot): void {
  memo.set(fingerprint, snapshot);
  if (!cacheDir) return;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${fileOf(cacheDir, fingerprint)}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(snapshot));
    renameSync(tmp, fileOf(cacheDir, fingerprint));
  } catch {
    // A cache that cannot be written only costs time.
  }
}

/** The remembered desired catalogs of `fingerprint`, or null. */
export function desiredCatalogsFromCache(fingerprint: string, cacheDir: string | null): CatalogSnapshot | null {
  const hit = memo.get(fingerprint);
  if (hit) return hit;
  if (!cacheDir) return null;
  try {
    const snapshot = JSON.parse(readFileSync(fileOf(cacheDir, fingerprint), "utf8")) as CatalogSnapshot;
    if (snapshot.version !== SNAPSHOT_VERSION) return null;
    memo.set(fingerprint, snapshot);
    return snapshot;
  } catch {
    return null;
  }
}

/** Forgets the in-memory desired catalogs (the files stay); for benchmarks and tests. */
export function forgetDesiredCatalogs(): void {
  memo.clear();
}
