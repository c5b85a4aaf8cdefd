/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's timing model:
 *
 * - a candidate tries every `retryPeriod` to take the Lease; it may take it when nobody holds
 *   it, or when the holder's record has not changed for `leaseDuration` as measured on the
 *   candidate's own clock (clocks of different machines are never compared);
 * - the leader renews every `retryPeriod`; if no renewal succeeds within `renewDeadline` of the
 *   last successful one, it stops leading at once, even while a request is still in flight,
 *   so it stops before any other replica can take over (`renewDeadline < leaseDuration`);
 * - every write carries the resourceVersion that was read, so two replicas racing for the
 *   Lease cannot both win: the loser gets 409 Conflict and stays a candidate.
 *
 * Like client-go's `Run`, an elector that lost leadership does not campaign again: the process
 * (or its owner) decides what happens next, typically stopping its controllers.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import { InputError } from "../../errors";
import type { Logger } from "../index";
import { apiStatusCode } from "./api-error";
import { realClock, type Clock, type TimerHandle } from "./clock";
import { noopLogger } from "./logger";
import { defaultRegistry, type Gauge, type MetricsRegistry } from "./metrics";

/** The Lease calls the elector makes (a `CoordinationV1Api` satisfies it). */
export type LeaseApi = Pick<CoordinationV1Api, "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease">;

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** Client for Leases. */
  api: LeaseApi;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease, e.g. `setpoint-operator`. */
  name: string;
  /** This replica's identity in `spec.holderIdentity`. @default `<hostname>_<random uuid>` */
  identity?: string;
  /** How long a Lease stays valid without renewal. @default 15_000 ms */
  leaseDurationMs?: number;
  /** The leader stops leading when it could not renew for this long. @default 10_000 ms */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew. @default 2_000 ms */
  retryPeriodMs?: number;
  /** Called when this replica becomes leader. Must not throw. */
  onStartedLeading: () => void;
  /**
   * Called once when this replica stops leading (renewal failed past the deadline, or
   * {@link LeaderElector.stop} while leading). Stop all work at once, e.g.
   * `controller.stop({ abort: true })`. Must not throw.
   */
  onStoppedLeading: () => void;
  /** Time source of the loop and of the expiry check. @default realClock */
  clock?: Clock;
  /** Where attempts and transitions are logged. @default noopLogger */
  logger?: Logger;
  /**
   * Where `setpoint_leader_election_leader{lease}` (1 while leading, 0 otherwise) is registered.
   * @default defaultRegistry
   */
  metrics?: MetricsRegistry;
}

/** See the module documentation. */
export class LeaderElector {
  /** This replica's holder identity. */
  readonly identity: string;
  private readonly opts: LeaderElectionOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private running = false;
  private leading = false;
  /** Bumped whenever in-flight attempts must be ignored (stop, lost leadership). */
  private epoch = 0;
  private loopTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private observedResourceVersion: string | undefined;
  private observedAt = 0;
  /** The other holder last reported as the one this candidate waits for (logged once per holder). */
  private waitingFor: string | undefined;
  private readonly leaderGauge: Gauge;
  private readonly gaugeLabels: { lease: string };

  /** @throws {InputError} unless `leaseDurationMs > renewDeadlineMs > retryPeriodMs > 0`. */
  constructor(options: LeaderElectionOptions) {
    this.opts = options;
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.clock = options.clock ?? realClock;
    this.log = (options.logger ?? noopLogger).child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.leaderGauge = (options.metrics ?? defaultRegistry).gauge("setpoint_leader_election_leader", "1 while this process holds the leader-election Lease, 0 while it waits for it.", ["lease"]);
    this.gaugeLabels = { lease: `${options.namespace}/${options.name}` };
    if (!(this.retryPeriodMs > 0)) {
      throw new InputError(`retryPeriodMs must be > 0, got ${this.retryPeriodMs}`, { propertyPath: "retryPeriodMs" });
    }
    if (!(this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new InputError(
        `renewDeadlineMs (${this.renewDeadlineMs}) must be greater than retryPeriodMs (${this.retryPeriodMs})`,
        { propertyPath: "renewDeadlineMs" },
      );
    }
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) {
      throw new InputError(
        `leaseDurationMs (${this.leaseDurationMs}) must be greater than renewDeadlineMs (${this.renewDeadlineMs})`,
        { propertyPath: "leaseDurationMs" },
      );
    }
  }

  /** Starts campaigning (the first attempt is immediate). A no-op while running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.leaderGauge.set(this.gaugeLabels, 0);
    this.schedule(0);
  }

  /**
   * Stops campaigning or renewing. If leading, calls `onStoppedLeading`. The Lease is not
   * released: another replica takes over once it expires.
   */
  stop(): void {
    if (!this.running) return;
    this.halt();
    this.log.info("leader election stopped");
  }

