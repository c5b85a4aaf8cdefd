/**
 * What the `Upgrade` resource shows: the steps the engine planned (its phase table decides them;
 * nothing here restates a rule), in words for these arguments, the preflight report as lines, and
 * the credential-free summary of the engine's state. Pure functions: no I/O.
 */
import {
  describeSides,
  phaseRule,
  switchInterrupted,
  type PreflightReport,
  type UpgradeRefusal,
  type UpgradeRequest,
  type UpgradeState,
  type UpgradeStep,
} from "../../sdk/upgrade/index";
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

/**
 * A refusal of the engine's phase table in the `Upgrade` resource's words: what is wrong, then what
 * to change in the program.
 */
export function refusalText(refusal: UpgradeRefusal): string {
  switch (refusal.code) {
    case "UPGRADE_FINALIZED":
      return `${refusal.message}; set rollback to false (green keeps serving)`;
    case "UPGRADE_ENDED":
      return `${refusal.message}. Set rollback to true to keep it that way, or delete this resource (or give a new stateKey), empty green and create the upgrade again`;
    case "UPGRADE_NOT_SWITCHED":
      return `${refusal.message}; set finalize to false until the upgrade has switched`;
    default:
      return assertNever(refusal.code);
  }
}

/** The engine's request for these arguments: a rollback, or a run up to `until` (finalizing if asked). */
export function requestOf(inputs: Pick<UpgradeResourceInputs, "until" | "finalize" | "rollback">): UpgradeRequest {
  return inputs.rollback ? { operation: "rollback" } : { operation: "run", until: inputs.until, finalize: inputs.finalize };
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
      // Past the schema phase, a schema step is the cutover bringing green up to date with blue.
      if (state && phaseRule(state.phase).order > phaseRule("schema-ready").order) return "schema: blue grew tables since replication started: add them to green and the publication, copy them";
      return inputs.schema ? `schema: apply the schema definition (${inputs.schema.files.length} file(s)) on green` : "schema: copy blue's schema to green by introspection";
    case "replicate":
      return "replicate: publication on blue, subscription on green with the initial copy";
    case "synchronize":
      return `synchronize: wait for the initial copy; abort and drop the slot if blue retains over ${formatBytes(inputs.maxRetainedWalBytes ?? 8 * 1024 ** 3)} of WAL`;
    case "cutover": {
      if (switchInterrupted(state)) return "cutover: complete the switch interrupted after traffic moved (blue closed, rollback path, verification)";
      const fence = trafficCanPause(inputs.traffic) ? `pause ${inputs.traffic.kind}` : "close logins on blue";
      const verify = inputs.verify === "none" ? [] : [`verify ${inputs.verify}`];
      const order = inputs.verifyBeforeSwitch ? [...verify, `switch ${inputs.traffic.kind}`] : [`switch ${inputs.traffic.kind}`, ...verify];
      return `cutover: ${[fence, "wait for green", "sync sequences", ...order].join(", ")}; abort after ${inputs.cutoverDeadlineMs} ms`;
    }
    case "finalize":
      return "finalize: drop the rollback path and the upgrade's objects (no rollback afterwards)";
    case "rollback":
      return phaseRule(state?.phase ?? "new").rollback === "switch-back"
        ? "rollback: fence green, wait until blue has all of green's writes, sync sequences, switch traffic back to blue; green stays closed to logins"
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

/** The preview's view of the planned steps: one line per step, and the traffic switch. */
export function planView(inputs: UpgradeResourceInputs, state: UpgradeState | undefined, steps: readonly UpgradeStep[]): { plannedSteps: string[]; trafficSummary: string } {
  return { plannedSteps: steps.map((s) => describeStep(s, inputs, state)), trafficSummary: describeTraffic(inputs.traffic) };
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
  throw new Error(`unexpected value ${String(v)}`);
}
