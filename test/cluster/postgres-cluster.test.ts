// The PostgresCluster controller against a real API server (with the garbage collector and the
// PVC-protection controller of kube-controller-manager) and the node harness running real
// PostgreSQL: a 1-instance cluster becomes Ready, the rw Service selects the primary's pod,
// the generated application Secret connects to the bootstrap database, observedGeneration
// follows the spec, and deleting the cluster garbage-collects every child.
import type { KubernetesObject } from "@kubernetes/client-node";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig } from "../support/cluster-tls";
import { describe, expect, it } from "vitest";
import { CLUSTER_LABEL } from "../../sdk/operator/cluster/objects";
import { clusterMajor as major, clusterToolchain, useCluster } from "../support/cluster";
import { eventually } from "../support/eventually";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 120_000;

const ns = "clusters";

describe.skipIf(clusterToolchain.skip !== undefined)("PostgresCluster controller", () => {
  // The operator's log lines are kept for a failing test's message; secrets never reach them (checked below).
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  const { lines, readyAt, secretValue } = env;

  it("makes a 1-instance cluster Ready: primary pod, rw Service on it, app Secret that connects", async () => {
    await env.create("orders", { instances: 1, parameters: { work_mem: "8MB" }, bootstrap: { database: "shop", owner: "shopper" } });
    const cluster = await readyAt("orders", 1).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator log:\n${lines.slice(-30).join("\n")}`);
    });
    expect(cluster.status).toMatchObject({
      observedGeneration: 1,
      currentPrimary: "orders-1",
      instances: [{ name: "orders-1", role: "primary", ready: true }],
      readWriteService: "orders-rw",
      readOnlyService: "orders-ro",
      secretName: "orders-app",
      port: 5432,
    });

    // The rw Service selects exactly the primary's pod.
    const rw = await env.core.readNamespacedService({ name: "orders-rw", namespace: ns });
    const selector = Object.entries(rw.spec!.selector!).map(([k, v]) => `${k}=${v}`).join(",");
    const selected = await env.core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    expect(selected.items.map((p) => p.metadata!.name)).toEqual(["orders-1"]);
    const pod = selected.items[0]!;
    expect(pod.spec!.containers[0]!.image).toBe(`setpoint-postgres:${major}`);

    // The generated application credentials connect to the bootstrap database, owned by the owner.
    const password = await secretValue("orders-app", "password");
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await secretValue("orders-app", "uri")).toContain("@orders-rw.clusters.svc:5432/shop");
    // The app Secret carries the authority and a verify-full URL (ADR 0035); the connection uses them.
    expect(await secretValue("orders-app", "uri")).toMatch(/\?sslmode=verify-full$/);
    expect(await secretValue("orders-app", "ca.crt")).toBe(await secretValue("orders-ca", "ca.crt"));
    const client = pgClient(await clusterClientConfig(env.core, ns, "orders", { host: pod.status!.podIP!, user: "shopper", password, database: "shop" }));
    await client.connect();
    try {
      const rows = (await client.query("select current_user as u, (select pg_get_userbyid(datdba) from pg_database where datname = current_database()) as owner, current_setting('work_mem') as wm")).rows;
      expect(rows).toEqual([{ u: "shopper", owner: "shopper", wm: "8MB" }]);
    } finally {
      await client.end();
    }
    // Passwords never reach the operator's log.
    expect(lines.join("\n")).not.toContain(password);
    expect(lines.join("\n")).not.toContain(await secretValue("orders-superuser", "password"));

    // Every child is controlled by the cluster.
    for (const list of [
      (await env.core.listNamespacedPod({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
      (await env.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
      (await env.core.listNamespacedService({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
      (await env.core.listNamespacedSecret({ namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` })).items,
    ] as KubernetesObject[][]) {
      expect(list.length).toBeGreaterThan(0);
      for (const o of list) expect(o.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "PostgresCluster", name: "orders", uid: cluster.metadata.uid, controller: true });
    }
  });

  it("follows a spec change with observedGeneration (the ro Service turned off goes away)", async () => {
    await env.patch("orders", [{ op: "replace", path: "/spec/services/ro", value: false }]);
    const cluster = await readyAt("orders", 2);
    expect(cluster.status?.readOnlyService).toBeUndefined();
    await eventually("ro Service deleted", async () => (await env.core.listNamespacedService({ namespace: ns })).items.every((s) => s.metadata?.name !== "orders-ro"), WAIT_MS);
  });

  it("garbage-collects every child when the cluster is deleted", async () => {
    await env.remove("orders");
    await eventually("children deleted", async () => {
      const sel = { namespace: ns, labelSelector: `${CLUSTER_LABEL}=orders` };
      const counts = [
        (await env.core.listNamespacedPod(sel)).items.length,
        (await env.core.listNamespacedPersistentVolumeClaim(sel)).items.length,
        (await env.core.listNamespacedService(sel)).items.length,
        (await env.core.listNamespacedSecret(sel)).items.length,
      ];
      return counts.every((n) => n === 0);
    }, WAIT_MS);
    expect(env.node.pid(ns, "orders-1")).toBeUndefined();
  });
});
