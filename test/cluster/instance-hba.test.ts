// The pg_hba.conf Setpoint writes for its instances (sdk/instance/hba.ts), on a real server of
// every major, read the way an instance pod reads it (`-c hba_file=...`): the cluster's
// replication role may open replication connections with its password, nobody else may (the
// superuser included), and every TCP connection needs a SCRAM password.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { instanceHba } from "../../sdk/instance/hba";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientConfig } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, describe, expect, it } from "vitest";
import { REPLICATION_USER } from "../../sdk/operator/cluster/objects";
import { randomPassword, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { majors } from "../support/postgres";

const dir = mkdtempSync(join(tmpdir(), "setpoint-hba-test-"));
chmodSync(dir, 0o755); // the server runs as an unprivileged user and must read the file
const hbaFile = join(dir, "pg_hba.conf");
writeFileSync(hbaFile, instanceHba({ replicationUser: REPLICATION_USER }) /* the password variant: this server runs without TLS */, { mode: 0o644 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(majors())("instance pg_hba.conf on PostgreSQL %i", (major) => {
  let pg: EmbeddedPostgres | undefined;
  const superPassword = randomPassword();
  const replicationPassword = randomPassword();
  afterAll(async () => pg?.stop({ immediate: true }));

  const connect = async (config: ClientConfig & { replication?: string }): Promise<string> => {
    const c = pgClient({ host: pg!.host, port: pg!.port, database: "postgres", connectionTimeoutMillis: 5000, ...config } as ClientConfig);
    try {
      await c.connect();
      const r = await c.query<{ systemid?: string }>(config.replication ? "IDENTIFY_SYSTEM" : "select 1");
      return config.replication ? `streaming from system ${String(r.rows[0]?.systemid !== undefined)}` : "connected";
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  it("lets only the replication role replicate, and only with its password", async () => {
    pg = await startEmbeddedPostgres({ major, password: superPassword, parameters: { hba_file: hbaFile, max_wal_senders: 4 } });
    const admin = pgClient({ connectionString: pg.url() });
    await admin.connect();
    await admin.query(`CREATE ROLE ${REPLICATION_USER} LOGIN REPLICATION PASSWORD '${replicationPassword}'`);
    await admin.end();
    const physical = { replication: "true", database: "replication" };

    expect(await connect({ ...physical, user: REPLICATION_USER, password: replicationPassword })).toBe("streaming from system true");
    expect(await connect({ ...physical, user: REPLICATION_USER, password: "wrong" })).toMatch(/password authentication failed/);
    expect(await connect({ ...physical, user: "postgres", password: superPassword })).toMatch(/pg_hba\.conf rejects replication connection/);
    expect(await connect({ user: "postgres", password: superPassword })).toBe("connected");
    expect(await connect({ user: "postgres", password: "wrong" })).toMatch(/password authentication failed/);
    // SCRAM, not md5 or trust, over TCP: the file says so for every remaining connection.
    const rules = await (async () => {
      const c = pgClient({ connectionString: pg!.url() });
      await c.connect();
      try {
        return (await c.query<{ type: string; database: string[]; user_name: string[]; auth_method: string }>("select type, database, user_name, auth_method from pg_hba_file_rules order by line_number")).rows;
      } finally {
        await c.end();
      }
    })();
    expect(rules.filter((r) => r.type === "host").map((r) => r.auth_method)).toEqual(["scram-sha-256", "reject", "scram-sha-256"]);
  }, 60_000);
});
