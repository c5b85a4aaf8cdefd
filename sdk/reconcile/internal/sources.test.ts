import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { requestKey, type Request } from "../index";
import { FakeClock } from "./clock";
import { Expectations } from "./expectations";
import type { EventHandler, InformerEvent } from "./informer";
import { enqueueForOwner, enqueueMapped, enqueueObject, generationChanged, observeForOwner, ReferenceIndex } from "./sources";

interface Obj extends KubernetesObject {
  spec?: { ref?: string };
  status?: { n?: number };
}

function obj(name: string, meta: Partial<NonNullable<Obj["metadata"]>> = {}, rest: Partial<Obj> = {}): Obj {
  return { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresSchema", metadata: { name, namespace: "ns", generation: 1, resourceVersion: "1", ...meta }, ...rest };
}

function recorder(): { keys: string[]; enqueue: (r: Request) => void } {
  const keys: string[] = [];
  return { keys, enqueue: (r) => keys.push(requestKey(r)) };
}

const update = <T>(old: T, object: T): InformerEvent<T> => ({ type: "update", old, object });

describe("generationChanged", () => {
  const base = obj("a", { labels: { a: "1" }, annotations: { x: "y" } }, { status: { n: 1 } });

  it("passes adds and deletes", () => {
    expect(generationChanged({ type: "add", object: base })).toBe(true);
    expect(generationChanged({ type: "delete", object: base })).toBe(true);
  });

  it("drops an update that changed only status and resourceVersion", () => {
    const statusOnly = { ...base, metadata: { ...base.metadata, resourceVersion: "2" }, status: { n: 2 } };
    expect(generationChanged(update(base, statusOnly))).toBe(false);
  });

  it("passes a new generation, labels, annotations, finalizers or deletion", () => {
    const m = base.metadata!;
    expect(generationChanged(update(base, { ...base, metadata: { ...m, generation: 2 } }))).toBe(true);
    expect(generationChanged(update(base, { ...base, metadata: { ...m, labels: { a: "2" } } }))).toBe(true);
    expect(generationChanged(update(base, { ...base, metadata: { ...m, annotations: {} } }))).toBe(true);
    expect(generationChanged(update(base, { ...base, metadata: { ...m, finalizers: ["setpoint.dev/x"] } }))).toBe(true);
    expect(generationChanged(update(base, { ...base, metadata: { ...m, deletionTimestamp: new Date(0) } }))).toBe(true);
  });

  it("passes updates of objects without a generation", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "ns", resourceVersion: "1" } };
    expect(generationChanged(update(cm, { ...cm, metadata: { ...cm.metadata, resourceVersion: "2" } }))).toBe(true);
  });
});

describe("enqueueObject", () => {
  it("enqueues the object's own key when the predicates pass", () => {
    const r = recorder();
    const handler = enqueueObject<Obj>(r.enqueue, generationChanged);
    const a = obj("a");
    handler({ type: "add", object: a });
    handler(update(a, { ...a, status: { n: 1 } }));
    handler(update(a, { ...a, metadata: { ...a.metadata, generation: 2 } }));
    handler({ type: "delete", object: a });
    expect(r.keys).toEqual(["ns/a", "ns/a", "ns/a"]);
  });
});

describe("enqueueForOwner", () => {
  const ownedBy = (name: string, kind = "PostgresCluster", apiVersion = "setpoint.dev/v1alpha1", controller = true) =>
    obj("child", { ownerReferences: [{ apiVersion, kind, name, uid: `uid-${name}`, controller }] });
  const handler = (r: ReturnType<typeof recorder>): EventHandler<Obj> => enqueueForOwner<Obj>({ group: "setpoint.dev", kind: "PostgresCluster" }, r.enqueue);

  it("maps add, update and delete of a child to its controller owner in the child's namespace", () => {
    const r = recorder();
    const h = handler(r);
    const c = ownedBy("main");
    h({ type: "add", object: c });
    h(update(c, { ...c, status: { n: 1 } }));
    h({ type: "delete", object: c });
    expect(r.keys).toEqual(["ns/main", "ns/main", "ns/main"]);
  });

  it("enqueues both owners when the controller reference moved", () => {
    const r = recorder();
    handler(r)(update(ownedBy("old"), ownedBy("new")));
    expect(r.keys).toEqual(["ns/old", "ns/new"]);
  });

  it("ignores other kinds, other groups, non-controller owners and unowned objects (any owner version matches)", () => {
    const r = recorder();
    const h = handler(r);
    h({ type: "add", object: ownedBy("x", "PostgresSchema") });
    h({ type: "add", object: ownedBy("x", "PostgresCluster", "other.dev/v1") });
    h({ type: "add", object: ownedBy("x", "PostgresCluster", "setpoint.dev/v1alpha1", false) });
    h({ type: "add", object: obj("lonely") });
    expect(r.keys).toEqual([]);
    h({ type: "add", object: ownedBy("v2", "PostgresCluster", "setpoint.dev/v2") });
    expect(r.keys).toEqual(["ns/v2"]);
  });
});

