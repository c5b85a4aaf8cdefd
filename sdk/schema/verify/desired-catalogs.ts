import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeightedLru } from "../internal/lru";
import { SNAPSHOT_VERSION, type CatalogSnapshot } from "./snapshot";

// The desired state's catalogs, read on the dev database when the desired SQL is normalized, kept
// by the desired fingerprint (the normalized model's cache key) in memory (per schema engine) and
// beside the model's cache file, so a check whose desired state was normalized before reads no dev
// database.

/** Catalog rows kept in memory (~ some tens of MB); a larger snapshot is kept alone. */
const MEMO_ROWS = 200_000;

const fileOf = (dir: string, fingerprint: string) => join(dir, `${fingerprint}.catalogs.json`);

/** The desired catalogs of `fingerprint` written in `cacheDir`, or null. */
export function desiredCatalogsFromCache(fingerprint: string, cacheDir: string | null): CatalogSnapshot | null {
  if (!cacheDir) return null;
  try {
    const snapshot = JSON.parse(readFileSync(fileOf(cacheDir, fingerprint), "utf8")) as CatalogSnapshot;
    return snapshot.version === SNAPSHOT_VERSION ? snapshot : null;
  } catch {
    return null;
  }
}

/** Desired catalogs in memory and in the cache directory (one store per schema engine). */
export class DesiredCatalogs {
  private readonly memo = new WeightedLru<string, CatalogSnapshot>(MEMO_ROWS, (s) => 1 + s.rows.length);

  /** Remembers the desired catalogs of `fingerprint` (and writes them to `cacheDir` when there is one). */
  remember(fingerprint: string, cacheDir: string | null, snapshot: CatalogSnapshot): void {
    this.memo.set(fingerprint, snapshot);
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

  /** The remembered desired catalogs of `fingerprint` (in memory, else in `cacheDir`), or null. */
  get(fingerprint: string, cacheDir: string | null): CatalogSnapshot | null {
    const hit = this.memo.get(fingerprint);
    if (hit) return hit;
    const read = desiredCatalogsFromCache(fingerprint, cacheDir);
    if (read) this.memo.set(fingerprint, read);
    return read;
  }

  /** Forgets the in-memory desired catalogs (the files stay). */
  clear(): void {
    this.memo.clear();
  }
}
