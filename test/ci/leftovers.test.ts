// .ci/leftovers.mjs, the end-of-run check of .ci/run: what a run leaves (processes carrying its
// marker, new interfaces, harness directories) fails the check by name; another job's live real
// node is not this run's; `stop` ends the run's processes but spares the real-node sweepers.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isProcessAlive } from "../../sdk/postgres/embedded";

const script = resolve(__dirname, "../../.ci/leftovers.mjs");
const isRoot = process.getuid?.() === 0;
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function leftovers(args: string[], runId: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { env: { ...process.env, SETPOINT_CI_RUN: runId }, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stderr: r.stderr };
}

function snapshot(runId: string): string {
  const dir = mkdtempSync(join(tmpdir(), "leftovers-test-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "host.json");
  expect(leftovers(["snapshot", file], runId).status).toBe(0);
  return file;
}

/** A shell looping on `sleep 1` with `env` (and the test's own environment), killed with its children after the test. */
function sleeper(env: NodeJS.ProcessEnv, tag?: string): ChildProcess {
  // A loop like the real-node watchdog's: killing its `sleep` does not end it, and `; :` keeps sh
  // from exec'ing the last command, so its command line (with `tag`) stays the process's.
  const child = spawn("sh", ["-c", `while :; do sleep 1; done; : ${tag ?? ""}`], { env: { ...process.env, ...env }, stdio: "ignore", detached: true });
  cleanups.push(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  });
  return child;
}

describe("the CI leftover check", () => {
  it("passes on an unchanged host and names each process, directory and interface the run left", () => {
    const runId = `test-${process.pid}-${Date.now()}`;
    const file = snapshot(runId);
    expect(leftovers(["check", file], runId)).toMatchObject({ status: 0 });

    const proc = sleeper({ SETPOINT_CI_RUN: runId });
    const dir = mkdtempSync(join(tmpdir(), "setpoint-s3-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const iface = `sptci${String(process.pid % 100000)}`;
    if (isRoot) {
      expect(spawnSync("ip", ["link", "add", iface, "type", "bridge"]).status).toBe(0);
      cleanups.push(() => spawnSync("ip", ["link", "del", iface]));
    }
    const r = leftovers(["check", file], runId);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/LEFT BEHIND BY THIS RUN/);
    expect(r.stderr).toContain(`process ${proc.pid} sh -c while :; do sleep 1; done; :`);
    expect(r.stderr).toContain(`directory ${dir}`);
    if (isRoot) expect(r.stderr).toContain(`interface ${iface}`);

    for (const c of cleanups.splice(1).reverse()) c();
    expect(leftovers(["check", file, "--wait", "10"], runId)).toMatchObject({ status: 0, stderr: expect.stringMatching(/nothing of this run is left/) });
  });

  it.skipIf(!isRoot)("names an iptables chain the run left, but not a built-in chain's ACCEPT policy (listed once iptables is installed: a new machine's run installs it)", () => {
    const runId = `test-${process.pid}-${Date.now()}`;
    const file = snapshot(runId);
    const items = (JSON.parse(readFileSync(file, "utf8")) as { items: string[] }).items;
    expect(items.filter((i) => /^iptables -t filter /.test(i) && / -P \S+ ACCEPT$/.test(i))).toEqual([]);
    expect(spawnSync("iptables", ["-w", "-L", "INPUT", "-n"]).status).toBe(0);
    // The check would fail on the policies of a new machine if they counted: they are listed now.
    expect(spawnSync("iptables", ["-w", "-t", "filter", "-S"], { encoding: "utf8" }).stdout).toMatch(/^-P INPUT ACCEPT$/m);
    const chain = `SPTCI-${String(process.pid % 100000)}`;
    expect(spawnSync("iptables", ["-w", "-N", chain]).status).toBe(0);
    cleanups.push(() => spawnSync("iptables", ["-w", "-X", chain]));
    const r = leftovers(["check", file], runId);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`iptables -t filter -N ${chain}`);
    expect(r.stderr).not.toMatch(/-P \S+ ACCEPT/);
    for (const c of cleanups.splice(1).reverse()) c();
    expect(leftovers(["check", file], runId)).toMatchObject({ status: 0 });
  });

  it("keeps the schema engine's initdb templates (a cache) but names a half-made one", () => {
    const runId = `test-${process.pid}-${Date.now()}-templates`;
    const file = snapshot(runId);
    // As embedded.ts names them: setpoint-initdb-<major>-<uid>, built in <name>.tmp-XXXXXX first.
    const kept = join(tmpdir(), `setpoint-initdb-99-${process.pid}`);
    const halfMade = `${kept}.tmp-${String(Date.now()).slice(-6)}`;
    for (const d of [kept, halfMade]) {
      mkdirSync(d);
      cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    }
    const r = leftovers(["check", file], runId);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`directory ${halfMade}`);
    expect(r.stderr).not.toContain(`directory ${kept}\n`);
    rmSync(halfMade, { recursive: true, force: true });
    expect(leftovers(["check", file], runId)).toMatchObject({ status: 0 });
  });

  it("does not count what a live real node of another job owns", () => {
    const runId = `test-${process.pid}-${Date.now()}-foreign`;
    const file = snapshot(runId);
    const owner = sleeper({}); // another job: no marker of this run
    const runDir = mkdtempSync(join(tmpdir(), "setpoint-realnode-"));
    cleanups.push(() => rmSync(runDir, { recursive: true, force: true }));
    const id = runDir.slice(-6).toLowerCase();
    writeFileSync(join(runDir, "state.json"), JSON.stringify({ ownerPid: owner.pid, bridge: `sptbr${id}`, chain: `SPT-FWD-${id}`, cgroupRoot: `setpoint-${id}`, podCidr: "10.251.7.0/24" }));
    mkdirSync(join(runDir, "containerd"));
    expect(leftovers(["check", file], runId)).toMatchObject({ status: 0 });

    // The same run directory with a dead owner is a leftover.
    writeFileSync(join(runDir, "state.json"), JSON.stringify({ ownerPid: 2 ** 22 + 7, bridge: "x", chain: "x", cgroupRoot: "x", podCidr: "x" }));
    const r = leftovers(["check", file], runId);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`directory ${runDir}`);
  });

  it("stop ends the run's processes but not the real-node sweepers nor other jobs' processes", () => {
    const runId = `test-${process.pid}-${Date.now()}-stop`;
    const file = snapshot(runId);
    const ours = sleeper({ SETPOINT_CI_RUN: runId });
    const sweeper = sleeper({ SETPOINT_CI_RUN: runId }, "sweep-cli.ts");
    const other = sleeper({});
    expect(leftovers(["stop", file], runId).status).toBe(0);
    spawnSync("sleep", ["1"]);
    expect(isProcessAlive(ours.pid!)).toBe(false);
    expect(isProcessAlive(sweeper.pid!)).toBe(true);
    expect(isProcessAlive(other.pid!)).toBe(true);
  });
});
