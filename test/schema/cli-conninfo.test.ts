import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../sdk/cli/main";
import { createPasswordRole, freshDatabase, majors, type TestDatabase } from "../support/postgres";

const work = mkdtempSync(join(tmpdir(), "setpoint-cli-conninfo-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function setpoint(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

function file(name: string, sql: string): string {
  const path = join(work, name);
  writeFileSync(path, sql);
  return path;
}

/** The test database as a libpq connection string, with a password that needs quoting. */
function conninfo(db: TestDatabase, user: string, password: string): string {
  const q = (v: string) => `'${v.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  return `host=${db.server.host} port = ${db.server.port} dbname=${q(db.name)} user=${user} password=${q(password)} sslmode=disable application_name=conninfo-test`;
}

describe.each(majors())("setpoint with libpq connection strings on PostgreSQL %i", (major) => {
  it("plans, refuses data hazards naming rows, applies and inspects through key=value connection strings", async () => {
    const db = await freshDatabase(major);
    const role = await createPasswordRole(db);
    try {
      const c = await db.client();
      await c.query(`SET ROLE ${role.role}; CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t VALUES (1, NULL), (2, 'x'); RESET ROLE;`);
      const password = `${role.password} it's \\ spaced`;
      const target = conninfo(db, role.role, password);
      const dev = `host=${db.server.host} port=${db.server.port} dbname=postgres user=postgres`;
      const schema = file(`t-${major}.sql`, "CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL);");

      const refused = await setpoint(["schema", "plan", "--url", target, "--dev-url", dev, "--schema", schema]);
      expect(refused.stderr).toBe("");
      expect(refused.code).toBe(2);
      expect(refused.stdout).toMatch(/HAZARD \(cannot be allowed\): NOT_NULL_VIOLATION: SET NOT NULL on public\.t\.note would fail: 1 row holds NULL \(e\.g\. the row with \(id\)=\(1\)\)/);
      expect(refused.stdout).toContain("NOT_NULL_VIOLATION cannot be allowed: fix the rows named above");
      const json = await setpoint(["schema", "plan", "--url", target, "--dev-url", dev, "--schema", schema, "--format", "json", "--no-sample-keys"]);
      const doc = JSON.parse(json.stdout) as { steps: { hazards: { code: string; rows?: unknown }[] }[] };
      expect(doc.steps.flatMap((s) => s.hazards).find((h) => h.code === "NOT_NULL_VIOLATION")?.rows).toEqual({ count: 1, capped: false });

      const cannot = await setpoint(["schema", "apply", "--url", target, "--dev-url", dev, "--schema", schema, "--yes", "--allow-hazards", "NOT_NULL_VIOLATION"]);
      expect(cannot.code).toBe(1);
      expect(cannot.stderr).toContain("--allow-hazards: NOT_NULL_VIOLATION cannot be allowed");

      await c.query("UPDATE t SET note = '' WHERE note IS NULL");
      const applied = await setpoint(["schema", "apply", "--url", target, "--dev-url", dev, "--schema", schema, "--yes", "--allow-hazards", "ACCESS_EXCLUSIVE_LOCK,VALIDATION_SCAN"]);
      expect(applied.stderr).not.toContain(role.password);
      expect(applied.code).toBe(0);
      expect(applied.stdout).toContain("now matches");
      const inspected = await setpoint(["schema", "inspect", "--url", target]);
      expect(inspected.code).toBe(0);
      expect(inspected.stdout).toContain('CREATE TABLE "public"."t"');
      expect(inspected.stdout).toMatch(/"note" text NOT NULL/);
      // The string's user is the one that connected (the objects it created are its own).
      const { rows } = await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 't'");
      expect(rows).toEqual([{ tableowner: role.role }]);
    } finally {
      await role.drop().catch(() => undefined);
    }
  });

  it("never prints a password: unreachable targets, malformed strings, unsupported parameters, stray arguments", async () => {
    const schema = file(`any-${major}.sql`, "CREATE TABLE x (id int);");
    const cases: [string[], RegExp][] = [
      [["schema", "plan", "--url", "host=127.0.0.1 port=1 dbname=app user=app password='s3cr3t pw'", "--schema", schema], /cannot connect to host='127\.0\.0\.1' port='1' dbname='app' user='app' password=\*\*\*: connection refused/],
      [["schema", "plan", "--url", "postgres://app:s3cr3t@127.0.0.1:1/app", "--schema", schema], /cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/app/],
      [["schema", "plan", "--url", "host=127.0.0.1 password='s3cr3t", "--schema", schema], /unterminated quoted value of password/],
      [["schema", "plan", "--url", "host=127.0.0.1 password=s3cr3t passfile=/x", "--schema", schema], /unsupported parameter\(s\) passfile/],
      [["schema", "inspect", "postgres://app:s3cr3t@127.0.0.1:1/app"], /unexpected argument/],
      [["upgrade", "plan", "--blue", "host=127.0.0.1 port=1 user=x password=s3cr3t dbname=a", "--green", "host=127.0.0.1 port=1 user=x password=s3cr3t dbname=b"], /cannot connect/],
    ];
    for (const [argv, re] of cases) {
      const r = await setpoint(argv);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr + r.stdout).not.toContain("s3cr3t");
    }
  });
});
