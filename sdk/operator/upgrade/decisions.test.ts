import { describe, expect, it } from "vitest";
import { STATE_VERSION, type UpgradePhase, type UpgradeState } from "../../upgrade/state";
import { decideUpgrade, finalizedState, nextGate, phaseReason, restingPhases, stateFacts, upgradeStatus } from "./decisions";

function state(phase: UpgradePhase, extra: Partial<UpgradeState> = {}): UpgradeState {
  return { version: STATE_VERSION, id: "abc123", phase, tables: [], fences: [], reverseSubscribed: false, history: [], ...extra };
}
const cutover = (postSwitchDone: boolean): NonNullable<UpgradeState["cutover"]> => ({
  fencedAt: 1,
  deadline: 2,
  fence: "logins",
  caughtUp: true,
  forwardDisabled: true,
  reverseSlotCreated: true,
  switching: true,
  writePauseMs: 412.6,
  postSwitchDone,
});

describe("nextGate", () => {
  it("stops at every gate of the engine in turn, never past until", () => {
    expect(nextGate("new", "switched")).toBe("schema-ready");
    expect(nextGate("preflighted", "switched")).toBe("schema-ready");
    expect(nextGate("schema-ready", "switched")).toBe("synchronized");
    expect(nextGate("replicating", "switched")).toBe("synchronized");
    expect(nextGate("synchronized", "switched")).toBe("switched");
    expect(nextGate("schema-ready", "schema-ready")).toBe("schema-ready");
    expect(nextGate("new", "schema-ready")).toBe("schema-ready");
    expect(nextGate("switched", "synchronized")).toBe("synchronized");
  });
});

describe("decideUpgrade", () => {
  it("runs one gate at a time from nothing saved to the switch", () => {
    expect(decideUpgrade({}, undefined)).toMatchObject({ kind: "operate", request: { operation: "run", until: "schema-ready" }, message: "running preflight, schema (to schema-ready)" });
    expect(decideUpgrade({}, state("schema-ready"))).toMatchObject({ kind: "operate", request: { operation: "run", until: "synchronized" } });
    expect(decideUpgrade({}, state("synchronized"))).toMatchObject({ kind: "operate", request: { operation: "run", until: "switched" } });
    expect(decideUpgrade({}, state("switched", { cutover: cutover(true) }))).toMatchObject({ kind: "rest", reason: "Switched" });
  });

  it("rests at the supervised gate, and moves on when until moves", () => {
    expect(decideUpgrade({ until: "synchronized" }, state("synchronized"))).toMatchObject({ kind: "rest", reason: "Synchronized", message: expect.stringContaining("set until: switched") });
    expect(decideUpgrade({ until: "switched" }, state("synchronized"))).toMatchObject({ kind: "operate", request: { until: "switched" } });
  });

  it("completes an interrupted switch whatever the gate (traffic is already on green)", () => {
    expect(decideUpgrade({ until: "synchronized" }, state("switched", { cutover: cutover(false) }))).toMatchObject({ kind: "operate", request: { operation: "run", until: "synchronized" } });
  });

  it("maps rollback, finalize and abort onto the engine's requests and refusals", () => {
    expect(decideUpgrade({ action: "rollback" }, state("switched", { cutover: cutover(true) }))).toMatchObject({ kind: "operate", request: { operation: "rollback" } });
    expect(decideUpgrade({ action: "rollback" }, state("rolled-back"))).toMatchObject({ kind: "rest", reason: "RolledBack" });
    expect(decideUpgrade({ action: "rollback" }, state("finalized"))).toMatchObject({ kind: "refuse", reason: "AlreadyFinalized" });
    expect(decideUpgrade({ action: "finalize" }, state("switched", { cutover: cutover(true) }))).toMatchObject({ kind: "operate", request: { operation: "finalize" } });
    expect(decideUpgrade({ action: "finalize" }, state("synchronized"))).toMatchObject({ kind: "refuse", reason: "NotSwitched", message: expect.stringContaining("action: run") });
    expect(decideUpgrade({ action: "abort" }, state("replicating"))).toMatchObject({ kind: "operate", request: { operation: "rollback" } });
    expect(decideUpgrade({ action: "abort" }, state("switched", { cutover: cutover(true) }))).toMatchObject({ kind: "refuse", reason: "AbortAfterSwitch", message: expect.stringContaining("action: rollback") });
    expect(decideUpgrade({ action: "abort" }, undefined)).toMatchObject({ kind: "rest" });
  });

  it("refuses to run an ended upgrade again, saying how to start a new one", () => {
    expect(decideUpgrade({}, state("aborted"))).toMatchObject({ kind: "refuse", reason: "UpgradeEnded", message: expect.stringContaining("create a new one") });
  });
});

