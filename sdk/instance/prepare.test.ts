import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { initdbOptions, initdbSecretDir, InstanceError, podMarkerPath, preparation } from "./prepare";
import { instanceSettings, withoutSecrets } from "./settings";
import { postgresArgs } from "./supervise";

describe("preparation", () => {
  const state = (hasData: boolean, firstStartInPod: boolean, foreignFiles = false) => ({ hasData, firstStartInPod, foreignFiles });
  it("follows the table: initdb, clone, standby, start", () => {
    expect(preparation("primary", state(false, true), "/d").kind).toBe("initdb");
    expect(preparation("replica", state(false, true), "/d").kind).toBe("clone");
    expect(preparation("replica", state(false, false), "/d").kind).toBe("clone");
    expect(preparation("replica", state(true, true), "/d").kind).toBe("standby");
    expect(preparation("replica", state(true, false), "/d").kind).toBe("start");
    expect(preparation("primary", state(true, true), "/d").kind).toBe("start");
    expect(preparation("primary", state(true, false), "/d").kind).toBe("start");
  });
  it("refuses files that are not a data directory, naming the path", () => {
    expect(() => preparation("primary", state(false, true, true), "/v/pgdata")).toThrow(InstanceError);
    expect(() => preparation("replica", state(false, true, true), "/v/pgdata")).toThrow(/\/v\/pgdata holds files but no PG_VERSION/);
  });
  it("gives initdb's password file a private directory per PGDATA that the next start empties (a manager killed during initdb leaves no password behind)", () => {
    const pgdata = `/volumes/prepare-test-${process.pid}/pgdata`;
    const first = initdbSecretDir(pgdata);
    try {
      expect(statSync(first).mode & 0o777).toBe(0o700);
      writeFileSync(join(first, "pwfile"), "the superuser's password");
      // The next start for the same PGDATA: the same directory, emptied.
      expect(initdbSecretDir(pgdata)).toBe(first);
      expect(readdirSync(first)).toEqual([]);
      // Another data directory on the same host: its own directory, this one untouched.
      writeFileSync(join(first, "pwfile"), "still in use");
      const other = initdbSecretDir(`${pgdata}-2`);
      expect(other).not.toBe(first);
      expect(existsSync(join(first, "pwfile"))).toBe(true);
      rmSync(other, { recursive: true, force: true });
    } finally {
      rmSync(first, { recursive: true, force: true });
    }
  });
  it("keeps the pod marker beside PGDATA, on the volume", () => {
    expect(podMarkerPath("/var/lib/postgresql/data/pgdata")).toBe("/var/lib/postgresql/data/.setpoint-pod-pgdata");
  });
  it("chooses initdb options: checksums, UTF8, C.UTF-8, trust only on the local socket", () => {
    expect(initdbOptions("postgres")).toEqual([
      "--username",
      "postgres",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--data-checksums",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
      "--no-instructions",
    ]);
  });
});

