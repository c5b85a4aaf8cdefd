import { describe, expect, it } from "vitest";
import { RESERVED_ROLES } from "../../api/roles";
import { REPLICATION_USER } from "./objects";
import { POOLER_ADMIN_USER } from "./pooler";
import { referencedRoleSecrets } from "./roles-sync";

describe("managed roles in the cluster controller", () => {
  it("reserves the roles the operator creates itself", () => {
    expect(RESERVED_ROLES).toEqual(expect.arrayContaining(["postgres", REPLICATION_USER, POOLER_ADMIN_USER]));
  });

  it("finds the password Secrets spec.roles names, leniently (the cached spec is unvalidated)", () => {
    const cluster = (spec: unknown) => ({ metadata: { namespace: "shop" }, spec });
    expect(referencedRoleSecrets(cluster({ roles: [{ name: "a", passwordSecret: { secretName: "a-pw", key: "pw" } }, { name: "b" }, { name: "c", passwordSecret: { secretName: "c-pw" } }] }))).toEqual([
      "shop/a-pw",
      "shop/c-pw",
    ]);
    for (const bad of [undefined, null, {}, { roles: "x" }, { roles: [null, 3, { passwordSecret: null }, { passwordSecret: { secretName: 7 } }] }]) expect(referencedRoleSecrets(cluster(bad))).toEqual([]);
  });
});
