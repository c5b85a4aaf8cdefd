/**
 * The error vocabulary shared by every Setpoint engine. Errors carry structured payloads
 * (`code`, `object`, `statement`, `propertyPath`, ...) so callers branch on fields, never on
 * message text. Every error that wraps another passes it as `{ cause }`.
 */

/** Options accepted by every Setpoint error. */
export interface SetpointErrorOptions {
  /** The underlying error, kept for diagnostics. */
  cause?: unknown;
}

/** Base class of every error Setpoint throws on purpose. */
export class SetpointError extends Error {
  /** A stable machine-readable code, e.g. `CONNECTION_FAILED`. */
  readonly code: string;

  constructor(code: string, message: string, options: SetpointErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** Invalid user input: arguments, flags, desired-schema text. Names the field and what is allowed. */
export class InputError extends SetpointError {
  /** Dotted path of the offending property, e.g. `connection.port`, when there is one. */
  readonly propertyPath: string | undefined;
  /** Source file of the offending input, when it came from a file. */
  readonly file: string | undefined;
  /** 1-based line in `file`. */
  readonly line: number | undefined;

  constructor(
    message: string,
    details: { propertyPath?: string; file?: string; line?: number } = {},
    options: SetpointErrorOptions = {},
  ) {
    super("INVALID_INPUT", message, options);
    this.propertyPath = details.propertyPath;
    this.file = details.file;
    this.line = details.line;
  }
}

/** A database could not be reached or refused the connection. The message never contains a password. */
export class ConnectionError extends SetpointError {
  /** The target with any password redacted, e.g. `postgres://app:***@db:5432/app`. */
  readonly target: string;

  constructor(target: string, message: string, options: SetpointErrorOptions = {}) {
    super("CONNECTION_FAILED", message, options);
    this.target = target;
  }
}

/** An embedded (packaged) PostgreSQL server could not be found, initialized or started. */
export class EmbeddedPostgresError extends SetpointError {
  /** The PostgreSQL major version involved. */
  readonly major: number;

  constructor(major: number, message: string, options: SetpointErrorOptions = {}) {
    super("EMBEDDED_POSTGRES", message, options);
    this.major = major;
  }
}

/** Why a backup or restore operation failed: a stable code callers branch on. */
export type BackupErrorReason =
  /** The bucket does not exist at the endpoint. */
  | "BUCKET_NOT_FOUND"
  /** The endpoint refused the credentials (unknown key, wrong secret, no permission). */
  | "ACCESS_DENIED"
  /** The endpoint could not be reached (connection refused, DNS, timeout). */
  | "ENDPOINT_UNREACHABLE"
  /** The object store answered with an error not otherwise classified. */
  | "STORE_ERROR"
  /** A WAL file with the same name but different content is already archived. */
  | "ARCHIVE_CONFLICT"
  /** An object's content does not match the checksum recorded when it was written. */
  | "CHECKSUM_MISMATCH"
  /** A WAL segment between a base backup and the recovery target is not in the archive. */
  | "WAL_SEGMENT_MISSING"
  /** The recovery target is earlier than the end of the oldest usable base backup. */
  | "TARGET_BEFORE_OLDEST_BACKUP"
  /** The recovery target is later than the archived WAL reaches. */
  | "TARGET_AFTER_ARCHIVE"
  /** No (usable) base backup matches: none in the bucket, or the named one is missing or incomplete. */
  | "BACKUP_NOT_FOUND"
  /** The restored server stopped recovering before it reached its target. */
  | "RECOVERY_FAILED"
  /** The restore's destination is not an empty directory. */
  | "DESTINATION_NOT_EMPTY"
  /**
   * The newest base backup is so far behind the archive that fetching its WAL would move more
   * than the backup itself: a replica bootstrapping from the object store clones the primary instead.
   */
  | "BACKUP_TOO_FAR_BEHIND";

/**
 * A backup, WAL-archive or restore operation failed. The payload names the endpoint, bucket and
 * object key involved; never a credential.
 */
export class BackupError extends SetpointError {
  /** What went wrong; see {@link BackupErrorReason}. */
  readonly reason: BackupErrorReason;
  /** Object store endpoint URL, when one is involved. */
  readonly endpoint: string | undefined;
  /** Bucket, when one is involved. */
  readonly bucket: string | undefined;
  /** Object key or WAL file name, when one is involved. */
  readonly object: string | undefined;

  constructor(
    reason: BackupErrorReason,
    message: string,
    details: { endpoint?: string; bucket?: string; object?: string } = {},
    options: SetpointErrorOptions = {},
  ) {
    super(reason, message, options);
    this.reason = reason;
    this.endpoint = details.endpoint;
    this.bucket = details.bucket;
    this.object = details.object;
  }
}

/** The name a log or a failure record gives `err`: a {@link BackupError}'s reason, else a {@link SetpointError}'s code, else `ERROR`. */
export function errorReason(err: unknown): string {
  return err instanceof BackupError ? err.reason : err instanceof SetpointError ? err.code : "ERROR";
}
