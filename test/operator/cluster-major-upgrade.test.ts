// A PostgresCluster's postgresVersion raised 16 → 17 (ADR 0033) against a real API server, the
// node harness running real PostgreSQL 16 and 17 and the pooler node running Debian's real
// pgbouncer:
// - a downgrade is refused into the cluster's status (Degraded DowngradeRefused, the fix named),
//   nothing created, the instances untouched;
// - the preflight of each newer major is kept in status (upgradeReadiness), and a raise it would
//   fail (a table without a replica identity) is refused live with the fix, nothing created;
// - the raise under four writers through <cluster>-pooler-rw: the cluster's instances keep 16, a
//   PostgresUpgrade the cluster owns builds green (<cluster>-v17) and stops at the supervised gate;
//   approved by annotation, the cutover goes through the pooler (PAUSE, point at green, RESUME):
//   0 failed client transactions, 0 lost rows, checksums equal; the cluster's status reports 17
//   and its pooler and rw Service serve green. The longest write pause is printed.
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig, poolerSsl } from "../support/cluster-tls";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, onTestFailed } from "vitest";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { GROUP, KINDS, VERSION, type PostgresUpgradeStatus } from "../../sdk/api/index";
import { UPGRADE_APPROVED_ANNOTATION } from "../../sdk/operator/cluster/major-upgrade";
import { clusterToolchain, useCluster } from "../support/cluster";
import { eventually } from "../support/eventually";
import { startPoolerNode, type PoolerNode } from "../support/node/pooler-node";
import { majors } from "../support/postgres";
import { startServiceProxy, type ServiceProxy } from "../support/service-proxy";
import { startWriter, type Writer } from "../support/writer";

const WAIT_MS = 240_000;
const ns = "major";
const ok = clusterToolchain.skip === undefined && majors().includes(16) && majors().includes(17);

