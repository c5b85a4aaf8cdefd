import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InputError } from "../../errors";
import { loadSchemaPath, lineOf } from "./desired";
import { findMetaCommands, resolveMetaCommands } from "./meta-commands";

const file = (sql: string, name = "schema.sql") => ({ name, sql });
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error("expected a refusal");
};

describe("findMetaCommands", () => {
  it("finds a backslash outside literals, identifiers, dollar bodies and comments, to the end of its line", () => {
    const sql = [
      "\\restrict abc",
      "CREATE TABLE t (a text DEFAULT E'x\\\\y\\n', \"b\\c\" int); -- \\not",
      "/* \\nor /* \\this */ */ CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT '\\x' $$;",
      "SELECT 'a\\' ;",
      "\\echo done\r",
    ].join("\n");
    expect(findMetaCommands(sql).map((c) => [c.name, c.args.trim(), sql.slice(c.start, c.end)])).toEqual([
      ["restrict", "abc", "\\restrict abc"],
      ["echo", "done", "\\echo done"],
    ]);
  });

  it("knows whether a statement is open at the command", () => {
    expect(findMetaCommands("CREATE TABLE t (\n\\i cols.sql\n);\nSELECT 1;\n\\i b.sql").map((c) => c.insideStatement)).toEqual([true, false]);
  });
});

describe("resolveMetaCommands", () => {
  it("blanks what changes nothing, keeping every offset and line", () => {
    const sql = "\\restrict K\n\\set ON_ERROR_STOP on\nCREATE TABLE t (a int);\n\\encoding UTF8\nCREATE TABLE u (b int);\n\\unrestrict K\n";
    const [out, ...rest] = resolveMetaCommands(file(sql));
    expect(rest).toEqual([]);
    expect(out!.sql.length).toBe(sql.length);
    expect(out!.sql).not.toContain("\\");
    expect(lineOf(out!.sql, out!.sql.indexOf("CREATE TABLE u") + 1)).toBe(5);
  });

  it("leaves SQL without meta-commands as it is (the same object)", () => {
    const f = file("CREATE TABLE t (a text DEFAULT E'\\\\');");
    expect(resolveMetaCommands(f)).toEqual([f]);
  });

  it("refuses what would change the meaning, naming the command, the file and line, and the fix", () => {
    expect(refusal(() => resolveMetaCommands(file("CREATE TABLE t (a int);\n\\connect other\nCREATE TABLE u (b int);", "dump.sql")))).toMatch(
      /\\connect at dump\.sql:2 .*one database.*without --create/,
    );
    expect(refusal(() => resolveMetaCommands(file("\\copy t FROM 'x.csv'")))).toMatch(/\\copy at schema\.sql:1 .*not data/);
    expect(refusal(() => resolveMetaCommands(file("SELECT 1 \\gexec")))).toMatch(/\\gexec at schema\.sql:1/);
    expect(refusal(() => resolveMetaCommands(file("\\set owner app\nALTER TABLE t OWNER TO :owner;")))).toMatch(/\\set owner at schema\.sql:1 .*does not interpolate :owner/);
    expect(refusal(() => resolveMetaCommands(file("\\encoding LATIN1")))).toMatch(/\\encoding at schema\.sql:1/);
  });

  it("names table data in psql's COPY form (a dump without --schema-only) instead of its rows' backslashes", () => {
    const sql = "CREATE TABLE t (a int, b text);\n\nCOPY public.t (a, b) FROM stdin;\n1\t\\N\n\\.\n";
    expect(refusal(() => resolveMetaCommands(file(sql, "full.sql")))).toMatch(/^full\.sql:3 holds table data \(COPY \.\.\. FROM stdin\): .*pg_dump --schema-only/);
  });

  it("refuses an include without a file context (inline SQL)", () => {
    expect(refusal(() => resolveMetaCommands(file("\\i parts/a.sql")))).toMatch(/\\i parts\/a\.sql at schema\.sql:1 includes a file, which needs the schema given as a path/);
  });
});

describe("loadSchemaPath with includes", () => {
  let dir: string;
  const cwd = process.cwd();
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });
  const tree = (files: Record<string, string>): string => {
    dir = mkdtempSync(join(tmpdir(), "setpoint-meta-"));
    for (const [name, sql] of Object.entries(files)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), sql);
    }
    return dir;
  };

  it("reads \\ir relative to the including file and \\i relative to the working directory, in order, lines kept", () => {
    const root = tree({
      "db/main.sql": "\\set ON_ERROR_STOP on\nCREATE SCHEMA app;\n\\ir parts/tables.sql\n\n\nCREATE VIEW app.v AS SELECT 1 AS x;\n\\i db/parts/last.sql\n",
      "db/parts/tables.sql": "CREATE TABLE app.t (a int);\n\\ir 'more.sql'\n",
      "db/parts/more.sql": "CREATE TABLE app.u (b int);\n",
      "db/parts/last.sql": "CREATE TABLE app.w (c int);\n",
    });
    process.chdir(root);
    const { files } = loadSchemaPath("db/main.sql");
    expect(files.map((f) => f.name)).toEqual(["db/main.sql", "db/parts/tables.sql", "db/parts/more.sql", "db/main.sql", "db/parts/last.sql"]);
    expect(files.map((f) => f.sql.replace(/\s+/g, " ").trim())).toEqual(["CREATE SCHEMA app;", "CREATE TABLE app.t (a int);", "CREATE TABLE app.u (b int);", "CREATE VIEW app.v AS SELECT 1 AS x;", "CREATE TABLE app.w (c int);"]);
    const view = files[3]!;
    expect(lineOf(view.sql, view.sql.indexOf("CREATE VIEW") + 1)).toBe(6);
  });

  it("names a missing include, a cycle, and an include inside a statement", () => {
    const root = tree({ "a.sql": "\\ir b.sql\n", "b.sql": "\\ir a.sql\n", "c.sql": "\\ir nope.sql\n", "d.sql": "CREATE TABLE t (\n\\ir b.sql\n);" });
    process.chdir(root);
    expect(refusal(() => loadSchemaPath("a.sql"))).toMatch(/\\ir a\.sql at b\.sql:1 includes a file that is already being included \(.*a\.sql -> .*b\.sql -> .*a\.sql\)/);
    expect(refusal(() => loadSchemaPath("c.sql"))).toMatch(/\\ir nope\.sql at c\.sql:1: cannot read .*nope\.sql \(ENOENT\); \\ir reads relative to the including file/);
    expect(refusal(() => loadSchemaPath("d.sql"))).toMatch(/\\ir at d\.sql:2 is inside a statement/);
  });
});

describe("loadSchemaPath with a pg_dump archive", () => {
  it("names a custom-format or directory-format archive and the pg_restore that makes SQL of it", () => {
    const dir = mkdtempSync(join(tmpdir(), "setpoint-archive-"));
    try {
      writeFileSync(join(dir, "db.dump"), Buffer.concat([Buffer.from("PGDMP"), Buffer.from([1, 14, 0, 4, 8, 8, 1])]));
      mkdirSync(join(dir, "dir"));
      writeFileSync(join(dir, "dir", "toc.dat"), "PGDMP");
      expect(refusal(() => loadSchemaPath(join(dir, "db.dump")))).toMatch(/is a pg_dump custom-format archive \(pg_dump -Fc\), not SQL: .*pg_restore --schema-only -f schema\.sql /);
      expect(refusal(() => loadSchemaPath(join(dir, "dir")))).toMatch(/is a pg_dump directory-format archive \(pg_dump -Fd\), not SQL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
