import { describe, expect, it } from "vitest";
import { optionsConflict, phaseRule, planSteps, switchInterrupted, UPGRADE_PHASE_TABLE, UPGRADE_STEPS, type UpgradeRequest } from "./phases";
import { CUTOVER_DONE, upgradeState as state } from "../../test/support/upgrade-state";
import { UPGRADE_PHASES, type UpgradeState } from "./state";
const switched = state("switched", { cutover: CUTOVER_DONE });
const interrupted = state("switched", { cutover: { ...CUTOVER_DONE, postSwitchDone: false } });

const run = (extra: Omit<Extract<UpgradeRequest, { operation: "run" }>, "operation"> = {}): UpgradeRequest => ({ operation: "run", ...extra });
const steps = (s: UpgradeState | undefined, r: UpgradeRequest) => {
  const p = planSteps(s, r);
  expect(p.refusal).toBeUndefined();
  return p.steps;
};

describe("UPGRADE_PHASE_TABLE", () => {
  it("has one row per phase, in the state's order, and its forward steps are the run's steps in order", () => {
    expect(UPGRADE_PHASE_TABLE.map((r) => r.phase)).toEqual([...UPGRADE_PHASES]);
    expect(UPGRADE_PHASE_TABLE.map((r) => r.order)).toEqual(UPGRADE_PHASES.map((_, i) => i));
    expect(UPGRADE_PHASE_TABLE.flatMap((r) => (r.forward ? [r.forward.step] : []))).toEqual([...UPGRADE_STEPS]);
    // Each forward step leads to the next row.
    for (const r of UPGRADE_PHASE_TABLE) if (r.forward) expect(phaseRule(r.forward.to).order).toBe(r.order + 1);
  });

  it("says which phases are before the switch and which are final", () => {
    expect(UPGRADE_PHASE_TABLE.filter((r) => r.beforeSwitch).map((r) => r.phase)).toEqual(["new", "preflighted", "schema-ready", "replicating", "synchronized"]);
    expect(UPGRADE_PHASE_TABLE.filter((r) => r.final).map((r) => r.phase)).toEqual(["finalized", "aborted", "rolled-back"]);
    // Final phases lead nowhere; no phase before the switch has a rollback path to keep.
    for (const r of UPGRADE_PHASE_TABLE) {
      if (r.final) expect(r.forward).toBeNull();
      if (r.beforeSwitch) expect([r.rollback, r.forget]).toEqual(["abort", "abort"]);
    }
  });
});

describe("planSteps: run", () => {
  it("runs every phase of a new upgrade, and stops at until", () => {
    expect(steps(undefined, run())).toEqual(["preflight", "schema", "replicate", "synchronize", "cutover"]);
    expect(steps(undefined, run({ until: "synchronized" }))).toEqual(["preflight", "schema", "replicate", "synchronize"]);
    expect(steps(undefined, run({ until: "schema-ready" }))).toEqual(["preflight", "schema"]);
    expect(steps(undefined, run({ finalize: true }))).toEqual([...UPGRADE_STEPS, "finalize"]);
  });

  it("resumes from every saved phase", () => {
    expect(steps(state("new"), run())).toEqual([...UPGRADE_STEPS]);
    expect(steps(state("preflighted"), run())).toEqual(["schema", "replicate", "synchronize", "cutover"]);
    expect(steps(state("schema-ready"), run())).toEqual(["replicate", "synchronize", "cutover"]);
    expect(steps(state("replicating"), run())).toEqual(["synchronize", "cutover"]);
    expect(steps(state("synchronized"), run())).toEqual(["cutover"]);
    expect(steps(state("synchronized"), run({ until: "synchronized" }))).toEqual([]);
  });

  it("does nothing from a phase past until, except completing an interrupted switch", () => {
    expect(steps(state("replicating"), run({ until: "schema-ready" }))).toEqual([]);
    expect(steps(switched, run())).toEqual([]);
    expect(steps(switched, run({ until: "synchronized" }))).toEqual([]);
    expect(steps(interrupted, run())).toEqual(["cutover"]);
    expect(steps(interrupted, run({ until: "synchronized" }))).toEqual(["cutover"]);
    expect(steps(state("finalized"), run())).toEqual([]);
  });

  it("finalizes only a run that ends switched", () => {
    expect(steps(switched, run({ finalize: true }))).toEqual(["finalize"]);
    expect(steps(interrupted, run({ finalize: true }))).toEqual(["cutover", "finalize"]);
    expect(steps(state("replicating"), run({ finalize: true, until: "synchronized" }))).toEqual(["synchronize"]);
    expect(steps(state("finalized"), run({ finalize: true }))).toEqual([]);
  });

  it("refuses to go on with an aborted or rolled-back upgrade, saying why it ended", () => {
    const aborted = state("aborted", { history: [{ phase: "synchronize", status: "Failed", startedAt: 1, durationMs: 2, message: "blue retained 9 bytes of WAL" }] });
    expect(planSteps(aborted, run())).toEqual({
      steps: [],
      refusal: { code: "UPGRADE_ENDED", phase: "aborted", message: "the upgrade was aborted (last: synchronize failed: blue retained 9 bytes of WAL); it does not start again by itself" },
    });
    expect(planSteps(state("rolled-back"), run({ until: "synchronized" })).refusal).toMatchObject({ code: "UPGRADE_ENDED", message: "the upgrade was rolled back; it does not start again by itself" });
  });
});

