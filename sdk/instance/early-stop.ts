/**
 * The instance manager's stop before `postgres` runs (ADR 0038). Imported first by main.ts (and
 * by nothing else: importing it installs the handlers), so its
 * handlers are installed before the other modules load (hundreds of milliseconds, seconds on a
 * loaded node): as a container's PID 1 the manager gets no default action for SIGTERM or SIGINT,
 * so without a handler the kubelet's stop signal would be ignored and the kubelet would wait out
 * its grace period (at least 2 s) before SIGKILL — the time a fenced primary whose container was
 * just restarted held up the failover. Before `postgres` runs there is nothing to shut down: the
 * preparation writes beside PGDATA and is redone from scratch (prepare.ts), so the manager exits
 * at once. {@link disarmEarlyStop} hands the signals to supervise.ts once the server is spawned.
 */
const SIGNAL_NUMBERS = { SIGTERM: 15, SIGINT: 2 } as const;
type StopSignal = keyof typeof SIGNAL_NUMBERS;

const handlers = new Map<StopSignal, () => void>();
for (const signal of Object.keys(SIGNAL_NUMBERS) as StopSignal[]) {
  const handler = (): void => {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), component: "setpoint-instance", event: "stopped before postgres started", signal })}\n`);
    process.exit(128 + SIGNAL_NUMBERS[signal]);
  };
  handlers.set(signal, handler);
  process.on(signal, handler);
}

/** Stops exiting on SIGTERM/SIGINT: the server now runs and supervise.ts turns them into its shutdown. */
export function disarmEarlyStop(): void {
  for (const [signal, handler] of handlers) process.off(signal, handler);
  handlers.clear();
}
