// The instance manager (sdk/instance/main.ts) as a local process, the way a container runs it:
// its command (`run`, `ready`), its environment, an unprivileged user. Run from the sources
// through tsx, so tests exercise the code under test without a build.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import type { Identity } from "../../sdk/postgres/embedded";

const MAIN = resolve(__dirname, "../../sdk/instance/main.ts");

/** A running manager process. */
export interface ManagerProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far (the server's log included). */
  output(): string;
  /** Resolves with its exit status (128 + n for a signal). */
  readonly exited: Promise<number>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/**
 * Starts `node sdk/instance/main.ts <args>` with `env` (added to a minimal PATH/LANG environment,
 * not this process's) as `identity` (undefined: this process's user).
 */
export function startManager(args: readonly string[], env: Readonly<Record<string, string>>, identity: Identity | undefined): ManagerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...pick(process.env, ["SETPOINT_POSTGRES_CACHE_DIR", "SETPOINT_NSS_WRAPPER", "SETPOINT_PG14_BIN_DIR", "SETPOINT_PG15_BIN_DIR", "SETPOINT_PG16_BIN_DIR", "SETPOINT_PG17_BIN_DIR", "SETPOINT_PG18_BIN_DIR"]), SETPOINT_POSTGRES_INSTALL: "never", ...env },
    cwd: resolve(__dirname, "../.."),
    ...(identity ?? {}),
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<number>((res) => child.once("exit", (code, signal) => res(code ?? 128 + (SIGNALS[signal ?? ""] ?? 0))));
  return { child, output: () => out, exited };
}

function pick(env: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (env[n]) out[n] = env[n];
  return out;
}

/** Runs a manager command to its end: its exit status and output. */
export async function runManager(args: readonly string[], env: Readonly<Record<string, string>>, identity: Identity | undefined): Promise<{ code: number; output: string }> {
  const p = startManager(args, env, identity);
  const code = await p.exited;
  return { code, output: p.output() };
}
