import { describe, expect, it } from "vitest";
import { parsePostgresClusterSpec } from "../../api/parse";
import { BackupRefused, chooseBackupSource, clusterBackupPrefix, clusterBackupSpec, servedRefusal } from "./controller";

const instance = (name: string, role: "primary" | "replica", ready: boolean, lagBytes?: number) => ({ name, role, ready, ...(lagBytes === undefined ? {} : { lagBytes }) });

describe("the instance a backup is taken from", () => {
  it("prefers the ready replica with the least lag, else the ready primary", () => {
    const status = { currentPrimary: "db-1", instances: [instance("db-1", "primary", true), instance("db-2", "replica", true, 5000), instance("db-3", "replica", true, 10)] };
    expect(chooseBackupSource(status, "prefer-standby")).toEqual({ name: "db-3", role: "replica" });
    expect(chooseBackupSource(status, "primary")).toEqual({ name: "db-1", role: "primary" });
    const noReplica = { currentPrimary: "db-1", instances: [instance("db-1", "primary", true), instance("db-2", "replica", false)] };
    expect(chooseBackupSource(noReplica, "prefer-standby")).toEqual({ name: "db-1", role: "primary" });
  });

  it("finds none while no instance is ready, or the ready primary is not the current one", () => {
    expect(chooseBackupSource(undefined, "prefer-standby")).toBeUndefined();
    expect(chooseBackupSource({ instances: [instance("db-1", "primary", false)] }, "primary")).toBeUndefined();
    expect(chooseBackupSource({ currentPrimary: "db-2", instances: [instance("db-1", "primary", true)] }, "primary")).toBeUndefined();
  });
});

describe("a cluster's backup configuration", () => {
  const base = { postgresVersion: 17, storage: { size: "1Gi" } };
  const backup = { destination: { endpoint: "http://127.0.0.1:8333", bucket: "backups", credentials: { secretName: "s3" } } };

  it("refuses a missing cluster and one without spec.backup, by name", () => {
    expect(() => clusterBackupSpec(undefined, "ns", "db")).toThrow(BackupRefused);
    expect(() => clusterBackupSpec(undefined, "ns", "db")).toThrow(/PostgresCluster ns\/db \(spec.cluster.name\) does not exist/);
    try {
      clusterBackupSpec({ spec: base }, "ns", "db");
      expect.unreachable();
    } catch (err) {
      expect((err as BackupRefused).reason).toBe("BackupNotConfigured");
      expect((err as Error).message).toMatch(/has no spec.backup: set spec.backup.destination/);
    }
  });

  it("keys a cluster's backups under its prefix, else <namespace>/<cluster>", () => {
    const spec = clusterBackupSpec({ spec: { ...base, backup } }, "ns", "db");
    expect(clusterBackupPrefix("ns", "db", spec)).toBe("ns/db");
    const own = parsePostgresClusterSpec({ ...base, backup: { destination: { ...backup.destination, prefix: "prod/db" } } });
    expect(clusterBackupPrefix("ns", "db", own)).toBe("prod/db");
  });
});

describe("a backup of a cluster served by its green", () => {
  it("is refused naming green, once the upgrade is finalized (its own instances are gone)", () => {
    const upgrade = { name: "db-to-18", green: "db-v18", from: 17, to: 18, phase: "finalized" };
    expect(servedRefusal("ns", "db", { upgrade })).toEqual({ reason: "ClusterServedByUpgrade", message: expect.stringMatching(/db-v18 \(PostgreSQL 18\) serves it since PostgresUpgrade db-to-18 was finalized.*Back up db-v18/) });
    expect(servedRefusal("ns", "db", { upgrade: { ...upgrade, phase: "switched" } })).toBeUndefined();
    expect(servedRefusal("ns", "db", undefined)).toBeUndefined();
  });
});
