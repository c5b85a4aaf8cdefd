import { describe, expect, it } from "vitest";
import { pauseDecision, POOLER_PAUSE_LIMIT_MS, poolerFilesHash } from "./pooler-sync";

describe("pauseDecision", () => {
  it("holds clients while the switchover is in progress, even when the pooler already points at a primary", () => {
    expect(pauseDecision({ holding: true, onPrimary: true, heldMs: 1000 }).kind).toBe("Hold");
    expect(pauseDecision({ holding: true, onPrimary: false, heldMs: 1000 }).kind).toBe("Hold");
  });

  it("holds them until the pooler points at the confirmed primary, then resumes", () => {
    expect(pauseDecision({ holding: false, onPrimary: false, heldMs: 1000 })).toEqual({ kind: "Hold", reason: "it does not point at the confirmed primary yet" });
    expect(pauseDecision({ holding: false, onPrimary: true, heldMs: 1000 }).kind).toBe("Resume");
  });

  it("never holds them past the limit, switchover or not", () => {
    expect(pauseDecision({ holding: true, onPrimary: false, heldMs: POOLER_PAUSE_LIMIT_MS + 1 }).kind).toBe("ResumeUnconfirmed");
    expect(pauseDecision({ holding: false, onPrimary: false, heldMs: POOLER_PAUSE_LIMIT_MS + 1 }).kind).toBe("ResumeUnconfirmed");
    expect(pauseDecision({ holding: false, onPrimary: false, heldMs: POOLER_PAUSE_LIMIT_MS }).kind).toBe("Hold");
  });
});

describe("the pooler's files hash", () => {
  it("changes with each file the pod reads, its trust bundle included", () => {
    const before = poolerFilesHash({ ini: "i1", auth: "a1", serial: "S1", trust: "t1" });
    expect(before).toBe("i1.a1.S1.t1");
    expect(poolerFilesHash({ ini: "i1", auth: "a1", serial: "S1", trust: "t2" })).not.toBe(before);
    expect(poolerFilesHash({ trust: "t1" })).toBe("...t1");
  });
});
