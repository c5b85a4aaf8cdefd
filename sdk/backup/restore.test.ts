import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeRecoveryConfig } from "./restore";

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
    await writeRecoveryConfig(d, { kind: "time", time: new Date("2026-01-02T03:04:05.678Z") }, "wal restore %f %p", { archive_mode: "on" });
    const conf = readFileSync(join(d, "postgresql.auto.conf"), "utf8");
    expect(conf).toContain("recovery_target_time = '2026-01-02 03:04:05.678+00'");
    expect(conf).toContain("recovery_target_inclusive = 'on'");
    expect(conf).toContain("recovery_target_action = 'promote'");
    expect(conf).toContain("archive_mode = 'on'");
  });
});
