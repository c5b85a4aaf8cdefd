// `npm run demo:kubernetes` as a user runs it: a child process whose output shows the
// PostgresSchema Ready and the operator correcting drift, and which leaves no server running
// and no file behind.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import { accepts, alive, match, processesMentioning, runDemo } from "../support/demo-process";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"]);
const root = resolve(__dirname, "../..");

describe.skipIf(toolchain.skip !== undefined)("npm run demo:kubernetes", () => {
  it("shows Ready, corrects drift, and stops everything it started", async () => {
    const { code, output } = await runDemo("examples/demo-kubernetes.ts", 220_000);
    expect(code, output).toBe(0);

    // The first look may already have been followed by another that found nothing to do.
    expect(output).toMatch(/^shop\s+True\s+(Applied|Converged)$/m);
    expect(output).toMatch(/"msg":"drift detected and corrected"/);
    expect(output).toMatch(/^shop\s+True\s+DriftCorrected$/m);
    expect(output).toMatch(/customers_created_at_idx is back/);

    const [, pgPort, pgDir] = match(output, /on 127\.0\.0\.1:(\d+) \(data in (\S+)\)/);
    const [, apiPort, etcdPid, apiserverPid, kubeconfig] = match(output, /API server https:\/\/127\.0\.0\.1:(\d+); etcd pid (\d+), kube-apiserver pid (\d+); kubeconfig (\S+)/);
    const [, stack] = match(output, /stack (demo-[0-9a-f]+)/);
    const kubeDir = dirname(kubeconfig!);

    expect(alive(Number(etcdPid), "etcd")).toBe(false);
    expect(alive(Number(apiserverPid), "kube-apiserver")).toBe(false);
    expect(processesMentioning(kubeDir)).toEqual([]);
    expect(processesMentioning(pgDir!)).toEqual([]);
    expect(await accepts(Number(pgPort))).toBe(false);
    expect(await accepts(Number(apiPort))).toBe(false);

    expect(existsSync(kubeDir)).toBe(false);
    expect(existsSync(pgDir!)).toBe(false);
    expect(existsSync(join(root, "examples/kubernetes", `Pulumi.${stack}.yaml`))).toBe(false);
  }, 240_000);
});
