// The Upgrade component through the real Pulumi engine, installed as the `setpoint` package (dist/),
// upgrading real PostgreSQL 16 to 17: preview shows the preflight and the steps and fails on a
// preflight error; a cutover that fails (a long transaction holds PgBouncer's pause past the
// deadline) is recorded and the next up resumes with the cutover alone; an up killed during the
// initial copy resumes on the next up; destroy finalizes without touching traffic; no password
// ever reaches the state, the outputs or the CLI's output.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, describe, expect, inject, it, onTestFailed, onTestFinished } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import { bindToTest, startPgBouncer } from "../support/pgbouncer";
import { majors, serverUrl, type TestDatabase } from "../support/postgres";
import type { PulumiProject } from "../support/pulumi";
import { createPulumiProject, errorsOf, REPO_ROOT, summaryOf } from "../support/pulumi";
import { APP_SCHEMA, bluegreen, seedApp, upgradeAdmin, upgradeLeftovers } from "../support/upgrade";

const FROM = 16;
const TO = 17;
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]);

const PGBOUNCER_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { Upgrade } = require("setpoint/components");

const config = new pulumi.Config();
const upgrade = new Upgrade("pg17", {
  blue: config.requireSecret("blueUrl"),
  green: config.requireSecret("greenUrl"),
  traffic: {
    kind: "pgbouncer",
    admin: config.requireSecret("pgbouncerAdmin"),
    databasesFile: config.require("databasesFile"),
    databases: [{ name: "app", blue: config.require("pgbouncerBlue"), green: config.require("pgbouncerGreen") }],
  },
  cutoverDeadlineMs: config.requireNumber("cutoverDeadlineMs"),
});
exports.phase = upgrade.phase;
exports.summary = upgrade.summary;
`;

const SCHEMA_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { Upgrade } = require("setpoint/components");

const config = new pulumi.Config();
const upgrade = new Upgrade("pg17", {
  blue: config.requireSecret("blueUrl"),
  green: config.requireSecret("greenUrl"),
  // The same definition a Schema component would take.
  schema: { sql: config.require("schemaSql"), devUrl: config.require("devUrl") },
});
exports.phase = upgrade.phase;
exports.summary = upgrade.summary;
`;

interface ExportedResource {
  type: string;
  outputs?: Record<string, unknown>;
}

interface Summary {
  id: string;
  phase: string;
  history: { phase: string; status: string; message: string }[];
  verification: { equal: boolean | null } | null;
  writePauseMs: number | null;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function project(files: Record<string, string>): Promise<PulumiProject> {
  if (!existsSync(join(REPO_ROOT, "dist/components/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  const p = await createPulumiProject({ toolchain: toolchain.env!, name: "upgrade-e2e", files, installSetpoint: true });
  cleanups.push(() => p.cleanup());
  return p;
}

/** Every file of the stack's file backend, concatenated: what "the state" is on disk. */
function stateFiles(dir: string): string {
  const walk = (d: string): string[] => readdirSync(d).flatMap((e) => (statSync(join(d, e)).isDirectory() ? walk(join(d, e)) : [join(d, e)]));
  return walk(join(dir, "state"))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
}

async function failing(p: PulumiProject, ...args: string[]): Promise<string> {
  const result = await p.pulumi(...args).then(
    (out) => ({ ok: true, text: out }),
    (err: Error) => ({ ok: false, text: err.message }),
  );
  expect(result.ok, result.text).toBe(false);
  return result.text;
}

async function dynamicOutputs(p: PulumiProject): Promise<Record<string, unknown>> {
  const state = JSON.parse(await p.pulumi("stack", "export")) as { deployment: { resources?: ExportedResource[] } };
  return state.deployment.resources?.find((r) => r.type === "pulumi-nodejs:dynamic:Resource")?.outputs ?? {};
}

function stepsOf(summary: Summary): string[] {
  return summary.history.map((h) => `${h.phase} ${h.status}`);
}

async function currentDatabase(url: string): Promise<string> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ db: string }>("SELECT current_database() AS db")).rows[0]!.db;
  } finally {
    await c.end();
  }
}

