import { describe, expect, it } from "vitest";
import type { AclDef, AclEntry } from "../model";
import { emptyModel } from "../model";
import { aclDelta, defaultAcl, diffDefaultPrivileges, diffPrivileges, grantPrivilegesSql, ownerSql, revokePrivilegesSql, transferOwner } from "./privileges";
import { render } from "../plan/render";

const e = (grantee: string | null, privilege: string, grantable = false): AclEntry => ({ grantee, privilege, grantable });

describe("aclDelta", () => {
  it("grants and revokes only the differences, per grantee, grant option apart", () => {
    const live = [e("app", "SELECT"), e("app", "INSERT"), e("ro", "SELECT", true), e(null, "SELECT")];
    const desired = [e("app", "SELECT"), e("app", "UPDATE", true), e("ro", "SELECT"), e("new", "DELETE")];
    expect(aclDelta(live, desired)).toEqual({
      revokes: [
        { grantee: null, privileges: ["SELECT"], grantOptionOnly: false },
        { grantee: "app", privileges: ["INSERT"], grantOptionOnly: false },
        { grantee: "ro", privileges: ["SELECT"], grantOptionOnly: true },
      ],
      grants: [
        { grantee: "app", privileges: ["UPDATE"], withGrantOption: true },
        { grantee: "new", privileges: ["DELETE"], withGrantOption: false },
      ],
    });
  });

  it("is empty for the same ACL in another order, and merges entries of several grantors", () => {
    const a = [e("x", "SELECT"), e("x", "SELECT", true), e(null, "USAGE")];
    expect(aclDelta(a, [e(null, "USAGE"), e("x", "SELECT", true)])).toEqual({ revokes: [], grants: [] });
  });

  it("adds the grant option to a held privilege without revoking it", () => {
    expect(aclDelta([e("x", "SELECT")], [e("x", "SELECT", true)])).toEqual({ revokes: [], grants: [{ grantee: "x", privileges: ["SELECT"], withGrantOption: true }] });
  });

  it("revokes possible entries that are not desired but never counts on them for a grant", () => {
    const delta = aclDelta([], [e("r", "SELECT")], [e("r", "SELECT"), e("w", "INSERT")]);
    expect(delta.revokes).toEqual([{ grantee: "w", privileges: ["INSERT"], grantOptionOnly: false }]);
    expect(delta.grants).toEqual([{ grantee: "r", privileges: ["SELECT"], withGrantOption: false }]);
  });
});

describe("transferOwner", () => {
  it("moves the old owner's entries to the new owner, merging with the new owner's", () => {
    const acl = [e("old", "SELECT"), e("old", "INSERT"), e("new", "SELECT", true), e(null, "SELECT")];
    expect(transferOwner(acl, "old", "new")).toEqual([e("new", "SELECT", true), e("new", "INSERT"), e(null, "SELECT")]);
  });
});

describe("defaultAcl", () => {
  it("is PostgreSQL's acldefault: PUBLIC may execute routines and use types; MAINTAIN from 17", () => {
    expect(defaultAcl("function", "o", 16)).toEqual([e(null, "EXECUTE"), e("o", "EXECUTE")]);
    expect(defaultAcl("domain", "o", 16)).toEqual([e(null, "USAGE"), e("o", "USAGE")]);
    expect(defaultAcl("table", "o", 16).map((x) => x.privilege)).not.toContain("MAINTAIN");
    expect(defaultAcl("table", "o", 17).map((x) => x.privilege)).toContain("MAINTAIN");
    expect(defaultAcl("column", "o", 17)).toEqual([]);
  });
});

const acl = (over: Partial<AclDef>): AclDef => ({ type: "table", schema: "s", name: "t", identity: "t", column: null, owner: "app", acl: [], ...over });

