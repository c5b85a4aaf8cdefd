import { describe, expect, it } from "vitest";
import { MANIFEST_FORMAT, parseManifest } from "./manifest";

const archive = { tablespace: null, key: "base/20261206T010203Z/data.tar", bytes: 100, storedBytes: 100, sha256: "a".repeat(64) };
const base = {
  id: "20261206T010203Z",
  label: "setpoint",
  serverVersionNum: 170000,
  timeline: 1,
  startLsn: "0/2000028",
  endLsn: "0/2000100",
  startWal: "000000010000000000000002",
  endWal: "000000010000000000000002",
  segmentBytes: 16777216,
  beginTime: "2026-12-06T01:02:03.000Z",
  endTime: "2026-12-06T01:02:13.000Z",
  bytes: 100,
  storedBytes: 100,
  walIncluded: false,
};

describe("parseManifest", () => {
  it("reads a format 2 manifest with each archive's compression", () => {
    const r = parseManifest(JSON.stringify({ ...base, format: MANIFEST_FORMAT, archives: [{ ...archive, compression: "none" }] }));
    expect(r).toMatchObject({ manifest: { format: 2, archives: [{ compression: "none" }] } });
  });

  it("reads a format 1 manifest (written before compression was a choice) as gzip archives", () => {
    const r = parseManifest(JSON.stringify({ ...base, format: 1, archives: [{ ...archive, key: "base/20261206T010203Z/data.tar.gz" }] }));
    expect(r).toMatchObject({ manifest: { format: 1, archives: [{ compression: "gzip" }] } });
  });

  it("refuses a format 2 archive without its compression, a format 1 archive with one, an unknown method or format", () => {
    expect(parseManifest(JSON.stringify({ ...base, format: 2, archives: [archive] }))).toEqual({ problem: expect.stringContaining("must name each archive's compression") as string });
    expect(parseManifest(JSON.stringify({ ...base, format: 1, archives: [{ ...archive, compression: "gzip" }] }))).toEqual({ problem: expect.stringContaining("format 1 manifest names") as string });
    expect(parseManifest(JSON.stringify({ ...base, format: 2, archives: [{ ...archive, compression: "lz4" }] }))).toEqual({ problem: expect.stringContaining("archives.0.compression") as string });
    expect(parseManifest(JSON.stringify({ ...base, format: 3, archives: [{ ...archive, compression: "none" }] }))).toEqual({ problem: expect.stringContaining("format") as string });
  });
});
