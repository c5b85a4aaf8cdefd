// Streaming replicas, scaling and failover of a PostgresCluster, against a real API server (with
// the garbage collector and PVC protection) and the node harness running the pods' instance
// manager with real PostgreSQL (replicas cloned by the manager over the replication protocol):
// - scaling 1 -> 3 gives two streaming replicas behind the ro Service, and a row written on the
//   primary is read on both; scaling 3 -> 2 removes the highest ordinal (pod, claim, slot);
// - with synchronous replication, deleting the primary's pod promotes a replica, repoints the rw
//   Service, makes the other replica follow, and loses no acknowledged row. The failover time
//   (pod deletion or crash to the first write acknowledged by the new primary) is printed; a
//   crashed primary's is measured against the 10 s target: the kubelet's (here the harness's)
//   report that its container exited starts the failover at once, without failoverGrace (ADR 0038).
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CLUSTER_LABEL, ROLE_LABEL } from "../../sdk/operator/cluster/objects";
import { clusterToolchain, useCluster } from "../support/cluster";
import { eventually } from "../support/eventually";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 180_000;

const ns = "replication";

describe.skipIf(clusterToolchain.skip !== undefined)("PostgresCluster replication", () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  const { lines, read, settled, secretValue, podIp, selectedPods, create, startWriter } = env;
  let currentCluster = "orders";
  const query = <T extends object>(host: string, sql: string, params: unknown[] = []): Promise<T[]> => env.query<T>(currentCluster, host, sql, params);
  const setInstances = (name: string, n: number) => env.patch(name, [{ op: "replace", path: "/spec/instances", value: n }]);

  it("scales 1 -> 3 to two streaming replicas that serve a row written on the primary, then 3 -> 2 removing the highest ordinal", async () => {
    currentCluster = "orders";
    await create("orders", { instances: 1 });
    await settled("orders", 1);
    await setInstances("orders", 3);
    const three = await settled("orders", 2);
    expect(three.status).toMatchObject({
      currentPrimary: "orders-1",
      instances: [
        { name: "orders-1", role: "primary", ready: true },
        { name: "orders-2", role: "replica", ready: true },
        { name: "orders-3", role: "replica", ready: true },
      ],
    });
    for (const i of three.status!.instances!.slice(1)) expect(i.lagBytes).toBeGreaterThanOrEqual(0);
    expect(await selectedPods("orders-rw")).toEqual(["orders-1"]);
    expect(await selectedPods("orders-ro")).toEqual(["orders-2", "orders-3"]);

    const primaryIp = await podIp("orders-1");
    const streaming = await query<{ application_name: string; state: string }>(primaryIp, "select application_name, state from pg_stat_replication order by 1");
    expect(streaming).toEqual([
      { application_name: "orders_2", state: "streaming" },
      { application_name: "orders_3", state: "streaming" },
    ]);
    await query(primaryIp, "create table ping (id int primary key, note text)");
    await query(primaryIp, "insert into ping values (1, 'written on the primary')");
    for (const replica of ["orders-2", "orders-3"]) {
      const ip = await podIp(replica);
      expect((await query<{ r: boolean }>(ip, "select pg_is_in_recovery() as r"))[0]!.r).toBe(true);
      const rows = await eventually(`row replicated to ${replica}`, async () => {
        const r = await query<{ note: string }>(ip, "select note from ping where id = 1").catch(() => []);
        return r.length === 1 ? r : undefined;
      }, WAIT_MS);
      expect(rows).toEqual([{ note: "written on the primary" }]);
    }

    await setInstances("orders", 2);
    const two = await settled("orders", 3);
    expect(two.status?.instances?.map((i) => [i.name, i.role])).toEqual([
      ["orders-1", "primary"],
      ["orders-2", "replica"],
    ]);
    await eventually("orders-3 pod and claim gone, its slot dropped", async () => {
      const sel = { namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` };
      const pods = (await env.core.listNamespacedPod(sel)).items.map((p) => p.metadata!.name);
      const claims = (await env.core.listNamespacedPersistentVolumeClaim(sel)).items.map((p) => p.metadata!.name);
      const slots = (await query<{ slot_name: string }>(primaryIp, "select slot_name from pg_replication_slots order by 1")).map((s) => s.slot_name);
      return !pods.includes("orders-3") && !claims.includes("orders-3") && JSON.stringify(slots) === JSON.stringify(["orders_2"]);
    }, WAIT_MS);
    expect(await selectedPods("orders-ro")).toEqual(["orders-2"]);
    await env.remove("orders");
    await eventually("orders pods gone", async () => (await env.core.listNamespacedPod({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items.length === 0, WAIT_MS);
  }, 600_000);

  it("fails over when the primary's pod is deleted: promotes a replica, repoints rw, the other follows, no acknowledged row lost", async () => {
    currentCluster = "ledger";
    await create("ledger", { instances: 3, synchronous: { number: 1 } });
    const before = await settled("ledger", 1);
    expect(before.status?.currentPrimary).toBe("ledger-1");
    const password = await secretValue("ledger-superuser", "password");
    const oldIp = await podIp("ledger-1");
    await query(oldIp, "create table acked (id int primary key, note text)");

    const writer = startWriter("ledger", password);
    await eventually("writer running", async () => writer.acked.length >= 20, WAIT_MS);

    const deletedAt = Date.now();
    await env.core.deleteNamespacedPod({ name: "ledger-1", namespace: ns });
    const after = await eventually("a new primary in status", async () => {
      const c = await read("ledger");
      return c.status?.currentPrimary !== undefined && c.status.currentPrimary !== "ledger-1" ? c : undefined;
    }, WAIT_MS);
    const newPrimary = after.status!.currentPrimary!;
    const firstAck = await eventually("writes acknowledged by the new primary", async () => writer.acked.find((a) => a.server !== oldIp && a.at >= deletedAt), WAIT_MS);
    console.log(`failover (primary pod deleted): first write acknowledged by ${newPrimary} ${((firstAck.at - deletedAt) / 1000).toFixed(2)} s after the deletion; ${writer.acked.length} rows acknowledged in all`);
    await sleep(1000);
    await writer.stop();

    expect(await selectedPods("ledger-rw")).toEqual([newPrimary]);
    const newIp = await podIp(newPrimary);
    const present = new Set((await query<{ id: number }>(newIp, "select id from acked")).map((r) => r.id));
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);

    // The cluster comes back to three instances: the other replica follows, the old primary's ordinal is re-cloned.
    const healed = await settled("ledger", 1);
    expect(healed.status?.currentPrimary).toBe(newPrimary);
    expect(healed.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([newPrimary]);
    expect(healed.status?.instances).toHaveLength(3);
    const primaries = [];
    for (const i of healed.status!.instances!) {
      const r = (await query<{ r: boolean }>(await podIp(i.name), "select pg_is_in_recovery() as r"))[0]!.r;
      if (!r) primaries.push(i.name);
    }
    expect(primaries).toEqual([newPrimary]);
    const labels = (await env.core.listNamespacedPod({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=ledger,${ROLE_LABEL}=primary` })).items.map((p) => p.metadata!.name);
    expect(labels).toEqual([newPrimary]);
    const streaming = await query<{ n: string }>(newIp, "select count(*) as n from pg_stat_replication where state = 'streaming'");
    expect(Number(streaming[0]!.n)).toBe(2);
  }, 600_000);

  it("fails over when the primary's server dies: its container's exit starts the failover without waiting for the grace, a replica promoted, no acknowledged row lost", async () => {
    currentCluster = "ledger";
    const password = await secretValue("ledger-superuser", "password");
    const oldPrimary = (await settled("ledger", 1)).status!.currentPrimary!;
    const oldIp = await podIp(oldPrimary);
    const writer = startWriter("ledger", password, 1_000_001);
    await eventually("writer running", async () => writer.acked.length >= 20, WAIT_MS);

    const crashedAt = Date.now();
    env.node.crash(ns, oldPrimary);
    const firstAck = await eventually("writes acknowledged by a new primary", async () => writer.acked.find((a) => a.server !== oldIp && a.at >= crashedAt), WAIT_MS);
    // Status is written at the end of the reconcile that repointed rw: it may trail the first acknowledged write.
    const newPrimary = await eventually("a new primary in status", async () => {
      const p = (await read("ledger")).status?.currentPrimary;
      return p !== undefined && p !== oldPrimary ? p : undefined;
    }, WAIT_MS);
    const failoverS = (firstAck.at - crashedAt) / 1000;
    console.log(`failover (primary server crashed for good, its exit reported): first write acknowledged by ${newPrimary} ${failoverS.toFixed(2)} s after the crash; ${writer.acked.length} rows acknowledged in all`);
    // CloudNativePG's end-to-end target is 10 s; measured 6.2-8.4 s here (printed above, and by
    // demo:cluster). The bound leaves room for a CI machine running other test files meanwhile:
    // it guards against a regression such as the grace no longer ending the wait, not the target.
    expect(failoverS).toBeLessThanOrEqual(15);
    await sleep(1000);
    await writer.stop();
    // Decided on the container's exit, not after the 5 s grace of an unready primary.
    expect(lines.join("\n")).toContain("PrimaryContainerExited");
    expect(lines.join("\n")).not.toContain("PrimaryUnreachable");

    const newIp = await podIp(newPrimary);
    const present = new Set((await query<{ id: number }>(newIp, "select id from acked")).map((r) => r.id));
    expect(writer.acked.filter((a) => !present.has(a.id))).toEqual([]);
    const healed = await settled("ledger", 1);
    expect(healed.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([newPrimary]);
    expect(healed.status?.instances).toHaveLength(3);
  }, 600_000);

  it("refuses to fail over an asynchronous cluster (a promotion could lose acknowledged commits) until the cluster is annotated", async () => {
    currentCluster = "audit";
    await create("audit", { instances: 2 });
    await settled("audit", 1);
    env.node.crash(ns, "audit-1");
    const refused = await eventually("failover refused in status", async () => {
      const p = (await read("audit")).status?.conditions?.find((c) => c.type === "Progressing");
      return p?.reason === "FailoverRefused" ? p : undefined;
    }, WAIT_MS);
    expect(refused.message).toContain("replication is asynchronous");
    expect(refused.message).toContain("setpoint.dev/allow-data-loss-failover=true");
    expect((await query<{ r: boolean }>(await podIp("audit-2"), "select pg_is_in_recovery() as r"))[0]!.r).toBe(true);
    expect((await read("audit")).status?.currentPrimary).toBe("audit-1");

    await env.patch("audit", { metadata: { annotations: { "setpoint.dev/allow-data-loss-failover": "true" } } });
    const promoted = await eventually("audit-2 promoted once allowed", async () => ((await read("audit")).status?.currentPrimary === "audit-2" ? true : undefined), WAIT_MS);
    expect(promoted).toBe(true);
    expect((await query<{ r: boolean }>(await podIp("audit-2"), "select pg_is_in_recovery() as r"))[0]!.r).toBe(false);
    expect(await selectedPods("audit-rw")).toEqual(["audit-2"]);
  }, 600_000);

  it("converges after an operator restart in the middle of a failover (promoted, not yet labelled or repointed)", async () => {
    currentCluster = "ledger";
    const before = await settled("ledger", 1);
    const oldPrimary = before.status!.currentPrimary!;
    const [next] = before.status!.instances!.filter((i) => i.role === "replica").map((i) => i.name);
    await env.stopOperator();
    // What the operator had done when it stopped: fenced the old primary, dropped its volume, promoted a replica.
    await env.core.deleteNamespacedPod({ name: oldPrimary, namespace: ns });
    await eventually(`${oldPrimary} gone`, async () => (await env.core.listNamespacedPod({ namespace: ns })).items.every((p) => p.metadata?.name !== oldPrimary), WAIT_MS);
    await env.core.deleteNamespacedPersistentVolumeClaim({ name: oldPrimary, namespace: ns });
    await query(await podIp(next!), "select pg_promote(true, 60)");

    await env.startOperator();
    // The status still says what the stopped operator last wrote: wait for the new one's view first.
    await eventually("the promoted replica in status", async () => (await read("ledger")).status?.currentPrimary === next, WAIT_MS);
    const healed = await settled("ledger", 1);
    expect(healed.status?.currentPrimary).toBe(next);
    expect(healed.status?.instances).toHaveLength(3);
    expect(healed.status?.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([next]);
    expect(await selectedPods("ledger-rw")).toEqual([next]);
    expect(await selectedPods("ledger-ro")).toEqual(healed.status!.instances!.filter((i) => i.name !== next).map((i) => i.name).sort());
    const nextIp = await podIp(next!);
    expect(Number((await query<{ n: string }>(nextIp, "select count(*) as n from pg_stat_replication where state = 'streaming'"))[0]!.n)).toBe(2);
  }, 600_000);
});
