import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { writeStatus, type StatusApi, type StatusObject } from "./status";

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
