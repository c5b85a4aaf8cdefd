/**
 * What every phase of one upgrade run shares: options with defaults, the state and its store,
 * one session per side, progress events and checkpoints.
 */
import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { SetpointError } from "../errors";
import { connect, type ConnectionInput } from "../postgres/connection";
import type { SchemaEngineOptions } from "../schema/engine";
import type { DesiredSchema } from "../schema/source/desired";
import { UPGRADE_APPLICATION_NAME } from "./fence";
import { STATE_VERSION, upgradeObjectNames, type PhaseResult, type StateStore, type UpgradePhase, type UpgradeState } from "./state";
import type { TrafficSwitch } from "./traffic";

/** Options of every upgrade operation. */
export interface UpgradeOptions {
  /** Blue: the database being upgraded, as a superuser. */
  readonly blue: ConnectionInput;
  /** Green: the new, empty database on the newer major, as a superuser. */
  readonly green: ConnectionInput;
  /** How green's server reaches blue for replication (when it differs from how this process does). @default blue */
  readonly blueFromGreen?: ConnectionInput;
  /** How blue's server reaches green for the rollback path. @default green */
  readonly greenFromBlue?: ConnectionInput;
  /** The schema definition to apply on green; blue's schema is copied by introspection when absent. */
  readonly schema?: DesiredSchema;
  /** Options for the schema engine when `schema` is given. */
  readonly schemaOptions?: SchemaEngineOptions;
  /**
   * Sends application traffic to blue or green. A pausing switch (PgBouncer) is used as the write
   * fence; without one, blue is fenced by revoking logins and ending sessions.
   * @default none: the engine fences blue and the application is repointed by the caller
   */
  readonly traffic?: TrafficSwitch;
  /** Where progress is recorded between runs. */
  readonly store: StateStore;
  /** Write fence to traffic switch must finish within this, or the cutover aborts and blue resumes. @default 30000 */
  readonly cutoverDeadlineMs?: number;
  /** Green must be this close to blue (bytes of WAL not yet received) before writes are fenced. @default 16 MiB */
  readonly maxLagBytes?: number;
  /** Longest wait for green to come within `maxLagBytes`. @default 600000 */
  readonly catchUpTimeoutMs?: number;
  /** Abort when blue retains more WAL than this for the upgrade's slots (green stalled). @default 8 GiB */
  readonly maxRetainedWalBytes?: number;
  /** Longest wait for the initial copy. @default 86400000 (24 h) */
  readonly syncTimeoutMs?: number;
  /** How the cutover verifies data. @default "checksums" */
  readonly verify?: "checksums" | "counts" | "none";
  /** Rows per checksum chunk. @default 10000 */
  readonly verifyChunkRows?: number;
  /**
   * Verify before switching traffic (inside the write fence: the write pause lasts as long as the
   * verification) instead of right after it, on snapshots taken inside the fence. @default false
   */
  readonly verifyBeforeSwitch?: boolean;
  /** Accept objects on blue Setpoint cannot create on green (see preflight). @default false */
  readonly allowObjectsNotCopied?: boolean;
  /**
   * Names this runner to anyone refused while it holds the upgrade's lock (with its pid and host):
   * `cli`, `pulumi`, `operator`, ... @default "api"
   */
  readonly driver?: string;
  /**
   * How long an operation waits for another runner of an upgrade of the same blue database before
   * refusing with `UPGRADE_IN_PROGRESS` (a killed runner's lock is gone as soon as blue's server
   * reads its closed socket: the default covers a run started right after a crash). @default 5000
   */
  readonly lockWaitMs?: number;
  /** Receives progress events. */
  readonly onProgress?: (event: UpgradeEvent) => void;
  /**
   * Called at each named checkpoint after the state is saved (tests kill the process here to prove
   * resumption; drivers may report progress).
   */
  readonly onCheckpoint?: (name: string, state: UpgradeState) => void | Promise<void>;
}

/** A progress event. */
export interface UpgradeEvent {
  readonly phase: string;
  readonly message: string;
  readonly at: number;
}

/** Raised when an upgrade operation fails. Says which phase failed and where both databases stand. */
export class UpgradeError extends SetpointError {
  readonly phase: string;
  /** Where blue stands, e.g. `serving writes; replicating to green`. */
  readonly blueState: string;
  readonly greenState: string;
  readonly results: readonly PhaseResult[];

  constructor(code: string, phase: string, message: string, state: UpgradeState | undefined, results: readonly PhaseResult[], options: { cause?: unknown } = {}) {
    const sides = describeSides(state);
    super(code, `upgrade ${phase} failed: ${message}\n  blue: ${sides.blue}\n  green: ${sides.green}`, options);
    this.phase = phase;
    this.blueState = sides.blue;
    this.greenState = sides.green;
    this.results = results;
  }
}

