import { describe, expect, it } from "vitest";
import { clusterObjectNames } from "../../api/names";
import { statusFor, type InstanceObservation, type Observation } from "./status";

const now = new Date("2025-01-02T03:04:05Z");
const up: InstanceObservation = { name: "orders-1", podReady: true, probe: { reachable: true, inRecovery: false }, ip: "127.40.0.2" };
const observed = (over: Partial<Extract<Observation, { kind: "Observed" }>> = {}): Observation => ({
  kind: "Observed",
  instances: [up],
  primary: "orders-1",
  bootstrapped: true,
  wantedInstances: 1,
  names: clusterObjectNames("orders"),
  services: { rw: true, ro: true },
  ...over,
});
const cond = (s: ReturnType<typeof statusFor>, type: string) => s.conditions?.find((c) => c.type === type);

describe("statusFor", () => {
  it("is Ready with the primary, instances and connection details once the primary is up and bootstrapped", () => {
    const s = statusFor(undefined, observed(), 3, now);
    expect(s).toMatchObject({
      observedGeneration: 3,
      currentPrimary: "orders-1",
      instances: [{ name: "orders-1", role: "primary", ready: true }],
      readWriteService: "orders-rw",
      readOnlyService: "orders-ro",
      secretName: "orders-app",
      port: 5432,
    });
    expect(cond(s, "Ready")).toMatchObject({ status: "True", reason: "Ready", observedGeneration: 3 });
    expect(cond(s, "Progressing")).toMatchObject({ status: "False", observedGeneration: 3 });
    expect(cond(s, "Degraded")).toMatchObject({ status: "False", observedGeneration: 3 });
  });

  it("reports the pooler as observed, and drops it once the spec has none", () => {
    const pooler = { service: "orders-pooler-rw", instances: 2, readyInstances: 1, primary: "orders-1", paused: true };
    const s = statusFor(undefined, observed({ pooler }), 1, now);
    expect(s.pooler).toEqual(pooler);
    expect(statusFor(s, observed(), 2, now).pooler).toBeUndefined();
  });

  it("reports managed roles, is Degraded with the roles' reason while one is not as declared, and drops them once the spec has none", () => {
    const roles = { managed: [{ name: "svc", outcome: "Failed" as const, reason: "RoleSecretMissing", message: 'role "svc": Secret "svc-pw" not found' }], unmanaged: ["legacy"] };
    const failing = statusFor(undefined, observed({ roles: { status: roles, failure: { reason: "RoleSecretMissing", message: 'role "svc": Secret "svc-pw" not found' } } }), 1, now);
    expect(failing.roles).toEqual(roles);
    expect(cond(failing, "Ready")).toMatchObject({ status: "True" });
    expect(cond(failing, "Degraded")).toMatchObject({ status: "True", reason: "RoleSecretMissing", message: 'role "svc": Secret "svc-pw" not found' });
    const fixed = statusFor(failing, observed({ roles: { status: { managed: [{ name: "svc", outcome: "Updated" }], unmanaged: [] } } }), 1, now);
    expect(cond(fixed, "Degraded")).toMatchObject({ status: "False", reason: "Ready" });
    expect(statusFor(fixed, observed(), 2, now).roles).toBeUndefined();
  });

  it("names why it is not Ready, in order: no pod, unreachable, not bootstrapped", () => {
    expect(cond(statusFor(undefined, observed({ instances: [] }), 1, now), "Ready")).toMatchObject({ status: "False", reason: "PrimaryPending" });
    const down = { ...up, podReady: false, probe: { reachable: false as const, error: "connection refused" } };
    expect(cond(statusFor(undefined, observed({ instances: [down] }), 1, now), "Ready")).toMatchObject({
      status: "False",
      reason: "PrimaryNotReady",
      message: "instance orders-1: connection refused",
    });
    expect(cond(statusFor(undefined, observed({ bootstrapped: false }), 1, now), "Ready")).toMatchObject({ status: "False", reason: "Bootstrapping" });
  });

  it("keeps the last known primary while the primary is down", () => {
    const down = { ...up, podReady: false, probe: { reachable: false as const, error: "x" } };
    const s = statusFor({ currentPrimary: "orders-2" }, observed({ instances: [down] }), 1, now);
    expect(s.currentPrimary).toBe("orders-2");
  });

  it("is Progressing while scaling, while a replica is not streaming, and during a failover", () => {
    expect(cond(statusFor(undefined, observed({ wantedInstances: 3 }), 1, now), "Progressing")).toMatchObject({ status: "True", reason: "Scaling", message: "1 of 3 instances" });
    const replica: InstanceObservation = { name: "orders-2", podReady: true, probe: { reachable: true, inRecovery: true }, streaming: false };
    const p = cond(statusFor(undefined, observed({ wantedInstances: 2, instances: [up, replica] }), 1, now), "Progressing");
    expect(p).toMatchObject({ status: "True", reason: "ReplicasNotStreaming", message: "not streaming yet: orders-2" });
    const s = statusFor(undefined, observed({ wantedInstances: 2, instances: [up, { ...replica, streaming: true, lagBytes: 0 }] }), 1, now);
    expect(cond(s, "Progressing")).toMatchObject({ status: "False" });
    expect(s.instances).toEqual([
      { name: "orders-1", role: "primary", ready: true },
      { name: "orders-2", role: "replica", ready: true, lagBytes: 0 },
    ]);
    const f = statusFor(undefined, observed({ topology: { reason: "Failover", message: "promoted orders-2" } }), 1, now);
    expect(cond(f, "Progressing")).toMatchObject({ status: "True", reason: "Failover", message: "promoted orders-2" });
  });

  it("drops a Service turned off in the spec", () => {
    const s = statusFor(statusFor(undefined, observed(), 1, now), observed({ services: { rw: true, ro: false } }), 2, now);
    expect(s.readOnlyService).toBeUndefined();
  });

  it("reports an invalid spec as not Ready and Degraded", () => {
    const s = statusFor(undefined, { kind: "InvalidSpec", message: "spec.storage: required" }, 1, now);
    expect(cond(s, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec", message: "spec.storage: required" });
    expect(cond(s, "Degraded")).toMatchObject({ status: "True", reason: "InvalidSpec" });
  });

  it("reports each instance's pending restart and disk usage, the effective parameters and the fullest volume", () => {
    const replica: InstanceObservation = { name: "orders-2", podReady: true, probe: { reachable: true, inRecovery: true, pendingRestart: [] }, streaming: true, lagBytes: 0, diskUsedBytes: 10 };
    const primary: InstanceObservation = { ...up, probe: { reachable: true, inRecovery: false, pendingRestart: ["max_connections"] }, diskUsedBytes: 20 };
    const s = statusFor(
      undefined,
      observed({
        instances: [primary, replica],
        wantedInstances: 2,
        effectiveParameters: { max_connections: "50", work_mem: "8MB" },
        diskUsage: { usedBytes: 20, capacityBytes: 100 },
        topology: { reason: "RollingRestart", message: "restarting replica orders-2: ..." },
      }),
      4,
      now,
    );
    expect(s.instances).toEqual([
      { name: "orders-1", role: "primary", ready: true, pendingRestart: true, diskUsedBytes: 20 },
      { name: "orders-2", role: "replica", ready: true, lagBytes: 0, pendingRestart: false, diskUsedBytes: 10 },
    ]);
    expect(s.effectiveParameters).toEqual({ max_connections: "50", work_mem: "8MB" });
    expect(s.diskUsage).toEqual({ usedBytes: 20, capacityBytes: 100 });
    expect(cond(s, "Progressing")).toMatchObject({ status: "True", reason: "RollingRestart" });
  });
});

describe("statusFor: WAL archiving", () => {
  const healthy = { lastArchivedWal: "000000010000000000000007", lastArchivedTime: "2025-01-02T03:04:00.000Z", pendingFiles: 0, pendingBytes: 0, lagSeconds: 0, failing: false };
  it("merges the archive's fields into status.backup, keeping the fields other controllers own", () => {
    const previous = { backup: { lastBackup: "orders-20250101", lastBackupTime: "2025-01-01T00:00:00Z", firstRecoverabilityPoint: "2025-01-01T00:00:00Z" } };
    const s = statusFor(previous, observed({ archive: healthy }), 1, now);
    expect(s.backup).toEqual({ ...previous.backup, lastArchivedWal: healthy.lastArchivedWal, lastArchivedTime: healthy.lastArchivedTime, archiveLagSeconds: 0 });
    expect(cond(s, "Degraded")).toMatchObject({ status: "False" });
    // Not observed this time (primary unreachable): what was there stays.
    expect(statusFor(s, observed(), 2, now).backup).toEqual(s.backup);
  });

  it("is Degraded with the failure's named reason, the segment and the WAL held in pg_wal", () => {
    const failing = {
      ...healthy,
      lastFailedWal: "000000010000000000000008",
      lastFailedTime: "2025-01-02T03:04:04.000Z",
      pendingFiles: 3,
      pendingBytes: 3 * 16 * 2 ** 20,
      lagSeconds: 61.26,
      failing: true,
      failure: { reason: "BUCKET_NOT_FOUND", message: "bucket s3://gone does not exist", wal: "000000010000000000000008" },
    };
    const s = statusFor(undefined, observed({ archive: failing }), 1, now);
    expect(s.backup).toMatchObject({ lastFailedWal: "000000010000000000000008", archiveLagSeconds: 61.3 });
    expect(cond(s, "Degraded")).toMatchObject({ status: "True", reason: "ArchiveBucketNotFound" });
    expect(cond(s, "Degraded")!.message).toContain("3 WAL files (48 MiB) wait in pg_wal");
    expect(cond(s, "Ready")).toMatchObject({ status: "True" });
    for (const [reason, expected] of [["ACCESS_DENIED", "ArchiveAccessDenied"], ["ENDPOINT_UNREACHABLE", "ArchiveEndpointUnreachable"], ["STORE_ERROR", "ArchiveFailing"]] as const) {
      expect(cond(statusFor(undefined, observed({ archive: { ...failing, failure: { ...failing.failure, reason } } }), 1, now), "Degraded")!.reason).toBe(expected);
    }
  });

  it("names a failed restore in Ready and Degraded", () => {
    const s = statusFor(undefined, observed({ bootstrapped: false, instances: [], backupProblem: { reason: "RestoreFailed", message: "WAL_SEGMENT_MISSING: segment 000000010000000000000009 is not archived" } }), 1, now);
    expect(cond(s, "Ready")).toMatchObject({ status: "False", reason: "RestoreFailed", message: "WAL_SEGMENT_MISSING: segment 000000010000000000000009 is not archived" });
    expect(cond(s, "Degraded")).toMatchObject({ status: "True", reason: "RestoreFailed" });
  });
});
