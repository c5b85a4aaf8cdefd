// The PgBouncer traffic switch against a real PgBouncer and two real PostgreSQL servers (blue on
// 16, green on 17 when the run has both; otherwise two databases of one server).
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { describe, expect, inject, it, onTestFailed, onTestFinished } from "vitest";
import { pgbouncerSwitch, type PgBouncerSwitchOptions } from "../../sdk/upgrade/pgbouncer";
import { TrafficSwitchError } from "../../sdk/upgrade/traffic-error";
import type { TrafficSwitch } from "../../sdk/upgrade/traffic";
import { bindToTest, databasesSection, startPgBouncer, type PgBouncer } from "../support/pgbouncer";
import { freshDatabase, majors, type TestDatabase } from "../support/postgres";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { eventually } from "../support/eventually";

const available = majors();
const [BLUE_MAJOR, GREEN_MAJOR]: [PostgresMajor, PostgresMajor] =
  available.includes(16) && available.includes(17) ? [16, 17] : [available[0]!, available[1] ?? available[0]!];

interface Rig {
  blue: TestDatabase;
  green: TestDatabase;
  bouncer: PgBouncer;
  options: PgBouncerSwitchOptions;
  /** A new switch over the same PgBouncer, closed when the test ends. */
  makeSwitch(overrides?: Partial<PgBouncerSwitchOptions>): TrafficSwitch;
  /** A client connected through PgBouncer to `app`, closed when the test ends. */
  client(): Promise<Client>;
  /** Which side the client's next transaction runs on. */
  sideOf(c: Client): Promise<"blue" | "green">;
  /** One column of `SHOW DATABASES` / `SHOW POOLS` for `app`, read on a separate admin connection. */
  admin(sql: "SHOW DATABASES" | "SHOW POOLS"): Promise<Record<string, unknown>>;
  /** A secret in green's target (the servers trust local logins, so any password works). */
  greenPassword: string;
}

