/**
 * The instance manager's first stage: bring PGDATA into the state the pod's role needs, before
 * `postgres` starts. What to do is a pure decision over what is on the volume ({@link preparation});
 * the actions are idempotent and never leave a half-made data directory where PGDATA is
 * (initdb and the clone write into a sibling directory that is renamed into place when complete).
 *
 * | PGDATA | role | first start in this pod | action |
 * |---|---|---|---|
 * | empty | primary | any | initdb (a new cluster), or with bootstrap.recovery: restore a backup (backup.ts) |
 * | empty | replica | any | clone the primary (a standby) |
 * | data | replica | yes | mark a standby (`standby.signal`): a replica pod never starts a second primary |
 * | data | any | no | start as it is (a restarted container; a promoted replica stays primary) |
 * | files, no PG_VERSION | any | any | refused: not a data directory, never overwritten |
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { InputError, SetpointError } from "../errors";
import { runAs, serverEnv } from "../postgres/embedded";
import { readParameters, writeParameters, type ParametersWritten } from "./parameters";
import type { InstanceSettings, ReplicaSource } from "./settings";

/** What the volume holds, as the decision needs it. */
export interface DataState {
  /** PGDATA holds a data directory (`PG_VERSION`). */
  readonly hasData: boolean;
  /** PGDATA holds files but no `PG_VERSION`. */
  readonly foreignFiles: boolean;
  /** This is the first start of the manager in this pod (the volume's marker names another pod, or none). */
  readonly firstStartInPod: boolean;
}

/** What the manager does to PGDATA before starting `postgres`. */
export type Preparation =
  | { readonly kind: "initdb"; readonly reason: string }
  | { readonly kind: "clone"; readonly reason: string }
  | { readonly kind: "restore"; readonly reason: string }
  | { readonly kind: "standby"; readonly reason: string }
  | { readonly kind: "start"; readonly reason: string };

/** An instance that cannot be prepared; `step` names the stage that failed. */
export class InstanceError extends SetpointError {
  constructor(
    readonly step: "inspect" | "initdb" | "clone" | "restore" | "standby" | "start" | "ready",
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super("INSTANCE", message, options);
  }
}

/**
 * The decision of the module table. Pure.
 * @throws {InstanceError} when PGDATA holds files that are not a data directory.
 */
export function preparation(role: "primary" | "replica", state: DataState, pgdata: string, recovering = false): Preparation {
  if (state.foreignFiles) {
    throw new InstanceError(
      "inspect",
      `${pgdata} holds files but no PG_VERSION: it is not a PostgreSQL data directory, and the instance manager never overwrites one; empty it or point PGDATA elsewhere`,
    );
  }
  if (!state.hasData) {
    if (role === "primary" && recovering) return { kind: "restore", reason: "PGDATA is empty and this pod bootstraps the cluster from a backup (bootstrap.recovery)" };
    return role === "primary"
      ? { kind: "initdb", reason: "PGDATA is empty and this pod bootstraps the cluster" }
      : { kind: "clone", reason: "PGDATA is empty and this pod is a replica" };
  }
  if (role === "replica" && state.firstStartInPod) return { kind: "standby", reason: "a replica pod starting on existing data starts it as a standby" };
  return { kind: "start", reason: state.firstStartInPod ? "existing data of this pod's role" : "a restarted container: the data as it is" };
}

/** The marker file next to PGDATA recording which pod last started on the volume. */
export function podMarkerPath(pgdata: string): string {
  return join(dirname(pgdata), `.setpoint-pod-${basename(pgdata)}`);
}

/** Reads the volume's state (see {@link DataState}). */
export function inspectData(settings: Pick<InstanceSettings, "pgdata" | "podUid">): DataState {
  const { pgdata, podUid } = settings;
  const entries = existsSync(pgdata) ? readdirSync(pgdata) : [];
  const hasData = entries.includes("PG_VERSION");
  let marker: string | undefined;
  try {
    marker = readFileSync(podMarkerPath(pgdata), "utf8").trim();
  } catch {
    marker = undefined;
  }
  return { hasData, foreignFiles: !hasData && entries.length > 0, firstStartInPod: podUid === undefined || marker !== podUid };
}

/** The initdb options Setpoint chooses (the data directory and the password file come from the caller). Pure. */
export function initdbOptions(superuser: string): string[] {
  return [
    "--username",
    superuser,
    // Trust only on the container-local socket (the readiness probe, the manager); every TCP
    // connection is decided by Setpoint's own hba file (hba_file), which asks for SCRAM.
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--data-checksums",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
    "--no-instructions",
  ];
}

