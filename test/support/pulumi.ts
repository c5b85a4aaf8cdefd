// Test harness for the real Pulumi engine: a program directory, a private PULUMI_HOME that
// sees the toolchain's plugins, a local file backend and a random passphrase, and helpers to
// run the CLI and read its JSON events. Binaries come from `npm run toolchain`.
import type { ChildProcess } from "node:child_process";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import type { ToolchainEnv } from "../../scripts/toolchain/paths.mjs";

const execFileAsync = promisify(execFile);

/** The repository root (programs may `require` its sources through {@link REPO_ROOT}). */
export const REPO_ROOT = resolve(__dirname, "../..");
const repoNodeModules = join(REPO_ROOT, "node_modules");

/** One engine event of `pulumi up --json` / `destroy --json` (newline-delimited). */
export interface EngineEvent {
  resOutputsEvent?: { metadata: { op: string; urn: string; type: string; new?: { outputs?: Record<string, unknown> } } };
  summaryEvent?: { result: string; resourceChanges: Record<string, number> };
  diagnosticEvent?: { severity: string; message: string; urn?: string };
}

/** Options of {@link createPulumiProject}. */
export interface PulumiProjectOptions {
  /** Toolchain providing `pulumi` and its plugins. */
  toolchain: ToolchainEnv;
  /** Project name in Pulumi.yaml. @default "setpoint-test" */
  name?: string;
  /** Files of the program directory, by relative path; `index.js` is the entry point. */
  files: Record<string, string>;
  /** Extra environment of every CLI run (e.g. KUBECONFIG). Secrets here never reach logs. */
  env?: Record<string, string>;
  /** Stack name. @default "dev" */
  stack?: string;
  /** Default timeout of each CLI run. @default 240_000 ms */
  timeoutMs?: number;
  /**
   * Install this repository as the `setpoint` package of the program (`require("setpoint/components")`
   * resolves to the built `dist/`, as it would from npm). `node_modules` is then a real directory
   * linking each entry of the repo's, plus `setpoint` -> the repo root, so that code resolving
   * `setpoint/...` from the program directory (the Schema provider) finds it.
   * @default false (node_modules is a link to the repo's)
   */
  installSetpoint?: boolean;
  /**
   * `own`: no node_modules is made; the test installs the program's dependencies itself (as a
   * user would, e.g. from a packed tarball). Overrides `installSetpoint`.
   * @default "repo"
   */
  nodeModules?: "repo" | "own";
  /** Run the program as TypeScript (Pulumi's default, through its ts-node); the entry point is then `index.ts`. @default false */
  typescript?: boolean;
}

/** A Pulumi program directory with its own backend and stack. */
export interface PulumiProject {
  /** Root temp dir (program/, pulumi-home/, state/). */
  readonly dir: string;
  /** The program directory (cwd of every CLI run). */
  readonly programDir: string;
  /** Runs `pulumi <args>`; resolves to stdout. @throws {Error} with stdout and stderr when it fails. */
  pulumi(...args: string[]): Promise<string>;
  /** Runs `pulumi <args>` with `input` on stdin (e.g. `config set --secret`): secrets stay off the command line. */
  pulumiWithInput(input: string, ...args: string[]): Promise<string>;
  /** `pulumi up --yes --skip-preview --json`, parsed into events. */
  up(): Promise<EngineEvent[]>;
  /** `pulumi destroy --yes --skip-preview --json`, parsed into events. */
  destroy(): Promise<EngineEvent[]>;
  /** `pulumi stack output --json --show-secrets`. */
  outputs(): Promise<Record<string, unknown>>;
  /** Starts `pulumi <args>` without waiting for it, so a test can kill it mid-run. */
  start(...args: string[]): RunningPulumi;
  /** Kills any CLI still running and removes the temp dir. */
  cleanup(): void;
}

/** A `pulumi` run in progress (see {@link PulumiProject.start}). */
export interface RunningPulumi {
  /** Everything the run wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Settles when the CLI exits, with its exit code (null when killed). */
  readonly exited: Promise<number | null>;
  /**
   * SIGKILLs the CLI and every process it started, as a machine losing power would. Pulumi starts
   * its plugins (language host, providers) in their own process groups, so killing the CLI's
   * group would leave them running: the tree is collected from /proc first.
   * @returns the pids killed.
   */
  kill(): number[];
}

/** Pids of every live descendant of `root`, from /proc (Linux). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // The command name may hold spaces and parentheses: the fields after the last ")" are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const child of parents.get(pid) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

/** The `summaryEvent` of a run's events. */
export function summaryOf(events: EngineEvent[]): EngineEvent["summaryEvent"] {
  return events.find((e) => e.summaryEvent)?.summaryEvent;
}

/** Error diagnostics of a run's events, as text (for assertion messages). */
export function errorsOf(events: EngineEvent[]): string {
  return events
    .filter((e) => e.diagnosticEvent?.severity === "error")
    .map((e) => e.diagnosticEvent!.message)
    .join("\n");
}

