import { describe, expect, it } from "vitest";
import { planGrowth } from "./grow";

const Mi = 2 ** 20;
const autoGrow = { thresholdPercent: 80, step: "400Mi", limit: "1Gi" };

describe("planGrowth", () => {
  it("grows a claim past its threshold by one step, and reports every claim's usage", () => {
    const plan = planGrowth(
      [
        { name: "db-1", requested: "160Mi", capacity: "160Mi", usedBytes: 140 * Mi },
        { name: "db-2", requested: "160Mi", usedBytes: 60 * Mi },
      ],
      autoGrow,
    );
    expect(plan.grow).toEqual([{ name: "db-1", from: "160Mi", to: "560Mi", reason: "db-1 uses 88% of 160Mi (threshold 80%)" }]);
    expect([...plan.usage]).toEqual([
      ["db-1", { usedBytes: 140 * Mi, capacityBytes: 160 * Mi }],
      ["db-2", { usedBytes: 60 * Mi, capacityBytes: 160 * Mi }],
    ]);
  });

  it("does not grow again once grown, caps at the limit, and says so at the limit", () => {
    expect(planGrowth([{ name: "db-1", requested: "560Mi", capacity: "160Mi", usedBytes: 140 * Mi }], autoGrow).grow).toEqual([]);
    expect(planGrowth([{ name: "db-1", requested: "800Mi", capacity: "800Mi", usedBytes: 700 * Mi }], autoGrow).grow).toEqual([
      expect.objectContaining({ to: "1Gi" }),
    ]);
    const limit = planGrowth([{ name: "db-1", requested: "1Gi", capacity: "1Gi", usedBytes: 1000 * Mi }], autoGrow);
    expect(limit.grow).toEqual([]);
    expect(limit.atLimit).toHaveLength(1);
    expect(planGrowth([{ name: "db-1", requested: "160Mi", usedBytes: 150 * Mi }], undefined).grow).toEqual([]);
  });
});
