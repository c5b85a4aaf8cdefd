// One PostgreSQL "container": the packaged server of a major run as a local process, with the
// official image's entrypoint behaviour on first start (initdb as POSTGRES_USER with
// POSTGRES_PASSWORD, password authentication for TCP, POSTGRES_DB created), listening on the
// pod's own loopback address.
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, appendFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { embeddedBinDir, runAs, runIdentity, type Identity } from "../../../sdk/postgres/embedded";
import { quoteIdent } from "../../../sdk/postgres/quote";
import type { PostgresMajor } from "../../../sdk/postgres/versions";

/** How to start one container. */
export interface ContainerConfig {
  readonly major: PostgresMajor;
  /** The pod's IP: the only address the server listens on. */
  readonly ip: string;
  readonly port: number;
  /** PGDATA on the host (inside the claim's volume directory). */
  readonly dataDir: string;
  /** Per-pod scratch directory: Unix socket and server log. */
  readonly runDir: string;
  /** Resolved environment (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** `name=value` settings, applied after the harness's own defaults. */
  readonly settings: readonly string[];
}

/** How a container ended. */
export interface Exit {
  readonly exitCode: number;
  readonly signal?: string;
  readonly finishedAt: Date;
}

/**
 * Settings every harness server gets: small and not crash-safe, for tests. They go into
 * postgresql.conf at initdb (not on the command line), so that `ALTER SYSTEM` and the pod's own
 * `-c` arguments override them, as they override an image's configuration file.
 */
const HARNESS_DEFAULTS = ["shared_buffers=16MB", "max_connections=50", "fsync=off", "full_page_writes=off", "max_wal_size=256MB"];

/** See the module comment. */
export class PostgresContainer {
  readonly startedAt = new Date();
  private readonly child: ChildProcess;
  private exitInfo: Exit | undefined;
  private readonly exited: Promise<Exit>;
  private readonly identity: Identity | undefined;

  private constructor(
    readonly config: ContainerConfig,
    private readonly initialized: boolean,
  ) {
    this.identity = runIdentity("nobody", config.major);
    const bin = embeddedBinDir(config.major);
    const args = ["-D", config.dataDir];
    for (const s of [`listen_addresses=${config.ip}`, `port=${config.port}`, `unix_socket_directories=${config.runDir}`, ...config.settings]) {
      args.push("-c", s);
    }
    const logFile = join(config.runDir, "postgres.log");
    const fd = openSync(logFile, "a");
    if (this.identity) chownSync(logFile, this.identity.uid, this.identity.gid);
    try {
      this.child = spawn(join(bin, "postgres"), args, { stdio: ["ignore", fd, fd], ...(this.identity ?? {}), env: { ...process.env, LC_ALL: "C.UTF-8" } });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        // A signal death reports 128+n, as a container runtime does.
        const signals: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGSEGV: 11 };
        this.exitInfo = { exitCode: code ?? 128 + (signals[signal ?? ""] ?? 0), signal: signal ?? undefined, finishedAt: new Date() };
        resolve(this.exitInfo);
      });
    });
  }

  /**
   * Runs the entrypoint's first-start initialization when PGDATA is empty, then starts the server.
   * @throws {Error} with initdb's output when initialization fails.
   */
  static async start(config: ContainerConfig): Promise<PostgresContainer> {
    const identity = runIdentity("nobody", config.major);
    mkdirSync(config.runDir, { recursive: true });
    if (identity) chownSync(config.runDir, identity.uid, identity.gid);
    let initialized = false;
    if (!existsSync(join(config.dataDir, "PG_VERSION"))) {
      await initdb(config, identity);
      initialized = true;
    }
    return new PostgresContainer(config, initialized);
  }

  /** The operating-system process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves when the process ends (for any reason). */
  whenExited(): Promise<Exit> {
    return this.exited;
  }

  /** How it ended, once it has. */
  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  /** The end of the server log, for errors and failing tests. */
  logTail(): string {
    try {
      return readFileSync(join(this.config.runDir, "postgres.log"), "utf8").slice(-2000);
    } catch {
      return "(no log)";
    }
  }

  /**
   * Waits until the server accepts connections on its socket (a readiness probe), and on the first
   * start creates POSTGRES_DB as the entrypoint does. Resolves false when the process ended first.
   */
  async waitReady(): Promise<boolean> {
    const user = this.config.env.POSTGRES_USER ?? "postgres";
    for (;;) {
      if (this.exitInfo) return false;
      const client = new Client({ host: this.config.runDir, port: this.config.port, user, database: "postgres", connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query("select 1");
        const db = this.config.env.POSTGRES_DB ?? user;
        if (this.initialized && db !== "postgres") {
          const exists = await client.query("select 1 from pg_database where datname = $1", [db]);
          if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${quoteIdent(db)}`);
        }
        return true;
      } catch {
        await sleep(100);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }

  /** Sends a signal to the server process (e.g. SIGKILL to simulate a crash). */
  kill(signal: NodeJS.Signals): void {
    if (!this.exitInfo) this.child.kill(signal);
  }

  /**
   * Stops as a kubelet does: the image's stop signal (SIGINT, PostgreSQL's fast shutdown), then
   * SIGKILL when the grace period runs out.
   */
  async stop(graceSeconds: number): Promise<Exit> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill("SIGINT");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), Math.max(0, graceSeconds) * 1000);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

async function initdb(config: ContainerConfig, identity: Identity | undefined): Promise<void> {
  const user = config.env.POSTGRES_USER ?? "postgres";
  const password = config.env.POSTGRES_PASSWORD;
  rmSync(config.dataDir, { recursive: true, force: true });
  const pwfile = join(config.runDir, "pwfile");
  const args = ["-D", config.dataDir, "-U", user, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions", "--auth-local=trust"];
  if (password !== undefined) {
    writeFileSync(pwfile, password, { mode: 0o600 });
    if (identity) chownSync(pwfile, identity.uid, identity.gid);
    args.push(`--pwfile=${pwfile}`, "--auth-host=scram-sha-256");
  } else {
    args.push("--auth-host=trust");
  }
  const result = await runAs(join(embeddedBinDir(config.major), "initdb"), args, identity);
  rmSync(pwfile, { force: true });
  if (result.code !== 0) throw new Error(`initdb failed (exit ${String(result.code)}): ${result.output.trim().slice(-1500)}`);
  // As the image does: any address may connect (the pod network), with a password when one is set.
  // Replication is not opened: the official image's entrypoint does not, so whatever a cluster
  // needs for it must come from Setpoint's own configuration (its hba_file).
  const method = password !== undefined ? "scram-sha-256" : "trust";
  appendFileSync(join(config.dataDir, "pg_hba.conf"), `\nhost all all all ${method}\n`);
  appendFileSync(join(config.dataDir, "postgresql.conf"), `\n# node harness defaults\n${HARNESS_DEFAULTS.join("\n")}\n`);
}
