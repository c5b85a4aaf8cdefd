/**
 * The files the instance manager owns for its server (issue 19, ADR 0031): the client
 * authentication file and the TLS material, copied from what the operator gives the pod (the
 * cluster's ConfigMap and Secrets, mounted read-only) into a private runtime directory (mode
 * 0700, files 0600: PostgreSQL and libpq refuse a private key others can read, and a Secret
 * volume's files are not the server user's).
 *
 * The copies are compared with their sources before the server starts and then every
 * `syncIntervalMs`: a renewed certificate (the kubelet updates a mounted Secret in place) or a
 * changed rule reaches the server by a reload (SIGHUP: PostgreSQL re-reads `pg_hba.conf` and its
 * TLS files; open connections stay), and a copy someone edited is put back the same way — drift is
 * corrected, never kept.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { InstanceError } from "./prepare";
import { runtimeFiles, type ManagedSources } from "./settings";

/** One kept file: where the server reads it and where it comes from. */
export interface ManagedFile {
  readonly target: string;
  readonly source: string;
}

/** The files `sources` asks the manager to keep. Pure. */
export function managedFiles(sources: ManagedSources): ManagedFile[] {
  const f = runtimeFiles(sources.runtimeDir);
  const out: ManagedFile[] = [];
  if (sources.hbaSource !== undefined) out.push({ target: f.hba, source: sources.hbaSource });
  if (sources.tlsServerDir !== undefined) {
    out.push({ target: f.serverCert, source: join(sources.tlsServerDir, "tls.crt") }, { target: f.serverKey, source: join(sources.tlsServerDir, "tls.key") }, { target: f.ca, source: join(sources.tlsServerDir, "ca.crt") });
  }
  if (sources.tlsClientDir !== undefined) {
    out.push({ target: f.clientCert, source: join(sources.tlsClientDir, "tls.crt") }, { target: f.clientKey, source: join(sources.tlsClientDir, "tls.key") });
  }
  return out;
}

/**
 * The server arguments for the kept files: `hba_file` on the copy, and with TLS `ssl = on`, TLS 1.3
 * at least, the copies of the certificate, key and authority (client certificates are verified
 * with it). Arguments, not `ALTER SYSTEM`: Setpoint owns them and they cannot be changed by SQL;
 * the files they name change, and a reload re-reads them. Pure.
 */
export function managedServerArgs(sources: ManagedSources): string[] {
  const f = runtimeFiles(sources.runtimeDir);
  const args: string[] = [];
  if (sources.hbaSource !== undefined) args.push("-c", `hba_file=${f.hba}`);
  if (sources.tlsServerDir !== undefined) {
    args.push("-c", "ssl=on", "-c", `ssl_cert_file=${f.serverCert}`, "-c", `ssl_key_file=${f.serverKey}`, "-c", `ssl_ca_file=${f.ca}`, "-c", "ssl_min_protocol_version=TLSv1.3");
  }
  return args;
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Makes every copy equal to its source (written atomically, mode 0600).
 * @returns the targets that were written (empty when everything matched).
 * @throws {InstanceError} when a source cannot be read (naming the file and the variable that points at it).
 */
export function syncManagedFiles(sources: ManagedSources): string[] {
  const files = managedFiles(sources);
  if (files.length === 0) return [];
  mkdirSync(sources.runtimeDir, { recursive: true, mode: 0o700 });
  chmodSync(sources.runtimeDir, 0o700);
  const changed: string[] = [];
  for (const { target, source } of files) {
    const want = readOrUndefined(source);
    if (want === undefined) {
      throw new InstanceError("start", `${source} cannot be read: the pod must mount it (SETPOINT_HBA_SOURCE, SETPOINT_TLS_SERVER_DIR and SETPOINT_TLS_CLIENT_DIR name what the operator gives the instance)`);
    }
    const have = existsSync(target) ? readOrUndefined(target) : undefined;
    if (have !== undefined && have.equals(want)) continue;
    const tmp = `${target}.new`;
    writeFileSync(tmp, want, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, target);
    changed.push(target);
  }
  return changed;
}
