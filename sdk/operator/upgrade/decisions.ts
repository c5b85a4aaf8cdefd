/**
 * The `PostgresUpgrade` controller's pure decisions (ADR 0027): which engine operation one
 * reconcile runs from the spec and the saved state (read through the engine's phase table, never
 * restated), and the status that says where the upgrade stands. No I/O.
 */
import type { Condition } from "../../api/common";
import type { PostgresUpgradeSpec, PostgresUpgradeStatus } from "../../api/postgres-upgrade";
import { setCondition, type ConditionInput } from "../../reconcile/conditions";
import { phaseRule, planSteps, RUN_UNTIL, switchInterrupted, type RunUntil, type UpgradeRequest } from "../../upgrade/phases";
import { STATE_VERSION, type UpgradePhase, type UpgradeState } from "../../upgrade/state";

/** What `spec.action` asks for; `run` when omitted. */
export type UpgradeAction = NonNullable<PostgresUpgradeSpec["action"]>;

/** What one reconcile does with the engine. */
export type UpgradeDecision =
  /** Run one engine operation: a run to the next gate, a rollback, or a finalize. */
  | { readonly kind: "operate"; readonly request: UpgradeRequest; readonly message: string }
  /** Nothing to run: the upgrade stands where the spec wants it. */
  | { readonly kind: "rest"; readonly reason: string; readonly message: string }
  /** The spec asks for something the state does not allow; nothing is run. */
  | { readonly kind: "refuse"; readonly reason: string; readonly message: string };

/**
 * The next gate a run stops at from `phase`: the first of the engine's `RUN_UNTIL` past it, never
 * past `until`. One gate per reconcile, so status and Events follow every phase and a controller
 * that dies loses at most the step it was in (the engine resumes it).
 */
export function nextGate(phase: UpgradePhase, until: RunUntil): RunUntil {
  const at = phaseRule(phase).order;
  const limit = phaseRule(until).order;
  const next = RUN_UNTIL.find((g) => phaseRule(g).order > at);
  return next === undefined || phaseRule(next).order > limit ? until : next;
}

/**
 * The operation one reconcile runs for `spec` from the saved `state` (`undefined`: nothing saved).
 * Every step list comes from the engine's `planSteps`; this only maps the spec's words onto its
 * requests and says what an empty plan or a refusal means to the user.
 */
/**
 * The engine's state a finalized upgrade's status stands for, once blue's instances (which held
 * the saved state) are removed (ADR 0046): finalized is terminal, and its phase is all
 * {@link decideUpgrade} reads of it.
 */
export function finalizedState(upgradeId: string): UpgradeState {
  return { version: STATE_VERSION, id: upgradeId, phase: "finalized", tables: [], fences: [], reverseSubscribed: false, history: [] };
}

export function decideUpgrade(spec: Pick<PostgresUpgradeSpec, "action" | "until">, state: UpgradeState | undefined): UpgradeDecision {
  const action: UpgradeAction = spec.action ?? "run";
  const until: RunUntil = spec.until ?? "switched";
  const phase = state?.phase ?? "new";
  switch (action) {
    case "run": {
      // An interrupted switch is completed by the run to `until` (the engine does it first).
      const gate = switchInterrupted(state) ? until : nextGate(phase, until);
      const request: UpgradeRequest = { operation: "run", until: gate };
      const plan = planSteps(state, request);
      if (plan.refusal) return { kind: "refuse", reason: "UpgradeEnded", message: `${plan.refusal.message}. To upgrade again, delete this PostgresUpgrade and create a new one` };
      if (plan.steps.length === 0) return rest(phase, until);
      return { kind: "operate", request, message: `running ${plan.steps.join(", ")} (to ${gate})` };
    }
    case "abort":
      if (state && !phaseRule(phase).beforeSwitch && !phaseRule(phase).final) {
        return { kind: "refuse", reason: "AbortAfterSwitch", message: `traffic is on green (${phase}): an abort cannot return it. Set action: rollback to switch back to blue, or action: finalize to keep green` };
      }
      return closing(state, { operation: "rollback" });
    case "rollback":
      return closing(state, { operation: "rollback" });
    case "finalize":
      return closing(state, { operation: "finalize" });
    default:
      return assertNever(action);
  }
}

function closing(state: UpgradeState | undefined, request: UpgradeRequest): UpgradeDecision {
  const plan = planSteps(state, request);
  const phase = state?.phase ?? "new";
  if (plan.refusal) {
    const fix = plan.refusal.code === "UPGRADE_NOT_SWITCHED" ? "; set action: run (until: switched) first" : "";
    return { kind: "refuse", reason: refusalReason(plan.refusal.code), message: `${plan.refusal.message}${fix}` };
  }
  if (plan.steps.length === 0) return { kind: "rest", reason: phaseReason(phase), message: `the upgrade is ${phase}; nothing to ${request.operation}` };
  return { kind: "operate", request, message: `running ${plan.steps.join(", ")}` };
}

function rest(phase: UpgradePhase, until: RunUntil): UpgradeDecision {
  if (phase === "switched") return { kind: "rest", reason: "Switched", message: "traffic is on green; blue receives green's writes for a rollback. Set action: finalize to drop the rollback path, or action: rollback to return to blue" };
  if (phase === "finalized") return { kind: "rest", reason: "Finalized", message: "the upgrade is finalized: green serves, the rollback path is gone" };
  return { kind: "rest", reason: phaseReason(phase), message: `stopped at ${phase} (until: ${until}); set until: switched to cut over` };
}

