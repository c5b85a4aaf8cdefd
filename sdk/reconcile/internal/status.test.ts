import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { failedStatus, failureOf, reportFailureInStatus, writeStatus, type StatusApi, type StatusObject } from "./status";

function fakeApi(impl: (req: { name: string; namespace: string; body: object }) => Promise<object>) {
  const calls: unknown[] = [];
  const api: StatusApi = {
    group: "setpoint.dev",
    version: "v1alpha1",
    plural: "postgresschemas",
    client: {
      replaceNamespacedCustomObjectStatus: async (req: { name: string; namespace: string; body: object }) => {
        calls.push(req);
        return impl(req);
      },
    } as unknown as StatusApi["client"],
  };
  return { api, calls };
}

interface TestStatus {
  observedGeneration?: number;
  conditions?: unknown[];
  extra?: string;
}

const obj: StatusObject<TestStatus> = { metadata: { name: "a", namespace: "ns", resourceVersion: "7" }, spec: {}, status: { observedGeneration: 1, conditions: [] } };

describe("writeStatus", () => {
  it("sends nothing when the status is structurally equal", async () => {
    const { api, calls } = fakeApi(async (r) => r.body);
    expect(await writeStatus(api, obj, { conditions: [], observedGeneration: 1, extra: undefined })).toEqual({ kind: "Unchanged", conflict: false });
    expect(calls).toEqual([]);
  });

  it("PUTs the whole object with its resourceVersion to the status subresource", async () => {
    const { api, calls } = fakeApi(async (r) => ({ ...r.body, metadata: { ...obj.metadata, resourceVersion: "8" } }));
    const result = await writeStatus(api, obj, { observedGeneration: 2, conditions: [] });
    expect(result.kind).toBe("Written");
    expect(calls).toEqual([
      {
        group: "setpoint.dev",
        version: "v1alpha1",
        plural: "postgresschemas",
        namespace: "ns",
        name: "a",
        body: { ...obj, status: { observedGeneration: 2, conditions: [] } },
      },
    ]);
  });

  it("reports 409 as a conflict and rethrows other errors", async () => {
    const conflict = fakeApi(async () => Promise.reject(new ApiException(409, "Conflict", {}, {})));
    expect(await writeStatus(conflict.api, obj, { observedGeneration: 2 })).toEqual({ kind: "Conflict", conflict: true });
    expect(conflict.calls).toHaveLength(1);
    const down = new ApiException(503, "Unavailable", {}, {});
    await expect(writeStatus(fakeApi(async () => Promise.reject(down)).api, obj, { observedGeneration: 2 })).rejects.toBe(down);
  });

  it("refuses an object without a resourceVersion", async () => {
    const { api, calls } = fakeApi(async (r) => r.body);
    await expect(writeStatus<TestStatus>(api, { metadata: { name: "a", namespace: "ns" } }, { observedGeneration: 1 })).rejects.toThrow(TypeError);
    expect(calls).toEqual([]);
  });
});

describe("failed reconciles in status", () => {
  const now = new Date("2026-12-05T17:00:00.123Z");
  const old = {
    type: "Ready" as const,
    status: "False" as const,
    reason: "DatabaseUnreachable",
    message: "cannot reach postgres://app:***@db:5432/app: timed out",
    lastTransitionTime: "2026-12-05T16:00:00Z",
    observedGeneration: 2,
  };

  it("names a Setpoint error's code, an API error's status, or a generic reason; never the stack", () => {
    const setpoint = Object.assign(new Error("initdb failed"), { code: "EMBEDDED_POSTGRES" });
    expect(failureOf(setpoint)).toEqual({ reason: "EmbeddedPostgres", message: "initdb failed" });
    expect(failureOf(new ApiException(409, "conflict", "{}", {}))).toMatchObject({ reason: "ApiError409" });
    expect(failureOf(new Error("EROFS: read-only file system, mkdtemp '/tmp/setpoint-pg-17-XXXXXX'"))).toEqual({
      reason: "ReconcileError",
      message: "EROFS: read-only file system, mkdtemp '/tmp/setpoint-pg-17-XXXXXX'",
    });
    expect(failureOf("boom")).toEqual({ reason: "ReconcileError", message: "boom" });
    expect(failureOf(new Error("x".repeat(40_000))).message).toHaveLength(32_768);
  });

  it("replaces an older, unrelated Ready condition with the current failure, at the current generation", () => {
    const previous = { observedGeneration: 2, conditions: [old], extra: "kept" };
    const next = failedStatus(previous, { reason: "EmbeddedPostgres", message: "scratch not writable" }, 3, now);
    expect(next.extra).toBe("kept");
    expect(next.observedGeneration).toBe(3);
    expect(next.conditions).toEqual([
      { type: "Ready", status: "False", reason: "EmbeddedPostgres", message: "scratch not writable", lastTransitionTime: "2026-12-05T16:00:00Z", observedGeneration: 3 },
      { type: "Degraded", status: "True", reason: "EmbeddedPostgres", message: "scratch not writable", lastTransitionTime: "2026-12-05T17:00:00Z", observedGeneration: 3 },
    ]);
  });

  it("writes it through the status subresource, and nothing for an object that is gone", async () => {
    const { api, calls } = fakeApi(async (r) => r.body);
    const live = { ...obj, metadata: { ...obj.metadata, generation: 4 }, status: { observedGeneration: 2, conditions: [old] } };
    const report = reportFailureInStatus<{ observedGeneration?: number; conditions?: (typeof old)[] }>(api as StatusApi, { get: (key) => (key === "ns/a" ? live : undefined) });
    const ctx = { now: () => now } as Parameters<typeof report>[0];
    await report(ctx, { namespace: "ns", name: "a" }, new Error("current problem"));
    await report(ctx, { namespace: "ns", name: "gone" }, new Error("current problem"));
    expect(calls).toHaveLength(1);
    const body = (calls[0] as { body: { status: TestStatus } }).body;
    expect(body.status.observedGeneration).toBe(4);
    expect(body.status.conditions).toContainEqual(expect.objectContaining({ type: "Ready", status: "False", reason: "ReconcileError", message: "current problem", observedGeneration: 4 }));
  });
});
