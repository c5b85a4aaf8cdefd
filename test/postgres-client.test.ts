// pgClient (sdk/postgres/client.ts) against real servers: what node-postgres does when the server
// ends an idle session (a failover, a shutdown, pg_terminate_backend), and that a client made by
// pgClient survives it. A CI run lost a test file to exactly this: a client without an 'error'
// listener, idle while its server died, became an uncaught exception.
import { describe, expect, it } from "vitest";
import { pgClient } from "../sdk/postgres/client";
import { eventually } from "./support/eventually";
import { freshDatabase, majors } from "./support/postgres";

describe.each(majors())("pgClient on PostgreSQL %i", (major) => {
  it("an idle session ended by the server arrives as the client's 'error' event (57P01), not an uncaught exception; its next query rejects", async () => {
    const db = await freshDatabase(major);
    const c = pgClient({ connectionString: db.url });
    // pgClient's own listener: the reason a process survives what follows.
    expect(c.listenerCount("error")).toBe(1);
    await c.connect();
    const ended: string[] = [];
    c.on("end", () => ended.push("end"));
    const pid = (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
    const admin = await db.client();
    expect((await admin.query<{ ok: boolean }>("select pg_terminate_backend($1) as ok", [pid])).rows[0]!.ok).toBe(true);
    await eventually("the terminated session's socket closed", async () => (ended.length > 0 ? true : undefined), 10_000);
    await expect(c.query("select 1")).rejects.toThrow(/not queryable|Connection terminated|closed/i);
    await c.end().catch(() => undefined);
  });

  it("reports the server's error to the client's own listener too, with the server's SQLSTATE", async () => {
    const db = await freshDatabase(major);
    const c = pgClient({ connectionString: db.url });
    const errors: { code?: string }[] = [];
    c.on("error", (e) => errors.push(e as { code?: string }));
    await c.connect();
    const pid = (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
    const admin = await db.client();
    await admin.query("select pg_terminate_backend($1)", [pid]);
    const first = await eventually("the error event", async () => errors[0], 10_000);
    expect(first.code).toBe("57P01");
    await c.end().catch(() => undefined);
  });
});
