/**
 * The client authentication file (`pg_hba.conf`) of every instance of a `PostgresCluster`.
 * Setpoint writes it itself, into the cluster's configuration ConfigMap, and the instance's
 * server reads it from there (`hba_file`), so nothing the operator relies on comes from an
 * image's entrypoint (ADR 0016). First match wins:
 *
 * 1. Local (Unix socket) connections: trust. The socket lives inside the container; the image's
 *    own initialization and readiness checks use it.
 * 2. Replication connections only as the cluster's replication role, with a SCRAM password that
 *    only the cluster's Secret holds (its pods read it); any other role's replication
 *    connection is rejected, the superuser's included.
 * 3. Every other connection over TCP: SCRAM passwords (the operator as the superuser, the
 *    application as its owner). No `trust` and no `md5` over the network.
 *
 * With `tls` (issue 19, ADR 0031) every network rule is `hostssl`, and there is no `host` rule at
 * all: a plaintext connection matches nothing and the server refuses it ("no pg_hba.conf entry
 * ... no encryption"). Replication is for the replication role with a client certificate of the
 * cluster's authority (`cert`: its common name must be the role); the superuser comes over the
 * network only with a client certificate (the operator's), never with a password, unless
 * `superuserPasswordOverNetwork`; everyone else uses SCRAM. The replication role reaches a
 * database (a logical subscription of a major upgrade, ADR 0042) with its certificate only, never
 * its password: it may read every table there (`pg_read_all_data`, granted for an upgrade's copy).
 */

/** Name of the file in the configuration volume. */
export const HBA_FILE = "pg_hba.conf";

/** What an instance's `pg_hba.conf` depends on. */
export interface HbaOptions {
  /** The role replicas stream and clone as. */
  readonly replicationUser: string;
  /** Only TLS connections, certificates for replication and the superuser (see the module documentation). @default false */
  readonly tls?: boolean;
  /** The superuser's name (with `tls`). @default postgres */
  readonly superuser?: string;
  /** With `tls`: the superuser may also log in over the network with its password (SCRAM). @default false */
  readonly superuserPasswordOverNetwork?: boolean;
}

/** A role name as a pg_hba.conf token: quoted unless it is plain lower-case (ours are). */
function hbaToken(name: string): string {
  if (/^[a-z_][a-z0-9_]*$/.test(name) && !["all", "replication", "samerole", "samegroup", "sameuser"].includes(name)) return name;
  if (/["\n\r]/.test(name)) throw new TypeError(`a pg_hba.conf role name cannot contain quotes or line breaks: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/**
 * The contents of an instance's `pg_hba.conf` (see the module documentation). Pure.
 * @throws {TypeError} when the replication role's name cannot be written in the file.
 */
export function instanceHba(options: HbaOptions): string {
  const rows: [string, string, string, string, string][] = options.tls
    ? [
        ["local", "all", "all", "", "trust"],
        ["hostssl", "replication", hbaToken(options.replicationUser), "all", "cert"],
        ["hostssl", "replication", "all", "all", "reject"],
        ["hostssl", "all", hbaToken(options.replicationUser), "all", "cert"],
        ["hostssl", "all", hbaToken(options.superuser ?? "postgres"), "all", options.superuserPasswordOverNetwork ? "scram-sha-256" : "cert"],
        ["hostssl", "all", "all", "all", "scram-sha-256"],
      ]
    : [
        ["local", "all", "all", "", "trust"],
        ["host", "replication", hbaToken(options.replicationUser), "all", "scram-sha-256"],
        ["host", "replication", "all", "all", "reject"],
        ["host", "all", "all", "all", "scram-sha-256"],
      ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join("  "));
  return ["# Written by Setpoint for this PostgresCluster's instances; edits are overwritten.", "# TYPE  DATABASE  USER  ADDRESS  METHOD", ...lines, ""].join("\n");
}
