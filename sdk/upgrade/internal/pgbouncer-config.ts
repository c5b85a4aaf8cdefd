/**
 * The PgBouncer side of the PgBouncer traffic switch that is not protocol: targets, the
 * `[databases]` file the switch owns, and writing it atomically. PgBouncer's configuration is not
 * SQL and has its own quoting rules, so it is rendered here rather than in sdk/postgres/quote.ts.
 */
import { randomBytes } from "node:crypto";
import { chmod, chown, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { InputError } from "../../errors";
import { connectionFields, isConninfo, parseConninfo } from "../../postgres/connection";
import type { Side } from "../traffic";

/** Where one side of a PgBouncer database points: discrete fields. */
export interface PgBouncerTargetFields {
  host: string;
  /** @default 5432 */
  port?: number;
  /** Database name on the server. */
  database: string;
  /**
   * Server user PgBouncer logs in as, whatever user the client gave (PgBouncer's forced user).
   * @default undefined (PgBouncer logs in as the client's user)
   */
  user?: string;
  /** Password of `user` on the server; written only into the databases file. */
  password?: string;
}

/**
 * One side of a PgBouncer database: fields, or a URL `postgres://[user[:password]@]host[:port]/database`.
 * A user in the URL becomes PgBouncer's forced user, as with the fields.
 */
export type PgBouncerTarget = string | PgBouncerTargetFields;

/** A target with defaults applied. */
export interface ResolvedTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
}

/** One database the switch owns, validated. */
export interface ResolvedDatabase {
  readonly name: string;
  readonly blue: ResolvedTarget;
  readonly green: ResolvedTarget;
  readonly settings: Readonly<Record<string, string | number>>;
}

/**
 * PgBouncer database names the switch accepts: they are sent bare in admin console commands
 * (`PAUSE app`), whose parser takes a word of letters, digits and underscores.
 */
export const DATABASE_NAME = /^[A-Za-z0-9_]+$/;

const RESERVED_KEYS = new Set(["host", "port", "dbname", "user", "password"]);

/**
 * Validates a target and applies defaults.
 * @throws {InputError} naming `propertyPath` when the URL or a field is invalid.
 */
export function resolveTarget(target: PgBouncerTarget, propertyPath: string): ResolvedTarget {
  let fields: PgBouncerTargetFields;
  if (typeof target === "string" && isConninfo(target)) {
    const params = parseConninfo(target);
    const extra = Object.keys(params).filter((k) => !RESERVED_KEYS.has(k));
    if (extra.length) {
      throw new InputError(`${propertyPath} has parameter(s) ${extra.join(", ")}; a PgBouncer target takes only host, port, dbname, user and password (TLS to servers is PgBouncer's server_tls_* setting)`, { propertyPath });
    }
    const f = connectionFields(target);
    fields = { host: f.host ?? "", port: f.port, database: f.database ?? "", user: f.user, password: f.password };
  } else if (typeof target === "string") {
    let url: URL;
    try {
      url = new URL(target);
    } catch (cause) {
      throw new InputError(`${propertyPath} is not a valid URL; expected postgres://[user[:password]@]host[:port]/database`, { propertyPath }, { cause });
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      throw new InputError(`${propertyPath} has scheme "${url.protocol}"; expected postgres:// or postgresql://`, { propertyPath });
    }
    if ([...url.searchParams.keys()].length > 0) {
      throw new InputError(`${propertyPath} has query parameters; a PgBouncer target takes only user, password, host, port and database (TLS to servers is PgBouncer's server_tls_* setting)`, { propertyPath });
    }
    fields = {
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port === "" ? undefined : Number(url.port),
      database: decodeURIComponent(url.pathname.replace(/^\//, "")),
      user: url.username === "" ? undefined : decodeURIComponent(url.username),
      password: url.password === "" ? undefined : decodeURIComponent(url.password),
    };
  } else {
    fields = target;
  }
  const port = fields.port ?? 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`${propertyPath}.port must be an integer from 1 to 65535`, { propertyPath: `${propertyPath}.port` });
  for (const key of ["host", "database"] as const) {
    if (!fields[key]) throw new InputError(`${propertyPath}.${key} is required`, { propertyPath: `${propertyPath}.${key}` });
  }
  for (const key of ["host", "database", "user", "password"] as const) {
    const value = fields[key];
    if (value !== undefined) checkValue(value, `${propertyPath}.${key}`);
  }
  return { host: fields.host, port, database: fields.database, user: fields.user, password: fields.password };
}

/**
 * Validates the per-database settings written into both entries (`pool_size`, `pool_mode`, ...).
 * @throws {InputError} for a malformed key, a connection key the switch writes itself, or a bad value.
 */
export function resolveSettings(settings: Readonly<Record<string, string | number>> | undefined, propertyPath: string): Readonly<Record<string, string | number>> {
  for (const [key, value] of Object.entries(settings ?? {})) {
    if (!/^[a-z_]+$/.test(key)) throw new InputError(`${propertyPath} key "${key}" is not a PgBouncer database parameter name ([a-z_]+)`, { propertyPath });
    if (RESERVED_KEYS.has(key)) throw new InputError(`${propertyPath} cannot set "${key}"; it comes from the blue and green targets`, { propertyPath: `${propertyPath}.${key}` });
    if (typeof value === "string") checkValue(value, `${propertyPath}.${key}`);
    else if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new InputError(`${propertyPath}.${key} must be a finite number or a string`, { propertyPath: `${propertyPath}.${key}` });
    }
  }
  return { ...settings };
}

