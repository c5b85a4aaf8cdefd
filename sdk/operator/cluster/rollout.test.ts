import { describe, expect, it } from "vitest";
import { planRollout, type RolloutInput, type RolloutInstance } from "./rollout";

const inst = (name: string, ordinal: number, extra: Partial<RolloutInstance> = {}): RolloutInstance => ({ name, ordinal, ready: true, pendingRestart: [], replayLsn: "0/100", receiveLsn: "0/100", ...extra });
const base: RolloutInput = {
  primary: inst("db-1", 1, { pendingRestart: ["max_connections"] }),
  replicas: [inst("db-2", 2, { pendingRestart: ["max_connections"] }), inst("db-3", 3, { pendingRestart: ["max_connections"] })],
  missingReplicas: [],
  strategy: "unsupervised",
};

describe("planRollout", () => {
  it("does nothing when nothing waits for a restart", () => {
    expect(planRollout({ ...base, primary: inst("db-1", 1), replicas: [inst("db-2", 2)] })).toEqual({ kind: "None" });
  });

  it("restarts the lowest-ordinal replica first, then waits for it to stream again before the next", () => {
    expect(planRollout(base)).toEqual({ kind: "RestartReplica", name: "db-2", checker: "PendingRestart", reason: "db-2: max_connections changed and needs a restart" });
    expect(planRollout({ ...base, replicas: [base.replicas[1]!], missingReplicas: ["db-2"] })).toEqual({
      kind: "Wait",
      checker: "InstanceNotReady",
      reason: "not restarting db-3 until db-2 is back and streaming",
    });
    expect(planRollout({ ...base, replicas: [inst("db-2", 2, { ready: false }), base.replicas[1]!] })).toMatchObject({ kind: "Wait", checker: "InstanceNotReady" });
    expect(planRollout({ ...base, primary: { ...base.primary, ready: false } })).toMatchObject({ kind: "Wait", checker: "PrimaryNotReady" });
  });

  it("switches the primary over to the most advanced updated replica once every replica is updated and streaming", () => {
    const replicas = [inst("db-2", 2, { receiveLsn: "0/200" }), inst("db-3", 3, { receiveLsn: "0/300" })];
    expect(planRollout({ ...base, replicas })).toEqual({ kind: "Switchover", from: "db-1", to: "db-3", checker: "PendingRestart", reason: "db-1: max_connections changed and needs a restart" });
    expect(planRollout({ ...base, replicas: [replicas[0]!, { ...replicas[1]!, ready: false }] })).toMatchObject({ kind: "Wait", checker: "ReplicasNotStreaming" });
  });

  it("waits for the user when supervised, naming the annotation, and follows it", () => {
    const replicas = [inst("db-2", 2)];
    expect(planRollout({ ...base, replicas, strategy: "supervised" })).toEqual({
      kind: "Wait",
      checker: "SupervisedUpdate",
      reason: "primary db-1 needs a restart and primaryUpdateStrategy is supervised: annotate the cluster setpoint.dev/switchover-to=db-2 to switch over to it",
    });
    expect(planRollout({ ...base, replicas, strategy: "supervised", requested: "db-2" })).toMatchObject({ kind: "Switchover", from: "db-1", to: "db-2" });
  });

  it("restarts a single instance in place, and treats a request naming the primary as done once it needs nothing", () => {
    expect(planRollout({ ...base, replicas: [] })).toMatchObject({ kind: "RestartPrimary", name: "db-1" });
    expect(planRollout({ ...base, replicas: [], strategy: "supervised" })).toMatchObject({ kind: "Wait", checker: "SupervisedUpdate", reason: expect.stringContaining("switchover-to=db-1 to restart it in place") });
    expect(planRollout({ ...base, replicas: [], strategy: "supervised", requested: "db-1" })).toMatchObject({ kind: "RestartPrimary", name: "db-1" });
    expect(planRollout({ ...base, primary: inst("db-1", 1), replicas: [inst("db-2", 2)], requested: "db-1" })).toEqual({ kind: "RequestDone" });
  });

  it("switches over on request (a manual switchover) even when nothing needs a restart", () => {
    expect(planRollout({ ...base, primary: inst("db-1", 1), replicas: [inst("db-2", 2)], requested: "db-2" })).toEqual({
      kind: "Switchover",
      from: "db-1",
      to: "db-2",
      checker: "Requested",
      reason: "setpoint.dev/switchover-to=db-2",
    });
  });

  it("restarts the primary first, in place, when a hot-standby parameter goes down", () => {
    const primaryFirst = { checker: "HotStandbyParameterDecrease", reason: "max_connections 60 -> 45: ..." };
    expect(planRollout({ ...base, primaryFirst })).toEqual({ kind: "RestartPrimary", name: "db-1", ...primaryFirst });
    expect(planRollout({ ...base, primaryFirst, strategy: "supervised" })).toMatchObject({ kind: "Wait", checker: "SupervisedUpdate", reason: expect.stringContaining("switchover-to=db-1 to restart it in place") });
    expect(planRollout({ ...base, primaryFirst, strategy: "supervised", requested: "db-1" })).toMatchObject({ kind: "RestartPrimary", name: "db-1" });
    // Once the primary has restarted, the replicas follow as usual.
    expect(planRollout({ ...base, primary: inst("db-1", 1), primaryFirst: undefined })).toMatchObject({ kind: "RestartReplica", name: "db-2" });
  });
});
