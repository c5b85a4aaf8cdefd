import { describe, expect, it } from "vitest";
import type { InputError } from "../sdk/errors";
import { inputErrorOf } from "../test/support/input-error";
import { containsUnknown, parseSchemaInputs, sameArgs, stableArgs, UNKNOWN } from "./schema-args";

const VALID = {
  connection: "postgres://app:pw@db:5432/app",
  desired: { files: [{ name: "sql", sql: "CREATE TABLE t (id int);" }] },
};

function parseError(raw: unknown): InputError {
  return inputErrorOf(() => parseSchemaInputs(raw));
}

describe("parseSchemaInputs", () => {
  it("applies the defaults and treats null (Pulumi's unset) as absent", () => {
    expect(parseSchemaInputs({ ...VALID, devUrl: null, schemas: null, online: null })).toEqual({
      ...VALID,
      desired: { ...VALID.desired, renames: [] },
      allowHazards: [],
      online: true,
      deletionPolicy: "retain",
      planAtPreview: true,
      approvals: [],
    });
  });

  it("accepts a libpq connection string for the target and the dev server", () => {
    const parsed = parseSchemaInputs({ ...VALID, connection: "host=db port=5433 dbname=app user=app password='p w'", devUrl: "host=dev dbname=postgres" });
    expect(parsed.connection).toBe("host=db port=5433 dbname=app user=app password='p w'");
    expect(parsed.devUrl).toBe("host=dev dbname=postgres");
  });

  it("accepts schemas: a list, or \"all\" (every schema of the database)", () => {
    expect(parseSchemaInputs({ ...VALID, schemas: ["app"] }).schemas).toEqual(["app"]);
    expect(parseSchemaInputs({ ...VALID, schemas: "all" }).schemas).toBe("all");
  });

  it("accepts approvals by plan hash and names a bad one", () => {
    const approvals = [{ planHash: "sha256:0123456789abcdef", hazards: ["TABLE_REWRITE"] }];
    expect(parseSchemaInputs({ ...VALID, approvals }).approvals).toEqual(approvals);
    expect(parseError({ ...VALID, approvals: [{ planHash: "nope", hazards: "all" }] }).message).toContain("invalid Schema argument approvals.0.planHash: must be the plan hash");
    expect(parseError({ ...VALID, approvals: [{ planHash: "0123456789abcdef", hazards: ["NOPE"] }] }).message).toMatch(/approvals\.0\.hazards: .*\(allowed: "all" or a list of/);
  });

  it("drops what is not an argument (the plan, the provider text)", () => {
    const parsed = parseSchemaInputs({ ...VALID, plan: [{ step: 1 }], preview: true, __provider: "exports.handler = ..." });
    expect(parsed).not.toHaveProperty("plan");
    expect(parsed).not.toHaveProperty("preview");
    expect(parsed).not.toHaveProperty("__provider");
  });

  it.each([
    [{ ...VALID, connection: "mysql://app:pw@db/app" }, "connection", "must be a postgres:// or postgresql:// URL, or a libpq connection string (host=... dbname=... user=...)"],
    [{ ...VALID, connection: undefined }, "connection", "invalid Schema argument connection"],
    [{ ...VALID, devUrl: "http://dev" }, "devUrl", "must be a postgres:// or postgresql:// URL, or a libpq connection string (host=... dbname=... user=...)"],
    [{ ...VALID, desired: { files: [] } }, "desired.files", "the desired schema is empty: pass sql, sqlPath or definition"],
    [{ ...VALID, desired: { files: [{ name: "", sql: "" }] } }, "desired.files.0.name", "invalid Schema argument desired.files.0.name"],
    [{ ...VALID, desired: { files: VALID.desired.files, renames: [{ kind: "index", schema: "public", from: "a", to: "b" }] } }, "desired.renames.0", "desired.renames.0"],
    [{ ...VALID, allowHazards: ["DATA_LOSS_DROP_TABL"] }, "allowHazards", '(allowed: "all" or a list of DATA_LOSS_DROP_TABLE, DATA_LOSS_DROP_COLUMN'],
    [{ ...VALID, allowHazards: "some" }, "allowHazards", '(allowed: "all" or a list of'],
    [{ ...VALID, deletionPolicy: "destroy" }, "deletionPolicy", '(allowed: "retain", "drop")'],
    [{ ...VALID, online: "yes" }, "online", "invalid Schema argument online"],
    [{ ...VALID, schemas: [""] }, "schemas.0", "invalid Schema argument schemas.0"],
    [{ ...VALID, schemas: "some" }, "schemas", "invalid Schema argument schemas"],
    [{ ...VALID, planAtPreview: 1 }, "planAtPreview", "invalid Schema argument planAtPreview"],
  ])("rejects %j naming %s", (raw, path, message) => {
    const err = parseError(raw);
    expect(err.propertyPath).toBe(path);
    expect(err.message).toContain(message);
  });

  it("names the root when the inputs are not an object", () => {
    expect(parseError("postgres://x").propertyPath).toBe("");
    expect(parseError(undefined).message).toContain("invalid Schema argument (root)");
  });

  it("never echoes the connection value, whichever check fails", () => {
    const password = "s3cr3t-Pa55word";
    for (const connection of [`mysql://app:${password}@db/app`, `postgres//app:${password}@db/app`, ` postgres://app:${password}@db/app`]) {
      const err = parseError({ ...VALID, connection });
      expect(err.propertyPath).toBe("connection");
      expect(err.message).not.toContain(password);
      expect(JSON.stringify(err)).not.toContain(password);
    }
    const dev = parseError({ ...VALID, devUrl: `mysql://dev:${password}@dev/x` });
    expect(dev.message).not.toContain(password);
  });
});

describe("sameArgs", () => {
  const parsed = parseSchemaInputs(VALID) as unknown as Record<string, unknown>;

  it("ignores key order, at every level", () => {
    const reordered = {
      desired: { renames: [], files: [{ sql: VALID.desired.files[0]!.sql, name: "sql" }] },
      connection: VALID.connection,
    };
    expect(sameArgs(VALID, reordered)).toBe(true);
  });

  it("treats null as absent", () => {
    expect(sameArgs({ ...VALID, devUrl: null, schemas: null }, VALID)).toBe(true);
  });

  it("applies the defaults: state holds parsed arguments, new inputs may not", () => {
    expect(sameArgs(parsed, VALID)).toBe(true);
    expect(sameArgs(VALID, { ...VALID, allowHazards: [], online: true, deletionPolicy: "retain", planAtPreview: true })).toBe(true);
  });

  it("ignores the plan and the provider text", () => {
    expect(sameArgs({ ...parsed, plannedStatements: ["CREATE TABLE t"], __provider: "v1" }, { ...VALID, plannedStatements: [], __provider: "v2" })).toBe(true);
  });

  it.each([
    ["connection", { connection: "postgres://app:other@db:5432/app" }],
    ["desired", { desired: { files: [{ name: "sql", sql: "CREATE TABLE u (id int);" }] } }],
    ["renames", { desired: { ...VALID.desired, renames: [{ kind: "table", schema: "public", from: "s", to: "t" }] } }],
    ["allowHazards", { allowHazards: "all" }],
    ["online", { online: false }],
    ["devUrl", { devUrl: "postgres://dev/postgres" }],
    ["deletionPolicy", { deletionPolicy: "drop" }],
    ["schemas", { schemas: ["public"] }],
    ["verifyCatalogs", { verifyCatalogs: false }],
  ])("sees a change of %s", (_name, change) => {
    expect(sameArgs(VALID, { ...VALID, ...change })).toBe(false);
  });

  it("compares invalid (e.g. older) state as it is, without throwing", () => {
    expect(sameArgs({ connection: "garbage" }, { connection: "garbage" })).toBe(true);
    expect(sameArgs({ connection: "garbage" }, VALID)).toBe(false);
  });
});

describe("stableArgs and containsUnknown", () => {
  it("stableArgs keeps only the arguments", () => {
    expect(Object.keys(stableArgs({ ...VALID, plannedStatements: [], fingerprint: "f", __provider: "p" })).sort()).toEqual(
      ["allowHazards", "ca", "connection", "deletionPolicy", "desired", "devUrl", "online", "schemas", "verifyCatalogs"].sort(),
    );
  });

  it("finds the unknown marker at any depth", () => {
    expect(containsUnknown(VALID)).toBe(false);
    expect(containsUnknown({ ...VALID, connection: UNKNOWN })).toBe(true);
    expect(containsUnknown({ desired: { files: [{ name: "sql", sql: UNKNOWN }] } })).toBe(true);
  });
});

describe("parseSchemaInputs: ca (a cluster's authority)", () => {
  const desired = { files: [{ name: "sql", sql: "CREATE TABLE t (id int);" }] };
  it("keeps the authority with a URL, and counts it as an argument (a rotated authority is an update)", () => {
    const pem = "-----BEGIN CERTIFICATE-----";
    const a = { connection: "postgres://app@shop-rw.ns.svc/shop?sslmode=verify-full", ca: pem, desired };
    expect(parseSchemaInputs(a).ca).toBe(pem);
    expect(sameArgs(a, { ...a, ca: "-----BEGIN CERTIFICATE----- other" })).toBe(false);
  });
  it("refuses an authority with a libpq connection string, naming ca", () => {
    const err = inputErrorOf(() => parseSchemaInputs({ connection: "host=db dbname=app user=app", ca: "pem", desired }));
    expect(err.message).toMatch(/invalid Schema argument ca: an authority \(ca\) needs the connection as a postgres:\/\/ URL/);
  });
});
