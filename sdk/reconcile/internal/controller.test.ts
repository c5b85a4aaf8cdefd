import { describe, expect, it } from "vitest";
import type { LogFields, Logger, ReconcileContext, Reconciler, Request, Result } from "../index";
import { TerminalError } from "../index";
import { FakeClock } from "./clock";
import { Controller, type ControllerOptions } from "./controller";
import { MetricsRegistry } from "./metrics";
import { LOW_PRIORITY } from "./work-queue";

/** Lets pending promise callbacks run (no real time passes in these tests). */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function captureLogger(lines: Line[], base: LogFields = {}): Logger {
  const at = (level: string) => (message: string, fields?: LogFields) => lines.push({ level, message, fields: { ...base, ...fields } });
  return { debug: at("debug"), info: at("info"), error: at("error"), child: (f) => captureLogger(lines, { ...base, ...f }) };
}

function setup(reconciler: Reconciler, options: Partial<ControllerOptions> = {}) {
  const clock = new FakeClock();
  const metrics = new MetricsRegistry();
  const lines: Line[] = [];
  let ids = 0;
  const controller = new Controller({
    name: "test",
    reconciler,
    clock,
    metrics,
    logger: captureLogger(lines),
    newReconcileId: () => `r${++ids}`,
    ...options,
  });
  return { clock, metrics, lines, controller };
}

