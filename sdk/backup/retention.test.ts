import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import type { CatalogBackup } from "./catalog";
import { archiveKey, backupIdFor, manifestKey, segmentName } from "./layout";
import type { BackupManifest } from "./manifest";
import { backupIdTime, parseRetention, planRetention } from "./retention";
import type { StoredObject } from "./store";

const DAY = 86_400_000;
const NOW = new Date("2026-12-05T12:00:00Z");

/** A usable backup that began `daysAgo` days before NOW, its WAL from segment `start` to `start + 1`. */
function backup(daysAgo: number, start: number, timeline = 1, usable = true): CatalogBackup {
  const begin = new Date(NOW.getTime() - daysAgo * DAY);
  const id = backupIdFor(begin);
  const manifest: BackupManifest = {
    format: 1,
    id,
    label: `setpoint ${id}`,
    serverVersionNum: 170000,
    timeline,
    startLsn: `0/${(start * 0x1000000 + 0x28).toString(16).toUpperCase()}`,
    endLsn: `0/${((start + 1) * 0x1000000 + 0x100).toString(16).toUpperCase()}`,
    startWal: segmentName(timeline, BigInt(start)),
    endWal: segmentName(timeline, BigInt(start + 1)),
    segmentBytes: 16 * 1024 * 1024,
    beginTime: begin.toISOString(),
    endTime: new Date(begin.getTime() + 60_000).toISOString(),
    bytes: 100,
    storedBytes: 50,
    walIncluded: false,
    archives: [{ tablespace: null, key: archiveKey(id, null), bytes: 100, storedBytes: 50, sha256: "0".repeat(64), compression: "gzip" }],
  };
  return usable ? { id, manifest, usable: true, recoverableFrom: manifest.endTime } : { id, manifest, usable: false, problem: "WAL missing" };
}

function baseObjects(backups: CatalogBackup[]): StoredObject[] {
  return backups.flatMap((b) => [
    { key: archiveKey(b.id, null), size: 50, lastModified: NOW },
    ...(b.manifest ? [{ key: manifestKey(b.id), size: 1, lastModified: NOW }] : []),
  ]);
}

function wal(timeline: number, from: number, to: number, extra: string[] = []): StoredObject[] {
  const keys: string[] = [];
  for (let n = from; n <= to; n++) keys.push(`wal/${timeline.toString(16).padStart(8, "0")}/${segmentName(timeline, BigInt(n))}.gz`);
  return [...keys, ...extra].map((key) => ({ key, size: 10, lastModified: NOW }));
}

describe("retention periods", () => {
  it("parses hours, days and weeks", () => {
    expect(parseRetention("12h")).toBe(12 * 3_600_000);
    expect(parseRetention("30d")).toBe(30 * DAY);
    expect(parseRetention("4w")).toBe(28 * DAY);
  });

  it("refuses anything else with a named error", () => {
    for (const bad of ["", "0d", "30", "d", "30m", "1.5d", "-1d", "30 d", "100000d"]) {
      expect(() => parseRetention(bad), bad).toThrow(InputError);
    }
    expect(() => parseRetention("30x")).toThrow(/"30x" is not a retention period; use a whole number of hours, days or weeks, e.g. 12h, 30d, 4w/);
  });

  it("reads a backup id's start time", () => {
    expect(backupIdTime("20261205T194501Z")?.toISOString()).toBe("2026-12-05T19:45:01.000Z");
    expect(backupIdTime("not-an-id")).toBeUndefined();
  });
});