async function rig(): Promise<Rig> {
  const blue = await freshDatabase(BLUE_MAJOR);
  const green = await freshDatabase(GREEN_MAJOR);
  const greenPassword = `green-${randomBytes(9).toString("hex")}`;
  // Written by hand, formatted unlike the switch's own file: current() must read PgBouncer, not text.
  const bouncer = bindToTest(await startPgBouncer({ databases: { app: `host=127.0.0.1 port=${blue.server.port} dbname=${blue.name} user=postgres` } }), { onTestFinished, onTestFailed });
  const options: PgBouncerSwitchOptions = {
    admin: bouncer.adminUrl,
    databasesFile: bouncer.databasesFile,
    databases: [
      {
        name: "app",
        blue: `postgres://postgres@127.0.0.1:${blue.server.port}/${blue.name}`,
        green: { host: "127.0.0.1", port: green.server.port, database: green.name, user: "postgres", password: greenPassword },
      },
    ],
  };
  const clients: Client[] = [];
  const admins: Client[] = [];
  onTestFinished(async () => {
    await Promise.all([...clients, ...admins].map((c) => c.end().catch(() => undefined)));
  });
  let adminClient: Client | undefined;
  return {
    blue,
    green,
    bouncer,
    options,
    greenPassword,
    makeSwitch: (overrides = {}) => {
      const sw = pgbouncerSwitch({ ...options, ...overrides });
      onTestFinished(() => sw.close());
      return sw;
    },
    client: async () => {
      const c = pgClient({ connectionString: bouncer.url("app") });
      await c.connect();
      clients.push(c);
      return c;
    },
    sideOf: async (c) => {
      const db = (await c.query<{ db: string }>("SELECT current_database() AS db")).rows[0]!.db;
      if (db === blue.name) return "blue";
      if (db === green.name) return "green";
      throw new Error(`client landed on an unexpected database ${db}`);
    },
    admin: async (sql) => {
      if (!adminClient) {
        adminClient = pgClient({ connectionString: bouncer.adminUrl });
        await adminClient.connect();
        admins.push(adminClient);
      }
      const rows = (await adminClient.query<Record<string, unknown>>(sql)).rows;
      return rows.find((r) => (r.name ?? r.database) === "app") ?? {};
    },
  };
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs`. */
/** Whether `p` is still pending (it has had `ms` to settle). */
async function stillPending(p: Promise<unknown>, ms = 200): Promise<boolean> {
  const marker = Symbol("pending");
  return (await Promise.race([p.then(() => undefined, () => undefined), sleep(ms).then(() => marker)])) === marker;
}

// Skipped, with the one-line reason global setup printed, only where PgBouncer cannot be installed.
describe.skipIf(inject("pgbouncerMissing") !== null)("PgBouncer traffic switch", () => {
  it("moves connected clients from blue to green across pause, pointTo and resume, without an error", async () => {
    const r = await rig();
    const sw = r.makeSwitch();
    expect(sw.canPause).toBe(true);
    expect(await sw.current()).toBe("blue");
    const clients = await Promise.all([r.client(), r.client(), r.client()]);
    for (const c of clients) expect(await r.sideOf(c)).toBe("blue");

    await sw.pause({ timeoutMs: 30_000 });
    expect(Number((await r.admin("SHOW DATABASES")).paused)).toBe(1);
    await sw.pointTo("green");
    expect(await sw.current()).toBe("green");
    await sw.resume();

    expect(Number((await r.admin("SHOW DATABASES")).paused)).toBe(0);
    for (const c of clients) expect(await r.sideOf(c)).toBe("green");
    // The forced user of green's target is the one PgBouncer logs in as.
    expect((await clients[0]!.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u).toBe("postgres");
    // No server connection to blue survives the switch.
    const blueSessions = await (await r.blue.client()).query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    expect(blueSessions.rows[0].n).toBe(0);
    expect(r.bouncer.logTail(1000)).not.toContain(r.greenPassword);
  });

  it("holds a transaction started while paused, then runs it on green after resume", async () => {
    const r = await rig();
    const sw = r.makeSwitch();
    const c = await r.client();
    expect(await r.sideOf(c)).toBe("blue");
    await sw.pause({ timeoutMs: 30_000 });

    const held = r.sideOf(c);
    await eventually("the client waits in PgBouncer", async () => Number((await r.admin("SHOW POOLS")).cl_waiting) === 1);
    expect(await stillPending(held)).toBe(true);

    await sw.pointTo("green");
    expect(await stillPending(held)).toBe(true);
    await sw.resume();
    expect(await held).toBe("green");
  });

  it("gives up a pause when a transaction stays open past the timeout, and leaves traffic flowing", async () => {
    const r = await rig();
    const sw = r.makeSwitch();
    const long = await r.client();
    await long.query("BEGIN");
    expect(await r.sideOf(long)).toBe("blue");

    const err = await sw.pause({ timeoutMs: 500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrafficSwitchError);
    expect(err).toMatchObject({ reason: "pause-timeout", operation: "pause", switchKind: "pgbouncer", object: "app" });
    expect((err as Error).message).toMatch(/did not finish within 500 ms \(server connections still in a transaction: app: 1\); traffic was resumed/);
    expect((err as Error).message).not.toContain(r.bouncer.adminPassword);

    expect(Number((await r.admin("SHOW DATABASES")).paused)).toBe(0);
    const other = await r.client();
    expect(await r.sideOf(other)).toBe("blue"); // not held
    await long.query("COMMIT");
    // The abandoned PAUSE does not come back once the long transaction ends.
    expect(await r.sideOf(long)).toBe("blue");
    expect(Number((await r.admin("SHOW DATABASES")).paused)).toBe(0);
    // And a pause now succeeds.
    await sw.pause({ timeoutMs: 30_000 });
    await sw.resume();
  });

  it("reads the side from PgBouncer itself: a fresh switch after a crash, and a file edited without RELOAD", async () => {
    const r = await rig();
    const first = r.makeSwitch();
    await first.pause({ timeoutMs: 30_000 });
    await first.pointTo("green");
    await first.close(); // the process "crashes" while paused, after the switch

    const second = r.makeSwitch();
    expect(await second.current()).toBe("green");
    await second.resume();
    expect(await r.sideOf(await r.client())).toBe("green");

    // A file that says blue but was never reloaded does not move traffic, and current() says so.
    writeFileSync(r.bouncer.databasesFile, databasesSection({ app: `host=127.0.0.1 port=${r.blue.server.port} dbname=${r.blue.name} user=postgres` }));
    expect(await r.makeSwitch().current()).toBe("green");
  });

  it("makes every operation idempotent: pause twice, pointTo the same side twice, resume when not paused", async () => {
    const r = await rig();
    const sw = r.makeSwitch();
    const c = await r.client();
    await sw.resume(); // never paused
    await sw.pause({ timeoutMs: 30_000 });
    await sw.pause({ timeoutMs: 30_000 });
    await sw.pointTo("green");
    await sw.pointTo("green");
    expect(await sw.current()).toBe("green");
    await sw.resume();
    await sw.resume();
    expect(await r.sideOf(c)).toBe("green");
    await sw.pointTo("blue"); // back, without a pause (rollback)
    await sw.pointTo("blue");
    expect(await sw.current()).toBe("blue");
    expect(await r.sideOf(c)).toBe("blue");
  });

  it("without a pause, a transaction open on blue finishes there and the next one runs on green (RELOAD closes blue's connections)", async () => {
    const r = await rig();
    const sw = r.makeSwitch();
    const c = await r.client();
    await c.query("BEGIN");
    expect(await r.sideOf(c)).toBe("blue");
    await sw.pointTo("green");
    expect(await r.sideOf(c)).toBe("blue"); // same transaction, same server connection
    await c.query("COMMIT");
    expect(await r.sideOf(c)).toBe("green");
    await eventually("PgBouncer closes its connection to blue", async () => {
      const n = (await (await r.blue.client()).query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).rows[0].n;
      return n === 0;
    });
  });

  it("fails with not-applied when PgBouncer does not read the file the switch writes", async () => {
    const r = await rig();
    const sw = r.makeSwitch({ databasesFile: `${r.bouncer.databasesFile}.elsewhere` });
    const err = await sw.pointTo("green").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ reason: "not-applied", side: "green" });
    expect((err as Error).message).toMatch(/still points at postgres@127\.0\.0\.1:\d+\/t_\w+ instead of postgres@127\.0\.0\.1:\d+\/t_\w+/);
    expect((err as Error).message).not.toContain(r.greenPassword);
    expect(await sw.current()).toBe("blue");
  });

  it("names a missing database and an unreachable admin console without revealing passwords", async () => {
    const r = await rig();
    const missing = r.makeSwitch({ databases: [{ ...r.options.databases[0]!, name: "nosuch" }] });
    await expect(missing.current()).rejects.toMatchObject({ reason: "not-found", message: expect.stringMatching(/PgBouncer has no database nosuch; does its configuration %include/) });
    await expect(missing.pause({ timeoutMs: 1000 })).rejects.toMatchObject({ reason: "not-found" });

    const wrongPassword = `wrong-${randomBytes(6).toString("hex")}`;
    const denied = r.makeSwitch({ admin: r.bouncer.adminUrl.replace(encodeURIComponent(r.bouncer.adminPassword), wrongPassword) });
    const err = await denied.current().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ reason: "unavailable", operation: "current" });
    expect((err as Error).message).toMatch(/cannot reach PgBouncer's admin console/);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(wrongPassword);
    expect(String((err as Error).cause)).not.toContain(wrongPassword);
  });
});
