import { createHash } from "node:crypto";
import { once } from "node:events";
import { createGzip } from "node:zlib";
import { BackupError } from "../errors";
import { archiveKey, backupIdFor, DEFAULT_SEGMENT_BYTES, FORMAT_VERSION, manifestKey, META, segmentName, segnoBefore, segnoOf } from "./layout";
import type { BackupManifest, ManifestArchive } from "./manifest";
import type { ObjectStore } from "./store";
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
  /** gzip level of the archives. @default 1 (fast; see docs/adr/0021) */
  gzipLevel?: number;
  signal?: AbortSignal;
}

/** Outcome of {@link takeBaseBackup}: the manifest written, and how long it took. */
export interface TakeBaseBackupResult {
  manifest: BackupManifest;
  seconds: number;
}

/**
 * Takes a base backup of `source` straight into the store: each tar archive is gzip-compressed and
 * uploaded while it streams (nothing touches local disk), with the sha256 and size of its tar in
 * the manifest, which is written last. WAL is not included: recovery takes it from the archive
 * (the catalog marks a backup usable only while its WAL from start to end is archived).
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
  const level = options.gzipLevel ?? 1;
  const result = await (options.stream ?? streamBaseBackup)(
    { source: options.source, label: options.label ?? `setpoint ${id}`, fastCheckpoint: options.fastCheckpoint ?? true, wal: false, ...(options.signal ? { signal: options.signal } : {}) },
    async (archive, data) => {
      const key = archiveKey(id, archive.tablespace);
      const hash = createHash("sha256");
      let bytes = 0;
      const gzip = createGzip({ level });
      // Feed the gzip stream from the tar stream while uploading what it produces.
      const feeding = (async () => {
        try {
          for await (const chunk of data) {
            hash.update(chunk);
            bytes += chunk.length;
            if (gzip.destroyed) throw new Error("upload stopped");
            // once() rejects when the gzip stream is destroyed by a failed upload.
            if (!gzip.write(chunk)) await once(gzip, "drain");
          }
          gzip.end();
        } catch (err) {
          gzip.destroy(err as Error);
          throw err;
        }
      })();
      const uploading = store.upload(key, gzip, { [META.format]: String(FORMAT_VERSION), [META.compression]: "gzip" }).catch((err: unknown) => {
        gzip.destroy(err as Error);
        throw err;
      });
      const [storedBytes] = await Promise.all([uploading, feeding.catch(async (err: unknown) => {
        // The upload's own error is the one worth reporting when both fail.
        await uploading;
        throw err;
      })]);
      archives.push({ tablespace: archive.tablespace, ...(archive.location ? { location: archive.location } : {}), key, bytes, storedBytes, sha256: hash.digest("hex") });
    },
  );
  const end = new Date();
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const manifest: BackupManifest = {
    format: FORMAT_VERSION,
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
