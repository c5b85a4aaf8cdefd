/** PostgreSQL major versions Setpoint supports and ships embedded binaries for. */
export const SUPPORTED_MAJORS = [14, 15, 16, 17, 18] as const;

/** One of {@link SUPPORTED_MAJORS}. */
export type PostgresMajor = (typeof SUPPORTED_MAJORS)[number];

/** The newest supported major, used when nothing else decides. */
export const DEFAULT_MAJOR: PostgresMajor = 17;

/** True when `n` is a supported major version. */
export function isSupportedMajor(n: number): n is PostgresMajor {
  return (SUPPORTED_MAJORS as readonly number[]).includes(n);
}

/** Major version from `server_version_num` (e.g. `170004` -> 17). */
export function majorFromVersionNum(versionNum: number): number {
  return Math.floor(versionNum / 10000);
}
