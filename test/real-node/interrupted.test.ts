// A real-node run killed outright (SIGKILL: no exit hook runs) leaves containers, shims, mounts,
// the bridge, iptables chains, cgroups and kernel settings behind; the sweep that the next start
// (and the run's watchdog) runs must remove all of it.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/eventually";
import { realNodeToolchain } from "../support/real-node/gate";
import { leftovers, NODE_LOCK, processesMentioning, sweepRealNodes, type RunState } from "../support/real-node/host";

const toolchain = realNodeToolchain();

describe.skipIf(toolchain.skip !== undefined)("real node: an interrupted run", () => {
  it("is swept: nothing of it is left", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/real-node-child.ts"], { cwd: resolve(__dirname, "../.."), stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((done, fail) => {
      let buf = "";
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.includes("\n")) done(buf.split("\n")[0]!);
      });
      child.on("exit", (code) => fail(new Error(`child exited (${String(code)}) before its pod was Ready`)));
    });
    const { dir } = JSON.parse(line) as { dir: string };
    const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as RunState;
    // The run's watchdog would sweep as soon as the child dies: stop it first, so this test sweeps.
    const watchdogs = processesMentioning(`kill -0 ${child.pid!} `).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("sweep-cli"));
    expect(watchdogs).toHaveLength(1);
    for (const pid of watchdogs) process.kill(pid, "SIGKILL");
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(leftovers(dir, state).length).toBeGreaterThan(0); // a pod, its shim, mounts, the bridge, ...

    expect(sweepRealNodes(toolchain.env!.tools["kube-proxy"]!.path)).toBeGreaterThanOrEqual(1);
    await eventually("nothing left", () => leftovers(dir, state).length === 0, 30_000, 500).catch(() => {
      throw new Error(`left: ${leftovers(dir, state).join("; ")}`);
    });
    // The killed run's node lock is released (another run of this test session may hold a new one).
    const holder = existsSync(NODE_LOCK) ? Number(readFileSync(join(NODE_LOCK, "pid"), "utf8")) : undefined;
    expect(holder).not.toBe(child.pid);
  }, 1_500_000); // the child may wait for another real node of this run to finish
});
