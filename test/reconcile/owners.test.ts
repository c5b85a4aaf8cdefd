// Owner references on a real API server: a child's events reconcile its controller owner, and
// expectations keep a controller from creating a second child while its child cache is stale.
// Parents are PostgresSchema objects, children ConfigMaps.
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1ConfigMap } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION } from "../../sdk/api/index";
import { controllerOf, requestKey, setControllerReference, type Request } from "../../sdk/reconcile/index";
import { FakeClock } from "../../sdk/reconcile/internal/clock";
import { Controller } from "../../sdk/reconcile/internal/controller";
import { Expectations } from "../../sdk/reconcile/internal/expectations";
import { Informer } from "../../sdk/reconcile/internal/informer";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import { enqueueForOwner, enqueueObject, observeForOwner } from "../../sdk/reconcile/internal/sources";
import { WorkQueue } from "../../sdk/reconcile/internal/work-queue";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { drain } from "../support/work-queue";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const plural = KINDS.PostgresSchema.plural;
const OWNER = { group: GROUP, kind: "PostgresSchema" } as const;

describe.skipIf(toolchain.skip !== undefined)("owner references and expectations on a real API server", () => {
  let cp: ControlPlane | undefined;
  let objects: CustomObjectsApi;
  let core: CoreV1Api;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    await installCrds(cp.kubeConfig, crdManifests());
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await cp?.stop();
  }, 60_000);

  const createNamespace = (name: string): Promise<unknown> => core.createNamespace({ body: { metadata: { name } } });
  const createParent = async (namespace: string, name: string): Promise<KubernetesObject> =>
    (await createCustomObject(objects, namespace, "PostgresSchema", name, { connection: { secretRef: { name: "db" } }, desired: { sql: "CREATE TABLE t (id int);" } })) as KubernetesObject;
  const informerOf = <T extends KubernetesObject>(path: string, clock?: FakeClock): Informer<T> => {
    const informer = new Informer<T>({ kubeConfig: cp!.kubeConfig, path, clock, restartBackoff: { initialMs: 100, maxMs: 100 }, metrics: new MetricsRegistry() });
    stops.push(() => informer.stop());
    return informer;
  };
  /** The children of `parent` that exist now, read live (not from any cache). */
  const liveChildren = async (namespace: string, parent: KubernetesObject): Promise<V1ConfigMap[]> =>
    (await core.listNamespacedConfigMap({ namespace })).items.filter((c) => controllerOf(c)?.uid === parent.metadata?.uid);

  it("maps a child's create, change and delete to its controller owner, and nothing else", async () => {
    const ns = "own-map";
    await createNamespace(ns);
    const parent = await createParent(ns, "p1");
    const queue = new WorkQueue();
    const children = informerOf<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`);
    children.onEvent(enqueueForOwner(OWNER, (r: Request) => queue.add(requestKey(r))));
    await children.start();
    await eventually("synced", () => children.hasSynced());
    await drain(queue);

    const body = setControllerReference(parent, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p1-config", namespace: ns }, data: { a: "1" } } as V1ConfigMap);
    await core.createNamespacedConfigMap({ namespace: ns, body });
    await eventually("child cached", () => children.get(`${ns}/p1-config`) !== undefined);
    expect(await drain(queue)).toEqual([`${ns}/p1`]);

    await core.patchNamespacedConfigMap({ name: "p1-config", namespace: ns, body: [{ op: "replace", path: "/data/a", value: "2" }] });
    await eventually("child change cached", () => children.get(`${ns}/p1-config`)?.data?.a === "2");
    expect(await drain(queue)).toEqual([`${ns}/p1`]);

    // A ConfigMap without an owner, and one whose owner is not its controller: no parent to enqueue.
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "loose" }, data: { a: "1" } } });
    const ref = controllerOf(setControllerReference<KubernetesObject>(parent, { metadata: { name: "x", namespace: ns } }))!;
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "referenced", ownerReferences: [{ ...ref, controller: false }] }, data: {} } });
    await eventually("both cached", () => children.get(`${ns}/loose`) !== undefined && children.get(`${ns}/referenced`) !== undefined);
    expect(await drain(queue)).toEqual([]);

    await core.deleteNamespacedConfigMap({ name: "p1-config", namespace: ns });
    await eventually("child deletion cached", () => children.get(`${ns}/p1-config`) === undefined);
    expect(await drain(queue)).toEqual([`${ns}/p1`]);
    queue.shutDown();
  }, 60_000);

  /**
   * A controller that keeps exactly one child ConfigMap (created with generateName, so the API
   * server cannot refuse a duplicate) per parent, counting children in its informer cache. The
   * child informer's watch is broken and its restart waits for a fake clock, so the cache
   * stays stale while the parent is reconciled twice.
   * @returns how many children the parent has once the cache caught up, and how many reconciles ran.
   */
  async function oneChildController(ns: string, useExpectations: boolean): Promise<{ children: number; reconciles: number; skipped: number }> {
    await createNamespace(ns);
    const clock = new FakeClock(0);
    const parents = informerOf<KubernetesObject>(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}`);
    const children = informerOf<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`, clock);
    const expectations = new Expectations();
    let reconciles = 0;
    let skipped = 0;
    const controller = new Controller({
      name: `one-child-${ns}`,
      metrics: new MetricsRegistry(),
      reconciler: async (_ctx, req) => {
        reconciles++;
        const key = requestKey(req);
        // Until the cache has seen our last create, its count of children cannot be trusted.
        if (useExpectations && !expectations.satisfied(key)) {
          skipped++;
          return;
        }
        const parent = parents.get(key);
        if (parent === undefined) return;
        const mine = children.list().filter((c) => controllerOf(c)?.uid === parent.metadata?.uid);
        if (mine.length > 0) return;
        expectations.expectCreations(key, 1);
        try {
          const body = setControllerReference(parent, { metadata: { generateName: `${req.name}-`, namespace: ns }, data: { owner: req.name } } as V1ConfigMap);
          await core.createNamespacedConfigMap({ namespace: ns, body });
        } catch (err) {
          expectations.creationObserved(key); // no event will come for a failed create
          throw err;
        }
      },
    });
    stops.push(() => controller.stop());
    const enqueue = (r: Request): void => controller.enqueue(r);
    parents.onEvent(enqueueObject(enqueue));
    children.onEvent(observeForOwner(OWNER, expectations));
    children.onEvent(enqueueForOwner(OWNER, enqueue));
    await parents.start();
    await children.start();
    await eventually("synced", () => parents.hasSynced() && children.hasSynced());
    controller.start();

    // Freeze the child cache: the watch breaks and restarts only when the fake clock moves.
    children.interruptWatch();
    await eventually("child watch restart scheduled", () => clock.pendingTimers() === 1);

    const parent = await createParent(ns, "p");
    await eventually("first reconcile created a child", async () => (await liveChildren(ns, parent)).length >= 1);
    await eventually("first reconcile finished", () => controller.queue.processingCount() === 0 && reconciles >= 1);
    expect(children.list()).toEqual([]); // the cache has not seen it
    // Another reconcile of the parent while the cache is stale (as a resync would cause).
    controller.enqueue({ namespace: ns, name: "p" });
    await eventually("second reconcile finished", () => reconciles >= 2 && controller.queue.processingCount() === 0 && controller.queue.len() === 0);

    // The cache catches up; the children's add events reconcile the parent once more.
    clock.advance(100);
    await eventually("cache caught up", async () => children.list().length === (await liveChildren(ns, parent)).length && children.list().length > 0);
    await eventually("reconcile after catching up", () => reconciles >= 3 && controller.queue.processingCount() === 0 && controller.queue.len() === 0);
    return { children: (await liveChildren(ns, parent)).length, reconciles, skipped };
  }

  it("without expectations, a stale child cache makes the controller create a second child (the hazard)", async () => {
    const result = await oneChildController("own-stale", false);
    expect(result.children).toBe(2);
  }, 60_000);

  it("with expectations, a stale child cache never causes a second create", async () => {
    const result = await oneChildController("own-expect", true);
    expect(result.children).toBe(1);
    expect(result.skipped).toBeGreaterThanOrEqual(1); // the second reconcile waited for the cache
  }, 60_000);
});