describe("retention plan", () => {
  it("keeps the backups in the window and the newest one before it, deletes the rest and the WAL only they need", () => {
    const b = [backup(40, 2), backup(35, 10), backup(20, 20), backup(10, 30), backup(1, 40)];
    const objects = [...wal(1, 2, 45), ...wal(1, 0, 0, ["wal/00000001/000000010000000000000009.00000028.backup.gz", "wal/00000001/000000010000000000000014.00000028.backup.gz", "wal/00000001/00000001.history.gz"])];
    const plan = planRetention({ backups: b, baseObjects: baseObjects(b), walObjects: objects, now: NOW, periodMs: 30 * DAY });
    expect(plan.windowStart).toBe(new Date(NOW.getTime() - 30 * DAY).toISOString());
    expect(plan.remove.map((r) => r.id)).toEqual([b[0]!.id]);
    expect(plan.keep.map((k) => k.id)).toEqual([b[1]!.id, b[2]!.id, b[3]!.id, b[4]!.id]);
    expect(plan.keep[0]!.why).toMatch(/newest usable backup before the window/);
    // The removed backup's objects, manifest first.
    expect(plan.backupObjects).toEqual([manifestKey(b[0]!.id), archiveKey(b[0]!.id, null)]);
    // WAL before segment 10 (the oldest kept backup's start) goes, oldest first; 10 and later stay.
    expect(plan.oldestKeptWal).toBe(segmentName(1, 10n));
    expect(plan.walObjects).toEqual([
      "wal/00000001/000000010000000000000000.gz",
      ...[2, 3, 4, 5, 6, 7, 8].map((n) => `wal/00000001/${segmentName(1, BigInt(n))}.gz`),
      "wal/00000001/000000010000000000000009.00000028.backup.gz",
      "wal/00000001/000000010000000000000009.gz",
    ]);
    expect(plan.walObjects).not.toContain("wal/00000001/00000001.history.gz");
    expect(plan.bytes).toBe(51 + 10 * 10);
  });

  it("never deletes the newest usable backup, even when every backup is older than the window", () => {
    const b = [backup(50, 2), backup(40, 10)];
    const plan = planRetention({ backups: b, baseObjects: baseObjects(b), walObjects: wal(1, 2, 12), now: NOW, periodMs: 7 * DAY });
    expect(plan.keep.map((k) => k.id)).toEqual([b[1]!.id]);
    expect(plan.remove.map((r) => r.id)).toEqual([b[0]!.id]);
    expect(plan.walObjects).toHaveLength(8);
  });

  it("deletes nothing when the bucket has no usable backup", () => {
    const b = [backup(50, 2, 1, false), backup(40, 10, 1, false)];
    const plan = planRetention({ backups: b, baseObjects: baseObjects(b), walObjects: wal(1, 2, 12), now: NOW, periodMs: DAY });
    expect(plan.remove).toEqual([]);
    expect(plan.backupObjects).toEqual([]);
    expect(plan.walObjects).toEqual([]);
    expect(plan.note).toMatch(/no usable base backup/);
  });

  it("keeps an unusable backup that a newer usable one does not replace only while it is in the window", () => {
    const b = [backup(40, 2), backup(35, 10, 1, false), backup(2, 20, 1, false), backup(1, 30)];
    const plan = planRetention({ backups: b, baseObjects: baseObjects(b), walObjects: wal(1, 2, 31), now: NOW, periodMs: 30 * DAY });
    // The anchor is the newest USABLE one before the window (40 days ago), not the broken one.
    expect(plan.keep.map((k) => k.id)).toEqual([b[0]!.id, b[2]!.id, b[3]!.id]);
    expect(plan.remove.map((r) => r.id)).toEqual([b[1]!.id]);
    expect(plan.walObjects).toEqual([]);
  });

  it("removes an incomplete backup begun before the window and keeps a recent one (it may be running)", () => {
    const old = { id: backupIdFor(new Date(NOW.getTime() - 45 * DAY)), usable: false, problem: "incomplete: no backup.json" };
    const running = { id: backupIdFor(new Date(NOW.getTime() - 60_000)), usable: false, problem: "incomplete: no backup.json" };
    const b = [old, backup(40, 10), backup(1, 20), running];
    const plan = planRetention({ backups: b, baseObjects: baseObjects(b), walObjects: wal(1, 10, 21), now: NOW, periodMs: 30 * DAY });
    expect(plan.remove.map((r) => r.id)).toEqual([old.id]);
    expect(plan.keep.map((r) => r.id)).toEqual([b[1]!.id, b[2]!.id, running.id]);
    expect(plan.backupObjects).toEqual([archiveKey(old.id, null)]);
    expect(plan.walObjects).toEqual([]);
  });

  it("cuts every timeline at the oldest kept backup's start and keeps history files a kept timeline needs", () => {
    // Timeline 1 until segment 15, then a failover: timeline 2 from 15 on; a backup on each.
    const b = [backup(40, 2, 1), backup(20, 8, 1), backup(5, 18, 2)];
    const objects = [...wal(1, 2, 15, ["wal/00000001/000000010000000000000005.partial.gz"]), ...wal(2, 15, 20, ["wal/00000002/00000002.history.gz"])];
    const plan = planRetention({ backups: b, baseObjects: baseObjects(b), walObjects: objects, now: NOW, periodMs: 10 * DAY });
    // Window starts 10 days ago: the timeline-2 backup is in it; the one 20 days ago covers its start.
    expect(plan.keep.map((k) => k.id)).toEqual([b[1]!.id, b[2]!.id]);
    expect(plan.walObjects).toEqual([...[2, 3, 4, 5].map((n) => `wal/00000001/${segmentName(1, BigInt(n))}.gz`), "wal/00000001/000000010000000000000005.partial.gz", ...[6, 7].map((n) => `wal/00000001/${segmentName(1, BigInt(n))}.gz`)]);
    expect(plan.walObjects).not.toContain("wal/00000002/00000002.history.gz");
  });

  it("gives the same plan for the same input, and a plan after a partial apply finishes the same deletion", () => {
    const b = [backup(40, 2), backup(35, 10), backup(1, 40)];
    const input = { backups: b, baseObjects: baseObjects(b), walObjects: wal(1, 2, 41), now: NOW, periodMs: 30 * DAY };
    const plan = planRetention(input);
    expect(planRetention(input)).toEqual(plan);
    // Interrupted after the manifest and three WAL files: the backup now has no manifest.
    const gone = new Set([plan.backupObjects[0]!, ...plan.walObjects.slice(0, 3)]);
    const left = { ...b[0]!, manifest: undefined, usable: false, problem: "incomplete: no backup.json" } as CatalogBackup;
    const again = planRetention({ ...input, backups: [left, b[1]!, b[2]!], baseObjects: input.baseObjects.filter((o) => !gone.has(o.key)), walObjects: input.walObjects.filter((o) => !gone.has(o.key)) });
    expect(again.remove.map((r) => r.id)).toEqual([b[0]!.id]);
    expect([...gone, ...again.backupObjects, ...again.walObjects].sort()).toEqual([...plan.backupObjects, ...plan.walObjects].sort());
  });
});
