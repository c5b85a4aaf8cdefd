/**
 * The upgrade's rules, once: one ordered table of phases saying, for each, whether traffic has
 * switched, which step leads out of it, and what `until`, `finalize`, `rollback` and forgetting
 * mean from there. {@link planSteps} reads it to decide the steps of any request from any saved
 * state; the engine runs exactly those steps, and `planUpgrade` shows them. Drivers (CLI, Pulumi
 * provider, operator) call the engine and never restate these rules. Pure: no I/O.
 */
import type { UpgradePhase, UpgradeState } from "./state";

/** The steps a run takes toward `switched`, in order. */
export const UPGRADE_STEPS = ["preflight", "schema", "replicate", "synchronize", "cutover"] as const;

/** One of {@link UPGRADE_STEPS}: a step that moves the upgrade forward. */
export type ForwardStep = (typeof UPGRADE_STEPS)[number];

/** A step of any upgrade operation: a forward step, or a closing one. */
export type UpgradeStep = ForwardStep | "finalize" | "rollback";

/** Where a run may stop (`until`), in order. */
export const RUN_UNTIL = ["schema-ready", "synchronized", "switched"] as const;

/** One of {@link RUN_UNTIL}. */
export type RunUntil = (typeof RUN_UNTIL)[number];

/** What `rollback` does from a phase. */
export type RollbackRule =
  /** Nothing to undo: not started, or already undone. */
  | "nothing"
  /** Before the switch: drop every upgrade object; blue serves as before. */
  | "abort"
  /** After the switch: the cutover in reverse, so blue gets every write green took. */
  | "switch-back"
  /** Refused: the rollback path no longer exists. */
  | "refuse";

/** What a request to finalize does from a phase. */
export type FinalizeRule = "finalize" | "nothing" | "refuse";

/** What forgetting the upgrade (a driver deleting it) does from a phase, before its state is dropped. Never moves traffic. */
export type ForgetRule = "nothing" | "abort" | "finalize";

/** One row of {@link UPGRADE_PHASE_TABLE}. */
export interface PhaseRule {
  readonly phase: UpgradePhase;
  /** Position in the table: forward phases in the order a run reaches them, then the final ones. */
  readonly order: number;
  /** Traffic has not moved: blue serves and nothing on green is relied on. */
  readonly beforeSwitch: boolean;
  /** The upgrade ended here: no step leads out of it, and a run does not start it again. */
  readonly final: boolean;
  /** The step a run takes out of this phase toward `switched`, and the phase it leads to. */
  readonly forward: { readonly step: ForwardStep; readonly to: UpgradePhase } | null;
  /**
   * The step every operation but rollback runs first when the state says the switch was
   * interrupted after traffic moved (traffic is on green: completing the switch is the only safe
   * way on).
   */
  readonly completeInterrupted: ForwardStep | null;
  /** A plan from here includes the preflight report (nothing has been created from it yet). */
  readonly preflightInPlan: boolean;
  readonly rollback: RollbackRule;
  readonly finalize: FinalizeRule;
  readonly forget: ForgetRule;
}

/** The phases of an upgrade, in order, with what each operation means from each. */
export const UPGRADE_PHASE_TABLE: readonly PhaseRule[] = [
  row("new", { beforeSwitch: true, forward: { step: "preflight", to: "preflighted" }, preflightInPlan: true, rollback: "abort", finalize: "refuse", forget: "abort" }),
  row("preflighted", { beforeSwitch: true, forward: { step: "schema", to: "schema-ready" }, preflightInPlan: true, rollback: "abort", finalize: "refuse", forget: "abort" }),
  row("schema-ready", { beforeSwitch: true, forward: { step: "replicate", to: "replicating" }, rollback: "abort", finalize: "refuse", forget: "abort" }),
  row("replicating", { beforeSwitch: true, forward: { step: "synchronize", to: "synchronized" }, rollback: "abort", finalize: "refuse", forget: "abort" }),
  row("synchronized", { beforeSwitch: true, forward: { step: "cutover", to: "switched" }, rollback: "abort", finalize: "refuse", forget: "abort" }),
  row("switched", { completeInterrupted: "cutover", rollback: "switch-back", finalize: "finalize", forget: "finalize" }),
  row("finalized", { final: true, rollback: "refuse", finalize: "nothing", forget: "nothing" }),
  row("aborted", { final: true, rollback: "nothing", finalize: "refuse", forget: "nothing" }),
  row("rolled-back", { final: true, rollback: "nothing", finalize: "refuse", forget: "nothing" }),
].map((r, order) => ({ ...r, order }));

function row(phase: UpgradePhase, rule: Partial<Omit<PhaseRule, "phase" | "order">> & Pick<PhaseRule, "rollback" | "finalize" | "forget">): Omit<PhaseRule, "order"> {
  return { phase, beforeSwitch: false, final: false, forward: null, completeInterrupted: null, preflightInPlan: false, ...rule };
}

/** The table's row for `phase`. */
export function phaseRule(phase: UpgradePhase): PhaseRule {
  const rule = UPGRADE_PHASE_TABLE.find((r) => r.phase === phase);
  if (!rule) throw new Error(`no rule for upgrade phase ${phase}`);
  return rule;
}

