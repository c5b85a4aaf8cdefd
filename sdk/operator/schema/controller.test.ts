import { describe, expect, it } from "vitest";
import { ConnectionError } from "../../errors";
import type { ReconcileContext } from "../../reconcile/index";
import { noopLogger } from "../../reconcile/internal/logger";
import type { StatusApi } from "../../reconcile/internal/status";
import type { applySchema, planSchema } from "../../schema/engine";
import { HazardsRefusedError, refusedHazards } from "../../schema/plan/plan";
import { UnmodelledDifferenceError } from "../../schema/verify/index";
import { reconcilePostgresSchema, referencedConfigMaps, referencedSecrets, type PostgresSchemaDeps, type PostgresSchemaObject } from "./controller";

const ctx: ReconcileContext = { reconcileId: "r1", log: noopLogger, signal: new AbortController().signal, now: () => new Date("2026-01-02T03:04:05.678Z") };
const req = { namespace: "ns", name: "s" };
const URL_WITH_SECRET = "postgres://app:hunter2@db:5432/app";

function object(spec: unknown): PostgresSchemaObject {
  return { metadata: { name: "s", namespace: "ns", generation: 3, resourceVersion: "7" }, spec };
}

const goodSpec = { connection: { secretRef: { name: "db" } }, desired: { sql: "CREATE TABLE t (id int);" }, driftCheckInterval: "30s" };

function harness(obj: PostgresSchemaObject | undefined, plan: typeof planSchema, opts: { conflict?: boolean; apply?: typeof applySchema } = {}) {
  const written: unknown[] = [];
  let applied = 0;
  const status: StatusApi = {
    group: "setpoint.dev",
    version: "v1alpha1",
    plural: "postgresschemas",
    client: {
      replaceNamespacedCustomObjectStatus: async ({ body }: { body: { status: unknown } }) => {
        if (opts.conflict) throw Object.assign(new Error("conflict"), { code: 409 });
        written.push(body.status);
        return body;
      },
    } as unknown as StatusApi["client"],
  };
  const deps: PostgresSchemaDeps = {
    cache: { get: (key) => (key === "ns/s" ? obj : undefined) },
    status,
    readSecretKey: async () => URL_WITH_SECRET,
    readConfigMapKey: async () => "CREATE TABLE c (id int);",
    engine: {
      plan,
      // As applySchema: plan, refuse before anything runs, apply what is allowed.
      apply: (async (...args: Parameters<typeof applySchema>) => {
        const planned = await plan(...args);
        const refused = refusedHazards(planned.plan, args[2]?.allowHazards ?? []);
        if (refused.length > 0) throw new HazardsRefusedError(refused);
        if (planned.plan.steps.length === 0) return { ...planned, results: [] };
        applied++;
        if (opts.apply) return opts.apply(...args);
        throw new Error("unexpected apply");
      }) as unknown as typeof applySchema,
    },
  };
  return { reconcile: reconcilePostgresSchema(deps), written, applied: () => applied };
}

const emptyPlan = (async () => ({ plan: { steps: [], unmanaged: [] }, fingerprint: "fp1" })) as unknown as typeof planSchema;

