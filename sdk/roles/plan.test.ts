import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { planRoles, type ObservedRole } from "./plan";
import { scramVerifier, saslPrep, verifierMatches } from "./scram";
import { managedRolesSchema, RESERVED_ROLES, type ManagedRoleInput } from "./spec";

const parse = (roles: ManagedRoleInput[]) => managedRolesSchema.parse(roles);
const observed = (name: string, extra: Partial<ObservedRole> = {}): ObservedRole => ({
  name,
  superuser: false,
  inherit: true,
  createrole: false,
  createdb: false,
  login: false,
  replication: false,
  bypassrls: false,
  connectionLimit: -1,
  validUntil: Infinity,
  verifier: null,
  memberOf: [],
  comment: null,
  ...extra,
});
const options = (passwords: Record<string, string> = {}) => ({ reserved: ["postgres", "streaming_replica", "app"], passwords: new Map(Object.entries(passwords)) });

describe("planRoles", () => {
  it("creates before granting, so a membership may name a role created in the same plan, and never shows a password", () => {
    const plan = planRoles(parse([{ name: "reader", login: true, inRoles: ["readers"], passwordSecret: { secretName: "reader-pw" } }, { name: "readers" }]), [], options({ reader: "s3cret" }));
    expect(plan.steps.map((s) => s.display)).toEqual([
      `CREATE ROLE "reader" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 PASSWORD '<from Secret>'`,
      `CREATE ROLE "readers" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOLOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1`,
      `GRANT "readers" TO "reader"`,
    ]);
    expect(plan.steps.every((s) => !s.display.includes("s3cret") && !s.sql.includes("s3cret"))).toBe(true);
    expect(plan.steps[0]!.sql).toMatch(/PASSWORD 'SCRAM-SHA-256\$4096:/);
  });

  it("changes only what differs, keeps a matching password, revokes undeclared memberships, reports unmanaged roles", () => {
    const verifier = scramVerifier("same");
    const plan = planRoles(
      parse([{ name: "svc", login: true, connectionLimit: 5, passwordSecret: { secretName: "svc" }, validUntil: "2030-01-01T00:00:00Z", comment: "service" }]),
      [observed("svc", { login: true, verifier, memberOf: ["old_group"], comment: "service" }), observed("legacy"), observed("pg_monitor"), observed("postgres", { superuser: true })],
      options({ svc: "same" }),
    );
    expect(plan.steps.map((s) => s.display)).toEqual([`ALTER ROLE "svc" WITH CONNECTION LIMIT 5 VALID UNTIL '2030-01-01T00:00:00.000Z'`, `REVOKE "old_group" FROM "svc"`]);
    expect(plan.unmanaged).toEqual(["legacy"]);
  });

  it("re-sets a drifted password, clears one when disabled, drops only what is declared absent", () => {
    const plan = planRoles(
      parse([{ name: "a", passwordSecret: { secretName: "a" } }, { name: "b", disablePassword: true }, { name: "c", ensure: "absent" }, { name: "d", ensure: "absent" }]),
      [observed("a", { verifier: scramVerifier("old") }), observed("b", { verifier: scramVerifier("x") }), observed("c")],
      options({ a: "new" }),
    );
    expect(plan.steps.map((s) => `${s.kind} ${s.role}`)).toEqual(["password a", "password b", "drop c"]);
    expect(plan.steps[1]!.sql).toBe(`ALTER ROLE "b" PASSWORD NULL`);
  });

  it("refuses reserved roles, unknown memberships, a membership in a dropped role and a missing password", () => {
    expect(() => planRoles(parse([{ name: "app" }]), [], options())).toThrow(/managed by the operator/);
    expect(() => planRoles(parse([{ name: "x", inRoles: ["nobody_here"] }]), [], options())).toThrow(InputError);
    expect(() => planRoles(parse([{ name: "x", inRoles: ["g"] }, { name: "g", ensure: "absent" }]), [observed("g")], options())).toThrow(/not declared present/);
    expect(() => planRoles(parse([{ name: "x", passwordSecret: { secretName: "s" } }]), [], options())).toThrow(/Secret "s"/);
  });

  it("validates the declaration, refusing the operator's roles, superuser and replication with the fix named", () => {
    expect(() => parse([{ name: "pg_x" }])).toThrow(/may not start with pg_.*choose another name/);
    for (const name of RESERVED_ROLES) expect(() => parse([{ name }])).toThrow(/operator manages its superuser.*choose another name/);
    expect(() => parse([{ name: "boss", superuser: true }])).toThrow(/superuser roles are refused.*remove superuser/);
    expect(() => parse([{ name: "rep", replication: true }])).toThrow(/replication roles are refused.*remove replication/);
    expect(() => parse([{ name: "sneaky", inRoles: ["postgres"] }])).toThrow(/inRoles may not name.*remove it/);
    expect(parse([{ name: "monitor", inRoles: ["pg_monitor"] }])[0]!.inRoles).toEqual(["pg_monitor"]);
    expect(parse([{ name: "a", passwordSecret: { secretName: "s" } }])[0]!.passwordSecret).toEqual({ secretName: "s", key: "password" });
    expect(() => parse([{ name: "a", passwordSecret: { secretName: "Not_A_Name" } }])).toThrow(/Kubernetes object name/);
    expect(() => parse([{ name: "a" }, { name: "a" }])).toThrow(/unique/);
    expect(() => parse([{ name: "a", passwordSecret: { secretName: "s" }, disablePassword: true }])).toThrow(/exclude/);
    expect(() => parse([{ name: "a", validUntil: "tomorrow" }])).toThrow();
  });
});

describe("scram", () => {
  it("checks a verifier without the password ever leaving this process", () => {
    const v = scramVerifier("pencil", Buffer.from("QSXCR+Q6sek8bf92", "base64"));
    expect(verifierMatches(v, "pencil")).toBe(true);
    expect(verifierMatches(v, "pencils")).toBe(false);
    expect(verifierMatches("md5abc", "pencil")).toBe(false);
    expect(verifierMatches(null, "pencil")).toBe(false);
  });

  it("normalizes like SASLprep: non-ASCII spaces map to a space, soft hyphens vanish, prohibited output keeps the raw password", () => {
    expect(saslPrep("a\u00A0b")).toBe("a b");
    expect(saslPrep("a\u00ADb")).toBe("ab");
    expect(saslPrep("\u2168")).toBe("IX");
    expect(saslPrep("a\u0007b")).toBe("a\u0007b");
  });
});
