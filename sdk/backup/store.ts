import type * as S3 from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { BackupError, type BackupErrorReason } from "../errors";
import { describeStore, redactEndpoint, resolveCredentials, type ObjectStoreOptions } from "./config";

/** One stored object, as listed. Keys are relative to the store's prefix. */
export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

/** An object's metadata, as read by `head`. */
export interface ObjectInfo extends StoredObject {
  /** User metadata (lower-case names, without the `x-amz-meta-` prefix). */
  metadata: Record<string, string>;
}

/**
 * The object-store operations the backup engine needs, on one bucket and prefix. Keys are relative
 * to the prefix. Every failure is a {@link BackupError} naming the endpoint, bucket and key, never a
 * credential.
 */
export interface ObjectStore {
  readonly endpoint: string;
  readonly bucket: string;
  readonly prefix: string;
  /** Proves the bucket exists and the credentials may use it. */
  check(): Promise<void>;
  /** Writes a whole object. */
  put(key: string, body: Buffer, metadata: Record<string, string>): Promise<void>;
  /** Writes an object of unknown length from a stream (multipart); returns its size in bytes. */
  upload(key: string, body: AsyncIterable<Buffer>, metadata: Record<string, string>, options?: UploadOptions): Promise<number>;
  /** Reads a whole object, or undefined when there is none at `key`. */
  get(key: string): Promise<{ body: Buffer; info: ObjectInfo } | undefined>;
  /** Streams an object, or undefined when there is none at `key`. */
  stream(key: string): Promise<{ body: AsyncIterable<Buffer>; info: ObjectInfo } | undefined>;
  /** Metadata of an object, or undefined when there is none at `key`. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Deletes an object; deleting one that is not there is success. */
  remove(key: string): Promise<void>;
  /** Every object whose key starts with `keyPrefix`, in key order. */
  list(keyPrefix: string): AsyncIterable<StoredObject>;
  /** Releases the client's sockets. */
  close(): void;
}

/** How {@link ObjectStore.upload} splits a stream into the parts of a multipart upload. */
export interface UploadOptions {
  /** Bytes per part (S3: 5 MiB to 5 GiB; at most 10 000 parts, so 16 MiB allows 160 GB). @default 16 MiB */
  partBytes?: number;
  /** Parts sent at once; reading the next part waits while this many are in flight. @default 4 */
  partsInFlight?: number;
}

const MIB = 1024 * 1024;
/** Default part size of a multipart upload (S3's minimum is 5 MiB). */
export const DEFAULT_PART_BYTES = 16 * MIB;
/** Default number of parts of one multipart upload sent at once. */
export const DEFAULT_PARTS_IN_FLIGHT = 4;

/**
 * Opens an S3-compatible bucket with `@aws-sdk/client-s3`. Credentials are resolved now (from the
 * environment, files or values, see {@link ObjectStoreOptions.credentials}) and kept inside the client.
 * @throws {BackupError} ACCESS_DENIED when the credentials cannot be read.
 */