describe("reconcilePostgresSchema", () => {
  it("does nothing when the object is gone", async () => {
    const h = harness(undefined, emptyPlan);
    expect(await h.reconcile(ctx, req)).toEqual({});
    expect(h.written).toEqual([]);
  });

  it("reports Converged with observedGeneration everywhere and requeues after the drift interval", async () => {
    const h = harness(object(goodSpec), emptyPlan);
    expect(await h.reconcile(ctx, req)).toEqual({ requeueAfterMs: 30_000 });
    expect(h.written).toEqual([
      {
        observedGeneration: 3,
        drift: false,
        pendingStatements: [],
        lastAppliedFingerprint: "fp1",
        lastCheckTime: "2026-01-02T03:04:05Z",
        conditions: [
          { type: "Ready", status: "True", reason: "Converged", message: "the database matches the desired schema", lastTransitionTime: "2026-01-02T03:04:05Z", observedGeneration: 3 },
          { type: "Degraded", status: "False", reason: "Converged", lastTransitionTime: "2026-01-02T03:04:05Z", observedGeneration: 3 },
          { type: "Progressing", status: "False", reason: "Converged", lastTransitionTime: "2026-01-02T03:04:05Z", observedGeneration: 3 },
        ],
      },
    ]);
  });

  it("passes the managed scope to the engine: allSchemas as \"all\", a list of schemas as it is", async () => {
    const scopes: unknown[] = [];
    const recording = (async (_url: string, _desired: unknown, options: { schemas?: unknown }) => {
      scopes.push(options.schemas);
      return { plan: { steps: [], unmanaged: [] }, fingerprint: "fp1" };
    }) as unknown as typeof planSchema;
    await harness(object({ ...goodSpec, allSchemas: true }), recording).reconcile(ctx, req);
    await harness(object({ ...goodSpec, schemas: ["app"] }), recording).reconcile(ctx, req);
    await harness(object(goodSpec), recording).reconcile(ctx, req);
    expect(scopes).toEqual(["all", ["app"], undefined]);
  });

  it("skips the status write when nothing changed", async () => {
    const first = harness(object(goodSpec), emptyPlan);
    await first.reconcile(ctx, req);
    const obj = { ...object(goodSpec), status: first.written[0] } as PostgresSchemaObject;
    const again = harness(obj, emptyPlan);
    expect(await again.reconcile(ctx, req)).toEqual({ requeueAfterMs: 30_000 });
    expect(again.written).toEqual([]);
  });

  it("refuses hazards that are not allowed, lists the pending statements and never applies", async () => {
    const plan = (async () => ({
      fingerprint: "fp2",
      plan: {
        unmanaged: [],
        steps: [{ kind: "dropColumn", sql: ["ALTER TABLE t DROP COLUMN x"], hazards: [{ code: "DATA_LOSS_DROP_COLUMN", message: "drops column t.x" }] }],
      },
    })) as unknown as typeof planSchema;
    const h = harness(object(goodSpec), plan);
    await h.reconcile(ctx, req);
    expect(h.applied()).toBe(0);
    const status = h.written[0] as { pendingStatements: string[]; drift: boolean; conditions: { type: string; status: string; reason: string; message: string }[] };
    expect(status.pendingStatements).toEqual(["ALTER TABLE t DROP COLUMN x"]);
    expect(status.drift).toBe(true);
    expect(status.conditions.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "HazardsRefused" });
    expect(status.conditions.find((c) => c.type === "Ready")?.message).toContain("spec.allowHazards");
  });

  it("reports an unreachable database as a condition without the password", async () => {
    const plan = (async () => {
      throw new ConnectionError("postgres://app:***@db:5432/app", "connection refused (postgres://app:***@db:5432/app)");
    }) as unknown as typeof planSchema;
    const h = harness(object(goodSpec), plan);
    expect(await h.reconcile(ctx, req)).toEqual({ requeueAfterMs: 10_000 });
    expect(JSON.stringify(h.written)).toContain("DatabaseUnreachable");
    expect(JSON.stringify(h.written)).not.toContain("hunter2");
  });

  it("reports catalog differences the engine cannot change as not Ready and Degraded, naming catalog, property and object", async () => {
    const plan = (async () => {
      throw new UnmodelledDifferenceError([
        { code: "UNMODELLED_DIFFERENCE", catalog: "pg_class", schema: "public", object: "public.orders", property: "relreplident", expected: "d", actual: "f" },
      ]);
    }) as unknown as typeof planSchema;
    const h = harness(object(goodSpec), plan);
    expect(await h.reconcile(ctx, req)).toEqual({ requeueAfterMs: 30_000 });
    const status = h.written[0] as { drift: boolean; conditions: { type: string; status: string; reason: string; message: string }[] };
    expect(status.drift).toBe(true);
    const ready = status.conditions.find((c) => c.type === "Ready")!;
    expect(ready).toMatchObject({ status: "False", reason: "UnmodelledDifference" });
    expect(ready.message).toContain('UNMODELLED_DIFFERENCE pg_class.relreplident public.orders: expected "d", found "f"');
    expect(status.conditions.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "UnmodelledDifference" });
  });

  it("reports an invalid spec and clusterRef as conditions without requeueing", async () => {
    const bad = harness(object({ connection: {}, desired: { sql: "x" } }), emptyPlan);
    expect(await bad.reconcile(ctx, req)).toEqual({});
    expect(JSON.stringify(bad.written)).toContain("InvalidSpec");
    const cluster = harness(object({ ...goodSpec, connection: { clusterRef: { name: "pg" } } }), emptyPlan);
    expect(await cluster.reconcile(ctx, req)).toEqual({});
    expect(JSON.stringify(cluster.written)).toContain("not supported yet");
  });

  it("requeues soon on a status write conflict and rethrows other failures", async () => {
    const h = harness(object(goodSpec), emptyPlan, { conflict: true });
    expect(await h.reconcile(ctx, req)).toEqual({ requeueAfterMs: 500 });
    const failing = harness(object(goodSpec), (async () => {
      throw new Error("boom");
    }) as unknown as typeof planSchema);
    await expect(failing.reconcile(ctx, req)).rejects.toThrow("boom");
  });

  it("calls an apply a drift correction only when this desired schema was applied before, whatever Ready says", async () => {
    const createIndex = { unmanaged: [], steps: [{ kind: "createIndex", sql: ["CREATE INDEX i ON t (id)"], hazards: [] }] };
    const plan = (async () => ({ fingerprint: "fp1", plan: createIndex })) as unknown as typeof planSchema;
    const apply = (async () => ({ fingerprint: "fp1", plan: createIndex, results: [] })) as unknown as typeof applySchema;
    const reasonOf = (written: unknown[]): string | undefined =>
      (written[0] as { conditions: { type: string; reason: string }[] }).conditions.find((c) => c.type === "Ready")?.reason;

    const first = harness(object(goodSpec), plan, { apply });
    await first.reconcile(ctx, req);
    expect(first.applied()).toBe(1);
    expect(reasonOf(first.written)).toBe("Applied");

    // Applied before, then a refused drift was resolved by hand: Ready is False in status, yet
    // what is left to apply is drift from the applied schema.
    const refused = { lastAppliedFingerprint: "fp1", conditions: [{ type: "Ready", status: "False", reason: "HazardsRefused", lastTransitionTime: "x", observedGeneration: 3 }] };
    const again = harness({ ...object(goodSpec), status: refused } as PostgresSchemaObject, plan, { apply });
    await again.reconcile(ctx, req);
    expect(reasonOf(again.written)).toBe("DriftCorrected");

    // A different desired schema (fingerprint) is a new apply, not drift.
    const changed = harness({ ...object(goodSpec), status: { lastAppliedFingerprint: "fp0" } } as PostgresSchemaObject, plan, { apply });
    await changed.reconcile(ctx, req);
    expect(reasonOf(changed.written)).toBe("Applied");
  });

  it("writes nothing when an object it just applied is found converged (no Applied -> Converged flip)", async () => {
    const createIndex = { unmanaged: [], steps: [{ kind: "createIndex", sql: ["CREATE INDEX i ON t (id)"], hazards: [] }] };
    const plan = (async () => ({ fingerprint: "fp1", plan: createIndex })) as unknown as typeof planSchema;
    const apply = (async () => ({ fingerprint: "fp1", plan: createIndex, results: [] })) as unknown as typeof applySchema;
    const applied = harness(object(goodSpec), plan, { apply });
    await applied.reconcile(ctx, req);
    const after = { ...object(goodSpec), status: applied.written[0] } as PostgresSchemaObject;
    const check = harness(after, emptyPlan);
    expect(await check.reconcile(ctx, req)).toEqual({ requeueAfterMs: 30_000 });
    expect(check.written).toEqual([]);
    // A new generation is reported as Converged, not as the old apply.
    const next = harness({ ...after, metadata: { ...after.metadata, generation: 4 } }, emptyPlan);
    await next.reconcile(ctx, req);
    expect((next.written[0] as { conditions: { type: string; reason: string }[] }).conditions.find((c) => c.type === "Ready")?.reason).toBe("Converged");
  });
});

