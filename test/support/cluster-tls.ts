// How tests reach a PostgresCluster's instances now that they accept TLS only (ADR 0035): every
// connection verifies the server against the cluster's authority and the rw Service's name
// (verify-full, the pod address as the host, the name as `servername`), and the superuser comes in
// with the operator's client certificate (pg_hba `cert`), as the operator itself does. One place
// for every test helper that connects to cluster pods.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { ClientConfig } from "pg";
import { clusterObjectNames } from "../../sdk/api/names";
import { clusterTlsNames, verifiedPoolerName, verifiedServerName } from "../../sdk/operator/cluster/tls";

/** node-postgres `ssl` options towards a cluster's instances. */
export interface ClusterSsl {
  readonly ca: string;
  readonly servername: string;
  readonly minVersion: "TLSv1.3";
  readonly rejectUnauthorized: true;
  readonly cert?: string;
  readonly key?: string;
}

async function secretData(core: CoreV1Api, namespace: string, name: string): Promise<Record<string, string>> {
  const raw = (await core.readNamespacedSecret({ name, namespace })).data ?? {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

/**
 * `ssl` for a connection to `cluster`'s instances: verify-full against its authority; with
 * `asSuperuser`, the operator's client certificate (the only way the superuser gets in over the network).
 */
export async function clusterSsl(core: CoreV1Api, namespace: string, cluster: string, asSuperuser: boolean): Promise<ClusterSsl> {
  const names = clusterTlsNames(cluster);
  const op = await secretData(core, namespace, asSuperuser ? names.operator : names.server);
  return {
    ca: op["ca.crt"]!,
    servername: verifiedServerName(cluster, namespace),
    minVersion: "TLSv1.3",
    rejectUnauthorized: true,
    ...(asSuperuser ? { cert: op["tls.crt"]!, key: op["tls.key"]! } : {}),
  };
}

/**
 * `ssl` for a connection to `cluster`'s PgBouncer (its pods or `<cluster>-pooler-rw`, ADR 0044):
 * TLS 1.3, verified against the cluster's authority (the app Secret's `ca.crt`, as an application
 * reads it) and the pooler Service's name.
 */
export async function poolerSsl(core: CoreV1Api, namespace: string, cluster: string): Promise<ClusterSsl> {
  const app = await secretData(core, namespace, clusterObjectNames(cluster).appSecret);
  return { ca: app["ca.crt"]!, servername: verifiedPoolerName(cluster, namespace), minVersion: "TLSv1.3", rejectUnauthorized: true };
}

/**
 * A client configuration for `user` at `host` (a pod address) of `cluster`: TLS verify-full, the
 * operator's certificate for the superuser, the password otherwise.
 */
export async function clusterClientConfig(
  core: CoreV1Api,
  namespace: string,
  cluster: string,
  target: { readonly host: string; readonly port?: number; readonly user?: string; readonly password?: string; readonly database?: string; readonly connectionTimeoutMillis?: number },
): Promise<ClientConfig> {
  const user = target.user ?? "postgres";
  return {
    host: target.host,
    port: target.port ?? 5432,
    user,
    database: target.database ?? "postgres",
    connectionTimeoutMillis: target.connectionTimeoutMillis ?? 5000,
    ...(target.password === undefined ? {} : { password: target.password }),
    ssl: await clusterSsl(core, namespace, cluster, user === "postgres"),
  };
}

/**
 * A connection factory for `cluster`'s superuser at `host` (a pod or Service address, or a function
 * giving one for each connection), over TLS with the operator's certificate: what `startWriter`
 * takes, and what a test's query helper calls. The Secrets are read for each connection.
 */
export function clusterSuperuser(
  core: CoreV1Api,
  namespace: string,
  cluster: string,
  host: string | (() => Promise<string>),
  port = 5432,
): () => Promise<ClientConfig> {
  return async () => clusterClientConfig(core, namespace, cluster, { host: typeof host === "string" ? host : await host(), port });
}
