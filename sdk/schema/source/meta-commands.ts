/**
 * psql meta-commands in desired SQL (ADR 0057). Desired schemas are often psql scripts: every
 * `pg_dump` since the August 2025 minor releases writes `\restrict KEY` … `\unrestrict KEY` around
 * its output, migration files start with `\set ON_ERROR_STOP on`, and schemas split over files are
 * joined with `\i` / `\ir`. Setpoint runs the SQL itself, not through psql, so PostgreSQL would see
 * a bare backslash and report a syntax error.
 *
 * {@link resolveMetaCommands} reads a file's meta-commands the way psql finds them — a backslash
 * outside string literals, quoted identifiers, dollar-quoted bodies and comments starts one, which
 * runs to the end of its line — and:
 * - blanks those that cannot change the schema (spaces of the same length, so every error position
 *   and line number stays the file's): `\restrict`, `\unrestrict`, `\echo`, `\qecho`, `\warn`,
 *   `\timing`, `\pset`, `\encoding UTF8`, and `\set` / `\unset` of psql's own settings
 *   (`ON_ERROR_STOP`, …);
 * - replaces `\i`, `\include`, `\ir` and `\include_relative` by the file they name, when the caller
 *   can read files (a schema given as a path): `\i` reads relative to the working directory, `\ir`
 *   to the including file, as psql does;
 * - refuses everything else with the command, file and line and what to do: `\connect` (a desired
 *   schema is one database), `\copy`, `\gexec`, conditionals, psql variables, which would change
 *   what the SQL means.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { InputError } from "../../errors";

/** A piece of desired SQL and the file it came from (desired.ts's `SqlFile`, which imports this module). */
interface SqlFile {
  readonly name: string;
  readonly sql: string;
}

/** Reads an included file: its name as the error messages show it and its SQL. */
export type IncludeReader = (path: string) => SqlFile;

/** Where includes are read from; without it an include is refused. */
export interface IncludeContext {
  readonly read: IncludeReader;
  /** The directory `\i` resolves against (psql: its working directory). @default process.cwd() */
  readonly cwd?: string;
}

/** Meta-commands that change nothing in the database: blanked. */
const IGNORED = new Set(["restrict", "unrestrict", "echo", "qecho", "warn", "timing", "pset", "a", "t", "x", "h", "?", "conninfo"]);
/** psql's own variables (settings of psql, not values the SQL interpolates). */
const PSQL_SETTINGS = new Set([
  "AUTOCOMMIT", "COMP_KEYWORD_CASE", "ECHO", "ECHO_HIDDEN", "FETCH_COUNT", "HIDE_TABLEAM", "HIDE_TOAST_COMPRESSION", "HISTCONTROL", "HISTSIZE",
  "IGNOREEOF", "ON_ERROR_ROLLBACK", "ON_ERROR_STOP", "QUIET", "SHOW_ALL_RESULTS", "SHOW_CONTEXT", "SINGLELINE", "SINGLESTEP", "VERBOSITY",
]);
const INCLUDES = new Map([
  ["i", false],
  ["include", false],
  ["ir", true],
  ["include_relative", true],
]);
/** How deep includes may nest (a cycle is reported before this). */
const MAX_INCLUDE_DEPTH = 32;

/** One meta-command: where it starts (the backslash) and ends (before the newline), its name and arguments. */
interface MetaCommand {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly args: string;
  /** A statement was begun and not ended by `;` before the command. */
  readonly insideStatement: boolean;
}

/**
 * The file's SQL with its meta-commands carried out as described in the module comment: one piece
 * per run of SQL between includes, each named as its file (its lines numbered as in that file).
 * @throws {InputError} for a meta-command that would change what the SQL means, an include that
 * cannot be read (or without {@link IncludeContext}), or one that includes itself.
 */
export function resolveMetaCommands(file: SqlFile, context?: IncludeContext, chain: readonly string[] = []): SqlFile[] {
  const commands = findMetaCommands(file.sql);
  if (commands.length === 0) return [file];
  // Data in psql's COPY form (a whole pg_dump, not --schema-only): its rows would read as commands.
  const copy = /^COPY\s[^;]*\sFROM\s+stdin\b[^;]*;\s*$/im.exec(file.sql);
  if (copy) {
    throw new InputError(
      `${file.name}:${lineAt(file.sql, copy.index)} holds table data (COPY ... FROM stdin): a desired schema is its DDL only. Dump it with pg_dump --schema-only, or remove the data`,
      { file: file.name, propertyPath: "schema" },
    );
  }
  const out: SqlFile[] = [];
  let text = "";
  let from = 0;
  /** Newlines standing in for the lines of the file before a piece, so its line numbers stay the file's. */
  let lead = "";
  const flush = (upTo: number): void => {
    text += file.sql.slice(from, upTo);
    if (/\S/.test(text)) out.push({ name: file.name, sql: lead + text });
  };
  for (const c of commands) {
    const at = `${file.name}:${lineAt(file.sql, c.start)}`;
    const include = INCLUDES.get(c.name);
    if (include !== undefined) {
      if (c.insideStatement) throw new InputError(`\\${c.name} at ${at} is inside a statement: put it between statements (after a ";")`, { file: file.name, propertyPath: "schema" });
      const target = unquoteArgument(c.args);
      if (!target) throw new InputError(`\\${c.name} at ${at} names no file: write \\${c.name} FILE`, { file: file.name, propertyPath: "schema" });
      if (!context) {
        throw new InputError(
          `\\${c.name} ${target} at ${at} includes a file, which needs the schema given as a path (--schema FILE, Schema's sqlPath): inline SQL cannot include files. Inline the included SQL, or pass the schema as a file`,
          { file: file.name, propertyPath: "schema" },
        );
      }
      const path = isAbsolute(target) ? target : resolve(include ? dirname(resolve(context.cwd ?? process.cwd(), file.name)) : (context.cwd ?? process.cwd()), target);
      const here = resolve(context.cwd ?? process.cwd(), file.name);
      const seen = [...chain, here];
      if (seen.includes(path)) throw new InputError(`\\${c.name} ${target} at ${at} includes a file that is already being included (${[...seen, path].join(" -> ")}): remove the cycle`, { file: file.name, propertyPath: "schema" });
      if (seen.length >= MAX_INCLUDE_DEPTH) throw new InputError(`\\${c.name} ${target} at ${at}: includes nest deeper than ${MAX_INCLUDE_DEPTH} files`, { file: file.name, propertyPath: "schema" });
      let included: SqlFile;
      try {
        included = context.read(path);
      } catch (cause) {
        const how = include ? "\\ir reads relative to the including file's directory" : "\\i reads relative to the current directory; \\ir relative to the including file";
        throw new InputError(`\\${c.name} ${target} at ${at}: cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); ${how}`, { file: file.name, propertyPath: "schema" }, { cause });
      }
      flush(c.start);
      out.push(...resolveMetaCommands(included, context, seen));
      lead = "\n".repeat(lineAt(file.sql, c.end) - 1);
      text = "";
      from = c.end;
      continue;
    }
    refuseUnlessIgnored(c, at, file.name);
    text += file.sql.slice(from, c.start) + " ".repeat(c.end - c.start);
    from = c.end;
  }
  flush(file.sql.length);
  return out;
}

