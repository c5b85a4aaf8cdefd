import { ApiException, type V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { InputError } from "../../errors";
import { FakeClock } from "./clock";
import { LeaderElector, type LeaseApi } from "./leader-election";
import { jsonLogger } from "./logger";
import { MetricsRegistry } from "./metrics";

/** An in-memory Lease store with resourceVersion checks, and switches to fail or hang calls. */
class FakeLeases {
  lease: V1Lease | undefined;
  private rv = 0;
  mode: "ok" | "fail" | "hang" = "ok";
  writes = 0;
  /** Runs once before the next replace is checked (e.g. another write landing first). */
  beforeReplace: (() => void) | undefined;

  constructor(lease?: V1Lease) {
    if (lease) this.store(lease);
  }

  readonly api = {
    readNamespacedLease: async () => {
      await this.gate();
      if (!this.lease) throw new ApiException(404, "Not Found", {}, {});
      return structuredClone(this.lease);
    },
    createNamespacedLease: async ({ body }: { body: V1Lease }) => {
      await this.gate();
      if (this.lease) throw new ApiException(409, "Conflict", {}, {});
      return this.store(body);
    },
    replaceNamespacedLease: async ({ body }: { body: V1Lease }) => {
      await this.gate();
      const hook = this.beforeReplace;
      this.beforeReplace = undefined;
      hook?.();
      if (body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw new ApiException(409, "Conflict", {}, {});
      return this.store(body);
    },
  } as unknown as LeaseApi;

  /** Another replica writes the Lease (bumping its resourceVersion). */
  touch(): void {
    this.store(this.lease!);
  }

  private store(lease: V1Lease): V1Lease {
    this.writes++;
    this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.lease);
  }

  private gate(): Promise<void> {
    if (this.mode === "fail") return Promise.reject(new Error("connect ECONNREFUSED"));
    if (this.mode === "hang") return new Promise(() => {});
    return Promise.resolve();
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Advances the fake clock in `step` ms increments, letting API promises settle in between. */
async function advance(clock: FakeClock, ms: number, step = 100): Promise<void> {
  let t = 0;
  do {
    const d = Math.min(step, ms - t);
    clock.advance(d);
    t += d;
    await flush();
  } while (t < ms);
}

function elector(leases: FakeLeases, clock: FakeClock, identity = "me") {
  const events: string[] = [];
  const logs: { msg: string; holder?: string }[] = [];
  const metrics = new MetricsRegistry();
  const e = new LeaderElector({
    api: leases.api,
    namespace: "ns",
    name: "lock",
    identity,
    clock,
    onStartedLeading: () => events.push("start"),
    onStoppedLeading: () => events.push("stop"),
    logger: jsonLogger({ write: (line) => logs.push(JSON.parse(line) as { msg: string; holder?: string }) }),
    metrics,
  });
  const leading = (): number => metrics.gauge("setpoint_leader_election_leader", "", ["lease"]).get({ lease: "ns/lock" });
  return { e, events, logs, leading };
}

/** Two replicas on a new Lease: "a" starts and takes it, then "b" starts as a candidate. */
async function leaderAndCandidate() {
  const clock = new FakeClock(1_000_000);
  const leases = new FakeLeases();
  const a = elector(leases, clock, "a");
  const b = elector(leases, clock, "b");
  a.e.start();
  await advance(clock, 100);
  b.e.start();
  return { clock, leases, a, b };
}

describe("LeaderElector", () => {
  it("creates an absent Lease, leads, and renews every retry period", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeLeases();
    const { e, events } = elector(leases, clock);
    e.start();
    await advance(clock, 0);
    expect(e.isLeader()).toBe(true);
    expect(events).toEqual(["start"]);
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: "me", leaseDurationSeconds: 15, leaseTransitions: 0 });
    const writes = leases.writes;
    await advance(clock, 10_000);
    expect(leases.writes - writes).toBe(5);
    expect(events).toEqual(["start"]);
    e.stop();
    expect(events).toEqual(["start", "stop"]);
  });

  it("takes a Lease held by another only after it stayed unchanged for leaseDuration", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeLeases({ metadata: { name: "lock", namespace: "ns" }, spec: { holderIdentity: "other", leaseDurationSeconds: 15, leaseTransitions: 3 } });
    const { e, events } = elector(leases, clock);
    e.start();
    await advance(clock, 8000);
    leases.touch(); // the other replica renews: seen at the read at 10 s, so it expires at 25 s
    await advance(clock, 16_000);
    expect(e.isLeader()).toBe(false);
    await advance(clock, 2000);
    expect(e.isLeader()).toBe(true);
    expect(events).toEqual(["start"]);
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: "me", leaseTransitions: 4 });
    e.stop();
  });

  it("stops leading once renewals fail for renewDeadline, and stops campaigning", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeLeases();
    const { e, events } = elector(leases, clock);
    e.start();
    await advance(clock, 100);
    expect(e.isLeader()).toBe(true);
    const lastRenew = clock.now();
    leases.mode = "fail";
    await advance(clock, 9_800);
    expect(e.isLeader()).toBe(true);
    await advance(clock, 10_000 - (clock.now() - lastRenew) + 100);
    expect(e.isLeader()).toBe(false);
    expect(events).toEqual(["start", "stop"]);
    leases.mode = "ok";
    const writes = leases.writes;
    await advance(clock, 20_000);
    expect(leases.writes).toBe(writes);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("stops leading at the deadline even while a renewal hangs", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeLeases();
    const { e, events } = elector(leases, clock);
    e.start();
    await advance(clock, 100);
    leases.mode = "hang";
    await advance(clock, 10_000);
    expect(e.isLeader()).toBe(false);
    expect(events).toEqual(["start", "stop"]);
  });

  it("stays a candidate when another replica wins the write (409)", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeLeases({ metadata: { name: "lock", namespace: "ns" }, spec: { holderIdentity: "" } });
    const a = elector(leases, clock, "a");
    const b = elector(leases, clock, "b");
    a.e.start();
    b.e.start();
    await advance(clock, 6000);
    expect([a.e.isLeader(), b.e.isLeader()].filter(Boolean)).toHaveLength(1);
    expect([...a.events, ...b.events]).toEqual(["start"]);
    a.e.stop();
    b.e.stop();
  });

  it("a candidate says whom it waits for, once per holder, and the gauge says who leads", async () => {
    const { clock, a, b } = await leaderAndCandidate();
    await advance(clock, 8000);
    expect([a.leading(), b.leading()]).toEqual([1, 0]);
    expect(b.logs.filter((l) => l.msg === "waiting for the lease held by another replica")).toEqual([expect.objectContaining({ holder: "a" })]);
    a.e.stop();
    expect(a.leading()).toBe(0);
    await advance(clock, 20_000);
    expect([a.leading(), b.leading()]).toEqual([0, 1]);
    b.e.stop();
  });

  it("release() gives the Lease up: another replica takes it at its next attempt, not after leaseDuration", async () => {
    const { clock, leases, a, b } = await leaderAndCandidate();
    await advance(clock, 4000);
    expect(b.e.isLeader()).toBe(false);
    await a.e.release();
    expect(a.events).toEqual(["start", "stop"]);
    expect(leases.lease?.spec?.holderIdentity).toBe("");
    await advance(clock, 2100);
    expect(b.e.isLeader()).toBe(true);
    expect(leases.lease?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    b.e.stop();
  });

  it("release() reads again when a renewal still in flight wrote the Lease first (409)", async () => {
    const clock = new FakeClock(1_000_000);
    const leases = new FakeLeases();
    const a = elector(leases, clock, "a");
    a.e.start();
    await advance(clock, 100);
    leases.beforeReplace = () => leases.touch(); // the renewal sent before the release lands between its read and write
    await a.e.release();
    expect(leases.lease?.spec?.holderIdentity).toBe("");
    expect(a.logs.map((l) => l.msg)).toContain("released the lease");
    const b = elector(leases, clock, "b");
    b.e.start();
    await advance(clock, 0);
    expect(b.e.isLeader()).toBe(true);
    // Released by a replica that no longer holds it: nothing is written.
    const writes = leases.writes;
    await a.e.release();
    expect(leases.writes).toBe(writes);
    b.e.stop();
  });

  it("rejects timings that cannot work", () => {
    const base = { api: new FakeLeases().api, namespace: "ns", name: "lock", onStartedLeading: () => {}, onStoppedLeading: () => {} };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(InputError);
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(/renewDeadlineMs/);
    expect(() => new LeaderElector({ ...base, retryPeriodMs: 0 })).toThrow(/retryPeriodMs/);
    expect(new LeaderElector(base).identity).toMatch(/_[0-9a-f-]{36}$/);
  });
});
