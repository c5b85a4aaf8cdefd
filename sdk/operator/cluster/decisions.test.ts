import { describe, expect, it } from "vitest";
import { containerExitedSince, FAILOVER_CHECKERS, fenceConfirmed, fenceDeletion, fenceWaitMessage, FOLLOW_CHECKERS, firstRequired, GROW_GUARDS, pickCandidate, PRIMARY_FIRST_CHECKERS, PROMOTION_GUARDS, RESTART_CHECKERS, SWITCHOVER_GUARDS, type PrimaryHealth } from "./decisions";
import { lsnBytes, parseConninfo, renderConninfo } from "./instance-sql";

const now = new Date("2025-01-02T03:04:05Z");
const healthy: PrimaryHealth = { name: "orders-1", podPresent: true, reachable: true, now, graceMs: 10_000 };

describe("failover checkers", () => {
  it("require nothing of a healthy primary, or of one down for less than its grace", () => {
    expect(firstRequired(FAILOVER_CHECKERS, healthy)).toBeUndefined();
    expect(firstRequired(FAILOVER_CHECKERS, { ...healthy, reachable: false, notReadySince: new Date(now.getTime() - 9_000) })).toBeUndefined();
    // Unready but answering (e.g. a readiness probe lagging behind): no failover.
    expect(firstRequired(FAILOVER_CHECKERS, { ...healthy, notReadySince: new Date(now.getTime() - 60_000) })).toBeUndefined();
  });

  it("name the first reason, in order: pod gone, then unreachable past the grace", () => {
    expect(firstRequired(FAILOVER_CHECKERS, { ...healthy, podPresent: false, reachable: false, notReadySince: new Date(0) })).toEqual({
      checker: "PrimaryPodGone",
      reason: "the primary's pod orders-1 is gone or being deleted",
    });
    expect(firstRequired(FAILOVER_CHECKERS, { ...healthy, reachable: false, notReadySince: new Date(now.getTime() - 12_000) })).toEqual({
      checker: "PrimaryUnreachable",
      reason: "primary orders-1 has been unready and unreachable for 12 s (grace 10 s)",
    });
  });
});

describe("a primary whose container exited (ADR 0038)", () => {
  const spell = new Date(now.getTime() - 1_500);
  it("fails over at once, before the grace, when the kubelet saw its container exit and it does not answer", () => {
    const exited = { ...healthy, reachable: false, notReadySince: spell, containerExited: true };
    expect(firstRequired(FAILOVER_CHECKERS, exited)).toEqual({
      checker: "PrimaryContainerExited",
      reason: "the primary's container in orders-1 exited (its kubelet reports it): its server is gone, a replica takes over without waiting for a restart",
    });
    // The restarted server already answers as the primary: it won the race, nothing to do.
    expect(firstRequired(FAILOVER_CHECKERS, { ...exited, reachable: true })).toBeUndefined();
    // A restart the controller decided is not a loss.
    expect(firstRequired(FAILOVER_CHECKERS, { ...exited, restartingUntil: new Date(now.getTime() + 10_000) })).toBeUndefined();
    // Without the kubelet's word, an unready primary keeps its grace (a hung or overloaded server).
    expect(firstRequired(FAILOVER_CHECKERS, { ...exited, containerExited: false })).toBeUndefined();
  });

  const at = (s: number): string => new Date(Math.floor((now.getTime() + s * 1000) / 1000) * 1000).toISOString();
  it("reads an exit from what the kubelet wrote: terminated, waiting after an exit, or started again during the unready spell", () => {
    const unready = new Date(now.getTime() - 2_000);
    const pod = (c: object) => ({ status: { containerStatuses: [c] } });
    expect(containerExitedSince(pod({ state: { terminated: { exitCode: 137 } } }), unready)).toBe(true);
    expect(containerExitedSince(pod({ restartCount: 1, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 137 } } }), unready)).toBe(true);
    expect(containerExitedSince(pod({ restartCount: 1, state: { running: { startedAt: at(-1) } }, lastState: { terminated: { exitCode: 137 } } }), unready)).toBe(true);
    // Started again in the same second the spell began (1 s resolution): still this spell's exit.
    expect(containerExitedSince(pod({ restartCount: 2, state: { running: { startedAt: at(-2) } } }), new Date(now.getTime() - 1_500))).toBe(true);
  });

  it("is not fooled by a first start, an old exit, a hung server or a missing status", () => {
    const unready = new Date(now.getTime() - 2_000);
    const pod = (c: object) => ({ status: { containerStatuses: [c] } });
    // Being created for the first time: nothing exited.
    expect(containerExitedSince(pod({ restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } }), unready)).toBe(false);
    // Running since before the spell (it was Ready after its last restart, then hung): the grace's case.
    expect(containerExitedSince(pod({ restartCount: 3, state: { running: { startedAt: at(-60) } }, lastState: { terminated: { exitCode: 137 } } }), unready)).toBe(false);
    expect(containerExitedSince(pod({ restartCount: 0, state: { running: { startedAt: at(0) } } }), unready)).toBe(false);
    expect(containerExitedSince(undefined, unready)).toBe(false);
    expect(containerExitedSince({ status: {} }, unready)).toBe(false);
    expect(containerExitedSince(pod({ state: { terminated: {} } }), undefined)).toBe(false);
  });
});

