import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ApplyError, ConcurrentApplyError, APPLY_LOCK_KEY } from "../../sdk/schema/apply/apply";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors, serverUrl } from "../support/postgres";
import { engineOptions, expectConverges, runSql } from "../support/schema";

const work = mkdtempSync(join(tmpdir(), "setpoint-safety-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(majors())("apply safety on PostgreSQL %i", (major) => {
  it("gives up on a lock held by another session after bounded retries, naming the cause, and changes nothing", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int); CREATE TABLE other (id int);");
    const holder = await db.client();
    await holder.query("SET application_name = 'report-job'; BEGIN; LOCK TABLE t IN ACCESS SHARE MODE;");
    const holderPid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const desired = schemaFromSql("CREATE TABLE t (id int, note text); CREATE TABLE other (id int, extra int);");
    const started = Date.now();
    const err = await applySchema(db.url, desired, engineOptions(db, { lockTimeoutMs: 100, retryBaseDelayMs: 20 })).catch((e: unknown) => e);
    const waited = Date.now() - started;
    await holder.query("ROLLBACK");
    expect(err).toBeInstanceOf(ApplyError);
    const applyErr = err as ApplyError;
    expect(applyErr.message).toMatch(/lock not acquired within 100 ms after 6 attempts, \d+ ms in all with the waits between them/);
    // The blocker, as seen from a second connection while the step waited: pid, application, mode, query start.
    expect(applyErr.message).toMatch(
      new RegExp(`it wanted AccessExclusiveLock on t, blocked by pid ${holderPid} \\(application_name "report-job", user "[^"]+", holds AccessShareLock, idle in transaction, query started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)`),
    );
    expect(applyErr.lockWait?.blockers.map((b) => [b.pid, b.applicationName, b.modes, b.granted])).toEqual([[holderPid, "report-job", ["AccessShareLock"], true]]);
    // The real time: six lock waits of 100 ms at least, and no more than the call took.
    expect(applyErr.elapsedMs).toBeGreaterThanOrEqual(600);
    expect(applyErr.elapsedMs).toBeLessThanOrEqual(waited);
    expect(applyErr.message).toContain(`${applyErr.elapsedMs} ms in all`);
    expect(applyErr.message).toContain("its transaction was rolled back");
    expect(applyErr.results.map((r) => r.status).sort()).toEqual(["Failed", "NotStarted"]);
    // Both ADD COLUMNs were one transaction group: neither happened.
    const c = await db.client();
    const { rows } = await c.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name IN ('t', 'other')");
    expect(rows).toEqual([{ n: 2 }]);
    // Once the lock is gone the same apply converges.
    await applySchema(db.url, desired, engineOptions(db));
  });

  it("stops at once when its signal is aborted while a step waits on a lock: no retry, the group rolled back", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int); CREATE TABLE other (id int);");
    const holder = await db.client();
    await holder.query("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE;");
    const desired = schemaFromSql("CREATE TABLE t (id int, note text); CREATE TABLE other (id int, extra int);");
    const stop = new AbortController();
    // A lock timeout far longer than the test: only the abort can end the wait.
    const applying = applySchema(db.url, desired, { ...engineOptions(db, { lockTimeoutMs: 120_000 }), signal: stop.signal }).catch((e: unknown) => e);
    const watcher = await db.client();
    const waiting = async (): Promise<number> =>
      (await watcher.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0]!.n;
    for (let i = 0; i < 200 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await waiting()).toBe(1);
    stop.abort(new Error("operator shutting down"));
    const err = await applying;
    expect(err).toBeInstanceOf(ApplyError);
    const applyErr = err as ApplyError;
    expect(applyErr.message).toContain("canceling statement due to user request");
    expect(applyErr.message).toContain("its transaction was rolled back; 0 earlier step(s) are committed");
    expect(applyErr.results.every((r) => r.attempts <= 1)).toBe(true);
    expect(await waiting()).toBe(0);
    await holder.query("ROLLBACK");
    const { rows } = await watcher.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name IN ('t', 'other')");
    expect(rows).toEqual([{ n: 2 }]);
    // Aborted before it starts: nothing runs.
    const err2 = await applySchema(db.url, desired, { ...engineOptions(db), signal: stop.signal }).catch((e: unknown) => e);
    expect((err2 as ApplyError).message).toMatch(/^apply stopped before step 1 \(operator shutting down\); 0 earlier step\(s\) are committed/);
    expect((await watcher.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name IN ('t', 'other')")).rows).toEqual([{ n: 2 }]);
    await applySchema(db.url, desired, engineOptions(db));
  });

  it("names the failing step and statement of a transaction group sent in one query, and rolls the whole group back", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE a (id int); CREATE TABLE b (id int); INSERT INTO b VALUES (1), (1);");
    // Offline: both steps join one transaction group; the unique constraint fails on the duplicates.
    const desired = schemaFromSql("CREATE TABLE a (id int, note text); CREATE TABLE b (id int, CONSTRAINT b_id_key UNIQUE (id)); CREATE TABLE c (id int);");
    // Data probes off: this is about how apply reports a failure (the probes would refuse the plan first).
    const err = await applySchema(db.url, desired, engineOptions(db, { online: false, allowHazards: "all", dataProbes: false })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const applyErr = err as ApplyError;
    const failed = applyErr.results.find((r) => r.status === "Failed")!;
    expect(failed.kind).toBe("addConstraint");
    expect(failed.attempts).toBe(1);
    expect(applyErr.statement).toBe('ALTER TABLE "public"."b" ADD CONSTRAINT "b_id_key" UNIQUE (id)');
    expect(applyErr.message).toContain("could not create unique index");
    expect(applyErr.message).toContain("its transaction was rolled back; 0 earlier step(s) are committed");
    expect(applyErr.results.filter((r) => r.rolledBack).length).toBeGreaterThan(0);
    const c = await db.client();
    const { rows } = await c.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name IN ('a', 'c')");
    expect(rows).toEqual([{ n: 1 }]);
  });

  it("refuses to run while another apply holds the advisory lock", async () => {
    const db = await freshDatabase(major);
    const other = await db.client();
    await other.query(`SELECT pg_advisory_lock(${APPLY_LOCK_KEY})`);
    await expect(applySchema(db.url, schemaFromSql("CREATE TABLE t (id int);"), engineOptions(db))).rejects.toBeInstanceOf(ConcurrentApplyError);
    await other.query(`SELECT pg_advisory_unlock(${APPLY_LOCK_KEY})`);
  });

  it("leaves the database untouched or resumable when the applying process is killed mid-apply", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE big (id int, v text); INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 20000) g;");
    const schema = join(work, `kill-${major}.sql`);
    // The new table commits in its own group; then the index builds wait on another session's lock.
    const sql = "CREATE TABLE big (id int, v text); CREATE INDEX big_v ON big (v); CREATE INDEX big_id ON big (id); CREATE TABLE a_side (id int PRIMARY KEY);";
    writeFileSync(schema, sql);
    const holder = await db.client();
    await holder.query("BEGIN; LOCK TABLE big IN SHARE ROW EXCLUSIVE MODE;");
    const bin = resolve(__dirname, "../../bin/setpoint");
    const child = spawn(bin, ["schema", "apply", "--url", db.url, "--schema", schema, "--dev-url", serverUrl(db.server), "--yes", "--allow-hazards", "all", "--lock-timeout", "60000"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SETPOINT_CACHE_DIR: join(work, "cache") },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const c = await db.client();
    // Wait until the apply is blocked on our lock, then kill it outright.
    for (let i = 0; i < 200; i++) {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      if (rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    // The server notices the dead client (client_connection_check_interval) and ends its backend.
    let orphans = 1;
    for (let i = 0; i < 100 && orphans > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'setpoint'");
      orphans = rows[0].n;
    }
    expect(orphans).toBe(0);
    await holder.query("ROLLBACK");
    expect(stderr).toContain("[Succeeded] step 1 createTable"); // committed before the kill

    // What was left is a committed group and unbuilt indexes: a re-plan picks up exactly the rest.
    const resumed = await planSchema(db.url, schemaFromSql(sql), engineOptions(db));
    expect(resumed.plan.steps.map((s) => s.kind)).toEqual(["createIndex", "createIndex"]);
    await applySchema(db.url, schemaFromSql(sql), engineOptions(db, { allowHazards: "all" }));
    const after = await planSchema(db.url, schemaFromSql(sql), engineOptions(db));
    expect(after.plan.steps).toEqual([]);
    const { rows } = await c.query("SELECT count(*)::int AS n FROM big");
    expect(rows).toEqual([{ n: 20000 }]);
  });

  it("applies declared renames instead of dropping and re-creating", async () => {
    const desired = {
      ...schemaFromSql("CREATE TABLE customers (id int PRIMARY KEY, full_name text);"),
      renames: [
        { kind: "table" as const, schema: "public", from: "clients", to: "customers" },
        { kind: "column" as const, schema: "public", table: "customers", from: "name", to: "full_name" },
      ],
    };
    const { applied, db } = await expectConverges(major, "CREATE TABLE clients (id int PRIMARY KEY, name text); INSERT INTO clients VALUES (1, 'Ada');", desired);
    expect(applied.plan.steps.map((s) => s.sql[0])).toEqual([
      'ALTER TABLE "public"."clients" RENAME TO "customers"',
      'ALTER TABLE "public"."customers" RENAME COLUMN "name" TO "full_name"',
      'ALTER TABLE "public"."customers" RENAME CONSTRAINT "clients_pkey" TO "customers_pkey"',
      ...(major >= 18 ? ['ALTER TABLE "public"."customers" RENAME CONSTRAINT "clients_id_not_null" TO "customers_id_not_null"'] : []),
    ]);
    expect(applied.plan.steps.flatMap((s) => s.hazards)).toEqual([]);
    const c = await db.client();
    expect((await c.query("SELECT full_name FROM customers")).rows).toEqual([{ full_name: "Ada" }]);
  });

  it("reports objects it does not manage instead of dropping or ignoring them silently", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY); CREATE RULE quiet AS ON INSERT TO t DO INSTEAD NOTHING; GRANT SELECT ON SEQUENCE t_id_seq TO PUBLIC; CREATE FOREIGN DATA WRAPPER nowhere; CREATE SERVER elsewhere FOREIGN DATA WRAPPER nowhere; CREATE FOREIGN TABLE remote (id int) SERVER elsewhere;");
    const planned = await planSchema(db.url, schemaFromSql("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY);"), engineOptions(db));
    expect(planned.plan.steps).toEqual([]);
    expect(planned.plan.unmanaged.map((u) => `${u.kind} ${u.schema}.${u.name} ${u.side}`)).toEqual([
      "foreign table public.remote live",
      "privileges public.t_id_seq live",
      "rule public.t.quiet live",
    ]);
  });

  it("reports casts and event triggers (which belong to no schema: under their function's or type's schema) and operator classes, desired or live, and never creates or drops them", async () => {
    const db = await freshDatabase(major);
    const base = `CREATE TYPE money2 AS (amount numeric); CREATE FUNCTION m2t(money2) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT ($1).amount::text$$;
      CREATE FUNCTION quiet() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;`;
    const cast = "CREATE CAST (money2 AS text) WITH FUNCTION m2t(money2);";
    const trigger = "CREATE EVENT TRIGGER quiet_ddl ON ddl_command_end EXECUTE FUNCTION quiet();";
    const opclass = "CREATE OPERATOR CLASS money2_ops FOR TYPE money2 USING hash AS FUNCTION 1 hash_record(record);";
    await runSql(db, `${base} ${trigger}`);
    const planned = await planSchema(db.url, schemaFromSql(`${base} ${cast} ${opclass}`), engineOptions(db));
    expect(planned.plan.steps).toEqual([]);
    expect(planned.plan.unmanaged.map((u) => `${u.kind} ${u.schema}.${u.name} ${u.side}`)).toEqual([
      "cast public.(money2 AS text) desired",
      "event trigger public.quiet_ddl live",
      "operator class public.money2_ops USING hash desired",
      "operator family public.money2_ops USING hash desired",
    ]);
  });

  it("names a non-empty table when refusing to drop it", async () => {
    const db = await freshDatabase(major);
    await runSql(db, "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1); CREATE TABLE empty (id int);");
    const planned = await planSchema(db.url, schemaFromSql("SELECT 1;"), engineOptions(db, { schemas: ["public"] }));
    const messages = planned.plan.steps.flatMap((s) => s.hazards.map((h) => h.message));
    expect(messages).toContain("drops table public.empty (the table is empty)");
    expect(messages.find((m) => m.startsWith("drops table public.keep"))).toMatch(/holds data|rows/);
  });
});

describe.each(majors())("renames with owned sequences on PostgreSQL %i", (major) => {
  it("renames a serial column's sequence with its table, keeping the counter", async () => {
    const desired = {
      ...schemaFromSql("CREATE TABLE new_t (id serial PRIMARY KEY, v text);"),
      renames: [{ kind: "table" as const, schema: "public", from: "old_t", to: "new_t" }],
    };
    const { applied, db } = await expectConverges(major, "CREATE TABLE old_t (id serial PRIMARY KEY, v text); INSERT INTO old_t (v) VALUES ('a'), ('b');", desired);
    // PostgreSQL 18 catalogs the NOT NULL constraint too: its name follows the table's as well.
    const notNull = major >= 18 ? ["renameConstraint"] : [];
    expect(applied.plan.steps.map((s) => s.kind).sort()).toEqual(["renameConstraint", ...notNull, "renameSequence", "renameTable"]);
    const c = await db.client();
    const { rows } = await c.query("INSERT INTO new_t (v) VALUES ('c') RETURNING id");
    expect(rows).toEqual([{ id: 3 }]);
  });
});