function parseEvents(stdout: string): EngineEvent[] {
  return stdout
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as EngineEvent);
}

/**
 * Creates a program directory (with `node_modules` linked to the repo's), a private PULUMI_HOME
 * whose plugins are the toolchain's, a file backend, and an initialized stack with a
 * passphrase secrets provider.
 * @throws {Error} when `@pulumi/pulumi` is not installed or the CLI fails.
 */
export async function createPulumiProject(opts: PulumiProjectOptions): Promise<PulumiProject> {
  if (!existsSync(join(repoNodeModules, "@pulumi", "pulumi"))) throw new Error("run npm ci: @pulumi/pulumi is not installed");
  const name = opts.name ?? "setpoint-test";
  const dir = mkdtempSync(join(tmpdir(), "setpoint-pulumi-"));
  const programDir = join(dir, "program");
  const home = join(dir, "pulumi-home");
  const state = join(dir, "state");
  for (const d of [programDir, home, state]) mkdirSync(d);
  const plugins = join(opts.toolchain.pulumiHome, "plugins");
  if (existsSync(plugins)) symlinkSync(plugins, join(home, "plugins"));
  if (opts.nodeModules === "own") {
    // The test installs the program's dependencies.
  } else if (opts.installSetpoint) {
    const modules = join(programDir, "node_modules");
    mkdirSync(modules);
    for (const entry of readdirSync(repoNodeModules)) if (entry !== "setpoint") symlinkSync(join(repoNodeModules, entry), join(modules, entry));
    symlinkSync(REPO_ROOT, join(modules, "setpoint"));
  } else {
    symlinkSync(repoNodeModules, join(programDir, "node_modules"));
  }
  writeFileSync(join(programDir, "Pulumi.yaml"), opts.typescript ? `name: ${name}\nruntime: nodejs\n` : `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n`);
  writeFileSync(join(programDir, "package.json"), JSON.stringify({ name, private: true, main: opts.typescript ? "index.ts" : "index.js" }));
  for (const [file, text] of Object.entries(opts.files)) {
    mkdirSync(dirname(join(programDir, file)), { recursive: true });
    writeFileSync(join(programDir, file), text);
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: home,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
    PULUMI_SKIP_UPDATE_CHECK: "1",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ...opts.env,
  };
  delete env.PULUMI_ACCESS_TOKEN;
  delete env.PULUMI_BACKEND_URL;

  const children = new Set<ChildProcess>();
  const started = new Set<RunningPulumi>();
  const pulumiBin = opts.toolchain.tools["pulumi"]!.path;
  const run = async (input: string | undefined, args: string[]): Promise<string> => {
    const cli = execFileAsync(pulumiBin, args, { cwd: programDir, env, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 240_000 });
    children.add(cli.child);
    if (input !== undefined) cli.child.stdin?.end(input);
    try {
      return (await cli).stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`pulumi ${args[0]} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`, { cause: err });
    } finally {
      children.delete(cli.child);
    }
  };
  const pulumi = (...args: string[]): Promise<string> => run(undefined, args);

  try {
    await pulumi("login", `file://${state}`);
    await pulumi("stack", "init", opts.stack ?? "dev", "--secrets-provider", "passphrase");
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    dir,
    programDir,
    pulumi,
    pulumiWithInput: (input, ...args) => run(input, args),
    up: async () => parseEvents(await pulumi("up", "--yes", "--skip-preview", "--json")),
    destroy: async () => parseEvents(await pulumi("destroy", "--yes", "--skip-preview", "--json")),
    outputs: async () => JSON.parse(await pulumi("stack", "output", "--json", "--show-secrets")) as Record<string, unknown>,
    start: (...args) => {
      const child = spawn(pulumiBin, args, { cwd: programDir, env, stdio: ["ignore", "pipe", "pipe"] });
      children.add(child);
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString()));
      child.stderr.on("data", (d: Buffer) => (text += d.toString()));
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
      void exited.then(() => children.delete(child));
      const running: RunningPulumi = {
        output: () => text,
        exited,
        kill: () => {
          // An exited CLI's pid may belong to another process by now.
          const alive = child.pid !== undefined && child.exitCode === null && child.signalCode === null;
          const pids = alive ? [child.pid!, ...descendants(child.pid!)] : [];
          for (const pid of pids) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // already gone
            }
          }
          return pids;
        },
      };
      started.add(running);
      void exited.then(() => started.delete(running));
      return running;
    },
    cleanup: () => {
      for (const r of started) r.kill();
      for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * JavaScript that, placed at the top of a test program, lets it `require` the repository's
 * TypeScript sources (through tsx's CommonJS hook), e.g. `require(REPO + "/components/operator.ts")`.
 */
export function requireTypeScriptPrelude(): string {
  return `require(${JSON.stringify(require.resolve("tsx/cjs/api"))}).register();\nconst REPO = ${JSON.stringify(REPO_ROOT)};\n`;
}
