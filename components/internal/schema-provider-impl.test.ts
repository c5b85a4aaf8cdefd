import { describe, expect, it } from "vitest";
import type { CatalogCheck, CatalogDifference } from "../../sdk/schema/verify/index";
import { unmodelledLines } from "./schema-provider-impl";

const difference = (i: number): CatalogDifference => ({
  code: "UNMODELLED_DIFFERENCE",
  catalog: "pg_attribute",
  schema: "public",
  object: `public.t${i}.body`,
  property: "attstorage",
  expected: "x",
  actual: "e",
});
const check = (differences: CatalogDifference[], known: CatalogDifference[] = []): CatalogCheck => ({ differences, known, pairs: 1, differingPairs: differences.length ? 1 : 0, durationMs: 1 });

describe("unmodelledLines (what the preview lists for an empty plan)", () => {
  it("is empty without a check, or when only known differences remain", () => {
    expect(unmodelledLines(null)).toEqual([]);
    expect(unmodelledLines(undefined)).toEqual([]);
    expect(unmodelledLines(check([], [{ ...difference(1), code: "KNOWN_DIFFERENCE", property: "position", reason: "column order" }]))).toEqual([]);
  });

  it("names catalog, property, object and both values of each difference", () => {
    expect(unmodelledLines(check([difference(1)]))).toEqual(['UNMODELLED_DIFFERENCE pg_attribute.attstorage public.t1.body: expected "x", found "e"']);
  });

  it("shows at most 50, then counts the rest", () => {
    const lines = unmodelledLines(check(Array.from({ length: 53 }, (_, i) => difference(i))));
    expect(lines).toHaveLength(51);
    expect(lines[49]).toContain("public.t49.body");
    expect(lines[50]).toBe("... and 3 more (setpoint schema verify lists them all)");
  });
});
