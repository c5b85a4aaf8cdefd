/**
 * The reconciler contract of `setpoint/reconcile`, shaped like controller-runtime's
 * `pkg/reconcile`: a reconciler receives a key (never an event), returns when to look again,
 * throws to be retried with per-key exponential backoff, and throws {@link TerminalError} to
 * stop retrying. The machinery that drives reconcilers lives in `./internal/`.
 */
import { SetpointError, type SetpointErrorOptions } from "../errors";

/**
 * What to reconcile: the key of one object. For a cluster-scoped object `namespace` is `""`.
 * A request carries no event and no object: the reconciler reads the current state itself.
 */
export interface Request {
  /** Namespace of the object, or `""` for a cluster-scoped object. */
  readonly namespace: string;
  /** Name of the object. */
  readonly name: string;
}

/** What a successful reconcile asks of the runtime. */
export interface Result {
  /**
   * Reconcile this key again after this many milliseconds, even if nothing changes
   * (e.g. a periodic drift check). Values `<= 0` mean "no scheduled requeue".
   * @default undefined (wait for the next event or resync)
   */
  readonly requeueAfterMs?: number;
}

/** Structured fields attached to a log line. Never put secrets in them. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger. Implementations must not throw. */
export interface Logger {
  /** Verbose diagnostics. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation. */
  info(message: string, fields?: LogFields): void;
  /** Something failed; the runtime will usually retry. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

/** Everything a reconciler gets besides the request. */
export interface ReconcileContext {
  /** A fresh id for this one reconcile call, also present in every line of {@link log}. */
  readonly reconcileId: string;
  /** Logger carrying `controller`, `namespace`, `name` and `reconcileId`. */
  readonly log: Logger;
  /** Aborted when the controller stops (e.g. it lost leadership); pass it to long I/O. */
  readonly signal: AbortSignal;
  /** The controller's clock, so status timestamps are deterministic under a fake clock in tests. */
  now(): Date;
}

/**
 * A reconciler: make the world match the desired state of the object named by `req`.
 * Resolve to request a timed requeue, throw to retry with backoff, throw {@link TerminalError}
 * when retrying cannot help (the runtime then forgets the key until the next event).
 */
export type Reconciler = (ctx: ReconcileContext, req: Request) => Promise<Result | void>;

/**
 * An error retrying cannot fix (e.g. an invalid spec that passed the API server): the
 * controller logs it, counts it as `terminal` and does not requeue the key. Wrapping another
 * error as `{ cause }` keeps it for diagnostics; an error whose `cause` chain contains a
 * `TerminalError` is treated as terminal too.
 */
export class TerminalError extends SetpointError {
  constructor(message: string, options: SetpointErrorOptions = {}) {
    super("TERMINAL", message, options);
  }
}

/**
 * True when `err` is, or has in its `cause` chain, a {@link TerminalError}.
 * @param err anything thrown by a reconciler.
 */
export function isTerminalError(err: unknown): boolean {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur instanceof Error && !seen.has(cur)) {
    if (cur instanceof TerminalError) return true;
    seen.add(cur);
    cur = cur.cause;
  }
  return false;
}

/**
 * The queue key of a request: `namespace/name`, or `name` when cluster-scoped
 * (the same form as client-go's `MetaNamespaceKeyFunc`).
 */
export function requestKey(req: Request): string {
  return req.namespace === "" ? req.name : `${req.namespace}/${req.name}`;
}

/**
 * The request a queue key names; the inverse of {@link requestKey}.
 * @param key `namespace/name` or `name`.
 */
export function parseRequestKey(key: string): Request {
  const slash = key.indexOf("/");
  return slash < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export {
  setCondition,
  findCondition,
  isConditionTrue,
  statusEqual,
  type ConditionInput,
} from "./conditions";

export { setControllerReference, controllerOf, groupOf, AlreadyOwnedError, type OwnerObject } from "./owners";
