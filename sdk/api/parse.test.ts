import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { durationToMs } from "./common";
import { isReadyFor } from "./conditions";
import {
  formatPath,
  parsePostgresClusterSpec,
  parsePostgresClusterStatus,
  parsePostgresSchemaSpec,
  parsePostgresUpgradeSpec,
} from "./parse";

const minimalCluster = { postgresVersion: 17, storage: { size: "10Gi" } };

/** The InputError a parse throws. */
function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error("expected an InputError");
}

describe("parsePostgresClusterSpec", () => {
  it("applies every default", () => {
    expect(parsePostgresClusterSpec(minimalCluster)).toEqual({
      instances: 1,
      postgresVersion: 17,
      storage: { size: "10Gi" },
      bootstrap: { database: "app", owner: "app" },
      services: { rw: true, ro: true },
      primaryUpdateStrategy: "unsupervised",
      failoverGrace: "5s",
    });
  });

  it("defaults nested fields of objects that are present", () => {
    const spec = parsePostgresClusterSpec({
      ...minimalCluster,
      instances: 3,
      storage: { size: "10Gi", autoGrow: { step: "5Gi", limit: "50Gi" } },
      bootstrap: { database: "orders" },
      services: { ro: false },
      synchronous: { number: 2 },
    });
    expect(spec.storage.autoGrow).toEqual({ thresholdPercent: 80, step: "5Gi", limit: "50Gi" });
    expect(spec.bootstrap).toEqual({ database: "orders", owner: "app" });
    expect(spec.services).toEqual({ rw: true, ro: false });
    expect(spec.synchronous).toEqual({ method: "any", number: 2 });
  });

  it("defaults the backup destination and recovery fields, and refuses what S3, cron and recovery cannot use", () => {
    const destination = { endpoint: "http://10.0.0.1:8333", bucket: "backups", credentials: { secretName: "s3-creds" } };
    const spec = parsePostgresClusterSpec({
      ...minimalCluster,
      backup: { destination, schedule: "0 3 * * *", retention: "30d" },
      bootstrap: { recovery: { source: destination, target: { time: "2026-12-05T10:00:00Z" } } },
    });
    expect(spec.backup).toEqual({
      destination: { ...destination, region: "us-east-1", forcePathStyle: true, credentials: { secretName: "s3-creds", accessKeyIdKey: "AWS_ACCESS_KEY_ID", secretAccessKeyKey: "AWS_SECRET_ACCESS_KEY" } },
      archiveTimeout: "5m",
      compression: "none",
      replicaBootstrap: "primary",
      schedule: "0 3 * * *",
      retention: "30d",
      target: "prefer-standby",
    });
    expect(spec.bootstrap.recovery?.target).toEqual({ time: "2026-12-05T10:00:00Z", inclusive: true });
    const bad: [unknown, string][] = [
      [{ backup: { destination: { ...destination, bucket: "A_B" } } }, "spec.backup.destination.bucket"],
      [{ backup: { destination: { ...destination, endpoint: "ftp://x" } } }, "spec.backup.destination.endpoint"],
      [{ backup: { destination, schedule: "every day" } }, "spec.backup.schedule"],
      [{ backup: { destination, retention: "30 days" } }, "spec.backup.retention"],
      [{ bootstrap: { recovery: { source: destination, target: { time: "yesterday" } } } }, "spec.bootstrap.recovery.target.time"],
      [{ bootstrap: { recovery: { source: destination, target: { lsn: "0/1", name: "before" } } } }, "spec.bootstrap.recovery.target"],
    ];
    for (const [extra, path] of bad) {
      expect(errorOf(() => parsePostgresClusterSpec({ ...minimalCluster, ...(extra as object) })).message).toContain(path);
    }
  });

  it("accepts an image instead of a version", () => {
    expect(parsePostgresClusterSpec({ image: "postgres:17", storage: { size: "1Gi" } }).image).toBe("postgres:17");
  });

  it.each([
    [{ ...minimalCluster, instances: 0 }, "spec.instances", "must be an integer from 1 to 9"],
    [{ ...minimalCluster, instances: 2.5 }, "spec.instances", "must be an integer from 1 to 9"],
    [{ ...minimalCluster, postgresVersion: 12 }, "spec.postgresVersion", "must be an integer from 14 to 18"],
    [{ storage: { size: "1Gi" } }, "spec.postgresVersion", "postgresVersion (14-18) or image must be set"],
    [{ ...minimalCluster, storage: { size: "ten gigs" } }, "spec.storage.size", "must be a Kubernetes quantity such as 10Gi"],
    [{ ...minimalCluster, storage: {} }, "spec.storage.size", "expected string"],
    [{ ...minimalCluster, primaryUpdateStrategy: "manual" }, "spec.primaryUpdateStrategy", 'must be one of "unsupervised", "supervised"'],
    [{ ...minimalCluster, parameters: { work_mem: 8 } }, "spec.parameters.work_mem", "expected string"],
    [{ ...minimalCluster, bootstrap: { database: "Orders" } }, "spec.bootstrap.database", "lowercase PostgreSQL identifier"],
    [{ ...minimalCluster, synchronous: { number: 1 } }, "spec.synchronous", "synchronous.number must be less than instances"],
    [{ ...minimalCluster, resources: { limits: { memory: "lots" } } }, "spec.resources.limits.memory", "Kubernetes quantity"],
    [{ ...minimalCluster, parameters: { primary_conninfo: "host=x" } }, "spec.parameters", "parameters may not set primary_conninfo"],
    [{ ...minimalCluster, parameters: { restore_command: "cp /archive/%f %p" } }, "spec.parameters", "hot_standby, restore_command (the operator manages them)"],
    [{ ...minimalCluster, failoverGrace: "5 seconds" }, "spec.failoverGrace", "must be a duration such as 30s"],
  ])("rejects %j at %s", (spec, path, message) => {
    const err = errorOf(() => parsePostgresClusterSpec(spec));
    expect(err.propertyPath).toBe(path);
    expect(err.message).toContain(message);
    expect(err.message).toContain(path);
  });

  it("mentions further issues and keeps the zod error as cause", () => {
    const err = errorOf(() => parsePostgresClusterSpec({ instances: 0, storage: { size: "x" } }));
    expect(err.message).toMatch(/and 2 more: spec\.storage\.size, spec\.postgresVersion|and 1 more/);
    expect(err.cause).toBeDefined();
  });

  it("uses the given prefix", () => {
    expect(errorOf(() => parsePostgresClusterSpec({ ...minimalCluster, instances: 0 }, "args")).propertyPath).toBe("args.instances");
  });
});

