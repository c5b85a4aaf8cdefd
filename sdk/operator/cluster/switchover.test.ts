import { describe, expect, it } from "vitest";
import type { V1Pod } from "@kubernetes/client-node";
import type { InstanceProbe } from "./instance-sql";
import { nextSwitchoverStep, oldPrimaryDown, readSwitchover, switchoverAnnotations } from "./switchover";

const start = new Date("2025-01-02T03:04:05Z");
const replica = (lsn: string): InstanceProbe => ({ reachable: true, inRecovery: true, lsn, receiveLsn: lsn });

describe("switchover state", () => {
  it("round-trips through the target pod's annotations, ignoring a pod being deleted", () => {
    const pod = (name: string, deleting = false): V1Pod => ({ metadata: { name, annotations: switchoverAnnotations("db-1", "0/3000060", start), ...(deleting ? { deletionTimestamp: start } : {}) } });
    expect(readSwitchover([{ metadata: { name: "db-3" } }, pod("db-2")])).toEqual({ from: "db-1", to: "db-2", fenceLsn: "0/3000060", startedAt: start.getTime() });
    expect(readSwitchover([pod("db-2", true)])).toBeUndefined();
  });

  it("waits for the old primary, promotes a target past the fence, finishes an already promoted one, and abandons a stuck one", () => {
    const s = { from: "db-1", to: "db-2", fenceLsn: "0/3000060", startedAt: start.getTime() };
    const later = (ms: number) => new Date(start.getTime() + ms);
    expect(nextSwitchoverStep(s, true, new Map([["db-2", replica("0/3000060")]]), later(1000))).toMatchObject({ kind: "Wait", checker: "OldPrimaryRunning" });
    expect(nextSwitchoverStep(s, false, new Map([["db-2", replica("0/30000D8")], ["db-3", replica("0/30000D8")]]), later(1000))).toEqual({ kind: "Promote" });
    expect(nextSwitchoverStep(s, false, new Map([["db-2", { reachable: true, inRecovery: false }]]), later(1000))).toEqual({ kind: "Finish" });
    expect(nextSwitchoverStep(s, false, new Map([["db-2", replica("0/3000060")]]), later(1000))).toMatchObject({ kind: "Wait", checker: "TargetBehindFence" });
    expect(nextSwitchoverStep(s, false, new Map([["db-2", replica("0/3000060")]]), later(61_000))).toMatchObject({ kind: "Abandon", checker: "TargetBehindFence" });
    // Waiting for the old primary's shutdown is never abandoned: promoting before it is gone could make two primaries.
    expect(nextSwitchoverStep(s, true, new Map([["db-2", replica("0/3000060")]]), later(600_000))).toMatchObject({ kind: "Wait", checker: "OldPrimaryRunning" });
  });
});

describe("oldPrimaryDown", () => {
  const pod = (deleting: boolean, states: object[]): V1Pod =>
    ({ metadata: { name: "db-1", ...(deleting ? { deletionTimestamp: new Date() } : {}) }, status: { containerStatuses: states.map((state) => ({ name: "postgres", state })) } }) as V1Pod;
  it("is down when the pod is gone, or deleted with every container terminated; not while one runs or the pod is not being deleted", () => {
    expect(oldPrimaryDown(undefined)).toBe(true);
    expect(oldPrimaryDown(pod(true, [{ terminated: { exitCode: 0 } }]))).toBe(true);
    expect(oldPrimaryDown(pod(true, [{ running: { startedAt: new Date() } }]))).toBe(false);
    expect(oldPrimaryDown(pod(true, [{ terminated: { exitCode: 0 } }, { running: {} }]))).toBe(false);
    expect(oldPrimaryDown(pod(true, []))).toBe(false); // nothing reported yet
    expect(oldPrimaryDown(pod(false, [{ terminated: { exitCode: 1 } }]))).toBe(false); // crashed, the kubelet restarts it
  });
});