describe("enqueueMapped", () => {
  it("enqueues each mapped key once per event", () => {
    const r = recorder();
    const h = enqueueMapped<Obj>(() => [{ namespace: "ns", name: "t" }, { namespace: "ns", name: "t" }], r.enqueue);
    h(update(obj("a"), obj("a")));
    expect(r.keys).toEqual(["ns/t"]);
  });
});

describe("ReferenceIndex", () => {
  /** A stand-in informer: the index needs only list() and onEvent(). */
  function fakeInformer(initial: Obj[]) {
    const handlers: EventHandler<Obj>[] = [];
    return {
      list: () => initial,
      onEvent: (h: EventHandler<Obj>) => {
        handlers.push(h);
        return () => undefined;
      },
      emit: (e: InformerEvent<Obj>) => handlers.forEach((h) => h(e)),
    };
  }
  const refs = (o: Obj): string[] => (typeof o.spec?.ref === "string" ? [`${o.metadata?.namespace}/${o.spec.ref}`] : []);
  const referring = (name: string, ref?: string): Obj => obj(name, {}, { spec: ref === undefined ? {} : { ref } });

  it("answers who refers to a target, following adds, updates and deletes", () => {
    const inf = fakeInformer([referring("a", "cm1")]);
    const index = new ReferenceIndex<Obj>(inf, refs);
    expect(index.referrers("ns/cm1")).toEqual([{ namespace: "ns", name: "a" }]);

    inf.emit({ type: "add", object: referring("b", "cm1") });
    expect(index.referrers("ns/cm1").map(requestKey).sort()).toEqual(["ns/a", "ns/b"]);

    inf.emit(update(referring("a", "cm1"), referring("a", "cm2")));
    expect(index.referrers("ns/cm1").map(requestKey)).toEqual(["ns/b"]);
    expect(index.referrers("ns/cm2").map(requestKey)).toEqual(["ns/a"]);

    inf.emit({ type: "delete", object: referring("b", "cm1") });
    expect(index.referrers("ns/cm1")).toEqual([]);
    inf.emit(update(referring("a", "cm2"), referring("a")));
    expect(index.referrers("ns/cm2")).toEqual([]);
  });

  it("enqueues every referrer of a changed target, and the former referrers' target too", () => {
    const inf = fakeInformer([referring("a", "cm1"), referring("b", "cm1"), referring("c", "cm2")]);
    const index = new ReferenceIndex<Obj>(inf, refs);
    const r = recorder();
    const onConfigMap = index.enqueueReferrers<KubernetesObject>(r.enqueue);
    onConfigMap({ type: "update", old: { metadata: { name: "cm1", namespace: "ns" } }, object: { metadata: { name: "cm1", namespace: "ns" } } });
    expect(r.keys.sort()).toEqual(["ns/a", "ns/b"]);
    r.keys.length = 0;
    onConfigMap({ type: "delete", object: { metadata: { name: "cm3", namespace: "ns" } } });
    expect(r.keys).toEqual([]);
  });
});

describe("observeForOwner", () => {
  it("lowers the controller owner's expected creations on add and deletions on delete, ignoring updates and strangers", () => {
    const e = new Expectations({ clock: new FakeClock() });
    const h = observeForOwner<Obj>({ group: "setpoint.dev", kind: "PostgresCluster" }, e);
    const child = obj("c", { ownerReferences: [{ apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", name: "main", uid: "u", controller: true }] });
    e.expectCreations("ns/main", 1);
    h(update(child, child));
    h({ type: "add", object: obj("stranger") });
    expect(e.satisfied("ns/main")).toBe(false);
    h({ type: "add", object: child });
    expect(e.satisfied("ns/main")).toBe(true);
    e.expectDeletions("ns/main", 1);
    h({ type: "delete", object: child });
    expect(e.satisfied("ns/main")).toBe(true);
  });
});