/** Where each side stands in `state`, in words for errors and status. */
export function describeSides(state: UpgradeState | undefined): { blue: string; green: string } {
  const fencedBlue = state?.fences.some((f) => f.side === "blue") ?? false;
  const fence = state?.cutover ? (state.cutover.fence === "switch" ? "writes paused at the traffic switch" : "logins fenced") : undefined;
  switch (state?.phase) {
    case undefined:
    case "new":
    case "preflighted":
      return { blue: "serving, unchanged", green: "unchanged by replication" };
    case "schema-ready":
      return { blue: "serving, unchanged", green: "schema created, no data" };
    case "replicating":
      return { blue: "serving; publishing to green", green: "copying blue's data" };
    case "synchronized":
      return fence
        ? { blue: `serving; cutover in progress (${fence})`, green: "in sync, not serving" }
        : { blue: "serving; publishing to green", green: "in sync, not serving" };
    case "switched":
      return { blue: `${fencedBlue ? "closed to logins; " : ""}receiving green's writes (rollback path)`, green: "serving" };
    case "finalized":
      return { blue: `retired${fencedBlue ? " (closed to logins)" : ""}`, green: "serving; upgrade objects removed" };
    case "aborted":
      return { blue: "serving, upgrade objects removed", green: "not serving; holds a copy, no longer replicated" };
    case "rolled-back":
      return { blue: "serving, with every write made on green", green: "not serving, closed to logins; no longer replicated" };
  }
}

/** Options with every default applied. */
export type ResolvedOptions = Required<Pick<UpgradeOptions, "driver" | "lockWaitMs" | "cutoverDeadlineMs" | "maxLagBytes" | "catchUpTimeoutMs" | "maxRetainedWalBytes" | "syncTimeoutMs" | "verify" | "verifyChunkRows" | "verifyBeforeSwitch" | "allowObjectsNotCopied">> &
  UpgradeOptions;

/** One run's shared context. */
export interface RunContext {
  readonly o: ResolvedOptions;
  state: UpgradeState;
  readonly blue: Client;
  readonly green: Client;
  readonly names: ReturnType<typeof upgradeObjectNames>;
  readonly results: PhaseResult[];
  emit(phase: string, message: string): void;
  save(): Promise<void>;
  checkpoint(name: string): Promise<void>;
  /** Opens another session to a side (verification snapshots). */
  session(side: "blue" | "green"): Promise<Client>;
}

/** Applies defaults. */
export function resolveOptions(o: UpgradeOptions): ResolvedOptions {
  // An option given as `undefined` means "the default", not "no value".
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as UpgradeOptions;
  return {
    driver: "api",
    lockWaitMs: 5_000,
    cutoverDeadlineMs: 30_000,
    maxLagBytes: 16 * 1024 * 1024,
    catchUpTimeoutMs: 600_000,
    maxRetainedWalBytes: 8 * 1024 ** 3,
    syncTimeoutMs: 86_400_000,
    verify: "checksums",
    verifyChunkRows: 10_000,
    verifyBeforeSwitch: false,
    allowObjectsNotCopied: false,
    ...given,
  };
}

/** A state nothing has been saved for yet; `id` empty means "not started" (never saved: it has no objects). */
export function newState(id = randomBytes(5).toString("hex")): UpgradeState {
  return { version: STATE_VERSION, id, phase: "new" as UpgradePhase, tables: [], fences: [], reverseSubscribed: false, history: [] };
}

/** Starts from the `loaded` state (saving a new one when there is none) and connects to both sides. */
export async function openContext(options: UpgradeOptions, loaded: UpgradeState | undefined): Promise<RunContext> {
  const o = resolveOptions(options);
  const state: UpgradeState = loaded ?? newState();
  const blue = await connect(o.blue, { applicationName: UPGRADE_APPLICATION_NAME });
  let green: Client;
  try {
    green = await connect(o.green, { applicationName: UPGRADE_APPLICATION_NAME });
  } catch (e) {
    await blue.end();
    throw e;
  }
  const ctx: RunContext = {
    o,
    state,
    blue,
    green,
    names: upgradeObjectNames(state.id),
    results: [],
    emit: (phase, message) => o.onProgress?.({ phase, message, at: Date.now() }),
    save: async () => {
      await o.store.save(ctx.state);
    },
    checkpoint: async (name) => {
      await o.onCheckpoint?.(name, ctx.state);
    },
    session: (side) => connect(side === "blue" ? o.blue : o.green, { applicationName: UPGRADE_APPLICATION_NAME }),
  };
  if (!loaded) await ctx.save();
  return ctx;
}

/** Closes the context's sessions. */
export async function closeContext(ctx: RunContext): Promise<void> {
  await Promise.all([ctx.blue.end().catch(() => undefined), ctx.green.end().catch(() => undefined)]);
}
