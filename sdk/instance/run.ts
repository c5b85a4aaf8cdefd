/**
 * `run`: the instance manager's main command. Reads its settings, prepares PGDATA for the pod's
 * role (prepare.ts), then runs and supervises `postgres` (supervise.ts). Every step is logged as
 * one JSON line on stderr (no password ever reaches a line: the settings' passwords are not
 * logged and initdb's password goes through a file).
 */
import { errorReason } from "../errors";
import { ensurePostgresBinaries } from "../postgres/binaries";
import type { ParametersWritten } from "./parameters";
import { cloneReplica, initdb, inspectData, markStandby, preparation, recordPod, type CloneFn, type Preparation } from "./prepare";
import { managedFiles, managedServerArgs, syncManagedFiles } from "./files";
import { archiveEnv, replicaFromBackup, restoreBootstrap, writeArchiveConf } from "./backup";
import { postgresArgs, superviseServer } from "./supervise";
import { withoutSecrets, type InstanceSettings } from "./settings";
import { checkReady } from "./ready";
import { startStatusServer, type ManagerPhase, type StatusServer } from "./status-server";

/** One log line of the manager. */
export function logLine(event: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), component: "setpoint-instance", event, ...fields })}\n`);
}

/** What `run` needs besides its settings. */
export interface RunDeps {
  /** Clones a replica's data directory (sdk/instance/basebackup.ts in production). */
  readonly clone: CloneFn;
  /** The server's environment before the passwords are removed. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Called right before `postgres` is spawned (main.ts: the early stop's handlers go, early-stop.ts). */
  readonly onServerStarting?: () => void;
}

/**
 * Prepares PGDATA and runs `postgres` with `serverArgs` until it exits.
 * @returns the exit status for the container.
 * @throws {InstanceError} when PGDATA cannot be prepared (the container fails and is restarted).
 */
export async function runInstance(settings: InstanceSettings, serverArgs: readonly string[], deps: RunDeps): Promise<number> {
  if (typeof process.getuid === "function" && process.getuid() === 0) {
    throw new Error("the instance manager runs PostgreSQL, which refuses to run as root: run the container as an unprivileged user (securityContext.runAsUser)");
  }
  const env = archiveEnv(settings, withoutSecrets(deps.env ?? process.env));
  // The status endpoint answers from the start: not ready while PGDATA is prepared (a clone can take long).
  let phase: ManagerPhase = "preparing";
  let status: StatusServer | undefined;
  if (settings.status !== undefined) {
    const { host, port } = settings.status;
    status = await startStatusServer(host, port, { phase: () => phase, check: () => checkReady(settings, 1500) }).catch((cause: unknown) => {
      throw new Error(`the status endpoint cannot listen on ${host}:${String(port)} (SETPOINT_STATUS_ADDRESS, SETPOINT_STATUS_PORT): ${(cause as Error).message}`, { cause });
    });
    logLine("status endpoint", { address: `${host}:${String(port)}`, paths: ["/readyz", "/livez"] });
  }
  try {
    return await prepareAndRun(settings, serverArgs, deps, env, (p) => (phase = p));
  } finally {
    phase = "exited";
    await status?.close();
  }
}

async function prepareAndRun(settings: InstanceSettings, serverArgs: readonly string[], deps: RunDeps, env: NodeJS.ProcessEnv, setPhase: (p: ManagerPhase) => void): Promise<number> {
  const bin = (await ensurePostgresBinaries(settings.major)).binDir;
  const plan: Preparation = preparation(settings.role, inspectData(settings), settings.pgdata, settings.recovery !== undefined);
  const started = Date.now();
  // The files Setpoint owns (files.ts), before anything needs them (a clone uses the client certificate),
  // then kept equal to their sources while the server runs.
  const written = syncManagedFiles(settings.managed);
  if (written.length > 0) logLine("files", { written });
  logLine("prepare", { kind: plan.kind, reason: plan.reason, pgdata: settings.pgdata, major: settings.major, role: settings.role });
  switch (plan.kind) {
    case "initdb": {
      const parameters = await initdb(settings, bin, env);
      logParameters(parameters);
      if (settings.backup !== undefined) writeArchiveConf(settings.pgdata);
      break;
    }
    case "restore": {
      const { parameters, ...r } = await restoreBootstrap(settings, bin, serverArgs, env, logLine);
      logLine("recovered", { ...r, ms: Date.now() - started });
      logParameters(parameters);
      break;
    }
    case "clone": {
      if (settings.replicaBootstrap === "object-store") {
        const fromStore = await replicaFromBackup(settings, bin, env).catch((err: unknown) => {
          // The store is a shortcut, never a precondition: the primary can always be cloned.
          const reason = errorReason(err);
          logLine("replica bootstrap", { from: "object-store", reason, error: (err as Error).message, instead: "a clone of the primary" });
          return undefined;
        });
        if (fromStore !== undefined) {
          const { parameters, ...r } = fromStore;
          logLine("cloned", { from: "object-store", ...r, ms: Date.now() - started });
          logParameters(parameters);
          break;
        }
      }
      const r = await cloneReplica(settings, deps.clone);
      logLine("cloned", { from: `${settings.source!.host}:${settings.source!.port}`, bytes: r.bytes, ms: Date.now() - started });
      break;
    }
    case "standby":
      markStandby(settings.pgdata);
      break;
    case "start":
      break;
    default: {
      const never: never = plan;
      throw new Error(`unknown preparation ${JSON.stringify(never)}`);
    }
  }
  recordPod(settings);
  logLine("starting postgres", { ms: Date.now() - started });
  let timer: NodeJS.Timeout | undefined;
  const keep = (reload: () => void): void => {
    if (managedFiles(settings.managed).length === 0) return;
    timer = setInterval(() => {
      try {
        const changed = syncManagedFiles(settings.managed);
        if (changed.length === 0) return;
        reload();
        logLine("reloaded", { changed, reason: "a kept file differed from its source (renewed, changed or edited): written back and reloaded" });
      } catch (err) {
        // The server keeps its current files; the next check tries again.
        logLine("files not synced", { error: (err as Error).message });
      }
    }, settings.managed.syncIntervalMs);
  };
  setPhase("running");
  // From here supervise.ts turns SIGTERM/SIGINT into the server's shutdown (spawned synchronously below).
  deps.onServerStarting?.();
  // Setpoint's managed arguments first: the container's own arguments (tests' extras) come after and win.
  const code = await superviseServer(bin, postgresArgs(settings, [...managedServerArgs(settings.managed), ...serverArgs]), env, keep).finally(() => clearInterval(timer));
  setPhase("exited");
  logLine("postgres exited", { code });
  return code;
}

/** The `parameters` line: what became of the cluster's parameters in a new data directory (ADR 0043), when there were any. */
function logParameters(p: ParametersWritten): void {
  if (p.written.length > 0 || p.refused.length > 0) logLine("parameters", { written: p.written, refused: p.refused });
}
