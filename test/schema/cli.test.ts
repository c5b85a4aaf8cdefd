import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freshDatabase, majors, serverUrl } from "../support/postgres";

const bin = resolve(__dirname, "../../bin/setpoint");
const work = mkdtempSync(join(tmpdir(), "setpoint-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function setpoint(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(bin, args, { env: { ...process.env, SETPOINT_CACHE_DIR: join(work, "cache") } }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function file(name: string, sql: string): string {
  const path = join(work, name);
  mkdirSync(resolve(path, ".."), { recursive: true });
  writeFileSync(path, sql);
  return path;
}

// The CLI is a stable contract driven by external suites; PostgreSQL 17 stands for all majors here
// (the engine itself is tested on every major).
const major = majors().includes(17) ? 17 : majors()[0]!;

describe("setpoint schema CLI", () => {
  it("plans as JSON, applies, then reports an empty plan with exit 0", async () => {
    const db = await freshDatabase(major);
    const dev = serverUrl(db.server);
    const schema = file("v1.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);\nCREATE INDEX users_email_lower ON users (lower(email));\n");

    const plan = await setpoint(["schema", "plan", "--url", db.url, "--schema", schema, "--dev-url", dev, "--format", "json"]);
    expect(plan.code).toBe(0);
    const doc = JSON.parse(plan.stdout) as { statements: { sql: string; hazards: string[]; transactional: boolean }[]; converged: boolean };
    expect(doc.converged).toBe(false);
    expect(doc.statements[0]!.sql).toMatch(/^CREATE TABLE "public"."users"/);
    expect(doc.statements.every((s) => s.transactional && s.hazards.length === 0)).toBe(true);

    const apply = await setpoint(["schema", "apply", "--url", db.url, "--schema", schema, "--dev-url", dev, "--yes"]);
    expect(apply.stderr).toContain("[Succeeded]");
    expect(apply.code).toBe(0);

    const again = await setpoint(["schema", "plan", "--url", db.url, "--schema", schema, "--dev-url", dev, "--format", "json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ statements: [], converged: true });

    const inspect = await setpoint(["schema", "inspect", "--url", db.url]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain('CREATE TABLE "public"."users"');
    expect(inspect.stdout).toContain("users_email_lower");
  });

  it("refuses a destructive change with exit 2, names the hazard and the flag, and changes nothing", async () => {
    const db = await freshDatabase(major);
    const c = await db.client();
    await c.query("CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t VALUES (1, 'keep me')");
    const schema = file("drop.sql", "CREATE TABLE t (id int PRIMARY KEY);");
    const r = await setpoint(["schema", "apply", "--url", db.url, "--schema", schema, "--dev-url", serverUrl(db.server), "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("DATA_LOSS_DROP_COLUMN");
    expect(r.stderr).toContain("public.t.note");
    expect(r.stderr).toContain("--allow-hazards DATA_LOSS_DROP_COLUMN");
    const { rows } = await c.query("SELECT note FROM t");
    expect(rows).toEqual([{ note: "keep me" }]);

    const allowed = await setpoint(["schema", "apply", "--url", db.url, "--schema", schema, "--dev-url", serverUrl(db.server), "--yes", "--allow-hazards", "DATA_LOSS_DROP_COLUMN"]);
    expect(allowed.code).toBe(0);
  });

  it("applies a directory of .sql files in name order", async () => {
    const db = await freshDatabase(major);
    file("dir/02_orders.sql", "CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id));");
    file("dir/01_customers.sql", "CREATE TABLE customers (id int PRIMARY KEY);");
    file("dir/README.md", "not SQL");
    const r = await setpoint(["schema", "apply", "--url", db.url, "--schema", join(work, "dir"), "--dev-url", serverUrl(db.server), "--yes"]);
    expect(r.stderr + r.stdout).toContain("now matches");
    expect(r.code).toBe(0);
  });

  it("reports invalid desired SQL with the server's message, file and line", async () => {
    const db = await freshDatabase(major);
    const schema = file("bad.sql", "CREATE TABLE ok (id int);\n\nCREATE TABLE broken (id int,, name text);\n");
    const r = await setpoint(["schema", "plan", "--url", db.url, "--schema", schema, "--dev-url", serverUrl(db.server)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${schema}:3`);
    expect(r.stderr).toMatch(/syntax error/);
  });

  it("names an unreachable database without printing its password", async () => {
    const schema = file("any.sql", "CREATE TABLE x (id int);");
    const r = await setpoint(["schema", "plan", "--url", "postgres://app:s3cr3t-pw@127.0.0.1:1/app", "--schema", schema]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot connect to postgres://app:***@127.0.0.1:1/app");
    expect(r.stderr).toContain("connection refused");
    expect(r.stderr).not.toContain("s3cr3t-pw");
  });

  it("rejects unknown hazard codes and formats naming the allowed values", async () => {
    const schema = file("any2.sql", "CREATE TABLE x (id int);");
    const bad = await setpoint(["schema", "plan", "--url", "postgres://x@127.0.0.1:1/x", "--schema", schema, "--allow-hazards", "DROP_EVERYTHING"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown hazard code(s) DROP_EVERYTHING");
    expect(bad.stderr).toContain("DATA_LOSS_DROP_TABLE");
    const fmt = await setpoint(["schema", "plan", "--url", "postgres://x@127.0.0.1:1/x", "--schema", schema, "--format", "yaml"]);
    expect(fmt.stderr).toContain("--format must be one of text, json, sql");
  });
});
