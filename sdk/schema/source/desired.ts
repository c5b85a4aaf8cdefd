import { readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { InputError } from "../../errors";
import { resolveMetaCommands, type IncludeContext } from "./meta-commands";
import type { Rename } from "./rename";

/** One piece of desired-state SQL and where it came from (for error messages with file and line). */
export interface SqlFile {
  readonly name: string;
  readonly sql: string;
}

/** The desired schema: SQL files applied in order, plus declared renames. */
export interface DesiredSchema {
  readonly files: readonly SqlFile[];
  /** Declared renames (`renamedFrom`); the engine never guesses them. @default [] */
  readonly renames?: readonly Rename[];
}

/**
 * Loads desired SQL from a `.sql` file or a directory of `.sql` files (applied in name order). psql
 * meta-commands are read as psql reads them (meta-commands.ts, ADR 0057): `\i` and `\ir` include
 * their file here, `\restrict` and the like are blanked, the rest refused.
 * @throws {InputError} when the path does not exist, is empty, or holds no `.sql` file, or for a
 * meta-command that is refused or an include that cannot be read.
 */
export function loadSchemaPath(path: string): DesiredSchema {
  const abs = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch (cause) {
    throw new InputError(`schema path ${path} does not exist; pass a .sql file or a directory of .sql files`, { propertyPath: "schema", file: path }, { cause });
  }
  if (!isDir) {
    const bytes = readFileSync(abs);
    if (bytes.subarray(0, 5).toString("latin1") === ARCHIVE_MAGIC) throw archiveError(path, "custom-format archive (pg_dump -Fc)");
    return { files: withIncludes([{ name: path, sql: bytes.toString("utf8") }]) };
  }
  const entries = readdirSync(abs);
  const names = entries.filter((n) => n.endsWith(".sql")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0 && entries.includes("toc.dat")) throw archiveError(path, "directory-format archive (pg_dump -Fd)");
  if (names.length === 0) throw new InputError(`schema directory ${path} holds no .sql file`, { propertyPath: "schema", file: path });
  return { files: withIncludes(names.map((n) => ({ name: join(path, n), sql: readFileSync(join(abs, n), "utf8") }))) };
}

/** The first bytes of pg_dump's custom-format archive and of a directory archive's toc.dat. */
const ARCHIVE_MAGIC = "PGDMP";

/** A pg_dump archive given as the schema: what it is and how to make SQL of it. */
function archiveError(path: string, what: string): InputError {
  return new InputError(
    `schema path ${path} is a pg_dump ${what}, not SQL: make plain SQL of its schema with pg_restore --schema-only -f schema.sql ${path} (or dump again with pg_dump --schema-only -f schema.sql), then pass schema.sql`,
    { propertyPath: "schema", file: path },
  );
}

/** Files read from disk with their meta-commands carried out, includes read relative to this process. */
function withIncludes(files: readonly SqlFile[]): SqlFile[] {
  const cwd = process.cwd();
  const context: IncludeContext = {
    cwd,
    read: (path) => {
      const shown = relative(cwd, path);
      return { name: shown.startsWith("..") || isAbsolute(shown) ? path : shown, sql: readFileSync(path, "utf8") };
    },
  };
  return files.flatMap((f) => resolveMetaCommands(f, context));
}

/** Desired schema from SQL text. */
export function schemaFromSql(sql: string | readonly string[], name = "schema.sql"): DesiredSchema {
  const parts = typeof sql === "string" ? [sql] : sql;
  return { files: parts.map((s, i) => ({ name: parts.length === 1 ? name : `${name}#${i + 1}`, sql: s })) };
}

/** 1-based line of a 1-based character position in `text`. */
export function lineOf(text: string, position: number): number {
  let line = 1;
  for (let i = 0; i < Math.min(position - 1, text.length); i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
