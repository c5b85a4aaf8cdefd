import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { managedServerArgs, syncManagedFiles } from "./files";
import type { ManagedSources } from "./settings";

const root = mkdtempSync(join(tmpdir(), "setpoint-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the files the instance manager keeps", () => {
  const tlsDir = join(root, "server");
  mkdirSync(tlsDir);
  const sources: ManagedSources = { runtimeDir: join(root, "run"), hbaSource: join(root, "hba"), tlsServerDir: tlsDir, tlsClientDir: undefined, syncIntervalMs: 1000 };
  writeFileSync(sources.hbaSource!, "hostssl all all all scram-sha-256\n");
  for (const f of ["tls.crt", "tls.key", "ca.crt"]) writeFileSync(join(tlsDir, f), `${f} v1\n`, { mode: 0o644 });

  it("copies them privately (0700 directory, 0600 files), then writes only what differs from its source", () => {
    expect(syncManagedFiles(sources).map((f) => f.slice(sources.runtimeDir.length + 1))).toEqual(["pg_hba.conf", "server.crt", "server.key", "ca.crt"]);
    expect(statSync(sources.runtimeDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(sources.runtimeDir, "server.key")).mode & 0o777).toBe(0o600);
    expect(syncManagedFiles(sources)).toEqual([]);
    // A renewed key and a copy edited by hand: both written back from their sources.
    writeFileSync(join(tlsDir, "tls.key"), "tls.key v2\n");
    writeFileSync(join(sources.runtimeDir, "pg_hba.conf"), "host all all all trust\n");
    expect(syncManagedFiles(sources).map((f) => f.slice(sources.runtimeDir.length + 1))).toEqual(["pg_hba.conf", "server.key"]);
    expect(readFileSync(join(sources.runtimeDir, "pg_hba.conf"), "utf8")).toBe("hostssl all all all scram-sha-256\n");
  });

  it("names a source it cannot read", () => {
    expect(() => syncManagedFiles({ ...sources, hbaSource: join(root, "missing") })).toThrow(/missing cannot be read: the pod must mount it/);
  });

  it("runs the server on the copies: its hba file, TLS on, TLS 1.3 at least", () => {
    expect(managedServerArgs(sources)).toEqual([
      "-c",
      `hba_file=${sources.runtimeDir}/pg_hba.conf`,
      "-c",
      "ssl=on",
      "-c",
      `ssl_cert_file=${sources.runtimeDir}/server.crt`,
      "-c",
      `ssl_key_file=${sources.runtimeDir}/server.key`,
      "-c",
      `ssl_ca_file=${sources.runtimeDir}/ca.crt`,
      "-c",
      "ssl_min_protocol_version=TLSv1.3",
    ]);
    expect(managedServerArgs({ ...sources, hbaSource: undefined, tlsServerDir: undefined })).toEqual([]);
  });
});
