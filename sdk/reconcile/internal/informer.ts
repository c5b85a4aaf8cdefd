/**
 * A watch-backed cache of one kind, keyed `namespace/name`, built on `@kubernetes/client-node`'s
 * `ListWatch` and hardened against its real semantics (client-node `src/cache.ts`):
 *
 * - a watch that ends normally (server timeout, closed connection) is resumed from the last
 *   resourceVersion by `ListWatch` itself;
 * - 410 Gone (a resourceVersion too old to resume from) makes `ListWatch` relist, and the relist
 *   reports objects deleted meanwhile as deletions, so no object is lost;
 * - any other error (a failed list, a refused connection, a broken stream) makes `ListWatch`
 *   stop for good. This informer restarts it after an exponential backoff on the injected clock;
 *   the restart resumes from the last resourceVersion (or relists when it is gone).
 *
 * Handlers get only the key of a changed object, never the object: a reconciler reads the
 * current state from the cache (ADR 0004).
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { parseRequestKey, requestKey, type Logger } from "../index";
import { realClock, type Clock, type TimerHandle } from "./clock";
import { noopLogger } from "./logger";

/** Exponential backoff of watch restarts. */
export interface RestartBackoff {
  /** Delay before the first restart after a failure. @default 1000 ms */
  readonly initialMs?: number;
  /** Upper bound of the delay. @default 30_000 ms */
  readonly maxMs?: number;
}

/**
 * Delay before restart number `failures` (0-based): `initialMs * 2^failures`, capped at `maxMs`.
 * @param failures consecutive failures so far, not counting this one.
 * @param backoff the policy. @default { initialMs: 1000, maxMs: 30_000 }
 */
export function restartDelayMs(failures: number, backoff: RestartBackoff = {}): number {
  const initial = backoff.initialMs ?? 1000;
  const max = backoff.maxMs ?? 30_000;
  return Math.min(max, initial * 2 ** Math.min(failures, 30));
}

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubernetesObject> {
  /** Credentials and server. */
  kubeConfig: KubeConfig;
  /** Collection path to watch, e.g. `/apis/setpoint.dev/v1alpha1/postgresschemas`. */
  path: string;
  /** Lists the same collection as `path` (the resourceVersion of the list starts the watch). */
  list: () => Promise<KubernetesListObject<T>>;
  /** Server-side timeout of each watch request; the watch is then resumed. @default 300 s */
  watchTimeoutSeconds?: number;
  /** Backoff of restarts after a watch error. @default { initialMs: 1000, maxMs: 30_000 } */
  restartBackoff?: RestartBackoff;
  /** Time source of the restart timer. @default realClock */
  clock?: Clock;
  /** Where restarts and errors are logged. @default noopLogger */
  logger?: Logger;
}

/** A handler of change notifications; it receives the `namespace/name` key only and must not throw. */
export type ChangeHandler = (key: string) => void;

/** The `Watch` that `ListWatch` uses, with our query parameters and hooks on its lifecycle. */
class HookedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: number,
    private readonly hooks: { started(request: AbortController): void; event(): void },
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const params = { ...queryParams, timeoutSeconds: this.timeoutSeconds, allowWatchBookmarks: true };
    const request = await super.watch(
      path,
      params,
      (phase, obj, raw) => {
        this.hooks.event();
        callback(phase, obj, raw);
      },
      done,
    );
    this.hooks.started(request);
    return request;
  }
}

/** See the module documentation. */
export class Informer<T extends KubernetesObject> {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: RestartBackoff;
  private readonly listWatch: ListWatch<T>;
  private readonly handlers = new Set<ChangeHandler>();
  private request: AbortController | undefined;
  private synced = false;
  private running = false;
  private failures = 0;
  private restartTimer: TimerHandle | undefined;

  constructor(options: InformerOptions<T>) {
    this.clock = options.clock ?? realClock;
    this.log = options.logger ?? noopLogger;
    this.backoff = options.restartBackoff ?? {};
    const watch = new HookedWatch(options.kubeConfig, options.watchTimeoutSeconds ?? 300, {
      // ListWatch calls watch() only after a list has been applied to its cache.
      started: (request) => {
        this.synced = true;
        this.request = request;
      },
      event: () => {
        this.failures = 0;
      },
    });
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await options.list();
      this.failures = 0;
      return result;
    };
    this.listWatch = new ListWatch<T>(options.path, watch, list, false);
    const notify = (obj: T): void => {
      const key = requestKey({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" });
      for (const handler of this.handlers) handler(key);
    };
    this.listWatch.on("add", notify);
    this.listWatch.on("update", notify);
    this.listWatch.on("delete", notify);
    this.listWatch.on("error", (err: unknown) => this.onError(err));
  }

  /** Starts listing and watching; resolves once the first list was attempted. Idempotent. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listWatch.start();
  }

  /** Stops watching and cancels a pending restart. The cache keeps its last contents. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.request = undefined;
    await this.listWatch.stop();
  }

  /** True once a list has filled the cache (it stays true across later relists and restarts). */
  hasSynced(): boolean {
    return this.synced;
  }

  /**
   * The cached object of `key`, if any.
   * @param key `namespace/name`, or `name` for a cluster-scoped object.
   */
  get(key: string): T | undefined {
    const { namespace, name } = parseRequestKey(key);
    return this.listWatch.get(name, namespace === "" ? undefined : namespace);
  }

  /** Every cached object. */
  list(): readonly T[] {
    return this.listWatch.list();
  }

  /**
   * Calls `handler` with the key of every object added, changed or deleted (including changes
   * found by a relist). Returns a function that removes the handler.
   */
  onChange(handler: ChangeHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * Breaks the current watch connection as a network failure would (for tests and diagnostics):
   * the informer then goes through its error path and restarts after the backoff.
   * @internal
   */
  interruptWatch(): void {
    this.request?.abort();
  }

  private onError(err: unknown): void {
    // Aborting the request on stop() surfaces as an error too; it is not a failure.
    if (!this.running || this.restartTimer !== undefined) return;
    const delay = restartDelayMs(this.failures, this.backoff);
    this.failures++;
    this.log.error("watch stopped; restarting after backoff", {
      error: err instanceof Error ? err.message : String(err),
      delayMs: delay,
      failures: this.failures,
    });
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.running) return;
      this.listWatch.start().catch((e: unknown) => this.onError(e));
    }, delay);
  }
}