/** True while `pid` runs (a killed child not yet reaped by its new parent is a zombie: not running). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function phaseOnBlue(c: Client): Promise<string | undefined> {
  const exists = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'setpoint'");
  if (exists.rowCount === 0) return undefined;
  const { rows } = await c.query<{ phase: string }>("SELECT state->>'phase' AS phase FROM setpoint.upgrades");
  return rows[0]?.phase;
}

describe.skipIf(toolchain.skip !== undefined || inject("pgbouncerMissing") !== null || !majors().includes(FROM) || !majors().includes(TO))("Upgrade component (real engine, PostgreSQL 16 -> 17)", () => {
  it("previews the preflight and the steps, refuses a preflight error, resumes after a failed cutover, switches PgBouncer, finalizes on destroy", async () => {
    const { blue, green } = await bluegreen(FROM, TO);
    const b = await blue.client();
    await seedApp(b, 50, 500);
    await b.query("CREATE TABLE audit (at timestamptz NOT NULL DEFAULT now(), line text)"); // no primary key: preflight refuses
    const admin = await upgradeAdmin(blue, green);
    const entry = (db: TestDatabase) => `host=127.0.0.1 port=${db.server.port} dbname=${db.name} user=postgres`;
    const bouncer = bindToTest(await startPgBouncer({ databases: { app: entry(blue) } }), { onTestFinished, onTestFailed });
    const secrets = [admin.password, bouncer.adminPassword];

    const p = await project({ "index.js": PGBOUNCER_PROGRAM });
    await p.pulumiWithInput(admin.blue, "config", "set", "--secret", "blueUrl");
    await p.pulumiWithInput(admin.green, "config", "set", "--secret", "greenUrl");
    await p.pulumiWithInput(bouncer.adminUrl, "config", "set", "--secret", "pgbouncerAdmin");
    await p.pulumi(
      "config",
      "set-all",
      "--plaintext",
      `databasesFile=${bouncer.databasesFile}`,
      "--plaintext",
      `pgbouncerBlue=postgres://postgres@127.0.0.1:${blue.server.port}/${blue.name}`,
      "--plaintext",
      `pgbouncerGreen=postgres://postgres@127.0.0.1:${green.server.port}/${green.name}`,
      "--plaintext",
      "cutoverDeadlineMs=3000",
    );
    const said: string[] = [];

    // A preflight error fails the preview with the finding and its fix; nothing is touched.
    const refused = await failing(p, "preview", "--diff");
    said.push(refused);
    expect(refused).toContain("the upgrade cannot start; nothing was changed");
    expect(refused).toContain(`[NO_REPLICA_IDENTITY] table "public"."audit" has no primary key`);
    expect(refused).toContain(`fix: add a primary key, or ALTER TABLE "public"."audit" REPLICA IDENTITY USING INDEX`);
    expect(await phaseOnBlue(b)).toBeUndefined();

    // Fixed, the preview shows the preflight report and every step of the run.
    await b.query("ALTER TABLE audit ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
    const preview = await p.pulumi("preview", "--diff");
    said.push(preview);
    expect(preview).toMatch(/ok: blue PostgreSQL 16 \(t_\w+, 4 table\(s\), .*\) -> green PostgreSQL 17/);
    for (const step of ["preflight: ", "schema: copy blue's schema to green by introspection", "replicate: ", "synchronize: ", "cutover: pause pgbouncer, wait for green, sync sequences, switch pgbouncer, verify checksums; abort after 3000 ms"]) {
      expect(preview).toContain(step);
    }
    expect(preview).toContain("pgbouncer postgres://setpoint_admin:***@");

    // A transaction left open through PgBouncer holds its pause past the deadline: the cutover
    // aborts, traffic stays on blue, and Pulumi records the resource with the phase it reached.
    const longTx = pgClient({ connectionString: bouncer.url("app") });
    await longTx.connect();
    await longTx.query("BEGIN");
    await longTx.query("SELECT count(*) FROM orders");
    const failed = await failing(p, "up", "--yes", "--skip-preview");
    said.push(failed);
    expect(failed).toContain("cutover aborted before switching traffic");
    expect(failed).toContain("in-flight transactions did not finish within");
    expect(await dynamicOutputs(p)).toMatchObject({ phase: "synchronized" });
    await longTx.query("COMMIT");
    await longTx.end();
    expect(await currentDatabase(bouncer.url("app"))).toBe(blue.name);

    // The next preview plans the cutover alone, and the next up runs it.
    const resumePreview = await p.pulumi("preview", "--diff");
    said.push(resumePreview);
    // The diff shows the steps planned before (the failed create) and now: the cutover alone.
    expect(resumePreview).toMatch(/\[0\]: "preflight: [^"]*" => "cutover: pause pgbouncer/);
    expect(resumePreview).toMatch(/- \[1\]: "schema: /);
    const resumed = await p.up();
    said.push(JSON.stringify(resumed));
    expect(summaryOf(resumed), errorsOf(resumed)).toMatchObject({ result: "succeeded", resourceChanges: { update: 1 } });
    const outputs = await p.outputs();
    expect(outputs.phase).toBe("switched");
    const summary = outputs.summary as Summary;
    expect(stepsOf(summary)).toEqual([
      "preflight Succeeded",
      "schema Succeeded",
      "replicate Succeeded",
      "synchronize Succeeded",
      "cutover Failed",
      "cutover Succeeded",
    ]);
    expect(summary.verification?.equal).toBe(true);
    expect(summary.writePauseMs).toBeLessThan(3000);
    expect(await currentDatabase(bouncer.url("app"))).toBe(green.name);
    const onGreen = await (await green.client()).query<{ n: number }>("SELECT count(*)::int AS n FROM orders");
    expect(onGreen.rows[0]!.n).toBe(500);

    const again = await p.up();
    expect(summaryOf(again)?.resourceChanges).toEqual({ same: 3 });

    // No password anywhere: state on disk, exported state, outputs, anything the CLI printed.
    const exported = await p.pulumi("stack", "export");
    for (const text of [stateFiles(p.dir), exported, JSON.stringify(outputs), ...said]) for (const s of secrets) expect(text).not.toContain(s);
    const resource = await dynamicOutputs(p);
    for (const k of ["blue", "green", "traffic"]) expect(resource[k], k).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" });

    // Destroy finalizes: the rollback path is dropped on both sides, traffic stays on green.
    const destroyed = await p.destroy();
    expect(summaryOf(destroyed), errorsOf(destroyed)).toMatchObject({ result: "succeeded", resourceChanges: { delete: 3 } });
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
    expect(await currentDatabase(bouncer.url("app"))).toBe(green.name);
    // A new session: closing blue to logins after the switch ended the earlier ones.
    expect(await phaseOnBlue(await blue.client())).toBeUndefined();
  }, 400_000);

  it("an up killed during the initial copy resumes on the next up, with the schema from its definition", async () => {
    const { blue, green } = await bluegreen(FROM, TO);
    const b = await blue.client();
    await seedApp(b, 50, 2000);
    const admin = await upgradeAdmin(blue, green);
    const p = await project({ "index.js": SCHEMA_PROGRAM });
    await p.pulumiWithInput(admin.blue, "config", "set", "--secret", "blueUrl");
    await p.pulumiWithInput(admin.green, "config", "set", "--secret", "greenUrl");
    await p.pulumi("config", "set-all", "--plaintext", `schemaSql=${APP_SCHEMA}`, "--plaintext", `devUrl=${serverUrl(green.server)}`);

    // Hold the initial copy: once green's subscription exists, lock green's tables against the
    // copy's writes (blue is not touched: an ACCESS EXCLUSIVE lock there would take an xid, and
    // creating the replication slot waits for every transaction with one).
    const run = p.start("up", "--yes", "--skip-preview");
    const g = await green.client();
    const locker = await green.client();
    for (let i = 0; ; i++) {
      const sub = await g.query("SELECT 1 FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
      if (sub.rowCount) break;
      if (i > 6000) throw new Error(`the upgrade never subscribed:\n${run.output()}`);
      await sleep(10);
    }
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE customers, orders, events IN EXCLUSIVE MODE");
    for (let i = 0; (await phaseOnBlue(b)) !== "replicating"; i++) {
      if (i > 600) throw new Error(`the upgrade never reached replicating:\n${run.output()}`);
      await sleep(50);
    }
    await sleep(1500); // inside the synchronize phase, waiting for the copy
    const killed = run.kill();
    await run.exited;
    await sleep(200);
    expect(killed.length, "the CLI, its language host, the program and the provider").toBeGreaterThanOrEqual(4);
    for (const pid of killed) expect(running(pid), `pid ${pid} survived`).toBe(false);
    expect(await phaseOnBlue(b)).toBe("replicating");
    const copying = await g.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_subscription_rel WHERE srsubstate <> 'r'");
    expect(copying.rows[0]!.n, "the kill came after the copy").toBeGreaterThan(0);
    await locker.query("ROLLBACK");
    for (const s of [admin.password]) expect(run.output()).not.toContain(s);

    // The killed run left its lock on the stack: `pulumi cancel` is the documented way out.
    await p.pulumi("cancel", "--yes");
    const preview = await p.pulumi("preview", "--diff");
    expect(preview).toContain("synchronize: wait for the initial copy");
    expect(preview).toContain("cutover: close logins on blue, wait for green, sync sequences, switch none, verify checksums; abort after 30000 ms");
    expect(preview).not.toContain("preflight: ");
    expect(preview).not.toContain("schema: apply");

    const resumed = await p.up();
    expect(summaryOf(resumed), errorsOf(resumed)).toMatchObject({ result: "succeeded" });
    const outputs = await p.outputs();
    expect(outputs.phase).toBe("switched");
    const summary = outputs.summary as Summary;
    // The killed run's synchronize never finished, so it is not in the history; nothing ran twice.
    expect(stepsOf(summary)).toEqual(["preflight Succeeded", "schema Succeeded", "replicate Succeeded", "synchronize Succeeded", "cutover Succeeded"]);
    expect(summary.history[1]!.message).toMatch(/^applied the schema definition/);
    expect(summary.verification?.equal).toBe(true);
    const onGreen = await (await green.client()).query<{ n: number }>("SELECT count(*)::int AS n FROM orders");
    expect(onGreen.rows[0]!.n).toBe(2000);
    expect(stateFiles(p.dir)).not.toContain(admin.password);
  }, 400_000);
});
