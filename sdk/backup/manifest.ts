import { z } from "zod";
import { isBackupId, type ArchiveCompression } from "./layout";

/**
 * Version of the manifest written now. 2 added `archives[].compression` (format 1 archives are all
 * gzip); a reader of format 1 only refuses a format 2 manifest instead of misreading its archives.
 */
export const MANIFEST_FORMAT = 2;

/** One tar archive of a base backup, as stored. */
export interface ManifestArchive {
  /** Tablespace OID, or null for the main data directory. */
  tablespace: string | null;
  /** The tablespace's location on the source server. */
  location?: string;
  /** Object key (relative to the store's prefix). */
  key: string;
  /** Uncompressed tar size in bytes. */
  bytes: number;
  /** Size in the store. */
  storedBytes: number;
  /** sha256 (hex) of the uncompressed tar. */
  sha256: string;
  /** How the archive is stored (format 1 manifests: always gzip, and the field is absent). */
  compression: ArchiveCompression;
}

/**
 * A base backup's manifest (`base/<id>/backup.json`), written after every archive is stored: a
 * backup without one is incomplete and never used.
 */
export interface BackupManifest {
  /** 1 (every archive gzip) or 2 (per-archive `compression`); written as {@link MANIFEST_FORMAT}. */
  format: 1 | typeof MANIFEST_FORMAT;
  /** Backup id (its start time, `20261205T194501Z`). */
  id: string;
  /** Label given to the server. */
  label: string;
  /** server_version_num of the source. */
  serverVersionNum: number;
  /** Timeline the backup was taken on. */
  timeline: number;
  /** WAL position where the backup starts (its checkpoint's redo point). */
  startLsn: string;
  /** WAL position the backup is consistent at. */
  endLsn: string;
  /** First WAL segment recovery needs. */
  startWal: string;
  /** Last WAL segment needed to reach consistency. */
  endWal: string;
  /** wal_segment_size of the source. */
  segmentBytes: number;
  /** ISO time when the backup started and ended. */
  beginTime: string;
  endTime: string;
  /** Total uncompressed size of the archives. */
  bytes: number;
  /** Total size in the store. */
  storedBytes: number;
  /** Whether the WAL to reach consistency is inside the data archive (else it comes from the archive). */
  walIncluded: boolean;
  archives: ManifestArchive[];
}

const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i);
const wal = z.string().regex(/^[0-9A-F]{24}$/);

const manifestSchema = z.object({
  format: z.union([z.literal(1), z.literal(MANIFEST_FORMAT)]),
  id: z.string().refine(isBackupId, "not a backup id"),
  label: z.string(),
  serverVersionNum: z.number().int().positive(),
  timeline: z.number().int().positive(),
  startLsn: lsn,
  endLsn: lsn,
  startWal: wal,
  endWal: wal,
  segmentBytes: z.number().int().positive(),
  beginTime: z.iso.datetime(),
  endTime: z.iso.datetime(),
  bytes: z.number().int().nonnegative(),
  storedBytes: z.number().int().nonnegative(),
  walIncluded: z.boolean(),
  archives: z
    .array(
      z.object({
        tablespace: z.string().nullable(),
        location: z.string().optional(),
        key: z.string().min(1),
        bytes: z.number().int().nonnegative(),
        storedBytes: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        compression: z.enum(["none", "gzip"]).optional(),
      }),
    )
    .min(1),
});

/**
 * Parses a manifest read from the store (a trust boundary: anyone with write access to the bucket
 * may have written it).
 * @returns the manifest, or a reason it cannot be used.
 */
export function parseManifest(text: string): { manifest: BackupManifest } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: "backup.json is not valid JSON" };
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { problem: `backup.json: ${issue.path.join(".") || "(root)"}: ${issue.message}` };
  }
  const m = r.data;
  if (m.format === 1 && m.archives.some((a) => a.compression !== undefined)) return { problem: "backup.json: a format 1 manifest names an archive's compression (only format 2 does)" };
  if (m.format === MANIFEST_FORMAT && m.archives.some((a) => a.compression === undefined)) return { problem: "backup.json: a format 2 manifest must name each archive's compression" };
  // Format 1 archives are gzip: the field is filled in, so readers need not know the format.
  return { manifest: { ...m, archives: m.archives.map((a) => ({ ...a, compression: a.compression ?? "gzip" })) } as BackupManifest };
}
