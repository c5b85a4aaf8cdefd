/**
 * The upgrade engine's entry points: plan (read-only), run (resumable, phase by phase), roll back,
 * finalize, forget. Every one decides its steps from the saved state with the phase table
 * (`planSteps`), so a plan shows exactly what a run with the same options does; every one that
 * changes anything holds the upgrade's lock on blue for its whole run, whichever driver calls it.
 */
import { InputError } from "../errors";
import { connect } from "../postgres/connection";
import { closeContext, newState, openContext, resolveOptions, UpgradeError, type RunContext, type UpgradeOptions } from "./context";
import { subscribeReverse, type CutoverResult } from "./cutover";
import { UPGRADE_APPLICATION_NAME } from "./fence";
import { acquireUpgradeLock } from "./lock";
import { disableSubscription } from "./replicate";
import { rollbackPathLost } from "./rollback";
import { TrafficSwitchError } from "./traffic-error";
import { optionsConflict, phaseRule, planSteps, UPGRADE_STEPS, type RunUntil, type UpgradeRefusal, type UpgradeRequest, type UpgradeStep } from "./phases";
import { evaluatePreflight, observeForPreflight, type PreflightReport } from "./preflight";
import type { PhaseResult, UpgradeState } from "./state";
import { blueGrewTables, runStep, slotPattern, type StepOutputs } from "./steps";

/** What {@link planUpgrade} found: the preflight result and what a run with the same options would do. */
export interface UpgradePlan {
  /** The saved state, `undefined` when no upgrade has started. */
  readonly state: UpgradeState | undefined;
  /** Preflight, while the upgrade has created nothing on green yet; `null` after that (or for a rollback). */
  readonly preflight: PreflightReport | null;
  /** Steps a run with these options executes now, in order (with `schema` before the cutover when blue grew tables since replication started). */
  readonly steps: readonly UpgradeStep[];
  /** Set when the options ask for something the state does not allow; a run refuses the same way. */
  readonly refusal?: UpgradeRefusal;
}

/** Result of an upgrade operation. */
export interface UpgradeResult {
  /** The state after the operation; `id` is empty when no upgrade was ever started (nothing was saved). */
  readonly state: UpgradeState;
  /** One entry per step this call planned: those it ran (`Succeeded`, `Failed`), then those it never reached (`NotStarted`). */
  readonly phases: readonly PhaseResult[];
  readonly preflight: PreflightReport | null;
  readonly cutover: CutoverResult | null;
}

/** Raised when the saved state does not allow what was asked (see {@link UpgradeRefusal}); nothing was run. */
export class UpgradeRefusedError extends UpgradeError {
  readonly refusal: UpgradeRefusal;

  constructor(operation: string, refusal: UpgradeRefusal, state: UpgradeState | undefined) {
    super(refusal.code, operation, refusal.message, state, []);
    this.refusal = refusal;
  }
}

export { PreflightRefusedError } from "./steps";
export { UPGRADE_STEPS, type UpgradeStep } from "./phases";

/** Options of {@link runUpgrade}. */
export interface RunOptions {
  /** Stop once the upgrade reaches this phase (`"synchronized"`: replicate and keep green in sync; cut over later). Past it, a run does nothing but complete an interrupted switch. @default "switched" */
  readonly until?: RunUntil;
  /** Finalize right after a verified switch (no rollback afterwards). @default false */
  readonly finalize?: boolean;
}

/** Options of {@link planUpgrade}: the run's options, or `rollback` to plan a rollback. */
export interface PlanOptions extends RunOptions {
  /** Plan {@link rollbackUpgrade} instead of a run. @default false */
  readonly rollback?: boolean;
}

/**
 * Read-only: the steps a run (or a rollback) with these options executes from the saved state,
 * or why it refuses, and the preflight while nothing has been created from it. This is what
 * `pulumi preview` and `setpoint upgrade plan` show. Takes no lock.
 * @throws {InputError} when the options contradict each other (see `optionsConflict`).
 */
