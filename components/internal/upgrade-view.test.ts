import { describe, expect, it } from "vitest";
import { planSteps, type PreflightReport, type UpgradeState } from "../../sdk/upgrade/index";
import { CUTOVER_DONE, upgradeState as state } from "../../test/support/upgrade-state";
import { parseUpgradeInputs } from "../upgrade-args";
import { describeStep, formatBytes, planView, preflightLines, refusalText, requestOf, summaryOf } from "./upgrade-view";

const SWITCHED_DONE: Partial<UpgradeState> = { cutover: CUTOVER_DONE };

describe("refusalText and requestOf", () => {
  it("puts the engine's refusals in the resource's words: what is wrong, then what to change", () => {
    const ended = planSteps(state("aborted", { history: [{ phase: "synchronize", status: "Failed", startedAt: 1, durationMs: 2, message: "blue retained 9 bytes of WAL" }] }), requestOf({ until: "switched", finalize: false, rollback: false }));
    expect(refusalText(ended.refusal!)).toBe(
      "the upgrade was aborted (last: synchronize failed: blue retained 9 bytes of WAL); it does not start again by itself. " +
        "Set rollback to true to keep it that way, or delete this resource (or give a new stateKey), empty green and create the upgrade again",
    );
    const finalized = planSteps(state("finalized"), requestOf({ until: "switched", finalize: false, rollback: true }));
    expect(refusalText(finalized.refusal!)).toBe("the upgrade was finalized, so its rollback path no longer exists; set rollback to false (green keeps serving)");
  });

  it("asks for a rollback, or a run up to until that finalizes when asked", () => {
    expect(requestOf({ until: "synchronized", finalize: false, rollback: true })).toEqual({ operation: "rollback" });
    expect(requestOf({ until: "synchronized", finalize: false, rollback: false })).toEqual({ operation: "run", until: "synchronized", finalize: false });
    expect(requestOf({ until: "switched", finalize: true, rollback: false })).toEqual({ operation: "run", until: "switched", finalize: true });
  });
});

describe("describeStep and planView", () => {
  const inputs = parseUpgradeInputs({ stateKey: "k", blue: "postgres://blue/app", green: "postgres://green/app" });

  it("says what each step does with these arguments", () => {
    expect(describeStep("schema", inputs, undefined)).toBe("schema: copy blue's schema to green by introspection");
    const withSchema = parseUpgradeInputs({ ...inputs, schema: { files: [{ name: "a", sql: "" }, { name: "b", sql: "" }] } });
    expect(describeStep("schema", withSchema, undefined)).toBe("schema: apply the schema definition (2 file(s)) on green");
    expect(describeStep("schema", inputs, state("synchronized"))).toBe("schema: blue grew tables since replication started: add them to green and the publication, copy them");
    expect(describeStep("synchronize", inputs, undefined)).toBe("synchronize: wait for the initial copy; abort and drop the slot if blue retains over 8.0 GiB of WAL");
    expect(describeStep("cutover", inputs, undefined)).toBe("cutover: close logins on blue, wait for green, sync sequences, switch none, verify checksums; abort after 30000 ms");
    const pgb = parseUpgradeInputs({ ...inputs, traffic: { kind: "pgbouncer", admin: "postgres://a@p:6432/pgbouncer", databasesFile: "/f", databases: [{ name: "app", blue: "postgres://b/app", green: "postgres://g/app" }] } });
    expect(describeStep("cutover", pgb, undefined)).toBe("cutover: pause pgbouncer, wait for green, sync sequences, switch pgbouncer, verify checksums; abort after 30000 ms");
    expect(describeStep("cutover", inputs, state("switched"))).toMatch(/^cutover: complete the switch interrupted after traffic moved/);
    expect(describeStep("rollback", inputs, state("replicating"))).toMatch(/^rollback: abort/);
    expect(describeStep("rollback", inputs, state("switched"))).toMatch(/^rollback: fence green/);
  });

  it("keeps every line within Pulumi's display width", () => {
    const longest = parseUpgradeInputs({
      ...inputs,
      traffic: { kind: "kubernetes-secret", namespace: "n", name: "s", blue: { a: "1" }, green: { a: "2" } },
      verifyBeforeSwitch: true,
      cutoverDeadlineMs: 3_600_000,
      schema: { files: [{ name: "a", sql: "" }] },
    });
    for (const step of ["preflight", "schema", "replicate", "synchronize", "cutover", "finalize", "rollback"] as const) {
      for (const s of [undefined, state("synchronized"), state("switched")]) expect(describeStep(step, longest, s).length, step).toBeLessThanOrEqual(150);
    }
  });

  it("renders one line per step and the traffic switch", () => {
    const view = planView(inputs, undefined, ["preflight", "finalize"]);
    expect(view.plannedSteps).toEqual([expect.stringMatching(/^preflight: /), expect.stringMatching(/^finalize: /)]);
    expect(view.trafficSummary).toMatch(/^none: /);
  });
});

describe("preflightLines", () => {
  it("gives a summary line, then each finding followed by its fix", () => {
    const report: PreflightReport = {
      ok: false,
      blue: { major: 16, database: "app", tables: 3, bytes: 3 * 1024 * 1024 },
      green: { major: 17, database: "app", tables: 0, bytes: 0 },
      findings: [
        { code: "NO_REPLICA_IDENTITY", severity: "error", side: "blue", object: "public.logs", message: "table public.logs has no primary key", fix: "add a primary key" },
        { code: "LARGE_OBJECTS", severity: "warning", side: "blue", message: "blue holds 1 large object(s)", fix: "move them into bytea columns" },
      ],
    };
    expect(preflightLines(report)).toEqual([
      "REFUSED: blue PostgreSQL 16 (app, 3 table(s), 3.0 MiB) -> green PostgreSQL 17 (app, 0 table(s))",
      "error NO_REPLICA_IDENTITY (blue public.logs): table public.logs has no primary key",
      "fix: add a primary key",
      "warning LARGE_OBJECTS (blue): blue holds 1 large object(s)",
      "fix: move them into bytea columns",
    ]);
    expect(preflightLines(null)).toEqual([]);
  });
});

describe("summaryOf", () => {
  it("summarizes a state without anything secret, and a missing one as new", () => {
    const s = summaryOf(state("switched", { ...SWITCHED_DONE, blueMajor: 16, greenMajor: 17, switchedAt: 5, fences: [{ side: "blue", database: "app", aclBefore: null, revoked: [] }] }));
    expect(s).toEqual({
      id: "abc123",
      phase: "switched",
      blueMajor: 16,
      greenMajor: 17,
      blue: "closed to logins; receiving green's writes (rollback path)",
      green: "serving",
      history: [],
      verification: null,
      writePauseMs: 42,
      switchedAt: 5,
    });
    expect(summaryOf(undefined)).toMatchObject({ id: "", phase: "new", blue: "serving, unchanged", writePauseMs: null });
  });
});

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(8 * 1024 ** 3)).toBe("8.0 GiB");
  });
});
