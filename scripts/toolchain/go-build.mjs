// Builds one command from a Go wrapper module under ./go/<module>/.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runLogged } from "./proc.mjs";

const modulesDir = fileURLToPath(new URL("./go/", import.meta.url));

/** Longest a single build may take before it is killed. */
const BUILD_TIMEOUT_MS = 90 * 60_000;

/** `go build -p`: as many compile and link actions at once as there are cores. */
const GO_PARALLELISM = String(Math.max(1, availableParallelism()));

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
  await runLogged(toolchain.go, ["build", "-p", GO_PARALLELISM, "-trimpath", "-ldflags", ldflags, "-o", tmp, spec.pkg], {
    env: toolchain.env,
    cwd: spec.dir ?? join(modulesDir, spec.module ?? ""),
    logFile: spec.logFile,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  renameSync(tmp, spec.output);
  return (Date.now() - started) / 1000;
}

/**
 * Builds several main packages of one module in ONE `go build` (one package load, one action
 * graph: the packages they share compile once and the links overlap other work), stripped and
 * path-trimmed, into `binDir` under each package's last path element. Each binary appears
 * atomically and only when the whole build succeeded: the build writes into a scratch directory
 * that is removed afterwards, so a failed or interrupted build leaves nothing in `binDir`.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {{ module?: string, dir?: string, pkgs: string[], binDir: string, ldflags?: string[], logFile: string }} spec
 * @returns {Promise<number>} build duration in seconds
 * @throws {Error} naming the log file when `go build` fails, or when a binary is missing after it.
 */
export async function goBuildMany(toolchain, spec) {
  const started = Date.now();
  mkdirSync(spec.binDir, { recursive: true });
  mkdirSync(dirname(spec.logFile), { recursive: true });
  // Scratch directories of builds that were killed (the toolchain lock rules out a live one).
  for (const entry of readdirSync(spec.binDir)) {
    if (entry.startsWith(".partial-")) rmSync(join(spec.binDir, entry), { recursive: true, force: true });
  }
  const scratch = join(spec.binDir, `.partial-${process.pid}`);
  mkdirSync(scratch);
  try {
    const ldflags = ["-s", "-w", ...(spec.ldflags ?? [])].join(" ");
    await runLogged(toolchain.go, ["build", "-p", GO_PARALLELISM, "-trimpath", "-ldflags", ldflags, "-o", `${scratch}/`, ...spec.pkgs], {
      env: toolchain.env,
      cwd: spec.dir ?? join(modulesDir, spec.module ?? ""),
      logFile: spec.logFile,
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    const names = spec.pkgs.map((p) => basename(p));
    const missing = names.filter((n) => !existsSync(join(scratch, n)));
    if (missing.length > 0) throw new Error(`\`go build\` wrote no ${missing.join(", ")} into ${scratch}; see ${spec.logFile}`);
    for (const n of names) renameSync(join(scratch, n), join(spec.binDir, n));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return (Date.now() - started) / 1000;
}
