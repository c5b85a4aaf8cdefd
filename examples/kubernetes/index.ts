// Setpoint on Kubernetes: installs the operator (CRDs, namespace, RBAC, Deployment), a Secret
// holding a database URL, and a `PostgresSchema` whose desired state the operator applies and
// then keeps converged, re-checking the database for drift every few seconds.
//
// Config:
//   kubeconfig (secret)    kubeconfig content of the target cluster
//   databaseUrl (secret)   postgres://user:password@host:port/database the schema is applied to
//   operatorImage          operator image for the Deployment (default setpoint-operator:dev)
//   namespace              namespace of the Secret and the PostgresSchema (default "default")
//
// `npm run demo:kubernetes` runs this against a bare API server (etcd + kube-apiserver, no
// kubelet, scheduler or controller-manager) with the operator as a local process. There the
// Deployment is an inert object: nothing schedules its pod, so `skipAwait` keeps Pulumi from
// waiting for it to become available. It is installed anyway so the program is the one you
// would point at a real cluster (where you would not also run a local operator).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Operator } from "setpoint/components";

const config = new pulumi.Config();
const namespace = config.get("namespace") ?? "default";
const provider = new k8s.Provider("cluster", { kubeconfig: config.requireSecret("kubeconfig") });

const operator = new Operator(
  "setpoint",
  { image: config.get("operatorImage") ?? "setpoint-operator:dev", skipAwait: true },
  { providers: [provider] },
);

const secret = new k8s.core.v1.Secret(
  "shop-db",
  { metadata: { name: "shop-db", namespace }, stringData: { uri: config.requireSecret("databaseUrl") } },
  { provider },
);

// Re-creating a dropped index on an existing table is the INDEX_BUILD hazard: allowed here, so the
// operator undoes that drift unattended (online mode builds it CONCURRENTLY, without a write lock).
const schema = new k8s.apiextensions.CustomResource(
  "shop-schema",
  {
    apiVersion: "setpoint.dev/v1alpha1",
    kind: "PostgresSchema",
    metadata: { name: "shop", namespace },
    spec: {
      connection: { secretRef: { name: secret.metadata.name, key: "uri" } },
      desired: {
        sql: `CREATE TABLE customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_created_at_idx ON customers (created_at);
`,
      },
      allowHazards: ["INDEX_BUILD"],
      online: true,
      driftCheckInterval: "5s",
    },
  },
  { provider, dependsOn: [...operator.crds, secret] },
);

export const operatorNamespace = operator.namespace;
export const crdNames = operator.crdNames;
export const schemaName = schema.metadata.name;
