import { describe, expect, it } from "vitest";
import { parsePostgresClusterSpec } from "../../api/parse";
import { appSecret, desiredParameters, instanceClaim, instanceConfigMap, instancePod, readWriteSelector, replicationSecret, service, type ClusterObject } from "./objects";

const cluster: ClusterObject = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "orders", namespace: "shop", uid: "u-1" } };
const spec = parsePostgresClusterSpec({ postgresVersion: 16, storage: { size: "5Gi", storageClass: "fast" }, parameters: { work_mem: "8MB", max_connections: "200" } });
const owner = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", name: "orders", uid: "u-1", controller: true, blockOwnerDeletion: true };

describe("cluster child objects", () => {
  it("writes the instance pod as for the official postgres image, owned by the cluster", () => {
    const pod = instancePod(cluster, spec, 1, "primary");
    expect(pod.metadata).toMatchObject({
      name: "orders-1",
      namespace: "shop",
      labels: { "setpoint.dev/cluster": "orders", "setpoint.dev/instance": "orders-1", "setpoint.dev/role": "primary" },
      ownerReferences: [owner],
    });
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe("postgres:16");
    // Setpoint's own client authentication file, from the cluster's ConfigMap (never the image's).
    expect(c.args).toEqual(["-c", "hba_file=/etc/setpoint/pg_hba.conf"]);
    expect(c.volumeMounts).toContainEqual({ name: "config", mountPath: "/etc/setpoint", readOnly: true });
    expect(pod.spec!.volumes).toContainEqual({ name: "config", configMap: { name: "orders-config" } });
    expect(c.env).toContainEqual({ name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-superuser", key: "password" } } });
    expect(c.env).toContainEqual({ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" });
    expect(pod.spec!.volumes).toContainEqual({ name: "pgdata", persistentVolumeClaim: { claimName: "orders-1" } });
  });

  it("clones a replica with a guarded pg_basebackup init container through its own slot (existing data becomes a standby); a primary has none", () => {
    expect(instancePod(cluster, spec, 1, "primary").spec!.initContainers).toBeUndefined();
    expect(() => instancePod(cluster, spec, 2, "replica")).toThrow(TypeError);
    const pod = instancePod(cluster, spec, 2, "replica", "10.0.0.7");
    expect(pod.metadata!.labels).toMatchObject({ "setpoint.dev/role": "replica" });
    expect(pod.spec!.initContainers).toEqual([
      {
        name: "clone",
        image: "postgres:16",
        command: ["sh", "-c", 'if [ -s "$PGDATA/PG_VERSION" ]; then touch "$PGDATA/standby.signal"; exit 0; fi; exec "$0" "$@"'],
        args: [
          "pg_basebackup",
          "-d",
          "host=10.0.0.7 port=5432 user=streaming_replica application_name=orders_2",
          "-D",
          "/var/lib/postgresql/data/pgdata",
          "-R",
          "-X",
          "stream",
          "-S",
          "orders_2",
          "--checkpoint=fast",
          "-w",
        ],
        env: [
          { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
          { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: "orders-replication", key: "password" } } },
        ],
        volumeMounts: [{ name: "pgdata", mountPath: "/var/lib/postgresql/data" }],
      },
    ]);
    expect(replicationSecret(cluster, "pw").stringData).toEqual({ username: "streaming_replica", password: "pw" });
  });

  it("writes the instances' pg_hba.conf into a ConfigMap owned by the cluster, with a hash of its content", () => {
    const cm = instanceConfigMap(cluster);
    expect(cm.metadata).toMatchObject({ name: "orders-config", namespace: "shop", labels: { "setpoint.dev/cluster": "orders" }, ownerReferences: [owner] });
    expect(Object.keys(cm.data!)).toEqual(["pg_hba.conf"]);
    const rules = cm
      .data!["pg_hba.conf"]!.split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split(/\s+/));
    expect(rules).toEqual([
      ["local", "all", "all", "trust"],
      ["host", "replication", "streaming_replica", "all", "scram-sha-256"],
      ["host", "replication", "all", "all", "reject"],
      ["host", "all", "all", "all", "scram-sha-256"],
    ]);
    expect(cm.metadata!.annotations!["setpoint.dev/config-hash"]).toMatch(/^[0-9a-f]{16}$/);
    expect(instanceConfigMap(cluster).metadata!.annotations).toEqual(cm.metadata!.annotations);
  });

  it("claims the spec's size and class per instance", () => {
    expect(instanceClaim(cluster, spec, 2)).toMatchObject({
      metadata: { name: "orders-2", ownerReferences: [owner] },
      spec: { resources: { requests: { storage: "5Gi" } }, storageClassName: "fast" },
    });
  });

  it("points the rw Service at exactly the primary's pod", () => {
    const svc = service(cluster, "orders-rw", readWriteSelector(cluster, "orders-1"));
    expect(svc.spec!.selector).toEqual({ "setpoint.dev/cluster": "orders", "setpoint.dev/instance": "orders-1" });
    expect(svc.metadata!.ownerReferences).toEqual([owner]);
  });

  it("puts the owner's credentials and the rw Service address in the app Secret", () => {
    const s = appSecret(cluster, spec, "p@ss/word");
    expect(s.stringData).toEqual({
      username: "app",
      password: "p@ss/word",
      dbname: "app",
      host: "orders-rw.shop.svc",
      port: "5432",
      uri: "postgresql://app:p%40ss%2Fword@orders-rw.shop.svc:5432/app",
    });
  });

  it("keeps parameters out of the pod (they are written with ALTER SYSTEM) and lets the spec override the defaults", () => {
    expect(desiredParameters({ ...spec, parameters: { work_mem: "8MB", wal_retrieve_retry_interval: "2s" } })).toEqual({ work_mem: "8MB", wal_retrieve_retry_interval: "2s" });
  });
});
