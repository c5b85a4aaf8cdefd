/** The hazard vocabulary: stable codes and the `Hazard` shape, shared by every stage, the CLI, components and CRDs. */

/** Stable hazard codes. A plan with a hazard that is not allowed is refused before anything runs. */
export const HAZARD_CODES = [
  "DATA_LOSS_DROP_TABLE",
  "DATA_LOSS_DROP_COLUMN",
  "DATA_LOSS_DROP_SCHEMA",
  "DATA_LOSS_DROP_SEQUENCE",
  "DATA_LOSS_DROP_EXTENSION",
  "TABLE_REWRITE",
  "ACCESS_EXCLUSIVE_LOCK",
  "INDEX_BUILD",
  "INDEX_DROPPED",
  "VALIDATION_SCAN",
  "ENUM_VALUE_REMOVAL",
  "PRIVILEGES_REVOKED",
  "OWNER_CHANGED",
  // Found by probing the existing rows at plan time (data-probes.ts).
  "NOT_NULL_VIOLATION",
  "CAST_FAILS",
  "TYPE_CAST_LOSSY",
  "UNIQUE_VIOLATION",
  "CHECK_VIOLATION",
  "FOREIGN_KEY_VIOLATION",
  "DATA_UNVERIFIED",
] as const;

/** One of {@link HAZARD_CODES}. */
export type HazardCode = (typeof HAZARD_CODES)[number];

/**
 * Hazards no allowance covers: the existing rows make the step fail, so applying could only fail.
 * The plan is refused until the data or the desired schema changes.
 */
export const UNALLOWABLE_HAZARDS: readonly HazardCode[] = ["NOT_NULL_VIOLATION", "CAST_FAILS", "UNIQUE_VIOLATION", "CHECK_VIOLATION", "FOREIGN_KEY_VIOLATION"];

/** True when no allowance can accept `code` (see {@link UNALLOWABLE_HAZARDS}). */
export function isUnallowable(code: HazardCode): boolean {
  return UNALLOWABLE_HAZARDS.includes(code);
}

/** A reason a step is not safe to run unattended. */
export interface Hazard {
  readonly code: HazardCode;
  /** What will happen, naming the object, e.g. `drops table public.users (about 1200 rows)`. */
  readonly message: string;
  /**
   * The offending rows a data probe found: how many (`capped`: at least that many), and the key of
   * one (`(id)=(42)`; the primary key, else `ctid`; absent when samples are off).
   */
  readonly rows?: { readonly count: number; readonly capped: boolean; readonly sampleKey?: string };
}

/** True when `code` is a known hazard code. */
export function isHazardCode(code: string): code is HazardCode {
  return (HAZARD_CODES as readonly string[]).includes(code);
}
