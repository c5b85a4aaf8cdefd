/**
 * The traffic switch contract of the upgrade engine: what sends the application's connections to
 * blue (the old cluster) or green (the new one). Implementations live beside this file
 * (PgBouncer, Kubernetes); the engine only talks to this interface.
 */

/** Which cluster of a blue-green pair. */
export type Side = "blue" | "green";

/** Options of {@link TrafficSwitch.pause}. */
export interface PauseOptions {
  /** Give up (and leave traffic unpaused) when in-flight transactions have not finished by then. */
  readonly timeoutMs: number;
}

/**
 * Sends application traffic to one side. Every method is idempotent: the engine may call it again
 * after a crash without knowing whether the first call finished.
 */
export interface TrafficSwitch {
  /** Short name for logs and state, e.g. `pgbouncer` or `kubernetes-service`. */
  readonly kind: string;
  /**
   * True when {@link pause} makes clients wait (no new transactions reach the database) and
   * returns only after every in-flight transaction has finished; the engine then uses the pause as
   * the write fence. False when the engine must fence writes on blue itself (block logins, end
   * sessions).
   */
  readonly canPause: boolean;
  /** Which side traffic goes to now, read from the switch itself (not from memory). */
  current(): Promise<Side>;
  /**
   * Optional: everything `pause` and `pointTo` need that holds no client (reading both sides,
   * opening admin connections), run by the engine right before the pause so that it is not part
   * of the write pause. `pause` must still work without it.
   */
  prepare?(): Promise<void>;
  /** Holds new transactions and waits for in-flight ones. A no-op when `canPause` is false. */

  pause(options: PauseOptions): Promise<void>;
  /** Lets held clients continue (to whichever side the switch now points at). */
  resume(): Promise<void>;
  /** Points traffic at `side`; called while paused when `canPause`. */
  pointTo(side: Side): Promise<void>;
  /** Releases connections the switch holds open. */
  close(): Promise<void>;
}
