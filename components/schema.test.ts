import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../sdk/errors";
import { HAZARD_CODES } from "../sdk/schema/hazards";
import type { DesiredSchema } from "../sdk/schema/source/desired";
import { recordRegistrations, setPulumiMocks, valueOf } from "../test/support/pulumi-mocks";
import { targetOf } from "./internal/schema-provider-impl";
import { connectionUrl, desiredFiles, Schema, validateSchemaArgs, type SchemaArgs } from "./schema";

void setPulumiMocks((args) => {
  const planned = args.name === "planned";
  const plan = planned ? [{ step: 1, kind: "createTable", sql: ["CREATE TABLE t (", "  id int", ");"], hazards: [] }] : [];
  return { id: `${args.name}-id`, state: { ...args.inputs, plan, planHash: planned ? "sha256:abc" : "", refused: [], fingerprint: "f1" } };
});

const registered = recordRegistrations();

function urnOf(r: pulumi.Resource): Promise<string> {
  return valueOf(r.urn);
}

const work = mkdtempSync(join(tmpdir(), "setpoint-schema-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function failure(args: Partial<SchemaArgs>): Error {
  try {
    validateSchemaArgs({ connection: "postgres://db/app", ...args } as SchemaArgs);
  } catch (err) {
    return err as Error;
  }
  throw new Error("validateSchemaArgs accepted invalid arguments");
}

describe("validateSchemaArgs", () => {
  it("accepts each way of giving the desired state", () => {
    for (const args of [{ sql: "CREATE TABLE t (id int);" }, { sqlPath: "schema.sql" }, { definition: { files: [] } }]) {
      expect(() => validateSchemaArgs({ connection: "postgres://db/app", ...args })).not.toThrow();
    }
  });

  it("requires a desired state, naming the three arguments", () => {
    const err = failure({});
    expect(err).toBeInstanceOf(pulumi.ResourceError);
    expect(err.message).toBe("Schema: one of sql, sqlPath or definition is required");
  });

  it("rejects an unknown hazard code, naming it and every allowed value", () => {
    const err = failure({ sql: "", allowHazards: ["DATA_LOSS_DROP_TABLE", "DROP_EVERYTHING" as never] });
    expect(err).toBeInstanceOf(pulumi.ResourceError);
    expect(err.message).toContain("allowHazards has unknown code(s) DROP_EVERYTHING");
    expect(err.message).toContain(`allowed: "all" or ${HAZARD_CODES.join(", ")}`);
    expect(() => validateSchemaArgs({ connection: "postgres://db/app", sql: "", allowHazards: "all" })).not.toThrow();
  });

  it("rejects approvals without a plan hash or with unknown hazard codes, naming the entry", () => {
    expect(failure({ sql: "", approvals: [{ planHash: "abc", hazards: ["TABLE_REWRITE"] }] }).message).toContain("approvals[0].planHash must be the plan hash");
    expect(failure({ sql: "", approvals: [{ planHash: "sha256:0123456789abcd", hazards: ["NOPE" as never] }] }).message).toContain("approvals[0].hazards must be");
    expect(() => validateSchemaArgs({ connection: "postgres://db/app", sql: "", approvals: [{ planHash: "sha256:0123456789abcd", hazards: "all" }] })).not.toThrow();
  });

  it("rejects a bad deletionPolicy, naming the allowed values", () => {
    const err = failure({ sql: "", deletionPolicy: "destroy" as never });
    expect(err).toBeInstanceOf(pulumi.ResourceError);
    expect(err.message).toBe('Schema: deletionPolicy must be "retain" or "drop", got "destroy"');
  });

  it("rejects empty schema names", () => {
    const err = failure({ sql: "", schemas: ["public", ""] });
    expect(err).toBeInstanceOf(pulumi.ResourceError);
    expect(err.message).toContain('schemas must be "all" or a list of non-empty schema names');
  });
});

describe("connectionUrl", () => {
  it("builds a URL with the default port", () => {
    expect(connectionUrl({ host: "db", user: "app", database: "shop" })).toBe("postgres://app@db:5432/shop");
  });

  it("URL-encodes the user, the password and the database", () => {
    const url = connectionUrl({ host: "db.internal", port: 6432, user: "app@tenant", password: "p@ss:w/rd?#%", database: "my db" });
    expect(url).toBe("postgres://app%40tenant:p%40ss%3Aw%2Frd%3F%23%25@db.internal:6432/my%20db");
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.username)).toBe("app@tenant");
    expect(decodeURIComponent(parsed.password)).toBe("p@ss:w/rd?#%");
    expect(parsed.host).toBe("db.internal:6432");
  });

  it("writes hostaddr and sslmode as libpq's query parameters", () => {
    expect(connectionUrl({ host: "shop-rw.ns.svc", hostaddr: "127.0.0.1", port: 40001, user: "shop", database: "shop", sslmode: "verify-full" })).toBe(
      "postgres://shop@shop-rw.ns.svc:40001/shop?hostaddr=127.0.0.1&sslmode=verify-full",
    );
  });
});

