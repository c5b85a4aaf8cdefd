// Managed roles (sdk/roles) against real servers 14–18: created as declared, logins work with the
// password sent only as a SCRAM verifier (non-ASCII included), a second plan is empty, drift in
// attributes, memberships and the password is corrected, a rotated password replaces the old one,
// and a failing plan changes nothing.
import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { randomPassword, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { applyRoles, managedRolesSchema, planRoles, readRoles, RoleApplyError, type ManagedRoleInput } from "../../sdk/roles/index";
import { majors } from "../support/postgres";

describe.each(majors())("managed roles, PostgreSQL %i", (major) => {
  // Its own server with SCRAM authentication (the shared test servers trust loopback, where a
  // wrong password would get in and prove nothing).
  let pg: EmbeddedPostgres;
  beforeAll(async () => {
    pg = await startEmbeddedPostgres({ major, password: randomPassword() });
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });
  const suffix = randomBytes(4).toString("hex");
  const n = (base: string) => `${base}_${suffix}`;
  const cleanup: string[] = [];

  async function admin<T>(f: (c: Client) => Promise<T>): Promise<T> {
    const c = pgClient({ connectionString: pg.url() });
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end();
    }
  }

  async function converge(roles: ManagedRoleInput[], passwords: Record<string, string> = {}) {
    return admin(async (c) => {
      const plan = planRoles(managedRolesSchema.parse(roles), await readRoles(c), { reserved: ["postgres"], passwords: new Map(Object.entries(passwords)) });
      await applyRoles(c, plan);
      return plan;
    });
  }

  async function login(user: string, password: string): Promise<string> {
    const c = pgClient({ host: pg.host, port: pg.port, user, password, database: "postgres" });
    await c.connect();
    try {
      return (await c.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u;
    } finally {
      await c.end();
    }
  }

  afterEach(async () => {
    await admin(async (c) => {
      for (const r of cleanup.splice(0).reverse()) await c.query(`DROP ROLE IF EXISTS "${r}"`);
    });
  });

  it("converges, logs in with the verifier-set password, and corrects drift", async () => {
    const [user, group] = [n("svc"), n("readers")];
    cleanup.push(group, user);
    const password = `pä ss ${suffix}`;
    const declared: ManagedRoleInput[] = [
      { name: user, login: true, connectionLimit: 5, inRoles: [group], passwordSecret: { secretName: "svc-pw" }, comment: "the service", validUntil: "2099-01-01T00:00:00Z" },
      { name: group },
    ];
    const first = await converge(declared, { [user]: password });
    expect(first.steps.map((s) => s.kind)).toEqual(["create", "create", "comment", "grant"]);
    await expect(login(user, password)).resolves.toBe(user);
    expect((await converge(declared, { [user]: password })).steps).toEqual([]);

    // Drift made by hand: attributes, membership, password.
    await admin(async (c) => {
      await c.query(`ALTER ROLE "${user}" CONNECTION LIMIT 1 VALID UNTIL 'infinity'`);
      await c.query(`REVOKE "${group}" FROM "${user}"`);
      await c.query(`ALTER ROLE "${user}" PASSWORD 'changed by hand'`);
    });
    const repair = await converge(declared, { [user]: password });
    expect(repair.steps.map((s) => s.kind).sort()).toEqual(["alter", "grant", "password"]);
    await expect(login(user, password)).resolves.toBe(user);
    await expect(login(user, "changed by hand")).rejects.toThrow(/password authentication failed/);
    expect((await converge(declared, { [user]: password })).steps).toEqual([]);

    // Rotation: the Secret's new value replaces the old password.
    await converge(declared, { [user]: "rotated" });
    await expect(login(user, "rotated")).resolves.toBe(user);
    await expect(login(user, password)).rejects.toThrow(/password authentication failed/);
  });

  it("a failing plan changes nothing and names the step and the fix", async () => {
    const [owner, other] = [n("owner"), n("other")];
    cleanup.push(owner, other);
    await converge([{ name: owner }, { name: other }]);
    await admin((c) => c.query(`CREATE TABLE IF NOT EXISTS "owned_${suffix}" (id int); ALTER TABLE "owned_${suffix}" OWNER TO "${owner}"`));
    try {
      const failing = converge([{ name: owner, ensure: "absent" }, { name: other, login: true }]);
      await expect(failing).rejects.toBeInstanceOf(RoleApplyError);
      await expect(failing).rejects.toThrow(/DROP ROLE .*REASSIGN OWNED/);
      const after = await admin(readRoles);
      expect(after.find((r) => r.name === other)?.login).toBe(false);
      expect(after.some((r) => r.name === owner)).toBe(true);
    } finally {
      await admin((c) => c.query(`DROP TABLE "owned_${suffix}"`));
    }
  });

  it("reports roles it does not manage and never touches them", async () => {
    const stranger = n("stranger");
    cleanup.push(stranger);
    await admin((c) => c.query(`CREATE ROLE "${stranger}" LOGIN`));
    const plan = await converge([]);
    expect(plan.unmanaged).toContain(stranger);
    expect(plan.steps).toEqual([]);
  });
});
