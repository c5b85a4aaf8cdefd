import { describe, expect, it } from "vitest";
import { kubernetesEventRecorder } from "./events";

const subject = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "db", namespace: "ns", uid: "u-1" } };

describe("kubernetesEventRecorder", () => {
  it("records an Event on the cluster, once per reason and message within the window, and never throws", async () => {
    const bodies: unknown[] = [];
    let t = 0;
    let failing = false;
    const rec = kubernetesEventRecorder({
      api: {
        createNamespacedEvent: async (req: { namespace: string; body: unknown }) => {
          if (failing) throw new Error("forbidden");
          bodies.push(req.body);
          return req.body as never;
        },
      } as never,
      now: () => new Date(t),
      dedupeMs: 1000,
    });
    await rec.record(subject, "Normal", "Switchover", "from db-1 to db-2");
    await rec.record(subject, "Normal", "Switchover", "from db-1 to db-2");
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({
      metadata: { generateName: "db.", namespace: "ns" },
      involvedObject: { kind: "PostgresCluster", name: "db", uid: "u-1" },
      type: "Normal",
      reason: "Switchover",
      message: "from db-1 to db-2",
    });
    t = 2000;
    await rec.record(subject, "Normal", "Switchover", "from db-1 to db-2");
    expect(bodies).toHaveLength(2);
    failing = true;
    await expect(rec.record(subject, "Warning", "FailoverRefused", "x")).resolves.toBeUndefined();
  });
});
