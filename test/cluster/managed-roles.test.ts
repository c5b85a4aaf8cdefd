// Managed roles of a PostgresCluster (spec.roles, ADR 0032) through the cluster controller, on a
// real API server with the node harness running real PostgreSQL, one cluster per major (14–18, or
// SETPOINT_TEST_MAJORS):
// - roles are created as declared, the password from a Secret logs in over SCRAM; a role whose
//   Secret is missing is reported Failed (RoleSecretMissing, Degraded, an Event) until the Secret
//   appears, which the operator sees at once (it watches the Secrets spec.roles names);
// - drift made by hand (attributes, membership, password) is put back by the periodic reconcile;
//   an unchanged password is never re-set (the stored verifier, salt included, stays the same);
// - changing the Secret rotates the password: the new one logs in, the old one no longer does;
// - a role the spec does not name is reported (status and an Event) and left alone; only
//   `ensure: absent` drops a role;
// - no password, verifier secret part or password of the operator's own Secrets reaches the
//   operator's log, the cluster's status or any Event.
import { randomBytes } from "node:crypto";
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig } from "../support/cluster-tls";
import { describe, expect, it } from "vitest";
import type { RolesStatus } from "../../sdk/api/index";
import { verifierMatches } from "../../sdk/roles/index";
import { clusterToolchain, useCluster, type ClusterObject } from "../support/cluster";
import { eventually } from "../support/eventually";
import { majors } from "../support/postgres";

/** How long a wait in this file may take: the pod starts a real server, drift waits for the 30 s health requeue. */
const WAIT_MS = 120_000;
const ns = "roles";

describe.skipIf(clusterToolchain.skip !== undefined)("PostgresCluster managed roles", () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  describe.each(majors())("PostgreSQL %i", (major) => managedRoles(env, major));
});

