// `npm run demo:kubernetes` as a user runs it: a child process whose output shows the
// PostgresSchema Ready and the operator correcting drift, and which leaves no server running
// and no file behind.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"]);
const root = resolve(__dirname, "../..");

function runDemo(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/demo-kubernetes.ts"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    // The demo has its own timeouts; this one only keeps a hung demo from outliving the test.
    const timer = setTimeout(() => child.kill("SIGTERM"), 220_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, output });
    });
  });
}

/** Command lines of every live process that mention `needle`. */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(needle)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function alive(pid: number, binary: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(binary);
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once("error", () => resolveConnect(false));
  });
}

function match(output: string, re: RegExp): RegExpMatchArray {
  const m = output.match(re);
  if (!m) throw new Error(`demo output has no match for ${re}:\n${output}`);
  return m;
}

describe.skipIf(toolchain.skip !== undefined)("npm run demo:kubernetes", () => {
  it("shows Ready, corrects drift, and stops everything it started", async () => {
    const { code, output } = await runDemo();
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