  /**
   * Stops as {@link stop} does and, if this replica held the Lease, gives it up: writes it with no
   * holder, so another replica takes it at its next attempt instead of after `leaseDuration`
   * (client-go's `ReleaseOnCancel`). Call it only once this replica's work has stopped: the
   * moment the write lands another replica may lead. A failed write is logged, not thrown (the
   * Lease then expires as after {@link stop}).
   */
  async release(): Promise<void> {
    const held = this.leading;
    this.halt();
    if (!held) return;
    const { api, namespace, name } = this.opts;
    // A renewal sent before halt() may land between the read and the write here (409): read again.
    for (let attempt = 1; ; attempt++) {
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        // Written with the resourceVersion read: a renewal still in flight and this write cannot both land.
        if (lease.spec?.holderIdentity !== this.identity) return;
        const stamp = new V1MicroTime(this.clock.now());
        await api.replaceNamespacedLease({
          name,
          namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: stamp, acquireTime: stamp } },
        });
        this.log.info("released the lease");
        return;
      } catch (err) {
        if (apiStatusCode(err) === 409 && attempt < 3) continue;
        this.log.error("could not release the lease; it expires after its duration", { error: err instanceof Error ? err.message : String(err) });
        return;
      }
    }
  }

  /** True while this replica holds the Lease and renewed it within the deadline. */
  isLeader(): boolean {
    return this.leading;
  }

  private schedule(ms: number): void {
    this.loopTimer = this.clock.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.loopTimer = undefined;
    if (!this.running) return;
    const epoch = this.epoch;
    const attemptStart = this.clock.now();
    let acquired = false;
    try {
      acquired = await this.tryAcquireOrRenew(attemptStart);
    } catch (err) {
      this.log.error("lease attempt failed", { error: err instanceof Error ? err.message : String(err) });
    }
    if (!this.running || epoch !== this.epoch) return;
    if (acquired) {
      // The deadline counts from when the renewal was sent: that is the renewTime others see.
      if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
      const remaining = this.renewDeadlineMs - (this.clock.now() - attemptStart);
      this.deadlineTimer = this.clock.setTimeout(() => this.renewDeadlinePassed(), remaining);
      if (!this.leading) {
        this.leading = true;
        this.waitingFor = undefined;
        this.leaderGauge.set(this.gaugeLabels, 1);
        this.log.info("started leading");
        this.opts.onStartedLeading();
      }
    }
    this.schedule(this.retryPeriodMs);
  }

  private renewDeadlinePassed(): void {
    this.deadlineTimer = undefined;
    if (!this.leading) return;
    this.log.error("failed to renew the lease before the deadline; stopping", { renewDeadlineMs: this.renewDeadlineMs });
    this.halt();
  }

  private halt(): void {
    this.running = false;
    this.epoch++;
    if (this.loopTimer !== undefined) this.clock.clearTimeout(this.loopTimer);
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.loopTimer = undefined;
    this.deadlineTimer = undefined;
    if (this.leading) {
      this.leading = false;
      this.leaderGauge.set(this.gaugeLabels, 0);
      this.log.info("stopped leading");
      this.opts.onStoppedLeading();
    }
  }

  /** One attempt; true when this replica holds the Lease afterwards. Throws on unexpected errors. */
  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const { api, namespace, name } = this.opts;
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    const stamp = new V1MicroTime(now);
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
      const body: V1Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: { holderIdentity: this.identity, leaseDurationSeconds: durationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
      };
      try {
        await api.createNamespacedLease({ namespace, body });
        return true;
      } catch (createErr) {
        if (apiStatusCode(createErr) === 409) return false; // another replica created it first
        throw createErr;
      }
    }

    const spec = lease.spec ?? {};
    const resourceVersion = lease.metadata?.resourceVersion;
    if (resourceVersion !== this.observedResourceVersion) {
      this.observedResourceVersion = resourceVersion;
      this.observedAt = this.clock.now();
    }
    const holder = spec.holderIdentity ?? "";
    const validMs = spec.leaseDurationSeconds !== undefined ? spec.leaseDurationSeconds * 1000 : this.leaseDurationMs;
    if (holder !== "" && holder !== this.identity && this.observedAt + validMs > this.clock.now()) {
      if (holder !== this.waitingFor) {
        this.waitingFor = holder;
        this.log.info("waiting for the lease held by another replica", { holder });
      }
      return false;
    }

    const renewing = holder === this.identity;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: stamp,
        acquireTime: renewing && spec.acquireTime !== undefined ? spec.acquireTime : stamp,
        leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      const written = await api.replaceNamespacedLease({ name, namespace, body });
      this.observedResourceVersion = written.metadata?.resourceVersion;
      this.observedAt = this.clock.now();
      return true;
    } catch (err) {
      if (apiStatusCode(err) === 409) return false; // someone wrote the Lease since we read it
      throw err;
    }
  }
}
