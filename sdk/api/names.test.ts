import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { clusterObjectNames, instanceName, isDnsLabel, kubeName, replicationSlotName, serviceHost } from "./names";

describe("kubeName", () => {
  it("returns valid names unchanged", () => {
    expect(kubeName(["orders", "rw"])).toBe("orders-rw");
    expect(kubeName(["setpoint", "operator"])).toBe("setpoint-operator");
    expect(kubeName(["", "solo"])).toBe("solo");
  });

  it("replaces invalid characters and appends a stable hash of the input", () => {
    expect(kubeName(["Orders_DB", "rw"])).toBe("orders-db-rw-6b30e26a");
  });

  it("truncates long names to 63 characters with a hash suffix", () => {
    const name = kubeName(["a".repeat(70), "rw"]);
    expect(name).toBe(`${"a".repeat(54)}-8cfb18b1`);
    expect(name).toHaveLength(63);
  });

  it("keeps names that differ only past the cut apart", () => {
    const long = "a-very-long-cluster-name-that-goes-on-and-on-for-quite-a-while-x";
    expect(clusterObjectNames(long)).toEqual({
      readWriteService: "a-very-long-cluster-name-that-goes-on-and-on-for-quite-5ee8bb80",
      readOnlyService: "a-very-long-cluster-name-that-goes-on-and-on-for-quite-d30b1c54",
      appSecret: "a-very-long-cluster-name-that-goes-on-and-on-for-quite-812f670f",
      superuserSecret: "a-very-long-cluster-name-that-goes-on-and-on-for-quite-6def22bc",
      replicationSecret: "a-very-long-cluster-name-that-goes-on-and-on-for-quite-09713128",
      configMap: "a-very-long-cluster-name-that-goes-on-and-on-for-quite-fc6b08e0",
    });
  });

  it("starts every name with a letter", () => {
    expect(kubeName(["9lives"])).toBe("lives-bc867356");
    expect(kubeName(["123"])).toBe("xa665a459");
  });

  it("honours a smaller maxLength", () => {
    // 16 - 9 = 7 characters of head, "orders-", then the trailing dash is dropped.
    expect(kubeName(["orders", "replica", "set"], 16)).toBe("orders-2cc1e782");
  });

  it("is deterministic", () => {
    expect(kubeName(["x".repeat(100)])).toBe(kubeName(["x".repeat(100)]));
  });

  it("refuses empty input and impossible lengths", () => {
    expect(() => kubeName([])).toThrow(InputError);
    expect(() => kubeName([""])).toThrow(InputError);
    expect(() => kubeName(["a"], 5)).toThrow(/maxLength must be between 10 and 63/);
    expect(() => kubeName(["a"], 64)).toThrow(InputError);
  });

  it("only ever produces DNS-1035 labels", () => {
    for (const raw of ["A", "-x-", "a--b", "ünïcödé", "dots.and_underscores", "9", "x".repeat(200), "a-".repeat(40)]) {
      const name = kubeName([raw]);
      expect(isDnsLabel(name), `${raw} -> ${name}`).toBe(true);
    }
  });
});

describe("clusterObjectNames", () => {
  it("follows the <cluster>-rw / -ro / -app convention", () => {
    expect(clusterObjectNames("orders")).toEqual({ readWriteService: "orders-rw", readOnlyService: "orders-ro", appSecret: "orders-app", superuserSecret: "orders-superuser", replicationSecret: "orders-replication", configMap: "orders-config" });
  });
});

describe("instanceName", () => {
  it("is <cluster>-<ordinal>, hashed to fit", () => {
    expect(instanceName("orders", 1)).toBe("orders-1");
    expect(instanceName("a".repeat(63), 2)).toBe(`${"a".repeat(54)}-b8c0b1b4`);
  });
});

describe("replicationSlotName", () => {
  it("is the instance name with underscores", () => {
    expect(replicationSlotName("orders-2")).toBe("orders_2");
    expect(replicationSlotName(`${"a".repeat(54)}-b8c0b1b4`)).toBe(`${"a".repeat(54)}_b8c0b1b4`);
  });
});

describe("serviceHost", () => {
  it("is <service>.<namespace>.svc", () => {
    expect(serviceHost("orders-rw", "shop")).toBe("orders-rw.shop.svc");
  });
});