export async function planUpgrade(options: UpgradeOptions, plan: PlanOptions = {}): Promise<UpgradePlan> {
  refuseConflicts(plan);
  const request: UpgradeRequest = plan.rollback ? { operation: "rollback" } : { operation: "run", ...(plan.until ? { until: plan.until } : {}), finalize: plan.finalize ?? false };
  const saved = await options.store.load();
  const decided = planSteps(saved, request);
  let steps = decided.steps;
  let preflight: PreflightReport | null = null;
  if (request.operation === "run" && !decided.refusal && phaseRule(saved?.phase ?? "new").preflightInPlan) {
    const blue = await connect(options.blue, { applicationName: UPGRADE_APPLICATION_NAME });
    const green = await connect(options.green, { applicationName: UPGRADE_APPLICATION_NAME }).catch(async (e: unknown) => {
      await blue.end();
      throw e;
    });
    try {
      preflight = evaluatePreflight(await observeForPreflight(blue, green, slotPattern(saved?.id), true), resolveOptions(options));
    } finally {
      await Promise.all([blue.end(), green.end()]);
    }
  } else if (saved && steps.includes("cutover") && phaseRule(saved.phase).beforeSwitch) {
    // Blue grew tables since replication started: the cutover brings green up to date first.
    const blue = await connect(options.blue, { applicationName: UPGRADE_APPLICATION_NAME });
    try {
      if (await blueGrewTables(blue, saved, options)) steps = steps.flatMap((s) => (s === "cutover" ? ["schema", "cutover"] : [s]));
    } finally {
      await blue.end();
    }
  }
  return { state: saved, preflight, steps, ...(decided.refusal ? { refusal: decided.refusal } : {}) };
}

/**
 * Runs the upgrade from wherever its state stands, up to `until`. Each phase is idempotent, so a
 * run after a failure or a killed process resumes where it stopped.
 * @throws {InputError} when the options contradict each other (see `optionsConflict`).
 * @throws {UpgradeInProgressError} when another runner holds the upgrade's lock (nothing was changed).
 * @throws {PreflightRefusedError} when preflight finds problems (nothing was touched).
 * @throws {UpgradeRefusedError} `UPGRADE_ENDED` when the upgrade was aborted or rolled back.
 * @throws {UpgradeError} naming the failed phase and where both databases stand.
 */
export async function runUpgrade(options: UpgradeOptions, run: RunOptions = {}): Promise<UpgradeResult> {
  refuseConflicts(run);
  return operate(options, { operation: "run", ...(run.until ? { until: run.until } : {}), finalize: run.finalize ?? false });
}

/**
 * Rolls the upgrade back: before the switch an abort (every upgrade object dropped, blue serving as
 * before); after it, traffic returns to blue with every write green took. Safe to repeat.
 * @throws {UpgradeRefusedError} `UPGRADE_FINALIZED` once the rollback path is gone.
 */
export async function rollbackUpgrade(options: UpgradeOptions): Promise<UpgradeResult> {
  return operate(options, { operation: "rollback" });
}

/**
 * Finalizes a switched upgrade (completing an interrupted switch first): drops the rollback path.
 * After this, rollback is impossible.
 * @throws {UpgradeRefusedError} `UPGRADE_NOT_SWITCHED` when the upgrade is not switched.
 */
export async function finalizeUpgrade(options: UpgradeOptions): Promise<UpgradeResult> {
  return operate(options, { operation: "finalize" });
}

/**
 * Ends the upgrade without moving traffic, then drops its saved state: before the switch it is
 * aborted (blue keeps serving, no slot left retaining WAL), after it finalized (green keeps
 * serving, its rollback slot dropped); an ended upgrade is only forgotten. What deleting an
 * `Upgrade` resource does. An upgrade started later under the same store starts afresh.
 */
export async function forgetUpgrade(options: UpgradeOptions): Promise<UpgradeResult> {
  return operate(options, { operation: "forget" });
}

/** What {@link followUpgrade} found and did. */
export interface FollowResult {
  /** The saved phase; nothing is followed unless it is `switched` with no rollback under way. */
  readonly phase: UpgradeState["phase"] | undefined;
  /** `moved`: the switch pointed elsewhere and now points at green as the options name it; `none`: no switch, or nothing to follow. */
  readonly traffic: "moved" | "unchanged" | "none";
  /** `reconnected`: blue's rollback subscription now reads green's primary at its new address. */
  readonly rollbackPath: "intact" | "reconnected" | "lost" | "none";
  /** Why the rollback path is lost, when it is. */
  readonly lost?: string;
}

/**
 * Keeps a switched upgrade on green's primary as `options.green` names it *now*: when green's
 * primary changed after the switch (a failover of green, or its pod back on a new address), the
 * traffic switch is pointed at it again and blue's rollback subscription connects to it. A
 * failover to a server without the rollback slot loses the rollback path; that is reported
 * (`rollbackPath: "lost"`), and a later rollback is refused with `UPGRADE_ROLLBACK_PATH_LOST`.
 * Does nothing in any other phase, or while a rollback is under way. Holds the upgrade's lock;
 * idempotent, so a driver may call it on every look at a switched upgrade.
 * @throws {UpgradeInProgressError} when another runner holds the upgrade's lock (nothing was changed).
 */
