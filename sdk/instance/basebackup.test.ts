import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { baseBackupCommand, primaryConninfo } from "./basebackup";

describe("baseBackupCommand", () => {
  it("uses the option list on 15 and later, the keyword form on 14", () => {
    expect(baseBackupCommand(170004, { label: "it's" })).toBe("BASE_BACKUP (LABEL 'it''s', CHECKPOINT 'fast', WAL true, WAIT false, MANIFEST 'no')");
    expect(baseBackupCommand(140020, { fastCheckpoint: false, wal: false, maxRateKbps: 1024 })).toBe("BASE_BACKUP LABEL 'setpoint' NOWAIT MAX_RATE 1024");
  });

  it("refuses a rate the server would refuse", () => {
    expect(() => baseBackupCommand(170000, { maxRateKbps: 8 })).toThrow(InputError);
  });
});

describe("primaryConninfo", () => {
  it("quotes every value as libpq reads it", () => {
    expect(primaryConninfo({ host: "db", port: 5432, user: "r", password: "a'b\\c d" })).toBe("host='db' port='5432' user='r' password='a\\'b\\\\c d'");
  });
});