describe("instanceSettings", () => {
  const base = { PGDATA: "/data/pgdata", SETPOINT_POSTGRES_MAJOR: "17", SETPOINT_ROLE: "primary" };
  it("reads a primary's settings with their defaults", () => {
    expect(instanceSettings(base)).toEqual({
      pgdata: "/data/pgdata",
      major: 17,
      role: "primary",
      podUid: undefined,
      superuser: "postgres",
      superuserPassword: undefined,
      source: undefined,
      port: 5432,
      listenAddresses: "*",
      socketDir: "/tmp",
      initialConf: undefined,
      managed: { runtimeDir: "/tmp/setpoint", hbaSource: undefined, tlsServerDir: undefined, tlsClientDir: undefined, syncIntervalMs: 10_000 },
      replicaBootstrap: "primary",
    });
  });
  it("bootstraps replicas from the object store only when asked and when the cluster archives there; refuses anything else by name", () => {
    const destination = JSON.stringify({ endpoint: "http://10.0.0.1:8333", bucket: "backups", prefix: "ns/c" });
    expect(instanceSettings({ ...base, SETPOINT_BACKUP_DESTINATION: destination, SETPOINT_REPLICA_BOOTSTRAP: "object-store" }).replicaBootstrap).toBe("object-store");
    expect(() => instanceSettings({ ...base, SETPOINT_REPLICA_BOOTSTRAP: "object-store" })).toThrow(/SETPOINT_REPLICA_BOOTSTRAP=object-store needs SETPOINT_BACKUP_DESTINATION/);
    expect(() => instanceSettings({ ...base, SETPOINT_REPLICA_BOOTSTRAP: "s3" })).toThrow(/SETPOINT_REPLICA_BOOTSTRAP must be "primary" or "object-store", got "s3"/);
  });
  it("reads the files the manager keeps, and a replica's TLS to its source (verify-full, client certificate)", () => {
    const tls = {
      SETPOINT_HBA_SOURCE: "/etc/setpoint/pg_hba.conf",
      SETPOINT_TLS_SERVER_DIR: "/etc/setpoint/tls/server",
      SETPOINT_TLS_CLIENT_DIR: "/etc/setpoint/tls/replication",
      SETPOINT_RUNTIME_DIR: "/tmp/run",
      SETPOINT_SYNC_INTERVAL_MS: "500",
    };
    expect(instanceSettings({ ...base, ...tls }).managed).toEqual({
      runtimeDir: "/tmp/run",
      hbaSource: "/etc/setpoint/pg_hba.conf",
      tlsServerDir: "/etc/setpoint/tls/server",
      tlsClientDir: "/etc/setpoint/tls/replication",
      syncIntervalMs: 500,
    });
    const replica = { ...base, ...tls, SETPOINT_ROLE: "replica", SETPOINT_PRIMARY_HOST: "10.0.0.7", SETPOINT_REPLICATION_USER: "streaming_replica", SETPOINT_REPLICATION_PASSWORD: "s3cret", SETPOINT_REPLICATION_SLOT: "orders_2" };
    expect(() => instanceSettings(replica)).toThrow(/SETPOINT_TLS_SERVER_NAME is not set/);
    expect(instanceSettings({ ...replica, SETPOINT_TLS_SERVER_NAME: "orders-rw.shop.svc" }).source?.tls).toEqual({
      serverName: "orders-rw.shop.svc",
      caFile: "/tmp/run/ca.crt",
      certFile: "/tmp/run/replication.crt",
      keyFile: "/tmp/run/replication.key",
    });
    expect(() => instanceSettings({ ...replica, SETPOINT_TLS_CLIENT_DIR: "" })).toThrow(/a replica over TLS needs both SETPOINT_TLS_SERVER_DIR .* and SETPOINT_TLS_CLIENT_DIR/);
    expect(() => instanceSettings({ ...base, SETPOINT_HBA_SOURCE: "pg_hba.conf" })).toThrow(/SETPOINT_HBA_SOURCE must be an absolute path/);
    expect(() => instanceSettings({ ...base, SETPOINT_SYNC_INTERVAL_MS: "5" })).toThrow(/SETPOINT_SYNC_INTERVAL_MS must be a whole number of milliseconds from 100/);
  });
  it("reads a replica's source; application_name defaults to the slot", () => {
    const s = instanceSettings({
      ...base,
      SETPOINT_ROLE: "replica",
      PGPORT: "6000",
      SETPOINT_PRIMARY_HOST: "10.0.0.7",
      SETPOINT_REPLICATION_USER: "streaming_replica",
      SETPOINT_REPLICATION_PASSWORD: "s3cret",
      SETPOINT_REPLICATION_SLOT: "orders_2",
    });
    expect(s.source).toEqual({ host: "10.0.0.7", port: 6000, user: "streaming_replica", password: "s3cret", slot: "orders_2", applicationName: "orders_2" });
  });
  it("names the variable that is missing or wrong", () => {
    expect(() => instanceSettings({ ...base, PGDATA: "" })).toThrow(/PGDATA is not set/);
    expect(() => instanceSettings({ ...base, PGDATA: "rel" })).toThrow(/PGDATA must be an absolute path/);
    expect(() => instanceSettings({ ...base, SETPOINT_POSTGRES_MAJOR: "12" })).toThrow(/SETPOINT_POSTGRES_MAJOR must be one of 14, 15, 16, 17, 18, got "12"/);
    expect(() => instanceSettings({ ...base, PGPORT: "70000" })).toThrow(/PGPORT must be a TCP port/);
    expect(() => instanceSettings({ ...base, SETPOINT_ROLE: "replica", SETPOINT_PRIMARY_HOST: "h" })).toThrow(/SETPOINT_REPLICATION_SLOT is not set/);
  });
  it("never echoes a password", () => {
    const read = () =>
      instanceSettings({ ...base, SETPOINT_ROLE: "replica", SETPOINT_REPLICATION_SLOT: "s", SETPOINT_PRIMARY_HOST: "h", SETPOINT_REPLICATION_USER: "u", SETPOINT_REPLICATION_PASSWORD: "hunter2", PGPORT: "x" });
    expect(read).toThrow(/PGPORT/);
    expect(read).not.toThrow(/hunter2/);
    expect(withoutSecrets({ A: "1", SETPOINT_SUPERUSER_PASSWORD: "p", SETPOINT_REPLICATION_PASSWORD: "r", PGPASSWORD: "q" })).toEqual({ A: "1" });
  });
  it("reads a restore's target as written: a time keeps its microseconds and zone, an exclusive target says so", () => {
    const source = JSON.stringify({ endpoint: "http://10.0.0.1:8333", bucket: "backups", prefix: "shop/old" });
    const target = (t: object) => instanceSettings({ ...base, SETPOINT_RECOVERY_SOURCE: source, SETPOINT_RECOVERY_TARGET: JSON.stringify(t) }).recovery?.target;
    expect(target({ kind: "time", time: "2026-12-05T12:00:00.123456+02:00" })).toEqual({ kind: "time", time: "2026-12-05T12:00:00.123456+02:00" });
    expect(target({ kind: "time", time: "2026-12-05T10:00:00Z", inclusive: false })).toEqual({ kind: "time", time: "2026-12-05T10:00:00Z", inclusive: false });
    expect(target({ kind: "lsn", lsn: "0/1A2B3C4", inclusive: false })).toEqual({ kind: "lsn", lsn: "0/1A2B3C4", inclusive: false });
    expect(() => target({ kind: "time", time: "yesterday" })).toThrow(/SETPOINT_RECOVERY_TARGET/);
  });
});

describe("postgresArgs", () => {
  it("puts where the server listens first and the container's arguments last (they win)", () => {
    expect(postgresArgs({ pgdata: "/d", port: 5432, listenAddresses: "*", socketDir: "/tmp" }, ["-c", "hba_file=/etc/setpoint/pg_hba.conf"])).toEqual([
      "-D",
      "/d",
      "-c",
      "listen_addresses=*",
      "-c",
      "port=5432",
      "-c",
      "unix_socket_directories=/tmp",
      "-c",
      "hba_file=/etc/setpoint/pg_hba.conf",
    ]);
  });
});
