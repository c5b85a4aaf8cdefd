// `npm run demo:backup` as a user runs it: a child process that `pulumi up`s examples/backup (a
// cluster archiving to a local S3 server), takes a base backup, drops a table, and `pulumi up`s a
// NEW cluster restored to a time T before the drop; then stops everything. Asserted from its
// output: the base backup usable, the restored cluster holding exactly the rows committed at or
// before T and none after, the dropped table back, a new timeline, and nothing left behind.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import { accepts, alive, match, processesMentioning, runDemo } from "../support/demo-process";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager", "weed"]);
const root = resolve(__dirname, "../..");

describe.skipIf(toolchain.skip !== undefined)("npm run demo:backup", () => {
  it("restores a NEW cluster to a time before a dropped table: exactly the rows committed until then, the table back; stops everything", async () => {
    const { code, output } = await runDemo("examples/demo-backup.ts", 1_200_000);
    console.log(output.split("\n").filter((l) => !/^(operator|cluster) +\|/.test(l)).join("\n"));
    expect(code, output).toBe(0);
    expect(output).toMatch(/^base backup \S+ from shop-\d \((primary|replica)\) in [\d.]+ s: LSN \S+ \.\. \S+, \d+ bytes, usable: true$/m);
    const [, total, atT, afterT] = match(output, /^shop: (\d+) rows in orders, (\d+) committed at or before T, (\d+) after/m);
    expect(Number(atT)).toBeGreaterThan(0);
    expect(Number(afterT)).toBeGreaterThan(0);
    expect(Number(total)).toBe(Number(atT) + Number(afterT));
    const [, restored, expected] = match(output, /^restored: (\d+) rows in orders; exactly the (\d+) committed at or before T: yes; rows committed after T present: 0$/m);
    expect(restored).toBe(atT);
    expect(expected).toBe(atT);
    expect(output).toMatch(/^restored: table audit is back with 1000 rows$/m);
    const [, timeline] = match(output, /^restored: promoted on timeline (\d+), archiving to s3:\/\/backups\/default\/restored/m);
    expect(Number(timeline)).toBeGreaterThan(1);
    const [, seconds] = match(output, /^pulumi up: restored Ready in ([\d.]+) s/m);
    console.log(`demo:backup: restore to T by pulumi up ${seconds} s, ${restored} rows compared`);

    // Nothing left behind.
    const [, stack] = match(output, /stack (demo-[0-9a-f]+)/);
    expect(existsSync(join(root, "examples/backup", `Pulumi.${stack}.yaml`))).toBe(false);
    const [, apiPort, etcdPid, apiserverPid, kubeconfig] = match(output, /API server https:\/\/127\.0\.0\.1:(\d+); etcd pid (\d+), kube-apiserver pid (\d+); kubeconfig (\S+)/);
    const [, nodeDir] = match(output, /volumes in (\S+)/);
    const [, s3Port, s3Dir] = match(output, /S3 endpoint http:\/\/127\.0\.0\.1:(\d+), bucket backups, data in (\S+)/);
    expect(alive(Number(etcdPid), "etcd")).toBe(false);
    expect(alive(Number(apiserverPid), "kube-apiserver")).toBe(false);
    expect(processesMentioning(dirname(kubeconfig!))).toEqual([]);
    expect(processesMentioning(nodeDir!)).toEqual([]);
    expect(processesMentioning(s3Dir!)).toEqual([]);
    expect(existsSync(s3Dir!)).toBe(false);
    expect(await accepts(Number(apiPort))).toBe(false);
    expect(await accepts(Number(s3Port))).toBe(false);
    expect(existsSync(nodeDir!)).toBe(false);
  }, 1_300_000);
});
