// The engine's per-upgrade lock on real PostgreSQL 16 -> 17, across processes: a second runner of
// the same upgrade is refused with UPGRADE_IN_PROGRESS naming the first (driver, pid, host, since);
// every operation that changes anything is refused, planning is not; a killed holder's lock does
// not block the next run; a runner told to wait takes the lock once the holder lets go.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { acquireUpgradeLock, lockApplicationName, parseLockApplicationName } from "../../sdk/upgrade/lock";
import { fileStateStore, finalizeUpgrade, memoryStateStore, forgetUpgrade, planUpgrade, rollbackUpgrade, runUpgrade, UpgradeInProgressError, type UpgradeEvent } from "../../sdk/upgrade/index";
import { freshDatabase, majors } from "../support/postgres";
import { bluegreen, fileTrafficSwitch, seedApp, upgradeLeftovers } from "../support/upgrade";

const root = resolve(__dirname, "../..");
const ok = majors().includes(16) && majors().includes(17);

/** Starts the upgrade child, resolving once it says it holds at `holdAt`. */
function holdingChild(env: Record<string, unknown>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/upgrade-child.ts"], {
    cwd: root,
    env: { ...process.env, SETPOINT_UPGRADE_CHILD: JSON.stringify({ ...env, hold: true }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((res, rej) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("holding at")) res(child);
    });
    child.on("exit", (code, signal) => rej(new Error(`the child ended (${code ?? signal}) before holding:\n${stderr}`)));
  });
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "setpoint-upgrade-lock-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe.runIf(ok)("the upgrade lock (16 -> 17, two processes)", () => {
  test("a second runner is refused naming the first; planning still works; once the holder is killed the next run resumes", async () => {
    const { blue, green } = await bluegreen(16, 17);
    await seedApp(await blue.client(), 10, 100);
    const dir = tempDir();
    const statePath = join(dir, "state.json");
    const switchPath = join(dir, "side");
    const sw = fileTrafficSwitch(switchPath, "blue");
    const before = new Date(Date.now() - 1000);
    const child = await holdingChild({ blue: blue.url, green: green.url, statePath, switchPath, crashAt: "phase:replicating", operation: "run", driver: "operator" });

    const options = { blue: blue.url, green: green.url, store: fileStateStore(statePath), traffic: sw, cutoverDeadlineMs: 20_000, driver: "cli", lockWaitMs: 0 };
    const refused = await runUpgrade(options).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpgradeInProgressError);
    const err = refused as UpgradeInProgressError;
    expect(err.code).toBe("UPGRADE_IN_PROGRESS");
    const host = parseLockApplicationName(lockApplicationName("operator", child.pid!, hostname()))!.host;
    expect(err.holder).toMatchObject({ driver: "operator", pid: child.pid, host });
    expect(err.holder!.since!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(err.holder!.since!.getTime()).toBeLessThanOrEqual(Date.now());
    expect(err.message).toMatch(new RegExp(`^another runner is running an upgrade of this blue database: operator \\(pid ${child.pid} on \\S+( from \\S+)?\\) since \\d{4}-.*, blue session \\d+; nothing was changed`));
    // Every operation that changes the upgrade is refused the same way; nothing moved.
    for (const op of [rollbackUpgrade, finalizeUpgrade, forgetUpgrade]) expect(await op(options).catch((e: unknown) => e)).toBeInstanceOf(UpgradeInProgressError);
    expect((await options.store.load())!.phase).toBe("replicating");
    // Planning is read-only and takes no lock.
    expect((await planUpgrade(options)).steps).toEqual(["synchronize", "cutover"]);

    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The server ends the killed runner's session when it reads the closed socket: the lock goes with it.
    const t0 = performance.now();
    await (await acquireUpgradeLock(blue.url, { driver: "test", waitMs: 10_000 })).release();
    console.log(`upgrade lock free ${Math.round(performance.now() - t0)} ms after its holder was killed`);
    const resumed = await runUpgrade({ ...options, lockWaitMs: undefined });
    expect(resumed.state.phase).toBe("switched");
    expect(resumed.phases.map((p) => `${p.phase} ${p.status}`)).toEqual(["synchronize Succeeded", "cutover Succeeded"]);
    await finalizeUpgrade(options);
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });

  test("a runner told to wait says so once, and runs when the holder lets go; another blue database is another lock", async () => {
    const { blue, green } = await bluegreen(16, 17);
    await seedApp(await blue.client(), 5, 20);
    const other = await freshDatabase(16);
    const held = await acquireUpgradeLock(blue.url, { driver: "operator" });
    // A different database (same server) is not blocked.
    await (await acquireUpgradeLock(other.url, { driver: "cli" })).release();
    const events: UpgradeEvent[] = [];
    const running = runUpgrade({ blue: blue.url, green: green.url, store: memoryStateStore(), lockWaitMs: 60_000, onProgress: (e) => events.push(e) }, { until: "schema-ready" });
    await new Promise((r) => setTimeout(r, 1500));
    const waits = events.filter((e) => e.phase === "lock");
    expect(waits.map((e) => e.message)).toEqual([expect.stringMatching(/^waiting up to 60 s for another runner of an upgrade of this database: operator \(pid \d+ on /)]);
    expect(events.filter((e) => e.phase !== "lock")).toEqual([]);
    await held.release();
    const r = await running;
    expect(r.state.phase).toBe("schema-ready");
    await rollbackUpgrade({ blue: blue.url, green: green.url, store: memoryStateStore(r.state) });
    expect(await upgradeLeftovers(blue)).toEqual([]);
  });
});
