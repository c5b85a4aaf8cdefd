import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { fileStateStore, finalizeUpgrade, rollbackUpgrade, runUpgrade } from "../../sdk/upgrade/index";
import { majors } from "../support/postgres";
import { appRole, bluegreen, fileTrafficSwitch, loginError, seedApp, startWriter, upgradeLeftovers } from "../support/upgrade";

const root = resolve(__dirname, "../..");
const ok = majors().includes(16) && majors().includes(17);

function runChild(env: Record<string, unknown>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/upgrade-child.ts"], {
      cwd: root,
      env: { ...process.env, SETPOINT_UPGRADE_CHILD: JSON.stringify(env) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code, signal) => res({ code, signal, stderr }));
  });
}

// Every checkpoint of a run: after each phase is recorded, and at each step of the cutover.
const RUN_CHECKPOINTS = [
  "phase:preflighted",
  "phase:schema-ready",
  "phase:replicating",
  "fenced",
  "caught-up",
  "prepared",
  "switching",
  "switched",
  "reverse-subscribed",
];

describe.runIf(ok)("upgrade 16 → 17: the orchestrating process killed and resumed", () => {
  test.each(RUN_CHECKPOINTS)("killed at %s, the next run converges with no write lost and nothing left over", async (crashAt) => {
    const { blue, green } = await bluegreen(16, 17);
    await seedApp(await blue.client(), 20, 500);
    const app = await appRole(blue, green);
    const dir = mkdtempSync(join(tmpdir(), "setpoint-upgrade-resume-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const statePath = join(dir, "state.json");
    const sw = fileTrafficSwitch(join(dir, "side"), "blue");
    const writer = startWriter(app, sw.side);

    const child = await runChild({ blue: blue.url, green: green.url, statePath, switchPath: join(dir, "side"), crashAt, operation: "run" });
    expect(child.signal, child.stderr).toBe("SIGKILL");

    const store = fileStateStore(statePath);
    const options = { blue: blue.url, green: green.url, store, traffic: sw, cutoverDeadlineMs: 20_000 };
    const resumed = await runUpgrade(options);
    expect(resumed.state.phase).toBe("switched");
    expect(sw.side()).toBe("green");
    if (resumed.state.verification?.skipped) {
      // Killed after the switch: the snapshots died with the process; the skip is reported, not hidden.
      expect(["switched", "reverse-subscribed"]).toContain(crashAt);
    } else {
      expect(resumed.state.verification?.equal).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 200));
    const stats = await writer.stop();
    expect(stats.bySide.green).toBeGreaterThan(0);
    const g = await green.client();
    const onGreen = new Set((await g.query<{ uid: string }>(`SELECT uid FROM events`)).rows.map((r) => Number(r.uid)));
    expect(stats.committed.filter((u) => !onGreen.has(u))).toEqual([]);
    // Nothing was applied twice: one row per committed transaction.
    expect(onGreen.size).toBe(stats.committed.length);
    expect((await g.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(500);

    await finalizeUpgrade(options);
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });

  test.each(["rollback-fence-recorded", "rollback-fenced", "rollback-switched"])("rollback killed at %s, the next rollback returns every write to blue", async (crashAt) => {
    const { blue, green } = await bluegreen(16, 17);
    await seedApp(await blue.client(), 5, 50);
    const app = await appRole(blue, green);
    const dir = mkdtempSync(join(tmpdir(), "setpoint-upgrade-resume-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const statePath = join(dir, "state.json");
    const sw = fileTrafficSwitch(join(dir, "side"), "blue");
    const options = { blue: blue.url, green: green.url, store: fileStateStore(statePath), traffic: sw, cutoverDeadlineMs: 20_000 };
    await runUpgrade(options);
    const writer = startWriter(app, sw.side);
    await new Promise((r) => setTimeout(r, 300));

    const child = await runChild({ blue: blue.url, green: green.url, statePath, switchPath: join(dir, "side"), crashAt, operation: "rollback" });
    expect(child.signal, child.stderr).toBe("SIGKILL");
    const rolled = await rollbackUpgrade(options);
    expect(rolled.state.phase).toBe("rolled-back");
    expect(sw.side()).toBe("blue");
    await new Promise((r) => setTimeout(r, 200));
    const stats = await writer.stop();
    const b = await blue.client();
    const onBlue = new Set((await b.query<{ uid: string }>(`SELECT uid FROM events`)).rows.map((r) => Number(r.uid)));
    expect(stats.committed.filter((u) => !onBlue.has(u))).toEqual([]);
    expect(onBlue.size).toBe(stats.committed.length);
    // Green is retired and nothing replicates from it: a client that still picks it is refused
    // (one whose connection was in flight during the switch back used to commit there, lost).
    expect(await loginError(app.green)).toEqual(expect.stringMatching(/permission denied for database/));
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });
});
