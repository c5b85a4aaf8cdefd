import { describe, expect, it } from "vitest";
import { resolveOptions } from "./context";
import { memoryStateStore } from "./state";

describe("resolveOptions", () => {
  it("treats options given as undefined as defaults (a CLI or component passes every field)", () => {
    const o = resolveOptions({ blue: "postgres://b/db", green: "postgres://g/db", store: memoryStateStore(), cutoverDeadlineMs: undefined, verify: undefined });
    expect(o.cutoverDeadlineMs).toBe(30_000);
    expect(o.verify).toBe("checksums");
  });

  it("keeps what is given", () => {
    const o = resolveOptions({ blue: "postgres://b/db", green: "postgres://g/db", store: memoryStateStore(), cutoverDeadlineMs: 5000, verify: "counts" });
    expect(o.cutoverDeadlineMs).toBe(5000);
    expect(o.verify).toBe("counts");
  });
});
