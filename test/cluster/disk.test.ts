// Disk growth of a PostgresCluster against a real API server (with its PersistentVolumeClaimResize
// admission: the claim's StorageClass must allow expansion) and the node harness (a claim is a
// directory; a larger request is granted at once, as online expansion would be). The operator's
// disk collector measures each instance's data (databases plus WAL) over SQL every 10 s and
// enqueues the cluster only when the threshold is crossed; the controller then grows the claim by
// one step, once: measured against the grown request, usage is below the threshold again.
import { StorageV1Api } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig } from "../support/cluster-tls";
import { describe, expect, it } from "vitest";
import { clusterToolchain, useCluster } from "../support/cluster";
import { eventually } from "../support/eventually";

const WAIT_MS = 180_000;
const Mi = 2 ** 20;

const ns = "disk";

describe.skipIf(clusterToolchain.skip !== undefined)("PostgresCluster disk growth", () => {
  const env = useCluster({
    namespace: ns,
    waitMs: WAIT_MS,
    prepare: async (kubeConfig) => {
      await kubeConfig.makeApiClient(StorageV1Api).createStorageClass({
        body: { metadata: { name: "expandable" }, provisioner: "setpoint.dev/node-harness", allowVolumeExpansion: true },
      });
    },
  });
  const { lines, read } = env;
  const claimSize = async (name: string): Promise<string> => (await env.core.readNamespacedPersistentVolumeClaim({ name, namespace: ns })).spec!.resources!.requests!["storage"]!;

  it("grows the claim by one step when usage crosses the threshold, once", async () => {
    await env.create("files", { storage: { size: "160Mi", storageClass: "expandable", autoGrow: { thresholdPercent: 80, step: "400Mi", limit: "1Gi" } } });
    const measured = await eventually("disk usage in status", async () => {
      const s = (await read("files")).status;
      return s?.diskUsage && s.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? s : undefined;
    }, WAIT_MS);
    expect(measured.diskUsage!.capacityBytes).toBe(160 * Mi);
    expect(measured.instances?.[0]?.diskUsedBytes).toBeGreaterThan(0);
    expect(measured.diskUsage!.usedBytes).toBeLessThan(0.8 * 160 * Mi);

    const password = await env.secretValue("files-superuser", "password");
    const ip = await env.podIp("files-1");
    const client = pgClient(await clusterClientConfig(env.core, ns, "files", { host: ip, password }));
    await client.connect();
    const used = async (): Promise<number> =>
      Number((await client.query<{ u: string }>("select ((select sum(pg_database_size(oid)) from pg_database) + (select sum(size) from pg_ls_waldir()))::bigint::text as u")).rows[0]!.u);
    try {
      await client.query("create table fill (id int, data text)");
      // About 1 KiB of incompressible text per row, 4 MiB per round, until past 82% of the claim.
      for (let round = 0; (await used()) < 0.82 * 160 * Mi; round++) {
        if (round > 40) throw new Error(`could not fill the volume: ${await used()} bytes used`);
        await client.query("insert into fill select i, (select string_agg(md5(random()::text || i || j), '') from generate_series(1, 32) j) from generate_series(1, 4096) i");
      }
      console.log(`disk: filled to ${((await used()) / Mi).toFixed(1)} MiB of 160 MiB`);
    } finally {
      await client.end();
    }
    const filledAt = Date.now();
    await eventually("the claim grown by one step", async () => (await claimSize("files-1")) === "560Mi", WAIT_MS);
    console.log(`disk: claim grown 160Mi -> 560Mi ${((Date.now() - filledAt) / 1000).toFixed(1)} s after the fill`);
    // Two more collector rounds and reconciles: no second growth.
    await sleep(25_000);
    expect(await claimSize("files-1")).toBe("560Mi");
    const grown = (await env.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === "files" && e.reason === "VolumeGrown");
    expect(grown).toHaveLength(1);
    expect(grown[0]!.message).toContain("from 160Mi to 560Mi");
    const after = await eventually("capacity in status", async () => {
      const s = (await read("files")).status;
      return s?.diskUsage?.capacityBytes === 560 * Mi ? s : undefined;
    }, WAIT_MS);
    expect(after.diskUsage!.usedBytes).toBeGreaterThan(0.8 * 160 * Mi);
    expect(lines.filter((l) => l.includes("step grow files-1"))).toHaveLength(1);
  }, 600_000);
});
