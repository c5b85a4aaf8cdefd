// Why the operator sends a PgBouncer RELOAD only when it has something to load (ADR 0022, amended
// for TLS): a fact of the pooler image's PgBouncer (Debian bookworm's 1.18) against a real
// PostgreSQL. With `server_tls_sslmode` set to anything but `disable` (the operator sets
// verify-ca; `prefer` here, as the test servers have no TLS — the RELOAD behaves the same), every
// RELOAD recycles all server connections and drops a server login in progress; the pool then
// counts its last login as failed, and a client's query that finds no server connection is refused
// with "server login has been failing" — right after a RESUME, every query. Without server TLS the
// same RELOAD drops nothing.
// A server login is held in progress by the database's `connect_query` (pg_sleep), once enabled.
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { describe, expect, inject, it, onTestFailed, onTestFinished } from "vitest";
import { bindToTest, startPgBouncer } from "../support/pgbouncer";
import { freshDatabase, majors } from "../support/postgres";

describe.skipIf(inject("pgbouncerMissing") !== null)("PgBouncer RELOAD while a server login is in progress", () => {
  const major = majors().at(-1)!;

  it.each([
    ["prefer", "refuses a client's query: server login has been failing"],
    ["disable", "drops nothing: the client's query waits for the login and runs"],
  ] as const)("server_tls_sslmode = %s: %s", async (sslmode, _outcome) => {
    const db = await freshDatabase(major);
    const entry = `host=127.0.0.1 port=${db.server.port} dbname=${db.name} user=postgres`;
    const bouncer = bindToTest(await startPgBouncer({ databases: { app: entry }, settings: { server_tls_sslmode: sslmode, server_login_retry: 1 } }), { onTestFinished, onTestFailed });
    const connect = async (url: string): Promise<Client> => {
      const c = pgClient({ connectionString: url, query_timeout: 20_000 });
      await c.connect();
      onTestFinished(() => c.end().catch(() => undefined));
      return c;
    };
    const admin = await connect(bouncer.adminUrl);
    const a = await connect(bouncer.url("app"));
    const b = await connect(bouncer.url("app"));
    await a.query("select 1");
    // Every new server connection now stays in its login for 3 s (the file is read at the RELOAD; the
    // connect string changes, so the existing connections are recycled in both modes).
    writeFileSync(bouncer.databasesFile, `[databases]\napp = ${entry} connect_query='select pg_sleep(3)'\n`);
    await admin.query("RELOAD");
    // PAUSE closes the idle server connections (1.18); RESUME leaves the pool empty, as after a switchover.
    await admin.query("PAUSE");
    await admin.query("RESUME");
    const aQuery = a.query("select 1 as one").then(
      () => "ok",
      (e: Error) => e.message,
    );
    await sleep(500); // a's server login is in progress (post_auth_delay)
    await admin.query("RELOAD");
    const bResult = await b.query("select 1 as one").then(
      () => "ok",
      (e: Error) => e.message,
    );
    // PgBouncer's log after that RELOAD: whether it dropped the login in progress.
    const log = bouncer.logTail(200);
    const afterReload = log.slice(log.lastIndexOf("RELOAD command issued"));
    if (sslmode === "prefer") {
      expect(bResult).toMatch(/server login has been failing, try again later \(server_login_retry\)/);
      expect(afterReload).toMatch(/closing because: connect string changed/);
    } else {
      expect(bResult).toBe("ok");
      expect(afterReload).not.toMatch(/connect string changed/);
    }
    expect(await aQuery).toBe("ok"); // a waits in either case
  }, 60_000);
});
