import { describe, expect, it } from "vitest";
import { restartDelayMs } from "./informer";

describe("restartDelayMs", () => {
  it("doubles from the initial delay up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => restartDelayMs(n))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect([0, 1, 2, 3].map((n) => restartDelayMs(n, { initialMs: 100, maxMs: 500 }))).toEqual([100, 200, 400, 500]);
  });

  it("stays finite for very many failures", () => {
    expect(restartDelayMs(10_000)).toBe(30_000);
  });
});
