/**
 * A watch-backed cache of one kind, keyed `namespace/name`, built on `@kubernetes/client-node`'s
 * `ListWatch` and hardened against its real semantics (client-node `src/cache.ts`):
 *
 * - a watch that ends normally (server timeout, closed connection) is resumed from the last
 *   resourceVersion by `ListWatch` itself;
 * - 410 Gone (a resourceVersion too old to resume from, e.g. after etcd compaction) makes
 *   `ListWatch` relist, and the relist reports objects deleted meanwhile as deletions, so no
 *   object is lost;
 * - any other error (a failed list, a refused connection, a broken stream) makes `ListWatch`
 *   stop for good. This informer restarts it after an exponential backoff on the injected clock;
 *   the restart resumes from the last resourceVersion (or relists when it is gone).
 *
 * Reconcilers get only keys, never objects (ADR 0004): they read the current state from the
 * cache. Event handlers ({@link Informer.onEvent}) see the objects, old and new, so that sources
 * can filter events (predicates) and map them to other keys (owners, referrers).
 *
 * With `metadataOnly` the informer lists and watches `PartialObjectMetadata` (name, namespace,
 * labels, annotations, owner references, resourceVersion; no `data`, no `spec`): enough to map
 * Secret or ConfigMap changes to the objects that use them without holding their contents.
 */
import { request, type RequestOptions } from "node:https";
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { parseRequestKey, requestKey, type Logger } from "../index";
import { apiStatusCode } from "./api-error";
import { realClock, type Clock, type TimerHandle } from "./clock";
import { noopLogger } from "./logger";
import { defaultRegistry, type Counter, type MetricsRegistry } from "./metrics";

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

/** Accept header of a metadata-only watch (each event carries a `PartialObjectMetadata`). */
export const METADATA_WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
/** Accept header of a metadata-only list. */
export const METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubernetesObject> {
  /** Credentials and server. */
  kubeConfig: KubeConfig;
  /** Collection path to list and watch, e.g. `/apis/setpoint.dev/v1alpha1/postgresschemas`. */
  path: string;
  /**
   * Lists the same collection as `path` (the resourceVersion of the list starts the watch).
   * @default a GET of `path` (as `PartialObjectMetadataList` when `metadataOnly`)
   */
  list?: () => Promise<KubernetesListObject<T>>;
  /** Cache only object metadata (see the module documentation). @default false */
  metadataOnly?: boolean;
  /** Name in logs and metric labels, e.g. `postgresschemas`. @default the last segment of `path` */
  name?: string;
  /** Server-side timeout of each watch request; the watch is then resumed. @default 300 s */
  watchTimeoutSeconds?: number;
  /** Backoff of restarts after a watch error. @default { initialMs: 1000, maxMs: 30_000 } */
  restartBackoff?: RestartBackoff;
  /** Time source of the restart timer. @default realClock */
  clock?: Clock;
  /** Where restarts and errors are logged. @default noopLogger */
  logger?: Logger;
  /** Where the informer's counters are registered. @default defaultRegistry */
  metrics?: MetricsRegistry;
}

/** A handler of change notifications; it receives the `namespace/name` key only and must not throw. */
export type ChangeHandler = (key: string) => void;

/** One change the cache applied: from a watch event or from a relist. */
export type InformerEvent<T> =
  | { readonly type: "add"; readonly object: T }
  /** `old` is the cached object that `object` replaced. */
  | { readonly type: "update"; readonly object: T; readonly old: T }
  /** `object` is the last cached state of the deleted object. */
  | { readonly type: "delete"; readonly object: T };

/** A handler of cache changes; it must not throw and must not modify the objects. */
export type EventHandler<T> = (event: InformerEvent<T>) => void;

/** The `namespace/name` key of an object (`name` when cluster-scoped). */
export function objectKey(obj: KubernetesObject): string {
  return requestKey({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" });
}

interface WatchHooks {
  started(request: AbortController): void;
  event(phase: string, obj: unknown): void;
  /** The server answered 410 Gone: `ListWatch` relists next. */
  expired(): void;
}

function isGone(value: unknown): boolean {
  const v = value as { code?: unknown; statusCode?: unknown } | null | undefined;
  return v?.code === 410 || v?.statusCode === 410;
}

/** The `Watch` that `ListWatch` uses, with our query parameters and hooks on its lifecycle. */
class HookedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: number,
    private readonly hooks: WatchHooks,
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
        if (phase === "ERROR" && isGone(obj)) this.hooks.expired();
        else this.hooks.event(phase, obj);
        callback(phase, obj, raw);
      },
      (err) => {
        // A 410 can also be the answer to the watch request itself rather than an event in it.
        if (isGone(err)) this.hooks.expired();
        done(err);
      },
    );
    this.hooks.started(request);
    return request;
  }
}

/** `kc`, but every fetch it prepares asks for `accept`. */
function withAccept(kc: KubeConfig, accept: string): KubeConfig {
  const wrapped = Object.create(kc) as KubeConfig;
  wrapped.applyToFetchOptions = async (opts) => {
    const init = await kc.applyToFetchOptions(opts);
    const headers: Record<string, string> = {};
    // client-node hands back a WHATWG Headers typed as node-fetch's HeadersInit.
    new Headers(init.headers as unknown as ConstructorParameters<typeof Headers>[0]).forEach((value, name) => (headers[name] = value));
    headers.accept = accept;
    return { ...init, headers };
  };
  return wrapped;
}

/**
 * GETs a collection as JSON with the kubeconfig's credentials.
 * @throws {Error} with `statusCode` for a non-2xx answer (410 makes `ListWatch` relist).
 */
