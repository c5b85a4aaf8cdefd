import { appPairs } from "./apps";
import { privilegePairs, rlsPairs } from "./access";
import { chainPairs } from "./chains";
import { commentPairs } from "./comments";
import { constraintPairs } from "./constraints";
import { enumPairs } from "./enums";
import { indexPairs } from "./indexes";
import { matviewPairs } from "./matviews";
import { orderingPairs } from "./ordering";
import type { SchemaPair } from "./pair";
import { inheritancePairs, partitionPairs } from "./partitions";
import { propertyPairs } from "./properties";
import { routinePairs } from "./routines";
import { extensionPairs, schemaPairs } from "./schemas";
import { sequencePairs } from "./sequences";
import { tablePairs } from "./tables";
import { triggerPairs } from "./triggers";
import { compositePairs, domainPairs, rangePairs } from "./types";
import { viewPairs } from "./views";

export { PAIR_KINDS, type PairKind, type SchemaPair } from "./pair";
export { SUITE_ROLES } from "./access";

/** The whole corpus, in a stable order. */
export const SCHEMA_PAIRS: readonly SchemaPair[] = [
  ...tablePairs,
  ...constraintPairs,
  ...indexPairs,
  ...enumPairs,
  ...sequencePairs,
  ...viewPairs,
  ...matviewPairs,
  ...routinePairs,
  ...triggerPairs,
  ...domainPairs,
  ...compositePairs,
  ...rangePairs,
  ...partitionPairs,
  ...inheritancePairs,
  ...rlsPairs,
  ...privilegePairs,
  ...commentPairs,
  ...extensionPairs,
  ...schemaPairs,
  ...chainPairs,
  ...appPairs,
  ...propertyPairs,
  ...orderingPairs,
];

/** The pairs whose SQL a server of `major` accepts (see {@link SchemaPair.minMajor}). */
export function pairsFor(major: number): SchemaPair[] {
  return SCHEMA_PAIRS.filter((p) => (p.minMajor ?? 0) <= major);
}
