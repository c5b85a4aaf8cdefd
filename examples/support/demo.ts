// What the demos share: headings, the toolchain and build checks, the operator's log as they
// print it, and a Pulumi stack of an example program on a local file backend in a throwaway
// directory (secrets in on stdin, removed at the end).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { LogFields, Logger } from "../../sdk/reconcile/index";
// The local control plane is the test harness's (test/support is not part of the package): an
// example may reuse it, since the demo runs from a checkout with the toolchain built anyway.
import { loadToolchain } from "../../test/support/control-plane";
import { descendants } from "../../test/support/pulumi";
import type { ToolchainEnv } from "../../scripts/toolchain/paths.mjs";

/** The repository root. */
export const ROOT = resolve(__dirname, "../..");

/** Runs a demo's `main`; a failure is printed (its message only) and exits with status 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

/**
 * Makes `stop` (a demo's clean-up) run once, whether it is called at the end or the demo is
 * interrupted (Ctrl-C, SIGTERM): then it runs before the process exits with status 130.
 */
export function stopOnce(stop: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  const once = (): Promise<void> => (running ??= stop());
  const interrupted = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping everything the demo started`);
    void once().finally(() => process.exit(130));
  };
  // `on`, not `once`: a listener must stay, or tsx's own handler ends the process at a second signal.
  process.on("SIGINT", interrupted);
  process.on("SIGTERM", interrupted);
  return once;
}

/** Prints a heading. */
export function step(title: string): void {
  console.log(`\n=== ${title}`);
}

/**
 * The toolchain, with every tool the demo needs.
 * @throws {Error} naming the missing tools and `npm run toolchain`.
 */
export function requireToolchain(tools: string[]): ToolchainEnv {
  const tc = loadToolchain();
  const missing = tools.filter((t) => !tc?.tools[t]);
  if (!tc || missing.length > 0) throw new Error(`toolchain missing (${missing.join(", ")}); run \`npm run toolchain\` first`);
  return tc;
}

/** Newest modification time of the package's sources (what `npm run build` compiles). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds `dist/` when it is missing or older than the sources: example programs import
 * `setpoint/components`, which resolves to the built package, as it would from npm.
 * @throws {Error} when the build fails.
 */
export function ensureBuilt(): void {
  const marker = join(ROOT, "dist/components/index.js");
  const stale = !existsSync(marker) || statSync(marker).mtimeMs < Math.max(newestSource(join(ROOT, "sdk")), newestSource(join(ROOT, "components")));
  if (!stale) return;
  console.log("dist/ is missing or older than the sources: npm run build");
  const build = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build failed; see its output above");
}

/** A logger that prints the operator's log lines (JSON, as the operator writes them) and keeps them in `lines`. */
export function recordingLogger(lines: string[], base: LogFields = {}): Logger {
  const emit = (level: string, msg: string, fields?: LogFields): void => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    lines.push(line);
    console.log(`operator | ${line}`);
  };
  return {
    debug: () => undefined,
    info: (msg, fields) => emit("info", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}

/** SIGKILLs a `pulumi` run and every process it started. */
function killTree(child: ReturnType<typeof spawn>): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  for (const pid of [child.pid, ...descendants(child.pid)]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Options of one `pulumi` run. */
export interface PulumiRunOptions {
  /** Print its output as it comes. @default true */
  show?: boolean;
  /** Written to its stdin (secrets go in this way, never on the command line). */
  input?: string;
  /** Kill the run and fail after this long. @default no limit */
  timeoutMs?: number;
}

/** A stack of an example program, on a local file backend in `work`. */
export interface LocalStack {
  /** Stack name, `demo-<random>`. */
  readonly name: string;
  /** Runs `pulumi <args>` in the program directory; resolves to its stdout. @throws {Error} with its output when it fails. */
  run(args: string[], opts?: PulumiRunOptions): Promise<string>;
  /** Logs in to the backend and creates the stack (passphrase secrets). */
  init(): Promise<void>;
  /** Stops any run still in progress, removes the stack (without `pulumi destroy`) and its config file; never throws. */
  remove(): Promise<void>;
}

/**
 * A stack of the Pulumi program in `programDir`, its state and Pulumi home under `work`; the
 * toolchain's plugins are linked in, so nothing is downloaded.
 */
export function localStack(tc: ToolchainEnv, programDir: string, work: string): LocalStack {
  const name = `demo-${randomBytes(4).toString("hex")}`;
  const pulumiHome = join(work, "pulumi-home");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(tc.tools["pulumi"]!.path)}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: pulumiHome,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
    PULUMI_SKIP_UPDATE_CHECK: "1",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  delete env.PULUMI_ACCESS_TOKEN;
  delete env.PULUMI_BACKEND_URL;
  let created = false;
  const running = new Set<ReturnType<typeof spawn>>();
  // Asynchronous: the operator and the node harness run in the demo's own process and must keep running meanwhile.
  const run = (args: string[], opts: PulumiRunOptions = {}): Promise<string> =>
    new Promise((resolveRun, reject) => {
      const child = spawn(tc.tools["pulumi"]!.path, args, { cwd: programDir, env, stdio: ["pipe", "pipe", "pipe"] });
      running.add(child);
      child.once("close", () => running.delete(child));
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        if (opts.show !== false) process.stdout.write(c);
      });
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      let timedOut = false;
      // An operation the engine is waiting on may never return (a commit waiting for a synchronous
      // replica that never comes): a graceful cancel would wait on it too, so the run is killed.
      const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), killTree(child)), opts.timeoutMs);
      child.once("error", reject);
      child.once("close", (code) => {
        clearTimeout(timer);
        if (code === 0 && !timedOut) return resolveRun(stdout);
        const why = timedOut ? `did not finish within ${opts.timeoutMs! / 1000} s` : "failed";
        reject(new Error(`pulumi ${args.join(" ")} ${why}:\n${stdout}\n${stderr}`));
      });
      child.stdin.end(opts.input ?? "");
    });
  return {
    name,
    run,
    async init() {
      mkdirSync(pulumiHome, { recursive: true });
      if (existsSync(join(tc.pulumiHome, "plugins"))) symlinkSync(join(tc.pulumiHome, "plugins"), join(pulumiHome, "plugins"));
      mkdirSync(join(work, "state"), { recursive: true });
      await run(["login", `file://${join(work, "state")}`], { show: false });
      await run(["stack", "init", name, "--secrets-provider", "passphrase"], { show: false });
      created = true;
    },
    async remove() {
      // An interrupted demo may leave a run in progress (and its plugins, in their own process groups).
      // Its lock then stays on the stack, whose state goes with the demo's directory anyway.
      const interrupted = running.size > 0;
      for (const child of running) killTree(child);
      if (created && !interrupted) await run(["stack", "rm", name, "--yes", "--force"], { show: false }).catch((err: unknown) => console.error(err instanceof Error ? err.message : err));
      rmSync(join(programDir, `Pulumi.${name}.yaml`), { force: true });
    },
  };
}
