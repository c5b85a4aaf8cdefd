/**
 * A coalescing, delaying, rate-limited work queue with client-go `workqueue` semantics:
 *
 * - a key is queued at most once however often it is added (`dirty` set);
 * - a key handed out by {@link WorkQueue.get} is `processing` until {@link WorkQueue.done};
 *   adding it meanwhile only marks it dirty, and `done` re-queues it once, so one key is never
 *   processed by two workers at the same time;
 * - delayed adds keep the earliest due time per key;
 * - after {@link WorkQueue.shutDown} new adds are ignored, queued keys are still handed out
 *   (drain), and `get` resolves `undefined` once nothing is left.
 */
import { realClock, type Clock, type TimerHandle } from "./clock";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter";

/** Observes a queue, e.g. to export metrics. Every hook is optional and must not throw. */
export interface QueueObserver {
  /** The number of queued (not processing) keys changed. */
  depth?(n: number): void;
  /** A key was added (including coalesced adds). */
  added?(): void;
  /** A key was re-added through the rate limiter. */
  retried?(): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Time source for delayed adds. @default realClock */
  clock?: Clock;
  /** Delay policy of {@link WorkQueue.addRateLimited}. @default defaultControllerRateLimiter(clock) */
  rateLimiter?: RateLimiter;
  /** Metrics hooks. */
  observer?: QueueObserver;
}

/** Options of {@link WorkQueue.shutDown}. */
export interface ShutDownOptions {
  /**
   * Drop queued keys instead of draining them (e.g. leadership was lost and another replica
   * now owns the work). Keys already being processed are unaffected.
   * @default false
   */
  discard?: boolean;
}

/** See the module documentation. */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;
  private readonly observer: QueueObserver;
  /** FIFO of keys ready to hand out; a key appears at most once. */
  private queue: string[] = [];
  private head = 0;
  /** Keys that need processing: queued ones, and processing ones that were added again. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { due: number; timer: TimerHandle }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private discarding = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(this.clock);
    this.observer = options.observer ?? {};
  }

  /** Queues `key` unless it is already queued; if it is being processed, re-queues it once on `done`. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.observer.added?.();
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /**
   * Adds `key` after `ms` milliseconds (at once when `ms <= 0`). A key already waiting keeps
   * the earlier of the two due times.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const due = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      this.clock.clearTimeout(existing.timer);
    }
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { due, timer });
  }

  /** Adds `key` after the delay the rate limiter assigns to its next failure. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.observer.retried?.();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Clears the failure history of `key` in the rate limiter (it does not dequeue the key). */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** How many times `key` has been re-added through the rate limiter since it was last forgotten. */
  numRequeues(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /**
   * The next key to process, marked processing until {@link done}; waits while the queue is
   * empty. Resolves `undefined` once the queue is shut down and has nothing left to hand out.
   */
  get(): Promise<string | undefined> {
    const key = this.pop();
    if (key !== undefined) return Promise.resolve(key);
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends processing of `key`; if it was added meanwhile, queues it again. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key)) {
      if (this.discarding) this.dirty.delete(key);
      else this.push(key);
    }
    this.notifyIdle();
  }

  /**
   * Stops accepting keys and cancels delayed adds. Queued keys are still handed out unless
   * `discard` is set; pending and later `get` calls resolve `undefined` once none are left.
   */
  shutDown(options: ShutDownOptions = {}): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) this.clock.clearTimeout(timer);
    this.waiting.clear();
    if (options.discard) {
      this.discarding = true;
      for (const key of this.queue.slice(this.head)) this.dirty.delete(key);
      this.queue = [];
      this.head = 0;
      this.observer.depth?.(0);
    }
    // Any getter still waiting has an empty queue in front of it: nothing more will arrive.
    for (const resolve of this.getters.splice(0)) resolve(undefined);
    this.notifyIdle();
  }

  /** True once {@link shutDown} was called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Resolves when the queue is shut down and no key is queued or processing. */
  drained(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Number of keys queued and not yet handed out (processing and delayed keys excluded). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Number of keys handed out and not yet `done`. */
  processingCount(): number {
    return this.processing.size;
  }

  /** Number of keys waiting for a delayed add. */
  waitingCount(): number {
    return this.waiting.size;
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter !== undefined) {
      this.startProcessing(key);
      getter(key);
      return;
    }
    this.queue.push(key);
    this.observer.depth?.(this.len());
  }

  private pop(): string | undefined {
    if (this.head >= this.queue.length) return undefined;
    const key = this.queue[this.head++]!;
    // Compact now and then so a long-running queue does not keep every key it ever held.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.startProcessing(key);
    this.observer.depth?.(this.len());
    return key;
  }

  private startProcessing(key: string): void {
    this.processing.add(key);
    this.dirty.delete(key);
  }

  private isIdle(): boolean {
    return this.shuttingDown && this.len() === 0 && this.processing.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
