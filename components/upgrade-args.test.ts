import { describe, expect, it } from "vitest";
import { InputError } from "../sdk/errors";
import { describeTraffic, parseUpgradeInputs, sameUpgradeArgs, scrub, secretsOf, stableArgs } from "./upgrade-args";

const BASE = { stateKey: "proj/dev/upgrade", blue: "postgres://admin:blue-secret@blue:5432/app", green: "postgres://admin:green-secret@green:5432/app" };

function failure(raw: Record<string, unknown>): InputError {
  try {
    parseUpgradeInputs(raw);
  } catch (err) {
    return err as InputError;
  }
  throw new Error("parseUpgradeInputs accepted invalid inputs");
}

describe("parseUpgradeInputs", () => {
  it("applies every default", () => {
    expect(parseUpgradeInputs(BASE)).toEqual({
      ...BASE,
      traffic: { kind: "none" },
      cutoverDeadlineMs: 30_000,
      verify: "checksums",
      until: "switched",
      finalize: false,
      rollback: false,
      verifyBeforeSwitch: false,
      allowObjectsNotCopied: false,
    });
  });

  it("treats Pulumi's nulls for unset inputs, at any depth, as absent", () => {
    const parsed = parseUpgradeInputs({
      ...BASE,
      blueFromGreen: null,
      schema: null,
      traffic: { kind: "pgbouncer", admin: "postgres://a:b@pgb:6432/pgbouncer", databasesFile: "/etc/pgbouncer/db.ini", databases: [{ name: "app", blue: "postgres://blue/app", green: "postgres://green/app", settings: null }], connectTimeoutMs: null },
    });
    expect(parsed.blueFromGreen).toBeUndefined();
    expect(parsed.schema).toBeUndefined();
    expect(parsed.traffic).toEqual({ kind: "pgbouncer", admin: "postgres://a:b@pgb:6432/pgbouncer", databasesFile: "/etc/pgbouncer/db.ini", databases: [{ name: "app", blue: "postgres://blue/app", green: "postgres://green/app" }] });
  });

  it("names the property and never echoes a connection", () => {
    const err = failure({ ...BASE, green: "mysql://admin:green-secret@green/app" });
    expect(err).toBeInstanceOf(InputError);
    expect(err.propertyPath).toBe("green");
    expect(err.message).toBe("invalid Upgrade argument green: must be a postgres:// or postgresql:// URL, or a libpq connection string (host=... dbname=... user=...)");
    expect(err.message).not.toContain("green-secret");
  });

  it("accepts libpq connection strings, and finds their passwords to scrub", () => {
    const inputs = parseUpgradeInputs({ ...BASE, blue: "host=db-16 dbname=app user=admin password='blue pw'", green: "host=db-17 dbname=app user=admin password=green-pw" });
    expect(inputs.blue).toBe("host=db-16 dbname=app user=admin password='blue pw'");
    expect(secretsOf(inputs)).toEqual(expect.arrayContaining(["blue pw", "green-pw"]));
    expect(secretsOf(inputs)).not.toContain("db-17");
    expect(failure({ ...BASE, blue: "db-16 app" }).propertyPath).toBe("blue");
  });

  it("lists the allowed values of enumerations", () => {
    expect(failure({ ...BASE, until: "cutover" }).message).toContain('(allowed: "synchronized", "switched")');
    expect(failure({ ...BASE, verify: "md5" }).message).toContain('(allowed: "checksums", "counts", "none")');
    const traffic = failure({ ...BASE, traffic: { kind: "haproxy" } });
    expect(traffic.propertyPath).toBe("traffic.kind");
    expect(traffic.message).toContain('(allowed: "none", "pgbouncer", "kubernetes-service", "kubernetes-secret")');
  });

  it("rejects a non-positive deadline and an empty schema definition", () => {
    expect(failure({ ...BASE, cutoverDeadlineMs: 0 }).propertyPath).toBe("cutoverDeadlineMs");
    expect(failure({ ...BASE, schema: { files: [] } }).message).toContain("the schema definition is empty");
  });

  it("refuses contradictory arguments", () => {
    expect(failure({ ...BASE, finalize: true, rollback: true }).message).toBe("invalid Upgrade arguments: finalize and rollback cannot both be true");
    expect(failure({ ...BASE, finalize: true, until: "synchronized" }).propertyPath).toBe("finalize");
  });

  it("requires a PgBouncer databases file and at least one database", () => {
    const traffic = { kind: "pgbouncer", admin: "postgres://a@pgb:6432/pgbouncer", databasesFile: "/f", databases: [] };
    expect(failure({ ...BASE, traffic }).message).toContain("name at least one PgBouncer database");
    expect(failure({ ...BASE, traffic: { ...traffic, databasesFile: "" } }).propertyPath).toBe("traffic.databasesFile");
  });
});