describe("the fence (ADR 0026)", () => {
  it("deletes the old primary with a grace period, never a force delete, and only the pod it saw", () => {
    // Grace 0 would remove the object before the kubelet stopped the containers: no confirmation to wait for.
    expect(fenceDeletion("uid-1")).toEqual({ gracePeriodSeconds: 1, preconditions: { uid: "uid-1" } });
    expect(fenceDeletion(undefined).gracePeriodSeconds).toBeGreaterThan(0);
  });

  it("counts as confirmed only a pod gone, or being deleted with the terminal phase its kubelet writes once every container stopped", () => {
    const deleting = { metadata: { deletionTimestamp: now } };
    expect(fenceConfirmed(undefined)).toBe(true);
    expect(fenceConfirmed({ ...deleting, status: { phase: "Failed" } })).toBe(true);
    expect(fenceConfirmed({ ...deleting, status: { phase: "Succeeded" } })).toBe(true);
    // Still running, or the kubelet has not answered the deletion yet.
    expect(fenceConfirmed({ ...deleting, status: { phase: "Running" } })).toBe(false);
    expect(fenceConfirmed(deleting)).toBe(false);
    // A terminal phase without a deletion says nothing about the fence.
    expect(fenceConfirmed({ metadata: {}, status: { phase: "Failed" } })).toBe(false);
  });

  it("says what it waits for, and after a while what a human can do when the node is down", () => {
    expect(fenceWaitMessage("orders-1", "orders-2", undefined, now)).toBe("fencing orders-1 before promoting orders-2: waiting for its kubelet to confirm its containers stopped");
    expect(fenceWaitMessage("orders-1", "orders-2", new Date(now.getTime() - 5_000), now)).not.toContain("out-of-service");
    const stuck = fenceWaitMessage("orders-1", "orders-2", new Date(now.getTime() - 30_000), now);
    expect(stuck).toContain("30 s so far");
    expect(stuck).toContain("node.kubernetes.io/out-of-service=nodeshutdown:NoExecute");
  });
});

describe("promotion guards", () => {
  it("refuse an asynchronous cluster unless annotated", () => {
    const async = { listedReplicas: 2, reachableReplicas: 2, allowDataLoss: false };
    expect(firstRequired(PROMOTION_GUARDS, async)?.checker).toBe("AsynchronousReplication");
    expect(firstRequired(PROMOTION_GUARDS, async)?.reason).toContain("setpoint.dev/allow-data-loss-failover=true");
    expect(firstRequired(PROMOTION_GUARDS, { ...async, allowDataLoss: true })).toBeUndefined();
  });

  it("need k - n + 1 reachable replicas with n of k synchronous", () => {
    const sync = { synchronous: { number: 1 }, listedReplicas: 2, reachableReplicas: 2, allowDataLoss: false };
    expect(firstRequired(PROMOTION_GUARDS, sync)).toBeUndefined();
    expect(firstRequired(PROMOTION_GUARDS, { ...sync, reachableReplicas: 1 })).toEqual({
      checker: "SynchronousQuorumUnreachable",
      reason: "1 of 2 replicas reachable, 2 needed to be sure of every acknowledged commit; annotate the cluster setpoint.dev/allow-data-loss-failover=true to fail over anyway",
    });
    expect(firstRequired(PROMOTION_GUARDS, { ...sync, synchronous: { number: 2 }, reachableReplicas: 1 })).toBeUndefined();
    expect(firstRequired(PROMOTION_GUARDS, { ...sync, reachableReplicas: 1, allowDataLoss: true })).toBeUndefined();
  });
});

