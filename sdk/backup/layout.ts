/**
 * The bucket layout (docs/adr/0021-backup-layout.md), in one place:
 *
 *   <prefix>/wal/<TTTTTTTT>/<walfile>.gz      every WAL file of timeline T: segments, .partial,
 *                                              .backup history files and T's .history file
 *   <prefix>/base/<id>/<archive>.tar[.gz]      one base backup's tar archives (data, per tablespace),
 *                                              gzip-compressed or not (the manifest says which)
 *   <prefix>/base/<id>/backup.json             its manifest, written last: present = complete
 *
 * and the WAL file naming and LSN arithmetic PostgreSQL uses.
 */

/** Version of the object formats (metadata names, manifest), recorded on every object. */
export const FORMAT_VERSION = 1;

/** The user-metadata names Setpoint sets on its objects (stored as `x-amz-meta-<name>`). */
export const META = {
  format: "setpoint-format",
  /** sha256 (hex) of the uncompressed content. */
  sha256: "setpoint-sha256",
  /** Size in bytes of the uncompressed content. */
  size: "setpoint-size",
  /** How the content is compressed: `gzip` or `none`. */
  compression: "setpoint-compression",
} as const;

/** A file that PostgreSQL archives, by what its name says. */
export type WalFile =
  | { kind: "segment"; name: string; timeline: number; segno: bigint }
  | { kind: "partial"; name: string; timeline: number; segno: bigint }
  | { kind: "backup-history"; name: string; timeline: number; segno: bigint }
  | { kind: "timeline-history"; name: string; timeline: number };

/**
 * Parses a WAL file name as PostgreSQL gives it to `archive_command` (`%f`).
 * @param segmentBytes wal_segment_size. @default 16 MiB
 * @returns undefined for a name that is not a WAL file name.
 */
export function parseWalName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): WalFile | undefined {
  const history = /^([0-9A-F]{8})\.history$/.exec(name);
  if (history) return { kind: "timeline-history", name, timeline: parseInt(history[1]!, 16) };
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial|\.[0-9A-F]{8}\.backup)?$/.exec(name);
  if (!m) return undefined;
  const timeline = parseInt(m[1]!, 16);
  const segno = BigInt(`0x${m[2]}`) * segmentsPerId(segmentBytes) + BigInt(`0x${m[3]}`);
  const kind = m[4] === undefined ? "segment" : m[4] === ".partial" ? "partial" : "backup-history";
  return { kind, name, timeline, segno };
}

/** wal_segment_size of a default build. */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

function segmentsPerId(segmentBytes: number): bigint {
  return 0x100000000n / BigInt(segmentBytes);
}

/** The name of segment `segno` on `timeline`, e.g. `000000010000000000000003`. */
export function segmentName(timeline: number, segno: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): string {
  const per = segmentsPerId(segmentBytes);
  return hex8(timeline) + hex8(Number(segno / per)) + hex8(Number(segno % per));
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, "0");
}

/** An LSN (`16/B374D848`) as a number of bytes. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** A byte position as an LSN (`16/B374D848`). */
export function formatLsn(pos: bigint): string {
  return `${(pos >> 32n).toString(16).toUpperCase()}/${(pos & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The segment number holding byte `lsn`. */
export function segnoOf(lsn: string, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return parseLsn(lsn) / BigInt(segmentBytes);
}

/**
 * The segment number holding the last byte before `lsn` (the segment a backup's end LSN needs:
 * an end LSN on a segment boundary lies in the previous segment).
 */
export function segnoBefore(lsn: string, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  const pos = parseLsn(lsn);
  return (pos === 0n ? 0n : pos - 1n) / BigInt(segmentBytes);
}

/** Key of an archived WAL file (relative to the prefix). */
export function walKey(file: WalFile): string {
  return `wal/${hex8(file.timeline)}/${file.name}.gz`;
}

/** Key prefix of every WAL file of every timeline. */
export const WAL_PREFIX = "wal/";

/** Key prefix of every base backup. */
export const BASE_PREFIX = "base/";

/** Key of a base backup's manifest. */
export function manifestKey(backupId: string): string {
  return `${BASE_PREFIX}${backupId}/backup.json`;
}

/** How a base backup's tar archive is stored: as it is, or gzip-compressed (possibly in several members). */
export type ArchiveCompression = "none" | "gzip";

/** Key of one of a base backup's tar archives: `data` for the main directory, else the tablespace OID. */
export function archiveKey(backupId: string, tablespace: string | null, compression: ArchiveCompression = "gzip"): string {
  return `${BASE_PREFIX}${backupId}/${tablespace ?? "data"}.tar${compression === "gzip" ? ".gz" : ""}`;
}

/** A backup id from its start time: `20261205T194501Z` (sortable; unique to the second). */
export function backupIdFor(start: Date): string {
  return start.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/** True for a string shaped like {@link backupIdFor}'s output. */
export function isBackupId(id: string): boolean {
  return /^\d{8}T\d{6}Z$/.test(id);
}