export async function followUpgrade(options: UpgradeOptions): Promise<FollowResult> {
  const o = resolveOptions(options);
  const lock = await acquireUpgradeLock(o.blue, { driver: o.driver, waitMs: o.lockWaitMs });
  try {
    const saved = await o.store.load();
    if (saved?.phase !== "switched" || saved.rollback || saved.cutover?.postSwitchDone !== true) return { phase: saved?.phase, traffic: "none", rollbackPath: "none" };
    const ctx = await openContext(o, saved);
    try {
      let traffic: FollowResult["traffic"] = "none";
      if (o.traffic) {
        // A switch that cannot name its side (a Service selecting green's former primary) points at neither.
        const at = await o.traffic.current().catch((err: unknown) => {
          if (err instanceof TrafficSwitchError && err.reason === "unknown-side") return undefined;
          throw err;
        });
        traffic = at === "green" ? "unchanged" : "moved";
        if (traffic === "moved") {
          await o.traffic.pointTo("green");
          ctx.emit("follow", "traffic points at green's primary again (it changed after the switch)");
        }
      }
      const lost = await rollbackPathLost(ctx);
      if (lost) {
        // Its worker could only fail against a server without the slot, again and again: stopped (finalize drops it).
        await disableSubscription(ctx.blue, ctx.names.reverseSubscription);
        return { phase: saved.phase, traffic, rollbackPath: "lost", lost: lost.message };
      }
      const subscribed = await subscribeReverse(ctx);
      if (subscribed === "reconnected") ctx.emit("follow", "blue's rollback subscription reads green's primary at its new address");
      return { phase: saved.phase, traffic, rollbackPath: subscribed === "reconnected" ? "reconnected" : "intact" };
    } finally {
      await closeContext(ctx);
    }
  } finally {
    await lock.release();
  }
}

function refuseConflicts(o: PlanOptions): void {
  const conflict = optionsConflict(o);
  if (conflict) throw new InputError(conflict.message, { propertyPath: conflict.option });
}

/** Holds the lock, decides the steps from the saved state, runs them, and reports every one. */
async function operate(options: UpgradeOptions, request: UpgradeRequest): Promise<UpgradeResult> {
  const o = resolveOptions(options);
  const lock = await acquireUpgradeLock(o.blue, {
    driver: o.driver,
    waitMs: o.lockWaitMs,
    onWait: (message) => o.onProgress?.({ phase: "lock", message, at: Date.now() }),
  });
  try {
    const saved = await o.store.load();
    const plan = planSteps(saved, request);
    if (plan.refusal) throw new UpgradeRefusedError(request.operation, plan.refusal, saved);
    const out: StepOutputs = { preflight: null, cutover: null };
    let state = saved ?? newState("");
    let results: readonly PhaseResult[] = [];
    if (request.operation === "forget" && saved) o.onProgress?.({ phase: "forget", message: forgetting(saved), at: Date.now() });
    if (plan.steps.length > 0) {
      const ctx = await openContext(o, saved);
      try {
        await runPlanned(ctx, plan.steps, out);
      } finally {
        await closeContext(ctx);
      }
      state = ctx.state;
      results = ctx.results;
    }
    if (request.operation === "forget") await o.store.forget();
    return { state, phases: results, preflight: out.preflight, cutover: out.cutover };
  } finally {
    await lock.release();
  }
}

function forgetting(state: UpgradeState): string {
  const rule = phaseRule(state.phase);
  switch (rule.forget) {
    case "abort":
      return `the upgrade is ${state.phase}, not switched: aborting it (blue keeps serving), then forgetting it`;
    case "finalize":
      return "the upgrade is switched: finalizing it (green keeps serving; the rollback path is dropped), then forgetting it";
    case "nothing":
      return `the upgrade is ${state.phase}: forgetting it`;
  }
}

async function runPlanned(ctx: RunContext, steps: readonly UpgradeStep[], out: StepOutputs): Promise<void> {
  for (const [i, name] of steps.entries()) {
    try {
      await runStep(ctx, name, out);
    } catch (err) {
      // The steps it never reached, so a half-done operation shows as such (the error holds the same list).
      ctx.results.push(...steps.slice(i + 1).map((s): PhaseResult => ({ phase: s, status: "NotStarted", startedAt: 0, durationMs: 0, message: `not started: ${name} failed` })));
      throw err;
    }
    if ((UPGRADE_STEPS as readonly string[]).includes(name)) await ctx.checkpoint(`phase:${ctx.state.phase}`);
  }
}
