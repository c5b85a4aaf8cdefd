/**
 * The upgrade engine's entry points: plan (read-only), run (resumable, phase by phase), roll back,
 * finalize. Each records every phase it runs in the state's history and returns the results.
 */
import { SetpointError } from "../errors";
import { connect, toConninfo } from "../postgres/connection";
import { replicatedTables } from "./catalog";
import { closeContext, openContext, UpgradeError, type RunContext, type UpgradeOptions } from "./context";
import { completeSwitch, cutover, type CutoverResult } from "./cutover";
import { UPGRADE_APPLICATION_NAME } from "./fence";
import { evaluatePreflight, observeForPreflight, type PreflightReport } from "./preflight";
import { checkRetention, RetentionExceededError } from "./lag";
import { ensurePublication, ensureSubscription, refreshSubscription, sleep, syncState } from "./replicate";
import { abortUpgrade, finalizeUpgrade as finalizePhase, rollbackAfterSwitch } from "./rollback";
import { ensureSentinel, prepareGreenSchema, sentinelTable } from "./schema";
import type { PhaseResult, UpgradePhase, UpgradeState } from "./state";

/** The phases {@link runUpgrade} runs, in order. */
export const UPGRADE_STEPS = ["preflight", "schema", "replicate", "synchronize", "cutover"] as const;

/** One of {@link UPGRADE_STEPS}, or a closing operation. */
export type UpgradeStep = (typeof UPGRADE_STEPS)[number] | "finalize" | "rollback";

/** What {@link planUpgrade} found: the preflight result and what a run would do next. */
export interface UpgradePlan {
  readonly state: UpgradeState | undefined;
  readonly preflight: PreflightReport | null;
  /** Steps a run would execute now, in order. */
  readonly steps: readonly UpgradeStep[];
}

/** Result of an upgrade operation. */
export interface UpgradeResult {
  readonly state: UpgradeState;
  /** One entry per phase this call ran. */
  readonly phases: readonly PhaseResult[];
  readonly preflight: PreflightReport | null;
  readonly cutover: CutoverResult | null;
}

/** Raised when preflight finds errors; nothing was touched. */
export class PreflightRefusedError extends SetpointError {
  readonly report: PreflightReport;

  constructor(report: PreflightReport) {
    const errors = report.findings.filter((f) => f.severity === "error");
    super(
      "UPGRADE_PREFLIGHT_REFUSED",
      `the upgrade cannot start; nothing was changed. ${errors.length} problem(s):\n` +
        errors.map((f) => `  - [${f.code}] ${f.message}\n    fix: ${f.fix}`).join("\n"),
    );
    this.report = report;
  }
}

const NEXT_STEPS: Record<UpgradePhase, readonly UpgradeStep[]> = {
  new: UPGRADE_STEPS,
  preflighted: ["schema", "replicate", "synchronize", "cutover"],
  "schema-ready": ["replicate", "synchronize", "cutover"],
  replicating: ["synchronize", "cutover"],
  synchronized: ["cutover"],
  switched: [],
  finalized: [],
  aborted: [],
  "rolled-back": [],
};

/**
 * Read-only: runs preflight (when the upgrade has not started) and lists the steps a run would
 * execute. This is what `pulumi preview` shows.
 */
export async function planUpgrade(options: UpgradeOptions): Promise<UpgradePlan> {
  const saved = await options.store.load();
  const phase = saved?.phase ?? "new";
  let preflight: PreflightReport | null = null;
  if (phase === "new" || phase === "preflighted") {
    const blue = await connect(options.blue, { applicationName: UPGRADE_APPLICATION_NAME });
    const green = await connect(options.green, { applicationName: UPGRADE_APPLICATION_NAME }).catch(async (e: unknown) => {
      await blue.end();
      throw e;
    });
    try {
      preflight = evaluatePreflight(await observeForPreflight(blue, green, slotPattern(saved?.id), true), options);
    } finally {
      await Promise.all([blue.end(), green.end()]);
    }
  }
  return { state: saved, preflight, steps: NEXT_STEPS[phase] };
}

function slotPattern(id: string | undefined): string {
  return id ? `setpoint\\_%\\_${id}` : "setpoint\\_upgrade\\_never";
}

/** Options of {@link runUpgrade}. */
export interface RunOptions {
  /** Stop after this phase (`"synchronized"`: replicate and keep green in sync; cut over later). @default "switched" */
  readonly until?: "schema-ready" | "synchronized" | "switched";
  /** Finalize right after a verified switch (no rollback afterwards). @default false */
  readonly finalize?: boolean;
}

/**
 * Runs the upgrade from wherever its state stands, up to `until`. Each phase is idempotent, so a
 * run after a failure or a killed process resumes where it stopped.
 * @throws {PreflightRefusedError} when preflight finds problems (nothing was touched).
 * @throws {UpgradeError} naming the failed phase and where both databases stand.
 */
