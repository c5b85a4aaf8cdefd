/**
 * Event sources for a controller: turn informer events into queue keys, like controller-runtime's
 * handlers and predicates.
 *
 * - {@link enqueueObject}: the object's own key, optionally filtered by a {@link Predicate} such
 *   as {@link generationChanged} (which drops the echo of the controller's own status writes);
 * - {@link enqueueForOwner}: the key of the child's controller owner (`EnqueueRequestForOwner`
 *   with `OnlyControllerOwner`), so a changed or deleted child reconciles its parent;
 * - {@link enqueueMapped}: keys computed from the object, e.g. through a {@link ReferenceIndex}
 *   (`EnqueueRequestsFromMapFunc`), so a changed ConfigMap reconciles every object that reads it;
 * - {@link observeForOwner}: lowers the owner's {@link Expectations} as its children's creations
 *   and deletions reach the cache.
 *
 * On an update, the mapping handlers enqueue the keys of both the old and the new object, so a
 * reference that moved away still reconciles its former target.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { parseRequestKey, requestKey, type Request } from "../index";
import { controllerOf, groupOf } from "../owners";
import type { Expectations } from "./expectations";
import type { EventHandler, Informer, InformerEvent } from "./informer";

/** Where keys go: usually `controller.enqueue`. */
export type Enqueue = (req: Request) => void;

/** Decides whether an event reaches the queue. Must not throw. */
export type Predicate<T> = (event: InformerEvent<T>) => boolean;

function requestOf(obj: KubernetesObject): Request {
  return { namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" };
}

/**
 * Passes adds, deletes, and the updates that change what a controller acts on: the generation
 * (the API server bumps it on spec changes, never on status changes), labels, annotations,
 * finalizers or the deletion timestamp. It drops status-only updates, among them the echo of
 * the controller's own status writes. Resyncs and timed requeues do not go through predicates.
 */
export const generationChanged: Predicate<KubernetesObject> = (event) => {
  if (event.type !== "update") return true;
  const a = event.old.metadata ?? {};
  const b = event.object.metadata ?? {};
  // An object without a generation (most core kinds) cannot be judged by it: let it through.
  if (a.generation === undefined || b.generation === undefined) return true;
  return (
    a.generation !== b.generation ||
    String(a.deletionTimestamp ?? "") !== String(b.deletionTimestamp ?? "") ||
    !isDeepStrictEqual(a.labels ?? {}, b.labels ?? {}) ||
    !isDeepStrictEqual(a.annotations ?? {}, b.annotations ?? {}) ||
    !isDeepStrictEqual(a.finalizers ?? [], b.finalizers ?? [])
  );
};

/**
 * Enqueues the key of the changed object itself when every predicate passes.
 * @param enqueue where keys go.
 * @param predicates all must pass. @default none (every event)
 */
export function enqueueObject<T extends KubernetesObject>(enqueue: Enqueue, ...predicates: Predicate<T>[]): EventHandler<T> {
  return (event) => {
    if (predicates.every((p) => p(event))) enqueue(requestOf(event.object));
  };
}

/** Which owners {@link enqueueForOwner} maps to. */
export interface OwnerKind {
  /** Owner API group, e.g. `setpoint.dev` (`""` for the core group); any version matches. */
  readonly group: string;
  /** Owner kind, e.g. `PostgresCluster`. */
  readonly kind: string;
}

/**
 * Enqueues the controller owner of the changed object when it is of `owner`'s kind; the owner
 * is in the child's namespace (owner references never cross namespaces). On an update whose
 * owner changed, both owners are enqueued.
 * @param owner the kind of the parents this controller reconciles.
 * @param enqueue where keys go.
 */
export function enqueueForOwner<T extends KubernetesObject>(owner: OwnerKind, enqueue: Enqueue): EventHandler<T> {
  return enqueueMapped<T>((obj) => {
    const ref = controllerOf(obj);
    if (ref === undefined || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return [];
    return [{ namespace: obj.metadata?.namespace ?? "", name: ref.name }];
  }, enqueue);
}

/**
 * Feeds {@link Expectations} from a child informer: an added child lowers its controller
 * owner's expected creations, a deleted one its expected deletions. Register it *before* the
 * handler that enqueues the owner, so the reconcile the event causes sees the lowered count.
 * @param owner the kind of the parents whose expectations are kept.
 * @param expectations keyed by the parents' `namespace/name`.
 */
export function observeForOwner<T extends KubernetesObject>(owner: OwnerKind, expectations: Expectations): EventHandler<T> {
  return (event) => {
    if (event.type === "update") return;
    const ref = controllerOf(event.object);
    if (ref === undefined || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return;
    const key = requestKey({ namespace: event.object.metadata?.namespace ?? "", name: ref.name });
    if (event.type === "add") expectations.creationObserved(key);
    else expectations.deletionObserved(key);
  };
}

/**
 * Enqueues the keys `map` returns for the changed object (for an update: for the old and the
 * new object, each key once).
 * @param map the keys an object maps to; must not throw.
 * @param enqueue where keys go.
 */
export function enqueueMapped<T extends KubernetesObject>(map: (obj: T) => readonly Request[], enqueue: Enqueue): EventHandler<T> {
  return (event) => {
    const reqs = event.type === "update" ? [...map(event.old), ...map(event.object)] : map(event.object);
    const seen = new Set<string>();
    for (const req of reqs) {
      const key = requestKey(req);
      if (seen.has(key)) continue;
      seen.add(key);
      enqueue(req);
    }
  };
}

/**
 * Which objects of one kind refer to which other objects (e.g. PostgresSchemas → the ConfigMap
 * and Secret they read), kept current from the referring kind's informer events. Answers
 * "who refers to `namespace/name`?" without scanning the cache (client-go's indexers).
 */
export class ReferenceIndex<T extends KubernetesObject> {
  private readonly byTarget = new Map<string, Set<string>>();
  private readonly bySource = new Map<string, readonly string[]>();

  /**
   * @param informer the informer of the referring kind; the index follows its events.
   * @param refs the `namespace/name` keys an object refers to; must not throw on any input
   *   (objects in the cache are unvalidated).
   */
  constructor(
    informer: Pick<Informer<T>, "onEvent" | "list">,
    private readonly refs: (obj: T) => readonly string[],
  ) {
    for (const obj of informer.list()) this.set(obj);
    informer.onEvent((event) => (event.type === "delete" ? this.remove(event.object) : this.set(event.object)));
  }

  /** The objects that refer to `target` (`namespace/name`), as requests. */
  referrers(target: string): Request[] {
    return [...(this.byTarget.get(target) ?? [])].map(parseRequestKey);
  }

  /** An event handler for the *referenced* kind: enqueues every referrer of the changed object. */
  enqueueReferrers<R extends KubernetesObject>(enqueue: Enqueue): EventHandler<R> {
    return enqueueMapped<R>((obj) => this.referrers(requestKey(requestOf(obj))), enqueue);
  }

  private set(obj: T): void {
    this.remove(obj);
    const source = requestKey(requestOf(obj));
    const targets = [...new Set(this.refs(obj))];
    if (targets.length === 0) return;
    this.bySource.set(source, targets);
    for (const t of targets) {
      let set = this.byTarget.get(t);
      if (set === undefined) this.byTarget.set(t, (set = new Set()));
      set.add(source);
    }
  }

  private remove(obj: T): void {
    const source = requestKey(requestOf(obj));
    for (const t of this.bySource.get(source) ?? []) {
      const set = this.byTarget.get(t);
      set?.delete(source);
      if (set?.size === 0) this.byTarget.delete(t);
    }
    this.bySource.delete(source);
  }
}
