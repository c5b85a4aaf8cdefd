import { isIP } from "node:net";
import type { Client} from "pg";
import { type ClientConfig } from "pg";
import { pgClient } from "./client";
import { ConnectionError, InputError } from "../errors";
import { quoteConninfoValue } from "./quote";

/**
 * How to reach a database: a URL (`postgres://user:password@host:port/db?sslmode=require`), a libpq
 * connection string (`host=db port=5432 dbname=app user=app password='s e c' sslmode=require`), or
 * discrete fields. The password is never logged.
 */
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
      /** With `verify-full`: the authority (PEM) to verify the server against instead of the system's (libpq `sslrootcert`). */
      ca?: string;
      /** With `ca`: the name the server's certificate must carry when `host` is an address (libpq's `host` beside `hostaddr`). @default host */
      servername?: string;
      /** A client certificate (PEM) this process presents (pg_hba `cert`); with `key`. Never shown by {@link describeConnection}. */
      cert?: string;
      /** The client certificate's private key (PEM). A secret: never logged, never in errors. */
      key?: string;
      /**
       * For {@link toConninfo} only (a server connecting elsewhere, e.g. a subscription): paths of
       * the authority, client certificate and key on THAT server's file system (libpq `sslrootcert`,
       * `sslcert`, `sslkey`). This process never reads them.
       */
      files?: { readonly sslrootcert?: string; readonly sslcert?: string; readonly sslkey?: string };
    };

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Milliseconds to wait for the TCP connection and authentication. @default 10000 */
  connectTimeoutMs?: number;
  /** `application_name` reported to the server. @default "setpoint" */
  applicationName?: string;
}

/**
 * Returns the URL or libpq connection string with the password replaced by `***`, safe for logs,
 * errors and status.
 */
export function redactUrl(url: string): string {
  if (isConninfo(url)) {
    try {
      return Object.entries(parseConninfo(url))
        .map(([k, v]) => `${k}=${/pass/i.test(k) ? "***" : quoteConninfoValue(v)}`)
        .join(" ");
    } catch {
      return "(unparseable connection string)";
    }
  }
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
      ssl: fieldsSsl(input),
    };
  }
  if (isConninfo(input)) return { ...common, ...conninfoConfig(parseConninfo(input)) };
  let url: URL;
  try {
    url = new URL(input);
  } catch (cause) {
    throw new InputError(
      `connection URL is not a valid URL; expected postgres://user:password@host:port/database or a libpq connection string (host=... dbname=... user=...)`,
      { propertyPath: "url" },
      { cause },
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new InputError(`connection URL has scheme "${url.protocol}"; expected postgres:// or postgresql://`, { propertyPath: "url" });
  }
  return { ...common, connectionString: input };
}

/** node-postgres `ssl` for connection fields' `sslmode` (and, with verify-full, their own authority and server name). Pure. */
function fieldsSsl(input: Extract<ConnectionInput, { host: string }>): ClientConfig["ssl"] {
  const client = input.cert !== undefined && input.key !== undefined ? { cert: input.cert, key: input.key } : {};
  if (input.sslmode === "require") return { rejectUnauthorized: false, ...client };
  if (input.sslmode !== "verify-full") return undefined;
  if (input.ca === undefined) return input.cert === undefined ? true : { rejectUnauthorized: true, ...client };
  const servername = input.servername ?? (isIP(input.host) === 0 ? input.host : undefined);
  return { ca: input.ca, rejectUnauthorized: true, ...(servername !== undefined ? { servername } : {}), ...client };
}

/**
 * A `postgres://` URL as connection fields verified against `caPem` (verify-full): what a cluster's
 * app Secret gives (`uri` and `ca.crt`, ADR 0035). node-postgres cannot take an authority inside a
 * URL, so the URL is taken apart. Pure.
 * @throws {InputError} when `url` is not a postgres:// URL.
 */
