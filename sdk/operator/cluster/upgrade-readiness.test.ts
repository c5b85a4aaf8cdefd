import { describe, expect, it } from "vitest";
import { READINESS_REFRESH_MS, readinessDue, readinessStep, type UpgradeReadiness } from "./upgrade-readiness";

const now = new Date("2026-12-06T03:00:00Z");
const readiness = (postgresVersion: number, checkedAt: string, errorsFor: number[] = []): UpgradeReadiness => ({
  postgresVersion,
  checkedAt,
  targets: [17, 18].filter((m) => m > postgresVersion).map((m) => ({ postgresVersion: m, findings: errorsFor.includes(m) ? [{ code: "NO_REPLICA_IDENTITY", severity: "error" as const, object: '"public"."t"', message: "no key", fix: "add a primary key" }] : [] })),
});
const primary = async () => ({ host: "10.0.0.1", password: "x", database: "app", timeoutMs: 1000 });

describe("readinessDue", () => {
  it("is due without a readiness, for another major, and once it is older than the refresh interval", () => {
    expect(readinessDue(undefined, 16, now)).toBe(true);
    expect(readinessDue({ upgradeReadiness: readiness(15, now.toISOString()) }, 16, now)).toBe(true);
    expect(readinessDue({ upgradeReadiness: readiness(16, new Date(now.getTime() - 1000).toISOString()) }, 16, now)).toBe(false);
    expect(readinessDue({ upgradeReadiness: readiness(16, new Date(now.getTime() - READINESS_REFRESH_MS).toISOString()) }, 16, now)).toBe(true);
  });
});

describe("readinessStep", () => {
  const upgrade = { kind: "upgrade" as const, from: 16, to: 17, upgrade: "shop-to-17", green: "shop-v17", until: "switched" as const };
  it("refuses the upgrade before it is created when the live check finds errors, and lets it through when fixed", async () => {
    const calls: unknown[] = [];
    const refused = await readinessStep({
      status: { postgresVersion: 16 },
      decision: upgrade,
      primary,
      now,
      inspect: async (_at, running, at, options) => (calls.push(options), readiness(running, at.toISOString(), [17])),
    });
    expect(calls).toEqual([{ only: 17 }]);
    expect(refused.decision).toMatchObject({ kind: "refuse", running: 16, reason: "UpgradePreflightRefused", message: expect.stringMatching(/NO_REPLICA_IDENTITY "public"\."t".*fix: add a primary key.*set postgresVersion back to 16/) });
    const fixed = await readinessStep({ status: { postgresVersion: 16 }, decision: upgrade, primary, now, inspect: async (_at, running, at) => readiness(running, at.toISOString()) });
    expect(fixed.decision).toBe(upgrade);
  });
  it("refreshes a steady cluster's readiness when due, keeps it otherwise and while an upgrade runs", async () => {
    const fresh = readiness(16, now.toISOString());
    let inspected = 0;
    const inspect = async (_at: unknown, running: number, at: Date) => (inspected++, readiness(running, at.toISOString(), [18]));
    const same = { kind: "same" as const, running: 16 };
    expect((await readinessStep({ status: { postgresVersion: 16, upgradeReadiness: fresh }, decision: same, primary, now, inspect })).readiness).toBe(fresh);
    expect(inspected).toBe(0);
    const later = new Date(now.getTime() + READINESS_REFRESH_MS);
    expect((await readinessStep({ status: { postgresVersion: 16, upgradeReadiness: fresh }, decision: same, primary, now: later, inspect })).readiness?.targets.find((t) => t.postgresVersion === 18)?.findings).toHaveLength(1);
    expect(inspected).toBe(1);
    const running = { postgresVersion: 16, upgradeReadiness: fresh, upgrade: { name: "shop-to-17", green: "shop-v17", from: 16, to: 17, phase: "replicating" } };
    expect((await readinessStep({ status: running, decision: upgrade, primary, now: later, inspect })).decision).toBe(upgrade);
    expect(inspected).toBe(1);
  });
  it("keeps the last readiness and the decision when the primary cannot be inspected", async () => {
    const last = readiness(16, "2026-12-06T01:00:00Z", [17]);
    const out = await readinessStep({ status: { postgresVersion: 16, upgradeReadiness: last }, decision: { kind: "same", running: 16 }, primary, now, inspect: async () => { throw new Error("connection refused"); } });
    expect(out).toEqual({ readiness: last, decision: { kind: "same", running: 16 }, error: "connection refused" });
  });
});
