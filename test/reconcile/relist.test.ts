// The informer's 410 Gone path, forced for real: an API server that serves watches from etcd
// (`--watch-cache=false`), an informer whose watch is down while objects change, and an etcd
// compaction (as the API server's own periodic one) past the informer's last resourceVersion.
// Resuming the watch then answers 410 Gone; the informer must relist, report every change
// made during the gap, lose no object, and keep watching afterwards.
import { CustomObjectsApi, type KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION } from "../../sdk/api/index";
import { FakeClock } from "../../sdk/reconcile/internal/clock";
import { Informer, objectKey, type InformerEvent } from "../../sdk/reconcile/internal/informer";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import type { ControlPlane } from "../support/control-plane";
import { compactEtcd, installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { createCustomObject, deleteCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const namespace = "default";
const plural = KINDS.PostgresSchema.plural;

interface SchemaObject extends KubernetesObject {
  spec?: { desired?: { sql?: string } };
}

function counter(metrics: MetricsRegistry, name: string): number {
  const m = new RegExp(`^${name}\\{informer="${plural}"\\} (\\d+)$`, "m").exec(metrics.render());
  return Number(m?.[1] ?? 0);
}

describe.skipIf(toolchain.skip !== undefined)("informer relist after 410 Gone (etcd compaction)", () => {
  let cp: ControlPlane | undefined;
  let objects: CustomObjectsApi;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env!, apiserverArgs: ["--watch-cache=false"] });
    await installCrds(cp.kubeConfig, crdManifests());
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  const sqlOf = (o: SchemaObject | undefined): string | undefined => o?.spec?.desired?.sql;
  const create = async (name: string): Promise<void> => {
    await createCustomObject(objects, namespace, "PostgresSchema", name, { connection: { secretRef: { name: "db" } }, desired: { sql: `CREATE TABLE ${name.replace(/-/g, "_")} (id int);` } });
  };
  const setSql = (name: string, sql: string): Promise<unknown> =>
    objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name, body: [{ op: "replace", path: "/spec/desired/sql", value: sql }] });
  const remove = (name: string): Promise<unknown> => deleteCustomObject(objects, namespace, "PostgresSchema", name);

  it("relists on 410, reports every change made while the watch was down, and loses no object", async () => {
    const kept = Array.from({ length: 20 }, (_, i) => `keep-${i}`);
    for (const name of [...kept, "upd", "del"]) await create(name);

    const clock = new FakeClock(0);
    const metrics = new MetricsRegistry();
    const informer = new Informer<SchemaObject>({
      kubeConfig: cp!.kubeConfig,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`,
      restartBackoff: { initialMs: 100, maxMs: 100 },
      clock,
      metrics,
    });
    const events: InformerEvent<SchemaObject>[] = [];
    informer.onEvent((e) => events.push(e));
    try {
      await informer.start();
      await eventually("synced with every object", () => informer.hasSynced() && informer.list().length === 22);
      expect(counter(metrics, "setpoint_informer_lists_total")).toBe(1);

      // The watch breaks; its restart waits for the fake clock, so these changes happen in a gap.
      informer.interruptWatch();
      await eventually("restart scheduled", () => clock.pendingTimers() === 1);
      events.length = 0;
      await setSql("upd", "CREATE TABLE upd (id int, v text);");
      await remove("del");
      await create("new");
      // Enough history that resuming needs the revisions compaction is about to discard.
      for (let i = 0; i < 5; i++) await setSql("keep-0", `CREATE TABLE keep_0 (id int, v${i} text);`);
      const revision = await compactEtcd(cp!.etcdUrl);
      expect(revision).toBeGreaterThan(Number(informer.get(`${namespace}/upd`)?.metadata?.resourceVersion));
      expect(sqlOf(informer.get(`${namespace}/upd`))).toBe("CREATE TABLE upd (id int);"); // still stale

      clock.advance(100);
      await eventually("the change made during the gap is seen", () => sqlOf(informer.get(`${namespace}/upd`)) === "CREATE TABLE upd (id int, v text);");
      await eventually("the deletion made during the gap is seen", () => informer.get(`${namespace}/del`) === undefined);
      await eventually("the creation made during the gap is seen", () => informer.get(`${namespace}/new`) !== undefined);

      // It was a relist forced by 410 Gone, not a plain resume.
      expect(counter(metrics, "setpoint_informer_watch_expired_total")).toBe(1);
      expect(counter(metrics, "setpoint_informer_lists_total")).toBe(2);
      // No object lost: everything that exists is cached, and only `del` was reported deleted.
      expect(informer.list().map(objectKey).sort()).toEqual([...kept, "upd", "new"].map((n) => `${namespace}/${n}`).sort());
      const summary = events.map((e) => `${e.type} ${objectKey(e.object)}`).sort();
      expect(summary).toEqual([`add ${namespace}/new`, `delete ${namespace}/del`, `update ${namespace}/keep-0`, `update ${namespace}/upd`]);
      const upd = events.find((e) => e.type === "update" && e.object.metadata?.name === "upd");
      expect(upd?.type === "update" && sqlOf(upd.old)).toBe("CREATE TABLE upd (id int);");
      expect(sqlOf(informer.get(`${namespace}/keep-0`))).toBe("CREATE TABLE keep_0 (id int, v4 text);");

      // And it watches again: a later change arrives as an event, without another list.
      await setSql("keep-5", "CREATE TABLE keep_5 (id int, later text);");
      await eventually("a change after the relist is seen", () => sqlOf(informer.get(`${namespace}/keep-5`)) === "CREATE TABLE keep_5 (id int, later text);");
      expect(counter(metrics, "setpoint_informer_lists_total")).toBe(2);
    } finally {
      await informer.stop();
    }
  }, 120_000);
});