describe("Kubernetes traffic descriptions", () => {
  it("accept a Service selector or Secret keys per side", () => {
    const service = parseUpgradeInputs({ ...BASE, traffic: { kind: "kubernetes-service", namespace: "apps", name: "db", blue: { cluster: "db-16" }, green: { cluster: "db-17" } } });
    expect(service.traffic).toEqual({ kind: "kubernetes-service", namespace: "apps", name: "db", blue: { cluster: "db-16" }, green: { cluster: "db-17" } });
    expect(failure({ ...BASE, traffic: { kind: "kubernetes-secret", namespace: "", name: "app", blue: {}, green: {} } }).propertyPath).toBe("traffic.namespace");
  });

  it("scrub the Secret's passwords and URL passwords, and describe without values", () => {
    const inputs = parseUpgradeInputs({
      ...BASE,
      traffic: {
        kind: "kubernetes-secret",
        namespace: "apps",
        name: "app-db",
        blue: { host: "db-16", password: "blue-app-secret", uri: "postgres://app:blue-app-secret@db-16/app" },
        green: { host: "db-17", password: "green-app-secret", uri: "postgresql://app:green-app-secret@db-17/app" },
      },
    });
    expect(secretsOf(inputs)).toEqual(expect.arrayContaining(["blue-app-secret", "green-app-secret"]));
    expect(secretsOf(inputs)).not.toContain("db-17");
    const text = describeTraffic(inputs.traffic);
    expect(text).toBe("kubernetes-secret apps/app-db: key(s) host, password, uri set to green's values; blue fenced by closing logins");
    expect(describeTraffic({ kind: "kubernetes-service", namespace: "apps", name: "db", blue: { c: "16" }, green: { c: "17", role: "primary" } })).toBe(
      "kubernetes-service apps/db: selector set to green's (c=17, role=primary); blue fenced by closing logins",
    );
  });
});

describe("sameUpgradeArgs", () => {
  it("ignores what the provider computes and defaults spelled out", () => {
    const state = { ...parseUpgradeInputs(BASE), plannedSteps: [], preflight: ["ok"], phase: "switched", summary: { id: "x" }, __provider: "v1" };
    expect(sameUpgradeArgs(state, { ...BASE, plannedSteps: ["cutover: ..."], __provider: "v2" })).toBe(true);
    expect(sameUpgradeArgs(state, { ...BASE, until: "synchronized" })).toBe(false);
    expect(sameUpgradeArgs(state, { ...BASE, rollback: true })).toBe(false);
  });

  it("stableArgs keeps exactly the arguments", () => {
    expect(Object.keys(stableArgs({ ...BASE, phase: "new" })).sort()).toEqual(
      [
        "allowObjectsNotCopied",
        "blue",
        "blueFromGreen",
        "catchUpTimeoutMs",
        "cutoverDeadlineMs",
        "devUrl",
        "finalize",
        "green",
        "greenFromBlue",
        "maxLagBytes",
        "maxRetainedWalBytes",
        "rollback",
        "schema",
        "schemas",
        "stateKey",
        "syncTimeoutMs",
        "traffic",
        "until",
        "verify",
        "verifyBeforeSwitch",
      ].sort(),
    );
  });
});

describe("secretsOf and scrub", () => {
  it("finds every password, encoded and decoded, including PgBouncer's", () => {
    const inputs = parseUpgradeInputs({
      ...BASE,
      blueFromGreen: "postgres://admin:p%40ss%2Fword@blue-internal/app",
      traffic: {
        kind: "pgbouncer",
        admin: "postgres://pgb:admin-secret@pgb:6432/pgbouncer",
        databasesFile: "/f",
        databases: [{ name: "app", blue: { host: "blue", database: "app", user: "app", password: "target-secret" }, green: "postgres://app:url-target-secret@green/app" }],
      },
    });
    const secrets = secretsOf(inputs);
    expect(secrets).toEqual(expect.arrayContaining(["blue-secret", "green-secret", "p%40ss%2Fword", "p@ss/word", "admin-secret", "target-secret", "url-target-secret"]));
    const text = "failed: password p@ss/word for blue-secret rejected; url-target-secret";
    expect(scrub(text, secrets)).toBe("failed: password *** for *** rejected; ***");
  });

  it("leaves text alone when there is no password", () => {
    const inputs = parseUpgradeInputs({ ...BASE, blue: "postgres://admin@blue/app", green: "postgres://admin@green/app" });
    expect(secretsOf(inputs)).toEqual([]);
    expect(scrub("nothing to hide", secretsOf(inputs))).toBe("nothing to hide");
  });
});

describe("describeTraffic", () => {
  it("describes each switch without credentials", () => {
    expect(describeTraffic({ kind: "none" })).toBe("none: writes fenced on blue by closing logins; repoint the application to green yourself");
    const pgb = describeTraffic({
      kind: "pgbouncer",
      admin: "postgres://pgb:admin-secret@pgb:6432/pgbouncer",
      databasesFile: "/etc/pgbouncer/upgrade.ini",
      databases: [
        { name: "app", blue: "postgres://blue/app", green: "postgres://green/app" },
        { name: "jobs", blue: "postgres://blue/jobs", green: "postgres://green/jobs" },
      ],
    });
    expect(pgb).toBe("pgbouncer postgres://pgb:***@pgb:6432/pgbouncer: database(s) app, jobs; clients wait during the cutover");
  });
});