describe("diffPrivileges", () => {
  const model = (acls: AclDef[]) => ({ ...emptyModel(), acls });

  it("changes the owner first and compares the ACL as it is after the change", () => {
    const live = model([acl({ owner: "admin", acl: [...defaultAcl("table", "admin", 16), e("ro", "SELECT")] })]);
    const desired = model([acl({ owner: "app", acl: defaultAcl("table", "app", 16) })]);
    const changes = diffPrivileges(live, desired, [], { major: 16, recreated: new Set() });
    expect(changes.map((c) => c.kind)).toEqual(["setOwner", "revokePrivileges"]);
    expect(changes.flatMap(render)).toEqual(['ALTER TABLE "s"."t" OWNER TO "app"', 'REVOKE SELECT ON TABLE "s"."t" FROM "ro"']);
  });

  it("starts a created or re-created object from the default ACL of the applying role", () => {
    const desired = model([
      { type: "function", schema: "s", name: "f", identity: "f(integer)", column: null, owner: "owner", acl: [e("owner", "EXECUTE"), e("app", "EXECUTE")] },
    ]);
    const live = model([{ ...desired.acls[0]!, owner: "owner" }]);
    const recreated = new Set(["function:s.f(integer)"]);
    const sql = diffPrivileges(live, desired, [], { major: 17, role: "deployer", recreated }).flatMap(render);
    expect(sql).toEqual([
      'ALTER FUNCTION "s"."f"(integer) OWNER TO "owner"',
      'REVOKE EXECUTE ON ROUTINE "s"."f"(integer) FROM PUBLIC',
      'GRANT EXECUTE ON ROUTINE "s"."f"(integer) TO "app"',
    ]);
  });

  it("follows a declared table rename and revokes a column ACL the desired side lacks", () => {
    const live = model([acl({}), acl({ type: "column", name: "t", identity: "t.c", column: "c", owner: null, acl: [e("ro", "SELECT")] })]);
    const desired = {
      ...model([acl({ name: "u", identity: "u" })]),
      tables: [{ schema: "s", name: "u", columns: [{ name: "c" }] }] as never,
    };
    const sql = diffPrivileges(live, desired, [{ kind: "renameTable", table: { schema: "s", name: "t" }, to: "u" }], { major: 17, recreated: new Set() }).flatMap(render);
    expect(sql).toEqual(['REVOKE SELECT ("c") ON TABLE "s"."u" FROM "ro"']);
  });
});

describe("diffDefaultPrivileges", () => {
  it("diffs default privileges in a schema against none, and global ones only when both sides have them", () => {
    const changes = diffDefaultPrivileges(
      [{ schema: null, role: "app", objects: "FUNCTIONS", acl: [e(null, "EXECUTE"), e("app", "EXECUTE")] }],
      [
        { schema: "s", role: "app", objects: "TABLES", acl: [e("ro", "SELECT")] },
        { schema: null, role: "app", objects: "FUNCTIONS", acl: [e("app", "EXECUTE")] },
        { schema: null, role: "other", objects: "TABLES", acl: [] },
      ],
    );
    expect(changes.flatMap(render)).toEqual([
      'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "s" GRANT SELECT ON TABLES TO "ro"',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "app" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC',
    ]);
  });
});

describe("privilege SQL", () => {
  it("names every kind as GRANT and ALTER OWNER expect, columns with their list", () => {
    const t = (type: AclDef["type"], identity = "n", column: string | null = null) => ({ type, schema: "s", name: "n", identity, column });
    expect(grantPrivilegesSql(t("column", "n.c", "c"), "r", ["SELECT", "UPDATE"], true)).toBe('GRANT SELECT ("c"), UPDATE ("c") ON TABLE "s"."n" TO "r" WITH GRANT OPTION');
    expect(revokePrivilegesSql(t("aggregate", "n()"), null, ["EXECUTE"], false)).toBe('REVOKE EXECUTE ON ROUTINE "s"."n"(*) FROM PUBLIC');
    expect(revokePrivilegesSql(t("sequence"), "r", ["USAGE"], true)).toBe('REVOKE GRANT OPTION FOR USAGE ON SEQUENCE "s"."n" FROM "r"');
    expect(ownerSql(t("materialized view"), "o")).toBe('ALTER MATERIALIZED VIEW "s"."n" OWNER TO "o"');
    expect(ownerSql(t("domain"), "o")).toBe('ALTER DOMAIN "s"."n" OWNER TO "o"');
    expect(ownerSql({ type: "schema", schema: "s", name: "s", identity: "s", column: null }, "o")).toBe('ALTER SCHEMA "s" OWNER TO "o"');
    expect(ownerSql(t("procedure", "n(integer)"), "o")).toBe('ALTER PROCEDURE "s"."n"(integer) OWNER TO "o"');
  });
});