export function openObjectStore(options: ObjectStoreOptions): ObjectStore {
  const credentials = resolveCredentials(options);
  // The pinned SDK supports Node 20 (engines >=20); its warning about later releases would land in
  // PostgreSQL's log once per archived segment. The SDK's own switch; an explicit setting wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // The SDK looks for ~/.aws files and fails (uv_os_homedir ENOENT) for a uid without a passwd
  // entry and no HOME (an arbitrary runAsUser): such a user has no such files.
  if (!process.env.HOME) process.env.HOME = "/nonexistent";
  // Loaded on use: a program that never opens a bucket never loads the S3 client (ADR 0011).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use
  const { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand } = require("@aws-sdk/client-s3") as typeof S3;
  const endpoint = redactEndpoint(options.endpoint);
  const bucket = options.bucket;
  const prefix = options.prefix ?? "";
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? true,
    credentials,
    maxAttempts: 3,
    // S3-compatible servers differ in which checksum headers they accept: send them only when required.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 5000, requestTimeout: 300_000 },
  });
  const full = (key: string): string => (prefix ? `${prefix}/${key}` : key);
  const fail = (err: unknown, op: string, key?: string): BackupError => storeError(err, op, { endpoint, bucket, prefix, ...(key === undefined ? {} : { key }) }, credentials.secretAccessKey, credentials.accessKeyId);
  const infoOf = (key: string, r: { ContentLength?: number | undefined; LastModified?: Date | undefined; Metadata?: Record<string, string> | undefined }): ObjectInfo => ({
    key,
    size: r.ContentLength ?? 0,
    lastModified: r.LastModified ?? new Date(0),
    metadata: r.Metadata ?? {},
  });

  return {
    endpoint,
    bucket,
    prefix,
    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        throw fail(err, "open bucket");
      }
    },
    async put(key, body, metadata) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: full(key), Body: body, ContentLength: body.length, Metadata: metadata }));
      } catch (err) {
        throw fail(err, "write", key);
      }
    },
    async upload(key, body, metadata, uploadOptions = {}) {
      const partBytes = uploadOptions.partBytes ?? DEFAULT_PART_BYTES;
      const partsInFlight = uploadOptions.partsInFlight ?? DEFAULT_PARTS_IN_FLIGHT;
      if (!Number.isInteger(partBytes) || partBytes < 5 * MIB || partBytes > 5 * 1024 * MIB) {
        throw new RangeError(`partBytes must be an integer from 5 MiB to 5 GiB (S3's limits), got ${String(partBytes)}`);
      }
      if (!Number.isInteger(partsInFlight) || partsInFlight < 1) throw new RangeError(`partsInFlight must be a positive integer, got ${String(partsInFlight)}`);
      let uploadId: string | undefined;
      let total = 0;
      // Parts in flight at once: reading and compressing the next part overlaps the upload of the last.
      const inFlight = new Set<Promise<void>>();
      let failure: unknown;
      try {
        const parts: { ETag: string; PartNumber: number }[] = [];
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        let partNumber = 0;
        const flush = async (): Promise<void> => {
          const data = Buffer.concat(pending, pendingBytes);
          pending = [];
          pendingBytes = 0;
          if (uploadId === undefined) {
            const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: full(key), Metadata: metadata }));
            uploadId = created.UploadId;
          }
          const n = ++partNumber;
          const id = uploadId;
          const sending: Promise<void> = client
            .send(new UploadPartCommand({ Bucket: bucket, Key: full(key), UploadId: id, PartNumber: n, Body: data, ContentLength: data.length }))
            .then((r) => void parts.push({ ETag: r.ETag ?? "", PartNumber: n }))
            .catch((err: unknown) => void (failure ??= err))
            .finally(() => inFlight.delete(sending));
          inFlight.add(sending);
          while (inFlight.size >= partsInFlight) await Promise.race(inFlight);
          if (failure !== undefined) throw failure;
        };
        for await (const chunk of body) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          total += chunk.length;
          if (pendingBytes >= partBytes) await flush();
        }
        if (uploadId === undefined) {
          // Small enough for one request.
          const data = Buffer.concat(pending, pendingBytes);
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: full(key), Body: data, ContentLength: data.length, Metadata: metadata }));
          return total;
        }
        if (pendingBytes > 0) await flush();
        await Promise.all(inFlight);
        if (failure !== undefined) throw failure;
        parts.sort((a, b) => a.PartNumber - b.PartNumber);
        await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: full(key), UploadId: uploadId, MultipartUpload: { Parts: parts } }));
        return total;
      } catch (err) {
        await Promise.all(inFlight);
        if (uploadId !== undefined) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: full(key), UploadId: uploadId })).catch(() => undefined);
        }
        throw err instanceof BackupError ? err : fail(err, "upload", key);
      }
    },
    async get(key) {
      const s = await this.stream(key);
      if (s === undefined) return undefined;
      const chunks: Buffer[] = [];
      try {
        for await (const c of s.body) chunks.push(c);
      } catch (err) {
        throw fail(err, "read", key);
      }
      return { body: Buffer.concat(chunks), info: s.info };
    },
    async stream(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        return { body: r.Body as Readable & AsyncIterable<Buffer>, info: infoOf(key, r) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw fail(err, "read", key);
      }
    },
    async head(key) {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        return infoOf(key, r);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw fail(err, "read", key);
      }
    },
    async remove(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: full(key) }));
      } catch (err) {
        if (isNotFound(err)) return;
        throw fail(err, "delete", key);
      }
    },
    async *list(keyPrefix) {
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: full(keyPrefix), ...(token === undefined ? {} : { ContinuationToken: token }) }));
        } catch (err) {
          throw fail(err, "list", keyPrefix);
        }
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined) continue;
          yield { key: prefix ? o.Key.slice(prefix.length + 1) : o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },
    close() {
      client.destroy();
    },
  };
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket");
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "TimeoutError", "RequestTimeout"]);
const DENIED = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "InvalidToken", "ExpiredToken"]);