export async function listPath<T extends KubernetesObject>(kc: KubeConfig, path: string, accept = "application/json"): Promise<KubernetesListObject<T>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const opts: RequestOptions = { method: "GET", headers: { accept } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, cluster.server), opts, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("error", reject);
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          reject(Object.assign(new Error(`list ${path}: HTTP ${status}: ${text.slice(0, 200)}`), { statusCode: status }));
          return;
        }
        try {
          resolve(JSON.parse(text) as KubernetesListObject<T>);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

interface InformerMetrics {
  events: Counter;
  lists: Counter;
  expired: Counter;
  restarts: Counter;
}

function registerMetrics(registry: MetricsRegistry): InformerMetrics {
  return {
    events: registry.counter("setpoint_informer_events_total", "Changes applied to an informer cache, by type (add, update, delete).", ["informer", "type"]),
    lists: registry.counter("setpoint_informer_lists_total", "Full lists of the collection (the first one, and relists after 410 Gone).", ["informer"]),
    expired: registry.counter("setpoint_informer_watch_expired_total", "Watches answered with 410 Gone (resourceVersion too old), each followed by a relist.", ["informer"]),
    restarts: registry.counter("setpoint_informer_watch_restarts_total", "Watches restarted after an error, with backoff.", ["informer"]),
  };
}

/** See the module documentation. */
export class Informer<T extends KubernetesObject> {
  /** The informer's name, as in its options. */
  readonly name: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: RestartBackoff;
  private readonly listWatch: ListWatch<T>;
  private readonly handlers = new Set<EventHandler<T>>();
  /** The object each key had when handlers last heard of it: the `old` of the next update. */
  private readonly known = new Map<string, T>();
  private readonly metrics: InformerMetrics;
  private readonly labels: { informer: string };
  private request: AbortController | undefined;
  private synced = false;
  private running = false;
  private failures = 0;
  private restartTimer: TimerHandle | undefined;

  constructor(options: InformerOptions<T>) {
    this.name = options.name ?? options.path.split("/").filter(Boolean).at(-1) ?? options.path;
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? noopLogger).child({ informer: this.name });
    this.backoff = options.restartBackoff ?? {};
    this.labels = { informer: this.name };
    this.metrics = registerMetrics(options.metrics ?? defaultRegistry);
    const kc = options.metadataOnly ? withAccept(options.kubeConfig, METADATA_WATCH_ACCEPT) : options.kubeConfig;
    const watch = new HookedWatch(kc, options.watchTimeoutSeconds ?? 300, {
      // ListWatch calls watch() only after a list has been applied to its cache.
      started: (request) => {
        this.synced = true;
        this.request = request;
      },
      event: () => {
        this.failures = 0;
      },
      // ListWatch forgets its resourceVersion; the server then ends the watch and it relists.
      expired: () => {
        this.metrics.expired.inc(this.labels);
        this.log.info("watch expired (410 Gone); relisting");
      },
    });
    const listFn = options.list ?? (() => listPath<T>(options.kubeConfig, options.path, options.metadataOnly ? METADATA_LIST_ACCEPT : "application/json"));
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await listFn();
      this.failures = 0;
      this.metrics.lists.inc(this.labels);
      return result;
    };
    this.listWatch = new ListWatch<T>(options.path, watch, list, false);
    this.listWatch.on("add", (obj: T) => {
      this.known.set(objectKey(obj), obj);
      this.emit({ type: "add", object: obj });
    });
    this.listWatch.on("update", (obj: T) => {
      const key = objectKey(obj);
      const old = this.known.get(key) ?? obj;
      this.known.set(key, obj);
      this.emit({ type: "update", object: obj, old });
    });
    this.listWatch.on("delete", (obj: T) => {
      const key = objectKey(obj);
      // A relist reports the cached object; a watch event the server's last state. Either is fine.
      const last = this.known.get(key) ?? obj;
      this.known.delete(key);
      this.emit({ type: "delete", object: last });
    });
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
   * Calls `handler` with every change applied to the cache (including changes found by a
   * relist), after the cache holds it. Returns a function that removes the handler.
   */
  onEvent(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * Calls `handler` with the key of every object added, changed or deleted (including changes
   * found by a relist). Returns a function that removes the handler.
   */
  onChange(handler: ChangeHandler): () => void {
    return this.onEvent((event) => handler(objectKey(event.object)));
  }

  /**
   * Breaks the current watch connection as a network failure would (for tests and diagnostics):
   * the informer then goes through its error path and restarts after the backoff.
   * @internal
   */
  interruptWatch(): void {
    this.request?.abort();
  }

  private emit(event: InformerEvent<T>): void {
    this.metrics.events.inc({ ...this.labels, type: event.type });
    for (const handler of this.handlers) handler(event);
  }

  private onError(err: unknown): void {
    // Aborting the request on stop() surfaces as an error too; it is not a failure.
    if (!this.running || this.restartTimer !== undefined) return;
    const delay = restartDelayMs(this.failures, this.backoff);
    this.failures++;
    this.metrics.restarts.inc(this.labels);
    const fields = { error: err instanceof Error ? err.message : String(err), delayMs: delay, failures: this.failures };
    // 429 is the server asking to come back later (e.g. a just-established CRD's storage is
    // still initializing): expected, and retried the same way, so not logged as an error.
    const status = apiStatusCode(err) ?? (err as { statusCode?: unknown } | null)?.statusCode;
    if (status === 429) this.log.info("watch throttled by the server (429); restarting after backoff", fields);
    else this.log.error("watch stopped; restarting after backoff", fields);
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.running) return;
      this.listWatch.start().catch((e: unknown) => this.onError(e));
    }, delay);
  }
}
