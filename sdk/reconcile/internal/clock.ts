/**
 * Time as a dependency: every timer in the controller runtime goes through a {@link Clock}, so
 * unit tests drive backoff, requeues and rate limits with {@link FakeClock} instead of waiting.
 */

/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = object;

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds (`ms <= 0`: as soon as possible, asynchronously). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; a no-op for a timer that already fired or was cleared. */
  clearTimeout(handle: TimerHandle): void;
}

/** The wall clock and Node's timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface FakeTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/**
 * A manual clock for tests. Time moves only through {@link FakeClock.advance}, which fires due
 * timers in order of due time (ties in creation order), each with `now()` equal to its due time.
 */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  /** @param startMs the initial `now()`. @default 0 */
  constructor(startMs = 0) {
    this.current = startMs;
  }

  /** The fake current time in milliseconds. */
  now(): number {
    return this.current;
  }

  /** Registers a timer due at `now() + max(ms, 0)`; it fires only during {@link advance}. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    this.timers.set(timer.id, timer);
    return { id: timer.id };
  }

  /** Cancels a timer created by this clock. */
  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /**
   * Moves time forward by `ms`, firing every timer that becomes due, including timers that
   * firing callbacks create within the window.
   * @throws {RangeError} when `ms` is negative.
   */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`advance(ms): ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.due > target) break;
      this.timers.delete(next.id);
      this.current = next.due;
      next.fn();
    }
    this.current = target;
  }

  /** Number of timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    return this.earliest()?.due;
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers.values()) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    }
    return best;
  }
}