export async function runUpgrade(options: UpgradeOptions, run: RunOptions = {}): Promise<UpgradeResult> {
  const until = run.until ?? "switched";
  const ctx = await openContext(options);
  let preflight: PreflightReport | null = null;
  let cut: CutoverResult | null = null;
  try {
    for (;;) {
      const phase = ctx.state.phase;
      if (phase === until && !(phase === "switched" && !ctx.state.cutover?.postSwitchDone)) break;
      if (phase === "new") {
        preflight = await step(ctx, "preflight", async () => {
          const report = evaluatePreflight(await observeForPreflight(ctx.blue, ctx.green, slotPattern(ctx.state.id), true), ctx.o);
          if (!report.ok) throw new PreflightRefusedError(report);
          ctx.state.blueMajor = report.blue.major;
          ctx.state.greenMajor = report.green.major;
          ctx.state.blueDatabase = report.blue.database;
          ctx.state.greenDatabase = report.green.database;
          ctx.state.phase = "preflighted";
          return { message: `${report.blue.tables} table(s), ${report.blue.bytes} bytes; ${report.findings.length} warning(s)`, value: report };
        });
      } else if (phase === "preflighted") {
        await step(ctx, "schema", async () => {
          const r = await prepareGreenSchema(ctx.blue, ctx.green, ctx.o.green, { schema: ctx.o.schema, schemaOptions: ctx.o.schemaOptions, greenMajor: ctx.state.greenMajor! });
          ctx.state.phase = "schema-ready";
          return { message: `${r.source === "copy" ? "copied blue's schema" : "applied the schema definition"} (${r.steps} step(s))`, value: r };
        });
      } else if (phase === "schema-ready") {
        await step(ctx, "replicate", async () => {
          await startReplication(ctx);
          ctx.state.phase = "replicating";
          return { message: `publishing ${ctx.state.tables.length - 1} table(s) to green`, value: null };
        });
      } else if (phase === "replicating") {
        await step(ctx, "synchronize", async () => {
          await waitSynchronized(ctx);
          ctx.state.phase = "synchronized";
          return { message: "every table copied and streaming", value: null };
        });
      } else if (phase === "synchronized") {
        await refreshIfBlueChanged(ctx);
        cut = await step(ctx, "cutover", async () => {
          const r = await cutover(ctx);
          return {
            message: `switched; writes held ${r.writePauseMs} ms, ${r.sequencesSynced} sequence(s) synced, verification ${r.verification ? (r.verification.equal ? "equal" : "DIFFERENT") : (ctx.state.verification?.skipped ?? "off")}`,
            value: r,
          };
        });
      } else if (phase === "switched") {
        cut = await step(ctx, "cutover", async () => {
          const r = await completeSwitch(ctx);
          return { message: `switch completed after an interruption; rollback path in place; verification ${ctx.state.verification?.skipped ?? "done"}`, value: r };
        });
      } else {
        break;
      }
      await ctx.checkpoint(`phase:${ctx.state.phase}`);
    }
    if (run.finalize && ctx.state.phase === "switched") {
      await step(ctx, "finalize", async () => {
        await finalizePhase(ctx);
        return { message: "rollback path and upgrade objects removed", value: null };
      });
    }
    return { state: ctx.state, phases: ctx.results, preflight, cutover: cut };
  } finally {
    await closeContext(ctx);
  }
}

/**
 * Rolls the upgrade back: before the switch an abort (every upgrade object dropped, blue serving as
 * before); after it, traffic returns to blue with every write green took. Safe to repeat.
 */
export async function rollbackUpgrade(options: UpgradeOptions): Promise<UpgradeResult> {
  const ctx = await openContext(options);
  try {
    const phase = ctx.state.phase;
    if (phase === "finalized") {
      throw new UpgradeError("UPGRADE_FINALIZED", "rollback", "the upgrade was finalized; the rollback path no longer exists", ctx.state, []);
    }
    if (phase !== "aborted" && phase !== "rolled-back") {
      await step(ctx, "rollback", async () => {
        if (phase === "switched") await rollbackAfterSwitch(ctx);
        else await abortUpgrade(ctx);
        return { message: phase === "switched" ? "traffic back on blue with green's writes" : "aborted; blue unchanged", value: null };
      });
    }
    return { state: ctx.state, phases: ctx.results, preflight: null, cutover: null };
  } finally {
    await closeContext(ctx);
  }
}

/** Finalizes a switched upgrade: drops the rollback path. After this, rollback is impossible. */
export async function finalizeUpgrade(options: UpgradeOptions): Promise<UpgradeResult> {
  const ctx = await openContext(options);
  try {
    if (ctx.state.phase !== "finalized") {
      if (ctx.state.phase !== "switched") {
        throw new UpgradeError("UPGRADE_NOT_SWITCHED", "finalize", `the upgrade is ${ctx.state.phase}; only a switched upgrade can be finalized`, ctx.state, []);
      }
      await step(ctx, "finalize", async () => {
        await finalizePhase(ctx);
        return { message: "rollback path and upgrade objects removed", value: null };
      });
    }
    return { state: ctx.state, phases: ctx.results, preflight: null, cutover: null };
  } finally {
    await closeContext(ctx);
  }
}

