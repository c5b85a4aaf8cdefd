import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock";
import { ExponentialBackoffLimiter } from "./rate-limiter";
import { drain } from "../../../test/support/work-queue";
import { LOW_PRIORITY, WorkQueue } from "./work-queue";

/** Lets pending promise callbacks run (no real time passes in these tests). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function newQueue(clock = new FakeClock()) {
  return { clock, queue: new WorkQueue({ clock, rateLimiter: new ExponentialBackoffLimiter() }) };
}

describe("WorkQueue coalescing", () => {
  it("queues a key once however often it is added, in FIFO order of first add", async () => {
    const { queue } = newQueue();
    for (const k of ["a", "b", "a", "c", "b", "a"]) queue.add(k);
    expect(queue.len()).toBe(3);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(["a", "b", "c"]);
    expect(queue.len()).toBe(0);
  });

  it("re-queues a key added while processing exactly once, on done", async () => {
    const { queue } = newQueue();
    queue.add("k");
    const key = await queue.get();
    for (let i = 0; i < 100; i++) queue.add("k");
    expect(queue.len()).toBe(0); // not handed out again while processing
    queue.done(key!);
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe("k");
    queue.done("k");
    expect(queue.len()).toBe(0);
  });

  it("100 rapid adds of one key while it is processed lead to at most two processings", async () => {
    const { queue } = newQueue();
    const processed: string[] = [];
    queue.add("ns/obj");
    const worker = (async () => {
      for (;;) {
        const k = await queue.get();
        if (k === undefined) return;
        processed.push(k);
        await settle(); // the adds below land while this key is processing
        queue.done(k);
      }
    })();
    await Promise.resolve();
    for (let i = 0; i < 100; i++) queue.add("ns/obj");
    await settle();
    await settle();
    queue.shutDown();
    await worker;
    expect(processed.length).toBeGreaterThanOrEqual(1);
    expect(processed.length).toBeLessThanOrEqual(2);
  });

  it("never hands one key to two getters at once", async () => {
    const { queue } = newQueue();
    queue.add("k");
    const first = await queue.get();
    queue.add("k");
    let second: string | undefined | "pending" = "pending";
    void queue.get().then((k) => (second = k));
    await settle();
    expect(second).toBe("pending");
    queue.done(first!);
    await settle();
    expect(second).toBe("k");
  });

  it("a waiting getter receives a key added later", async () => {
    const { queue } = newQueue();
    const got = queue.get();
    queue.add("late");
    expect(await got).toBe("late");
    expect(queue.processingCount()).toBe(1);
  });
});

describe("WorkQueue delays", () => {
  it("addAfter adds the key when the fake clock reaches its due time", () => {
    const { clock, queue } = newQueue();
    queue.addAfter("k", 100);
    expect(queue.len()).toBe(0);
    clock.advance(99);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
  });

  it("keeps the earliest due time for a key waiting twice", () => {
    const { clock, queue } = newQueue();
    queue.addAfter("k", 100);
    queue.addAfter("k", 30);
    queue.addAfter("k", 500);
    expect(queue.waitingCount()).toBe(1);
    clock.advance(30);
    expect(queue.len()).toBe(1);
    clock.advance(1000);
    expect(queue.len()).toBe(1); // the later ones were merged, not kept
  });

  it("addAfter with a non-positive delay adds at once", () => {
    const { queue } = newQueue();
    queue.addAfter("k", 0);
    expect(queue.len()).toBe(1);
  });

  it("addRateLimited backs off 5, 10, 20, 40 ms per key and forget resets it", async () => {
    const { clock, queue } = newQueue();
    const readyAfter: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = clock.now();
      queue.addRateLimited("k");
      while (queue.len() === 0) clock.advance(1);
      readyAfter.push(clock.now() - start);
      queue.done((await queue.get())!);
    }
    expect(readyAfter).toEqual([5, 10, 20, 40]);
    expect(queue.numRequeues("k")).toBe(4);
    queue.forget("k");
    expect(queue.numRequeues("k")).toBe(0);
    queue.addRateLimited("k");
    clock.advance(4);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
  });
});

describe("WorkQueue shutdown", () => {
  it("drains queued keys, ignores new adds, cancels delayed ones, then resolves undefined", async () => {
    const { clock, queue } = newQueue();
    queue.add("a");
    queue.add("b");
    queue.addAfter("c", 10);
    queue.shutDown();
    queue.add("d");
    clock.advance(100);
    expect(clock.pendingTimers()).toBe(0);
    expect(await queue.get()).toBe("a");
    expect(await queue.get()).toBe("b");
    expect(await queue.get()).toBeUndefined();
  });

  it("releases waiting getters and reports drained once processing ends", async () => {
    const { queue } = newQueue();
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();

    const q2 = newQueue().queue;
    q2.add("x");
    const k = await q2.get();
    let drained = false;
    void q2.drained().then(() => (drained = true));
    q2.shutDown();
    await settle();
    expect(drained).toBe(false);
    q2.done(k!);
    await settle();
    expect(drained).toBe(true);
  });

  it("discard drops queued keys and dirty re-queues", async () => {
    const { queue } = newQueue();
    queue.add("a");
    queue.add("b");
    const a = await queue.get();
    queue.add("a"); // dirty while processing
    queue.shutDown({ discard: true });
    expect(queue.len()).toBe(0);
    queue.done(a!);
    expect(await queue.get()).toBeUndefined();
  });
});

describe("WorkQueue priorities", () => {
  it("hands out higher priorities first, FIFO within one priority", async () => {
    const { queue } = newQueue();
    queue.add("r1", LOW_PRIORITY);
    queue.add("r2", LOW_PRIORITY);
    queue.add("e1");
    queue.add("r3", LOW_PRIORITY);
    queue.add("e2");
    queue.add("urgent", 10);
    expect(queue.len()).toBe(6);
    expect(await drain(queue)).toEqual(["urgent", "e1", "e2", "r1", "r2", "r3"]);
  });

  it("a resync of 1,000 queued keys does not delay an event added after it", async () => {
    const { queue } = newQueue();
    for (let i = 0; i < 1000; i++) queue.add(`r${i}`, LOW_PRIORITY);
    queue.add("changed");
    expect(await queue.get()).toBe("changed");
  });

  it("raises a queued key added again with a higher priority, and hands it out once", async () => {
    const { queue } = newQueue();
    queue.add("a", LOW_PRIORITY);
    queue.add("b", LOW_PRIORITY);
    queue.add("b");
    queue.add("b", LOW_PRIORITY); // lower again: no effect
    expect(queue.len()).toBe(2);
    expect(await drain(queue)).toEqual(["b", "a"]);
    expect(queue.len()).toBe(0);
  });

  it("re-queues a key added while processing at the highest priority asked for", async () => {
    const { queue } = newQueue();
    queue.add("k", LOW_PRIORITY);
    const k = await queue.get();
    queue.add("k", LOW_PRIORITY);
    queue.add("k");
    queue.add("other", LOW_PRIORITY);
    queue.done(k!);
    expect(await drain(queue)).toEqual(["k", "other"]);
  });

  it("a key handed out and added again is queued once more, never twice", async () => {
    const { queue } = newQueue();
    queue.add("k", LOW_PRIORITY);
    queue.add("k"); // leaves a stale entry at the low priority
    expect(await drain(queue)).toEqual(["k"]);
    queue.add("k", LOW_PRIORITY);
    queue.add("z", LOW_PRIORITY);
    expect(await drain(queue)).toEqual(["k", "z"]);
  });

  it("addAfter keeps the higher priority of two delayed adds", async () => {
    const { queue, clock } = newQueue();
    queue.addAfter("k", 100, LOW_PRIORITY);
    queue.addAfter("k", 200); // later, but more urgent: the key waits until 100 at normal priority
    queue.addAfter("j", 50, LOW_PRIORITY);
    queue.addAfter("j", 10, LOW_PRIORITY);
    queue.add("x", LOW_PRIORITY);
    clock.advance(100);
    expect(await drain(queue)).toEqual(["k", "x", "j"]);
  });

  it("discard drops keys of every priority", async () => {
    const { queue } = newQueue();
    queue.add("a", LOW_PRIORITY);
    queue.add("b");
    queue.shutDown({ discard: true });
    expect(queue.len()).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });
});
