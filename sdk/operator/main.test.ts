import { afterEach, describe, expect, it } from "vitest";
import { parseOperatorArgs, podLeaseIdentity } from "./main";

describe("parseOperatorArgs", () => {
  const saved = { lease: process.env.SETPOINT_LEADER_ELECTION_LEASE, ns: process.env.POD_NAMESPACE };
  afterEach(() => {
    for (const [key, value] of [["SETPOINT_LEADER_ELECTION_LEASE", saved.lease], ["POD_NAMESPACE", saved.ns]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it("takes the Lease's name and namespace from the environment the Operator component's Deployment sets", () => {
    process.env.SETPOINT_LEADER_ELECTION_LEASE = "billing-operator";
    process.env.POD_NAMESPACE = "billing";
    expect(parseOperatorArgs(["--leader-elect"])).toMatchObject({ leaderElect: true, leaseName: "billing-operator", leaseNamespace: "billing" });
  });

  it("lets the flags win over the environment", () => {
    process.env.SETPOINT_LEADER_ELECTION_LEASE = "billing-operator";
    process.env.POD_NAMESPACE = "billing";
    expect(parseOperatorArgs(["--lease-name", "other", "--lease-namespace", "ops"])).toMatchObject({ leaseName: "other", leaseNamespace: "ops" });
  });

  it("holds the Lease as its pod (name and UID), so every container of one pod has one identity and no other pod shares it", () => {
    expect(podLeaseIdentity({ POD_NAME: "op-7d9f-x2", POD_UID: "0b6e1c2a-1111-4c3e-9d2f-5a6b7c8d9e0f" })).toBe("op-7d9f-x2_0b6e1c2a-1111-4c3e-9d2f-5a6b7c8d9e0f");
    expect(podLeaseIdentity({ POD_NAME: "op-7d9f-x2", POD_UID: "a-new-pod-under-the-same-name" })).not.toBe(podLeaseIdentity({ POD_NAME: "op-7d9f-x2", POD_UID: "0b6e1c2a" }));
    // Outside a pod (or with half of it): no shared identity, the elector makes one per process.
    expect(podLeaseIdentity({ POD_NAME: "op-7d9f-x2" })).toBeUndefined();
    expect(podLeaseIdentity({ POD_NAME: " ", POD_UID: "0b6e1c2a" })).toBeUndefined();
    expect(podLeaseIdentity({})).toBeUndefined();
  });

  it("names the flag and the allowed range of a bad number", () => {
    expect(() => parseOperatorArgs(["--metrics-port", "70000"])).toThrow(/--metrics-port must be an integer from 0 to 65535, got "70000"/);
    expect(() => parseOperatorArgs(["--authority-overlap", "0"])).toThrow(/--authority-overlap must be an integer from 1 to 31536000, got "0"/);
    expect(parseOperatorArgs(["--authority-overlap", "86400"]).authorityOverlapSeconds).toBe(86_400);
    expect(parseOperatorArgs([]).authorityOverlapSeconds).toBeUndefined();
  });
});
