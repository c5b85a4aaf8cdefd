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
