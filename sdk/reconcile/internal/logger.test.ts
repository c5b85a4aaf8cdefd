import { describe, expect, it } from "vitest";
import { jsonLogger } from "./logger";

describe("jsonLogger", () => {
  it("writes one JSON object per line with merged child fields, dropping debug by default", () => {
    const lines: string[] = [];
    const log = jsonLogger({ write: (l) => lines.push(l), now: () => 0 }).child({ controller: "c" }).child({ reconcileId: "r1" });
    log.debug("hidden");
    log.info("hello", { n: 1 });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: "1970-01-01T00:00:00.000Z", level: "info", msg: "hello", controller: "c", reconcileId: "r1", n: 1 },
    ]);
  });

  it("never throws on fields it cannot serialize", () => {
    const lines: string[] = [];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    jsonLogger({ write: (l) => lines.push(l), now: () => 0 }).error("boom", { cyclic });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "error", msg: "boom", fields: "[unserializable]" });
  });
});
