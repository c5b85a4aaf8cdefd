import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InputError } from "../errors";
import type { SegmentIndex } from "./catalog";
import { archivedWalBytesAfter, recoveryTargetTime, writeRecoveryConfig } from "./restore";

describe("writeRecoveryConfig", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dataDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), "setpoint-recovery-conf-"));
    dirs.push(d);
    return d;
  };

  it("turns a base backup taken from a standby into an archive recovery: standby.signal removed, the standby's primary_conninfo and slot emptied", async () => {
    const d = dataDir();
    // What a backup of a standby holds: its signal file and its streaming settings.
    writeFileSync(join(d, "standby.signal"), "");
    writeFileSync(join(d, "postgresql.auto.conf"), "primary_conninfo = 'host=10.0.0.3 user=streaming_replica'\nprimary_slot_name = 'ledger_2'\n");
    await writeRecoveryConfig(d, { kind: "latest" }, "wal restore %f %p", {});
    expect(existsSync(join(d, "standby.signal"))).toBe(false);
    expect(existsSync(join(d, "recovery.signal"))).toBe(true);
    const lines = readFileSync(join(d, "postgresql.auto.conf"), "utf8").split("\n");
    // Later lines win: the last value of each is the one the server uses.
    const last = (key: string): string | undefined => lines.filter((l) => l.startsWith(`${key} = `)).at(-1);
    expect(last("primary_conninfo")).toBe("primary_conninfo = ''");
    expect(last("primary_slot_name")).toBe("primary_slot_name = ''");
    expect(last("restore_command")).toBe("restore_command = 'wal restore %f %p'");
    expect(last("recovery_target_timeline")).toBe("recovery_target_timeline = 'latest'");
  });

  it("writes an inclusive time target that promotes", async () => {
    const d = dataDir();
    writeFileSync(join(d, "postgresql.auto.conf"), "");
    await writeRecoveryConfig(d, { kind: "time", time: "2026-01-02T03:04:05.678Z" }, "wal restore %f %p", { archive_mode: "on" });
    const conf = readFileSync(join(d, "postgresql.auto.conf"), "utf8");
    expect(conf).toContain("recovery_target_time = '2026-01-02 03:04:05.678000+00'");
    expect(conf).toContain("recovery_target_inclusive = 'on'");
    expect(conf).toContain("recovery_target_action = 'promote'");
    expect(conf).toContain("archive_mode = 'on'");
  });

  it("writes an exclusive target as recovery_target_inclusive = off, and a time to the microsecond", async () => {
    const d = dataDir();
    writeFileSync(join(d, "postgresql.auto.conf"), "");
    await writeRecoveryConfig(d, { kind: "time", time: "2026-01-02T05:04:05.123456+02:00", inclusive: false }, "wal restore %f %p", {});
    const conf = readFileSync(join(d, "postgresql.auto.conf"), "utf8");
    expect(conf).toContain("recovery_target_time = '2026-01-02 03:04:05.123456+00'");
    expect(conf).toContain("recovery_target_inclusive = 'off'");
  });
});

describe("recoveryTargetTime", () => {
  it("keeps the microseconds a Date would drop, in UTC", () => {
    // A commit at .123400 is at or before .123456: a target taken through a Date (.123) would lose it.
    expect(recoveryTargetTime("2026-12-06T06:30:00.123456Z")).toEqual({ text: "2026-12-06 06:30:00.123456+00", ms: Date.parse("2026-12-06T06:30:00.123Z") });
    expect(recoveryTargetTime("2026-12-06T08:30:00.5+02:00").text).toBe("2026-12-06 06:30:00.500000+00");
    expect(recoveryTargetTime("2026-12-05T23:30:00-07:00").text).toBe("2026-12-06 06:30:00.000000+00");
  });

  it("rounds digits past the microsecond down for an inclusive target and up for an exclusive one", () => {
    expect(recoveryTargetTime("2026-12-06T06:30:00.1234561Z").text).toBe("2026-12-06 06:30:00.123456+00");
    expect(recoveryTargetTime("2026-12-06T06:30:00.1234561Z", false).text).toBe("2026-12-06 06:30:00.123457+00");
    expect(recoveryTargetTime("2026-12-06T06:30:00.1234560Z", false).text).toBe("2026-12-06 06:30:00.123456+00");
    expect(recoveryTargetTime("2026-12-31T23:59:59.9999991Z", false)).toEqual({ text: "2027-01-01 00:00:00.000000+00", ms: Date.parse("2027-01-01T00:00:00Z") });
  });

  it("refuses what is not an RFC 3339 time with a zone, naming the field", () => {
    for (const bad of ["yesterday", "2026-12-06T06:30:00", "2026-02-30T10:00:00Z", "2026-12-06 06:30:00Z"]) {
      expect(() => recoveryTargetTime(bad)).toThrow(InputError);
      expect(() => recoveryTargetTime(bad)).toThrow(/RFC 3339.*2026-01-02T03:04:05\.123456Z/);
    }
  });
});

describe("archivedWalBytesAfter", () => {
  const seg = (size: number) => ({ key: "k", size, lastModified: new Date(0) });
  const MiB16 = 16 * 2 ** 20;
  it("counts the stored bytes a recovery from the backup fetches: from its start segment on, its timeline and later ones", () => {
    const index: SegmentIndex = new Map([
      [1, new Map([[3n, seg(900)], [4n, seg(1000)], [5n, seg(2000)], [6n, seg(40)]])],
      [2, new Map([[6n, seg(300)], [7n, seg(7000)]])],
    ]);
    // Backup on timeline 1 starting in segment 4 (LSN 0/4000028 with 16 MiB segments): 4, 5, 6 of timeline 1 and 6, 7 of timeline 2.
    expect(archivedWalBytesAfter(index, { timeline: 1, startLsn: "0/4000028", segmentBytes: MiB16 })).toBe(1000 + 2000 + 40 + 300 + 7000);
    // A backup taken on timeline 2 never reads timeline 1's segments.
    expect(archivedWalBytesAfter(index, { timeline: 2, startLsn: "0/7000028", segmentBytes: MiB16 })).toBe(7000);
    expect(archivedWalBytesAfter(new Map(), { timeline: 1, startLsn: "0/4000028", segmentBytes: MiB16 })).toBe(0);
  });
});
