// The state stores' forget(), on real PostgreSQL: drivers drop an upgrade's state through the
// store (never with their own SQL); forgetting what was never saved changes nothing; an operation
// with nothing to do from no saved state saves none, and contradicting options save nothing.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished, test } from "vitest";
import { fileStateStore, forgetUpgrade, memoryStateStore, rollbackUpgrade, runUpgrade, STATE_VERSION, tableStateStore, type UpgradeState } from "../../sdk/upgrade/index";
import { freshDatabase, majors } from "../support/postgres";
import { bluegreen } from "../support/upgrade";

const major = majors().at(-1);

const state = (id: string): UpgradeState => ({ version: STATE_VERSION, id, phase: "replicating", tables: [], fences: [], reverseSubscribed: false, history: [] });

async function hasStateSchema(c: { query(sql: string): Promise<{ rowCount: number | null }> }): Promise<boolean> {
  return (await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'setpoint'")).rowCount === 1;
}

describe.runIf(major !== undefined)("state stores forget", () => {
  test("the table store forgets one key, leaves the others, and creates nothing when there is nothing to forget", async () => {
    const db = await freshDatabase(major!);
    const c = await db.client();
    await tableStateStore(db.url, "a").forget();
    expect(await hasStateSchema(c)).toBe(false);
    await tableStateStore(db.url, "a").save(state("aaa"));
    await tableStateStore(db.url, "b").save(state("bbb"));
    await tableStateStore(db.url, "a").forget();
    await tableStateStore(db.url, "a").forget();
    expect(await tableStateStore(db.url, "a").load()).toBeUndefined();
    expect((await tableStateStore(db.url, "b").load())?.id).toBe("bbb");
  });

  test("the file and memory stores forget", async () => {
    const dir = mkdtempSync(join(tmpdir(), "setpoint-state-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = fileStateStore(join(dir, "state.json"));
    await file.save(state("fff"));
    await file.forget();
    expect(existsSync(join(dir, "state.json"))).toBe(false);
    await file.forget();
    expect(await file.load()).toBeUndefined();
    const memory = memoryStateStore(state("mmm"));
    await memory.forget();
    expect(await memory.load()).toBeUndefined();
  });

  test("rolling back or forgetting an upgrade that never started does nothing and saves no state", async () => {
    const { blue, green } = await bluegreen(major!, major!);
    const store = tableStateStore(blue.url, "never");
    const rolled = await rollbackUpgrade({ blue: blue.url, green: green.url, store });
    expect(rolled.phases).toEqual([]);
    expect([rolled.state.id, rolled.state.phase]).toEqual(["", "new"]);
    const forgot = await forgetUpgrade({ blue: blue.url, green: green.url, store });
    expect(forgot.phases).toEqual([]);
    // Contradicting options are refused before anything connects.
    const contradiction = await runUpgrade({ blue: blue.url, green: green.url, store }, { until: "synchronized", finalize: true }).catch((e: unknown) => e);
    expect(contradiction).toMatchObject({ code: "INVALID_INPUT", propertyPath: "finalize", message: 'finalize needs until "switched" (only a switched upgrade can be finalized)' });
    expect(await hasStateSchema(await blue.client())).toBe(false);
  });
});
