import { Client, type ClientConfig } from "pg";
import { ConnectionError, InputError } from "../errors";
import { quoteConninfoValue } from "./quote";

/** How to reach a database: a URL, or discrete fields. The password is never logged. */
export type ConnectionInput =
  | string
  | {
      host: string;
      /** @default 5432 */
      port?: number;
      user: string;
      password?: string;
      database: string;
      /** libpq-style sslmode. @default "prefer" semantics of node-postgres (no TLS unless asked) */
      sslmode?: "disable" | "require" | "verify-full";
    };

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Milliseconds to wait for the TCP connection and authentication. @default 10000 */
  connectTimeoutMs?: number;
  /** `application_name` reported to the server. @default "setpoint" */
  applicationName?: string;
}

/** Returns the URL with the password replaced by `***`, safe for logs, errors and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, "***");
    return u.toString();
  } catch {
    return "(unparseable connection URL)";
  }
}

/** A display form of any connection input, with the password redacted. */
export function describeConnection(input: ConnectionInput): string {
  if (typeof input === "string") return redactUrl(input);
  return `postgres://${input.user}${input.password ? ":***" : ""}@${input.host}:${input.port ?? 5432}/${input.database}`;
}

/**
 * Converts a connection input to a node-postgres config.
 * @throws {InputError} when the URL is not a postgres:// or postgresql:// URL.
 */
export function toClientConfig(input: ConnectionInput, options: ConnectOptions = {}): ClientConfig {
  const common = {
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? "setpoint",
  };
  if (typeof input !== "string") {
    return {
      ...common,
      host: input.host,
      port: input.port ?? 5432,
      user: input.user,
      password: input.password,
      database: input.database,
      ssl: input.sslmode === "require" ? { rejectUnauthorized: false } : input.sslmode === "verify-full" ? true : undefined,
    };
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch (cause) {
    throw new InputError(`connection URL is not a valid URL; expected postgres://user:password@host:port/database`, { propertyPath: "url" }, { cause });
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new InputError(`connection URL has scheme "${url.protocol}"; expected postgres:// or postgresql://`, { propertyPath: "url" });
  }
  return { ...common, connectionString: input };
}

/**
 * The libpq connection string of `input`, for a server to use (a subscription's `CONNECTION`).
 * Holds the password: never log it; pass it only as an SQL literal to the server.
 */
export function toConninfo(input: ConnectionInput): string {
  if (typeof input === "string") {
    toClientConfig(input); // validates the scheme
    return input;
  }
  const parts: [string, string | undefined][] = [
    ["host", input.host],
    ["port", String(input.port ?? 5432)],
    ["user", input.user],
    ["password", input.password],
    ["dbname", input.database],
    ["sslmode", input.sslmode],
  ];
  return parts.flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${quoteConninfoValue(v)}`])).join(" ");
}

/**
 * Opens a client connection.
 * @throws {ConnectionError} naming the (redacted) target, the reason and the fix.
 */
export async function connect(input: ConnectionInput, options: ConnectOptions = {}): Promise<Client> {
  const client = new Client(toClientConfig(input, options));
  // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return client;
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw new ConnectionError(describeConnection(input), connectionFailureMessage(describeConnection(input), cause), { cause: scrub(cause) });
  }
}

function connectionFailureMessage(target: string, cause: unknown): string {
  const code = (cause as { code?: string }).code;
  const base = `cannot connect to ${target}`;
  switch (code) {
    case "ECONNREFUSED":
      return `${base}: connection refused; check that the server is running and the host and port are right`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `${base}: host name does not resolve; check the host`;
    case "28P01":
    case "28000":
      return `${base}: authentication failed; check the user and password`;
    case "3D000":
      return `${base}: database does not exist; create it or fix the database name`;
    default: {
      const msg = cause instanceof Error ? cause.message : String(cause);
      return `${base}: ${/timeout/i.test(msg) ? "timed out; check the host, port and network" : msg}`;
    }
  }
}

// node-postgres errors can carry the connection parameters; keep only what is safe.
function scrub(cause: unknown): unknown {
  if (!(cause instanceof Error)) return cause;
  const safe = new Error(cause.message);
  (safe as Error & { code?: string }).code = (cause as { code?: string }).code;
  return safe;
}