/** What a driver asks the engine to do. */
export type UpgradeRequest =
  /** Run forward from the saved phase up to `until` (@default "switched"), then finalize if asked (only a run that ends switched finalizes). */
  | { readonly operation: "run"; readonly until?: RunUntil; readonly finalize?: boolean }
  /** Roll back: abort before the switch, switch back after it. */
  | { readonly operation: "rollback" }
  /** Finalize a switched upgrade (its rollback path is dropped). */
  | { readonly operation: "finalize" }
  /** End the upgrade without moving traffic (abort before the switch, finalize after it), then drop its state. */
  | { readonly operation: "forget" };

/** Why the engine refuses a request from the saved state; nothing is run. */
export interface UpgradeRefusal {
  /** `UPGRADE_ENDED` (aborted or rolled back: it does not start again), `UPGRADE_FINALIZED` (no rollback path), `UPGRADE_NOT_SWITCHED` (nothing to finalize). */
  readonly code: "UPGRADE_ENDED" | "UPGRADE_FINALIZED" | "UPGRADE_NOT_SWITCHED";
  /** The phase the state is in. */
  readonly phase: UpgradePhase;
  /** What is wrong, for people (drivers add the fix in their own vocabulary). */
  readonly message: string;
}

/** The steps a request takes from a saved state, in order, or why it is refused. */
export interface StepPlan {
  readonly steps: readonly UpgradeStep[];
  /** Set when the request asks for something the state does not allow; `steps` is then empty. */
  readonly refusal?: UpgradeRefusal;
}

/** A combination of run options that asks for two contradicting things, named by the option to change. */
export interface OptionsConflict {
  readonly option: "finalize" | "rollback";
  readonly message: string;
}

/**
 * Why these options contradict each other (finalize and roll back at once; finalize a run that
 * stops before the switch), or `undefined`. Drivers validating their own arguments use it too.
 */
export function optionsConflict(o: { readonly until?: RunUntil | undefined; readonly finalize?: boolean | undefined; readonly rollback?: boolean | undefined }): OptionsConflict | undefined {
  if (o.finalize && o.rollback) return { option: "rollback", message: "finalize and rollback cannot both be true" };
  if (o.finalize && o.until !== undefined && o.until !== "switched") return { option: "finalize", message: `finalize needs until "switched" (only a switched upgrade can be finalized)` };
  return undefined;
}

/** True when the switch moved traffic to green but its run ended before the post-switch steps. */
export function switchInterrupted(state: UpgradeState | undefined): boolean {
  return state?.phase === "switched" && !state.cutover?.postSwitchDone;
}

/**
 * The steps `request` takes from `state` (`undefined`: no upgrade saved), read from
 * {@link UPGRADE_PHASE_TABLE}. The engine runs exactly these, and `planUpgrade` returns them. One
 * step depends on data, not on the state: a cutover first runs `schema` when blue grew tables
 * since replication started (the engine and `planUpgrade` look at blue for it).
 */
export function planSteps(state: UpgradeState | undefined, request: UpgradeRequest): StepPlan {
  const phase = state?.phase ?? "new";
  const rule = phaseRule(phase);
  const completion = rule.completeInterrupted && switchInterrupted(state) ? [rule.completeInterrupted] : [];
  switch (request.operation) {
    case "rollback":
      if (rule.rollback === "refuse") return refuse("UPGRADE_FINALIZED", phase, "the upgrade was finalized, so its rollback path no longer exists");
      // Nothing saved: nothing was created, so there is nothing to undo (and no state to create).
      return { steps: rule.rollback === "nothing" || !state ? [] : ["rollback"] };
    case "finalize":
      if (rule.finalize === "refuse") return refuse("UPGRADE_NOT_SWITCHED", phase, `the upgrade is ${phase}; only a switched upgrade can be finalized`);
      return { steps: rule.finalize === "nothing" ? [] : [...completion, "finalize"] };
    case "forget":
      if (!state) return { steps: [] };
      return { steps: rule.forget === "abort" ? ["rollback"] : rule.forget === "finalize" ? [...completion, "finalize"] : [] };
    case "run": {
      if (rule.final && rule.finalize === "refuse") {
        const last = state?.history.at(-1);
        return refuse(
          "UPGRADE_ENDED",
          phase,
          `the upgrade was ${phase === "aborted" ? "aborted" : "rolled back"}${last ? ` (last: ${last.phase} ${last.status.toLowerCase()}: ${last.message})` : ""}; it does not start again by itself`,
        );
      }
      const stop = phaseRule(request.until ?? "switched").order;
      const steps: UpgradeStep[] = [...completion];
      let at = rule;
      // Forward from the saved phase while short of `until`; a phase past `until` runs nothing more.
      while (at.forward && at.order < stop) {
        steps.push(at.forward.step);
        at = phaseRule(at.forward.to);
      }
      if (request.finalize && at.finalize === "finalize") steps.push("finalize");
      return { steps };
    }
    default:
      return assertNever(request);
  }
}

function refuse(code: UpgradeRefusal["code"], phase: UpgradePhase, message: string): StepPlan {
  return { steps: [], refusal: { code, phase, message } };
}

function assertNever(v: never): never {
  throw new Error(`unexpected upgrade request ${JSON.stringify(v)}`);
}