describe("pickCandidate", () => {
  it("takes the most advanced replica, the lowest ordinal on ties, none without candidates", () => {
    expect(pickCandidate([])).toBeUndefined();
    const a = { name: "orders-2", ordinal: 2, replayLsn: "0/3000060", receiveLsn: "0/3000060" };
    const b = { name: "orders-3", ordinal: 3, replayLsn: "0/3000000", receiveLsn: "1/0" };
    expect(pickCandidate([a, b])?.name).toBe("orders-3");
    expect(pickCandidate([{ ...b, receiveLsn: "0/3000060", replayLsn: "0/3000060" }, a])?.name).toBe("orders-2");
  });

  it("orders WAL positions numerically", () => {
    expect(lsnBytes("1/0")).toBe(2 ** 32);
    expect(lsnBytes("0/A")).toBe(10);
    expect(lsnBytes(undefined)).toBe(-1);
  });
});

describe("follow checkers", () => {
  const wanted = { host: "10.0.0.2", port: "5432", user: "streaming_replica", application_name: "orders_2", password: "s3cret" };
  const live = renderConninfo(wanted);

  it("round-trip a rendered conninfo, quotes included", () => {
    expect(parseConninfo(renderConninfo({ password: "it's a \\ test" }))).toEqual({ password: "it's a \\ test" });
    expect(parseConninfo("host=10.0.0.1 port=5432 user=x")).toEqual({ host: "10.0.0.1", port: "5432", user: "x" });
  });

  it("require nothing when a replica streams as wanted", () => {
    expect(firstRequired(FOLLOW_CHECKERS, { liveConninfo: live, liveSlot: "orders_2", wantedConninfo: wanted, wantedSlot: "orders_2" })).toBeUndefined();
  });

  it("name the first difference, in order, never showing the password", () => {
    const other = renderConninfo({ ...wanted, host: "10.0.0.9", password: "old" });
    expect(firstRequired(FOLLOW_CHECKERS, { liveConninfo: other, liveSlot: "", wantedConninfo: wanted, wantedSlot: "orders_2" })).toEqual({
      checker: "FollowsOtherPrimary",
      reason: "streams from 10.0.0.9, the primary is 10.0.0.2",
    });
    const cred = firstRequired(FOLLOW_CHECKERS, { liveConninfo: renderConninfo({ ...wanted, password: "old" }), liveSlot: "orders_2", wantedConninfo: wanted, wantedSlot: "orders_2" });
    expect(cred?.checker).toBe("StreamingCredentials");
    expect(cred?.reason).not.toContain("s3cret");
    expect(firstRequired(FOLLOW_CHECKERS, { liveConninfo: live, liveSlot: "", wantedConninfo: wanted, wantedSlot: "orders_2" })?.checker).toBe("ReplicationSlot");
  });

  it("add a database to a replica's conninfo when the cluster synchronizes failover slots (ADR 0050), and take it away when it no longer does", () => {
    const withDb = { ...wanted, dbname: "postgres" };
    expect(firstRequired(FOLLOW_CHECKERS, { liveConninfo: live, liveSlot: "orders_2", wantedConninfo: withDb, wantedSlot: "orders_2" })?.checker).toBe("StreamingCredentials");
    expect(firstRequired(FOLLOW_CHECKERS, { liveConninfo: renderConninfo(withDb), liveSlot: "orders_2", wantedConninfo: withDb, wantedSlot: "orders_2" })).toBeUndefined();
    expect(firstRequired(FOLLOW_CHECKERS, { liveConninfo: renderConninfo(withDb), liveSlot: "orders_2", wantedConninfo: wanted, wantedSlot: "orders_2" })?.checker).toBe("StreamingCredentials");
  });
});

