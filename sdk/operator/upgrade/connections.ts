/**
 * How the operator's upgrade reaches blue and green, and how their servers reach each other
 * (ADR 0042). Every connection is TLS verify-full against the cluster's authority (green's is
 * blue's, ADR 0035) and authenticates by certificate, never with a password over the network:
 *
 * - the engine's own sessions (operator → each side): the superuser with the operator's client
 *   certificate, the pod's address as the host and the rw Service's name as the verified name;
 * - a logical subscription (one side's server → the other's primary): the replication role with
 *   the replication certificate the subscriber's instance manager keeps in its runtime directory,
 *   `host=<verified name> hostaddr=<address>`. pg_hba lets that role into a database only with
 *   its certificate (sdk/instance/hba.ts), and the publisher grants it `pg_read_all_data` and
 *   `BYPASSRLS` for the subscription's initial copy (no more than a base backup already lets it read).
 */
import type { ClientBase } from "pg";
import type { ConnectionInput } from "../../postgres/connection";
import { quoteIdent } from "../../postgres/quote";
import { runtimeFiles } from "../../instance/settings";
import { REPLICATION_USER } from "../cluster/objects";
import type { SideEndpoint } from "./controller";

/** Connection fields (not a URL): what the engine's sessions and a subscription's conninfo take. */
export type SideConnection = Exclude<ConnectionInput, string>;

/**
 * The engine's session towards `e`: verify-full with the operator's certificate, no password —
 * unless the side's cluster lets the superuser in over the network with its password
 * (`spec.tls.superuserPasswordOverNetwork`): its `pg_hba.conf` then asks the superuser for SCRAM
 * instead of a certificate (one rule per role), so the password goes along. Pure.
 * @throws {Error} when the side's operator certificate is not readable yet (the cluster controller creates it before any pod).
 */
export function engineConnection(e: SideEndpoint, cluster: string): SideConnection {
  if (e.tls === undefined) throw new Error(`PostgresCluster ${cluster} has no operator certificate yet (its <cluster>-operator-tls Secret); the upgrade waits for the cluster controller to issue it`);
  return {
    host: e.host,
    port: e.port,
    user: "postgres",
    ...(e.passwordOverNetwork === true ? { password: e.password } : {}),
    database: e.database,
    sslmode: "verify-full",
    ca: e.tls.ca,
    servername: e.tls.serverName,
    cert: e.tls.cert,
    key: e.tls.key,
  };
}

/**
 * How the subscriber's server reaches `publisher` (a subscription's conninfo): the replication role
 * by certificate, the files as the subscriber's manager keeps them in `subscriberRuntimeDir`, the
 * publisher's verified name as `host` and its address as `hostaddr`. Pure.
 * @throws {Error} when the publisher's verified name is not known (no operator certificate yet).
 */
export function subscriptionConnection(publisher: SideEndpoint, cluster: string, subscriberRuntimeDir: string): SideConnection {
  if (publisher.tls === undefined) throw new Error(`PostgresCluster ${cluster} has no operator certificate yet; its verified name is unknown`);
  const f = runtimeFiles(subscriberRuntimeDir);
  return {
    host: publisher.host,
    servername: publisher.tls.serverName,
    port: publisher.port,
    user: REPLICATION_USER,
    database: publisher.database,
    sslmode: "verify-full",
    files: { sslrootcert: f.ca, sslcert: f.clientCert, sslkey: f.clientKey },
  };
}

/**
 * The server's runtime directory (where its manager keeps the authority and the replication
 * certificate): the directory of its `ssl_ca_file`, as `streamingConninfo` takes it.
 * @throws {Error} when the server runs without an authority file (not a TLS instance of a cluster).
 */
export async function runtimeDirOf(client: ClientBase, cluster: string): Promise<string> {
  const { rows } = await client.query<{ ca: string }>("SELECT current_setting('ssl_ca_file') AS ca");
  const ca = rows[0]?.ca ?? "";
  if (!ca.includes("/")) throw new Error(`PostgresCluster ${cluster}'s primary has no ssl_ca_file; its instance manager must run it with TLS (ADR 0035) before a subscription can verify the other side`);
  return ca.slice(0, ca.lastIndexOf("/"));
}

/**
 * Lets the replication role copy a publisher's tables (a subscription's initial copy reads them as
 * that role, row security included): `pg_read_all_data` (PostgreSQL 14+) and `BYPASSRLS`, without
 * which a table's policies would silently leave rows out of the copy. Idempotent (changes nothing
 * when both are there).
 */
export async function grantReplicationRead(client: ClientBase): Promise<void> {
  const role = quoteIdent(REPLICATION_USER);
  const { rows } = await client.query<{ reads: boolean; bypass: boolean }>(
    "SELECT pg_has_role(r.oid, 'pg_read_all_data', 'MEMBER') AS reads, r.rolbypassrls AS bypass FROM pg_roles r WHERE r.rolname = $1",
    [REPLICATION_USER],
  );
  const r = rows[0];
  if (r === undefined) throw new Error(`the replication role ${REPLICATION_USER} does not exist on this side; the cluster controller creates it with the cluster`);
  if (!r.reads) await client.query(`GRANT pg_read_all_data TO ${role}`);
  if (!r.bypass) await client.query(`ALTER ROLE ${role} BYPASSRLS`);
}
