import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { inject, onTestFinished } from "vitest";
import { quoteIdent, quoteLiteral } from "../../sdk/postgres/quote";
import type { PostgresMajor } from "../../sdk/postgres/versions";

/** A server started once per test run by the global setup, shared by every test. */
export interface SharedServer {
  major: PostgresMajor;
  host: string;
  port: number;
  version: string;
}

/** A database created for one test and dropped when it finishes. */
export interface TestDatabase {
  major: PostgresMajor;
  name: string;
  url: string;
  server: SharedServer;
  /** A connected client, closed automatically when the test finishes. */
  client(): Promise<Client>;
}

/** The shared servers of this run, one per major (see SETPOINT_TEST_MAJORS). */
export function servers(): SharedServer[] {
  return inject("postgresServers");
}

/** The majors with a running server, for `describe.each`. */
export function majors(): PostgresMajor[] {
  return servers().map((s) => s.major);
}

/**
 * The majors for a file whose every case starts its own servers (the backup files: an object
 * store, a source, restores): the oldest and the newest of this run plus `middle` when it runs.
 * What the backup path does differently per major falls on the edges — PostgreSQL 14 is the only
 * one that takes the old BASE_BACKUP syntax (sdk/instance/basebackup.ts); the newest is where a
 * new release changes something — and the backup files name different middle majors, so every
 * major runs the backup path in some file. Five majors in each of these files were a quarter of the
 * integration tier's time (docs/ci-time.md, ADR 0048). `SETPOINT_TEST_EVERY_MAJOR=1` runs them
 * on every major of the run.
 */
export function edgeMajors(middle: PostgresMajor): PostgresMajor[] {
  const all = majors();
  if (process.env.SETPOINT_TEST_EVERY_MAJOR === "1" || all.length <= 2) return all;
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  return all.filter((m) => m === lo || m === hi || m === middle);
}

/** URL of `database` on a shared server, as the superuser. */
export function serverUrl(server: SharedServer, database = "postgres"): string {
  return `postgres://postgres@${server.host}:${server.port}/${database}`;
}

/** Runs `sql` as the superuser on the shared server of `major` (server-wide objects: roles). */
export async function runOnServer(major: number, sql: string): Promise<void> {
  const c = pgClient({ connectionString: serverUrl(servers().find((s) => s.major === major)!) });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Creates a fresh, empty database on the server of `major` for the current test; it is dropped
 * (with its connections terminated) when the test finishes.
 */
export async function freshDatabase(major: PostgresMajor): Promise<TestDatabase> {
  const server = servers().find((s) => s.major === major);
  if (!server) throw new Error(`no PostgreSQL ${major} server in this run; SETPOINT_TEST_MAJORS excludes it`);
  const name = `t_${randomBytes(6).toString("hex")}`;
  await adminQuery(server, `CREATE DATABASE ${quoteIdent(name)}`);
  const clients: Client[] = [];
  onTestFinished(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await dropReplicationObjects(server, name);
    await adminQuery(server, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
  const url = serverUrl(server, name);
  return {
    major,
    name,
    url,
    server,
    client: async () => {
      const c = pgClient({ connectionString: url });
      await c.connect();
      clients.push(c);
      return c;
    },
  };
}

/**
 * DROP DATABASE refuses a database with subscriptions or replication slots (a failed upgrade test
 * can leave both): detach and drop them first.
 */
async function dropReplicationObjects(server: SharedServer, database: string): Promise<void> {
  const c = pgClient({ connectionString: serverUrl(server, database) });
  try {
    await c.connect();
  } catch {
    return;
  }
  try {
    const subs = await c.query<{ name: string }>(`SELECT subname AS name FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    for (const { name } of subs.rows) {
      await c.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
      await c.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} SET (slot_name = NONE)`);
      await c.query(`DROP SUBSCRIPTION ${quoteIdent(name)}`);
    }
    for (let i = 0; i < 100; i++) {
      const { rows } = await c.query<{ slot: string; pid: number | null }>(`SELECT slot_name AS slot, active_pid AS pid FROM pg_replication_slots WHERE database = current_database()`);
      if (rows.length === 0) break;
      for (const r of rows) {
        if (r.pid !== null) await c.query(`SELECT pg_terminate_backend($1)`, [r.pid]);
        else await c.query(`SELECT pg_drop_replication_slot($1)`, [r.slot]).catch(() => undefined);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function adminQuery(server: SharedServer, sql: string): Promise<void> {
  const c = pgClient({ connectionString: serverUrl(server) });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A login role with a password that owns `public` of a test database. */
export interface PasswordRole {
  role: string;
  password: string;
  /** URL of the test database as this role (the password in it is real). */
  url: string;
  /** Drops the role; call it after the database is gone (it owns objects there until then). */
  drop(): Promise<void>;
}

/**
 * The shared servers trust local connections; a role with a password makes a secret real, so tests
 * can assert it never reaches logs or state.
 */
export async function createPasswordRole(db: TestDatabase): Promise<PasswordRole> {
  const role = `app_${randomBytes(4).toString("hex")}`;
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const admin = pgClient({ connectionString: serverUrl(db.server) });
  await admin.connect();
  await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)}`);
  await admin.query(`GRANT ALL ON DATABASE ${quoteIdent(db.name)} TO ${quoteIdent(role)}`);
  const c = await db.client();
  await c.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(role)}`);
  return {
    role,
    password,
    url: `postgres://${role}:${password}@${db.server.host}:${db.server.port}/${db.name}`,
    drop: async () => {
      try {
        await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
      } finally {
        await admin.end();
      }
    },
  };
}