async function step<T>(ctx: RunContext, name: UpgradeStep, body: () => Promise<{ message: string; value: T }>): Promise<T> {
  const startedAt = Date.now();
  const t0 = performance.now();
  ctx.emit(name, "started");
  try {
    const { message, value } = await body();
    const result: PhaseResult = { phase: name, status: "Succeeded", startedAt, durationMs: Math.round(performance.now() - t0), message };
    ctx.results.push(result);
    ctx.state.history = [...ctx.state.history, result].slice(-50);
    await ctx.save();
    ctx.emit(name, message);
    return value;
  } catch (caught) {
    let cause: unknown = caught;
    if (caught instanceof RetentionExceededError) {
      // Never let a stalled green fill blue's disk: drop the slots now, not when someone looks.
      try {
        await abortUpgrade(ctx);
        cause = new SetpointError(caught.code, `${caught.message}; the upgrade was aborted and its slots dropped so blue's disk cannot fill`, { cause: caught });
      } catch (undo) {
        cause = new SetpointError(caught.code, `${caught.message}; aborting failed too (${(undo as Error).message}): roll the upgrade back now`, { cause: caught });
      }
    }
    const message = (cause as Error).message;
    const result: PhaseResult = { phase: name, status: "Failed", startedAt, durationMs: Math.round(performance.now() - t0), message };
    ctx.results.push(result);
    ctx.state.history = [...ctx.state.history, result].slice(-50);
    await ctx.save().catch(() => undefined);
    if (cause instanceof PreflightRefusedError) throw cause;
    const code = cause instanceof SetpointError ? cause.code : "UPGRADE_FAILED";
    throw new UpgradeError(code, name, message, ctx.state, ctx.results, { cause });
  }
}

async function startReplication(ctx: RunContext): Promise<void> {
  await ensureSentinel(ctx.blue);
  await ensureSentinel(ctx.green);
  const tables = (await replicatedTables(ctx.blue)).map((t) => t.qualified);
  ctx.state.tables = [...tables, sentinelTable()];
  await ctx.save();
  await ensurePublication(ctx.blue, ctx.names.publication, ctx.state.tables);
  await ensureSubscription(ctx.green, ctx.names.subscription, {
    conninfo: toConninfo(ctx.o.blueFromGreen ?? ctx.o.blue),
    publication: ctx.names.publication,
    copyData: true,
    existingSlot: false,
  });
}

async function waitSynchronized(ctx: RunContext): Promise<void> {
  const until = Date.now() + ctx.o.syncTimeoutMs;
  let lastReport = 0;
  for (;;) {
    const s = await syncState(ctx.green, ctx.names.subscription);
    if (!s.exists) throw new SetpointError("UPGRADE_SUBSCRIPTION_MISSING", `subscription ${ctx.names.subscription} is missing on green; run the upgrade again to recreate it`);
    if (s.tables > 0 && s.ready === s.tables) return;
    const retained = await checkRetention(ctx);
    if (Date.now() > until) throw new SetpointError("UPGRADE_SYNC_TIMEOUT", `the initial copy did not finish within ${ctx.o.syncTimeoutMs} ms (${s.ready}/${s.tables} tables ready)`);
    if (Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      ctx.emit("synchronize", `${s.ready}/${s.tables} tables ready; blue retains ${retained} bytes of WAL${s.errors ? `; ${s.errors} worker error(s) so far (see green's log)` : ""}`);
    }
    await sleep(100);
  }
}

/**
 * DDL on blue during the upgrade: new tables or columns. With a copied schema, green's schema and
 * the publication are brought up to date and the new tables copied before the cutover; with a
 * schema definition, the cutover refuses (the definition must change first).
 */
async function refreshIfBlueChanged(ctx: RunContext): Promise<void> {
  const tables = (await replicatedTables(ctx.blue)).map((t) => t.qualified);
  const published = new Set(ctx.state.tables);
  if (tables.every((t) => published.has(t)) || ctx.o.schema) return;
  await step(ctx, "schema", async () => {
    const r = await prepareGreenSchema(ctx.blue, ctx.green, ctx.o.green, { greenMajor: ctx.state.greenMajor! });
    ctx.state.tables = [...tables, sentinelTable()];
    await ensurePublication(ctx.blue, ctx.names.publication, ctx.state.tables);
    await refreshSubscription(ctx.green, ctx.names.subscription);
    await waitSynchronized(ctx);
    return { message: `blue changed during the upgrade; green's schema updated (${r.steps} step(s)) and new tables copied`, value: null };
  });
}
