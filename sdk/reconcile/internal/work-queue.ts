/**
 * A coalescing, delaying, rate-limited work queue with client-go `workqueue` semantics:
 *
 * - a key is queued at most once however often it is added (`dirty` set);
 * - a key handed out by {@link WorkQueue.get} is `processing` until {@link WorkQueue.done};
 *   adding it meanwhile only marks it dirty, and `done` re-queues it once, so one key is never
 *   processed by two workers at the same time;
 * - delayed adds keep the earliest due time per key;
 * - keys carry a priority (as controller-runtime's priority queue): {@link WorkQueue.get} hands
 *   out the highest priority first, FIFO within one priority; adding a queued key again with a
 *   higher priority raises it. Periodic resyncs use {@link LOW_PRIORITY}, so that with many
 *   objects a resync pass never delays new events and retries (a full pass of 1,000 slow
 *   reconciles would otherwise stand in front of every one of them);
 * - after {@link WorkQueue.shutDown} new adds are ignored, queued keys are still handed out
 *   (drain), and `get` resolves `undefined` once nothing is left.
 */
import { realClock, type Clock, type TimerHandle } from "./clock";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter";

/** Priority of events and retries. */
export const NORMAL_PRIORITY = 0;
/** Priority of periodic resyncs: handed out only when nothing more urgent is queued. */
export const LOW_PRIORITY = -100;

/** A FIFO of keys at one priority; entries whose key moved to another level are skipped. */
interface Level {
  readonly priority: number;
  items: string[];
  head: number;
}

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
  /** FIFOs of keys ready to hand out, highest priority first. */
  private levels: Level[] = [];
  /** Priority of each queued key (the level whose entry for it is live). */
  private readonly queued = new Map<string, number>();
  /**
   * Keys that need processing, with the highest priority asked for: queued ones, and
   * processing ones that were added again (queued on `done` at that priority).
   */
  private readonly dirty = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { due: number; priority: number; timer: TimerHandle }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private discarding = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(this.clock);
    this.observer = options.observer ?? {};
  }

  /**
   * Queues `key` unless it is already queued (then it only raises its priority); if it is being
   * processed, re-queues it once on `done`.
   * @param priority higher is handed out first. @default NORMAL_PRIORITY
   */
  add(key: string, priority: number = NORMAL_PRIORITY): void {
    if (this.shuttingDown) return;
    this.observer.added?.();
    const was = this.dirty.get(key);
    if (was !== undefined && was >= priority) return;
    this.dirty.set(key, priority);
    if (this.processing.has(key)) return;
    this.push(key, priority);
  }

  /**
   * Adds `key` after `ms` milliseconds (at once when `ms <= 0`). A key already waiting keeps
   * the earlier of the two due times and the higher of the two priorities.
   * @param priority see {@link add}. @default NORMAL_PRIORITY
   */
  addAfter(key: string, ms: number, priority: number = NORMAL_PRIORITY): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key, priority);
      return;
    }
    const due = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) {
        if (priority > existing.priority) this.waiting.set(key, { ...existing, priority });
        return;
      }
      this.clock.clearTimeout(existing.timer);
      priority = Math.max(priority, existing.priority);
    }
    const timer = this.clock.setTimeout(() => {
      const entry = this.waiting.get(key);
      this.waiting.delete(key);
      this.add(key, entry?.priority ?? priority);
    }, ms);
    this.waiting.set(key, { due, priority, timer });
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
    const priority = this.dirty.get(key);
    if (priority !== undefined) {
      if (this.discarding) this.dirty.delete(key);
      else this.push(key, priority);
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
      for (const key of this.queued.keys()) this.dirty.delete(key);
      this.queued.clear();
      this.levels = [];
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
    return this.queued.size;
  }

  /** Number of keys handed out and not yet `done`. */
  processingCount(): number {
    return this.processing.size;
  }

  /** Number of keys waiting for a delayed add. */
  waitingCount(): number {
    return this.waiting.size;
  }

  private push(key: string, priority: number): void {
    const getter = this.getters.shift();
    if (getter !== undefined) {
      this.startProcessing(key);
      getter(key);
      return;
    }
    // A key queued at a lower priority moves up; its old entry is skipped when reached.
    this.queued.set(key, priority);
    let level = this.levels.find((l) => l.priority === priority);
    if (level === undefined) {
      level = { priority, items: [], head: 0 };
      this.levels.push(level);
      this.levels.sort((a, b) => b.priority - a.priority);
    }
    level.items.push(key);
    this.observer.depth?.(this.len());
  }

  private pop(): string | undefined {
    for (const level of this.levels) {
      while (level.head < level.items.length) {
        const key = level.items[level.head++]!;
        // Compact now and then so a long-running queue does not keep every key it ever held.
        if (level.head > 1024 && level.head * 2 > level.items.length) {
          level.items = level.items.slice(level.head);
          level.head = 0;
        }
        if (this.queued.get(key) !== level.priority) continue; // moved to another level
        this.queued.delete(key);
        this.startProcessing(key);
        this.observer.depth?.(this.len());
        return key;
      }
    }
    return undefined;
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
