/**
 * What each step of the phase table does, and how a step's outcome is recorded: one result per
 * step (kept in the state's history), and an {@link UpgradeError} naming the step and where both
 * databases stand when it fails. Which step runs when is the table's business (`phases.ts`).
 */
import { SetpointError } from "../errors";
import { toConninfo } from "../postgres/connection";
import { replicatedTables } from "./catalog";
import type { ClientBase } from "pg";
import { UpgradeError, type RunContext, type UpgradeOptions } from "./context";
import { completeSwitch, cutover, type CutoverResult } from "./cutover";
import { checkRetention, RetentionExceededError } from "./lag";
import { phaseRule, type UpgradeStep } from "./phases";
import { evaluatePreflight, observeForPreflight, type PreflightReport } from "./preflight";
import { ensurePublication, ensureSubscription, refreshSubscription, sleep, syncState } from "./replicate";
import { abortUpgrade, finalizeUpgrade, rollbackAfterSwitch } from "./rollback";
import { ensureSentinel, prepareGreenSchema, sentinelTable } from "./schema";
import type { PhaseResult, UpgradeState } from "./state";

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

/** What the steps of one operation produced, for its result. */
export interface StepOutputs {
  preflight: PreflightReport | null;
  cutover: CutoverResult | null;
}

/** The slot-name pattern of upgrade `id`'s own slots (preflight does not count them against blue's limits). */
export function slotPattern(id: string | undefined): string {
  return id ? `setpoint\\_%\\_${id}` : "setpoint\\_upgrade\\_never";
}

/** Runs one step of the table from the context's current phase. */
export async function runStep(ctx: RunContext, name: UpgradeStep, out: StepOutputs): Promise<void> {
  switch (name) {
    case "preflight":
      out.preflight = await step(ctx, "preflight", async () => {
        const report = evaluatePreflight(await observeForPreflight(ctx.blue, ctx.green, slotPattern(ctx.state.id), true), ctx.o);
        if (!report.ok) throw new PreflightRefusedError(report);
        ctx.state.blueMajor = report.blue.major;
        ctx.state.greenMajor = report.green.major;
        ctx.state.blueDatabase = report.blue.database;
        ctx.state.greenDatabase = report.green.database;
        ctx.state.phase = "preflighted";
        return { message: `${report.blue.tables} table(s), ${report.blue.bytes} bytes; ${report.findings.length} warning(s)`, value: report };
      });
      return;
    case "schema":
      await step(ctx, "schema", async () => {
        const r = await prepareGreenSchema(ctx.blue, ctx.green, ctx.o.green, { schema: ctx.o.schema, schemaOptions: ctx.o.schemaOptions, greenMajor: ctx.state.greenMajor! });
        ctx.state.phase = "schema-ready";
        return { message: `${r.source === "copy" ? "copied blue's schema" : "applied the schema definition"} (${r.steps} step(s))`, value: r };
      });
      return;
    case "replicate":
      await step(ctx, "replicate", async () => {
        await startReplication(ctx);
        ctx.state.phase = "replicating";
        return { message: `publishing ${ctx.state.tables.length - 1} table(s) to green`, value: null };
      });
      return;
    case "synchronize":
      await step(ctx, "synchronize", async () => {
        await waitSynchronized(ctx);
        ctx.state.phase = "synchronized";
        return { message: "every table copied and streaming", value: null };
      });
      return;
    case "cutover":
      if (ctx.state.phase === "switched") {
        out.cutover = await step(ctx, "cutover", async () => {
          const r = await completeSwitch(ctx);
          return { message: `switch completed after an interruption; rollback path in place; verification ${ctx.state.verification?.skipped ?? "done"}`, value: r };
        });
        return;
      }
      await refreshIfBlueChanged(ctx);
      out.cutover = await step(ctx, "cutover", async () => {
        const r = await cutover(ctx);
        return {
          message: `switched; writes held ${r.writePauseMs} ms, ${r.sequencesSynced} sequence(s) synced, verification ${r.verification ? (r.verification.equal ? "equal" : "DIFFERENT") : (ctx.state.verification?.skipped ?? "off")}`,
          value: r,
        };
      });
      return;
    case "finalize":
      await step(ctx, "finalize", async () => {
        await finalizeUpgrade(ctx);
        return { message: "rollback path and upgrade objects removed", value: null };
      });
      return;
    case "rollback": {
      const after = phaseRule(ctx.state.phase).rollback === "switch-back";
      await step(ctx, "rollback", async () => {
        if (after) await rollbackAfterSwitch(ctx);
        else await abortUpgrade(ctx);
        return { message: after ? "traffic back on blue with green's writes" : "aborted; blue unchanged", value: null };
      });
      return;
    }
    default:
      return assertNever(name);
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
  if (!(await blueGrewTables(ctx.blue, ctx.state, ctx.o))) return;
  const tables = (await replicatedTables(ctx.blue)).map((t) => t.qualified);
  await step(ctx, "schema", async () => {
    const r = await prepareGreenSchema(ctx.blue, ctx.green, ctx.o.green, { greenMajor: ctx.state.greenMajor! });
    ctx.state.tables = [...tables, sentinelTable()];
    await ensurePublication(ctx.blue, ctx.names.publication, ctx.state.tables);
    await refreshSubscription(ctx.green, ctx.names.subscription);
    await waitSynchronized(ctx);
    return { message: `blue changed during the upgrade; green's schema updated (${r.steps} step(s)) and new tables copied`, value: null };
  });
}

/**
 * True when the cutover will first bring green's schema and the publication up to date: blue has
 * tables replication started without, and green's schema is copied from blue (with a schema
 * definition the cutover refuses instead). `planUpgrade` asks the same question.
 */
export async function blueGrewTables(blue: ClientBase, state: UpgradeState, o: Pick<UpgradeOptions, "schema">): Promise<boolean> {
  if (o.schema || state.tables.length === 0) return false;
  const published = new Set(state.tables);
  return (await replicatedTables(blue)).some((t) => !published.has(t.qualified));
}

function assertNever(v: never): never {
  throw new Error(`unexpected upgrade step ${String(v)}`);
}
