import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock";
import { Expectations } from "./expectations";

describe("Expectations", () => {
  it("is satisfied for an unknown key", () => {
    expect(new Expectations().satisfied("ns/a")).toBe(true);
  });

  it("is unsatisfied until every expected creation was observed", () => {
    const e = new Expectations({ clock: new FakeClock() });
    e.expectCreations("ns/a", 2);
    expect(e.satisfied("ns/a")).toBe(false);
    expect(e.pending("ns/a")).toEqual({ adds: 2, dels: 0 });
    e.creationObserved("ns/a");
    expect(e.satisfied("ns/a")).toBe(false);
    e.creationObserved("ns/a");
    expect(e.satisfied("ns/a")).toBe(true);
    // More observations than expected (e.g. someone else created one too) stay satisfied.
    e.creationObserved("ns/a");
    expect(e.satisfied("ns/a")).toBe(true);
    expect(e.pending("ns/a")).toEqual({ adds: 0, dels: 0 });
    expect(e.satisfied("ns/b")).toBe(true);
  });

  it("tracks deletions the same way, and forgets a key on delete", () => {
    const e = new Expectations({ clock: new FakeClock() });
    e.expectDeletions("ns/a", 1);
    expect(e.satisfied("ns/a")).toBe(false);
    e.deletionObserved("ns/a");
    expect(e.satisfied("ns/a")).toBe(true);
    e.expectCreations("ns/a", 1);
    e.delete("ns/a");
    expect(e.satisfied("ns/a")).toBe(true);
  });

  it("expires an unobserved expectation after the TTL on the injected clock", () => {
    const clock = new FakeClock(1000);
    const e = new Expectations({ clock, ttlMs: 60_000 });
    e.expectCreations("ns/a", 1);
    clock.advance(60_000);
    expect(e.satisfied("ns/a")).toBe(false);
    clock.advance(1);
    expect(e.satisfied("ns/a")).toBe(true);
  });

  it("ignores observations for keys without a record", () => {
    const e = new Expectations();
    e.creationObserved("ns/a");
    e.deletionObserved("ns/a");
    expect(e.satisfied("ns/a")).toBe(true);
  });

  it("rejects a non-positive TTL", () => {
    expect(() => new Expectations({ ttlMs: 0 })).toThrow(RangeError);
  });
});