function refusalReason(code: string): string {
  switch (code) {
    case "UPGRADE_FINALIZED":
      return "AlreadyFinalized";
    case "UPGRADE_NOT_SWITCHED":
      return "NotSwitched";
    default:
      return "UpgradeEnded";
  }
}

/** A phase as a condition reason: `schema-ready` → `SchemaReady`. */
export function phaseReason(phase: UpgradePhase): string {
  return phase
    .split("-")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}

/** Where the spec wants the upgrade to come to rest: the phases at which it is Ready. */
export function restingPhases(spec: Pick<PostgresUpgradeSpec, "action" | "until">): readonly UpgradePhase[] {
  switch (spec.action ?? "run") {
    case "run":
      return (spec.until ?? "switched") === "switched" ? ["switched", "finalized"] : [spec.until ?? "switched"];
    case "finalize":
      return ["finalized"];
    case "rollback":
    case "abort":
      return ["aborted", "rolled-back"];
  }
}

/** One reconcile's outcome, as the status reports it. */
export type UpgradeOutcome =
  /** Engine work was done (or is still to do: `more`). */
  | { readonly kind: "progress"; readonly more: boolean; readonly message: string }
  /** Waiting for something outside the upgrade (a cluster to become Ready, another runner's lock). */
  | { readonly kind: "waiting"; readonly reason: string; readonly message: string }
  /** At rest where the spec wants it; `degraded` when something it should still offer is lost (the rollback path). */
  | { readonly kind: "rest"; readonly reason: string; readonly message: string; readonly degraded?: { readonly reason: string; readonly message: string } }
  /** Refused or failed: the message says what to fix. */
  | { readonly kind: "failed"; readonly reason: string; readonly message: string };

/** What the engine's saved state contributes to status. */
export type StateFacts = Pick<PostgresUpgradeStatus, "phase" | "upgradeId" | "writePauseMs" | "verification">;

/** Status facts from the engine's saved state. */
export function stateFacts(state: UpgradeState | undefined): StateFacts {
  if (!state) return { phase: "new" };
  const v = state.verification;
  return {
    phase: state.phase,
    ...(state.id ? { upgradeId: state.id } : {}),
    ...(state.cutover?.writePauseMs !== undefined ? { writePauseMs: Math.round(state.cutover.writePauseMs) } : {}),
    ...(v ? { verification: { mode: v.mode, ...(v.equal === null ? {} : { equal: v.equal }), tables: v.tables, rows: v.rows, mismatchedTables: v.mismatchedTables.slice(0, 100), ...(v.skipped ? { skipped: v.skipped } : {}) } } : {}),
  };
}

/**
 * The next status: the previous one's other fields, the state's facts, and Ready / Progressing /
 * Degraded (ADR 0004) for `outcome`, each at `generation`.
 */
export function upgradeStatus(
  previous: PostgresUpgradeStatus | undefined,
  facts: StateFacts,
  outcome: UpgradeOutcome,
  generation: number,
  now: Date,
  extra: Pick<PostgresUpgradeStatus, "greenCreated" | "findings"> = {},
): PostgresUpgradeStatus {
  const phase = facts.phase ?? "new";
  const reason = phaseReason(phase as UpgradePhase);
  let ready: ConditionInput;
  let progressing: ConditionInput;
  let degraded: ConditionInput;
  switch (outcome.kind) {
    case "progress":
      ready = { type: "Ready", status: "False", reason, message: `the upgrade is ${phase}` };
      progressing = { type: "Progressing", status: outcome.more ? "True" : "False", reason: outcome.more ? "Running" : reason, message: outcome.message };
      degraded = { type: "Degraded", status: "False", reason: "AsExpected" };
      break;
    case "waiting":
      ready = { type: "Ready", status: "False", reason: outcome.reason, message: outcome.message };
      progressing = { type: "Progressing", status: "True", reason: outcome.reason, message: outcome.message };
      degraded = { type: "Degraded", status: "False", reason: "AsExpected" };
      break;
    case "rest":
      ready = { type: "Ready", status: "True", reason: outcome.reason, message: outcome.message };
      progressing = { type: "Progressing", status: "False", reason: outcome.reason, message: outcome.message };
      degraded = outcome.degraded ? { type: "Degraded", status: "True", ...outcome.degraded } : { type: "Degraded", status: "False", reason: "AsExpected" };
      break;
    case "failed":
      ready = { type: "Ready", status: "False", reason: outcome.reason, message: outcome.message };
      progressing = { type: "Progressing", status: "False", reason: outcome.reason, message: outcome.message };
      degraded = { type: "Degraded", status: "True", reason: outcome.reason, message: outcome.message };
      break;
  }
  let conditions: Condition[] | undefined = previous?.conditions;
  for (const c of [ready, progressing, degraded]) conditions = setCondition(conditions, { ...c, ...(c.message ? { message: c.message.slice(0, 4000) } : {}) }, generation, now);
  const { findings: _f, writePauseMs: _w, verification: _v, upgradeId: _i, ...kept } = previous ?? {};
  return {
    ...kept,
    ...facts,
    ...(extra.greenCreated !== undefined ? { greenCreated: extra.greenCreated } : {}),
    ...(extra.findings && extra.findings.length > 0 ? { findings: extra.findings.slice(0, 100) } : {}),
    observedGeneration: generation,
    conditions,
  };
}

function assertNever(v: never): never {
  throw new Error(`unexpected upgrade action ${JSON.stringify(v)}`);
}