/** Throws for a meta-command that is neither an include nor one that changes nothing. */
function refuseUnlessIgnored(c: MetaCommand, at: string, file: string): void {
  if (IGNORED.has(c.name)) return;
  if (c.name === "encoding" && /^\s*'?(utf8|utf-8|unicode)'?\s*$/i.test(c.args)) return;
  if (c.name === "set" || c.name === "unset") {
    const variable = /^\s*(\S+)/.exec(c.args)?.[1];
    if (variable === undefined || PSQL_SETTINGS.has(variable)) return;
    throw new InputError(
      `\\${c.name} ${variable} at ${at} sets a psql variable: Setpoint runs the desired SQL itself, not through psql, and does not interpolate :${variable}. Write its value into the SQL`,
      { file, propertyPath: "schema" },
    );
  }
  const fix =
    c.name === "c" || c.name === "connect"
      ? "A desired schema is the schema of one database: dump that database alone (pg_dump --schema-only DBNAME, without --create), or remove the line"
      : c.name === "copy"
        ? "Desired SQL describes the schema, not data: remove it (load data after the schema is applied)"
        : "Remove the line, or write what it does as SQL";
  throw new InputError(
    `psql meta-command \\${c.name} at ${at} is not supported in desired SQL: Setpoint runs the SQL itself, not through psql (it reads \\i and \\ir, and skips \\restrict, \\unrestrict, \\echo and \\set of psql's settings). ${fix}`,
    { file, propertyPath: "schema" },
  );
}

/** A meta-command's single file argument: psql's quoting of it undone. */
function unquoteArgument(args: string): string {
  const a = args.trim();
  if (a.startsWith("'")) {
    const end = a.lastIndexOf("'");
    return end > 0 ? a.slice(1, end).replace(/''/g, "'") : a.slice(1);
  }
  return /^\S+/.exec(a)?.[0] ?? "";
}

/** 1-based line of a 0-based offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The meta-commands of `sql`: each backslash outside string literals (`'…'`, `E'…'` with backslash
 * escapes), quoted identifiers, dollar-quoted bodies and comments, to the end of its line.
 */
export function findMetaCommands(sql: string): MetaCommand[] {
  const out: MetaCommand[] = [];
  // Most desired SQL has no backslash at all: no scan (the SQL of 10,000 tables is ~5 MB).
  if (!sql.includes("\\")) return out;
  const n = sql.length;
  let open = false;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          level++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          level--;
          i += 2;
        } else i++;
      }
    } else if (c === "'") {
      const before = i > 0 ? sql[i - 1]! : "";
      const escapes = (before === "E" || before === "e") && (i < 2 || !/[\w$]/.test(sql[i - 2]!));
      i++;
      while (i < n) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
      open = true;
    } else if (c === '"') {
      i++;
      while (i < n && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i++;
      open = true;
    } else if (c === "$" && /[A-Za-z_$]/.test(sql[i + 1] ?? "") && !(i > 0 && /[\w$]/.test(sql[i - 1]!))) {
      const m = /^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i, i + 70));
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        i = close < 0 ? n : close + m[0].length;
      } else i++;
      open = true;
    } else if (c === "\\") {
      const nl = sql.indexOf("\n", i);
      let end = nl < 0 ? n : nl;
      if (end > i + 1 && sql[end - 1] === "\r") end--;
      const m = /^\\([A-Za-z_]+|[^\sA-Za-z_])/.exec(sql.slice(i, Math.min(end, i + 40)));
      const name = m?.[1] ?? "";
      out.push({ start: i, end, name, args: sql.slice(i + 1 + name.length, end), insideStatement: open });
      i = end;
    } else {
      if (c === ";") open = false;
      else if (c !== " " && c !== "\n" && c !== "\t" && c !== "\r" && c !== "\f") open = true;
      i++;
    }
  }
  return out;
}