function managedRoles(env: ReturnType<typeof useCluster>, major: number): void {
  const { lines, secretValue } = env;
  const name = `acme${major}`;
  const read = () => env.read(name);
  const svcSecret = `svc-pw-${major}`;
  const ghostSecret = `ghost-pw-${major}`;
  const passwords = { first: `pä ss-${randomBytes(9).toString("hex")}`, ghost: randomBytes(12).toString("base64"), rotated: randomBytes(12).toString("hex") };

  const writeSecret = async (name: string, password: string): Promise<void> => {
    const body = { metadata: { name, namespace: ns }, stringData: { password } };
    try {
      await env.core.createNamespacedSecret({ namespace: ns, body });
    } catch {
      await env.core.replaceNamespacedSecret({ name, namespace: ns, body });
    }
  };
  const primaryIp = () => env.podIp(`${name}-1`);
  const sql = async <T extends object>(text: string, params: unknown[] = []) => env.query<T>(name, await primaryIp(), text, params);
  const login = async (user: string, password: string): Promise<string> => {
    const c = pgClient(await clusterClientConfig(env.core, ns, name, { host: await primaryIp(), user, password }));
    await c.connect();
    try {
      return (await c.query<{ u: string }>("select current_user as u")).rows[0]!.u;
    } finally {
      await c.end();
    }
  };
  const outcome = (c: ClusterObject, name: string) => c.status?.roles?.managed?.find((r) => r.name === name);
  const rolesWhen = (what: string, ok: (r: RolesStatus, c: ClusterObject) => boolean) =>
    eventually(what, async () => {
      const c = await read();
      return c.status?.roles && ok(c.status.roles, c) ? c : undefined;
    }, WAIT_MS).catch((err: unknown) => {
      throw new Error(`${String(err)}\noperator log:\n${lines.slice(-30).join("\n")}`);
    });
  const role = async (name: string) =>
    (
      await sql<{ connlimit: number; login: boolean; verifier: string | null; member_of: string[]; comment: string | null }>(
        `select rolconnlimit as connlimit, rolcanlogin as login, rolpassword as verifier,
                array(select p.rolname::text from pg_auth_members m join pg_authid p on p.oid = m.roleid where m.member = a.oid order by 1) as member_of,
                shobj_description(a.oid, 'pg_authid') as comment
           from pg_authid a where rolname = $1`,
        [name],
      )
    )[0];
  const events = async () => (await env.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.involvedObject.name === name);

  it("creates the declared roles, logs in with the Secret's password, and reports a missing Secret until it appears", async () => {
    await writeSecret(svcSecret, passwords.first);
    await env.create(name, {
      postgresVersion: major,
      instances: 1,
      roles: [
        { name: "svc", login: true, connectionLimit: 5, inRoles: ["readers", "pg_read_all_data"], passwordSecret: { secretName: svcSecret }, validUntil: "2099-01-01T00:00:00Z" },
        { name: "readers", comment: "read-only group" },
        { name: "ghost", login: true, passwordSecret: { secretName: ghostSecret, key: "password" } },
      ],
    });
    // Ready is part of the wait: the reconcile that first reports the roles may still see the new
    // instance settling (a status written before Ready is True); a missing role Secret must not keep it False.
    const c = await rolesWhen(
      "svc and readers present, ghost waiting for its Secret, the cluster Ready",
      (r, obj) =>
        ["svc", "readers"].every((n) => r.managed?.some((m) => m.name === n && (m.outcome === "Created" || m.outcome === "Unchanged"))) &&
        obj.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True") === true,
    );
    expect(outcome(c, "ghost")).toMatchObject({ outcome: "Failed", reason: "RoleSecretMissing" });
    expect(outcome(c, "ghost")?.message).toMatch(new RegExp(`Secret "${ghostSecret}" not found .*create it`));
    expect(c.status?.conditions?.find((x) => x.type === "Ready")).toMatchObject({ status: "True" });
    expect(c.status?.conditions?.find((x) => x.type === "Degraded")).toMatchObject({ status: "True", reason: "RoleSecretMissing" });
    expect((await events()).some((e) => e.reason === "RoleSecretMissing" && e.type === "Warning")).toBe(true);

    await expect(login("svc", passwords.first)).resolves.toBe("svc");
    await expect(login("svc", "not the password")).rejects.toThrow(/password authentication failed/);
    expect(await role("svc")).toMatchObject({ connlimit: 5, login: true, member_of: ["pg_read_all_data", "readers"] });
    expect(await role("readers")).toMatchObject({ login: false, comment: "read-only group" });
    // ghost exists with everything but its password, which waits for the Secret.
    expect(await role("ghost")).toMatchObject({ login: true, verifier: null });

    await writeSecret(ghostSecret, passwords.ghost);
    const fixed = await rolesWhen("ghost's password set once its Secret exists", (r) => r.managed?.find((m) => m.name === "ghost")?.outcome !== "Failed");
    expect(fixed.status?.conditions?.find((x) => x.type === "Degraded")).toMatchObject({ status: "False" });
    await expect(login("ghost", passwords.ghost)).resolves.toBe("ghost");
  });

  it("puts back a role altered by hand and never re-sets an unchanged password", async () => {
    const verifier = (await role("svc"))!.verifier;
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    // One transaction, so that no reconcile sees half of the drift.
    await sql(`alter role svc connection limit 1 nologin; revoke readers from svc; alter role svc password 'changed by hand'`);
    await eventually("svc put back", async () => {
      const r = await role("svc");
      return r?.connlimit === 5 && r.login && r.member_of.includes("readers") && verifierMatches(r.verifier, passwords.first) ? r : undefined;
    }, WAIT_MS);
    await expect(login("svc", passwords.first)).resolves.toBe("svc");
    await expect(login("svc", "changed by hand")).rejects.toThrow(/password authentication failed/);

    // Converged: another reconcile (a spec change) keeps the stored verifier, salt and all.
    const settledVerifier = (await role("svc"))!.verifier;
    await sql(`create role legacy login`);
    await env.patch(name, [{ op: "replace", path: "/spec/roles/1/comment", value: "readers of everything" }]);
    const c = await rolesWhen("comment applied and legacy reported", (r, x) => x.status?.observedGeneration === 2 && (r.unmanaged ?? []).includes("legacy"));
    expect(outcome(c, "readers")?.outcome).toMatch(/^(Updated|Unchanged)$/);
    expect((await role("readers"))?.comment).toBe("readers of everything");
    expect((await role("svc"))!.verifier).toBe(settledVerifier);
    expect(c.status?.roles?.unmanaged).toEqual(["legacy"]);
    expect((await events()).some((e) => e.reason === "UnmanagedRoles" && e.message?.includes("legacy"))).toBe(true);
  });

  it("rotates the password when its Secret changes, and drops only a role declared absent", async () => {
    const before = (await role("svc"))!.verifier;
    await writeSecret(svcSecret, passwords.rotated);
    await eventually("rotated password accepted", async () => (await login("svc", passwords.rotated).catch(() => undefined)) === "svc", WAIT_MS);
    await expect(login("svc", passwords.first)).rejects.toThrow(/password authentication failed/);
    expect((await role("svc"))!.verifier).not.toBe(before);

    await env.patch(name, [{ op: "replace", path: "/spec/roles/2", value: { name: "ghost", ensure: "absent" } }]);
    const c = await rolesWhen("ghost dropped", (r) => /^(Dropped|Absent)$/.test(r.managed?.find((m) => m.name === "ghost")?.outcome ?? ""));
    expect(await role("ghost")).toBeUndefined();
    expect(await role("legacy")).toBeDefined();
    expect(c.status?.roles?.unmanaged).toEqual(["legacy"]);
  });

  it("never lets a password, a verifier's keys or the operator's own secrets reach its log, the status or an Event", async () => {
    const verifier = (await role("svc"))!.verifier!;
    const [, , keys] = verifier.split("$");
    const [storedKey, serverKey] = keys!.split(":");
    const secrets = [
      ...Object.values(passwords),
      storedKey!,
      serverKey!,
      await secretValue(`${name}-superuser`, "password"),
      await secretValue(`${name}-app`, "password"),
      await secretValue(`${name}-replication`, "password"),
    ];
    const haystacks = {
      "operator log": lines.join("\n"),
      status: JSON.stringify((await read()).status),
      events: JSON.stringify((await events()).map((e) => [e.reason, e.message])),
    };
    expect(lines.some((l) => l.includes("step roles"))).toBe(true); // the applied statements are logged, as displayed
    for (const [where, text] of Object.entries(haystacks)) for (const s of secrets) expect(text.includes(s), `a secret in the ${where}`).toBe(false);
  });
}
