import { SetpointError } from "../errors";
import type { Side } from "./traffic";

/** Why a traffic switch operation failed; callers branch on this, never on the message. */
export type TrafficSwitchFailure =
  /** In-flight transactions did not finish within `timeoutMs`; traffic was resumed. */
  | "pause-timeout"
  /** The object the switch drives (PgBouncer database, Service, Secret) does not exist. */
  | "not-found"
  /** The live object points at neither blue nor green (edited by hand, or another tool owns it). */
  | "unknown-side"
  /** The write was accepted but the live object does not show the new target afterwards. */
  | "not-applied"
  /** The object exists but cannot be switched this way (e.g. a Service without a selector). */
  | "unsupported"
  /** The pooler or API server refused or could not be reached. */
  | "unavailable";

/** The {@link TrafficSwitch} operation that failed. */
export type TrafficSwitchOperation = "current" | "pause" | "resume" | "pointTo";

/**
 * A traffic switch could not do what was asked. The message names the object (PgBouncer database,
 * `namespace/name`) and hosts and ports at most; never a password or a Secret value.
 */
export class TrafficSwitchError extends SetpointError {
  /** {@link TrafficSwitch.kind} of the switch, e.g. `pgbouncer`. */
  readonly switchKind: string;
  readonly operation: TrafficSwitchOperation;
  readonly reason: TrafficSwitchFailure;
  /** What was being switched, e.g. `app` (a PgBouncer database) or `default/app-db` (a Service). */
  readonly object: string;
  /** The side being pointed at, for `pointTo`. */
  readonly side: Side | undefined;

  constructor(
    details: { switchKind: string; operation: TrafficSwitchOperation; reason: TrafficSwitchFailure; object: string; side?: Side },
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super("TRAFFIC_SWITCH_FAILED", `${details.switchKind} traffic switch: ${details.operation}${details.side ? `(${details.side})` : ""} of ${details.object} failed: ${message}`, options);
    this.switchKind = details.switchKind;
    this.operation = details.operation;
    this.reason = details.reason;
    this.object = details.object;
    this.side = details.side;
  }
}
