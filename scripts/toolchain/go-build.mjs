// Builds one command from a Go wrapper module under ./go/<module>/.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runLogged } from "./proc.mjs";

const modulesDir = fileURLToPath(new URL("./go/", import.meta.url));

/** Longest a single build may take before it is killed. */
const BUILD_TIMEOUT_MS = 90 * 60_000;

/**
 * Builds `pkg` (a main package, in the wrapper module or one of its dependencies) inside the
 * wrapper module `module`, stripped and path-trimmed, into `output`. The binary appears
 * atomically: a failed or interrupted build leaves nothing at `output`.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {{ module?: string, dir?: string, pkg: string, output: string, ldflags?: string[], logFile: string }} spec
 *   `module` names a wrapper under ./go/; `dir` is an explicit module directory instead.
 * @returns {Promise<number>} build duration in seconds
 * @throws {Error} naming the log file when `go build` fails.
 */
export async function goBuild(toolchain, spec) {
  const started = Date.now();
  mkdirSync(dirname(spec.output), { recursive: true });
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const tmp = `${spec.output}.partial`;
  rmSync(tmp, { force: true });
  const ldflags = ["-s", "-w", ...(spec.ldflags ?? [])].join(" ");
  await runLogged(toolchain.go, ["build", "-p", "2", "-trimpath", "-ldflags", ldflags, "-o", tmp, spec.pkg], {
    env: toolchain.env,
    cwd: spec.dir ?? join(modulesDir, spec.module ?? ""),
    logFile: spec.logFile,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  renameSync(tmp, spec.output);
  return (Date.now() - started) / 1000;
}