export function withAuthority(url: string, caPem: string): Exclude<ConnectionInput, string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new InputError("connection URL is not a valid URL; expected postgres://user:password@host:port/database", { propertyPath: "url" }, { cause });
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new InputError(`connection URL has scheme "${u.protocol}"; expected postgres:// or postgresql://`, { propertyPath: "url" });
  // libpq's `hostaddr`: connect there, verify the certificate against the URL's host name.
  const hostaddr = u.searchParams.get("hostaddr") ?? undefined;
  return {
    host: hostaddr ?? u.hostname,
    ...(hostaddr !== undefined ? { servername: u.hostname } : {}),
    port: u.port === "" ? 5432 : Number(u.port),
    user: decodeURIComponent(u.username),
    ...(u.password === "" ? {} : { password: decodeURIComponent(u.password) }),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username),
    sslmode: "verify-full",
    ca: caPem,
  };
}

/** libpq parameters a connection string may hold (others are refused, naming these). */
export const CONNINFO_KEYS = ["host", "port", "dbname", "user", "password", "sslmode", "application_name", "connect_timeout", "options"] as const;

/**
 * True when `text` is a libpq `key=value` connection string rather than a URL: it has no URL scheme
 * and its first word is followed by `=`.
 */
export function isConninfo(text: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim()) && /^\s*[A-Za-z_]+\s*=/.test(text);
}

/**
 * Parses a libpq connection string by libpq's rules: `key = value` pairs separated by whitespace; a
 * value is single-quoted (may hold spaces; `\'` and `\\` escape) or a run of non-space characters
 * (`\` escapes the next one). Later keys win, as in libpq.
 * @throws {InputError} naming the problem (never the value, which may be a password).
 */
export function parseConninfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const bad = (what: string) => new InputError(`connection string: ${what}; expected key=value pairs such as host=db port=5432 dbname=app user=app`, { propertyPath: "url" });
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  for (space(); i < text.length; space()) {
    const start = i;
    while (i < text.length && text[i] !== "=" && !/\s/.test(text[i]!)) i++;
    const key = text.slice(start, i);
    space();
    if (text[i] !== "=") throw bad(`missing "=" after "${key.slice(0, 40)}"`);
    if (!/^[a-z_]+$/.test(key)) throw bad(`"${key.slice(0, 40)}" is not a parameter name`);
    i++;
    space();
    let value = "";
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw bad(`unterminated quoted value of ${key}`);
        const ch = text[i++]!;
        if (ch === "'") break;
        value += ch === "\\" && i < text.length ? text[i++]! : ch;
      }
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        const ch = text[i++]!;
        value += ch === "\\" && i < text.length ? text[i++]! : ch;
      }
    }
    out[key] = value;
  }
  if (Object.keys(out).length === 0) throw bad("it is empty");
  return out;
}

