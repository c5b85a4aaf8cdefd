import { describe, expect, it } from "vitest";
import { describeHolder, lockApplicationName, parseLockApplicationName } from "./lock";

describe("lock session names", () => {
  it("carry the driver, pid and a pod-length host within the 63 bytes PostgreSQL keeps, and read back", () => {
    const name = lockApplicationName("operator", 1, "setpoint-operator-5f7c9d8b6f-abcde");
    expect(name).toBe("setpoint-upgrade:operator 1@setpoint-operator-5f7c9d8b6f-abcde");
    expect(parseLockApplicationName(name)).toEqual({ driver: "operator", pid: 1, host: "setpoint-operator-5f7c9d8b6f-abcde" });
    // The login fence spares every session whose name starts with the engine's own.
    expect(name.startsWith("setpoint-upgrade")).toBe(true);
  });

  it("cut a long host to fit, keeping driver and pid, and never split a character", () => {
    const long = lockApplicationName("pulumi", 123456, "a-very-long-host-name.with.a.domain.example.com");
    expect(long).toBe("setpoint-upgrade:pulumi 123456@a-very-long-host-name.with.a.dom");
    expect(Buffer.byteLength(long)).toBe(63);
    expect(parseLockApplicationName(long)).toEqual({ driver: "pulumi", pid: 123456, host: "a-very-long-host-name.with.a.dom" });
    // 24 bytes before the host leave 39: nineteen two-byte characters, not a half of the twentieth.
    const accented = lockApplicationName("cli", 77, "é".repeat(40));
    expect(accented).toBe(`setpoint-upgrade:cli 77@${"é".repeat(19)}`);
    expect(lockApplicationName("my driver", 7, "h")).toBe("setpoint-upgrade:my-driver 7@h");
  });

  it("are not read into other sessions' names", () => {
    expect(parseLockApplicationName("setpoint-upgrade")).toBeNull();
    expect(parseLockApplicationName("psql")).toBeNull();
  });
});

describe("describeHolder", () => {
  it("names the driver, pid, host, address, since when and blue's session", () => {
    const since = new Date("2026-12-05T16:40:00.000Z");
    expect(describeHolder({ driver: "operator", pid: 1, host: "op-abc", address: "10.0.0.7/32", since, sessionPid: 4242 })).toBe(
      "operator (pid 1 on op-abc from 10.0.0.7/32) since 2026-12-05T16:40:00.000Z, blue session 4242",
    );
    expect(describeHolder({ driver: "unknown", pid: null, host: null, address: null, since: null, sessionPid: 9 })).toBe("unknown, blue session 9");
    expect(describeHolder(null)).toBe("it has just finished");
  });
});