describe("parsePostgresSchemaSpec", () => {
  const secret = { secretRef: { name: "orders-db" } };
  const sql = { sql: "CREATE TABLE t (id int);" };

  it("applies every default", () => {
    expect(parsePostgresSchemaSpec({ connection: secret, desired: sql })).toEqual({
      connection: { secretRef: { name: "orders-db", key: "uri" } },
      desired: sql,
      allowHazards: [],
      online: true,
      driftCheckInterval: "5m",
      renames: [],
      allSchemas: false,
    });
    expect(parsePostgresSchemaSpec({ connection: secret, desired: { configMapRef: { name: "m" } } }).desired).toEqual({
      configMapRef: { name: "m", key: "schema.sql" },
    });
    expect(parsePostgresSchemaSpec({ connection: secret, desired: sql, renames: [{ kind: "table", from: "a", to: "b" }] }).renames).toEqual([
      { kind: "table", schema: "public", from: "a", to: "b" },
    ]);
  });

  it("accepts a list of schemas, or allSchemas", () => {
    expect(parsePostgresSchemaSpec({ connection: secret, desired: sql, schemas: ["app"] }).schemas).toEqual(["app"]);
    expect(parsePostgresSchemaSpec({ connection: secret, desired: sql, allSchemas: true }).allSchemas).toBe(true);
  });

  it("accepts allowHazards: [all]", () => {
    expect(parsePostgresSchemaSpec({ connection: secret, desired: sql, allowHazards: ["all"] }).allowHazards).toEqual(["all"]);
  });

  it.each([
    [{ connection: { ...secret, clusterRef: { name: "c" } }, desired: sql }, "spec.connection", "exactly one of secretRef or clusterRef"],
    [{ connection: {}, desired: sql }, "spec.connection", "exactly one of secretRef or clusterRef"],
    [{ connection: secret, desired: {} }, "spec.desired", "exactly one of sql or configMapRef"],
    [{ connection: secret, desired: sql, allowHazards: ["DROP_EVERYTHING"] }, "spec.allowHazards[0]", '"DATA_LOSS_DROP_TABLE"'],
    [{ connection: secret, desired: sql, allowHazards: ["all", "INDEX_BUILD"] }, "spec.allowHazards", "cannot be combined"],
    [{ connection: secret, desired: sql, driftCheckInterval: "5 min" }, "spec.driftCheckInterval", "duration such as 30s"],
    [{ connection: secret, desired: sql, schemas: ["app"], allSchemas: true }, "spec.allSchemas", "cannot be combined"],
    [{ connection: secret, desired: sql, renames: [{ kind: "column", from: "a", to: "b" }] }, "spec.renames[0].table", "table is required"],
    [{ connection: secret, desired: sql, renames: [{ kind: "table", table: "t", from: "a", to: "b" }] }, "spec.renames[0].table", "not allowed"],
    [{ connection: { secretRef: { name: "Bad_Name" } }, desired: sql }, "spec.connection.secretRef.name", "Kubernetes object name"],
  ])("rejects %j at %s", (spec, path, message) => {
    const err = errorOf(() => parsePostgresSchemaSpec(spec));
    expect(err.propertyPath).toBe(path);
    expect(err.message).toContain(message);
  });
});

