/**
 * Expectations, as the ReplicaSet controller's `ControllerExpectations`: a guard against acting
 * twice on a cache that has not yet seen the controller's own writes.
 *
 * An informer cache lags behind the API server. A controller that counts its children in the
 * cache, creates a missing one, and is reconciled again before the create's watch event
 * arrives would count zero again and create a second child (with `generateName` nothing stops
 * it). So before creating, the controller records how many creations it expects for the
 * parent's key; the child informer's events lower the count as the creations show up in the
 * cache; while any are outstanding, {@link Expectations.satisfied} is false and the controller
 * must not act on the cached children. Expectations expire after a TTL (default 5 minutes, as
 * client-go), so a lost event cannot block a key forever.
 */
import { realClock, type Clock } from "./clock";

/** Options of {@link Expectations}. */
export interface ExpectationsOptions {
  /** After this long a recorded expectation counts as satisfied whatever its counts. @default 300_000 ms */
  ttlMs?: number;
  /** Time source of the TTL. @default realClock */
  clock?: Clock;
}

interface Counts {
  adds: number;
  dels: number;
  since: number;
}

/** See the module documentation. Keys are the parents' `namespace/name`. */
export class Expectations {
  private readonly records = new Map<string, Counts>();
  private readonly ttlMs: number;
  private readonly clock: Clock;

  /** @throws {RangeError} when `ttlMs` is not positive. */
  constructor(options: ExpectationsOptions = {}) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.clock = options.clock ?? realClock;
    if (!(this.ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${this.ttlMs}`);
  }

  /**
   * Records that the controller is about to create `n` children of `key` (replacing any earlier
   * record: call it only when {@link satisfied} is true). Call before sending the creates; when
   * a create fails, call {@link creationObserved} for it, since no event will come.
   */
  expectCreations(key: string, n: number): void {
    this.records.set(key, { adds: n, dels: 0, since: this.clock.now() });
  }

  /** Records that the controller is about to delete `n` children of `key`; see {@link expectCreations}. */
  expectDeletions(key: string, n: number): void {
    this.records.set(key, { adds: 0, dels: n, since: this.clock.now() });
  }

  /** One expected creation of a child of `key` reached the cache (or its create failed). */
  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r !== undefined) r.adds--;
  }

  /** One expected deletion of a child of `key` reached the cache (or its delete failed). */
  deletionObserved(key: string): void {
    const r = this.records.get(key);
    if (r !== undefined) r.dels--;
  }

  /**
   * True when the cache may be trusted for `key`: nothing is expected, every expected change
   * was observed, or the record is older than the TTL.
   */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (r === undefined) return true;
    if (r.adds <= 0 && r.dels <= 0) return true;
    return this.clock.now() - r.since > this.ttlMs;
  }

  /** Outstanding creations and deletions of `key` (0 and 0 when nothing is recorded). */
  pending(key: string): { adds: number; dels: number } {
    const r = this.records.get(key);
    return { adds: Math.max(0, r?.adds ?? 0), dels: Math.max(0, r?.dels ?? 0) };
  }

  /** Forgets `key` (e.g. the parent was deleted). */
  delete(key: string): void {
    this.records.delete(key);
  }
}
