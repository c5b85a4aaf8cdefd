import { createHash } from "node:crypto";
import { BackupError, InputError } from "../errors";
import { gzipBlocks } from "./compress";
import { archiveKey, backupIdFor, DEFAULT_SEGMENT_BYTES, FORMAT_VERSION, manifestKey, META, segmentName, segnoBefore, segnoOf, type ArchiveCompression } from "./layout";
import { MANIFEST_FORMAT, type BackupManifest, type ManifestArchive } from "./manifest";
import type { ObjectStore, UploadOptions } from "./store";
import { streamBaseBackup, type BaseBackupResult, type ReplicationSource } from "../instance/basebackup";

/**
 * A base-backup client: streams a base backup of `source`, calling `onArchive` once per tar archive
 * (tablespace null = the main data directory), in order. {@link streamBaseBackup} by default.
 */
export type BaseBackupStreamer = (
  o: { source: ReplicationSource; label?: string; fastCheckpoint?: boolean; wal?: boolean; signal?: AbortSignal },
  onArchive: (archive: { tablespace: string | null; location?: string }, data: AsyncIterable<Buffer>) => Promise<void>,
) => Promise<BaseBackupResult>;

/** Options of {@link takeBaseBackup}. */
export interface TakeBaseBackupOptions {
  source: ReplicationSource;
  /** The base-backup client. @default streamBaseBackup (the replication protocol's BASE_BACKUP) */
  stream?: BaseBackupStreamer;
  /** Label recorded by the server. @default "setpoint <id>" */
  label?: string;
  /** Checkpoint at once instead of spreading it. @default true */
  fastCheckpoint?: boolean;
  /** wal_segment_size of the source. @default 16 MiB */
  segmentBytes?: number;
  /**
   * How the tar archives are stored: as they are, or gzip-compressed (about half the bytes on
   * table data, at the cost of CPU: one core gzips ~50 MB/s at level 1, where a local copy runs at
   * 350 MB/s; see docs/adr/0040). @default "none"
   */
  compression?: ArchiveCompression;
  /** gzip level of the archives (with compression "gzip"). @default 1 (fast; see docs/adr/0021) */
  gzipLevel?: number;
  /** Blocks of an archive gzip-compressed at once (see {@link gzipBlocks}). @default min(4, cores) */
  gzipThreads?: number;
  /** Uncompressed bytes per gzip member. @default 8 MiB */
  gzipBlockBytes?: number;
  /** Part size and parts in flight of each archive's multipart upload. @default 16 MiB, 4 (see {@link UploadOptions}) */
  upload?: UploadOptions;
  signal?: AbortSignal;
}

/** Outcome of {@link takeBaseBackup}: the manifest written, and how long it took. */
export interface TakeBaseBackupResult {
  manifest: BackupManifest;
  seconds: number;
}

/**
 * Takes a base backup of `source` straight into the store: each tar archive is uploaded (several
 * parts at once; gzip-compressed in blocks on several threads with `compression: "gzip"`) while it
 * streams (nothing touches local disk), with the sha256 and size of its tar in the manifest, which
 * is written last. WAL is not included: recovery takes it from the archive
 * (the catalog marks a backup usable only while its WAL from start to end is archived).
 * @throws {InputError} a bad compression, level or thread count (before anything is taken).
 * @throws {BackupError} the object store's reasons; an error of the stream as it is. A failed
 *   backup leaves its archives without a manifest: never listed as usable.
 */
export async function takeBaseBackup(store: ObjectStore, options: TakeBaseBackupOptions): Promise<TakeBaseBackupResult> {
  const begin = new Date();
  const id = backupIdFor(begin);
  if ((await store.head(manifestKey(id))) !== undefined) {
    throw new BackupError("STORE_ERROR", `a base backup ${id} already exists in s3://${store.bucket}; take backups at least a second apart`, { endpoint: store.endpoint, bucket: store.bucket, object: manifestKey(id) });
  }
  const archives: ManifestArchive[] = [];
  const compression = options.compression ?? "none";
  const level = options.gzipLevel ?? 1;
  if (compression !== "none" && compression !== "gzip") throw new InputError(`compression must be "none" or "gzip", got ${JSON.stringify(compression)}`, { propertyPath: "compression" });
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new InputError(`gzipLevel must be an integer from 1 to 9, got ${String(level)}`, { propertyPath: "gzipLevel" });
  const threads = options.gzipThreads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new InputError(`gzipThreads must be a positive integer, got ${String(threads)}`, { propertyPath: "gzipThreads" });
  const result = await (options.stream ?? streamBaseBackup)(
    { source: options.source, label: options.label ?? `setpoint ${id}`, fastCheckpoint: options.fastCheckpoint ?? true, wal: false, ...(options.signal ? { signal: options.signal } : {}) },
    async (archive, data) => {
      const key = archiveKey(id, archive.tablespace, compression);
      const hash = createHash("sha256");
      let bytes = 0;
      // The tar is hashed as it arrives, compressed (when asked) in independent gzip members on
      // several threads (one gzip stream is the slowest stage by far: docs/adr/0040) and uploaded
      // in parts several at a time; each stage waits for the next, so memory stays bounded.
      async function* hashed(): AsyncGenerator<Buffer> {
        for await (const chunk of data) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      }
      const body = compression === "gzip" ? gzipBlocks(hashed(), { level, ...(threads === undefined ? {} : { threads }), ...(options.gzipBlockBytes === undefined ? {} : { blockBytes: options.gzipBlockBytes }) }) : hashed();
      const storedBytes = await store.upload(key, body, { [META.format]: String(FORMAT_VERSION), [META.compression]: compression }, options.upload);
      archives.push({ tablespace: archive.tablespace, ...(archive.location ? { location: archive.location } : {}), key, bytes, storedBytes, sha256: hash.digest("hex"), compression });
    },
  );
  const end = new Date();
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    id,
    label: options.label ?? `setpoint ${id}`,
    serverVersionNum: result.serverVersionNum,
    timeline: result.timeline,
    startLsn: result.startLsn,
    endLsn: result.endLsn,
    startWal: segmentName(result.timeline, segnoOf(result.startLsn, segmentBytes), segmentBytes),
    endWal: segmentName(result.timeline, segnoBefore(result.endLsn, segmentBytes), segmentBytes),
    segmentBytes,
    beginTime: begin.toISOString(),
    endTime: end.toISOString(),
    bytes: archives.reduce((n, a) => n + a.bytes, 0),
    storedBytes: archives.reduce((n, a) => n + a.storedBytes, 0),
    walIncluded: false,
    archives,
  };
  await store.put(manifestKey(id), Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), { [META.format]: String(FORMAT_VERSION) });
  return { manifest, seconds: (end.getTime() - begin.getTime()) / 1000 };
}
