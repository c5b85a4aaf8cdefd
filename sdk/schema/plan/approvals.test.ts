import { describe, expect, it } from "vitest";
import { allowedForPlan, hashMatches, planHash } from "./approvals";
import type { Plan, PlanStep } from "./plan";

function step(sql: string, codes: string[] = [], extra: Partial<PlanStep> = {}): PlanStep {
  return {
    kind: "dropColumn",
    table: { schema: "public", name: "books" },
    sql: [sql],
    objects: [],
    hazards: codes.map((code) => ({ code, message: `${code} on public.books (about ${Math.round(Math.random() * 1000)} rows)` })),
    transaction: "group",
    transactional: true,
    lockTimeoutMs: 3000,
    statementTimeoutMs: 60000,
    ...extra,
  } as unknown as PlanStep;
}
const planOf = (...steps: PlanStep[]): Plan => ({ steps, unmanaged: [] });

describe("planHash", () => {
  it("is the same for the same statements and hazard codes, whatever the hazard messages say", () => {
    const a = planOf(step("ALTER TABLE books DROP COLUMN x", ["DATA_LOSS_DROP_COLUMN"]));
    const b = planOf(step("ALTER TABLE books DROP COLUMN x", ["DATA_LOSS_DROP_COLUMN"]));
    expect(planHash(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(planHash(a)).toBe(planHash(b));
  });

  it("changes with the SQL, the hazards, the order of steps and the timeouts", () => {
    const base = planHash(planOf(step("A", ["TABLE_REWRITE"]), step("B")));
    expect(planHash(planOf(step("A2", ["TABLE_REWRITE"]), step("B")))).not.toBe(base);
    expect(planHash(planOf(step("A", ["INDEX_BUILD"]), step("B")))).not.toBe(base);
    expect(planHash(planOf(step("B"), step("A", ["TABLE_REWRITE"])))).not.toBe(base);
    expect(planHash(planOf(step("A", ["TABLE_REWRITE"], { lockTimeoutMs: 1 }), step("B")))).not.toBe(base);
  });
});

describe("allowedForPlan", () => {
  const p = planOf(step("ALTER TABLE books ALTER COLUMN pages TYPE bigint", ["TABLE_REWRITE"]));
  const hash = planHash(p);

  it("adds the hazards approved for this plan's hash to allowHazards", () => {
    expect(allowedForPlan(p, ["INDEX_BUILD"], [{ planHash: hash, hazards: ["TABLE_REWRITE"] }])).toEqual(["INDEX_BUILD", "TABLE_REWRITE"]);
    expect(allowedForPlan(p, [], [{ planHash: hash, hazards: "all" }])).toBe("all");
  });

  it("ignores approvals of another plan: they lapse when the plan changes", () => {
    const other = planHash(planOf(step("ALTER TABLE books ALTER COLUMN pages TYPE numeric", ["TABLE_REWRITE"])));
    expect(allowedForPlan(p, [], [{ planHash: other, hazards: ["TABLE_REWRITE"] }])).toEqual([]);
  });

  it("accepts the hash without its prefix, or shortened to 12 hex digits, but not shorter", () => {
    const hex = hash.slice("sha256:".length);
    expect(hashMatches(hex, hash)).toBe(true);
    expect(hashMatches(`sha256:${hex.slice(0, 12)}`, hash)).toBe(true);
    expect(hashMatches(hex.slice(0, 11), hash)).toBe(false);
    expect(allowedForPlan(p, [], [{ planHash: hex.slice(0, 16), hazards: ["TABLE_REWRITE"] }])).toEqual(["TABLE_REWRITE"]);
  });

  it("keeps allowHazards \"all\" as it is", () => {
    expect(allowedForPlan(p, "all", [])).toBe("all");
  });
});
