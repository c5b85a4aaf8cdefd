// The toolchain's group scheduler (scripts/toolchain/schedule.mjs): bounded concurrency, order,
// dependencies, and what a failure does to the other groups.
import { describe, expect, it } from "vitest";
import { runScheduled, type Task } from "../../scripts/toolchain/schedule.mjs";

/** A task that records when it starts and finishes only when the test says so. */
function gate(name: string, log: string[], running: { now: number; max: number }, after?: string[]) {
  let finish!: (ok: boolean) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  const task: Task<string> = {
    name,
    ...(after ? { after } : {}),
    run: () =>
      new Promise<string>((resolve, reject) => {
        log.push(`start ${name}`);
        running.now++;
        running.max = Math.max(running.max, running.now);
        finish = (ok) => {
          running.now--;
          log.push(`end ${name}`);
          if (ok) resolve(`${name} built`);
          else reject(new Error(`${name} failed`));
        };
        markStarted();
      }),
  };
  return { task, started, finish: (ok = true) => finish(ok) };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe("runScheduled", () => {
  it("runs at most `jobs` tasks at once, the first listed ready task first, a dependent only after its dependency", async () => {
    const log: string[] = [];
    const running = { now: 0, max: 0 };
    const provider = gate("kubernetes-provider", log, running);
    const kube = gate("kube", log, running);
    const s3 = gate("s3", log, running);
    const node = gate("node", log, running, ["kube"]);
    const pulumi = gate("pulumi", log, running);
    const outcome = runScheduled([provider.task, kube.task, s3.task, node.task, pulumi.task], 2);

    await Promise.all([provider.started, kube.started]);
    await settle();
    expect(log).toEqual(["start kubernetes-provider", "start kube"]);
    kube.finish();
    await s3.started; // node is ready now too, but s3 is listed first
    await settle();
    expect(log).toEqual(["start kubernetes-provider", "start kube", "end kube", "start s3"]);
    provider.finish();
    await node.started;
    s3.finish();
    await pulumi.started;
    node.finish();
    pulumi.finish();
    const result = await outcome;

    expect(running.max).toBe(2);
    expect(result.failures).toEqual({});
    expect(result.skipped).toEqual([]);
    expect(result.results).toEqual({
      "kubernetes-provider": "kubernetes-provider built",
      kube: "kube built",
      s3: "s3 built",
      node: "node built",
      pulumi: "pulumi built",
    });
  });

  it("keeps building the independent groups after a failure, skips the groups after the failed one, and never rejects", async () => {
    const log: string[] = [];
    const running = { now: 0, max: 0 };
    const kube = gate("kube", log, running);
    const node = gate("node", log, running, ["kube"]);
    const s3 = gate("s3", log, running);
    const outcome = runScheduled([kube.task, node.task, s3.task], 1);
    await kube.started;
    kube.finish(false);
    await s3.started;
    s3.finish();
    const result = await outcome;

    expect(log).toEqual(["start kube", "end kube", "start s3", "end s3"]);
    expect(Object.keys(result.failures)).toEqual(["kube"]);
    expect(result.failures.kube?.message).toBe("kube failed");
    expect(result.skipped).toEqual(["node"]);
    expect(result.results).toEqual({ s3: "s3 built" });
    expect(running.max).toBe(1);
  });

  it("turns a synchronous throw into a failure of that task", async () => {
    const result = await runScheduled<string>(
      [
        { name: "a", run: () => { throw new Error("boom"); } },
        { name: "b", run: async () => "ok" },
      ],
      2,
    );
    expect(result.failures.a?.message).toBe("boom");
    expect(result.results).toEqual({ b: "ok" });
  });

  it("refuses a bad bound and a dependency that is not scheduled, naming them", () => {
    expect(() => runScheduled([], 0)).toThrow(/jobs must be a positive integer, got 0/);
    expect(() => runScheduled([{ name: "node", after: ["kube"], run: async () => 1 }], 1)).toThrow(/node comes after kube, which is not scheduled/);
  });
});
