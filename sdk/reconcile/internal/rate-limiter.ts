/**
 * How long to wait before retrying a key: per-key exponential backoff, a global token bucket,
 * and the maximum of several limiters (the semantics of client-go's
 * `DefaultTypedControllerRateLimiter`, written against an injected {@link Clock}).
 */
import { realClock, type Clock } from "./clock";

/** Decides the delay before a key is retried. */
export interface RateLimiter {
  /** Records one more failure of `key` and returns how many milliseconds to wait before retrying it. */
  when(key: string): number;
  /** Clears the failure history of `key` (after a success, or when the key is dropped). */
  forget(key: string): void;
  /** How many failures of `key` have been recorded since it was last forgotten. */
  retries(key: string): number;
}

/** Options of {@link ExponentialBackoffLimiter}. */
export interface ExponentialBackoffOptions {
  /** Delay after the first failure, in ms. @default 5 */
  baseDelayMs?: number;
  /** Upper bound of the delay, in ms. @default 1_000_000 (1000 s) */
  maxDelayMs?: number;
}

/**
 * Per-key exponential backoff: the n-th consecutive failure of a key (counting from 0) waits
 * `baseDelayMs * 2^n`, capped at `maxDelayMs`: 5 ms, 10 ms, 20 ms, ... 1000 s by default.
 */
export class ExponentialBackoffLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  /** @throws {RangeError} when a delay is negative or the base exceeds the maximum. */
  constructor(options: ExponentialBackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError(
        `backoff delays must satisfy 0 <= baseDelayMs <= maxDelayMs, got baseDelayMs=${this.baseDelayMs}, maxDelayMs=${this.maxDelayMs}`,
      );
    }
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity past n = 1023; the cap keeps the result finite either way.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Options of {@link TokenBucketLimiter}. */
export interface TokenBucketOptions {
  /** Tokens added per second. @default 10 */
  qps?: number;
  /** Bucket size, i.e. how many retries may go out at once. @default 100 */
  burst?: number;
  /** Time source. @default realClock */
  clock?: Clock;
}

/**
 * A global token bucket shared by all keys: each `when` reserves one token and returns how
 * long until that token exists (0 while the bucket has tokens). It bounds the overall retry
 * rate however many keys fail at once. It keeps no per-key state.
 */
export class TokenBucketLimiter implements RateLimiter {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  /** @throws {RangeError} when `qps` is not positive or `burst` is below 1. */
  constructor(options: TokenBucketOptions = {}) {
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.clock = options.clock ?? realClock;
    if (!(this.qps > 0)) throw new RangeError(`qps must be > 0, got ${this.qps}`);
    if (!(this.burst >= 1)) throw new RangeError(`burst must be >= 1, got ${this.burst}`);
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  when(_key: string): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    // Reserve the token now, even if it exists only in the future (tokens may go negative),
    // so later callers queue up behind this one.
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  forget(_key: string): void {}

  retries(_key: string): number {
    return 0;
  }
}

/** The maximum of several limiters: each records the failure; the longest delay wins. */
export class MaxOfLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  /** @throws {RangeError} when no limiter is given. */
  constructor(...limiters: RateLimiter[]) {
    if (limiters.length === 0) throw new RangeError("MaxOfLimiter needs at least one limiter");
    this.limiters = limiters;
  }

  when(key: string): number {
    let delay = 0;
    for (const l of this.limiters) delay = Math.max(delay, l.when(key));
    return delay;
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  retries(key: string): number {
    let n = 0;
    for (const l of this.limiters) n = Math.max(n, l.retries(key));
    return n;
  }
}

/**
 * The controller default: per-key backoff from 5 ms doubling to 1000 s, and a global bucket of
 * 10 qps with a burst of 100; the longer delay wins.
 * @param clock time source for the bucket. @default realClock
 */
export function defaultControllerRateLimiter(clock: Clock = realClock): RateLimiter {
  return new MaxOfLimiter(new ExponentialBackoffLimiter(), new TokenBucketLimiter({ clock }));
}