describe("referencedConfigMaps / referencedSecrets", () => {
  it("name the ConfigMap and Secret an object reads, in its namespace, and tolerate any spec", () => {
    const o = object({ connection: { secretRef: { name: "db" } }, desired: { configMapRef: { name: "ddl", key: "schema.sql" } } });
    expect(referencedConfigMaps(o)).toEqual(["ns/ddl"]);
    expect(referencedSecrets(o)).toEqual(["ns/db"]);
    expect(referencedConfigMaps(object(goodSpec))).toEqual([]);
    for (const spec of [undefined, null, 3, "x", { desired: null }, { desired: { configMapRef: { name: 7 } } }, { connection: { secretRef: "db" } }]) {
      expect(referencedConfigMaps(object(spec))).toEqual([]);
      expect(referencedSecrets(object(spec))).toEqual([]);
    }
  });
});

describe("reconcilePostgresSchema: answering from the last check", () => {
  /** A reconciler over a mutable object, Secret version and clock, counting plans. */
  function live() {
    const state = {
      obj: { metadata: { name: "s", namespace: "ns", uid: "u1", generation: 3, resourceVersion: "7" }, spec: goodSpec } as PostgresSchemaObject,
      secretVersion: "100" as string | undefined,
      now: Date.parse("2026-01-02T03:04:05Z"),
      plans: 0,
    };
    const ctxAt = (): ReconcileContext => ({ ...ctx, now: () => new Date(state.now) });
    const status: StatusApi = {
      group: "setpoint.dev",
      version: "v1alpha1",
      plural: "postgresschemas",
      client: {
        // The API server stores the status; the informer cache then holds it.
        replaceNamespacedCustomObjectStatus: async ({ body }: { body: PostgresSchemaObject }) => {
          state.obj = { ...state.obj, status: body.status, metadata: { ...state.obj.metadata, resourceVersion: String(Number(state.obj.metadata!.resourceVersion) + 1) } };
          return state.obj;
        },
      } as unknown as StatusApi["client"],
    };
    const reconcile = reconcilePostgresSchema({
      cache: { get: () => state.obj },
      status,
      readSecretKey: async () => URL_WITH_SECRET,
      readConfigMapKey: async () => "CREATE TABLE c (id int);",
      // Each database check is one engine call (apply plans, finds nothing to do, returns).
      engine: {
        plan: (async () => {
          throw new Error("unexpected plan");
        }) as unknown as typeof planSchema,
        apply: (async () => {
          state.plans++;
          return { plan: { steps: [], unmanaged: [] }, fingerprint: "fp1", results: [] };
        }) as unknown as typeof applySchema,
      },
      versions: { secret: (key) => (key === "ns/db" ? state.secretVersion : undefined), configMap: () => undefined },
    });
    return { state, run: () => reconcile(ctxAt(), req) };
  }

  it("answers a resync inside the drift interval without a plan, and checks again once it has passed", async () => {
    const { state, run } = live();
    expect(await run()).toEqual({ requeueAfterMs: 30_000 });
    expect(state.plans).toBe(1);
    state.now += 10_000;
    expect(await run()).toEqual({ requeueAfterMs: 20_000 });
    expect(state.plans).toBe(1);
    state.now += 20_000;
    expect(await run()).toEqual({ requeueAfterMs: 30_000 });
    expect(state.plans).toBe(2);
  });

  it("checks again at once when the generation, the Secret's version or the status changed", async () => {
    const { state, run } = live();
    await run();
    state.obj = { ...state.obj, metadata: { ...state.obj.metadata, generation: 4 } };
    await run();
    expect(state.plans).toBe(2);
    state.secretVersion = "101";
    await run();
    expect(state.plans).toBe(3);
    state.obj = { ...state.obj, status: undefined }; // someone cleared our status
    await run();
    expect(state.plans).toBe(4);
    expect(state.obj.status?.observedGeneration).toBe(4);
    await run();
    expect(state.plans).toBe(4);
  });

  it("checks every time when a version is unknown or no versions are given", async () => {
    const { state, run } = live();
    state.secretVersion = undefined;
    await run();
    await run();
    expect(state.plans).toBe(2);
    let plans = 0;
    const counting = (async (...args: Parameters<typeof planSchema>) => {
      plans++;
      return emptyPlan(...args);
    }) as typeof planSchema;
    const h = harness(object(goodSpec), counting); // no versions
    await h.reconcile(ctx, req);
    await h.reconcile(ctx, req);
    expect(plans).toBe(2);
  });
});
