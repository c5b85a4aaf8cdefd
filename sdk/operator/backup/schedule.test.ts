import { describe, expect, it } from "vitest";
import type { Informer } from "../../reconcile/internal/informer";
import type { BackupClusterObject, PostgresBackupObject } from "./controller";
import { runSchedules, SCHEDULED_AT_ANNOTATION, SCHEDULED_BY_LABEL, type ScheduledBackupObject, type SchedulerDeps } from "./schedule";

/** The scheduler's view of the API: what it lists, and what it creates (a 409 for a name taken). */
function world(clusters: BackupClusterObject[], scheduled: ScheduledBackupObject[] = []) {
  const backups: PostgresBackupObject[] = [];
  const statuses: Record<string, unknown>[] = [];
  const warnings: string[] = [];
  const informer = <T>(items: () => T[]) => ({ list: items }) as unknown as Informer<T & BackupClusterObject>;
  const deps: SchedulerDeps = {
    clusters: informer(() => clusters),
    backups: informer(() => backups) as never,
    scheduled: informer(() => scheduled) as never,
    api: {} as never,
    createBackup: async (_ns, body) => {
      const b = body as PostgresBackupObject;
      if (backups.some((x) => x.metadata?.name === b.metadata?.name)) throw Object.assign(new Error("exists"), { code: 409 });
      backups.push(b);
    },
    patchScheduledStatus: async (_ns, _name, status) => void statuses.push(status),
    patchClusterBackupStatus: async () => undefined,
    events: { record: async (_s, _t, reason, message) => void warnings.push(`${reason}: ${message}`) },
    logger: { debug: () => undefined, info: () => undefined, error: () => undefined, child() { return this; } },
  };
  return { deps, backups, statuses, warnings };
}

const cluster = (schedule: string | undefined, created = "2026-12-05T00:00:00Z"): BackupClusterObject => ({
  metadata: { name: "db", namespace: "ns", uid: "u1", creationTimestamp: new Date(created) },
  spec: { postgresVersion: 17, storage: { size: "1Gi" }, backup: { ...(schedule ? { schedule } : {}), destination: {} } },
});

describe("the backup scheduler", () => {
  it("creates one PostgresBackup for the latest due time after downtime, and none twice", async () => {
    const w = world([cluster("0 * * * *")]);
    // Created at midnight, first pass at 05:10: five runs missed, one catch-up (05:00).
    expect(await runSchedules(w.deps, new Date("2026-12-05T05:10:00Z"))).toBe(1);
    expect(w.backups).toHaveLength(1);
    expect(w.backups[0]!.metadata).toMatchObject({
      name: "db-202612050500",
      labels: { [SCHEDULED_BY_LABEL]: "cluster.db", "setpoint.dev/cluster": "db" },
      annotations: { [SCHEDULED_AT_ANNOTATION]: "2026-12-05T05:00:00.000Z" },
    });
    expect(w.backups[0]!.spec).toEqual({ cluster: { name: "db" } });
    // The next passes before 06:00 create nothing; at 06:00 the next one.
    expect(await runSchedules(w.deps, new Date("2026-12-05T05:59:00Z"))).toBe(0);
    expect(await runSchedules(w.deps, new Date("2026-12-05T06:00:20Z"))).toBe(1);
    expect(w.backups.map((b) => b.metadata?.name)).toEqual(["db-202612050500", "db-202612050600"]);
  });

  it("leaves the schedule of a cluster its green serves after a finalized upgrade to green's own copy (ADR 0046)", async () => {
    const served: BackupClusterObject = { ...cluster("0 * * * *"), status: { upgrade: { name: "db-to-18", green: "db-v18", from: 17, to: 18, phase: "finalized" } } };
    const switched: BackupClusterObject = { ...cluster("0 * * * *"), status: { upgrade: { name: "db-to-18", green: "db-v18", from: 17, to: 18, phase: "switched" } } };
    expect(await runSchedules(world([served]).deps, new Date("2026-12-05T05:10:00Z"))).toBe(0);
    // Until finalized the cluster's own instances exist (a rollback may return to them): its schedule runs.
    expect(await runSchedules(world([switched]).deps, new Date("2026-12-05T05:10:00Z"))).toBe(1);
  });

  it("treats a create the cache had not seen yet (409) as done", async () => {
    const w = world([cluster("*/5 * * * *")]);
    const stale = { ...w.deps, backups: { list: () => [] } as never };
    await runSchedules(stale, new Date("2026-12-05T00:07:00Z"));
    expect(await runSchedules(stale, new Date("2026-12-05T00:07:30Z"))).toBe(0);
    expect(w.backups).toHaveLength(1);
  });

  it("skips suspended PostgresScheduledBackups, records next times, and names a bad schedule in an Event", async () => {
    const sb = (name: string, spec: object): ScheduledBackupObject => ({ metadata: { name, namespace: "ns", uid: name, creationTimestamp: new Date("2026-12-05T00:00:00Z") }, spec });
    const w = world([cluster(undefined)], [sb("nightly", { cluster: { name: "db" }, schedule: "30 2 * * *", target: "primary" }), { ...sb("paused", { cluster: { name: "db" }, schedule: "* * * * *", suspend: true }), status: { nextScheduleTime: "2026-12-05T00:01:00.000Z" } }, sb("broken", { cluster: { name: "db" }, schedule: "0 3 L * *" })]);
    expect(await runSchedules(w.deps, new Date("2026-12-05T03:00:00Z"))).toBe(1);
    expect(w.backups[0]!.metadata?.name).toBe("nightly-202612050230");
    expect(w.backups[0]!.spec).toEqual({ cluster: { name: "db" }, target: "primary" });
    expect(w.statuses).toContainEqual({ lastBackup: "nightly-202612050230", lastScheduleTime: "2026-12-05T02:30:00.000Z", nextScheduleTime: "2026-12-06T02:30:00.000Z" });
    // Suspended: nothing created, and its next time removed.
    expect(w.statuses).toContainEqual({ nextScheduleTime: null });
    expect(w.backups).toHaveLength(1);
    expect(w.warnings).toEqual([expect.stringMatching(/^InvalidSchedule: spec.schedule: "0 3 L \* \*": day-of-month field "L"/)]);
  });
});
