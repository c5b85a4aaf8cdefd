import { describe, expect, it } from "vitest";
import { archiveKey, backupIdFor, formatLsn, isBackupId, manifestKey, parseLsn, parseWalName, segmentName, segnoBefore, segnoOf, walKey } from "./layout";

describe("WAL file names", () => {
  it("parses each kind PostgreSQL archives", () => {
    expect(parseWalName("000000010000000000000003")).toEqual({ kind: "segment", name: "000000010000000000000003", timeline: 1, segno: 3n });
    expect(parseWalName("0000000200000001000000FF")).toMatchObject({ kind: "segment", timeline: 2, segno: 0x1ffn });
    expect(parseWalName("000000020000000000000004.partial")).toMatchObject({ kind: "partial", timeline: 2, segno: 4n });
    expect(parseWalName("000000010000000000000002.00000028.backup")).toMatchObject({ kind: "backup-history", timeline: 1, segno: 2n });
    expect(parseWalName("00000002.history")).toEqual({ kind: "timeline-history", name: "00000002.history", timeline: 2 });
  });

  it("refuses names that are not WAL files", () => {
    for (const bad of ["", "RECOVERYXLOG", "00000001000000000000000", "000000010000000000000003.gz", "../00000002.history", "0000000a0000000000000003"]) {
      expect(parseWalName(bad)).toBeUndefined();
    }
  });

  it("names segments as PostgreSQL does, for 16 MiB and other segment sizes", () => {
    expect(segmentName(1, 3n)).toBe("000000010000000000000003");
    expect(segmentName(3, 0x1ffn)).toBe("0000000300000001000000FF");
    // 64 MiB segments: 64 per 4 GiB "log id".
    expect(segmentName(1, 65n, 64 * 1024 * 1024)).toBe("000000010000000100000001");
    expect(parseWalName("000000010000000100000001", 64 * 1024 * 1024)).toMatchObject({ segno: 65n });
  });

  it("converts LSNs and finds the segments a backup needs", () => {
    expect(parseLsn("16/B374D848")).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe("16/B374D848");
    expect(segnoOf("0/3000028")).toBe(3n);
    // An end LSN exactly on a segment boundary needs the previous segment only.
    expect(segnoBefore("0/4000000")).toBe(3n);
    expect(segnoBefore("0/4000001")).toBe(4n);
    expect(() => parseLsn("nope")).toThrow(/not an LSN/);
  });
});

describe("bucket layout", () => {
  it("keeps each timeline's WAL under its own folder and each backup under its id", () => {
    expect(walKey(parseWalName("000000020000000000000004")!)).toBe("wal/00000002/000000020000000000000004.gz");
    expect(walKey(parseWalName("00000002.history")!)).toBe("wal/00000002/00000002.history.gz");
    expect(archiveKey("20261205T194501Z", null)).toBe("base/20261205T194501Z/data.tar.gz");
    expect(archiveKey("20261205T194501Z", "16390")).toBe("base/20261205T194501Z/16390.tar.gz");
    expect(manifestKey("20261205T194501Z")).toBe("base/20261205T194501Z/backup.json");
  });

  it("derives sortable backup ids from the start time", () => {
    expect(backupIdFor(new Date("2026-12-05T19:45:01.123Z"))).toBe("20261205T194501Z");
    expect(isBackupId("20261205T194501Z")).toBe(true);
    expect(isBackupId("../x")).toBe(false);
  });
});
