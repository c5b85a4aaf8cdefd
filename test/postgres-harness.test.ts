import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { freshDatabase, majors, servers } from "./support/postgres";

describe("PostgreSQL harness", () => {
  it("runs every supported major unless narrowed", () => {
    const expected = process.env.SETPOINT_TEST_MAJORS ? process.env.SETPOINT_TEST_MAJORS.split(",").map(Number) : [14, 15, 16, 17, 18];
    expect(majors()).toEqual(expected);
  });

  describe.each(majors())("PostgreSQL %i", (major) => {
    it("answers select version() with its own major", async () => {
      const db = await freshDatabase(major);
      const client = await db.client();
      const { rows } = await client.query<{ version: string; num: string }>(
        "select version() as version, current_setting('server_version_num') as num",
      );
      expect(rows[0]!.version).toMatch(new RegExp(`^PostgreSQL ${major}\\.`));
      expect(Math.floor(Number(rows[0]!.num) / 10000)).toBe(major);
    });

    it("is configured for logical replication and does not run as root", async () => {
      const db = await freshDatabase(major);
      const client = await db.client();
      const { rows } = await client.query<{ wal_level: string; slots: string }>(
        "select current_setting('wal_level') as wal_level, current_setting('max_replication_slots') as slots",
      );
      expect(rows[0]).toEqual({ wal_level: "logical", slots: "32" });
      const backend = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
      const status = readFileSync(`/proc/${backend.rows[0]!.pid}/status`, "utf8");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
      expect(uid).not.toBe(0);
    });

    it("gives each test its own empty database", async () => {
      const a = await freshDatabase(major);
      const b = await freshDatabase(major);
      expect(a.name).not.toBe(b.name);
      const ca = await a.client();
      await ca.query("create table only_in_a (id int)");
      const cb = await b.client();
      const { rows } = await cb.query("select count(*)::int as n from pg_class where relname = 'only_in_a'");
      expect(rows[0]).toEqual({ n: 0 });
    });
  });

  it("shares one server per major across the run", () => {
    const ports = servers().map((s) => s.port);
    expect(new Set(ports).size).toBe(ports.length);
  });
});