describe("desiredFiles", () => {
  const definition: DesiredSchema = {
    files: [{ name: "definition", sql: "CREATE TABLE a (id int);" }],
    renames: [{ kind: "table", schema: "public", from: "old_a", to: "a" }],
  };

  it("orders the desired state: definition, then sqlPath (in name order), then sql", () => {
    const dir = join(work, "sql");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, "2-c.sql"), "CREATE TABLE c (id int);");
    writeFileSync(join(dir, "1-b.sql"), "CREATE TABLE b (id int);");
    writeFileSync(join(dir, "notes.txt"), "not SQL");
    const { files } = desiredFiles({ definition, sqlPath: dir }, ["CREATE VIEW v AS SELECT 1;", "CREATE VIEW w AS SELECT 2;"]);
    expect(files).toEqual([
      { name: "definition", sql: "CREATE TABLE a (id int);" },
      { name: join(dir, "1-b.sql"), sql: "CREATE TABLE b (id int);" },
      { name: join(dir, "2-c.sql"), sql: "CREATE TABLE c (id int);" },
      { name: "sql[0]", sql: "CREATE VIEW v AS SELECT 1;" },
      { name: "sql[1]", sql: "CREATE VIEW w AS SELECT 2;" },
    ]);
  });

  it("names a single sql text `sql`, and accepts no sql at all", () => {
    expect(desiredFiles({}, "CREATE TABLE t (id int);").files).toEqual([{ name: "sql", sql: "CREATE TABLE t (id int);" }]);
    expect(desiredFiles({ definition }, undefined).files).toEqual(definition.files);
  });

  it("merges the definition's renames with the declared ones, definition first", () => {
    const declared = [{ kind: "column" as const, schema: "public", table: "a", from: "n", to: "name" }];
    expect(desiredFiles({ definition, renames: declared }, undefined).renames).toEqual([...definition.renames!, ...declared]);
    expect(desiredFiles({}, "").renames).toEqual([]);
  });

  it("fails naming the path when sqlPath does not exist", () => {
    expect(() => desiredFiles({ sqlPath: join(work, "missing") }, undefined)).toThrow(/schema path .*missing does not exist/);
  });
});

