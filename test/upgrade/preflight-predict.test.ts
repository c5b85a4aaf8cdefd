// Preflight before green exists (ADR 0037), against real PostgreSQL: what the operator records in
// status.upgradeReadiness (and `pulumi preview` refuses on) is what the engine's own preflight
// reports for the same rules once green exists; the new major's extensions come from the control
// files of the binaries its image is built from, which are the server's own list.
import { describe, expect, test } from "vitest";
import { inspectReadiness } from "../../sdk/operator/cluster/upgrade-readiness";
import { shippedExtensions } from "../../sdk/postgres/extensions";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { memoryStateStore, planUpgrade, PREFLIGHT_CHECKERS } from "../../sdk/upgrade/index";
import { BLUE_ONLY_CHECKERS, observeBlue, predictPreflight } from "../../sdk/upgrade/preflight-predict";
import { freshDatabase, majors } from "../support/postgres";
import { bluegreen } from "../support/upgrade";

const BLUE_ONLY_CODES = new Set(["VERSION_NOT_HIGHER", "NO_REPLICA_IDENTITY", "UNLOGGED_TABLE", "LARGE_OBJECTS", "FOREIGN_TABLE", "MATERIALIZED_VIEW", "MISSING_EXTENSION"]);
const ok = majors().includes(16) && majors().includes(17);
const key = (f: { code: string; severity: string; object?: string; message: string; fix: string }): string => `${f.severity}:${f.code}:${f.object ?? ""}:${f.message}:${f.fix}`;

describe("preflight before green exists", () => {
  test("every blue-only checker is one of the engine's", () => {
    expect(BLUE_ONLY_CHECKERS.filter((n) => !PREFLIGHT_CHECKERS.some((c) => c.name === n))).toEqual([]);
  });

  test.each(majors())("the extensions PostgreSQL %i's binaries ship are the ones its server offers", async (major) => {
    const db = await freshDatabase(major as PostgresMajor);
    const c = await db.client();
    const offered = new Set((await c.query<{ name: string }>(`SELECT name FROM pg_available_extensions`)).rows.map((r) => r.name));
    expect([...(shippedExtensions(major as PostgresMajor) ?? [])].sort()).toEqual([...offered].sort());
  });

  test.runIf(ok)("16 -> 17: the prediction from blue alone equals the engine's preflight for the same rules", async () => {
    const { blue, green } = await bluegreen(16, 17);
    const b = await blue.client();
    await b.query(`CREATE EXTENSION adminpack`); // shipped with 16, removed in 17
    await b.query(`CREATE TABLE events (at timestamptz, what text)`);
    await b.query(`CREATE TABLE keyed (id int PRIMARY KEY, v text)`);
    await b.query(`CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)`);
    await b.query(`CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM keyed`);

    const predicted = predictPreflight(await observeBlue(b), { major: 17, availableExtensions: shippedExtensions(17)! });
    const engine = (await planUpgrade({ blue: blue.url, green: green.url, store: memoryStateStore() })).preflight!.findings.filter((f) => BLUE_ONLY_CODES.has(f.code));
    expect(predicted.map(key).sort()).toEqual(engine.map(key).sort());
    expect(predicted.map((f) => `${f.severity}:${f.code}:${f.object ?? ""}`)).toEqual(
      expect.arrayContaining(['error:NO_REPLICA_IDENTITY:"public"."events"', 'error:UNLOGGED_TABLE:"public"."scratch"', 'error:MISSING_EXTENSION:"adminpack"', 'warning:MATERIALIZED_VIEW:"public"."totals"']),
    );

    // The operator's record: every supported major above 16, adminpack missing on 17 and 18 only.
    const url = new URL(blue.url);
    const at = { host: url.hostname, port: Number(url.port), password: decodeURIComponent(url.password), database: blue.name, timeoutMs: 5000 };
    const record = await inspectReadiness(at, 16, new Date("2026-12-06T03:00:00.123Z"));
    expect(record.checkedAt).toBe("2026-12-06T03:00:00Z");
    expect(record.targets.map((t) => t.postgresVersion)).toEqual([17, 18]);
    for (const t of record.targets) expect(t.findings.filter((f) => f.code === "MISSING_EXTENSION").map((f) => f.object)).toEqual(['"adminpack"']);

    // Fixed on blue: nothing blocks any more.
    await b.query(`DROP EXTENSION adminpack`);
    await b.query(`ALTER TABLE events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`);
    await b.query(`ALTER TABLE scratch SET LOGGED`);
    const fixed = await inspectReadiness(at, 16, new Date(), { only: 17 });
    expect(fixed.targets).toHaveLength(1);
    expect(fixed.targets[0]!.findings.filter((f) => f.severity === "error")).toEqual([]);
  });
});