/**
 * Turns an SDK or network error into a {@link BackupError} with a classified reason. The message
 * names the operation, the store and the key; the SDK's own text is kept only after every
 * occurrence of the credentials is masked (it may quote the access key).
 */
export function storeError(
  err: unknown,
  op: string,
  where: { endpoint: string; bucket: string; prefix: string; key?: string },
  ...secrets: string[]
): BackupError {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; errors?: { code?: string }[] };
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? e.errors?.[0]?.code ?? (e as { cause?: { code?: string } }).cause?.code;
  let reason: BackupErrorReason;
  let fix: string;
  if (e.name === "NoSuchBucket" || (op === "open bucket" && status === 404)) {
    reason = "BUCKET_NOT_FOUND";
    fix = `create the bucket "${where.bucket}" or correct the bucket name`;
  } else if ((e.name !== undefined && DENIED.has(e.name)) || status === 403) {
    reason = "ACCESS_DENIED";
    fix = "check the access key id and secret (and that they may use this bucket)";
  } else if ((code !== undefined && UNREACHABLE.has(code)) || (e.name !== undefined && UNREACHABLE.has(e.name)) || (status === undefined && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|socket hang up|timed out|connect/i.test(e.message ?? ""))) {
    reason = "ENDPOINT_UNREACHABLE";
    fix = "check the endpoint URL and that the object store is running and reachable from here";
  } else {
    reason = "STORE_ERROR";
    fix = "see the object store's logs";
  }
  let detail = [e.name, code, status === undefined ? undefined : `HTTP ${status}`].filter((x) => x !== undefined && x !== "Error").join(", ");
  if (reason === "STORE_ERROR" && e.message) detail += `${detail ? ": " : ""}${e.message}`;
  for (const s of secrets) if (s) detail = detail.split(s).join("***");
  const store = describeStore({ endpoint: where.endpoint, bucket: where.bucket, prefix: where.prefix });
  const object = where.key === undefined ? "" : ` (object ${where.key})`;
  const message = `${reasonText(reason)}: cannot ${op} ${store}${object}${detail ? ` [${detail}]` : ""}; ${fix}`;
  return new BackupError(reason, message, { endpoint: where.endpoint, bucket: where.bucket, ...(where.key === undefined ? {} : { object: where.key }) }, { cause: scrubbed(err, secrets) });
}

function reasonText(reason: BackupErrorReason): string {
  switch (reason) {
    case "BUCKET_NOT_FOUND":
      return "bucket not found";
    case "ACCESS_DENIED":
      return "access denied";
    case "ENDPOINT_UNREACHABLE":
      return "object store unreachable";
    default:
      return "object store error";
  }
}

/** A copy of `err` safe to keep as a cause: its name and its message with every secret masked. */
function scrubbed(err: unknown, secrets: string[]): Error {
  let message = err instanceof Error ? err.message : String(err);
  for (const s of secrets) if (s) message = message.split(s).join("***");
  const copy = new Error(message);
  copy.name = err instanceof Error ? err.name : "Error";
  return copy;
}