describe("planSteps: rollback, finalize, forget", () => {
  it("rolls back any started upgrade, has nothing to undo without one, and refuses once finalized", () => {
    expect(steps(undefined, { operation: "rollback" })).toEqual([]);
    expect(steps(state("new"), { operation: "rollback" })).toEqual(["rollback"]);
    expect(steps(state("replicating"), { operation: "rollback" })).toEqual(["rollback"]);
    expect(steps(switched, { operation: "rollback" })).toEqual(["rollback"]);
    // Rolling back does not complete an interrupted switch first: it takes traffic back itself.
    expect(steps(interrupted, { operation: "rollback" })).toEqual(["rollback"]);
    expect(steps(state("rolled-back"), { operation: "rollback" })).toEqual([]);
    expect(steps(state("aborted"), { operation: "rollback" })).toEqual([]);
    expect(planSteps(state("finalized"), { operation: "rollback" })).toEqual({
      steps: [],
      refusal: { code: "UPGRADE_FINALIZED", phase: "finalized", message: "the upgrade was finalized, so its rollback path no longer exists" },
    });
  });

  it("finalizes a switched upgrade (completing an interrupted switch first) and refuses any other", () => {
    expect(steps(switched, { operation: "finalize" })).toEqual(["finalize"]);
    expect(steps(interrupted, { operation: "finalize" })).toEqual(["cutover", "finalize"]);
    expect(steps(state("finalized"), { operation: "finalize" })).toEqual([]);
    for (const s of [undefined, state("synchronized"), state("aborted")]) {
      expect(planSteps(s, { operation: "finalize" }).refusal).toMatchObject({ code: "UPGRADE_NOT_SWITCHED", message: `the upgrade is ${s?.phase ?? "new"}; only a switched upgrade can be finalized` });
    }
  });

  it("forgets without moving traffic: aborts before the switch, finalizes after it, nothing once ended", () => {
    expect(steps(undefined, { operation: "forget" })).toEqual([]);
    for (const p of ["new", "preflighted", "schema-ready", "replicating", "synchronized"] as const) expect(steps(state(p), { operation: "forget" }), p).toEqual(["rollback"]);
    expect(steps(switched, { operation: "forget" })).toEqual(["finalize"]);
    expect(steps(interrupted, { operation: "forget" })).toEqual(["cutover", "finalize"]);
    for (const p of ["finalized", "aborted", "rolled-back"] as const) expect(steps(state(p), { operation: "forget" }), p).toEqual([]);
  });

  it("reads a switch as interrupted until its post-switch steps are recorded", () => {
    expect(switchInterrupted(interrupted)).toBe(true);
    expect(switchInterrupted(state("switched"))).toBe(true);
    expect(switchInterrupted(switched)).toBe(false);
    expect(switchInterrupted(state("synchronized", { cutover: { ...CUTOVER_DONE, postSwitchDone: false } }))).toBe(false);
    expect(switchInterrupted(undefined)).toBe(false);
  });
});

describe("optionsConflict", () => {
  it("names the option to change when two options contradict each other", () => {
    expect(optionsConflict({ finalize: true, rollback: true })).toEqual({ option: "rollback", message: "finalize and rollback cannot both be true" });
    expect(optionsConflict({ finalize: true, until: "synchronized" })).toEqual({ option: "finalize", message: 'finalize needs until "switched" (only a switched upgrade can be finalized)' });
    expect(optionsConflict({ finalize: true, until: "schema-ready" })?.option).toBe("finalize");
    expect(optionsConflict({ finalize: true, until: "switched" })).toBeUndefined();
    expect(optionsConflict({ finalize: true })).toBeUndefined();
    expect(optionsConflict({ rollback: true, until: "synchronized" })).toBeUndefined();
  });
});