describe("switchover guards", () => {
  const s = { from: "db-1", to: "db-2", oldPodPresent: false, targetReachable: true, fenceLsn: "0/3000060", targetLsn: "0/30000D8", bestLsn: "0/30000D8" };
  it("promote only once the old primary is down and the target has WAL past the fence and is the most advanced", () => {
    expect(firstRequired(SWITCHOVER_GUARDS, s)).toBeUndefined();
    expect(firstRequired(SWITCHOVER_GUARDS, { ...s, oldPodPresent: true })?.checker).toBe("OldPrimaryRunning");
    expect(firstRequired(SWITCHOVER_GUARDS, { ...s, targetReachable: false })?.checker).toBe("TargetUnreachable");
    // Exactly at the fence is not enough: the shutdown checkpoint comes after it.
    expect(firstRequired(SWITCHOVER_GUARDS, { ...s, targetLsn: "0/3000060" })?.checker).toBe("TargetBehindFence");
    expect(firstRequired(SWITCHOVER_GUARDS, { ...s, bestLsn: "0/3000100" })?.checker).toBe("TargetNotMostAdvanced");
  });
});

describe("restart checkers", () => {
  it("require a restart for pending_restart parameters, naming them", () => {
    expect(firstRequired(RESTART_CHECKERS, { name: "db-1", pendingRestart: [] })).toBeUndefined();
    expect(firstRequired(RESTART_CHECKERS, { name: "db-1", pendingRestart: ["max_connections", "shared_buffers"] })).toEqual({
      checker: "PendingRestart",
      reason: "db-1: max_connections, shared_buffers changed and need a restart",
    });
  });
});

describe("grow guards", () => {
  const Mi = 2 ** 20;
  const g = { autoGrow: { thresholdPercent: 80, stepBytes: 100 * Mi, limitBytes: 400 * Mi }, instance: "db-1", usedBytes: 85 * Mi, requestedBytes: 100 * Mi, capacityBytes: 100 * Mi };
  it("grow a volume past its threshold, once: measured against the new request it is below again", () => {
    expect(firstRequired(GROW_GUARDS, g)).toBeUndefined();
    expect(firstRequired(GROW_GUARDS, { ...g, requestedBytes: 200 * Mi })?.checker).toBe("BelowThreshold");
    expect(firstRequired(GROW_GUARDS, { ...g, usedBytes: 79 * Mi })?.checker).toBe("BelowThreshold");
  });
  it("never grow without autoGrow, during an expansion, or at the limit", () => {
    expect(firstRequired(GROW_GUARDS, { ...g, autoGrow: undefined })?.checker).toBe("AutoGrowOff");
    expect(firstRequired(GROW_GUARDS, { ...g, usedBytes: 190 * Mi, requestedBytes: 200 * Mi })?.checker).toBe("ExpansionInProgress");
    expect(firstRequired(GROW_GUARDS, { ...g, usedBytes: 390 * Mi, requestedBytes: 400 * Mi, capacityBytes: 400 * Mi })).toMatchObject({ checker: "AtLimit", reason: expect.stringContaining("not growing") });
  });
});

describe("restart in place and hot-standby parameters", () => {
  it("do not fail over a primary the controller is restarting in place, until its window ends", () => {
    const gone = { ...healthy, podPresent: false, reachable: false, notReadySince: new Date(now.getTime() - 30_000) };
    expect(firstRequired(FAILOVER_CHECKERS, { ...gone, restartingUntil: new Date(now.getTime() + 1000) })).toBeUndefined();
    expect(firstRequired(FAILOVER_CHECKERS, { ...gone, restartingUntil: new Date(now.getTime() - 1000) })?.checker).toBe("PrimaryPodGone");
  });

  it("restart the primary first when a hot-standby parameter goes down, not when it goes up", () => {
    const input = { pendingRestart: ["max_connections"], running: { max_connections: "60" }, desired: { max_connections: "45" } };
    expect(firstRequired(PRIMARY_FIRST_CHECKERS, input)).toEqual({
      checker: "HotStandbyParameterDecrease",
      reason: "max_connections 60 -> 45: a hot standby needs at least the primary's value, so the primary restarts first, in place",
    });
    expect(firstRequired(PRIMARY_FIRST_CHECKERS, { ...input, desired: { max_connections: "80" } })).toBeUndefined();
    expect(firstRequired(PRIMARY_FIRST_CHECKERS, { pendingRestart: ["shared_buffers"], running: { shared_buffers: "128MB" }, desired: { shared_buffers: "64MB" } })).toBeUndefined();
  });
});
