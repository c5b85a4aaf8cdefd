// Parameter rollout of a PostgresCluster against a real API server and the node harness running
// real PostgreSQL 17 (or the highest packaged major):
// - a reload-only parameter (work_mem) reaches every instance with no restart: same pods, same
//   postmaster start times;
// - a restart parameter (max_connections) restarts the replicas first, one at a time, then
//   switches over to an updated replica (the old primary shut down cleanly, the target promoted
//   once it has the old primary's last WAL, the old primary back as a replica on its volume),
//   with a writer losing no acknowledged row. The switchover time is printed.
// - with primaryUpdateStrategy supervised, the primary waits (reported in status) until the
//   cluster is annotated setpoint.dev/switchover-to=<replica>;
// - a switchover decided by an operator that stopped before acting on it is resumed by the next;
// - lowering max_connections restarts the primary first, in place, then the replicas;
// - a new cluster created with a restart parameter starts with it on every instance (no restart);
// - a single instance restarts in place; a value PostgreSQL refuses shows in status and Events.
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { SWITCHOVER_AT_ANNOTATION, SWITCHOVER_FROM_ANNOTATION, SWITCHOVER_LSN_ANNOTATION } from "../../sdk/operator/cluster/switchover";
import { clusterToolchain, useCluster } from "../support/cluster";
import { eventually } from "../support/eventually";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 180_000;

