import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { assertRolesExist } from "./engine";
import { emptyModel } from "./model";

describe("assertRolesExist", () => {
  const model = {
    ...emptyModel(),
    acls: [{ type: "table" as const, schema: "s", name: "t", identity: "t", column: null, owner: "app", acl: [{ grantee: "reader", privilege: "SELECT", grantable: false }, { grantee: null, privilege: "SELECT", grantable: false }] }],
    defaultAcls: [{ schema: "s", role: "app", objects: "TABLES" as const, acl: [{ grantee: "writer", privilege: "INSERT", grantable: false }] }],
  };

  it("accepts a model whose owners and grantees all exist (PUBLIC is no role)", () => {
    expect(() => assertRolesExist(model, { names: ["app", "reader", "writer"] })).not.toThrow();
  });

  it("names every missing role and says to create it first", () => {
    let err: unknown;
    try {
      assertRolesExist(model, { names: ["app"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/role\(s\) "reader", "writer", which do not exist on the target; create them there first \(CREATE ROLE/);
  });
});
