import { createHash, randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { BackupError, InputError } from "../errors";
import { FORMAT_VERSION, META, parseWalName, walKey } from "./layout";
import type { ObjectStore } from "./store";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Outcome of {@link archiveWal}. */
export interface ArchiveResult {
  /** `archived`: written now; `already-archived`: an identical copy was there (a retried archive). */
  status: "archived" | "already-archived";
  key: string;
  /** Uncompressed size. */
  bytes: number;
  /** Size in the store. */
  storedBytes: number;
}

/**
 * gzip level of WAL files: level 1 compresses a segment of typical WAL 3–10× at several times the
 * speed of the default level 6, and archive speed is what bounds archive lag.
 */
export const WAL_GZIP_LEVEL = 1;

/**
 * Archives one WAL file (what `archive_command` is given as `%p` and `%f`): gzip-compressed, with
 * the sha256 and size of its content in the object's metadata. Idempotent: when an object with the
 * same content is already there (PostgreSQL retries an archive whose success it did not see), it
 * succeeds without writing.
 * @throws {InputError} when `name` is not a WAL file name.
 * @throws {BackupError} ARCHIVE_CONFLICT when a different file of that name is archived (two
 *   clusters writing into one prefix, or a timeline reused); the object store's reasons otherwise.
 */
export async function archiveWal(store: ObjectStore, path: string, name: string = basename(path)): Promise<ArchiveResult> {
  const file = parseWalName(name);
  if (file === undefined) throw new InputError(`"${name}" is not a WAL file name (a segment, .partial, .backup or .history file)`, { propertyPath: "name" });
  const key = walKey(file);
  const content = await readFile(path);
  const sha256 = createHash("sha256").update(content).digest("hex");
  const existing = await store.head(key);
  if (existing !== undefined) {
    if (existing.metadata[META.sha256] === sha256) return { status: "already-archived", key, bytes: content.length, storedBytes: existing.size };
    throw new BackupError(
      "ARCHIVE_CONFLICT",
      `WAL file ${name} is already archived at ${key} in s3://${store.bucket}${store.prefix ? `/${store.prefix}` : ""} with different content ` +
        `(sha256 ${existing.metadata[META.sha256] ?? "unknown"}, this one ${sha256}); refusing to overwrite it. ` +
        `Another cluster may be archiving into the same prefix: give each cluster its own prefix`,
      { endpoint: store.endpoint, bucket: store.bucket, object: key },
    );
  }
  const compressed = await gzipAsync(content, { level: WAL_GZIP_LEVEL });
  await store.put(key, compressed, {
    [META.format]: String(FORMAT_VERSION),
    [META.sha256]: sha256,
    [META.size]: String(content.length),
    [META.compression]: "gzip",
  });
  return { status: "archived", key, bytes: content.length, storedBytes: compressed.length };
}

/** Outcome of {@link restoreWal}. */
export type RestoreWalResult = { found: true; key: string; bytes: number } | { found: false; key: string };

/**
 * Fetches one archived WAL file into `destination` (what `restore_command` is given as `%f` and
 * `%p`), decompressed and checked against the sha256 recorded when it was archived. The file
 * appears atomically. `found: false` when the archive has no such file: PostgreSQL asks for files
 * that may not exist (the next segment at the end of the archive, future timelines' history).
 * @throws {InputError} when `name` is not a WAL file name.
 * @throws {BackupError} CHECKSUM_MISMATCH when the content differs from the recorded checksum;
 *   the object store's reasons otherwise.
 */
export async function restoreWal(store: ObjectStore, name: string, destination: string): Promise<RestoreWalResult> {
  const file = parseWalName(name);
  if (file === undefined) throw new InputError(`"${name}" is not a WAL file name (a segment, .partial, .backup or .history file)`, { propertyPath: "name" });
  const key = walKey(file);
  const object = await store.get(key);
  if (object === undefined) return { found: false, key };
  let content: Buffer;
  try {
    content = await gunzipAsync(object.body);
  } catch (cause) {
    throw checksumError(store, key, name, "it is not valid gzip data", cause);
  }
  const expected = object.info.metadata[META.sha256];
  const actual = createHash("sha256").update(content).digest("hex");
  if (expected === undefined) throw checksumError(store, key, name, "it has no recorded checksum (not written by Setpoint)");
  if (expected !== actual) throw checksumError(store, key, name, `its content's sha256 is ${actual}, ${expected} was recorded when it was archived`);
  const tmp = join(dirname(destination), `.${basename(destination)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, content);
    await rename(tmp, destination);
  } finally {
    await rm(tmp, { force: true });
  }
  return { found: true, key, bytes: content.length };
}

function checksumError(store: ObjectStore, key: string, name: string, why: string, cause?: unknown): BackupError {
  return new BackupError(
    "CHECKSUM_MISMATCH",
    `archived WAL file ${name} (${key} in s3://${store.bucket}) is damaged: ${why}; recovery cannot use it`,
    { endpoint: store.endpoint, bucket: store.bucket, object: key },
    cause === undefined ? {} : { cause },
  );
}
