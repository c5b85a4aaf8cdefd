// A highly available PostgreSQL cluster and the schema of its application database: a
// `PostgresCluster` of three instances (a primary and two streaming replicas, one of which
// confirms every commit, so a failover loses no acknowledged write) and a `Schema` applied to
// the primary once the operator reports the cluster Ready.
//
// The Setpoint operator must already run against the cluster (its CRDs installed, e.g. by
// examples/kubernetes); this program only writes the desired state.
//
// Config:
//   kubeconfig (secret)   kubeconfig content of the target cluster
//   namespace             namespace of the cluster (default "default")
//   maxConnections        max_connections of every instance (default: the server's); changing it
//                         needs a restart, which the operator rolls out: replicas first, then a
//                         switchover
//   readWriteAddress      host:port at which the machine running Pulumi reaches the cluster's rw
//                         Service (e.g. a `kubectl port-forward svc/shop-rw 5432`). Unset, the
//                         Schema connects by the URL in the cluster's application Secret, whose
//                         host is the Service's in-cluster name, verify-full against its ca.crt. "clusterIP": the rw
//                         Service's ClusterIP, port 5432 (Pulumi runs on a node of the cluster,
//                         where kube-proxy's rules reach ClusterIPs).
//
// `npm run demo:cluster` runs this against a real node (kubelet + containerd) with the operator
// deployed in its pod when the machine can run one, else against a local API server whose "node"
// runs each pod's PostgreSQL as a local process, with the operator as a local process too.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PostgresCluster, Schema, type SchemaArgs } from "setpoint/components";

const config = new pulumi.Config();
const namespace = config.get("namespace") ?? "default";
const kubeconfig = config.requireSecret("kubeconfig");
const provider = new k8s.Provider("target", { kubeconfig });
const maxConnections = config.get("maxConnections");

const cluster = new PostgresCluster(
  "shop",
  {
    namespace,
    postgresVersion: 17,
    instances: 3,
    synchronous: { number: 1 },
    storage: { size: "1Gi" },
    parameters: maxConnections === undefined ? {} : { max_connections: maxConnections },
    bootstrap: { database: "shop", owner: "shop" },
    readyTimeout: "5m",
    kubeconfig,
  },
  { providers: [provider] },
);

/**
 * The application Secret's credentials, reached at the host and port of `address` instead of the
 * Service's: TLS verify-full against the Secret's `ca.crt`, the certificate checked for the rw
 * Service's name (the cluster accepts TLS only).
 */
function viaAddress(address: string): SchemaArgs["connection"] {
  const [host, port] =
    address === "clusterIP"
      ? [
          k8s.core.v1.Service.get("shop-rw", pulumi.interpolate`${cluster.namespace}/${cluster.readWriteHost.apply((h: string) => h.split(".")[0]!)}`, { provider, dependsOn: [cluster] }).spec.clusterIP,
          "5432",
        ]
      : address.split(":");
  const secret = k8s.core.v1.Secret.get("shop-app", pulumi.interpolate`${cluster.namespace}/${cluster.secretName}`, { provider });
  const field = (key: string) => secret.data.apply((d) => Buffer.from(d[key] ?? "", "base64").toString("utf8"));
  return {
    host: host!,
    port: Number(port ?? 5432),
    user: field("username"),
    password: field("password"),
    database: field("dbname"),
    ca: field("ca.crt"),
    servername: cluster.readWriteHost,
  };
}

const address = config.get("readWriteAddress");
const schema = new Schema("shop-schema", {
  connection: address ? viaAddress(address) : { secretRef: { name: cluster.secretName, namespace }, kubeconfig },
  sql: `CREATE TABLE orders (
  id bigint PRIMARY KEY,
  placed_at timestamptz NOT NULL DEFAULT now(),
  note text
);
CREATE INDEX orders_placed_at_idx ON orders (placed_at);
`,
});

export const clusterName = cluster.clusterName;
export const readWriteHost = cluster.readWriteHost;
export const secretName = cluster.secretName;
export const planHash = schema.planHash;