function conninfoConfig(params: Record<string, string>): ClientConfig {
  const unknown = Object.keys(params).filter((k) => !(CONNINFO_KEYS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new InputError(`connection string: unsupported parameter(s) ${unknown.join(", ")}; supported: ${CONNINFO_KEYS.join(", ")}`, { propertyPath: "url" });
  }
  const port = params.port === undefined ? undefined : Number(params.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new InputError(`connection string: port must be a number from 1 to 65535, got "${params.port}"`, { propertyPath: "url" });
  const sslmode = params.sslmode;
  const modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
  if (sslmode !== undefined && !modes.includes(sslmode)) throw new InputError(`connection string: sslmode must be one of ${modes.join(", ")}, got "${sslmode}"`, { propertyPath: "url" });
  const timeout = params.connect_timeout === undefined ? undefined : Number(params.connect_timeout);
  return {
    host: params.host,
    port,
    database: params.dbname,
    user: params.user,
    password: params.password,
    ...(params.application_name !== undefined ? { application_name: params.application_name } : {}),
    ...(timeout !== undefined && timeout > 0 ? { connectionTimeoutMillis: timeout * 1000 } : {}),
    ...(params.options !== undefined ? { options: params.options } : {}),
    // node-postgres speaks TLS only when asked: disable, allow and prefer connect without it.
    ssl: sslmode === "require" ? { rejectUnauthorized: false } : sslmode === "verify-ca" ? { checkServerIdentity: () => undefined } : sslmode === "verify-full" ? true : undefined,
  };
}

/**
 * `input` pointed at another database of the same server (a URL's path, a connection string's
 * `dbname`, or the `database` field), for scratch databases beside a given one.
 */
export function withDatabase(input: string, database: string): string;
export function withDatabase(input: ConnectionInput, database: string): ConnectionInput;
export function withDatabase(input: ConnectionInput, database: string): ConnectionInput {
  if (typeof input !== "string") return { ...input, database };
  if (isConninfo(input)) {
    toClientConfig(input); // validates
    return Object.entries({ ...parseConninfo(input), dbname: database })
      .map(([k, v]) => `${k}=${quoteConninfoValue(v)}`)
      .join(" ");
  }
  const url = new URL(input);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/**
 * The discrete fields of any connection input (what a pooler's configuration or a display needs).
 * @throws {InputError} when the input is not a valid URL or connection string.
 */
export function connectionFields(input: ConnectionInput): { host: string | undefined; port: number | undefined; database: string | undefined; user: string | undefined; password: string | undefined } {
  if (typeof input !== "string") return { host: input.host, port: input.port, database: input.database, user: input.user, password: input.password };
  const c = toClientConfig(input);
  if (c.connectionString === undefined) return { host: c.host, port: c.port, database: c.database, user: c.user, password: typeof c.password === "string" ? c.password : undefined };
  const url = new URL(input);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1") || undefined,
    port: url.port === "" ? undefined : Number(url.port),
    database: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined,
    user: url.username === "" ? undefined : decodeURIComponent(url.username),
    password: url.password === "" ? undefined : decodeURIComponent(url.password),
  };
}

/**
 * The libpq connection string of `input`, for a server to use (a subscription's `CONNECTION`).
 * Holds the password: never log it; pass it only as an SQL literal to the server. With a
 * `servername` and `host` an address, `host` is the name to verify and `hostaddr` the address
 * (libpq's spelling); `files` become `sslrootcert`/`sslcert`/`sslkey` (paths on that server). PEM
 * fields (`ca`, `cert`, `key`) cannot travel in a conninfo: refused, naming `files` as the fix.
 * @throws {InputError} when fields hold PEM material.
 */
export function toConninfo(input: ConnectionInput): string {
  if (typeof input === "string") {
    toClientConfig(input); // validates the scheme
    return input;
  }
  const pem = (["ca", "cert", "key"] as const).filter((k) => input[k] !== undefined);
  if (pem.length > 0) {
    throw new InputError(`connection fields ${pem.join(", ")} hold PEM for this process and cannot be written into a server's connection string; give the paths on that server in files (sslrootcert, sslcert, sslkey)`, { propertyPath: pem[0]! });
  }
  const named = input.servername !== undefined && isIP(input.host) !== 0;
  const parts: [string, string | undefined][] = [
    ["host", named ? input.servername : input.host],
    ["hostaddr", named ? input.host : undefined],
    ["port", String(input.port ?? 5432)],
    ["user", input.user],
    ["password", input.password],
    ["dbname", input.database],
    ["sslmode", input.sslmode],
    ["sslrootcert", input.files?.sslrootcert],
    ["sslcert", input.files?.sslcert],
    ["sslkey", input.files?.sslkey],
  ];
  return parts.flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${quoteConninfoValue(v)}`])).join(" ");
}

/**
 * Opens a client connection.
 * @throws {ConnectionError} naming the (redacted) target, the reason and the fix.
 */
export async function connect(input: ConnectionInput, options: ConnectOptions = {}): Promise<Client> {
  const client = pgClient(toClientConfig(input, options));
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
