import { describe, expect, it } from "vitest";
import type { Request } from "../../reconcile/index";
import { bytesQuantity, DiskCollector, quantityBytes, type DiskTarget } from "./disk";

const Mi = 2 ** 20;

describe("quantities", () => {
  it("convert between Kubernetes quantities and bytes", () => {
    expect(quantityBytes("1Gi")).toBe(2 ** 30);
    expect(quantityBytes("500M")).toBe(500e6);
    expect(quantityBytes("1.5Ki")).toBe(1536);
    expect(quantityBytes("42")).toBe(42);
    expect(() => quantityBytes("ten")).toThrow(RangeError);
    expect(bytesQuantity(2 ** 30)).toBe("1Gi");
    expect(bytesQuantity(1536 * Mi)).toBe("1536Mi");
    expect(bytesQuantity(1000)).toBe("1000");
  });
});

describe("DiskCollector", () => {
  it("keeps the latest sample and enqueues a cluster only when an instance is first measured or crosses its threshold upwards", async () => {
    let used = 50 * Mi;
    const enqueued: Request[] = [];
    const target: DiskTarget = { cluster: { namespace: "ns", name: "db" }, instance: "db-1", host: "h", requestedBytes: 100 * Mi, thresholdPercent: 80, password: async () => "pw" };
    let targets: DiskTarget[] = [target];
    const c = new DiskCollector({ targets: () => targets, enqueue: (r) => enqueued.push(r), measure: async () => ({ usedBytes: used, walBytes: 0 }) });
    await c.sampleOnce();
    expect(c.usage("ns", "db-1")?.usedBytes).toBe(50 * Mi);
    expect(enqueued).toEqual([{ namespace: "ns", name: "db" }]); // first measurement
    enqueued.length = 0;
    await c.sampleOnce();
    expect(enqueued).toEqual([]);
    used = 85 * Mi;
    await c.sampleOnce();
    await c.sampleOnce(); // still above: not an edge
    expect(enqueued).toEqual([{ namespace: "ns", name: "db" }]);
    targets = [{ ...target, requestedBytes: 200 * Mi }]; // grown: below again
    await c.sampleOnce();
    used = 170 * Mi;
    await c.sampleOnce();
    expect(enqueued).toHaveLength(2);
    targets = [];
    await c.sampleOnce();
    expect(c.usage("ns", "db-1")).toBeUndefined();
  });

  it("skips a failed measurement without forgetting the last sample", async () => {
    let fail = false;
    const c = new DiskCollector({
      targets: () => [{ cluster: { namespace: "ns", name: "db" }, instance: "db-1", host: "h", requestedBytes: Mi, password: async () => "pw" }],
      enqueue: () => undefined,
      measure: async () => {
        if (fail) throw new Error("timeout");
        return { usedBytes: 10, walBytes: 0 };
      },
    });
    await c.sampleOnce();
    fail = true;
    await c.sampleOnce();
    expect(c.usage("ns", "db-1")?.usedBytes).toBe(10);
  });
});
