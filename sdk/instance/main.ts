/**
 * The instance manager: Setpoint's own PID 1 in a PostgreSQL instance container (ADR 0020).
 *
 *   node dist/sdk/instance/main.js run [-c name=value ...]   prepare PGDATA, run and supervise postgres
 *   node dist/sdk/instance/main.js ready                     readiness probe: exit 0 when the server accepts a connection
 *
 * Its settings come from the environment (settings.ts); the arguments after `run` go to `postgres`.
 */
// First: exits on SIGTERM/SIGINT until postgres runs, installed before the other modules load.
import { disarmEarlyStop } from "./early-stop";
import { writeFileSync } from "node:fs";
import { BackupError, errorReason, SetpointError } from "../errors";
import { cloneWithBaseBackup } from "./clone";
import { checkReady } from "./ready";
import { logLine, runInstance } from "./run";
import { INSTANCE_ENV, instanceSettings } from "./settings";

const USAGE = "usage: setpoint-instance run [-c name=value ...] | ready";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "run":
      return runInstance(instanceSettings(process.env), rest, { clone: cloneWithBaseBackup, onServerStarting: disarmEarlyStop });
    case "ready": {
      const r = await checkReady(instanceSettings(process.env));
      if (!r.ready) process.stderr.write(`not ready: ${r.reason}\n`);
      return r.ready ? 0 : 1;
    }
    default:
      process.stderr.write(`${command === undefined ? "no command" : `unknown command ${JSON.stringify(command)}`}; ${USAGE}\n`);
      return 2;
  }
}

/**
 * The container's termination message (the kubelet shows it in the pod's status): the failure's
 * reason and message, so the operator can name it in a condition. Best effort.
 */
function writeTerminationMessage(err: unknown): void {
  const reason = errorReason(err);
  const message = err instanceof Error ? err.message : String(err);
  try {
    writeFileSync(process.env[INSTANCE_ENV.terminationLog] || "/dev/termination-log", `${reason}: ${message}`.slice(0, 4000));
  } catch {
    // no termination log outside a container
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    logLine("failed", { error: err instanceof Error ? err.message : String(err), ...(err instanceof SetpointError ? { code: err.code } : {}), ...(err instanceof BackupError ? { reason: err.reason } : {}) });
    writeTerminationMessage(err);
    process.exit(1);
  },
);
