import { describe, expect, it } from "vitest";
import type { Condition } from "../api/common";
import { findCondition, isConditionTrue, setCondition, statusEqual } from "./conditions";

const T0 = new Date("2025-01-02T03:04:05.678Z");
const T1 = new Date("2025-01-02T04:00:00.123Z");

describe("setCondition", () => {
  it("appends a new condition with observedGeneration and a seconds-precision transition time", () => {
    const out = setCondition(undefined, { type: "Ready", status: "False", reason: "Pending", message: "waiting" }, 3, T0);
    expect(out).toEqual([
      { type: "Ready", status: "False", reason: "Pending", message: "waiting", lastTransitionTime: "2025-01-02T03:04:05Z", observedGeneration: 3 },
    ]);
  });

  it("keeps lastTransitionTime when the status is unchanged but updates reason, message and generation", () => {
    const before = setCondition([], { type: "Ready", status: "True", reason: "Converged" }, 1, T0);
    const after = setCondition(before, { type: "Ready", status: "True", reason: "Resynced", message: "ok" }, 2, T1);
    expect(after).toEqual([
      { type: "Ready", status: "True", reason: "Resynced", message: "ok", lastTransitionTime: "2025-01-02T03:04:05Z", observedGeneration: 2 },
    ]);
  });

  it("moves lastTransitionTime when the status flips", () => {
    const before = setCondition([], { type: "Ready", status: "True", reason: "Converged" }, 1, T0);
    const after = setCondition(before, { type: "Ready", status: "False", reason: "DriftDetected" }, 1, T1);
    expect(after[0]?.lastTransitionTime).toBe("2025-01-02T04:00:00Z");
  });

  it("returns a new array, replaces in place and leaves other conditions and the input untouched", () => {
    const input: Condition[] = [
      { type: "Ready", status: "True", reason: "Converged", lastTransitionTime: "2025-01-01T00:00:00Z", observedGeneration: 1 },
      { type: "Degraded", status: "False", reason: "Healthy", lastTransitionTime: "2025-01-01T00:00:00Z", observedGeneration: 1 },
    ];
    const frozen = structuredClone(input);
    const out = setCondition(input, { type: "Ready", status: "False", reason: "Unreachable" }, 2, T1);
    expect(out).not.toBe(input);
    expect(input).toEqual(frozen);
    expect(out.map((c) => c.type)).toEqual(["Ready", "Degraded"]);
    expect(out[1]).toBe(input[1]);
  });
});

describe("isConditionTrue / findCondition", () => {
  const conditions = setCondition([], { type: "Ready", status: "True", reason: "Converged" }, 4, T0);

  it("reads the status, optionally requiring the observed generation", () => {
    expect(isConditionTrue(conditions, "Ready")).toBe(true);
    expect(isConditionTrue(conditions, "Ready", 4)).toBe(true);
    expect(isConditionTrue(conditions, "Ready", 5)).toBe(false);
    expect(isConditionTrue(conditions, "Degraded")).toBe(false);
    expect(isConditionTrue(undefined, "Ready")).toBe(false);
    expect(findCondition(conditions, "Ready")?.reason).toBe("Converged");
  });
});

describe("statusEqual", () => {
  it("is true for a recomputed but unchanged status, so the write is skipped", () => {
    const observed = { observedGeneration: 2, conditions: setCondition([], { type: "Ready", status: "True", reason: "Converged" }, 2, T0) };
    const desired = {
      observedGeneration: 2,
      conditions: setCondition(observed.conditions, { type: "Ready", status: "True", reason: "Converged" }, 2, T1),
    };
    expect(statusEqual(observed, desired)).toBe(true);
  });

  it("ignores key order and undefined-valued properties, but not array order or values", () => {
    expect(statusEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1, d: undefined })).toBe(true);
    expect(statusEqual({ c: [1, 2] }, { c: [2, 1] })).toBe(false);
    expect(statusEqual({ a: 1 }, { a: "1" })).toBe(false);
    expect(statusEqual({ a: null }, {})).toBe(false);
    expect(statusEqual([], {})).toBe(false);
    expect(statusEqual(undefined, undefined)).toBe(true);
  });

  it("sees a generation-only change", () => {
    const a = setCondition([], { type: "Ready", status: "True", reason: "Converged" }, 2, T0);
    const b = setCondition(a, { type: "Ready", status: "True", reason: "Converged" }, 3, T0);
    expect(statusEqual(a, b)).toBe(false);
  });
});
