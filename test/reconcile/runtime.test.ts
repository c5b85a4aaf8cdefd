// The controller runtime's Kubernetes-facing parts against a real API server: the informer
// cache (with watch timeouts and broken watches), Lease-based leader election, and status
// writes through the subresource.
import { CoordinationV1Api, CustomObjectsApi, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, GROUP, KINDS, VERSION } from "../../sdk/api/index";
import { FakeClock } from "../../sdk/reconcile/internal/clock";
import { Informer } from "../../sdk/reconcile/internal/informer";
import { LeaderElector } from "../../sdk/reconcile/internal/leader-election";
import { writeStatus, type StatusApi, type StatusObject } from "../../sdk/reconcile/internal/status";
import { WorkQueue } from "../../sdk/reconcile/internal/work-queue";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { drain } from "../support/work-queue";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const namespace = "default";
const plural = KINDS.PostgresSchema.plural;

interface SchemaObject extends KubernetesObject {
  spec?: Record<string, unknown>;
  status?: { observedGeneration?: number };
}

describe.skipIf(toolchain.skip !== undefined)("controller runtime on a real API server", () => {
  let cp: ControlPlane | undefined;
  let objects: CustomObjectsApi;
  const informers: Informer<SchemaObject>[] = [];
  const electors: LeaderElector[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    await installCrds(cp.kubeConfig, crdManifests());
    objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  }, 120_000);

  afterAll(async () => {
    for (const e of electors) e.stop();
    for (const i of informers) await i.stop();
    await cp?.stop();
  }, 60_000);

  const spec = { connection: { secretRef: { name: "db" } }, desired: { sql: "CREATE TABLE t (id int);" } };
  const create = async (name: string): Promise<SchemaObject> =>
    (await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "PostgresSchema", metadata: { name }, spec },
    })) as SchemaObject;
  const read = async (name: string): Promise<SchemaObject> =>
    (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name })) as SchemaObject;
  const setSql = async (name: string, sql: string): Promise<void> => {
    const live = await read(name);
    await objects.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
      name,
      body: { ...live, spec: { ...live.spec, desired: { sql } } },
    });
  };
  const remove = async (name: string): Promise<void> => {
    await objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name });
  };
  /** Messages the informers logged at level error (each is one watch restart). */
  const restarts: string[] = [];
  const logger = {
    debug: () => {},
    info: () => {},
    error: (message: string) => restarts.push(message),
    child: () => logger,
  };
  const newInformer = (opts: { watchTimeoutSeconds?: number; clock?: FakeClock } = {}): Informer<SchemaObject> => {
    const informer = new Informer<SchemaObject>({
      logger,
      kubeConfig: cp!.kubeConfig,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`,
      list: async () =>
        (await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })) as KubernetesListObject<SchemaObject>,
      restartBackoff: { initialMs: 100, maxMs: 1000 },
      ...opts,
    });
    informers.push(informer);
    return informer;
  };
  const sqlOf = (o: SchemaObject | undefined): unknown => (o?.spec?.desired as { sql?: string } | undefined)?.sql;

  it("caches create, update and delete and coalesces keys into the work queue", async () => {
    await create("inf-a");
    const informer = newInformer();
    const queue = new WorkQueue();
    informer.onChange((key) => queue.add(key));
    await informer.start();
    await eventually("synced", () => informer.hasSynced());
    expect(informer.get("default/inf-a")?.metadata?.name).toBe("inf-a");
    expect(await drain(queue)).toEqual(["default/inf-a"]);

    await create("inf-b");
    await setSql("inf-a", "CREATE TABLE t2 (id int);");
    await setSql("inf-a", "CREATE TABLE t3 (id int);");
    await eventually("update seen", () => sqlOf(informer.get("default/inf-a")) === "CREATE TABLE t3 (id int);");
    await eventually("create seen", () => informer.get("default/inf-b") !== undefined);
    // Three events for inf-a and one for inf-b: each key is queued once.
    expect((await drain(queue)).sort()).toEqual(["default/inf-a", "default/inf-b"]);
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(["inf-a", "inf-b"]);

    await remove("inf-a");
    await eventually("delete seen", () => informer.get("default/inf-a") === undefined);
    expect(await drain(queue)).toEqual(["default/inf-a"]);
    await informer.stop();
    queue.shutDown();
  }, 60_000);

  it("resumes after the server ends the watch (timeoutSeconds) and still sees later changes", async () => {
    const informer = newInformer({ watchTimeoutSeconds: 1 });
    restarts.length = 0;
    const keys = new Set<string>();
    informer.onChange((key) => keys.add(key));
    await informer.start();
    await eventually("synced", () => informer.hasSynced());
    await sleep(2500); // at least two server-side watch timeouts
    await create("tmo-a");
    await eventually("create after timeouts seen", () => informer.get("default/tmo-a") !== undefined);
    await setSql("tmo-a", "CREATE TABLE u (id int);");
    await eventually("update after timeouts seen", () => sqlOf(informer.get("default/tmo-a")) === "CREATE TABLE u (id int);");
    expect(keys.has("default/tmo-a")).toBe(true);
    // A watch the server ends on time is resumed by ListWatch itself, not through our error path.
    expect(restarts).toEqual([]);
    await informer.stop();
  }, 60_000);

  it("restarts a broken watch with backoff and loses no change made while it was down", async () => {
    const informer = newInformer();
    await informer.start();
    await eventually("synced", () => informer.hasSynced());
    await create("brk-a");
    await eventually("brk-a seen", () => informer.get("default/brk-a") !== undefined);

    restarts.length = 0;
    informer.interruptWatch();
    // Changes made while the watch is down (the restart waits at least 100 ms).
    await create("brk-b");
    await remove("brk-a");
    await eventually("create during outage seen", () => informer.get("default/brk-b") !== undefined);
    await eventually("delete during outage seen", () => informer.get("default/brk-a") === undefined);

    informer.interruptWatch();
    await sleep(300);
    await setSql("brk-b", "CREATE TABLE v (id int);");
    await eventually("update after second restart seen", () => sqlOf(informer.get("default/brk-b")) === "CREATE TABLE v (id int);");
    expect(restarts).toEqual(["watch stopped; restarting after backoff", "watch stopped; restarting after backoff"]);
    await informer.stop();
  }, 60_000);

  it("waits for the backoff on the injected clock before restarting a broken watch", async () => {
    const clock = new FakeClock(0);
    const informer = newInformer({ clock });
    await informer.start();
    await eventually("synced", () => informer.hasSynced());
    informer.interruptWatch();
    await eventually("restart scheduled", () => clock.pendingTimers() === 1);
    expect(clock.nextDue()).toBe(100);
    // No watch runs until the fake clock reaches the restart, so this change waits in the server.
    await create("clk-a");
    expect(informer.get("default/clk-a")).toBeUndefined();
    clock.advance(100);
    await eventually("change made before the restart seen", () => informer.get("default/clk-a") !== undefined);
    await informer.stop();
    expect(clock.pendingTimers()).toBe(0);
  }, 60_000);

  it("lets exactly one of two electors lead, and hands over after the leader stops renewing", async () => {
    const api = cp!.kubeConfig.makeApiClient(CoordinationV1Api);
    const events: string[] = [];
    const make = (identity: string): LeaderElector => {
      const elector = new LeaderElector({
        api,
        namespace,
        name: "setpoint-test-lease",
        identity,
        leaseDurationMs: 2000,
        renewDeadlineMs: 1500,
        retryPeriodMs: 300,
        onStartedLeading: () => events.push(`${identity}:start`),
        onStoppedLeading: () => events.push(`${identity}:stop`),
      });
      electors.push(elector);
      return elector;
    };
    const a = make("replica-a");
    const b = make("replica-b");
    a.start();
    b.start();
    await eventually("someone leads", () => a.isLeader() || b.isLeader(), 20_000);
    // Several renew periods later there is still exactly one leader.
    await sleep(1500);
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
    expect(events).toEqual([`${leader.identity}:start`]);

    leader.stop();
    expect(leader.isLeader()).toBe(false);
    await eventually("the other replica takes over", () => follower.isLeader(), 20_000);
    expect(events).toEqual([`${leader.identity}:start`, `${leader.identity}:stop`, `${follower.identity}:start`]);

    const lease = await api.readNamespacedLease({ name: "setpoint-test-lease", namespace });
    expect(lease.spec?.holderIdentity).toBe(follower.identity);
    expect(lease.spec?.leaseTransitions).toBe(1);
    follower.stop();
  }, 60_000);

  it("an elector that restarts with its identity (a container restarted in its pod) takes the Lease back at once; another identity waits for the expiry", async () => {
    const api = cp!.kubeConfig.makeApiClient(CoordinationV1Api);
    const name = "setpoint-test-lease-restart";
    const events: string[] = [];
    const make = (identity: string, label: string): LeaderElector => {
      const elector = new LeaderElector({
        api,
        namespace,
        name,
        identity,
        // Far longer than the test: nobody can take the Lease by its expiry here.
        leaseDurationMs: 120_000,
        renewDeadlineMs: 1500,
        retryPeriodMs: 200,
        onStartedLeading: () => events.push(`${label}:start`),
        onStoppedLeading: () => events.push(`${label}:stop`),
      });
      electors.push(elector);
      return elector;
    };
    const first = make("operator-pod-1_uid-1", "first");
    first.start();
    await eventually("the first container leads", () => first.isLeader(), 20_000);
    // A crash: nothing released, the Lease stays with this identity.
    first.stop();
    const otherPod = make("operator-pod-2_uid-2", "other pod");
    otherPod.start();
    await sleep(600);
    expect(otherPod.isLeader()).toBe(false);
    const restarted = make("operator-pod-1_uid-1", "restarted");
    restarted.start();
    await eventually("the restarted container leads", () => restarted.isLeader(), 20_000);
    // Several of the other pod's attempts later it still waits.
    await sleep(1000);
    expect(otherPod.isLeader()).toBe(false);
    expect(events).toEqual(["first:start", "first:stop", "restarted:start"]);
    const lease = await api.readNamespacedLease({ name, namespace });
    expect(lease.spec?.holderIdentity).toBe("operator-pod-1_uid-1");
    // A renewal, not a transition.
    expect(lease.spec?.leaseTransitions).toBe(0);
    restarted.stop();
    otherPod.stop();
  }, 60_000);

  it("writes status through the subresource, skips unchanged writes and reports conflicts", async () => {
    const api: StatusApi = { client: objects, group: GROUP, version: VERSION, plural };
    const created = (await create("st-a")) as StatusObject<SchemaObject["status"]>;

    const first = await writeStatus(api, created, { observedGeneration: 1 });
    expect(first.kind).toBe("Written");
    const fresh = (await read("st-a")) as StatusObject<SchemaObject["status"]>;
    expect(fresh.status).toEqual({ observedGeneration: 1 });
    expect(fresh.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);

    const same = await writeStatus(api, fresh, { observedGeneration: 1 });
    expect(same).toEqual({ kind: "Unchanged", conflict: false });
    expect((await read("st-a")).metadata?.resourceVersion).toBe(fresh.metadata?.resourceVersion);

    // `created` carries a resourceVersion from before the first write.
    const stale = await writeStatus(api, created, { observedGeneration: 2 });
    expect(stale).toEqual({ kind: "Conflict", conflict: true });
    expect((await read("st-a")).status).toEqual({ observedGeneration: 1 });
  }, 60_000);
});
