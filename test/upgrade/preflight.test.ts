import { describe, expect, test } from "vitest";
import { memoryStateStore, planUpgrade, PreflightRefusedError, runUpgrade } from "../../sdk/upgrade/index";
import { majors } from "../support/postgres";
import { bluegreen, upgradeLeftovers } from "../support/upgrade";

const ok = majors().includes(16) && majors().includes(17);

describe.runIf(ok)("upgrade preflight", () => {
  test("refuses, before touching anything, tables replication cannot carry, large objects, missing roles and a version that is not newer", async () => {
    const { blue, green } = await bluegreen(16, 17);
    const b = await blue.client();
    await b.query(`CREATE TABLE no_key (a int, b text)`);
    await b.query(`CREATE TABLE keyed (id int PRIMARY KEY, v text)`);
    await b.query(`CREATE TABLE full_identity (a int, b text)`);
    await b.query(`ALTER TABLE full_identity REPLICA IDENTITY FULL`);
    await b.query(`CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)`);
    await b.query(`SELECT lo_from_bytea(0, 'blob'::bytea)`);
    await b.query(`CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM keyed`);
    await b.query(`CREATE FUNCTION touch() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
    await b.query(`CREATE RULE r_noop AS ON DELETE TO keyed DO ALSO NOTHING`);
    const role = `owner_${Date.now().toString(36)}`;
    await b.query(`CREATE ROLE ${role}`);
    await b.query(`ALTER TABLE keyed OWNER TO ${role}`);
    try {
      const store = memoryStateStore();
      const options = { blue: blue.url, green: green.url, store };
      const planned = await planUpgrade(options);
      const codes = planned.preflight!.findings.map((f) => `${f.severity}:${f.code}:${f.object ?? ""}`);
      expect(planned.preflight!.ok).toBe(false);
      expect(codes).toEqual(
        expect.arrayContaining([
          'error:NO_REPLICA_IDENTITY:"public"."no_key"',
          'error:UNLOGGED_TABLE:"public"."scratch"',
          "error:LARGE_OBJECTS:",
          'warning:MATERIALIZED_VIEW:"public"."totals"',
          "error:OBJECTS_NOT_COPIED:public.keyed.r_noop",
          `error:ROLE_MISSING:"${role}"`,
        ]),
      );
      expect(codes.some((c) => c.includes("full_identity"))).toBe(false);
      // Functions and materialized views are created on green by the schema copy now.
      expect(codes.filter((c) => c.startsWith("error:OBJECTS_NOT_COPIED:"))).toEqual(["error:OBJECTS_NOT_COPIED:public.keyed.r_noop"]);
      expect(codes).not.toContain("warning:PRIVILEGES_NOT_COPIED:");
      const fix = planned.preflight!.findings.find((f) => f.code === "NO_REPLICA_IDENTITY")!.fix;
      expect(fix).toContain('ALTER TABLE "public"."no_key" REPLICA IDENTITY');

      const err = await runUpgrade(options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PreflightRefusedError);
      expect((err as Error).message).toMatch(/nothing was changed/);
      expect((err as Error).message).toMatch(/\[UNLOGGED_TABLE\]/);
      expect(store.current()!.phase).toBe("new");
      expect(await upgradeLeftovers(blue)).toEqual([]);
      expect(await upgradeLeftovers(green)).toEqual([]);
      const schemas = await b.query(`SELECT 1 FROM pg_namespace WHERE nspname LIKE 'setpoint%'`);
      expect(schemas.rowCount).toBe(0);
    } finally {
      await b.query(`DROP TABLE keyed CASCADE`);
      await b.query(`DROP ROLE ${role}`);
    }
  });

  test("refuses a green that is not a newer major, and a green that already holds rows", async () => {
    const { blue: newer, green: older } = await bluegreen(17, 16);
    const n = await newer.client();
    await n.query(`CREATE TABLE t (id int PRIMARY KEY)`);
    const o = await older.client();
    await o.query(`CREATE TABLE t (id int PRIMARY KEY)`);
    await o.query(`INSERT INTO t VALUES (1)`);
    const planned = await planUpgrade({ blue: newer.url, green: older.url, store: memoryStateStore() });
    const codes = planned.preflight!.findings.map((f) => f.code);
    expect(codes).toContain("VERSION_NOT_HIGHER");
    expect(codes).toContain("GREEN_NOT_EMPTY");
    expect(planned.preflight!.findings.find((f) => f.code === "VERSION_NOT_HIGHER")!.message).toMatch(/green runs PostgreSQL 16, which is not newer than blue's 17/);
  });
});
