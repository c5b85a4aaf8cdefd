/**
 * Extensions a PostgreSQL major's server binaries ship: the control files next to its `bin/`
 * directory. Setpoint's instance image of a major is built from these same binaries (images/
 * recipes.ts), so this is what a cluster of that major can `CREATE EXTENSION` (ADR 0037).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { findPostgresBinaries, type BinariesOptions } from "./binaries";
import type { PostgresMajor } from "./versions";

/**
 * The extension names `major`'s binaries ship, or undefined when its binaries are not present
 * here (nothing is installed to find out).
 */
export function shippedExtensions(major: PostgresMajor, options: BinariesOptions = {}): ReadonlySet<string> | undefined {
  let binDir: string;
  try {
    binDir = findPostgresBinaries(major, options).binDir;
  } catch {
    return undefined;
  }
  // `share/postgresql/extension` (the embedded packages, Debian's layout under /usr/share) or `share/extension`.
  for (const dir of [join(binDir, "..", "share", "postgresql", "extension"), join(binDir, "..", "share", "extension")]) {
    if (!existsSync(dir)) continue;
    return new Set(readdirSync(dir).filter((f) => f.endsWith(".control")).map((f) => f.slice(0, -".control".length)));
  }
  return undefined;
}
