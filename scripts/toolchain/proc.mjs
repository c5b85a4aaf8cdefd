// Child-process helpers for the toolchain script.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";

/**
 * Runs a command to completion and returns its trimmed stdout, or undefined when it cannot
 * be started or exits non-zero. For quick probes such as `pulumi version`.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, timeoutMs?: number }} [opts]
 * @returns {string | undefined}
 */
export function probe(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 30_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.trim();
}

/**
 * Runs a long command with its output appended to a log file, killing it (and its process
 * group) after `timeoutMs`.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ env: NodeJS.ProcessEnv, cwd: string, logFile: string, timeoutMs: number }} opts
 * @returns {Promise<void>}
 * @throws {Error} naming the command, exit status and log file when it fails or times out.
 */
export function runLogged(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(opts.logFile, { flags: "a" });
    log.write(`$ ${cmd} ${args.join(" ")}\n`);
    const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    // If this script is interrupted, do not leave a build running in the background.
    const onExit = () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    process.once("exit", onExit);
    child.on("error", (err) => {
      clearTimeout(timer);
      process.removeListener("exit", onExit);
      log.end();
      reject(new Error(`could not start ${cmd}: ${err.message}`, { cause: err }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      process.removeListener("exit", onExit);
      log.end(() => {
        if (code === 0) return resolve();
        const why = timedOut ? `timed out after ${Math.round(opts.timeoutMs / 60000)} min` : `exited with ${code ?? signal}`;
        reject(new Error(`\`${cmd} ${args.join(" ")}\` ${why}; see ${opts.logFile}`));
      });
    });
  });
}

/**
 * Runs a command to completion without blocking the event loop (other builds of a concurrent
 * run keep being watched) and returns its status and output. Killed after `timeoutMs`, and when
 * this script exits.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, timeoutMs: number }} opts
 * @returns {Promise<{ status: number | null, stdout: string, stderr: string }>}
 */
export function runCapture(cmd, args, opts) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const kill = () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(kill, opts.timeoutMs);
    process.once("exit", kill);
    const done = (status, extra = "") => {
      clearTimeout(timer);
      process.removeListener("exit", kill);
      resolve({ status, stdout, stderr: stderr + extra });
    };
    child.on("error", (err) => done(null, `could not start ${cmd}: ${err.message}`));
    child.on("close", (code) => done(code));
  });
}