/** A new directory beside `pgdata` to build into, removed first if a previous attempt left it. */
export function scratchSibling(pgdata: string, what: string): string {
  const dir = join(dirname(pgdata), `.${basename(pgdata)}.${what}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(pgdata), { recursive: true });
  return dir;
}

/** Moves a complete data directory into place (PGDATA absent or an empty directory). */
export function moveIntoPlace(built: string, pgdata: string): void {
  if (existsSync(pgdata)) rmdirSync(pgdata); // empty (checked by the decision); fails loudly otherwise
  renameSync(built, pgdata);
}

/**
 * A new, private (0700) directory for initdb's password file, named after PGDATA and removed first
 * when there: a manager killed during initdb leaves it behind (its `finally` never runs), and the
 * next start for the same PGDATA removes it, so a superuser password never stays on disk. Per
 * PGDATA, so managers of different data directories on one host never touch each other's.
 */
export function initdbSecretDir(pgdata: string): string {
  const dir = join(tmpdir(), `setpoint-initdb-secret-${createHash("sha256").update(pgdata).digest("hex").slice(0, 16)}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/**
 * The check {@link writeParameters} takes: `postgres -D <dir> -C max_connections` reads the
 * configuration files as a start does and fails on an unknown name or a value it refuses; the
 * complaint is PostgreSQL's own lines (at most 500 characters).
 * @param env the server's environment (nss_wrapper where the user has no passwd entry).
 */
export function configurationCheck(bin: string, env: NodeJS.ProcessEnv): (dataDir: string) => Promise<string | undefined> {
  return async (dataDir) => {
    const r = await runAs(join(bin, "postgres"), ["-D", dataDir, "-C", "max_connections"], undefined, env);
    if (r.code === 0) return undefined;
    const said = r.output.split("\n").map((l) => l.trim()).filter((l) => /^(LOG|FATAL|ERROR|DETAIL|HINT):/.test(l) || l.includes("parameter"));
    return (said.join(" ") || `postgres -C exited with ${String(r.code)}`).slice(0, 500);
  };
}

/**
 * initdb of a new cluster into PGDATA with {@link initdbOptions}, the superuser's password through
 * a private `--pwfile` (removed right after), then the optional initial configuration appended and
 * the cluster's parameters written (parameters.ts: those PostgreSQL accepts), so the first start runs them.
 * @param bin the major's `bin` directory.
 * @returns what became of the cluster's parameters.
 * @throws {InstanceError} with initdb's output (which never contains the password).
 */
export async function initdb(settings: InstanceSettings, bin: string, env: NodeJS.ProcessEnv): Promise<ParametersWritten> {
  if (settings.superuserPassword === undefined) {
    throw new InstanceError("initdb", "SETPOINT_SUPERUSER_PASSWORD is not set: bootstrapping a new cluster needs the superuser's password (from the cluster's superuser Secret)");
  }
  const target = scratchSibling(settings.pgdata, "initdb");
  const secretDir = initdbSecretDir(settings.pgdata);
  try {
    const pwfile = join(secretDir, "pwfile");
    writeFileSync(pwfile, settings.superuserPassword, { mode: 0o600 });
    const result = await runAs(join(bin, "initdb"), ["--pgdata", target, `--pwfile=${pwfile}`, ...initdbOptions(settings.superuser)], undefined, serverEnv(secretDir, undefined, settings.major, env));
    if (result.code !== 0) throw new InstanceError("initdb", `initdb of PostgreSQL ${settings.major} failed (exit ${String(result.code)}): ${result.output.trim().slice(-2000)}`);
    if (settings.initialConf !== undefined) {
      let extra: string;
      try {
        extra = readFileSync(settings.initialConf, "utf8");
      } catch (cause) {
        throw new InputError(`SETPOINT_INITIAL_CONF names ${settings.initialConf}, which cannot be read: ${(cause as Error).message}`, { propertyPath: "SETPOINT_INITIAL_CONF" }, { cause });
      }
      appendFileSync(join(target, "postgresql.conf"), `\n# from ${settings.initialConf} (SETPOINT_INITIAL_CONF)\n${extra}\n`);
    }
    const parameters = await writeParameters(target, readParameters(settings.parametersSource), configurationCheck(bin, serverEnv(secretDir, undefined, settings.major, env)));
    moveIntoPlace(target, settings.pgdata);
    return parameters;
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
    rmSync(target, { recursive: true, force: true });
  }
}

/** How a replica's data directory is cloned: into `pgdata` (absent), as a standby of `source`. */
export type CloneFn = (o: { source: ReplicaSource; pgdata: string }) => Promise<{ bytes: number }>;

/**
 * Clones the primary into PGDATA as a standby, through `clone` into a sibling directory renamed
 * into place when complete (a clone interrupted half-way is started over, never started).
 * @throws {InstanceError} with the cause.
 */
export async function cloneReplica(settings: InstanceSettings, clone: CloneFn): Promise<{ bytes: number }> {
  const source = settings.source;
  if (source === undefined) throw new InstanceError("clone", "a replica needs its source (SETPOINT_PRIMARY_HOST and the replication settings)");
  const target = scratchSibling(settings.pgdata, "clone");
  try {
    const result = await clone({ source, pgdata: target });
    moveIntoPlace(target, settings.pgdata);
    return result;
  } catch (cause) {
    if (cause instanceof InstanceError) throw cause;
    throw new InstanceError("clone", `cloning ${source.host}:${source.port} as ${source.user} failed: ${(cause as Error).message}`, { cause });
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

/** Marks existing data a standby (`standby.signal`), so the server follows `primary_conninfo`. */
export function markStandby(pgdata: string): void {
  writeFileSync(join(pgdata, "standby.signal"), "");
}

/** Records that this pod has started on the volume (see {@link inspectData}). */
export function recordPod(settings: Pick<InstanceSettings, "pgdata" | "podUid">): void {
  if (settings.podUid !== undefined) writeFileSync(podMarkerPath(settings.pgdata), `${settings.podUid}\n`);
}
