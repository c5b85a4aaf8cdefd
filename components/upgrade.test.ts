import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it } from "vitest";
import { recordRegistrations, setPulumiMocks, valueOf, type Registration } from "../test/support/pulumi-mocks";
import { Upgrade, validateUpgradeArgs, type UpgradeArgs } from "./upgrade";

const SUMMARY = { id: "abc123", phase: "switched", blueMajor: 16, greenMajor: 17, blue: "b", green: "g", history: [], verification: null, writePauseMs: 12, switchedAt: 1 };

void setPulumiMocks(
  (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, phase: "switched", summary: SUMMARY, plannedSteps: [], preflight: ["ok: ..."] } }),
  "proj",
  "dev",
);

const registered = recordRegistrations();

function child(name: string): Registration {
  return registered.find((r) => r.name === name && r.type === "pulumi-nodejs:dynamic:Resource")!;
}

const work = mkdtempSync(join(tmpdir(), "setpoint-upgrade-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BLUE = "postgres://admin:blue-secret@blue:5432/app";
const GREEN = "postgres://admin:green-secret@green:5432/app";

function failure(args: Partial<UpgradeArgs>): Error {
  try {
    validateUpgradeArgs({ blue: BLUE, green: GREEN, ...args } as UpgradeArgs);
  } catch (err) {
    return err as Error;
  }
  throw new Error("validateUpgradeArgs accepted invalid arguments");
}

describe("validateUpgradeArgs", () => {
  it("accepts the minimal and the full form", () => {
    expect(() => validateUpgradeArgs({ blue: BLUE, green: GREEN })).not.toThrow();
    expect(() =>
      validateUpgradeArgs({
        blue: BLUE,
        green: GREEN,
        schema: { sql: "CREATE TABLE t (id int PRIMARY KEY);" },
        traffic: { kind: "pgbouncer", admin: "postgres://a@pgb:6432/pgbouncer", databasesFile: "/f", databases: [{ name: "app", blue: "postgres://blue/app", green: "postgres://green/app" }] },
        cutoverDeadlineMs: 10_000,
        verify: "counts",
        until: "synchronized",
        rollback: pulumi.output(false),
        stateKey: "custom",
      }),
    ).not.toThrow();
  });

  it("names the argument and its allowed values", () => {
    for (const [args, message] of [
      [{ verify: "md5" }, 'Upgrade: verify must be "checksums", "counts" or "none", got "md5"'],
      [{ until: "done" }, 'Upgrade: until must be "synchronized" or "switched", got "done"'],
      [{ cutoverDeadlineMs: -1 }, "Upgrade: cutoverDeadlineMs must be a positive whole number, got -1"],
      [{ maxRetainedWalBytes: 1.5 }, "Upgrade: maxRetainedWalBytes must be a positive whole number, got 1.5"],
      [{ finalize: true, rollback: true }, "Upgrade: finalize and rollback cannot both be true"],
      [{ finalize: true, until: "synchronized" }, 'Upgrade: finalize needs until "switched" (only a switched upgrade can be finalized)'],
      [{ stateKey: "" }, "Upgrade: stateKey must be 1 to 200 characters"],
      [{ schema: { renames: [] } }, "Upgrade: schema needs one of sql, sqlPath or definition (or leave schema out to copy blue's schema)"],
      [{ traffic: { kind: "haproxy" } }, 'Upgrade: traffic.kind must be one of "none", "pgbouncer", "kubernetes-service", "kubernetes-secret", got "haproxy"'],
      [{ traffic: { kind: "kubernetes-service", namespace: "apps", name: "", blue: {}, green: {} } }, "Upgrade: traffic.name is required for a kubernetes-service switch"],
      [{ traffic: { kind: "pgbouncer", admin: "postgres://a@p/pgbouncer", databasesFile: "", databases: [] } }, "Upgrade: traffic.databasesFile is required: the file PgBouncer %includes with the switched databases"],
      [{ traffic: { kind: "pgbouncer", admin: "postgres://a@p/pgbouncer", databasesFile: "/f", databases: [] } }, "Upgrade: traffic.databases must name at least one PgBouncer database"],
    ] as [Partial<UpgradeArgs>, string][]) {
      const err = failure(args);
      expect(err).toBeInstanceOf(pulumi.ResourceError);
      expect(err.message).toBe(message);
    }
  });
});

// The first registration serializes the provider (Pulumi's closure serialization): seconds on a busy machine.
describe("Upgrade component (Pulumi mocks)", { timeout: 30_000 }, () => {
  it("registers one dynamic resource, parented by the component, with every connection and the traffic switch secret", async () => {
    const upgrade = new Upgrade("pg17", {
      blue: BLUE,
      green: { host: "green", port: 5433, user: "admin", password: "p@ss", database: "app" },
      blueFromGreen: "postgres://admin:blue-secret@blue.internal:5432/app",
      traffic: { kind: "pgbouncer", admin: pulumi.secret("postgres://pgb:admin-secret@pgb:6432/pgbouncer"), databasesFile: "/etc/pgbouncer/upgrade.ini", databases: [{ name: "app", blue: "postgres://blue/app", green: "postgres://green/app" }] },
    });
    const componentUrn = await valueOf(upgrade.urn);
    expect(await valueOf(upgrade.phase)).toBe("switched");
    expect(await valueOf(upgrade.summary)).toEqual(SUMMARY);
    expect(await valueOf(upgrade.plannedSteps)).toEqual([]);
    expect(await valueOf(upgrade.preflight)).toEqual(["ok: ..."]);

    const mine = registered.filter((r) => r.name === "pg17");
    expect(mine.map((r) => r.type)).toEqual(["setpoint:index:Upgrade", "pulumi-nodejs:dynamic:Resource"]);
    const c = mine[1]!;
    expect(c.parent).toBe(componentUrn);
    expect(c.additionalSecretOutputs).toEqual(expect.arrayContaining(["blue", "green", "blueFromGreen", "greenFromBlue", "devUrl", "traffic"]));
    for (const k of ["blue", "green", "blueFromGreen", "traffic"]) expect(pulumi.runtime.isRpcSecret(c.inputs[k]), k).toBe(true);
    expect(pulumi.runtime.unwrapRpcSecret(c.inputs.green)).toBe("postgres://admin:p%40ss@green:5433/app");
    expect(pulumi.runtime.unwrapRpcSecret(c.inputs.traffic)).toMatchObject({ kind: "pgbouncer", databasesFile: "/etc/pgbouncer/upgrade.ini" });
    expect(c.inputs.greenFromBlue).toBeUndefined();
    expect(c.inputs).toMatchObject({
      stateKey: "proj/dev/pg17",
      cutoverDeadlineMs: 30_000,
      verify: "checksums",
      verifyBeforeSwitch: false,
      until: "switched",
      finalize: false,
      rollback: false,
      allowObjectsNotCopied: false,
    });
    expect(c.inputs.schema).toBeUndefined();
    expect(c.inputs.__provider).toEqual(expect.stringContaining("exports.handler"));
  });

  it("passes the schema definition in the Schema component's forms, readable, with the dev URL secret", async () => {
    const file = join(work, "extra.sql");
    writeFileSync(file, "CREATE TABLE extra (id int PRIMARY KEY);");
    const def = {
      definition: { files: [{ name: "definition", sql: "CREATE TABLE d (id int PRIMARY KEY);" }], renames: [{ kind: "table" as const, schema: "public", from: "e", to: "d" }] },
      sqlPath: file,
      sql: pulumi.output("CREATE TABLE s (id int PRIMARY KEY);"),
      devUrl: "postgres://dev:dev-secret@dev/postgres",
      schemas: ["public"],
    };
    const upgrade = new Upgrade("with-schema", { blue: BLUE, green: GREEN, schema: def, until: "synchronized", rollback: pulumi.output(true), stateKey: "mine" });
    await valueOf(upgrade.phase);
    const c = child("with-schema");
    expect(pulumi.runtime.isRpcSecret(c.inputs.schema)).toBe(false);
    expect(c.inputs.schema).toEqual({
      files: [
        { name: "definition", sql: "CREATE TABLE d (id int PRIMARY KEY);" },
        { name: file, sql: "CREATE TABLE extra (id int PRIMARY KEY);" },
        { name: "sql", sql: "CREATE TABLE s (id int PRIMARY KEY);" },
      ],
      renames: def.definition.renames,
    });
    expect(c.inputs.schemas).toEqual(["public"]);
    expect(pulumi.runtime.isRpcSecret(c.inputs.devUrl)).toBe(true);
    expect(c.inputs).toMatchObject({ stateKey: "mine", until: "synchronized", rollback: true });
    // No traffic switch given: "none", still registered as a secret like any switch description.
    expect(pulumi.runtime.unwrapRpcSecret(c.inputs.traffic)).toEqual({ kind: "none" });
  });

  it("throws a ResourceError naming schema.sqlPath when it cannot be read", () => {
    let error: unknown;
    try {
      new Upgrade("nopath", { blue: BLUE, green: GREEN, schema: { sqlPath: join(work, "missing.sql") } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(pulumi.ResourceError);
    expect((error as Error).message).toMatch(/^Upgrade: schema\.sqlPath: schema path .*missing\.sql does not exist/);
  });

  it("throws for the component before registering a child", () => {
    expect(() => new Upgrade("invalid", { blue: BLUE, green: GREEN, until: "later" as never })).toThrow(pulumi.ResourceError);
    expect(registered.some((r) => r.name === "invalid" && r.type === "pulumi-nodejs:dynamic:Resource")).toBe(false);
  });
});
