/**
 * The controller loop: bounded parallel workers pull keys from a {@link WorkQueue} and call a
 * {@link Reconciler}, mapping each outcome onto the queue the way controller-runtime does:
 *
 * | outcome                         | queue                            | `result` label |
 * |---------------------------------|----------------------------------|----------------|
 * | resolved, no `requeueAfterMs`   | `forget`                         | `success`      |
 * | resolved with `requeueAfterMs`  | `forget`, `addAfter`             | `requeue`      |
 * | threw {@link TerminalError}     | `forget` (no retry)              | `terminal`     |
 * | threw anything else             | `addRateLimited` (backoff)       | `error`        |
 */
import { randomUUID } from "node:crypto";
import {
  isTerminalError,
  parseRequestKey,
  requestKey,
  type Logger,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from "../index";
import { realClock, type Clock } from "./clock";
import { noopLogger } from "./logger";
import { defaultRegistry, type Counter, type Gauge, type Histogram, type MetricsRegistry } from "./metrics";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter";
import { NORMAL_PRIORITY, WorkQueue } from "./work-queue";

/** The `result` label of `setpoint_reconcile_total`. */
export type ReconcileOutcome = "success" | "requeue" | "error" | "terminal";

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** Name in logs and metric labels, e.g. `postgresschema`. */
  name: string;
  /** The reconciler to drive. */
  reconciler: Reconciler;
  /** Maximum number of reconciles in flight at once. @default 1 */
  concurrency?: number;
  /** Time source for delays, durations and `ctx.now()`. @default realClock */
  clock?: Clock;
  /** Delay policy for failed keys. @default defaultControllerRateLimiter(clock) */
  rateLimiter?: RateLimiter;
  /** Base logger; each reconcile gets a child with its key and id. @default noopLogger */
  logger?: Logger;
  /** Where metrics are registered. @default defaultRegistry */
  metrics?: MetricsRegistry;
  /** Generates reconcile ids. @default crypto.randomUUID */
  newReconcileId?: () => string;
  /**
   * Called after every failed reconcile (thrown error, terminal or not) unless the controller is
   * stopping, to report the error where users look: every controller of a resource with status
   * passes `reportFailureInStatus` (./status.ts), so the status says what is wrong now. Its own
   * errors are logged, never retried.
   * @default undefined (the error is only logged and counted)
   */
  onFailure?: (ctx: ReconcileContext, req: Request, err: unknown) => Promise<void>;
}

/** Options of {@link Controller.stop}. */
export interface StopOptions {
  /**
   * Stop at once instead of draining: drop queued keys and abort the signal of every
   * reconcile in flight (still awaited). Use when leadership is lost.
   * @default false
   */
  abort?: boolean;
}

interface ControllerMetrics {
  total: Counter;
  duration: Histogram;
  depth: Gauge;
  active: Gauge;
  adds: Counter;
  retries: Counter;
}

function registerMetrics(registry: MetricsRegistry): ControllerMetrics {
  return {
    total: registry.counter("setpoint_reconcile_total", "Reconciles by controller and result (success, requeue, error, terminal).", ["controller", "result"]),
    duration: registry.histogram("setpoint_reconcile_duration_seconds", "Time per reconcile, in seconds.", ["controller"]),
    depth: registry.gauge("setpoint_workqueue_depth", "Keys waiting in the work queue (not processing, not delayed).", ["controller"]),
    active: registry.gauge("setpoint_reconcile_active_workers", "Reconciles in flight.", ["controller"]),
    adds: registry.counter("setpoint_workqueue_adds_total", "Keys added to the work queue, including coalesced adds.", ["controller"]),
    retries: registry.counter("setpoint_workqueue_retries_total", "Keys re-added with backoff after an error.", ["controller"]),
  };
}

/** Message of a thrown value, never its stack, cause or own properties (which may hold secrets). */
function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/** See the module documentation. Create, {@link start}, feed with {@link enqueue}, {@link stop}. */
export class Controller {
  /** The controller's name, as in its options. */
  readonly name: string;
  /** The controller's work queue; sources add keys to it. */
  readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly concurrency: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics;
  private readonly labels: { controller: string };
  private readonly newReconcileId: () => string;
  private readonly onFailure: ControllerOptions["onFailure"];
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private started = false;