/** A reconciler whose calls stay in flight until released. */
function gated() {
  const calls: { req: Request; ctx: ReconcileContext; release: (r?: Result | Error) => void }[] = [];
  const reconciler: Reconciler = (ctx, req) =>
    new Promise((resolve, reject) => {
      calls.push({ req, ctx, release: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  return { calls, reconciler };
}

const req = (name: string): Request => ({ namespace: "db", name });

describe("Controller", () => {
  it("a success forgets the key and counts success; the reconciler gets the request and context", async () => {
    const seen: [ReconcileContext, Request][] = [];
    const { controller, metrics, lines } = setup(async (ctx, r) => {
      seen.push([ctx, r]);
      ctx.log.info("working");
    });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    expect(seen.map(([, r]) => r)).toEqual([req("a")]);
    expect(seen[0]![0].reconcileId).toBe("r1");
    expect(seen[0]![0].signal.aborted).toBe(false);
    expect(lines.find((l) => l.message === "working")?.fields).toMatchObject({
      controller: "test",
      namespace: "db",
      name: "a",
      reconcileId: "r1",
    });
    expect(metrics.render()).toContain('setpoint_reconcile_total{controller="test",result="success"} 1');
    await controller.stop();
  });

  it("retries a throwing key with per-key backoff 5, 10, 20, 40 ms, logging the message only", async () => {
    const attempts: number[] = [];
    const { controller, clock, lines, metrics } = setup(async () => {
      attempts.push(clock.now());
      const err = new Error("connection refused");
      (err as { password?: string }).password = "hunter2";
      throw new Error("connection refused", { cause: err });
    });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    for (let t = 0; t < 75; t++) {
      clock.advance(1);
      await settle(2);
    }
    expect(attempts).toEqual([0, 5, 15, 35, 75]);
    expect(controller.queue.numRequeues("db/a")).toBe(5);
    const errors = lines.filter((l) => l.level === "error");
    expect(errors[0]?.fields).toMatchObject({ error: "connection refused", reconcileId: "r1", retries: 1 });
    expect(JSON.stringify(lines)).not.toContain("hunter2");
    expect(new Set(errors.map((l) => l.fields.reconcileId)).size).toBe(errors.length);
    expect(metrics.render()).toContain('setpoint_reconcile_total{controller="test",result="error"} 5');
    await controller.stop();
  });

  it("a success after failures resets the backoff (forget)", async () => {
    let fail = 2;
    const attempts: number[] = [];
    const { controller, clock } = setup(async () => {
      attempts.push(clock.now());
      if (fail-- > 0) throw new Error("transient");
    });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    for (let t = 0; t < 15; t++) {
      clock.advance(1);
      await settle(2);
    }
    expect(attempts).toEqual([0, 5, 15]);
    expect(controller.queue.numRequeues("db/a")).toBe(0);
    fail = 1;
    controller.enqueue(req("a"));
    await settle();
    clock.advance(4);
    await settle();
    expect(attempts).toHaveLength(4);
    clock.advance(1); // the first retry again waits 5 ms, not 20
    await settle();
    expect(attempts).toEqual([0, 5, 15, 15, 20]);
    await controller.stop();
  });

  it("honours requeueAfterMs on the fake clock and counts it as requeue", async () => {
    const attempts: number[] = [];
    const { controller, clock, metrics } = setup(async () => {
      attempts.push(clock.now());
      return { requeueAfterMs: 30_000 };
    });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    clock.advance(29_999);
    await settle();
    expect(attempts).toEqual([0]);
    clock.advance(1);
    await settle();
    expect(attempts).toEqual([0, 30_000]);
    expect(metrics.render()).toContain('setpoint_reconcile_total{controller="test",result="requeue"} 2');
    await controller.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("does not retry a TerminalError (also when wrapped as a cause)", async () => {
    let calls = 0;
    const { controller, clock, metrics, lines } = setup(async (_ctx, r) => {
      calls++;
      if (r.name === "wrapped") throw new Error("outer", { cause: new TerminalError("inner") });
      throw new TerminalError("spec.sql is empty");
    });
    controller.enqueue(req("direct"));
    controller.enqueue(req("wrapped"));
    controller.start();
    await settle();
    clock.advance(2_000_000);
    await settle();
    expect(calls).toBe(2);
    expect(controller.queue.waitingCount()).toBe(0);
    expect(metrics.render()).toContain('setpoint_reconcile_total{controller="test",result="terminal"} 2');
    expect(lines.find((l) => l.level === "error")?.fields).toMatchObject({ error: "spec.sql is empty", code: "TERMINAL" });
    await controller.stop();
  });

  it("reports every failure (retried or terminal) through onFailure before the key is free again, never a success", async () => {
    const reported: [string, string][] = [];
    let inFlight = 0;
    const { controller, lines } = setup(
      async (_ctx, r) => {
        inFlight++;
        try {
          if (r.name === "ok") return;
          if (r.name === "terminal") throw new TerminalError("spec is invalid");
          throw new Error(`failure of ${r.name}`);
        } finally {
          inFlight--;
        }
      },
      {
        onFailure: async (_ctx, r, err) => {
          reported.push([r.name, (err as Error).message]);
          if (r.name === "broken-report") throw new Error("status write failed");
        },
      },
    );
    for (const name of ["ok", "bad", "terminal", "broken-report"]) controller.enqueue(req(name));
    controller.start();
    await settle();
    expect(reported).toEqual([
      ["bad", "failure of bad"],
      ["terminal", "spec is invalid"],
      ["broken-report", "failure of broken-report"],
    ]);
    expect(inFlight).toBe(0);
    expect(lines.find((l) => l.message === "could not report the failure")?.fields).toMatchObject({ name: "broken-report", error: "status write failed" });
    await controller.stop({ abort: true });
  });

  it("does not report a failure once the controller is stopping (it may no longer lead)", async () => {
    const { calls, reconciler } = gated();
    const reported: string[] = [];
    const { controller } = setup(reconciler, { onFailure: async (_ctx, r) => void reported.push(r.name) });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    const stopped = controller.stop({ abort: true });
    calls[0]!.release(new Error("aborted mid-way"));
    await stopped;
    expect(reported).toEqual([]);
  });

  it("keeps at most `concurrency` reconciles in flight and never one key twice at once", async () => {
    const { calls, reconciler } = gated();
    let inFlight = 0;
    let maxInFlight = 0;
    const active = new Set<string>();
    let overlap = false;
    const tracked: Reconciler = async (ctx, r) => {
      if (active.has(r.name)) overlap = true;
      active.add(r.name);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await reconciler(ctx, r);
      } finally {
        inFlight--;
        active.delete(r.name);
      }
    };
    const { controller, metrics } = setup(tracked, { concurrency: 3 });
    for (let i = 0; i < 10; i++) controller.enqueue(req(`o${i}`));
    controller.start();
    await settle();
    expect(calls).toHaveLength(3);
    expect(metrics.render()).toContain('setpoint_reconcile_active_workers{controller="test"} 3');
    expect(metrics.render()).toContain('setpoint_workqueue_depth{controller="test"} 7');
    // o0 changes while in flight: it must wait for its own reconcile to finish.
    controller.enqueue(req("o0"));
    for (let next = calls.shift(); next !== undefined; next = calls.shift()) {
      next.release();
      await settle();
    }
    expect(maxInFlight).toBe(3);
    expect(overlap).toBe(false);
    expect(metrics.render()).toContain('setpoint_reconcile_total{controller="test",result="success"} 11');
    await controller.stop();
  });

  it("coalesces 100 rapid enqueues of a key in flight into at most one more reconcile", async () => {
    const { calls, reconciler } = gated();
    const { controller } = setup(reconciler, { concurrency: 4 });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    for (let i = 0; i < 100; i++) controller.enqueue(req("a"));
    await settle();
    expect(calls).toHaveLength(1); // other idle workers must not pick up the same key
    calls.shift()!.release();
    await settle();
    expect(calls).toHaveLength(1);
    calls.shift()!.release();
    await settle();
    expect(calls).toHaveLength(0);
    await controller.stop();
  });

  it("stop drains queued keys and waits for reconciles in flight", async () => {
    const { calls, reconciler } = gated();
    const { controller } = setup(reconciler, { concurrency: 1 });
    controller.enqueue(req("a"));
    controller.enqueue(req("b"));
    controller.start();
    await settle();
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    controller.enqueue(req("c")); // ignored after stop
    calls.shift()!.release();
    await settle();
    expect(stopped).toBe(false);
    expect(calls.map((c) => c.req.name)).toEqual(["b"]);
    calls.shift()!.release();
    await stopping;
    expect(stopped).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it("stop with abort aborts the signal in flight and drops queued keys", async () => {
    const { calls, reconciler } = gated();
    const { controller } = setup(reconciler);
    controller.enqueue(req("a"));
    controller.enqueue(req("b"));
    controller.start();
    await settle();
    const stopping = controller.stop({ abort: true });
    expect(calls[0]!.ctx.signal.aborted).toBe(true);
    calls.shift()!.release(new Error("aborted"));
    await stopping;
    expect(calls).toHaveLength(0);
    expect(controller.queue.waitingCount()).toBe(0);
  });

  it("renders the queue depth, adds, retries and duration histogram", async () => {
    const { controller, clock, metrics } = setup(async () => {
      clock.advance(20); // the reconcile "takes" 20 ms of fake time
      throw new Error("x");
    });
    controller.enqueue(req("a"));
    controller.start();
    await settle();
    await controller.stop();
    const text = metrics.render();
    expect(text).toContain("# TYPE setpoint_reconcile_duration_seconds histogram");
    expect(text).toContain('setpoint_reconcile_duration_seconds_bucket{controller="test",le="0.01"} 0');
    expect(text).toContain('setpoint_reconcile_duration_seconds_bucket{controller="test",le="0.025"} 1');
    expect(text).toContain('setpoint_reconcile_duration_seconds_count{controller="test"} 1');
    expect(text).toContain('setpoint_workqueue_adds_total{controller="test"} 1');
    expect(text).toContain('setpoint_workqueue_retries_total{controller="test"} 1');
    expect(text).toContain("# TYPE setpoint_workqueue_depth gauge");
  });

  it("rejects a non-positive concurrency and a second start", () => {
    expect(() => setup(async () => {}, { concurrency: 0 })).toThrow(/concurrency must be a positive integer/);
    const { controller } = setup(async () => {});
    controller.start();
    expect(() => controller.start()).toThrow(/already started/);
    void controller.stop();
  });

  it("runs normal-priority keys before low-priority ones queued earlier (a resync never delays events)", async () => {
    const order: string[] = [];
    const { controller } = setup(async (_ctx, r) => {
      order.push(r.name);
    });
    for (const name of ["r1", "r2", "r3"]) controller.enqueue(req(name), LOW_PRIORITY);
    controller.enqueue(req("event"));
    controller.start();
    await settle(20);
    expect(order).toEqual(["event", "r1", "r2", "r3"]);
    await controller.stop();
  });
});
