// One instance "container": the container's real command, Setpoint's instance manager
// (sdk/instance/main.ts, through tsx), run as a local process with the local PostgreSQL binaries
// and the pod's resolved environment. What the node changes, as a kubelet's mounts and network
// would: PGDATA is the claim's directory on the host, the server listens on the pod's own
// loopback address, its socket is in the pod's run directory, and initdb's configuration gets the
// harness's small test defaults (SETPOINT_INITIAL_CONF); the manager's runtime directory (its
// copies of the hba and TLS files) is in the pod's run directory. The manager is the container's PID 1: it
// leads its own process group, and a kill of the container (SIGKILL) kills the whole group.
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../../sdk/postgres/client";
import { INSTANCE_ENV } from "../../../sdk/instance/settings";
import { runIdentity, type Identity } from "../../../sdk/postgres/embedded";
import type { PostgresMajor } from "../../../sdk/postgres/versions";

const MAIN = resolve(__dirname, "../../../sdk/instance/main.ts");

/** How to start one container. */
export interface ContainerConfig {
  readonly major: PostgresMajor;
  /** The pod's IP: the only address the server listens on. */
  readonly ip: string;
  readonly port: number;
  /** PGDATA on the host (inside the claim's volume directory). */
  readonly dataDir: string;
  /** Per-pod scratch directory: Unix socket, server log, the harness's configuration defaults. */
  readonly runDir: string;
  /** The container's resolved environment (secrets and field references resolved). */
  readonly env: Readonly<Record<string, string>>;
  /** The manager's arguments after `run`, with paths mapped onto the host. */
  readonly serverArgs: readonly string[];
}

/** How a container ended. */
export interface Exit {
  readonly exitCode: number;
  readonly signal?: string;
  readonly finishedAt: Date;
}

/**
 * Settings every harness server gets: small and not crash-safe, for tests. They go into
 * postgresql.conf at initdb (SETPOINT_INITIAL_CONF, not the command line), so that `ALTER SYSTEM`
 * and the pod's own `-c` arguments override them, as they override an image's configuration file.
 */
const HARNESS_DEFAULTS = ["shared_buffers = 16MB", "max_connections = 50", "fsync = off", "full_page_writes = off", "max_wal_size = 256MB"];

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGSEGV: 11 };

/** See the module comment. */
export class PostgresContainer {
  readonly startedAt = new Date();
  private readonly child: ChildProcess;
  private exitInfo: Exit | undefined;
  private readonly exited: Promise<Exit>;

  private constructor(readonly config: ContainerConfig, identity: Identity | undefined) {
    const logFile = join(config.runDir, "postgres.log");
    const defaults = join(config.runDir, "harness.conf");
    writeFileSync(defaults, `${HARNESS_DEFAULTS.join("\n")}\n`, { mode: 0o644 });
    const fd = openSync(logFile, "a");
    if (identity) chownSync(logFile, identity.uid, identity.gid);
    const E = INSTANCE_ENV;
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      SETPOINT_POSTGRES_INSTALL: "never",
      ...config.env,
      [E.pgdata]: config.dataDir,
      [E.major]: String(config.major),
      [E.port]: String(config.port),
      [E.listenAddresses]: config.ip,
      [E.socketDir]: config.runDir,
      // The manager's private copies (hba file, TLS files): per pod, as the pod's own /tmp emptyDir is.
      [E.runtimeDir]: join(config.runDir, "runtime"),
      [E.initialConf]: defaults,
    };
    try {
      this.child = spawn(process.execPath, ["--import", "tsx", MAIN, "run", ...config.serverArgs], {
        stdio: ["ignore", fd, fd],
        cwd: resolve(__dirname, "../../.."),
        detached: true, // its own process group: the container's processes
        ...(identity ?? {}),
        env,
      });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((res) => {
      this.child.once("exit", (code, signal) => {
        // A signal death reports 128+n, as a container runtime does.
        this.exitInfo = { exitCode: code ?? 128 + (SIGNALS[signal ?? ""] ?? 0), signal: signal ?? undefined, finishedAt: new Date() };
        // PID 1 gone: the runtime kills what is left in the container, and reports it stopped only
        // once every process of it is gone (a restart never meets the old server's lock file or port).
        this.killGroup("SIGKILL");
        const exit = this.exitInfo;
        void this.groupGone().then(() => res(exit));
      });
    });
  }

  /** Starts the container's command. */
  static start(config: ContainerConfig): PostgresContainer {
    const identity = runIdentity("nobody", config.major);
    mkdirSync(config.runDir, { recursive: true });
    if (identity) chownSync(config.runDir, identity.uid, identity.gid);
    return new PostgresContainer(config, identity);
  }

  /** The operating-system process id of the container's PID 1 (the manager). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves when the container's PID 1 ends (for any reason). */
  whenExited(): Promise<Exit> {
    return this.exited;
  }

  /** How it ended, once it has. */
  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  /** The end of the container's log (the manager's lines and the server's), for errors and failing tests. */
  logTail(): string {
    try {
      return readFileSync(join(this.config.runDir, "postgres.log"), "utf8").slice(-3000);
    } catch {
      return "(no log)";
    }
  }

  /**
   * Waits until the server accepts connections on its socket (the readiness probe's check), as
   * the superuser the pod names. Resolves false when the container ended first.
   */
  async waitReady(): Promise<boolean> {
    const user = this.config.env[INSTANCE_ENV.superuser] ?? "postgres";
    for (;;) {
      if (this.exitInfo) return false;
      const client = pgClient({ host: this.config.runDir, port: this.config.port, user, database: "postgres", connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query("select 1");
        return true;
      } catch {
        await sleep(100);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }

  private killGroup(signal: NodeJS.Signals): void {
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  /** Resolves when no process of the container's group is left (reaped), or after 20 s. */
  private async groupGone(): Promise<void> {
    const pgid = this.child.pid;
    if (pgid === undefined) return;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      try {
        process.kill(-pgid, 0);
      } catch {
        return;
      }
      await sleep(50);
    }
  }

  /** Sends a signal as a runtime does: SIGKILL kills every process of the container, others go to PID 1. */
  kill(signal: NodeJS.Signals): void {
    if (this.exitInfo) return;
    if (signal === "SIGKILL") this.killGroup("SIGKILL");
    else this.child.kill(signal);
  }

  /** Stops as a kubelet does: SIGTERM to PID 1 (the manager: a fast shutdown), SIGKILL when the grace period runs out. */
  async stop(graceSeconds: number): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.killGroup("SIGKILL"), Math.max(0, graceSeconds) * 1000);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}
