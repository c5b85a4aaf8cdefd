import { afterEach, describe, expect, it } from "vitest";
import { parseOperatorArgs } from "./main";

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

  it("names the flag and the allowed range of a bad number", () => {
    expect(() => parseOperatorArgs(["--metrics-port", "70000"])).toThrow(/--metrics-port must be an integer from 0 to 65535, got "70000"/);
  });
});