describe("status", () => {
  it("reports the state's phase, id, write pause and verification", () => {
    const facts = stateFacts(state("switched", { cutover: cutover(true), verification: { mode: "checksums", equal: true, tables: 1, rows: 10, mismatchedTables: [] } }));
    expect(facts).toEqual({ phase: "switched", upgradeId: "abc123", writePauseMs: 413, verification: { mode: "checksums", equal: true, tables: 1, rows: 10, mismatchedTables: [] } });
  });

  it("sets Ready, Progressing and Degraded per outcome at the generation", () => {
    const now = new Date("2026-12-05T20:00:00Z");
    const running = upgradeStatus(undefined, { phase: "schema-ready" }, { kind: "progress", more: true, message: "running replicate" }, 3, now);
    expect(running.observedGeneration).toBe(3);
    expect(running.conditions?.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ["Ready", "False", "SchemaReady", 3],
      ["Progressing", "True", "Running", 3],
      ["Degraded", "False", "AsExpected", 3],
    ]);
    const refused = upgradeStatus(running, { phase: "new" }, { kind: "failed", reason: "PreflightRefused", message: "no replica identity" }, 4, now, { findings: ["[x] y — fix: z"] });
    expect(refused.findings).toEqual(["[x] y — fix: z"]);
    expect(refused.conditions?.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "PreflightRefused", observedGeneration: 4 });
    // Findings of a refusal do not outlive it.
    const rest = upgradeStatus(refused, { phase: "switched" }, { kind: "rest", reason: "Switched", message: "on green" }, 5, now);
    expect(rest.findings).toBeUndefined();
    expect(rest.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "Switched" });
    expect(rest.conditions?.find((c) => c.type === "Degraded")).toMatchObject({ status: "False", reason: "AsExpected" });
    // At rest but without its rollback path: still Ready (green serves), Degraded says what is lost.
    const lost = upgradeStatus(rest, { phase: "switched" }, { kind: "rest", reason: "Switched", message: "on green; path lost", degraded: { reason: "RollbackPathLost", message: "no slot" } }, 5, now);
    expect(lost.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "Switched"],
      ["Progressing", "False", "Switched"],
      ["Degraded", "True", "RollbackPathLost"],
    ]);
    expect(lost.conditions?.find((c) => c.type === "Degraded")?.message).toBe("no slot");
  });

  it("names phases as reasons and knows where each action rests", () => {
    expect(phaseReason("rolled-back")).toBe("RolledBack");
    expect(restingPhases({})).toEqual(["switched", "finalized"]);
    expect(restingPhases({ until: "synchronized" })).toEqual(["synchronized"]);
    expect(restingPhases({ action: "abort" })).toEqual(["aborted", "rolled-back"]);
  });
});

describe("finalizedState", () => {
  it("stands for a finalized upgrade's status: every action rests or is refused, none operates", () => {
    const s = finalizedState("abc123");
    expect(decideUpgrade({}, s)).toMatchObject({ kind: "rest", reason: "Finalized" });
    expect(decideUpgrade({ action: "finalize" }, s)).toMatchObject({ kind: "rest" });
    expect(decideUpgrade({ action: "rollback" }, s)).toMatchObject({ kind: "refuse", reason: "AlreadyFinalized" });
    expect(decideUpgrade({ action: "abort" }, s).kind).not.toBe("operate");
  });
});