describe("Schema component (Pulumi mocks)", () => {
  it("registers one dynamic resource, parented by the component, with the connection secret", async () => {
    const schema = new Schema("shop", {
      connection: "postgres://app:hunter2@db:5432/shop",
      sql: "CREATE TABLE t (id int);",
      devUrl: "postgres://postgres:devpass@dev:5432/postgres",
    });
    const componentUrn = await urnOf(schema);
    expect(await valueOf(schema.plannedStatements)).toEqual([]);
    expect(await valueOf(schema.plan)).toEqual([]);
    expect(await valueOf(schema.fingerprint)).toBe("f1");

    const mine = registered.filter((r) => r.name === "shop");
    expect(mine.map((r) => r.type)).toEqual(["setpoint:index:Schema", "pulumi-nodejs:dynamic:Resource"]);
    const child = mine[1]!;
    expect(child.parent).toBe(componentUrn);
    expect(child.additionalSecretOutputs).toEqual(expect.arrayContaining(["connection", "devUrl"]));
    // Secret inputs reach the engine wrapped as secrets, so state never holds them in plain text.
    expect(pulumi.runtime.isRpcSecret(child.inputs.connection)).toBe(true);
    expect(pulumi.runtime.unwrapRpcSecret(child.inputs.connection)).toBe("postgres://app:hunter2@db:5432/shop");
    expect(pulumi.runtime.isRpcSecret(child.inputs.devUrl)).toBe(true);
    expect(pulumi.runtime.isRpcSecret(child.inputs.desired)).toBe(false);
    expect(child.inputs).toMatchObject({
      desired: { files: [{ name: "sql", sql: "CREATE TABLE t (id int);" }], renames: [] },
      allowHazards: [],
      online: true,
      deletionPolicy: "retain",
      planAtPreview: true,
      approvals: [],
      // Not a preview (the mocks run as an update): the provider keeps the plan out of the state.
      preview: false,
    });
    expect(child.inputs.__provider).toEqual(expect.stringContaining("exports.handler"));
    // The first test pays for loading the Pulumi runtime: on a loaded machine that nears 5 s.
  }, 30_000);

  it("shows each planned step's SQL as one statement text, and passes approvals through", async () => {
    const approvals = [{ planHash: "sha256:0123456789abcdef", hazards: ["TABLE_REWRITE" as const] }];
    const schema = new Schema("planned", { connection: "postgres://app@db/shop", sql: "CREATE TABLE t (id int);", approvals });
    expect(await valueOf(schema.plannedStatements)).toEqual(["CREATE TABLE t (\n  id int\n);"]);
    expect(await valueOf(schema.planHash)).toBe("sha256:abc");
    await urnOf(schema);
    expect(registered.find((r) => r.name === "planned" && r.type === "pulumi-nodejs:dynamic:Resource")?.inputs.approvals).toEqual(approvals);
  });

  it("builds the connection URL from fields, secret even when the password was not", async () => {
    const schema = new Schema("fields", {
      connection: { host: "db", port: 6432, user: "app", password: "p@ss", database: "shop" },
      sql: ["CREATE TABLE a (id int);", "CREATE TABLE b (id int);"],
      allowHazards: ["INDEX_BUILD"],
      deletionPolicy: "drop",
      online: false,
      schemas: ["public"],
      planAtPreview: false,
    });
    await urnOf(schema);
    await valueOf(schema.fingerprint);
    const child = registered.find((r) => r.name === "fields" && r.type === "pulumi-nodejs:dynamic:Resource")!;
    expect(pulumi.runtime.isRpcSecret(child.inputs.connection)).toBe(true);
    expect(pulumi.runtime.unwrapRpcSecret(child.inputs.connection)).toBe("postgres://app:p%40ss@db:6432/shop");
    expect(child.inputs).toMatchObject({
      desired: { files: [{ name: "sql[0]" }, { name: "sql[1]" }] },
      allowHazards: ["INDEX_BUILD"],
      deletionPolicy: "drop",
      online: false,
      schemas: ["public"],
      planAtPreview: false,
    });
    // No dev URL was given: nothing to list as secret beyond what exists.
    expect(child.inputs.devUrl).toBeUndefined();
    // No authority: the connection stays as before, without TLS parameters.
    expect(child.inputs.ca).toBeUndefined();
  });

  it("verifies a cluster's server: fields with ca and servername become verify-full to the address, the authority a secret input", async () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const schema = new Schema("tls-fields", {
      connection: { host: "10.96.0.7", user: "shop", password: "pw", database: "shop", ca: pem, servername: "shop-rw.default.svc" },
      sql: "CREATE TABLE t (id int);",
    });
    await urnOf(schema);
    await valueOf(schema.fingerprint);
    const child = registered.find((r) => r.name === "tls-fields" && r.type === "pulumi-nodejs:dynamic:Resource")!;
    expect(child.additionalSecretOutputs).toEqual(expect.arrayContaining(["connection", "ca", "devUrl"]));
    expect(pulumi.runtime.isRpcSecret(child.inputs.ca)).toBe(true);
    expect(pulumi.runtime.unwrapRpcSecret(child.inputs.ca)).toBe(pem);
    const url = pulumi.runtime.unwrapRpcSecret(child.inputs.connection) as string;
    expect(url).toBe("postgres://shop:pw@shop-rw.default.svc:5432/shop?hostaddr=10.96.0.7&sslmode=verify-full");
    // What the provider hands the engine: connect to the address, verify the name against the authority.
    expect(targetOf({ connection: url, ca: pem })).toEqual({
      host: "10.96.0.7",
      servername: "shop-rw.default.svc",
      port: 5432,
      user: "shop",
      password: "pw",
      database: "shop",
      sslmode: "verify-full",
      ca: pem,
    });
    expect(targetOf({ connection: "postgres://app@db/shop" })).toBe("postgres://app@db/shop");
  });

  it("keeps a connection Output's secretness and accepts a plain Output", async () => {
    const schema = new Schema("output", { connection: pulumi.output("postgres://app@db/shop"), sql: "CREATE TABLE t (id int);" });
    await valueOf(schema.fingerprint);
    const child = registered.find((r) => r.name === "output" && r.type === "pulumi-nodejs:dynamic:Resource")!;
    expect(pulumi.runtime.isRpcSecret(child.inputs.connection)).toBe(true);
  });

  it("reads sqlPath when the program runs, after definition and before sql", async () => {
    const file = join(work, "path.sql");
    writeFileSync(file, "CREATE TABLE from_path (id int);");
    const definition: DesiredSchema = { files: [{ name: "definition", sql: "CREATE TABLE d (id int);" }], renames: [{ kind: "table", schema: "public", from: "e", to: "d" }] };
    const schema = new Schema("path", { connection: "postgres://db/app", definition, sqlPath: file, sql: pulumi.output("CREATE VIEW v AS SELECT 1;") });
    await valueOf(schema.fingerprint);
    const child = registered.find((r) => r.name === "path" && r.type === "pulumi-nodejs:dynamic:Resource")!;
    expect(child.inputs.desired).toEqual({
      files: [
        { name: "definition", sql: "CREATE TABLE d (id int);" },
        { name: file, sql: "CREATE TABLE from_path (id int);" },
        { name: "sql", sql: "CREATE VIEW v AS SELECT 1;" },
      ],
      renames: definition.renames,
    });
  });

  it("throws a ResourceError naming sqlPath when it cannot be read", () => {
    let error: unknown;
    try {
      new Schema("nopath", { connection: "postgres://db/app", sqlPath: join(work, "missing.sql") });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(pulumi.ResourceError);
    expect((error as Error).message).toMatch(/^Schema: sqlPath: schema path .*missing\.sql does not exist/);
    expect((error as Error).cause).toBeInstanceOf(InputError);
  });

  it("throws a ResourceError for the component before registering a child", () => {
    expect(() => new Schema("invalid", { connection: "postgres://db/app", sql: "", deletionPolicy: "keep" as never })).toThrow(pulumi.ResourceError);
    expect(registered.some((r) => r.name === "invalid" && r.type === "pulumi-nodejs:dynamic:Resource")).toBe(false);
  });
});
