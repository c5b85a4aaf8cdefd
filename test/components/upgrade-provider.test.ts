// The Upgrade dynamic provider, built (dist/), against real PostgreSQL 16 -> 17: it survives
// Pulumi's function serialization and runs in a fresh process; check shows the preflight and the
// steps (and refuses a preflight error); create stages or switches; update rolls back; delete
// aborts; a second process waits for the upgrade's lock; no password reaches outputs or logs.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireUpgradeLock } from "../../sdk/upgrade/lock";
import { majors } from "../support/postgres";
import { bluegreen, seedApp, upgradeAdmin, upgradeLeftovers } from "../support/upgrade";

const root = resolve(__dirname, "../..");
const FROM = 16;
const TO = 17;
const work = mkdtempSync(join(tmpdir(), "setpoint-upgrade-provider-"));

type Provider = Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "update" | "read" | "delete">>;
let provider: Provider;

beforeAll(() => {
  // The provider resolves setpoint/internal/upgrade-provider, i.e. dist/: it must be built.
  if (!existsSync(join(root, "dist/components/internal/upgrade-provider-impl.js"))) throw new Error("dist/ is missing: run `npm run build` before the integration tests");
  const load = createRequire(__filename);
  provider = (load(join(root, "dist/components/upgrade-provider.js")) as { upgradeProvider: Provider }).upgradeProvider;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Inputs as the component registers them, after Pulumi resolved them. */
function inputsFor(urls: { blue: string; green: string }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stateKey: `test/${Math.random().toString(36).slice(2)}`,
    blue: urls.blue,
    green: urls.green,
    traffic: { kind: "none" },
    cutoverDeadlineMs: 20_000,
    verify: "checksums",
    until: "switched",
    finalize: false,
    rollback: false,
    __provider: "serialized provider text",
    ...extra,
  };
}

describe.runIf(majors().includes(FROM) && majors().includes(TO))("Upgrade dynamic provider (built, PostgreSQL 16 -> 17)", () => {
  it("serializes and runs in a fresh process: check shows preflight and steps, create stages the upgrade; delete then aborts it", async () => {
    const { blue, green } = await bluegreen(FROM, TO);
    await seedApp(await blue.client(), 20, 200);
    const admin = await upgradeAdmin(blue, green);
    const text = execFileSync(process.execPath, ["--import", "tsx", "test/fixtures/serialize-upgrade-provider.ts"], { cwd: root, encoding: "utf8" });
    expect(text).toContain("exports.handler");
    // Only the forwarding object is stored in state: no engine code.
    for (const engineCode of ["runUpgrade", "planUpgrade", "CREATE SUBSCRIPTION", "quoteIdent", "zod"]) expect(text).not.toContain(engineCode);

    const file = join(work, "provider.js");
    writeFileSync(file, text);
    const runner = `
      const provider = require(${JSON.stringify(file)}).__entry();
      const inputs = JSON.parse(process.env.SETPOINT_TEST_INPUTS);
      (async () => {
        const checked = await provider.check({}, inputs);
        if (checked.failures && checked.failures.length) throw new Error(JSON.stringify(checked.failures));
        const result = await provider.create(checked.inputs);
        process.stdout.write(JSON.stringify({ checked: checked.inputs, result }));
      })().catch((err) => { console.error(err); process.exit(1); });
    `;
    const inputs = inputsFor(admin, { until: "synchronized" });
    // cwd is the repository root, like a program directory where setpoint is installed; no NODE_PATH.
    const child = await new Promise<{ stdout: string; stderr: string }>((done, fail) => {
      execFile(process.execPath, ["-e", runner], { cwd: root, encoding: "utf8", env: { ...process.env, NODE_PATH: "", SETPOINT_TEST_INPUTS: JSON.stringify(inputs) } }, (err, stdout, stderr) =>
        err ? fail(new Error(`${err.message}\n${stderr}`)) : done({ stdout, stderr }),
      );
    });
    const { checked, result } = JSON.parse(child.stdout) as { checked: Record<string, unknown>; result: { id: string; outs: Record<string, unknown> } };
    expect(checked.preflight).toEqual([expect.stringMatching(/^ok: blue PostgreSQL 16 \(\w+, 3 table\(s\), .*\) -> green PostgreSQL 17/)]);
    expect(checked.plannedSteps).toEqual([
      expect.stringMatching(/^preflight: /),
      "schema: copy blue's schema to green by introspection",
      expect.stringMatching(/^replicate: /),
      expect.stringMatching(/^synchronize: /),
    ]);
    expect(checked.trafficSummary).toMatch(/^none: /);
    expect(result.id).toMatch(/^[0-9a-f]{16}$/);
    expect(result.outs).toMatchObject({ phase: "synchronized", plannedSteps: [], summary: { phase: "synchronized", blueMajor: 16, greenMajor: 17, green: "in sync, not serving" } });
    const summary = result.outs.summary as { id: string; history: { phase: string; status: string }[] };
    expect(summary.history.map((h) => `${h.phase} ${h.status}`)).toEqual(["preflight Succeeded", "schema Succeeded", "replicate Succeeded", "synchronize Succeeded"]);
    // Progress went to stderr, which Pulumi shows; never a password.
    expect(child.stderr).toMatch(/Upgrade test\/\w+: synchronize: every table copied and streaming/);
    expect(child.stderr).not.toContain(admin.password);
    const { blue: _b, green: _g, ...rest } = result.outs;
    expect(JSON.stringify(rest)).not.toContain(admin.password);
    expect(await upgradeLeftovers(blue)).toEqual(expect.arrayContaining([`publication setpoint_upgrade_${summary.id}`, `slot setpoint_upgrade_${summary.id}`]));

    // A second check plans from the saved state: the cutover only, no preflight.
    const state = { ...result.outs, __provider: inputs.__provider };
    const again = await provider.check(state, { ...inputs, until: "switched" });
    expect(again.failures ?? []).toEqual([]);
    expect(again.inputs!.plannedSteps).toEqual(["cutover: close logins on blue, wait for green, sync sequences, switch none, verify checksums; abort after 20000 ms"]);
    expect(again.inputs!.preflight).toEqual([]);
    expect(await provider.diff(result.id, state, again.inputs!)).toMatchObject({ changes: true, replaces: [] });
    const same = await provider.check(state, inputs);
    expect(same.inputs!.plannedSteps).toEqual([]);
    expect(await provider.diff(result.id, state, same.inputs!)).toMatchObject({ changes: false });

    // Delete before the switch aborts: nothing of the upgrade is left on blue, and the state is forgotten.
    await provider.delete(result.id, state);
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
    const rows = await (await blue.client()).query("SELECT key FROM setpoint.upgrades");
    expect(rows.rows).toEqual([]);
  });

  it("check refuses a preflight error with each finding and its fix; changes nothing", async () => {
    const { blue, green } = await bluegreen(FROM, TO);
    const b = await blue.client();
    await b.query("CREATE TABLE logs (at timestamptz, line text); CREATE TABLE ok (id int PRIMARY KEY)");
    const admin = await upgradeAdmin(blue, green);
    const checked = await provider.check({}, inputsFor(admin));
    expect(checked.failures).toHaveLength(1);
    expect(checked.failures![0]!.property).toBe("");
    const reason = checked.failures![0]!.reason;
    expect(reason).toMatch(/^Upgrade: the upgrade cannot start; nothing was changed\. 1 problem\(s\):/);
    expect(reason).toContain(`[NO_REPLICA_IDENTITY] table "public"."logs" has no primary key`);
    expect(reason).toContain("fix: add a primary key");
    expect(reason).not.toContain(admin.password);
    expect(await upgradeLeftovers(blue)).toEqual([]);
    const state = await b.query("SELECT 1 FROM pg_namespace WHERE nspname = 'setpoint'");
    expect(state.rowCount).toBe(0);

    // An unreachable side names its input (shown as [secret] by Pulumi), without the password.
    const unreachable = await provider.check({}, inputsFor({ blue: admin.blue, green: `postgres://x:${admin.password}@127.0.0.1:1/app` }));
    expect(unreachable.failures).toEqual([{ property: "green", reason: expect.stringContaining("cannot connect to postgres://x:***@127.0.0.1:1/app") }]);
    expect(JSON.stringify(unreachable.failures)).not.toContain(admin.password);
  });

  it("switches, then rolls back on update; a rolled-back upgrade refuses to start again by itself", async () => {
    const { blue, green } = await bluegreen(FROM, TO);
    await seedApp(await blue.client(), 10, 50);
    const admin = await upgradeAdmin(blue, green);
    const inputs = inputsFor(admin);
    const checked = await provider.check({}, inputs);
    const created = await provider.create(checked.inputs!);
    expect(created.outs).toMatchObject({ phase: "switched", summary: { phase: "switched", writePauseMs: expect.any(Number), verification: { mode: "checksums", equal: true } } });
    const state = { ...created.outs, __provider: inputs.__provider };

    const rollback = await provider.check(state, { ...inputs, rollback: true });
    expect(rollback.inputs!.plannedSteps).toEqual([expect.stringMatching(/^rollback: fence green, wait until blue has all of green's writes/)]);
    const updated = await provider.update(created.id, state, rollback.inputs!);
    expect(updated.outs).toMatchObject({ phase: "rolled-back", summary: { blue: "serving, with every write made on green" } });
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);

    const restarted = await provider.check({ ...updated.outs, __provider: inputs.__provider }, inputs);
    expect(restarted.failures).toEqual([{ property: "", reason: expect.stringMatching(/^Upgrade: the upgrade was rolled back \(last: rollback succeeded: .*\); it does not start again by itself/) }]);
    const refreshed = await provider.read(created.id, { ...updated.outs, __provider: inputs.__provider });
    expect(refreshed.props).toMatchObject({ phase: "rolled-back" });

    // An ended upgrade needs neither database: blue and green may be decommissioned meanwhile.
    const ended = { ...updated.outs, __provider: inputs.__provider };
    const gone = { blue: "postgres://u:pw-gone@127.0.0.1:1/app", green: "postgres://u:pw-gone@127.0.0.1:2/app" };
    const kept = await provider.check(ended, { ...inputs, ...gone, rollback: true });
    expect(kept.failures ?? []).toEqual([]);
    expect(kept.inputs!.plannedSteps).toEqual([]);
    expect(await provider.diff(created.id, ended, kept.inputs!)).toMatchObject({ changes: true });
    expect((await provider.update(created.id, ended, kept.inputs!)).outs).toMatchObject({ phase: "rolled-back", blue: gone.blue });
    await provider.delete(created.id, { ...ended, ...gone });
    // With blue reachable, delete also forgets the saved state.
    await provider.delete(created.id, ended);
    expect((await (await blue.client()).query("SELECT key FROM setpoint.upgrades")).rows).toEqual([]);
  });

  it("refuses to run an upgrade another driver is running, after waiting for it, naming the holder; changes nothing", { timeout: 90_000 }, async () => {
    const { blue, green } = await bluegreen(FROM, TO);
    await seedApp(await blue.client(), 5, 20);
    const admin = await upgradeAdmin(blue, green);
    // The operator (or a CLI) runs an upgrade of this blue database: it holds the engine's lock.
    const held = await acquireUpgradeLock(admin.blue, { driver: "operator" });
    try {
      const inputs = inputsFor(admin);
      const checked = await provider.check({}, inputs);
      expect(checked.failures ?? []).toEqual([]);
      const started = Date.now();
      const error = await provider.create(checked.inputs!).then(
        () => null,
        (e: Error) => e,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(29_000);
      expect(error!.message).toMatch(/^Upgrade: another runner is running an upgrade of this blue database: operator \(pid \d+ on [^)]+\) since \d{4}-\d\d-\d\dT[^,]+, blue session \d+ \(waited 30 s\); nothing was changed/);
      expect(error!.message).not.toContain(admin.password);
      expect(await upgradeLeftovers(blue)).toEqual([]);
      expect((await (await blue.client()).query("SELECT 1 FROM pg_namespace WHERE nspname = 'setpoint'")).rowCount).toBe(0);
    } finally {
      await held.release();
    }
  });
});