  /** @throws {RangeError} when `concurrency` is not a positive integer. */
  constructor(options: ControllerOptions) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`controller ${options.name}: concurrency must be a positive integer, got ${concurrency}`);
    }
    this.name = options.name;
    this.reconciler = options.reconciler;
    this.concurrency = concurrency;
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? noopLogger).child({ controller: options.name });
    this.newReconcileId = options.newReconcileId ?? randomUUID;
    this.onFailure = options.onFailure;
    this.labels = { controller: options.name };
    this.metrics = registerMetrics(options.metrics ?? defaultRegistry);
    this.queue = new WorkQueue({
      clock: this.clock,
      rateLimiter: options.rateLimiter ?? defaultControllerRateLimiter(this.clock),
      observer: {
        depth: (n) => this.metrics.depth.set(this.labels, n),
        added: () => this.metrics.adds.inc(this.labels),
        retried: () => this.metrics.retries.inc(this.labels),
      },
    });
  }

  /**
   * Queues a reconcile of `req` (coalesced with any pending one for the same key).
   * @param priority higher runs first; periodic resyncs pass `LOW_PRIORITY`. @default NORMAL_PRIORITY
   */
  enqueue(req: Request, priority: number = NORMAL_PRIORITY): void {
    this.queue.add(requestKey(req), priority);
  }

  /** Queues a reconcile of `req` after `ms` milliseconds. */
  enqueueAfter(req: Request, ms: number): void {
    this.queue.addAfter(requestKey(req), ms);
  }

  /**
   * Starts the workers. Keys enqueued before `start` are processed once it runs.
   * @throws {Error} when called twice.
   */
  start(): void {
    if (this.started) throw new Error(`controller ${this.name} already started`);
    this.started = true;
    this.log.info("starting workers", { concurrency: this.concurrency });
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.worker());
  }

  /**
   * Stops the controller and resolves when every worker has exited. By default queued keys are
   * still reconciled (drain) and delayed ones are dropped; see {@link StopOptions.abort}.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (options.abort) this.abort.abort(new Error(`controller ${this.name} stopped`));
    this.queue.shutDown({ discard: options.abort ?? false });
    await Promise.all(this.workers);
    this.workers = [];
    this.log.info("stopped");
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const req = parseRequestKey(key);
    const reconcileId = this.newReconcileId();
    const log = this.log.child({ namespace: req.namespace, name: req.name, reconcileId });
    const ctx: ReconcileContext = {
      reconcileId,
      log,
      signal: this.abort.signal,
      now: () => new Date(this.clock.now()),
    };
    const started = this.clock.now();
    this.metrics.active.add(this.labels, 1);
    let outcome: ReconcileOutcome;
    let failure: { err: unknown } | undefined;
    try {
      const result: Result | void = await this.reconciler(ctx, req);
      this.queue.forget(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined && after > 0) {
        this.queue.addAfter(key, after);
        outcome = "requeue";
      } else {
        outcome = "success";
      }
      log.debug("reconciled", after !== undefined && after > 0 ? { requeueAfterMs: after } : undefined);
    } catch (err) {
      failure = { err };
      if (isTerminalError(err)) {
        this.queue.forget(key);
        outcome = "terminal";
        log.error("reconcile failed; not retrying (terminal error)", { error: errorMessage(err), code: errorCode(err) });
      } else {
        this.queue.addRateLimited(key);
        outcome = "error";
        log.error("reconcile failed; will retry with backoff", {
          error: errorMessage(err),
          code: errorCode(err),
          retries: this.queue.numRequeues(key),
        });
      }
    } finally {
      this.metrics.active.add(this.labels, -1);
    }
    // A controller that stops (lost leadership) must not write: another one may lead already.
    if (failure !== undefined && this.onFailure !== undefined && !ctx.signal.aborted) {
      try {
        await this.onFailure(ctx, req, failure.err);
      } catch (err) {
        log.error("could not report the failure", { error: errorMessage(err), code: errorCode(err) });
      }
    }
    this.metrics.total.inc({ ...this.labels, result: outcome });
    this.metrics.duration.observe(this.labels, (this.clock.now() - started) / 1000);
  }
}
