// The operator's pod SIGKILLed in the middle of a failover, on real pods (issue 14; ADR 0026,
// 0038): the operator deployed by Pulumi in its pod (examples/support/cluster-platform.ts), a
// 3-instance synchronous cluster, a writer through the rw Service. The primary's container is
// killed; as soon as the operator has fenced it (the old primary's pod is being deleted) the
// operator's own container is SIGKILLed through containerd: nothing is released (its Lease
// expires), the kubelet restarts it, and the restarted operator must finish the failover: a
// replica promoted, the rw Service on it, the cluster healed, no acknowledged row lost. The
// operator's log and the times are printed.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { describe, expect, it } from "vitest";
import { realPodsUnavailable, startRealPods } from "../../examples/support/cluster-platform";
import { ensureBuilt } from "../../examples/support/demo";
import { GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { startWriter } from "../support/writer";

const NS = "default";
const NAME = "okill";
const WAIT_MS = 300_000;

describe.skipIf(realPodsUnavailable() !== undefined)("real pods: the operator's pod SIGKILLed mid-failover", () => {
  it("the restarted operator finishes the failover it began: a replica promoted, writes resume through the rw Service, no acknowledged row lost", async () => {
    ensureBuilt();
    const p = await startRealPods(NS, NAME, 17);
    let left: string[] = [];
    try {
      const core = p.kubeConfig.makeApiClient(CoreV1Api);
      const objects = p.kubeConfig.makeApiClient(CustomObjectsApi);
      const status = async (): Promise<PostgresClusterStatus | undefined> =>
        ((await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: KINDS.PostgresCluster.plural, name: NAME })) as { status?: PostgresClusterStatus }).status;
      const settled = (): Promise<PostgresClusterStatus> =>
        eventually(`${NAME} Ready, settled, 3 instances ready`, async () => {
          const s = await status();
          const ready = s?.conditions?.find((c) => c.type === "Ready")?.status === "True";
          const progressing = s?.conditions?.find((c) => c.type === "Progressing")?.status === "True";
          return ready && !progressing && s?.instances?.length === 3 && s.instances.every((i) => i.ready) ? s : undefined;
        }, WAIT_MS);
      await createCustomObject(objects, NS, "PostgresCluster", NAME, { postgresVersion: 17, instances: 3, synchronous: { number: 1 }, storage: { size: "1Gi" } });
      const first = await settled();
      const oldPrimary = first.currentPrimary!;
      const oldIp = (await core.readNamespacedPod({ name: oldPrimary, namespace: NS })).status!.podIP!;
      const setup = pgClient(await p.clientConfig({ host: oldIp }));
      await setup.connect();
      await setup.query("create table acked (id int primary key, note text)");
      await setup.end();

      const w = startWriter(() => p.clientConfig(), "acked");
      try {
        await eventually("the writer's first 20 rows", () => w.acked.length >= 20, WAIT_MS, 20);
        const t0 = Date.now();
        console.log(`primary ${oldPrimary}: ${await p.killPrimary(oldPrimary)}`);
        // The failover has begun once the operator fenced the old primary (its pod is being deleted).
        await eventually("the operator fences the old primary", async () => {
          const pod = await core.readNamespacedPod({ name: oldPrimary, namespace: NS }).catch(() => undefined);
          return pod === undefined || pod.metadata?.deletionTimestamp !== undefined ? true : undefined;
        }, WAIT_MS, 20);
        const fencedAt = Date.now();
        const promotedBefore = (await core.listNamespacedPod({ namespace: NS })).items.some((x) => x.metadata?.name !== oldPrimary && x.metadata?.labels?.["setpoint.dev/role"] === "primary");
        const killed = await p.killOperator!();
        const killedAt = Date.now();
        expect(killed).not.toContain("(none running)");
        console.log(`fenced +${((fencedAt - t0) / 1000).toFixed(2)} s; ${killed} +${((killedAt - t0) / 1000).toFixed(2)} s (a replica already labelled primary: ${promotedBefore})`);
        const ack = await eventually("a write acknowledged by a new primary", () => w.acked.find((a) => a.at > t0 && a.server !== oldIp), WAIT_MS, 10);
        const healed = await settled();
        console.log(
          `first write acknowledged by ${ack.server} +${((ack.at - t0) / 1000).toFixed(2)} s after the kill; healed +${((Date.now() - t0) / 1000).toFixed(2)} s, primary ${healed.currentPrimary}`,
        );
        const log = (p.operatorLog?.() ?? "").split("\n").filter((l) => /failover|leader|lease|promot|starting/i.test(l) && Date.parse(/(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(l)?.[1] ?? "") >= t0 - 1000);
        console.log(`operator log (failover, leadership):\n${log.map((l) => `  ${l.slice(0, 260)}`).join("\n")}`);
        // The restarted container is the same pod, so the same Lease identity: it renewed the Lease
        // its predecessor held at once instead of waiting out the 15 s expiry.
        expect(log.some((l) => l.includes("started leading"))).toBe(true);
        expect(log.filter((l) => l.includes("waiting for the lease held by another replica"))).toEqual([]);
        await sleep(500);
        await w.stop();
        expect(healed.currentPrimary).not.toBe(oldPrimary);
        expect(healed.instances?.filter((i) => i.role === "primary").map((i) => i.name)).toEqual([healed.currentPrimary]);
        const check = pgClient(await p.clientConfig({ host: (await core.readNamespacedPod({ name: healed.currentPrimary!, namespace: NS })).status!.podIP! }));
        await check.connect();
        const present = new Set((await check.query<{ id: number }>("select id from acked")).rows.map((r) => r.id));
        await check.end();
        const lost = w.acked.filter((a) => !present.has(a.id));
        console.log(`${w.acked.length} rows acknowledged, lost ${lost.length} acknowledged rows`);
        expect(lost).toEqual([]);
      } finally {
        await w.stop();
      }
    } finally {
      left = await p.stop();
    }
    expect(left).toEqual([]);
  }, 1_800_000);
});
