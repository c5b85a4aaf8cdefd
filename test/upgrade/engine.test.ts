import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, onTestFailed, onTestFinished, test } from "vitest";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import type { UpgradeError} from "../../sdk/upgrade/index";
import { finalizeUpgrade, followUpgrade, memoryStateStore, pgbouncerSwitch, planUpgrade, rollbackUpgrade, runUpgrade, upgradeObjectNames, UPGRADE_STEPS, UpgradeRefusedError } from "../../sdk/upgrade/index";
import { bindToTest, startPgBouncer } from "../support/pgbouncer";
import { eventually } from "../support/eventually";
import { majors } from "../support/postgres";
import { APP_SCHEMA, appRole, bluegreen, fileTrafficSwitch, loginError, loginSession, seedApp, startWriter, upgradeLeftovers } from "../support/upgrade";

const PAIRS: [PostgresMajor, PostgresMajor][] = [
  [16, 17],
  [17, 18],
];
const available = new Set(majors());
const pairs = PAIRS.filter(([a, b]) => available.has(a) && available.has(b));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "setpoint-upgrade-test-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe.runIf(pairs.length > 0).each(pairs)("upgrade %i → %i", (from, to) => {
  test("copies the schema, replicates under a live writer, cuts over with synced sequences and equal checksums, and finalizes clean", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 200, 5000);
    const app = await appRole(blue, green);
    const sw = fileTrafficSwitch(join(tempDir(), "side"), "blue");
    const writer = startWriter(app, sw.side);
    const store = memoryStateStore();

    const planned = await planUpgrade({ blue: blue.url, green: green.url, store });
    expect(planned.preflight?.ok).toBe(true);
    expect(planned.steps).toEqual(["preflight", "schema", "replicate", "synchronize", "cutover"]);
    // The plan honours the run's options: what a run with them would do.
    expect((await planUpgrade({ blue: blue.url, green: green.url, store }, { until: "synchronized" })).steps).toEqual(["preflight", "schema", "replicate", "synchronize"]);
    expect((await planUpgrade({ blue: blue.url, green: green.url, store }, { finalize: true })).steps).toEqual([...UPGRADE_STEPS, "finalize"]);
    expect(await planUpgrade({ blue: blue.url, green: green.url, store }, { rollback: true })).toMatchObject({ steps: [], preflight: null });

    const result = await runUpgrade({ blue: blue.url, green: green.url, traffic: sw, store, cutoverDeadlineMs: 20_000 });
    expect(result.state.phase).toBe("switched");
    expect(result.phases.map((p) => [p.phase, p.status])).toEqual([
      ["preflight", "Succeeded"],
      ["schema", "Succeeded"],
      ["replicate", "Succeeded"],
      ["synchronize", "Succeeded"],
      ["cutover", "Succeeded"],
    ]);
    expect(sw.side()).toBe("green");
    expect(result.cutover?.verification?.equal).toBe(true);
    expect(result.cutover?.sequencesSynced).toBeGreaterThanOrEqual(3);

    // Writes continue on green with the synced sequence: no key collision.
    await new Promise((r) => setTimeout(r, 300));
    const stats = await writer.stop();
    expect(stats.bySide.green).toBeGreaterThan(0);
    const g = await green.client();
    const { rows } = await g.query<{ uid: string }>(`SELECT uid FROM events`);
    const onGreen = new Set(rows.map((r) => Number(r.uid)));
    expect(stats.committed.filter((u) => !onGreen.has(u))).toEqual([]);
    expect(onGreen.size).toBe(stats.committed.length);
    const next = await g.query<{ id: string }>(`INSERT INTO orders (customer_id, total) VALUES (1, 1) RETURNING id`);
    expect(Number(next.rows[0]!.id)).toBe(5001);
    expect((await g.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(5001);

    // Blue is closed to the application after the switch.
    const b = await blue.client();
    const acl = await b.query<{ ok: boolean }>(`SELECT has_database_privilege('public', current_database(), 'CONNECT') AS ok`);
    expect(acl.rows[0]!.ok).toBe(false);

    const fin = await finalizeUpgrade({ blue: blue.url, green: green.url, traffic: sw, store });
    expect(fin.state.phase).toBe("finalized");
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });

  test.skipIf(inject("pgbouncerMissing") !== null)("through a real PgBouncer: the pause is the fence, clients wait instead of failing, and no committed write is lost", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 20, 500);
    const bouncer = bindToTest(
      await startPgBouncer({ databases: { app: `host=127.0.0.1 port=${blue.server.port} dbname=${blue.name} user=postgres` } }),
      { onTestFinished, onTestFailed },
    );
    const traffic = pgbouncerSwitch({
      admin: bouncer.adminUrl,
      databasesFile: bouncer.databasesFile,
      databases: [
        {
          name: "app",
          blue: { host: "127.0.0.1", port: blue.server.port, database: blue.name, user: "postgres" },
          green: { host: "127.0.0.1", port: green.server.port, database: green.name, user: "postgres" },
        },
      ],
    });
    onTestFinished(() => traffic.close());
    const app = bouncer.url("app");
    const writers = [0, 1, 2].map((i) => startWriter({ blue: app, green: app }, () => "blue", "events", 1, 1 + i * 1_000_000));
    const store = memoryStateStore();
    const r = await runUpgrade({ blue: blue.url, green: green.url, traffic, store, cutoverDeadlineMs: 20_000 });
    expect(r.state.phase).toBe("switched");
    expect(r.state.cutover?.fence).toBe("switch");
    expect(await traffic.current()).toBe("green");
    expect(r.cutover?.verification?.equal).toBe(true);
    // Let the writers commit through the switched PgBouncer before stopping them: wait (bounded)
    // until green holds rows written after the switch, instead of a fixed sleep that a busy machine
    // outruns. (Not "rows blue never saw": the rollback path copies green's writes to blue.)
    const afterSwitch = async () =>
      (
        await (await green.client()).query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE at > to_timestamp($1 / 1000.0)`, [r.state.switchedAt])
      ).rows[0]!.n;
    await eventually("writes through PgBouncer after the switch", async () => (await afterSwitch()) > 3, 30_000);
    const stats = await Promise.all(writers.map((w) => w.stop()));
    // Every transaction either committed or never started: the pause made clients wait.
    expect(stats.map((s) => s.failed)).toEqual([0, 0, 0]);
    const committed = stats.flatMap((s) => s.committed);
    const g = await green.client();
    const rows = (await g.query<{ uid: string }>(`SELECT uid FROM events`)).rows;
    const onGreen = new Set(rows.map((row) => Number(row.uid)));
    expect(committed.filter((u) => !onGreen.has(u))).toEqual([]);
    expect(rows.length).toBe(committed.length);
    await finalizeUpgrade({ blue: blue.url, green: green.url, traffic, store });
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });

  test.skipIf(inject("pgbouncerMissing") !== null)("rollback through a real PgBouncer: the pause is the fence, no committed write is lost, and green is closed to direct clients after it", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 5, 50);
    const app = await appRole(blue, green);
    const bouncer = bindToTest(
      await startPgBouncer({ databases: { app: `host=127.0.0.1 port=${blue.server.port} dbname=${blue.name} user=postgres` } }),
      { onTestFinished, onTestFailed },
    );
    const traffic = pgbouncerSwitch({
      admin: bouncer.adminUrl,
      databasesFile: bouncer.databasesFile,
      databases: [
        {
          name: "app",
          blue: { host: "127.0.0.1", port: blue.server.port, database: blue.name, user: "postgres" },
          green: { host: "127.0.0.1", port: green.server.port, database: green.name, user: "postgres" },
        },
      ],
    });
    onTestFinished(() => traffic.close());
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, traffic, store, cutoverDeadlineMs: 20_000 };
    expect((await runUpgrade(options)).state.phase).toBe("switched");
    const pooled = bouncer.url("app");
    const writer = startWriter({ blue: pooled, green: pooled }, () => "blue", "events", 1);
    // A client of green that bypasses the pooler: the pause does not hold it.
    const direct = await loginSession(app.green);
    await eventually("writes through PgBouncer on green", async () => (await (await green.client()).query<{ n: number }>(`SELECT count(*)::int AS n FROM events`)).rows[0]!.n > 3, 30_000);
    const rolled = await rollbackUpgrade(options);
    expect(rolled.state.phase).toBe("rolled-back");
    expect(rolled.state.rollback?.fence).toBe("switch");
    expect(await traffic.current()).toBe("blue");
    const stats = await writer.stop();
    // The pause made clients wait: every transaction committed or never started.
    expect(stats.failed).toBe(0);
    const onBlue = new Set((await (await blue.client()).query<{ uid: string }>(`SELECT uid FROM events`)).rows.map((r) => Number(r.uid)));
    expect(stats.committed.filter((u) => !onBlue.has(u))).toEqual([]);
    expect(onBlue.size).toBe(stats.committed.length);
    // Green is retired: the direct session was ended and a new login is refused, as blue's are
    // after a forward switch (before, green stayed open and such a client's commits were lost).
    await expect(direct.query("SELECT 1")).rejects.toThrow();
    expect(await loginError(app.green)).toEqual(expect.stringMatching(/permission denied for database/));
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });

  test("rollback after the switch returns traffic to blue with every write green took, and leaves nothing behind", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 10, 100);
    const app = await appRole(blue, green);
    const sw = fileTrafficSwitch(join(tempDir(), "side"), "blue");
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, traffic: sw, store, cutoverDeadlineMs: 20_000 };
    await runUpgrade(options);
    expect(sw.side()).toBe("green");
    // Past until, a run has nothing to do (it used to run the post-switch steps over and over).
    const staged = await runUpgrade(options, { until: "synchronized" });
    expect([staged.state.phase, staged.phases]).toEqual(["switched", []]);
    expect((await planUpgrade(options, { rollback: true })).steps).toEqual(["rollback"]);
    const writer = startWriter(app, sw.side);
    await new Promise((r) => setTimeout(r, 400));
    const rolled = await rollbackUpgrade(options);
    await new Promise((r) => setTimeout(r, 200));
    const stats = await writer.stop();
    expect(rolled.state.phase).toBe("rolled-back");
    expect(sw.side()).toBe("blue");
    expect(stats.bySide.green).toBeGreaterThan(0);
    expect(stats.bySide.blue).toBeGreaterThan(0);
    const b = await blue.client();
    const { rows } = await b.query<{ uid: string }>(`SELECT uid FROM events`);
    const onBlue = new Set(rows.map((r) => Number(r.uid)));
    expect(stats.committed.filter((u) => !onBlue.has(u))).toEqual([]);
    // Sequences came back with the data: blue continues after green's last id.
    const max = await b.query<{ n: string }>(`SELECT max(id)::text AS n FROM events`);
    const next = await b.query<{ id: string }>(`INSERT INTO events (uid, side) VALUES (-1, 'test') RETURNING id`);
    expect(Number(next.rows[0]!.id)).toBeGreaterThan(Number(max.rows[0]!.n));
    const acl = await b.query<{ ok: boolean }>(`SELECT has_database_privilege('public', current_database(), 'CONNECT') AS ok`);
    expect(acl.rows[0]!.ok).toBe(true);
    // Green stays closed to logins: a client that picked green before the switch back and connects
    // after it (in flight, or an address cached) would commit where nothing replicates any more.
    expect(await loginError(app.green)).toEqual(expect.stringMatching(/permission denied for database/));
    expect(await loginError(app.blue)).toBeNull();
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
    // A rolled-back upgrade does not start again; rolling back again has nothing to do.
    expect((await planUpgrade(options)).refusal).toMatchObject({ code: "UPGRADE_ENDED", phase: "rolled-back" });
    const again = await runUpgrade(options).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(UpgradeRefusedError);
    expect((again as UpgradeRefusedError).message).toMatch(/^upgrade run failed: the upgrade was rolled back \(last: rollback succeeded: .*\); it does not start again by itself/);
    expect((await rollbackUpgrade(options)).phases).toEqual([]);
    expect(store.current()!.phase).toBe("rolled-back");
  });

  test("abort while replicating leaves blue serving as before with no slot or publication", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 10, 100);
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, store };
    const r = await runUpgrade(options, { until: "synchronized" });
    expect(r.state.phase).toBe("synchronized");
    expect(await upgradeLeftovers(blue)).toEqual([`publication setpoint_upgrade_${r.state.id}`, "schema setpoint_upgrade", `slot setpoint_upgrade_${r.state.id}`]);
    const aborted = await rollbackUpgrade(options);
    expect(aborted.state.phase).toBe("aborted");
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
    const b = await blue.client();
    await b.query(`INSERT INTO events (uid, side) VALUES (1, 'blue')`);
  });
});

describe.runIf(pairs.length > 0)("upgrade guards", () => {
  const [from, to] = pairs[0]!;
  test("a switched upgrade follows green: the switch and the rollback subscription move to green as named now; a lost rollback slot (what a failover of green leaves) refuses the rollback and changes nothing", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 5, 50);
    const app = await appRole(blue, green);
    const sw = fileTrafficSwitch(join(tempDir(), "side"), "blue");
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, traffic: sw, store, cutoverDeadlineMs: 20_000 };

    // Before the switch there is nothing to follow.
    await runUpgrade(options, { until: "synchronized" });
    expect(await followUpgrade(options)).toEqual({ phase: "synchronized", traffic: "none", rollbackPath: "none" });
    expect(sw.side()).toBe("blue");

    const switched = await runUpgrade(options);
    expect(switched.state.phase).toBe("switched");
    const names = upgradeObjectNames(switched.state.id);
    expect(await followUpgrade(options)).toEqual({ phase: "switched", traffic: "unchanged", rollbackPath: "intact" });

    // The switch no longer leads to green (it was left on the former side): pointed at green again.
    await sw.pointTo("blue");
    expect(await followUpgrade(options)).toEqual({ phase: "switched", traffic: "moved", rollbackPath: "intact" });
    expect(sw.side()).toBe("green");

    // Green reached under another connection string: blue's rollback subscription is moved to it, and green's writes reach blue.
    const b = await blue.client();
    const g = await green.client();
    const conninfo = async (): Promise<string> => (await b.query<{ c: string }>("SELECT subconninfo AS c FROM pg_subscription WHERE subname = $1", [names.reverseSubscription])).rows[0]!.c;
    expect(await conninfo()).toBe(green.url);
    // On PostgreSQL 17 and later the rollback path's slot is a failover slot (ADR 0050): standbys that synchronize slots keep it.
    const slot = (await g.query<{ failover: boolean | null }>(`SELECT ${to >= 17 ? "failover" : "NULL::boolean AS failover"} FROM pg_replication_slots WHERE slot_name = $1`, [names.reverseSubscription])).rows;
    expect(slot).toEqual([{ failover: to >= 17 ? true : null }]);
    const moved = `${green.url}?application_name=${names.reverseSubscription}`;
    expect(await followUpgrade({ ...options, greenFromBlue: moved })).toEqual({ phase: "switched", traffic: "unchanged", rollbackPath: "reconnected" });
    expect(await conninfo()).toBe(moved);
    expect(await followUpgrade({ ...options, greenFromBlue: moved })).toEqual({ phase: "switched", traffic: "unchanged", rollbackPath: "intact" });
    const { rows } = await g.query<{ id: string }>("INSERT INTO orders (customer_id, total) VALUES (1, 7) RETURNING id");
    await eventually("green's write on blue", async () => ((await b.query("SELECT 1 FROM orders WHERE id = $1", [rows[0]!.id])).rowCount === 1 ? true : undefined), 20_000);

    // Green's primary without the rollback slot, as after a failover of green: detach and drop it.
    await b.query(`ALTER SUBSCRIPTION ${names.reverseSubscription} DISABLE`);
    await eventually("the slot released", async () => ((await g.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NULL", [names.reverseSubscription])).rowCount === 1 ? true : undefined), 20_000);
    await g.query("SELECT pg_drop_replication_slot($1)", [names.reverseSubscription]);
    await b.query(`ALTER SUBSCRIPTION ${names.reverseSubscription} ENABLE`);
    const followed = await followUpgrade({ ...options, greenFromBlue: moved });
    expect(followed).toMatchObject({ phase: "switched", traffic: "unchanged", rollbackPath: "lost" });
    expect((await b.query<{ on: boolean }>("SELECT subenabled AS on FROM pg_subscription WHERE subname = $1", [names.reverseSubscription])).rows).toEqual([{ on: false }]);
    expect(followed.lost).toMatch(new RegExp(`green's primary \\(127\\.0\\.0\\.1\\) has no replication slot ${names.reverseSubscription}.*nothing was changed and traffic stays on green`));

    const err = await rollbackUpgrade({ ...options, greenFromBlue: moved }).catch((e: unknown) => e as UpgradeError);
    expect(err).toMatchObject({ code: "UPGRADE_ROLLBACK_PATH_LOST" });
    expect((err as Error).message).toMatch(/Rolling back would lose the writes green took since/);
    // Nothing moved: traffic on green, green open to the application, blue still closed, no rollback recorded.
    expect(sw.side()).toBe("green");
    expect(await loginError(app.green)).toBeNull();
    expect(await loginError(app.blue)).not.toBeNull();
    expect(store.current()).toMatchObject({ phase: "switched", fences: [expect.objectContaining({ side: "blue" })] });
    expect(store.current()!.rollback).toBeUndefined();
    expect((await g.query("INSERT INTO orders (customer_id, total) VALUES (1, 8)")).rowCount).toBe(1);

    const fin = await finalizeUpgrade({ ...options, greenFromBlue: moved });
    expect(fin.state.phase).toBe("finalized");
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });


  test("a table and a column added on blue during replication reach green before the cutover (copied schema)", async () => {
    const { blue, green } = await bluegreen(from, to);
    const b = await blue.client();
    await seedApp(b, 5, 50);
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, store, cutoverDeadlineMs: 20_000 };
    await runUpgrade(options, { until: "synchronized" });
    await b.query(`CREATE TABLE audit (id bigserial PRIMARY KEY, note text NOT NULL)`);
    await b.query(`INSERT INTO audit (note) SELECT 'n' || g FROM generate_series(1, 100) g`);
    await b.query(`ALTER TABLE orders ADD COLUMN note text`);
    await b.query(`UPDATE orders SET note = 'x' WHERE id <= 10`);
    // The plan shows what the run will do: bring green up to date, then cut over.
    expect((await planUpgrade(options)).steps).toEqual(["schema", "cutover"]);
    const r = await runUpgrade(options);
    expect(r.state.phase).toBe("switched");
    expect(r.phases.map((p) => p.phase)).toEqual(["schema", "cutover"]);
    expect(r.cutover?.verification?.equal).toBe(true);
    const g = await green.client();
    expect((await g.query(`SELECT count(*)::int AS n FROM audit`)).rows[0].n).toBe(100);
    expect((await g.query(`SELECT count(*)::int AS n FROM orders WHERE note = 'x'`)).rows[0].n).toBe(10);
    await finalizeUpgrade(options);
  });

  test("a cutover that misses its deadline undoes itself: blue unfenced and still replicating, and the next run switches", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 5, 50);
    const app = await appRole(blue, green);
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, store };
    await runUpgrade(options, { until: "synchronized" });
    const err = await runUpgrade({ ...options, cutoverDeadlineMs: 1 }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("UPGRADE_CUTOVER_ABORTED");
    expect((err as Error).message).toMatch(/blue was unfenced and serves as before/);
    expect(store.current()!.phase).toBe("synchronized");
    expect(store.current()!.cutover).toBeUndefined();
    expect(store.current()!.fences).toEqual([]);
    // The application can log in and write on blue again, and the write still reaches green.
    const writer = startWriter(app, () => "blue");
    await new Promise((r) => setTimeout(r, 300));
    const stats = await writer.stop();
    expect(stats.failed).toBe(0);
    expect(stats.committed.length).toBeGreaterThan(0);
    const r = await runUpgrade(options);
    expect(r.state.phase).toBe("switched");
    const g = await green.client();
    const onGreen = new Set((await g.query<{ uid: string }>(`SELECT uid FROM events`)).rows.map((row) => Number(row.uid)));
    expect(stats.committed.filter((u) => !onGreen.has(u))).toEqual([]);
    await finalizeUpgrade(options);
  });

  test("with a schema definition, green gets the definition (extra index included) and the upgrade converges", async () => {
    const { blue, green } = await bluegreen(from, to);
    await seedApp(await blue.client(), 5, 50);
    const store = memoryStateStore();
    const schema = schemaFromSql(APP_SCHEMA + `CREATE INDEX orders_status ON orders (status);`);
    const r = await runUpgrade({ blue: blue.url, green: green.url, store, schema });
    expect(r.state.phase).toBe("switched");
    expect(r.phases.find((p) => p.phase === "schema")!.message).toMatch(/applied the schema definition/);
    expect(r.cutover?.verification?.equal).toBe(true);
    const g = await green.client();
    expect((await g.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'orders_status'`)).rowCount).toBe(1);
    await finalizeUpgrade({ blue: blue.url, green: green.url, store });
  });

  test("a schema definition missing a column blue has is refused before replication starts, naming the column", async () => {
    const { blue, green } = await bluegreen(from, to);
    const b = await blue.client();
    await b.query(`CREATE TABLE t (id bigint PRIMARY KEY, a text, b text)`);
    const store = memoryStateStore();
    const err = await runUpgrade({ blue: blue.url, green: green.url, store, schema: schemaFromSql(`CREATE TABLE t (id bigint PRIMARY KEY, a text);`) }).catch((e: unknown) => e);
    expect((err as { phase?: string }).phase).toBe("schema");
    expect((err as Error).message).toMatch(/column "b" of "public"."t" is missing on green/);
    expect((err as Error).message).toMatch(/Add them to the schema definition/);
    expect(store.current()!.phase).toBe("preflighted");
    // Every planned step has a result: those it never reached are NotStarted.
    expect((err as UpgradeError).results.map((r) => `${r.phase} ${r.status}`)).toEqual([
      "preflight Succeeded",
      "schema Failed",
      "replicate NotStarted",
      "synchronize NotStarted",
      "cutover NotStarted",
    ]);
    // The saved history keeps only what ran.
    expect(store.current()!.history.map((r) => `${r.phase} ${r.status}`)).toEqual(["preflight Succeeded", "schema Failed"]);
    expect(await upgradeLeftovers(blue)).toEqual([]);
    await rollbackUpgrade({ blue: blue.url, green: green.url, store });
    expect(await upgradeLeftovers(green)).toEqual([]);
  });

  test("green stalling past the WAL retention limit aborts the upgrade and drops its slots, so blue's disk cannot fill", async () => {
    const { blue, green } = await bluegreen(from, to);
    const b = await blue.client();
    await b.query(`CREATE TABLE a (id bigserial PRIMARY KEY, v text)`);
    await b.query(`INSERT INTO a (v) VALUES ('x')`);
    const store = memoryStateStore();
    const options = { blue: blue.url, green: green.url, store, maxRetainedWalBytes: 4 * 1024 * 1024, catchUpTimeoutMs: 60_000 };
    await runUpgrade(options, { until: "synchronized" });
    // Green stalls: a row written on green conflicts with blue's next insert, so the apply worker
    // fails and retries forever and the subscription's slot stops advancing while blue writes on.
    await (await green.client()).query(`INSERT INTO a (id, v) VALUES (1000000, 'conflict')`);
    await b.query(`INSERT INTO a (id, v) VALUES (1000000, 'blue')`);
    for (let i = 0; i < 20; i++) await b.query(`INSERT INTO a (v) SELECT repeat(md5(g::text), 8) FROM generate_series(1, 2000) g`);
    const err = await runUpgrade(options).catch((e: unknown) => e);
    expect((err as { phase?: string }).phase).toBe("cutover");
    expect((err as Error).message).toMatch(/retained \d+ bytes of WAL .*aborted and its slots dropped/);
    expect(store.current()!.phase).toBe("aborted");
    expect(await upgradeLeftovers(blue)).toEqual([]);
    expect(await upgradeLeftovers(green)).toEqual([]);
  });
});