/** Host, port, database and forced user of a target, for messages: never the password. */
export function describeTarget(t: ResolvedTarget): string {
  return `${t.user === undefined ? "" : `${t.user}@`}${t.host}:${t.port}/${t.database}`;
}

/** Whether two targets send PgBouncer to the same place (the password is not compared). */
export function sameTarget(a: ResolvedTarget, b: ResolvedTarget): boolean {
  return a.host === b.host && a.port === b.port && a.database === b.database && a.user === b.user;
}

/**
 * The whole databases file for `side`. It starts its own `[databases]` section, so the main
 * configuration must `%include` it at its end (anything after the include would land in it).
 * Holds passwords when targets have them.
 */
export function renderDatabasesFile(databases: readonly ResolvedDatabase[], side: Side): string {
  const lines = [
    `; Written by the Setpoint traffic switch: traffic goes to ${side}.`,
    "; Rewritten whole at every switch; edits here are lost.",
    "[databases]",
    ...databases.map((db) => `${db.name} = ${renderEntry(side === "blue" ? db.blue : db.green, db.settings)}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** One `[databases]` connection string: `host='h' port=5432 dbname='d' ...`. */
export function renderEntry(target: ResolvedTarget, settings: Readonly<Record<string, string | number>> = {}): string {
  const pairs: [string, string | number | undefined][] = [
    ["host", target.host],
    ["port", target.port],
    ["dbname", target.database],
    ["user", target.user],
    ["password", target.password],
    ...Object.entries(settings),
  ];
  return pairs.flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${typeof v === "number" ? String(v) : quoteValue(v)}`])).join(" ");
}

/**
 * Quotes a PgBouncer connection-string value: single quotes, an embedded quote doubled (PgBouncer's
 * parser, unlike libpq's, takes backslashes literally).
 */
export function quoteValue(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

// A line break would end the ini line; NUL ends the C string; `\'` is read differently by PgBouncer
// versions that added backslash escapes, so the same text could mean two passwords.
function checkValue(value: string, propertyPath: string): void {
  if (/[\r\n\0]/.test(value)) throw new InputError(`${propertyPath} cannot contain a line break or NUL byte`, { propertyPath });
  if (value.includes("\\'")) throw new InputError(`${propertyPath} cannot contain a backslash followed by a single quote (PgBouncer versions disagree on its meaning)`, { propertyPath });
}

/**
 * Replaces `path` with `content` atomically (a temporary file in the same directory, fsynced, then
 * renamed), keeping the mode and owner of the file it replaces (0600 for a new one), so a PgBouncer
 * running as another user can still read it and a reader never sees half a file.
 * @throws {Error} when the directory is not writable or the owner cannot be kept.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  let mode = 0o600;
  let owner: { uid: number; gid: number } | undefined;
  try {
    const st = await stat(path);
    mode = st.mode & 0o777;
    owner = { uid: st.uid, gid: st.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(tmp, "wx", mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, mode); // the umask may have narrowed it
    const mine = await stat(tmp);
    if (owner && (mine.uid !== owner.uid || mine.gid !== owner.gid)) {
      try {
        await chown(tmp, owner.uid, owner.gid);
      } catch (cause) {
        throw new Error(`cannot keep the owner (uid ${owner.uid}) of ${path} when rewriting it; run the switch as that user or as root`, { cause });
      }
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}

// The rename is durable only once the directory entry is; best effort (some filesystems refuse).
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // not supported here; the rename itself is still atomic
  }
}
