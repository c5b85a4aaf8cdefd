// Approvals tied to one plan, through the CLI against real PostgreSQL: `schema plan --out` saves a
// versioned plan with the catalog fingerprint it was read at; `schema apply FILE` runs exactly it,
// refuses when the database moved or the file was edited, and asks on a terminal when a hazard is
// not allowed.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main, type CliIO } from "../../sdk/cli/main";
import { PLAN_FILE_VERSION, readPlanFile } from "../../sdk/schema/plan-file";
import { freshDatabase, majors, serverUrl, type TestDatabase } from "../support/postgres";

const bin = resolve(__dirname, "../../bin/setpoint");
const work = mkdtempSync(join(tmpdir(), "setpoint-plan-file-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const env = { ...process.env, SETPOINT_CACHE_DIR: join(work, "cache") };
const major = majors().includes(17) ? 17 : majors()[0]!;

function setpoint(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(bin, args, { env }, (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

let n = 0;
function file(sql: string): string {
  const path = join(work, `schema-${++n}.sql`);
  writeFileSync(path, sql);
  return path;
}

/** In-process CLI with a scripted terminal: `answers` are given to the questions in order. */
async function run(args: string[], answers?: string[]): Promise<{ code: number; out: string; err: string; asked: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const asked: string[] = [];
  const io: CliIO = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    interactive: answers !== undefined,
    prompt: async (q) => {
      asked.push(q);
      return answers?.shift() ?? "";
    },
  };
  const saved = process.env.SETPOINT_CACHE_DIR;
  process.env.SETPOINT_CACHE_DIR = env.SETPOINT_CACHE_DIR;
  try {
    const code = await main(args, io);
    return { code, out: out.join(""), err: err.join(""), asked };
  } finally {
    if (saved === undefined) delete process.env.SETPOINT_CACHE_DIR;
    else process.env.SETPOINT_CACHE_DIR = saved;
  }
}

async function tables(db: TestDatabase): Promise<string[]> {
  const c = await db.client();
  const r = await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  return r.rows.map((x) => x.t);
}

async function columns(db: TestDatabase, table: string): Promise<string[]> {
  const c = await db.client();
  const r = await c.query<{ n: string }>("SELECT column_name AS n FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY 1", [table]);
  return r.rows.map((x) => x.n);
}

describe("saved plans: setpoint schema plan --out / apply FILE", () => {
  it("saves a versioned plan with its hash and catalog fingerprint, and apply runs exactly it", async () => {
    const db = await freshDatabase(major);
    const schema = file("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);");
    const planPath = join(work, "users.plan.json");
    const plan = await setpoint(["schema", "plan", "--url", db.url, "--schema", schema, "--dev-url", serverUrl(db.server), "--out", planPath]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stderr).toContain(`saved the plan to ${planPath}`);
    const saved = readPlanFile(readFileSync(planPath, "utf8"), planPath);
    expect(saved).toMatchObject({ format: "setpoint-schema-plan", version: PLAN_FILE_VERSION, serverMajor: major, readAt: { schemas: ["public"] } });
    expect(saved.planHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.stdout).toContain(saved.planHash);
    // No password in the file (the target is recorded redacted).
    expect(saved.target).not.toContain("@127.0.0.1:1");
    expect(await tables(db)).toEqual([]);

    const apply = await setpoint(["schema", "apply", planPath, "--url", db.url, "--dev-url", serverUrl(db.server)]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain(`Applied 1 step(s) of plan ${saved.planHash}`);
    expect(await columns(db, "users")).toEqual(["email", "id"]);

    // Run again: the database moved (by this very plan), so it is refused and nothing runs twice.
    const again = await setpoint(["schema", "apply", planPath, "--url", db.url, "--dev-url", serverUrl(db.server)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("the database changed since this plan was made");
  });

  it("refuses when the database changed since the plan, naming the fix, and runs nothing", async () => {
    const db = await freshDatabase(major);
    const planPath = join(work, "moved.plan.json");
    const plan = await run(["schema", "plan", "--url", db.url, "--schema", file("CREATE TABLE a (id int);"), "--dev-url", serverUrl(db.server), "--out", planPath]);
    expect(plan.code, plan.err).toBe(0);
    const c = await db.client();
    await c.query("CREATE TABLE someone_elses (id int)");
    const apply = await run(["schema", "apply", planPath, "--url", db.url, "--dev-url", serverUrl(db.server)]);
    expect(apply.code).toBe(1);
    expect(apply.err).toContain("the database changed since this plan was made (schemas public have other catalog contents now)");
    expect(apply.err).toContain("Make a new plan");
    expect(await tables(db)).toEqual(["someone_elses"]);
  });

  it("refuses an edited plan file and a file of another version, and runs nothing", async () => {
    const db = await freshDatabase(major);
    const planPath = join(work, "edited.plan.json");
    expect((await run(["schema", "plan", "--url", db.url, "--schema", file("CREATE TABLE b (id int);"), "--dev-url", serverUrl(db.server), "--out", planPath])).code).toBe(0);
    const text = readFileSync(planPath, "utf8");

    const editedPath = join(work, "edited-2.plan.json");
    const sqlEdited = JSON.parse(text) as { plan: { steps: { sql: string[] }[] } };
    sqlEdited.plan.steps[0]!.sql[0] = sqlEdited.plan.steps[0]!.sql[0]!.replace('"b"', '"c"');
    writeFileSync(editedPath, JSON.stringify(sqlEdited));
    expect(readFileSync(editedPath, "utf8")).toContain('\\"c\\"');
    const edited = await run(["schema", "apply", editedPath, "--url", db.url]);
    expect(edited.code).toBe(1);
    expect(edited.err).toContain(`${editedPath} was changed after it was saved`);

    // An edit that leaves the SQL alone but widens the lock scope is caught as well.
    const scopePath = join(work, "edited-3.plan.json");
    const doc = JSON.parse(text) as { readAt: { schemas: string[] } };
    doc.readAt.schemas = ["public", "other"];
    writeFileSync(scopePath, JSON.stringify(doc));
    expect((await run(["schema", "apply", scopePath, "--url", db.url])).err).toContain("was changed after it was saved");

    const futurePath = join(work, "future.plan.json");
    writeFileSync(futurePath, JSON.stringify({ ...JSON.parse(text), version: 99 }));
    const future = await run(["schema", "apply", futurePath, "--url", db.url]);
    expect(future.code).toBe(1);
    expect(future.err).toContain("has plan format version 99; this Setpoint reads version 1");

    const notJson = join(work, "not.plan.json");
    writeFileSync(notJson, "DROP TABLE b;");
    expect((await run(["schema", "apply", notJson, "--url", db.url])).err).toContain("is not JSON");
    expect(await tables(db)).toEqual([]);
  });

  it("a hazard not allowed: refused with exit 2 without a terminal; on a terminal it asks, N refuses and y applies that plan", async () => {
    const db = await freshDatabase(major);
    const dev = serverUrl(db.server);
    expect((await run(["schema", "apply", "--url", db.url, "--schema", file("CREATE TABLE t (id int, note text);"), "--dev-url", dev, "--yes"])).code).toBe(0);
    const c = await db.client();
    await c.query("INSERT INTO t VALUES (1, 'keep me')");
    const planPath = join(work, "drop.plan.json");
    const dropped = file("CREATE TABLE t (id int);");
    const plan = await run(["schema", "plan", "--url", db.url, "--schema", dropped, "--dev-url", dev, "--out", planPath]);
    expect(plan.code).toBe(2);
    expect(plan.out).toContain("HAZARD (not allowed): DATA_LOSS_DROP_COLUMN");

    const batch = await run(["schema", "apply", planPath, "--url", db.url, "--dev-url", dev]);
    expect(batch.code).toBe(2);
    expect(batch.err).toContain("not applied");
    expect(await columns(db, "t")).toEqual(["id", "note"]);

    const no = await run(["schema", "apply", planPath, "--url", db.url, "--dev-url", dev], ["n"]);
    expect(no.code).toBe(2);
    expect(no.asked).toHaveLength(1);
    expect(no.asked[0]).toContain("step 1: DATA_LOSS_DROP_COLUMN: drops column public.t.note");
    expect(no.asked[0]).toMatch(/Apply these 1 step\(s\) \(plan sha256:[0-9a-f]{12}…\)\? \[y\/N\] $/);
    expect(await columns(db, "t")).toEqual(["id", "note"]);

    // --yes never asks: the hazard must then be allowed by flag.
    const yes = await run(["schema", "apply", planPath, "--url", db.url, "--dev-url", dev, "--yes"], ["y"]);
    expect(yes.code).toBe(2);
    expect(yes.asked).toEqual([]);

    const ok = await run(["schema", "apply", planPath, "--url", db.url, "--dev-url", dev], ["y"]);
    expect(ok.code, ok.err).toBe(0);
    expect(await columns(db, "t")).toEqual(["id"]);
  });

  it("schema apply on a terminal shows the plan, asks, and applies exactly the plan it showed", async () => {
    const db = await freshDatabase(major);
    const dev = serverUrl(db.server);
    const schema = file("CREATE TABLE shown (id int);");
    const declined = await run(["schema", "apply", "--url", db.url, "--schema", schema, "--dev-url", dev], ["N"]);
    expect(declined.code).toBe(1);
    expect(declined.out).toContain('CREATE TABLE "public"."shown"');
    expect(declined.asked[0]).toMatch(/Apply these 1 step\(s\)/);
    expect(await tables(db)).toEqual([]);

    const accepted = await run(["schema", "apply", "--url", db.url, "--schema", schema, "--dev-url", dev], ["yes"]);
    expect(accepted.code, accepted.err).toBe(0);
    expect(await tables(db)).toEqual(["shown"]);

    // Without a terminal and without --yes it stops at the plan, as before.
    const batch = await run(["schema", "apply", "--url", db.url, "--schema", file("CREATE TABLE shown (id int); CREATE TABLE more (id int);"), "--dev-url", dev]);
    expect(batch.code).toBe(1);
    expect(batch.err).toContain("re-run with --yes");
    expect(await tables(db)).toEqual(["shown"]);
  });

  it("rejects a plan file together with --schema, and a second positional argument", async () => {
    const both = await run(["schema", "apply", "x.plan.json", "--url", "postgres://db/x", "--schema", "s.sql"]);
    expect(both.code).toBe(1);
    expect(both.err).toContain("pass either a plan file or --schema, not both");
    const two = await run(["schema", "apply", "a.json", "b.json", "--url", "postgres://db/x"]);
    // A stray argument is never echoed (it may be a connection URL with a password).
    expect(two.err).toContain('unexpected argument for "setpoint schema apply": it takes 1 (a plan file saved by `schema plan --out`)');
    expect(two.err).not.toContain("b.json");
    const fixed = await run(["schema", "apply", "x.plan.json", "--url", "postgres://db/x", "--lock-timeout", "100"]);
    expect(fixed.err).toContain("--lock-timeout cannot change a saved plan");
    const plan = await run(["schema", "plan", "extra", "--url", "postgres://db/x"]);
    expect(plan.err).toContain('unexpected argument for "setpoint schema plan": every value follows its flag');
    expect(plan.err).not.toContain("extra");
  });
});
