import { describe, expect, it } from "vitest";
import { WeightedLru } from "./lru";

describe("WeightedLru", () => {
  it("forgets the least recently used entries once the total weight passes the limit", () => {
    const lru = new WeightedLru<string, number[]>(10, (v) => v.length);
    lru.set("a", [1, 2, 3]);
    lru.set("b", [1, 2, 3]);
    lru.set("c", [1, 2, 3]);
    expect(lru.get("a")).toEqual([1, 2, 3]); // a is now the most recent
    lru.set("d", [1, 2]); // 11 > 10: b, the least recently used, goes
    expect([lru.get("b"), lru.size, lru.weight]).toEqual([undefined, 3, 8]);
    expect(lru.get("c")).toBeDefined();
  });

  it("keeps an entry heavier than the limit until the next one arrives, and replaces a key's weight", () => {
    const lru = new WeightedLru<string, string>(4, (v) => v.length);
    lru.set("big", "xxxxxxxx");
    expect(lru.get("big")).toBe("xxxxxxxx");
    lru.set("big", "xx");
    expect(lru.weight).toBe(2);
    lru.set("small", "y");
    expect([lru.size, lru.weight]).toEqual([2, 3]);
    lru.set("huge", "zzzzzzzzzz");
    expect([lru.get("big"), lru.get("small"), lru.get("huge")]).toEqual([undefined, undefined, "zzzzzzzzzz"]);
    lru.clear();
    expect([lru.size, lru.weight]).toEqual([0, 0]);
  });
});