const ns = "rollout";
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe.skipIf(clusterToolchain.skip !== undefined)("PostgresCluster parameter rollout", () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  const { lines, read, settled, secretValue, pod, selectedPods, query, create, startWriter } = env;
  const setParameters = (name: string, parameters: Record<string, string>) => env.patch(name, [{ op: "replace", path: "/spec/parameters", value: parameters }]);
  /** Per instance: pod uid, postmaster start time and a setting. */
  const snapshot = async (cluster: string, names: readonly string[], setting: string) =>
    Object.fromEntries(
      await Promise.all(
        names.map(async (n) => {
          const p = await pod(n);
          const [r] = await query<{ started: string; value: string }>(cluster, p.status!.podIP!, `select pg_postmaster_start_time()::text as started, current_setting('${setting}') as value`);
          return [n, { uid: p.metadata!.uid, started: r!.started, value: r!.value }] as const;
        }),
      ),
    );
  const instances = ["shop-1", "shop-2", "shop-3"];

  it("applies a reload-only parameter (work_mem) to every instance without restarting any", async () => {
    await create("shop", { instances: 3, synchronous: { number: 1 }, parameters: { work_mem: "8MB" } });
    const first = await settled("shop", 1, (c) => c.status?.effectiveParameters?.["work_mem"] === "8MB");
    expect(first.status?.instances?.map((i) => i.pendingRestart)).toEqual([false, false, false]);
    const before = await snapshot("shop", instances, "work_mem");
    for (const n of instances) expect(before[n]!.value).toBe("8MB");

    await setParameters("shop", { work_mem: "16MB" });
    const after = await settled("shop", 2, (c) => c.status?.effectiveParameters?.["work_mem"] === "16MB");
    expect(after.status?.currentPrimary).toBe("shop-1");
    const now = await snapshot("shop", instances, "work_mem");
    for (const n of instances) {
      expect(now[n]).toEqual({ ...before[n], value: "16MB" });
    }
    expect(lines.filter((l) => /step (restart|switchover)/.test(l))).toEqual([]);
  }, 600_000);

  it("restarts replicas first, one at a time, then switches over for a restart parameter (max_connections), losing no acknowledged row", async () => {
    const password = await secretValue("shop-superuser", "password");
    const oldPrimary = (await read("shop")).status!.currentPrimary!;
    const oldIp = (await pod(oldPrimary)).status!.podIP!;
    await query("shop", oldIp, "create table acked (id int primary key, note text)");
    const before = await snapshot("shop", instances, "max_connections");
    const writer = startWriter("shop", password);
    await eventually("writer running", async () => writer.acked.length >= 20, WAIT_MS);

    const mark = lines.length;
    await setParameters("shop", { work_mem: "16MB", max_connections: String(Number(before[oldPrimary]!.value) + 10) });
    const after = await settled("shop", 3, (c) => c.status?.currentPrimary !== oldPrimary && (c.status?.instances ?? []).every((i) => i.pendingRestart === false));
    await sleep(1000);
    await writer.stop();

    const newPrimary = after.status!.currentPrimary!;
    const newIp = (await pod(newPrimary)).status!.podIP!;
    // The writer's view of the switchover: its last write on the old primary to its first on the new one.
    const lastOld = writer.acked.filter((a) => a.server === oldIp).at(-1)!;
    const firstNew = writer.acked.find((a) => a.server === newIp && a.at > lastOld.at)!;
    const switchoverS = (firstNew.at - lastOld.at) / 1000;
    console.log(`switchover (${oldPrimary} -> ${newPrimary}): writes paused ${switchoverS.toFixed(2)} s; ${writer.acked.length} rows acknowledged in all`);
    expect(switchoverS).toBeLessThanOrEqual(20);

    // Order: each replica restarted (one at a time), then the switchover.
    const steps = lines.slice(mark).filter((l) => /step (restart [^:\s]+|switchover): Updated/.test(l)).map((l) => /step (restart [^:\s]+|switchover)/.exec(l)![1]);
    const replicas = instances.filter((n) => n !== oldPrimary);
    expect(steps.slice(0, 2).sort()).toEqual(replicas.map((r) => `restart ${r}`));
    expect(steps.slice(2)).toEqual(["switchover", "switchover"]); // started, then completed
    // Each instance's configuration is written once: a value waiting for a restart is not rewritten on every reconcile.
    expect(lines.slice(mark).filter((l) => /step config /.test(l)).length).toBeLessThanOrEqual(instances.length);
    const now = await snapshot("shop", instances, "max_connections");
    for (const n of instances) {
      expect(now[n]!.value).toBe(String(Number(before[n]!.value) + 10));
      expect(now[n]!.started).not.toBe(before[n]!.started);
    }
    // Replicas were recreated; the old primary rejoined on its volume as a replica.
    expect((await query<{ r: boolean }>("shop", (await pod(oldPrimary)).status!.podIP!, "select pg_is_in_recovery() as r"))[0]!.r).toBe(true);
    expect(await selectedPods("shop-rw")).toEqual([newPrimary]);
    expect(Number((await query<{ n: string }>("shop", newIp, "select count(*) as n from pg_stat_replication where state = 'streaming'"))[0]!.n)).toBe(2);

    const present = new Set((await query<{ id: number }>("shop", newIp, "select id from acked")).map((r) => r.id));
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);

    const events = (await env.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "shop").map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(["RestartingReplica", "Switchover", "SwitchoverCompleted"]));
  }, 600_000);

  it("waits for the user with primaryUpdateStrategy supervised, then switches over when annotated", async () => {
    await create("till", { instances: 2, synchronous: { number: 1 }, primaryUpdateStrategy: "supervised" });
    await settled("till", 1);
    await setParameters("till", { max_connections: "70" });
    const waiting = await eventually("supervised wait in status", async () => {
      const p = (await read("till")).status?.conditions?.find((c) => c.type === "Progressing");
      return p?.reason === "WaitingForSwitchover" ? p : undefined;
    }, WAIT_MS);
    expect(waiting.message).toContain("setpoint.dev/switchover-to=till-2");
    const status = (await read("till")).status!;
    expect(status.currentPrimary).toBe("till-1");
    expect(status.instances?.map((i) => [i.name, i.pendingRestart])).toEqual([
      ["till-1", true],
      ["till-2", false],
    ]);
    await env.patch("till", { metadata: { annotations: { "setpoint.dev/switchover-to": "till-2" } } });
    const done = await settled("till", 2, (c) => c.status?.currentPrimary === "till-2" && (c.status.instances ?? []).every((i) => i.pendingRestart === false));
    expect(done.status?.effectiveParameters?.["max_connections"]).toBe("70");
    await eventually("the request annotation cleared", async () => {
      const c = await read("till");
      return c.metadata.annotations?.["setpoint.dev/switchover-to"] === undefined;
    }, WAIT_MS);
  }, 600_000);

  it("resumes a switchover the operator decided before it stopped (target annotated, old primary still running)", async () => {
    const before = await settled("shop", 3);
    const from = before.status!.currentPrimary!;
    const to = before.status!.instances!.find((i) => i.role === "replica")!.name;
    await env.stopOperator();
    const fromIp = (await pod(from)).status!.podIP!;
    const [fence] = await query<{ lsn: string }>("shop", fromIp, "select pg_current_wal_lsn()::text as lsn");
    await env.core.patchNamespacedPod(
      {
        name: to,
        namespace: ns,
        body: { metadata: { annotations: { [SWITCHOVER_FROM_ANNOTATION]: from, [SWITCHOVER_LSN_ANNOTATION]: fence!.lsn, [SWITCHOVER_AT_ANNOTATION]: new Date().toISOString() } } },
      },
      MERGE_PATCH,
    );
    await env.startOperator();
    const after = await settled("shop", 3, (c) => c.status?.currentPrimary === to);
    expect(after.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([to]);
    expect((await query<{ r: boolean }>("shop", (await pod(from)).status!.podIP!, "select pg_is_in_recovery() as r"))[0]!.r).toBe(true);
    expect(await selectedPods("shop-rw")).toEqual([to]);
    expect((await pod(to)).metadata?.annotations?.[SWITCHOVER_FROM_ANNOTATION]).toBeUndefined();
    const toIp = (await pod(to)).status!.podIP!;
    expect(Number((await query<{ n: string }>("shop", toIp, "select count(*) as n from pg_stat_replication where state = 'streaming'"))[0]!.n)).toBe(2);
  }, 600_000);

  it("restarts the primary first, in place, when max_connections goes down (a hot standby needs at least the primary's value), losing no acknowledged row", async () => {
    const before = await settled("shop", 3);
    const primary = before.status!.currentPrimary!;
    const primaryIp = (await pod(primary)).status!.podIP!;
    await query("shop", primaryIp, "truncate acked");
    const writer = startWriter("shop", await secretValue("shop-superuser", "password"));
    await eventually("writer running", async () => writer.acked.length >= 20, WAIT_MS);
    const mark = lines.length;
    await setParameters("shop", { work_mem: "16MB", max_connections: "45" });
    const after = await settled("shop", 4, (c) => c.status?.effectiveParameters?.["max_connections"] === "45" && (c.status.instances ?? []).every((i) => i.pendingRestart === false));
    await sleep(1000);
    await writer.stop();
    expect(after.status?.currentPrimary).toBe(primary);
    const steps = lines.slice(mark).filter((l) => /step (restart [^:\s]+|switchover): Updated/.test(l)).map((l) => /step (restart [^:\s]+|switchover)/.exec(l)![1]);
    expect(steps[0]).toBe(`restart ${primary}`);
    expect(steps.slice(1).sort()).toEqual(instances.filter((n) => n !== primary).map((n) => `restart ${n}`));
    for (const i of after.status!.instances!) {
      const [r] = await query<{ v: string }>("shop", (await pod(i.name)).status!.podIP!, "select current_setting('max_connections') as v");
      expect(r!.v).toBe("45");
    }
    const newIp = (await pod(primary)).status!.podIP!;
    const present = new Set((await query<{ id: number }>("shop", newIp, "select id from acked")).map((r) => r.id));
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);
    expect((await env.core.readNamespacedPersistentVolumeClaim({ name: primary, namespace: ns })).metadata?.annotations?.["setpoint.dev/restart-in-place-until"]).toBeUndefined();
  }, 600_000);

  it("starts a new cluster with its restart parameter on every instance: no restart, no switchover, still its first timeline (ADR 0043)", async () => {
    const mark = lines.length;
    await create("fresh", { instances: 3, synchronous: { number: 1 }, parameters: { max_connections: "75" } });
    const done = await settled("fresh", 1, (c) => c.status?.effectiveParameters?.["max_connections"] === "75" && (c.status.instances ?? []).every((i) => i.pendingRestart === false));
    expect(done.status?.instances).toHaveLength(3);
    for (const i of done.status!.instances!) {
      const [r] = await query<{ v: string; tli: number }>("fresh", (await pod(i.name)).status!.podIP!, "select current_setting('max_connections') as v, (select timeline_id from pg_control_checkpoint()) as tli");
      expect(r!.v).toBe("75");
      expect(r!.tli).toBe(1);
    }
    expect(done.status?.currentPrimary).toBe("fresh-1");
    expect(done.status?.instances?.filter((i) => i.role === "primary")).toHaveLength(1);
    // Before ADR 0043 the first boot ran the defaults: every instance restarted, then a switchover.
    expect(lines.slice(mark).filter((l) => l.includes("fresh") && /step (restart|switchover)/.test(l))).toEqual([]);
  }, 600_000);

  it("restarts a single instance in place for a restart parameter, and reports a value PostgreSQL refuses", async () => {
    await create("solo", { instances: 1 });
    await settled("solo", 1);
    const before = await snapshot("solo", ["solo-1"], "max_connections");
    await setParameters("solo", { max_connections: "65" });
    const done = await settled("solo", 2, (c) => c.status?.effectiveParameters?.["max_connections"] === "65" && c.status.instances?.[0]?.pendingRestart === false);
    expect(done.status?.currentPrimary).toBe("solo-1");
    const after = await snapshot("solo", ["solo-1"], "max_connections");
    expect(after["solo-1"]!.started).not.toBe(before["solo-1"]!.started);
    expect(after["solo-1"]!.uid).not.toBe(before["solo-1"]!.uid);

    await setParameters("solo", { max_connections: "65", work_mem: "lots" });
    const refused = await eventually("the refused value in status", async () => {
      const c = await read("solo");
      const p = c.status?.conditions?.find((x) => x.type === "Progressing");
      return c.status?.observedGeneration === 3 && p?.reason === "InvalidParameter" ? { c, p } : undefined;
    }, WAIT_MS);
    expect(refused.p.message).toContain("work_mem");
    expect(refused.c.status?.conditions?.find((x) => x.type === "Ready")?.status).toBe("True");
    const events = (await env.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "solo").map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(["RestartingPrimary", "InvalidParameter"]));
  }, 600_000);
});
