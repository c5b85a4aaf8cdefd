/**
 * The instance manager's second stage: run `postgres` as its child and stay in front of it, as
 * the container's PID 1. The kubelet's stop signal (SIGTERM) becomes PostgreSQL's fast shutdown
 * (SIGINT: disconnect clients, checkpoint, exit); SIGINT, SIGQUIT (immediate) and SIGHUP (reload)
 * pass through. The manager exits with the server's exit status (128 + n for a signal, as a
 * container runtime reports it), so a crashed server is a crashed container.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { InstanceSettings } from "./settings";

/** Signals the manager forwards, and what it sends `postgres` for each. */
export const FORWARDED_SIGNALS: Readonly<Partial<Record<NodeJS.Signals, NodeJS.Signals>>> = { SIGTERM: "SIGINT", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGHUP: "SIGHUP" };

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };

/**
 * The server's arguments: the data directory, where it listens (the manager's settings), then the
 * container's own arguments (Setpoint's `serverArgs()`), which win. Pure.
 */
export function postgresArgs(settings: Pick<InstanceSettings, "pgdata" | "port" | "listenAddresses" | "socketDir">, extra: readonly string[]): string[] {
  return [
    "-D",
    settings.pgdata,
    "-c",
    `listen_addresses=${settings.listenAddresses}`,
    "-c",
    `port=${String(settings.port)}`,
    "-c",
    `unix_socket_directories=${settings.socketDir}`,
    ...extra,
  ];
}

/**
 * Runs `postgres` until it exits; resolves to the exit status the manager should exit with.
 * @param env the server's environment (without the Secrets' passwords).
 * @param onStarted called once the server is spawned with a function that reloads it (SIGHUP);
 *   the reload function does nothing once the server has exited.
 */
export function superviseServer(bin: string, args: readonly string[], env: NodeJS.ProcessEnv, onStarted?: (reload: () => void) => void): Promise<number> {
  const child = spawn(join(bin, "postgres"), [...args], { stdio: ["ignore", "inherit", "inherit"], env });
  onStarted?.(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGHUP");
  });
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const [received, sent] of Object.entries(FORWARDED_SIGNALS) as [NodeJS.Signals, NodeJS.Signals][]) {
    const handler = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sent);
    };
    handlers.set(received, handler);
    process.on(received, handler);
  }
  return new Promise((resolve, reject) => {
    child.once("error", (err) => {
      for (const [s, h] of handlers) process.off(s, h);
      reject(err);
    });
    child.once("exit", (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ""] ?? 0));
    });
  });
}
