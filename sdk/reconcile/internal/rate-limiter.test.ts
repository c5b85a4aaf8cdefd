import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock";
import { defaultControllerRateLimiter, ExponentialBackoffLimiter, MaxOfLimiter, TokenBucketLimiter } from "./rate-limiter";

describe("ExponentialBackoffLimiter", () => {
  it("doubles from 5 ms and caps at 1000 s by default", () => {
    const l = new ExponentialBackoffLimiter();
    const delays = Array.from({ length: 30 }, () => l.when("ns/a"));
    expect(delays.slice(0, 6)).toEqual([5, 10, 20, 40, 80, 160]);
    // 5 ms * 2^17 = 655.36 s is the last uncapped delay; 2^18 would be 1310.72 s.
    expect(delays[17]).toBe(655_360);
    expect(delays.slice(18)).toEqual(Array(12).fill(1_000_000));
    expect(l.retries("ns/a")).toBe(30);
  });

  it("stays finite after very many failures", () => {
    const l = new ExponentialBackoffLimiter();
    for (let i = 0; i < 2000; i++) l.when("k");
    expect(l.when("k")).toBe(1_000_000);
  });

  it("tracks keys independently and forget resets one key", () => {
    const l = new ExponentialBackoffLimiter();
    l.when("a");
    l.when("a");
    expect(l.when("b")).toBe(5);
    l.forget("a");
    expect(l.retries("a")).toBe(0);
    expect(l.when("a")).toBe(5);
    expect(l.retries("b")).toBe(1);
  });

  it("rejects inconsistent delays", () => {
    expect(() => new ExponentialBackoffLimiter({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(/baseDelayMs <= maxDelayMs/);
    expect(() => new ExponentialBackoffLimiter({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});

describe("TokenBucketLimiter", () => {
  it("lets a burst through, then spaces requests at 1/qps, refilling with time", () => {
    const clock = new FakeClock();
    const l = new TokenBucketLimiter({ qps: 10, burst: 3, clock });
    expect([l.when("a"), l.when("b"), l.when("c")]).toEqual([0, 0, 0]);
    expect(l.when("d")).toBe(100);
    expect(l.when("e")).toBe(200);
    clock.advance(1000); // +10 tokens, 2 owed, capped at burst 3
    expect([l.when("f"), l.when("g"), l.when("h")]).toEqual([0, 0, 0]);
    expect(l.when("i")).toBe(100);
    expect(l.retries("a")).toBe(0);
  });

  it("rejects a non-positive rate", () => {
    expect(() => new TokenBucketLimiter({ qps: 0 })).toThrow(/qps must be > 0/);
  });
});

describe("MaxOfLimiter", () => {
  it("returns the longest delay and forgets in every limiter", () => {
    const clock = new FakeClock();
    const l = new MaxOfLimiter(new ExponentialBackoffLimiter(), new TokenBucketLimiter({ qps: 1, burst: 1, clock }));
    expect(l.when("a")).toBe(5); // bucket has a token; backoff 5 ms wins
    expect(l.when("a")).toBe(1000); // bucket empty: 1 s wins over 10 ms
    expect(l.retries("a")).toBe(2);
    l.forget("a");
    expect(l.retries("a")).toBe(0);
  });

  it("the controller default behaves as the per-key backoff under light load", () => {
    const l = defaultControllerRateLimiter(new FakeClock());
    expect([l.when("x"), l.when("x"), l.when("x"), l.when("x")]).toEqual([5, 10, 20, 40]);
  });
});
