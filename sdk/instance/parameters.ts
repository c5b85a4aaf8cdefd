/**
 * The cluster's parameters in a new data directory before its first start (ADR 0043). The
 * controller writes every instance's parameters with `ALTER SYSTEM` once the server answers
 * (ADR 0009); a parameter that needs a restart (`max_connections`, `shared_buffers`, ...) set that
 * way on a brand-new cluster cost a restart of every instance and a switchover (the new cluster's
 * second timeline) right after it was created. So the operator also puts the parameters in the
 * cluster's ConfigMap (`parameters.json`), and the manager appends them to
 * `postgresql.auto.conf` — the file `ALTER SYSTEM` writes, in its format — right after initdb, so
 * the first start already runs them and the controller's `ALTER SYSTEM` finds nothing to change.
 * Replicas get them with the clone (the base backup carries `postgresql.auto.conf`).
 *
 * A value PostgreSQL refuses must not keep the server from starting: the written file is checked
 * with `postgres -C` (which reads the configuration files as a start does, and fails on a value
 * or name it refuses); the parameters that fail are left out and reported, and the controller's
 * `ALTER SYSTEM` reports them as before (an InvalidParameter condition and Event).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors";

/** The ConfigMap key (and file name under its mount) of the parameters, JSON `{ name: value }`. */
export const PARAMETERS_FILE = "parameters.json";

/** A parameter name PostgreSQL accepts in a configuration file (custom `ext.name` ones included). */
const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

/**
 * A value as `ALTER SYSTEM` writes it in `postgresql.auto.conf`: single-quoted, with quotes and
 * backslashes doubled (the configuration file's string syntax). Pure.
 * @throws {TypeError} on a NUL byte or a line break, which a configuration file cannot carry.
 */
export function confValue(value: string): string {
  if (/[\0\n\r]/.test(value)) throw new TypeError("a configuration value cannot contain a NUL byte or a line break");
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

/**
 * The parameters in `file` (the mounted `parameters.json`), in a stable order; none when `file` is
 * undefined or absent (an operator from before ADR 0043 mounts none).
 * @throws {InputError} when the file is not a JSON object of strings.
 */
export function readParameters(file: string | undefined): [string, string][] {
  if (file === undefined || !existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new InputError(`${file} (SETPOINT_PARAMETERS_SOURCE) is not JSON: ${(cause as Error).message}`, { propertyPath: "SETPOINT_PARAMETERS_SOURCE" }, { cause });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== "string")) {
    throw new InputError(`${file} (SETPOINT_PARAMETERS_SOURCE) must hold a JSON object of parameter names to string values`, { propertyPath: "SETPOINT_PARAMETERS_SOURCE" });
  }
  return Object.entries(parsed as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `dataDir`'s postgresql.auto.conf, ending with a line break (empty when there is none). */
export function readAutoConf(dataDir: string): string {
  const file = join(dataDir, "postgresql.auto.conf");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

/** What {@link writeParameters} did. */
export interface ParametersWritten {
  readonly written: readonly string[];
  /** Left out: PostgreSQL refused them (its message), or they cannot be written to a configuration file. */
  readonly refused: readonly { readonly name: string; readonly message: string }[];
}

/**
 * Appends `parameters` to `dataDir`'s `postgresql.auto.conf`, keeping only what `check` accepts.
 * @param check reads the data directory's configuration as a server start would; resolves to
 *   PostgreSQL's complaint, or undefined when it accepts the files.
 */
export async function writeParameters(dataDir: string, parameters: readonly [string, string][], check: (dataDir: string) => Promise<string | undefined>): Promise<ParametersWritten> {
  const file = join(dataDir, "postgresql.auto.conf");
  const base = readAutoConf(dataDir);
  const refused: { name: string; message: string }[] = [];
  const lines: [string, string][] = [];
  for (const [name, value] of parameters) {
    if (!PARAMETER_NAME.test(name)) {
      refused.push({ name, message: "not a parameter name" });
      continue;
    }
    try {
      lines.push([name, `${name} = ${confValue(value)}`]);
    } catch (err) {
      refused.push({ name, message: (err as Error).message });
    }
  }
  const write = (kept: readonly [string, string][]): void => writeFileSync(file, `${base}${kept.map(([, l]) => `${l}\n`).join("")}`);
  if (lines.length === 0) return { written: [], refused };
  write(lines);
  if ((await check(dataDir)) === undefined) return { written: lines.map(([n]) => n), refused };
  // Something is refused: keep each parameter that the server accepts with those kept before it.
  const kept: [string, string][] = [];
  for (const line of lines) {
    write([...kept, line]);
    const complaint = await check(dataDir);
    if (complaint === undefined) kept.push(line);
    else refused.push({ name: line[0], message: complaint });
  }
  write(kept);
  return { written: kept.map(([n]) => n), refused };
}