describe.runIf(ok && inject("pgbouncerMissing") === null)("PostgresCluster postgresVersion 16 → 17", { timeout: 900_000 }, () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  const { lines, read, settled, secretValue } = env;
  let poolerNode: PoolerNode | undefined;
  let proxy: ServiceProxy | undefined;
  beforeAll(async () => {
    poolerNode = await startPoolerNode({ kubeConfig: env.kubeConfig, avoidBlock: env.node.block });
    proxy = await startServiceProxy({ kubeConfig: env.kubeConfig, namespace: ns, service: "shop-pooler-rw" });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await poolerNode?.stop();
  }, 60_000);
  beforeEach(() => {
    onTestFailed(async () => {
      console.error(`status: ${JSON.stringify((await read("shop").catch(() => undefined))?.status)}`);
      console.error(`upgrade: ${JSON.stringify((await readUpgrade("shop-to-17").catch(() => undefined))?.status)}`);
      console.error(`shop-pooler-1 log:\n${poolerNode?.logTail(ns, "shop-pooler-1") ?? ""}`);
      console.error(`operator log:\n${lines.slice(-40).join("\n")}`);
    });
  });
  const readUpgrade = async (name: string): Promise<{ status?: PostgresUpgradeStatus }> =>
    (await env.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural, name })) as never;
  const upgrades = async (): Promise<unknown[]> =>
    ((await env.objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural })) as { items: unknown[] }).items;
  const onInstance = async <T extends object>(cluster: string, ip: string, sql: string): Promise<T[]> => {
    const c = pgClient(await clusterClientConfig(env.core, ns, cluster, { host: ip, password: await secretValue(`${cluster}-superuser`, "password"), database: "app" }));
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  /** Deletes green's pod; its address once it is back (a new one) and ready. */
  const replaceGreenPod = async (): Promise<string> => {
    const oldGreenIp = await env.podIp("shop-v17-1");
    await env.core.deleteNamespacedPod({ name: "shop-v17-1", namespace: ns });
    return eventually("shop-v17-1 back on a new address", async () => {
      const p = await env.pod("shop-v17-1").catch(() => undefined);
      return p?.status?.podIP && p.status.podIP !== oldGreenIp && p.status.containerStatuses?.[0]?.ready ? p.status.podIP : undefined;
    }, WAIT_MS);
  };
  const major = async (cluster: string, ip: string): Promise<number> =>
    Number((await onInstance<{ v: string }>(cluster, ip, "select current_setting('server_version_num') as v"))[0]!.v.slice(0, 2));

  it("refuses a downgrade into status, changing nothing", async () => {
    // The superuser may log in with its password over the network (pg_hba asks it SCRAM, not a
    // certificate): the upgrade's own sessions must carry it (the default, by certificate, is
    // what the real-pod and PostgresUpgrade tests run).
    await env.create("shop", { postgresVersion: 16, instances: 1, parameters: { wal_level: "logical" }, pooler: { instances: 1 }, tls: { superuserPasswordOverNetwork: true } });
    await settled("shop", 1, (c) => c.status?.pooler?.readyInstances === 1 && c.status.pooler.primary === c.status.currentPrimary && !(c.status.instances ?? []).some((i) => i.pendingRestart));
    expect((await read("shop")).status).toMatchObject({ postgresVersion: 16 });
    await env.patch("shop", { spec: { postgresVersion: 15 } });
    const refused = await eventually("downgrade refused", async () => {
      const c = await read("shop");
      return c.status?.conditions?.find((x) => x.type === "Degraded" && x.status === "True" && x.reason === "DowngradeRefused" && x.observedGeneration === 2) ? c : undefined;
    }, WAIT_MS);
    expect(refused.status?.conditions?.find((x) => x.type === "Degraded")?.message).toMatch(/Set spec\.postgresVersion back to 16/);
    expect(await upgrades()).toEqual([]);
    expect(await major("shop", await env.podIp("shop-1"))).toBe(16);
    await env.patch("shop", { spec: { postgresVersion: 16 } });
    await settled("shop", 3, (c) => c.status?.conditions?.find((x) => x.type === "Degraded")?.status === "False");
  });

  it("records the preflight of each newer major in status and refuses a raise it would fail, creating nothing (ADR 0037)", async () => {
    const withReadiness = await eventually("upgradeReadiness in status", async () => {
      const c = await read("shop");
      return c.status?.upgradeReadiness?.postgresVersion === 16 ? c : undefined;
    }, WAIT_MS);
    expect(withReadiness.status?.upgradeReadiness?.targets.map((t) => t.postgresVersion)).toEqual([17, 18]);
    await onInstance("shop", await env.podIp("shop-1"), "create table nokey (a int, b text)");
    await env.patch("shop", { spec: { postgresVersion: 17 } });
    const refused = await eventually("raise refused by the live preflight", async () => {
      const c = await read("shop");
      return c.status?.conditions?.find((x) => x.type === "Degraded" && x.status === "True" && x.reason === "UpgradePreflightRefused" && x.observedGeneration === 4) ? c : undefined;
    }, WAIT_MS);
    expect(refused.status?.conditions?.find((x) => x.type === "Degraded")?.message).toMatch(/NO_REPLICA_IDENTITY "public"\."nokey".*fix: add a primary key/);
    expect(refused.status?.upgradeReadiness?.targets.find((t) => t.postgresVersion === 17)?.findings.map((f) => f.code)).toContain("NO_REPLICA_IDENTITY");
    expect(await upgrades()).toEqual([]);
    expect(refused.status?.postgresVersion).toBe(16);
    await env.patch("shop", { spec: { postgresVersion: 16 } });
    await settled("shop", 5, (c) => c.status?.conditions?.find((x) => x.type === "Degraded")?.status === "False");
    await onInstance("shop", await env.podIp("shop-1"), "drop table nokey");
  });

  it("upgrades through the pooler under 4 writers: supervised gate, then 0 failed transactions, 0 lost rows, checksums equal", async () => {
    const appPassword = await secretValue("shop-app", "password");
    const blueIp = await env.podIp("shop-1");
    const app = pgClient(await clusterClientConfig(env.core, ns, "shop", { host: blueIp, user: "app", password: appPassword, database: "app" }));
    await app.connect();
    await app.query("create table acked (id int primary key, note text)");
    await app.query("insert into acked select g, 'seed ' || g from generate_series(-5000, -1) g");
    await app.end();
    // Through the pooler over TLS, verified against its own certificate (ADR 0044).
    const conn = { host: proxy!.host, port: proxy!.port, user: "app", password: appPassword, database: "app", ssl: await poolerSsl(env.core, ns, "shop") };
    const writers: Writer[] = Array.from({ length: 4 }, (_, k) => startWriter(conn, "acked", (k + 1) * 1_000_000, 10));
    try {
      await eventually("every writer running", async () => writers.every((w) => w.acked.length >= 20), WAIT_MS);
      await env.patch("shop", { spec: { postgresVersion: 17, primaryUpdateStrategy: "supervised" } });
      // Supervised: green is built and kept in sync; the cutover waits for approval.
      const gated = await eventually("at the supervised gate", async () => {
        const c = await read("shop");
        return c.status?.upgrade?.phase === "synchronized" && c.status.upgrade.gate === "supervised" ? c : undefined;
      }, WAIT_MS);
      expect(gated.status).toMatchObject({ postgresVersion: 16, upgrade: { name: "shop-to-17", green: "shop-v17", from: 16, to: 17 } });
      expect(await major("shop", await env.podIp("shop-1"))).toBe(16); // the cluster's own instance was not rolled
      expect(await major("shop-v17", await env.podIp("shop-v17-1"))).toBe(17);
      const before = writers.map((w) => w.acked.length);
      await sleep(1000);
      expect(writers.every((w, i) => w.acked.length > before[i]!)).toBe(true); // still writing on blue through the pooler

      const mark = Date.now();
      await env.patch("shop", { metadata: { annotations: { [UPGRADE_APPROVED_ANNOTATION]: "17" } } });
      const switched = await eventually("switched", async () => {
        const c = await read("shop");
        return c.status?.upgrade?.phase === "switched" && c.status.postgresVersion === 17 ? c : undefined;
      }, WAIT_MS);
      expect(switched.status?.upgrade?.gate).toBeUndefined();
      const greenIp = await env.podIp("shop-v17-1");
      const switchedAt = Date.now();
      await eventually("every writer writing after the switch", async () => writers.every((w) => (w.acked.at(-1)?.at ?? 0) > switchedAt), WAIT_MS);
      await sleep(500);
      for (const w of writers) await w.stop();

      const failures = writers.reduce((n, w) => n + w.failures(), 0);
      const acks = writers.flatMap((w) => w.acked).sort((a, b) => a.at - b.at);
      let maxPauseMs = 0;
      for (let i = 1; i < acks.length; i++) if (acks[i]!.at > mark) maxPauseMs = Math.max(maxPauseMs, acks[i]!.at - acks[i - 1]!.at);
      const present = new Set((await onInstance<{ id: number }>("shop-v17", greenIp, "select id from acked")).map((r) => r.id));
      const lost = acks.filter((a) => !present.has(a.id)).length;
      const u = await readUpgrade("shop-to-17");
      console.log(
        `postgresVersion 16 -> 17 through shop-pooler-rw, 4 writers: ${failures} failed transactions, ${lost} lost rows, ${acks.length} rows acknowledged; ` +
          `longest gap between acknowledgements ${maxPauseMs} ms; engine write pause ${String(u.status?.writePauseMs)} ms`,
      );
      console.log(lines.filter((l) => l.includes('"phase":"cutover"')).map((l) => l.slice(11, 23) + " " + (/"message":"([^"]*)"/.exec(l)?.[1] ?? "")).join("\n"));
      expect(failures).toBe(0);
      expect(lost).toBe(0);
      expect(u.status?.verification).toMatchObject({ equal: true, mismatchedTables: [] });
      // The cluster's names serve 17: its rw Service selects green, its pooler points at green.
      expect(await env.selectedPods("shop-rw")).toEqual(["shop-v17-1"]);
      const ini = (await env.core.readNamespacedConfigMap({ name: "shop-pooler", namespace: ns })).data!["pgbouncer.ini"]!;
      expect(ini).toContain(`app = host=${greenIp} port=5432`);
      // Green is not the cluster's own: no pooler of its own.
      expect(((await read("shop-v17")) as { spec?: object }).spec).not.toHaveProperty("pooler");
    } finally {
      for (const w of writers) await w.stop();
    }
  });

  it("switched, before finalize: green's primary back on a new address — the pooler follows it, blue's rollback subscription reconnects to it, and green's writes reach blue again", async () => {
    const from = new Date();
    const newGreenIp = await replaceGreenPod();
    await eventually("the pooler points at green's new address", async () => {
      const ini = (await env.core.readNamespacedConfigMap({ name: "shop-pooler", namespace: ns })).data!["pgbouncer.ini"]!;
      return ini.includes(`app = host=${newGreenIp} `) ? true : undefined;
    }, WAIT_MS);
    const blueIp = await env.podIp("shop-1");
    await eventually("blue's rollback subscription reads green at its new address", async () => {
      const subs = await onInstance<{ conninfo: string }>("shop", blueIp, "select subconninfo as conninfo from pg_subscription");
      return subs.length === 1 && subs[0]!.conninfo.includes(`hostaddr='${newGreenIp}'`) ? true : undefined;
    }, WAIT_MS);
    // Each move said in an Event (recorded once the follow returns).
    await eventually("TrafficFollowedGreen and RollbackPathReconnected", async () => {
      const events = (await env.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "shop-to-17" && new Date(e.lastTimestamp ?? e.eventTime ?? 0) >= new Date(from.getTime() - 1000));
      const reasons = new Set(events.map((e) => e.reason));
      return reasons.has("TrafficFollowedGreen") && reasons.has("RollbackPathReconnected") ? true : undefined;
    }, WAIT_MS);
    const app = pgClient({ host: proxy!.host, port: proxy!.port, user: "app", password: await secretValue("shop-app", "password"), database: "app", ssl: await poolerSsl(env.core, ns, "shop") });
    await app.connect();
    try {
      await app.query("insert into acked values (-7000, 'switched, green moved')");
    } finally {
      await app.end();
    }
    // The rollback path carries it: blue would lose nothing if rolled back now.
    await eventually("green's write on blue", async () => ((await onInstance<{ id: number }>("shop", blueIp, "select id from acked where id = -7000")).length === 1 ? true : undefined), WAIT_MS);
    const u = await readUpgrade("shop-to-17");
    expect(u.status?.phase).toBe("switched");
    expect(u.status?.conditions?.find((x) => x.type === "Ready")).toMatchObject({ status: "True", reason: "Switched" });
  });

  it("finalize removes the cluster's own 16 instances (pods and volumes): served by green, Ready, reads and writes through its names; the pooler follows green's primary to a new address; the PostgresUpgrade never connects again and its deletion leaves green serving (ADR 0046)", async () => {
    const patchUpgrade = (body: object): Promise<unknown> =>
      env.objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural, name: "shop-to-17", body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await patchUpgrade({ spec: { action: "finalize" } });
    const served = await eventually("served by green, its own instances gone", async () => {
      const c = await read("shop");
      const progressing = c.status?.conditions?.find((x) => x.type === "Progressing");
      return c.status?.upgrade?.phase === "finalized" && progressing?.status === "False" && progressing.reason === "ServedByUpgrade" ? c : undefined;
    }, WAIT_MS);
    const cond = (type: string) => served.status?.conditions?.find((x) => x.type === type);
    expect(cond("Ready")).toMatchObject({ status: "True", reason: "ServedByUpgrade", message: expect.stringContaining("shop-v17 (PostgreSQL 17)") });
    expect(cond("Degraded")?.status).toBe("False");
    expect(served.status).toMatchObject({ postgresVersion: 17, instances: [], currentPrimary: "shop-v17-1" });
    // Blue's pod and claim are gone; the pooler's pod stays.
    const instancePods = (await env.core.listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/cluster=shop" })).items.filter((p) => p.metadata?.labels?.["setpoint.dev/pooler"] === undefined);
    expect(instancePods.map((p) => p.metadata!.name)).toEqual([]);
    const claims = (await env.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items.map((c) => c.metadata!.name!).sort();
    expect(claims).toEqual(["shop-v17-1"]);
    const events = (await env.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "shop" && e.reason === "InstancesRetired");
    expect(events.map((e) => e.message).join("\n")).toMatch(/shop-to-17 is finalized.*removing its 16 instances \(pod shop-1, claim shop-1\)/);
    // The names lead to green: rw to its primary, ro to its replicas (none here), the pooler to its primary.
    expect(await env.selectedPods("shop-rw")).toEqual(["shop-v17-1"]);
    expect((await env.core.readNamespacedService({ name: "shop-ro", namespace: ns })).spec?.selector).toEqual({ "setpoint.dev/cluster": "shop-v17", "setpoint.dev/role": "replica" });
    const appPassword = await secretValue("shop-app", "password");
    const app = pgClient({ host: proxy!.host, port: proxy!.port, user: "app", password: appPassword, database: "app", ssl: await poolerSsl(env.core, ns, "shop") });
    await app.connect();
    try {
      await app.query("insert into acked values (-6000, 'after finalize')");
      const [v] = (await app.query<{ v: string }>("select current_setting('server_version_num') as v")).rows;
      expect(Number(v!.v.slice(0, 2))).toBe(17);
    } finally {
      await app.end();
    }
    expect(await onInstance<{ note: string }>("shop-v17", await env.podIp("shop-v17-1"), "select note from acked where id = -6000")).toEqual([{ note: "after finalize" }]);
    // Green's primary comes back on another address (its pod replaced): the pooler follows it, as it follows an own primary.
    const newGreenIp = await replaceGreenPod();
    await eventually("the pooler points at green's new address", async () => {
      const ini = (await env.core.readNamespacedConfigMap({ name: "shop-pooler", namespace: ns })).data!["pgbouncer.ini"]!;
      const c = await read("shop");
      return ini.includes(`host=${newGreenIp} `) && c.status?.pooler?.primary === "shop-v17-1" && c.status.conditions?.find((x) => x.type === "Ready")?.status === "True" ? true : undefined;
    }, WAIT_MS);
    const again = pgClient({ host: proxy!.host, port: proxy!.port, user: "app", password: appPassword, database: "app", ssl: await poolerSsl(env.core, ns, "shop") });
    await again.connect();
    try {
      await again.query("insert into acked values (-6001, 'after green moved')");
    } finally {
      await again.end();
    }
    // The PostgresUpgrade rests on its own status: no step against the removed blue, before or after its deletion.
    const upgrade = await readUpgrade("shop-to-17");
    expect(upgrade.status).toMatchObject({ phase: "finalized" });
    expect(upgrade.status?.conditions?.find((x) => x.type === "Ready")).toMatchObject({ status: "True", reason: "Finalized" });
    await env.objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural, name: "shop-to-17" });
    await eventually("the PostgresUpgrade gone", async () => ((await upgrades()).length === 0 ? true : undefined), WAIT_MS);
    await sleep(3000); // a few reconciles of shop: nothing recreates the upgrade, nothing deletes green
    expect(await upgrades()).toEqual([]);
    expect((await read("shop-v17")).status?.conditions?.find((x) => x.type === "Ready")?.status).toBe("True");
    expect((await read("shop")).status?.conditions?.find((x) => x.type === "Ready")?.status).toBe("True");
    expect(lines.filter((l) => /UpgradeStepFailed|ForgetFailed|"level":"error"/.test(l) && l.includes("shop-to-17"))).toEqual([]);
  });
});
