// Backups and point-in-time recovery: a `PostgresCluster` that archives its WAL continuously to
// an S3-compatible bucket (base backups are taken by `PostgresBackup` resources or
// `backup.schedule`), and — once `restoreTo` is set — a NEW `PostgresCluster` restored from the
// first one's backups to that time. `pulumi up` returns once the restored cluster is Ready: it
// replayed the archive to the target, was promoted on a new timeline, and archives to its own
// prefix (the source's objects are never written by it).
//
// The Setpoint operator must already run against the cluster (examples/kubernetes).
//
// Config:
//   kubeconfig (secret)         kubeconfig content of the target cluster
//   namespace                   namespace of the clusters (default "default")
//   s3Endpoint                  S3 endpoint URL reachable from the pods, e.g. https://s3.eu-west-1.amazonaws.com
//   s3Bucket                    bucket (must exist)
//   s3AccessKeyId               access key id
//   s3SecretAccessKey (secret)  secret access key (kept in a Kubernetes Secret, never in a spec or status)
//   restoreTo                   RFC 3339 time: adds the cluster "restored", recovered to that time
//
// `npm run demo:backup` runs this against a local API server, the operator, PostgreSQL servers and
// a local S3 server (SeaweedFS), and restores to a moment before a table was dropped.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PostgresCluster } from "setpoint/components";

const config = new pulumi.Config();
const namespace = config.get("namespace") ?? "default";
const kubeconfig = config.requireSecret("kubeconfig");
const provider = new k8s.Provider("target", { kubeconfig });

// The credentials live in a Secret the clusters name; the pods get them as environment variables.
const credentials = new k8s.core.v1.Secret(
  "s3-credentials",
  {
    metadata: { name: "s3-credentials", namespace },
    stringData: { AWS_ACCESS_KEY_ID: config.require("s3AccessKeyId"), AWS_SECRET_ACCESS_KEY: config.requireSecret("s3SecretAccessKey") },
  },
  { provider },
);
const bucket = { endpoint: config.require("s3Endpoint"), bucket: config.require("s3Bucket"), credentials: { secretName: "s3-credentials" } };

const shop = new PostgresCluster(
  "shop",
  {
    namespace,
    postgresVersion: 17,
    instances: 2,
    synchronous: { number: 1 },
    storage: { size: "1Gi" },
    // The server records each transaction's commit time (the demo compares by it).
    parameters: { track_commit_timestamp: "on" },
    // WAL to s3://<bucket>/<namespace>/shop, a segment at the latest every 10 s.
    backup: { destination: bucket, archiveTimeout: "10s" },
    readyTimeout: "5m",
    kubeconfig,
  },
  { providers: [provider], dependsOn: [credentials] },
);
export const shopHost = shop.readWriteHost;

const restoreTo = config.get("restoreTo");
export const restoredHost = restoreTo
  ? new PostgresCluster(
      "restored",
      {
        namespace,
        postgresVersion: 17,
        instances: 1,
        storage: { size: "1Gi" },
        // The newest base backup that ends before the target, then the archived WAL up to it.
        bootstrap: { recovery: { source: { ...bucket, prefix: `${namespace}/shop` }, target: { time: restoreTo } } },
        // Its own prefix: <namespace>/restored.
        backup: { destination: bucket },
        readyTimeout: "10m",
        kubeconfig,
      },
      { providers: [provider], dependsOn: [credentials, shop] },
    ).readWriteHost
  : undefined;
