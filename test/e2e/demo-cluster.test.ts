// `npm run demo:cluster` as a user runs it: a child process that `pulumi up`s examples/cluster
// (3 instances, synchronous replication, a Schema), kills the primary under a writer, raises
// max_connections, and stops everything. It runs on real pods when the machine can (root, the
// node toolchain, containerd/runc/debootstrap: the operator in its pod, the primary's container
// killed), else on the node harness (the primary's server killed for good); the demo's first
// lines say which, and this test asserts the mode it expects here. Asserted from its output: the
// Schema's table, a failover that lost no acknowledged row, the rolling restart (replicas first,
// then a switchover, then the old primary) with the new value on every instance, and nothing
// left behind.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { realPodsUnavailable } from "../../examples/support/cluster-platform";
import { toolchainOrSkip } from "../support/control-plane";
import { accepts, alive, match, processesMentioning, runDemo } from "../support/demo-process";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager"]);
const root = resolve(__dirname, "../..");
const realPods = realPodsUnavailable() === undefined;

describe.skipIf(toolchain.skip !== undefined)("npm run demo:cluster", () => {
  it(`fails over without losing an acknowledged row, rolls out a restart, and stops everything it started (${realPods ? "real pods" : "node harness"})`, async () => {
    // Real pods: a real node may wait for another run's lock, and the images are built first.
    const { code, output } = await runDemo("examples/demo-cluster.ts", realPods ? 1_500_000 : 280_000);
    // The demo's own lines (not the operator's log or the cluster watch), for the record.
    console.log(output.split("\n").filter((l) => !/^(operator|cluster) +\|/.test(l)).join("\n"));
    expect(code, output).toBe(0);
    expect(output).toMatch(realPods ? /^mode: real pods /m : /^mode: node harness /m);

    // The Schema ran on the cluster's primary.
    expect(output).toMatch(/^table orders \(from the Schema\): id bigint, placed_at timestamp with time zone, note text$/m);

    // Failover: writes were acknowledged again, and every row acknowledged before is on the primary.
    const [, what, killed] = match(output, /^=== killing the primary's (server|container) \((shop-\d)/m);
    expect(what).toBe(realPods ? "container" : "server");
    const [, seconds, lost, acknowledged] = match(output, /^failover completed in ([\d.]+) s, lost (\d+) acknowledged rows \((\d+) acknowledged/m);
    const [, primary, how, restartedFirst] = match(output, /^primary after the failover: (shop-\d) \((restarted in place|promoted, was shop-\d)(, which had been restarted in place first)?\)$/m);
    if (how === "restarted in place" || restartedFirst !== undefined) {
      // Only a real node's kubelet restarts a killed container in place; it may answer before the
      // operator, which saw it exit, fences it and promotes a replica anyway (ADR 0038).
      expect(realPods).toBe(true);
    }
    if (how === "restarted in place") {
      expect(primary).toBe(killed);
    } else {
      const [, from, to] = match(output, /primary: (shop-\d) -> (shop-\d)/);
      expect(from).toBe(killed);
      expect(to).toBe(primary);
      expect(to).not.toBe(killed);
    }
    expect(Number(lost)).toBe(0);
    expect(Number(acknowledged)).toBeGreaterThanOrEqual(50);
    console.log(`demo:cluster (${realPods ? "real pods" : "harness"}) failover: ${seconds} s (${how}), ${acknowledged} acknowledged rows, ${lost} lost`);

    // Rolling restart: both replicas first, then the primary, which hands over by a switchover.
    const [, order] = match(output, /^rolling restart: (.+)$/m);
    const items = order!.split(", ");
    const switchovers = items.filter((i) => i.startsWith("switchover "));
    expect(switchovers, order).toHaveLength(1);
    const [, before, after] = match(switchovers[0]!, /^switchover (shop-\d) -> (shop-\d)$/);
    expect(before).toBe(primary);
    expect(after).not.toBe(before);
    const restarts = items.filter((i) => i.startsWith("restart ")).map((i) => i.split(" ")[1]!);
    const replicas = ["shop-1", "shop-2", "shop-3"].filter((p) => p !== before);
    expect(new Set(restarts), order).toEqual(new Set(["shop-1", "shop-2", "shop-3"]));
    const lastReplica = Math.max(...replicas.map((r) => items.findIndex((i) => i.startsWith(`restart ${r}`))));
    expect(items.findIndex((i) => i.startsWith(`restart ${before!}`)), order).toBeGreaterThan(lastReplica);
    expect(items.indexOf(switchovers[0]!), order).toBeGreaterThan(lastReplica);
    expect(output).toMatch(/^max_connections: shop-1=200, shop-2=200, shop-3=200$/m);
    expect(output).toMatch(/^writer: \d+ rows acknowledged in all, \d+ attempts failed \(not acknowledged\); lost 0 acknowledged rows$/m);

    // Nothing left behind.
    const [, stack] = match(output, /stack (demo-[0-9a-f]+)/);
    expect(existsSync(join(root, "examples/cluster", `Pulumi.${stack}.yaml`))).toBe(false);
    if (realPods) {
      // The node's own inventory: processes, mounts, interfaces, iptables rules, cgroups, files.
      expect(output).toMatch(/^left behind: nothing$/m);
      const [, runDir] = match(output, /run directory (\S+)/);
      expect(processesMentioning(runDir!)).toEqual([]);
      expect(existsSync(runDir!)).toBe(false);
      return;
    }
    const [, apiPort, etcdPid, apiserverPid, kubeconfig] = match(output, /API server https:\/\/127\.0\.0\.1:(\d+); etcd pid (\d+), kube-apiserver pid (\d+); kubeconfig (\S+)/);
    const [, nodeDir] = match(output, /volumes in (\S+)/);
    const kubeDir = dirname(kubeconfig!);
    expect(alive(Number(etcdPid), "etcd")).toBe(false);
    expect(alive(Number(apiserverPid), "kube-apiserver")).toBe(false);
    expect(processesMentioning(kubeDir)).toEqual([]);
    expect(processesMentioning(nodeDir!)).toEqual([]);
    expect(await accepts(Number(apiPort))).toBe(false);
    expect(existsSync(kubeDir)).toBe(false);
    expect(existsSync(nodeDir!)).toBe(false);
  }, 1_600_000);
});
