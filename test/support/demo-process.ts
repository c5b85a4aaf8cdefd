// Running a demo (`npm run demo:*`) as a user does, in a child process, and checking afterwards
// that it left nothing behind: no process, no listening port, no file.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";

const root = resolve(__dirname, "../..");

/**
 * Runs `script` (a path under the repository root) with tsx; resolves to its exit code and its
 * output (stdout and stderr interleaved). The demo has its own timeouts; `timeoutMs` only keeps a
 * hung demo from outliving the test.
 */
export function runDemo(script: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, output });
    });
  });
}

/** Command lines of every live process that mention `needle`. */
export function processesMentioning(needle: string): string[] {
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

/** Whether process `pid` is still `binary`. */
export function alive(pid: number, binary: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(binary);
  } catch {
    return false;
  }
}

/** Whether something accepts TCP connections on `host:port`. */
export function accepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once("error", () => resolveConnect(false));
  });
}

/** The match of `re` in a demo's output. @throws {Error} with the output when there is none. */
export function match(output: string, re: RegExp): RegExpMatchArray {
  const m = output.match(re);
  if (!m) throw new Error(`demo output has no match for ${re}:\n${output}`);
  return m;
}
