/**
 * What the `Upgrade` resource shows: the steps a run will execute (decided from the saved state and
 * the arguments, the same way the provider's operations decide them), the preflight report as
 * lines, and the credential-free summary of the engine's state. Pure functions: no I/O.
 */
import { describeSides, type PreflightReport, type UpgradePhase, type UpgradeState, type UpgradeStep } from "../../sdk/upgrade/index";
import type { UpgradeSummary } from "../upgrade-summary";
import { describeTraffic, trafficCanPause, type UpgradeResourceInputs } from "../upgrade-args";


/** The summary of a state; `undefined` (no upgrade started) reads as phase `new`. */
export function summaryOf(state: UpgradeState | undefined): UpgradeSummary {
  const sides = describeSides(state);
  return {
    id: state?.id ?? "",
    phase: state?.phase ?? "new",
    blueMajor: state?.blueMajor ?? null,
    greenMajor: state?.greenMajor ?? null,
    blue: sides.blue,
    green: sides.green,
    history: state?.history ?? [],
    verification: state?.verification ?? null,
    writePauseMs: state?.cutover?.writePauseMs ?? null,
    switchedAt: state?.switchedAt ?? null,
  };
}

/** Phases in which nothing has switched yet: deleting or rolling back aborts. */
export const PRE_SWITCH_PHASES: readonly UpgradePhase[] = ["new", "preflighted", "schema-ready", "replicating", "synchronized"];

/** What a run with these arguments will do from the saved state, or why it refuses. */
export interface StepDecision {
  readonly steps: readonly UpgradeStep[];
  /** Set when the arguments ask for something the state no longer allows; nothing runs. */
  readonly refusal?: string;
}

/**
 * The steps `up` will run, from the saved state and the steps the engine would run toward
 * `switched` (`planned`, from `planUpgrade`).
 */
export function decideSteps(inputs: Pick<UpgradeResourceInputs, "until" | "finalize" | "rollback">, state: UpgradeState | undefined, planned: readonly UpgradeStep[]): StepDecision {
  const phase = state?.phase ?? "new";
  if (inputs.rollback) {
    if (phase === "finalized") return { steps: [], refusal: "the upgrade was finalized, so its rollback path no longer exists; set rollback to false (green keeps serving)" };
    if (!state || phase === "aborted" || phase === "rolled-back") return { steps: [] };
    return { steps: ["rollback"] };
  }
  if (phase === "aborted" || phase === "rolled-back") {
    const last = state?.history.at(-1);
    return {
      steps: [],
      refusal:
        `the upgrade was ${phase === "aborted" ? "aborted" : "rolled back"}${last ? ` (last: ${last.phase} ${last.status.toLowerCase()}: ${last.message})` : ""}; ` +
        "it does not start again by itself. Set rollback to true to keep it that way, or delete this resource (or give a new stateKey), empty green and create the upgrade again",
    };
  }
  let steps: UpgradeStep[] = [...planned];
  // A switch interrupted after traffic moved is completed before anything else.
  if (phase === "switched" && !state?.cutover?.postSwitchDone) steps = ["cutover"];
  if (runUntil(inputs.until, phase) === "synchronized") steps = steps.filter((s) => s !== "cutover");
  if (inputs.finalize && (phase === "switched" || steps.includes("cutover"))) steps.push("finalize");
  return { steps };
}

/**
 * The `until` to give the engine: staging at `synchronized` only means something before the
 * switch (the engine runs on from a later phase toward `until`).
 */
export function runUntil(until: UpgradeResourceInputs["until"], phase: UpgradePhase): "synchronized" | "switched" {
  return until === "synchronized" && PRE_SWITCH_PHASES.includes(phase) ? "synchronized" : "switched";
}

/**
 * One preview line per step: what it does with these arguments. Kept under Pulumi's display width
 * (150 characters; `pulumi preview --show-full-output` shows longer values whole).
 */
export function describeStep(step: UpgradeStep, inputs: UpgradeResourceInputs, state: UpgradeState | undefined): string {
  switch (step) {
    case "preflight":
      return "preflight: check both sides again before touching anything (refuses on any error)";
    case "schema":
      return inputs.schema ? `schema: apply the schema definition (${inputs.schema.files.length} file(s)) on green` : "schema: copy blue's schema to green by introspection";
    case "replicate":
      return "replicate: publication on blue, subscription on green with the initial copy";
    case "synchronize":
      return `synchronize: wait for the initial copy; abort and drop the slot if blue retains over ${formatBytes(inputs.maxRetainedWalBytes ?? 8 * 1024 ** 3)} of WAL`;
    case "cutover": {
      if (state?.phase === "switched") return "cutover: complete the switch interrupted after traffic moved (blue closed, rollback path, verification)";
      const fence = trafficCanPause(inputs.traffic) ? `pause ${inputs.traffic.kind}` : "close logins on blue";
      const verify = inputs.verify === "none" ? [] : [`verify ${inputs.verify}`];
      const order = inputs.verifyBeforeSwitch ? [...verify, `switch ${inputs.traffic.kind}`] : [`switch ${inputs.traffic.kind}`, ...verify];
      return `cutover: ${[fence, "wait for green", "sync sequences", ...order].join(", ")}; abort after ${inputs.cutoverDeadlineMs} ms`;
    }
    case "finalize":
      return "finalize: drop the rollback path and the upgrade's objects (no rollback afterwards)";
    case "rollback":
      return state?.phase === "switched"
        ? "rollback: fence green, wait until blue has all of green's writes, sync sequences, switch traffic back to blue"
        : "rollback: abort; drop the upgrade's slot, publication and subscription (blue serves as before)";
    default:
      return assertNever(step);
  }
}

/** The preflight report as lines: a summary, then each finding followed by its fix on a line of its own. */
export function preflightLines(report: PreflightReport | null): string[] {
  if (!report) return [];
  const head =
    `${report.ok ? "ok" : "REFUSED"}: blue PostgreSQL ${report.blue.major} (${report.blue.database}, ${report.blue.tables} table(s), ${formatBytes(report.blue.bytes)})` +
    ` -> green PostgreSQL ${report.green.major} (${report.green.database}, ${report.green.tables} table(s))`;
  return [head, ...report.findings.flatMap((f) => [`${f.severity} ${f.code} (${f.side}${f.object ? ` ${f.object}` : ""}): ${f.message}`, `fix: ${f.fix}`])];
}

/** The preview's view of a decision: one line per step, the traffic switch, and what the state is now. */
export function planView(inputs: UpgradeResourceInputs, state: UpgradeState | undefined, decision: StepDecision): { plannedSteps: string[]; trafficSummary: string } {
  return { plannedSteps: decision.steps.map((s) => describeStep(s, inputs, state)), trafficSummary: describeTraffic(inputs.traffic) };
}

/** Bytes in binary units, e.g. `8.0 GiB`. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

function assertNever(v: never): never {
  throw new Error(`unexpected step ${String(v)}`);
}
