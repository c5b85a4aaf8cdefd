import type { ClientBase } from "pg";
import { SetpointError } from "../../errors";
import { compareSnapshots, differingPairs, formatDifference, type CatalogDifference } from "./compare";
import { readCatalogSnapshot, type CatalogSnapshot } from "./snapshot";

export { formatDifference, type CatalogDifference } from "./compare";
export { readCatalogSnapshot, unmappedReferenceColumns, type CatalogSnapshot, type CatalogRow } from "./snapshot";
export { CATALOGS, KNOWN_DIFFERENCES, type CatalogSpec } from "./catalogs";
export { desiredCatalogsFromCache } from "./desired-catalogs";

/** The result of comparing a target's catalogs with the desired state's (see {@link checkCatalogs}). */
export interface CatalogCheck {
  /** `UNMODELLED_DIFFERENCE`s: the database does not match the desired SQL. Empty when it does. */
  readonly differences: readonly CatalogDifference[];
  /** `KNOWN_DIFFERENCE`s: documented exceptions (column order, `attislocal`, ...), never errors. */
  readonly known: readonly CatalogDifference[];
  /** Catalog × schema pairs compared, and those whose hashes differed (whose rows were read). */
  readonly pairs: number;
  readonly differingPairs: number;
  /** Wall time of the target's side of the check. */
  readonly durationMs: number;
}

/**
 * Compares the catalogs of `schemas` on the target with the desired state's, read on the dev
 * database (`desired`): first one hash per catalog and schema on the target, then the rows of the
 * pairs whose hashes differ. Reads catalogs only.
 */
export async function checkCatalogs(target: ClientBase, desired: CatalogSnapshot, schemas: readonly string[]): Promise<CatalogCheck> {
  const started = performance.now();
  const hashes = await readCatalogSnapshot(target, { schemas, rowsOf: [] });
  const pairs = differingPairs(desired, hashes, schemas);
  const all = pairs.length === 0 ? [] : compareSnapshots(desired, await readCatalogSnapshot(target, { schemas, rowsOf: pairs }), pairs);
  return {
    differences: all.filter((d) => d.code === "UNMODELLED_DIFFERENCE"),
    known: all.filter((d) => d.code === "KNOWN_DIFFERENCE"),
    pairs: schemas.length * Object.keys(desired.properties).length,
    differingPairs: pairs.length,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Raised by `applySchema` when, after applying (or with nothing to apply), the target's catalogs
 * still differ from the desired state's in properties the plan did not change: the engine does not
 * model them. `differences` names each catalog, object and property.
 */
export class UnmodelledDifferenceError extends SetpointError {
  readonly differences: readonly CatalogDifference[];

  constructor(differences: readonly CatalogDifference[]) {
    const shown = differences.slice(0, 20).map((d) => `  - ${formatDifference(d)}`);
    if (differences.length > shown.length) shown.push(`  - ... and ${differences.length - shown.length} more`);
    super(
      "UNMODELLED_DIFFERENCE",
      `the database's catalogs differ from the desired schema in ${differences.length} propert(ies) the plan does not change:\n${shown.join("\n")}\n` +
        "Setpoint does not manage these yet: change them on the database by hand (or in the desired SQL), or pass verifyCatalogs: false (--no-verify) to skip this check.",
    );
    this.differences = differences;
  }
}