describe("parsePostgresUpgradeSpec", () => {
  const side = (name: string, v: number) => ({ clusterRef: { name }, postgresVersion: v });
  it("accepts an upgrade to a newer major on another cluster", () => {
    expect(parsePostgresUpgradeSpec({ from: side("blue", 16), to: side("green", 17) })).toEqual({ from: side("blue", 16), to: side("green", 17) });
    // The gate and the action are optional; when given they pass through.
    expect(parsePostgresUpgradeSpec({ from: side("blue", 16), to: side("green", 17), until: "synchronized", action: "rollback" })).toMatchObject({ until: "synchronized", action: "rollback" });
  });
  it.each([
    [{ from: side("blue", 17), to: side("green", 17) }, "spec.to", "greater than"],
    [{ from: side("blue", 16), to: side("blue", 17) }, "spec.to", "must differ"],
    [{ from: side("blue", 13), to: side("green", 17) }, "spec.from.postgresVersion", "from 14 to 18"],
    [{ from: side("blue", 16), to: side("green", 17), action: "explode" }, "spec.action", "rollback"],
    [{ from: side("blue", 16), to: side("green", 17), until: "replicating" }, "spec.until", "synchronized"],
  ])("rejects %j at %s", (spec, path, message) => {
    const err = errorOf(() => parsePostgresUpgradeSpec(spec));
    expect(err.propertyPath).toBe(path);
    expect(err.message).toContain(message);
  });
});

describe("parsePostgresClusterStatus and isReadyFor", () => {
  const ready = (gen: number, status = "True") => ({
    type: "Ready",
    status,
    reason: "ClusterHealthy",
    lastTransitionTime: "2026-11-21T00:00:00Z",
    observedGeneration: gen,
  });

  it("treats a missing status as empty", () => {
    expect(parsePostgresClusterStatus(undefined)).toEqual({});
    expect(isReadyFor(parsePostgresClusterStatus(undefined), 1)).toBe(false);
  });

  it("is ready only for the generation the condition observed", () => {
    const status = parsePostgresClusterStatus({ observedGeneration: 2, conditions: [ready(2)] });
    expect(isReadyFor(status, 2)).toBe(true);
    expect(isReadyFor(status, 3)).toBe(false);
    expect(isReadyFor(parsePostgresClusterStatus({ observedGeneration: 2, conditions: [ready(2, "False")] }), 2)).toBe(false);
    expect(isReadyFor(parsePostgresClusterStatus({ observedGeneration: 1, conditions: [ready(2)] }), 2)).toBe(false);
    expect(isReadyFor(parsePostgresClusterStatus({ conditions: [ready(2)] }), 2)).toBe(true);
  });

  it("rejects an unknown condition type", () => {
    expect(errorOf(() => parsePostgresClusterStatus({ conditions: [{ ...ready(1), type: "Happy" }] })).propertyPath).toBe(
      "status.conditions[0].type",
    );
  });
});

describe("helpers", () => {
  it("formats paths", () => {
    expect(formatPath("spec", ["renames", 0, "table"])).toBe("spec.renames[0].table");
    expect(formatPath("", ["a"])).toBe("a");
  });

  it("converts durations to milliseconds", () => {
    expect(durationToMs("5m")).toBe(300_000);
    expect(durationToMs("1h30m")).toBe(5_400_000);
    expect(durationToMs("250ms")).toBe(250);
    expect(() => durationToMs("5 minutes")).toThrow(RangeError);
  });
});
