import { describe, expect, it } from "vitest";
import { parsePostgresClusterSpec } from "../../api/parse";
import { appSecret, desiredParameters, instanceClaim, instanceConfigMap, instancePod, readWriteSelector, replicationSecret, service, streamingConninfo, synchronizesSlots, type ClusterObject } from "./objects";

const cluster: ClusterObject = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", metadata: { name: "orders", namespace: "shop", uid: "u-1" } };
const spec = parsePostgresClusterSpec({ postgresVersion: 16, storage: { size: "5Gi", storageClass: "fast" }, parameters: { work_mem: "8MB", max_connections: "200" } });
const owner = { apiVersion: "setpoint.dev/v1alpha1", kind: "PostgresCluster", name: "orders", uid: "u-1", controller: true, blockOwnerDeletion: true };

describe("cluster child objects", () => {
  it("runs Setpoint's instance manager in Setpoint's instance image of the major, owned by the cluster", () => {
    const pod = instancePod(cluster, spec, 1, "primary");
    expect(pod.metadata).toMatchObject({
      name: "orders-1",
      namespace: "shop",
      labels: { "setpoint.dev/cluster": "orders", "setpoint.dev/instance": "orders-1", "setpoint.dev/role": "primary" },
      ownerReferences: [owner],
    });
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe("setpoint-postgres:16");
    expect(instancePod(cluster, { ...spec, image: "registry.example/pg:16-x" }, 1, "primary").spec!.containers[0]!.image).toBe("registry.example/pg:16-x");
    expect(c.command).toEqual(["node", "dist/sdk/instance/main.js"]);
    // No server arguments: the manager adds hba_file and ssl on its own copies of the mounted files (ADR 0035).
    expect(c.args).toEqual(["run"]);
    // The certificate Secrets, read-only, 0440 (group = fsGroup): the manager reads them, no other user can.
    expect(c.volumeMounts).toContainEqual({ name: "tls-server", mountPath: "/etc/setpoint-tls/server", readOnly: true });
    expect(c.volumeMounts).toContainEqual({ name: "tls-replication", mountPath: "/etc/setpoint-tls/replication", readOnly: true });
    expect(pod.spec!.volumes).toContainEqual({ name: "tls-server", secret: { secretName: "orders-server-tls", defaultMode: 0o440 } });
    expect(pod.spec!.volumes).toContainEqual({ name: "tls-replication", secret: { secretName: "orders-replication-tls", defaultMode: 0o440 } });
    expect(JSON.stringify(pod)).not.toContain("orders-ca");
    expect(JSON.stringify(pod)).not.toContain("orders-operator-tls");
    // Readiness from the running manager's status endpoint (no process spawned per probe), on the pod's address.
    expect(c.readinessProbe?.exec).toBeUndefined();
    expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "status" });
    expect(c.readinessProbe?.periodSeconds).toBe(1);
    expect(c.ports).toContainEqual({ name: "status", containerPort: 8000, protocol: "TCP" });
    expect(c.volumeMounts).toContainEqual({ name: "config", mountPath: "/etc/setpoint", readOnly: true });
    expect(pod.spec!.volumes).toContainEqual({ name: "config", configMap: { name: "orders-config" } });
    expect(pod.spec!.volumes).toContainEqual({ name: "pgdata", persistentVolumeClaim: { claimName: "orders-1" } });
    expect(pod.spec!.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 26, runAsGroup: 26, fsGroup: 26, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.spec!.automountServiceAccountToken).toBe(false);
    const main = pod.spec!.containers[0]!;
    expect(main.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } });
    // A read-only root: every writable path is a volume (data, scratch for the socket and initdb's password file).
    expect(main.volumeMounts!.filter((m) => !m.readOnly).map((m) => m.mountPath).sort()).toEqual(["/tmp", "/var/lib/postgresql/data"]);
    expect(pod.spec!.volumes).toContainEqual({ name: "scratch", emptyDir: { sizeLimit: "64Mi" } });
    expect(pod.spec!.initContainers).toBeUndefined();
    expect(c.env).toEqual([
      { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
      { name: "SETPOINT_POSTGRES_MAJOR", value: "16" },
      { name: "SETPOINT_ROLE", value: "primary" },
      { name: "SETPOINT_POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
      { name: "SETPOINT_STATUS_ADDRESS", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "SETPOINT_STATUS_PORT", value: "8000" },
      { name: "PGPORT", value: "5432" },
      { name: "SETPOINT_SUPERUSER", value: "postgres" },
      // The password from the Secret, never a literal value or an argument.
      { name: "SETPOINT_SUPERUSER_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-superuser", key: "password" } } },
      { name: "SETPOINT_HBA_SOURCE", value: "/etc/setpoint/pg_hba.conf" },
      { name: "SETPOINT_PARAMETERS_SOURCE", value: "/etc/setpoint/parameters.json" },
      { name: "SETPOINT_TLS_SERVER_DIR", value: "/etc/setpoint-tls/server" },
      { name: "SETPOINT_TLS_CLIENT_DIR", value: "/etc/setpoint-tls/replication" },
      { name: "SETPOINT_TLS_SERVER_NAME", value: "orders-rw.shop.svc" },
      { name: "SETPOINT_RUNTIME_DIR", value: "/tmp/setpoint" },
    ]);
  });

  it("tells a replica's manager where to clone and stream from, through its own slot, with the replication Secret's password", () => {
    expect(() => instancePod(cluster, spec, 2, "replica")).toThrow(TypeError);
    const pod = instancePod(cluster, spec, 2, "replica", "10.0.0.7");
    expect(pod.metadata!.labels).toMatchObject({ "setpoint.dev/role": "replica" });
    expect(pod.spec!.initContainers).toBeUndefined();
    const env = pod.spec!.containers[0]!.env!;
    expect(env).toContainEqual({ name: "SETPOINT_ROLE", value: "replica" });
    expect(env.slice(15)).toEqual([
      { name: "SETPOINT_PRIMARY_HOST", value: "10.0.0.7" },
      { name: "SETPOINT_PRIMARY_PORT", value: "5432" },
      { name: "SETPOINT_REPLICATION_USER", value: "streaming_replica" },
      { name: "SETPOINT_REPLICATION_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-replication", key: "password" } } },
      { name: "SETPOINT_REPLICATION_SLOT", value: "orders_2" },
      { name: "SETPOINT_APPLICATION_NAME", value: "orders_2" },
    ]);
    expect(JSON.stringify(pod)).not.toMatch(/PGPASSWORD|pg_basebackup/);
    expect(replicationSecret(cluster, "pw").stringData).toEqual({ username: "streaming_replica", password: "pw" });
  });

  it("writes the instances' pg_hba.conf into a ConfigMap owned by the cluster, with a hash of its content", () => {
    const cm = instanceConfigMap(cluster);
    expect(cm.metadata).toMatchObject({ name: "orders-config", namespace: "shop", labels: { "setpoint.dev/cluster": "orders" }, ownerReferences: [owner] });
    expect(Object.keys(cm.data!)).toEqual(["pg_hba.conf"]);
    // With the spec: also the parameters a new data directory starts with (ADR 0043), defaults included, in name order.
    const withSpec = instanceConfigMap(cluster, { ...spec, parameters: { work_mem: "8MB", max_connections: "75" } });
    expect(JSON.parse(withSpec.data!["parameters.json"]!)).toEqual({ max_connections: "75", wal_retrieve_retry_interval: "1s", work_mem: "8MB" });
    expect(Object.keys(JSON.parse(withSpec.data!["parameters.json"]!))).toEqual(["max_connections", "wal_retrieve_retry_interval", "work_mem"]);
    expect(withSpec.metadata!.annotations!["setpoint.dev/config-hash"]).not.toBe(instanceConfigMap(cluster, spec).metadata!.annotations!["setpoint.dev/config-hash"]);
    const rules = cm
      .data!["pg_hba.conf"]!.split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split(/\s+/));
    expect(rules).toEqual([
      // TLS only (no `host` rule: plaintext matches nothing), certificates for replication and the superuser.
      ["local", "all", "all", "trust"],
      ["hostssl", "replication", "streaming_replica", "all", "cert"],
      ["hostssl", "replication", "all", "all", "reject"],
      // The replication role in a database (an upgrade's subscription, ADR 0042): certificate only.
      ["hostssl", "all", "streaming_replica", "all", "cert"],
      ["hostssl", "all", "postgres", "all", "cert"],
      ["hostssl", "all", "all", "all", "scram-sha-256"],
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
      sslmode: "verify-full",
      uri: "postgresql://app:p%40ss%2Fword@orders-rw.shop.svc:5432/app?sslmode=verify-full",
    });
    // With the cluster's authority: `ca.crt`, and its hash in an annotation (the controller's cache sees metadata only).
    const withCa = appSecret(cluster, spec, "pw", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    expect(withCa.stringData!["ca.crt"]).toContain("BEGIN CERTIFICATE");
    expect(withCa.metadata!.annotations!["setpoint.dev/ca-hash"]).toMatch(/^[0-9a-f]{16}$/);
  });

  it("streams a replica over verify-full with the replication certificate the replica's manager keeps", () => {
    expect(streamingConninfo("10.0.0.7", "orders-2", { serverName: "orders-rw.shop.svc", runtimeDir: "/tmp/setpoint" })).toEqual({
      host: "orders-rw.shop.svc",
      hostaddr: "10.0.0.7",
      sslmode: "verify-full",
      sslrootcert: "/tmp/setpoint/ca.crt",
      sslcert: "/tmp/setpoint/replication.crt",
      sslkey: "/tmp/setpoint/replication.key",
      ssl_min_protocol_version: "TLSv1.3",
      port: "5432",
      user: "streaming_replica",
      application_name: "orders_2",
    });
  });

  it("names a database in the streaming conninfo of a cluster that synchronizes failover slots (ADR 0050)", () => {
    expect(streamingConninfo("10.0.0.7", "orders-2", undefined, "postgres")).toMatchObject({ host: "10.0.0.7", dbname: "postgres" });
    expect(streamingConninfo("10.0.0.7", "orders-2")).not.toHaveProperty("dbname");
    expect(synchronizesSlots({ parameters: { sync_replication_slots: "on" } })).toBe(true);
    expect(synchronizesSlots({ parameters: { sync_replication_slots: "off" } })).toBe(false);
    expect(synchronizesSlots({})).toBe(false);
  });

  it("keeps parameters out of the pod (they are written with ALTER SYSTEM) and lets the spec override the defaults", () => {
    expect(desiredParameters({ ...spec, parameters: { work_mem: "8MB", wal_retrieve_retry_interval: "2s" } })).toEqual({ work_mem: "8MB", wal_retrieve_retry_interval: "2s" });
  });
});

describe("backups in instance pods", () => {
  const destination = { endpoint: "http://s3.example:8333", bucket: "backups", credentials: { secretName: "s3-creds", accessKeyIdKey: "id", secretAccessKeyKey: "secret" } };
  const backed = parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "5Gi" }, backup: { destination, archiveTimeout: "90s" } });
  const envOf = (pod: ReturnType<typeof instancePod>) => pod.spec!.containers[0]!.env!;

  it("archives with the image's WAL CLI, archive_timeout from the spec, on every instance", () => {
    expect(desiredParameters(backed)).toMatchObject({ archive_mode: "always", archive_command: "$SETPOINT_WAL_COMMAND archive %p %f", archive_timeout: "90s" });
    expect(desiredParameters(spec)).not.toHaveProperty("archive_mode");
  });

  it("passes the destination (default prefix <namespace>/<cluster>) and takes the credentials from the user's Secret only", () => {
    for (const pod of [instancePod(cluster, backed, 1, "primary"), instancePod(cluster, backed, 2, "replica", "10.0.0.1")]) {
      const env = envOf(pod);
      expect(JSON.parse(env.find((e) => e.name === "SETPOINT_BACKUP_DESTINATION")!.value!)).toEqual({ endpoint: "http://s3.example:8333", region: "us-east-1", forcePathStyle: true, bucket: "backups", prefix: "shop/orders" });
      expect(env).toContainEqual({ name: "SETPOINT_BACKUP_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "s3-creds", key: "id" } } });
      expect(env).toContainEqual({ name: "SETPOINT_BACKUP_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "s3-creds", key: "secret" } } });
    }
    const prefixed = parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "5Gi" }, backup: { destination: { ...destination, prefix: "prod/orders-v2" } } });
    expect(JSON.parse(envOf(instancePod(cluster, prefixed, 1, "primary")).find((e) => e.name === "SETPOINT_BACKUP_DESTINATION")!.value!).prefix).toBe("prod/orders-v2");
    expect(envOf(instancePod(cluster, spec, 1, "primary")).some((e) => e.name.startsWith("SETPOINT_BACKUP_"))).toBe(false);
  });

  it("tells replicas to bootstrap from the object store only when the spec chooses it (the default adds nothing to any pod)", () => {
    const fromStore = parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "5Gi" }, backup: { destination, replicaBootstrap: "object-store" } });
    expect(envOf(instancePod(cluster, fromStore, 2, "replica", "10.0.0.1"))).toContainEqual({ name: "SETPOINT_REPLICA_BOOTSTRAP", value: "object-store" });
    // A primary bootstraps by initdb or a restore, never from its own store.
    expect(envOf(instancePod(cluster, fromStore, 1, "primary")).some((e) => e.name === "SETPOINT_REPLICA_BOOTSTRAP")).toBe(false);
    expect(envOf(instancePod(cluster, backed, 2, "replica", "10.0.0.1")).some((e) => e.name === "SETPOINT_REPLICA_BOOTSTRAP")).toBe(false);
  });

  it("gives the first primary the recovery source, target and the new cluster's owner password; replicas clone as usual", () => {
    const restored = parsePostgresClusterSpec({
      postgresVersion: 17,
      storage: { size: "5Gi" },
      bootstrap: { recovery: { source: { ...destination, prefix: "shop/old" }, target: { time: "2026-12-05T10:00:00Z" } } },
    });
    const env = envOf(instancePod(cluster, restored, 1, "primary"));
    expect(JSON.parse(env.find((e) => e.name === "SETPOINT_RECOVERY_SOURCE")!.value!)).toMatchObject({ bucket: "backups", prefix: "shop/old" });
    expect(JSON.parse(env.find((e) => e.name === "SETPOINT_RECOVERY_TARGET")!.value!)).toEqual({ kind: "time", time: "2026-12-05T10:00:00Z" });
    expect(env).toContainEqual({ name: "SETPOINT_RECOVERY_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "s3-creds", key: "secret" } } });
    expect(env).toContainEqual({ name: "SETPOINT_OWNER_PASSWORD", valueFrom: { secretKeyRef: { name: "orders-app", key: "password" } } });
    // Every value is a literal location or a Secret reference: no credential is ever in the pod spec.
    for (const e of env) expect(e.value === undefined || !/secret|AKIA/i.test(e.value) || e.name === "SETPOINT_RECOVERY_SOURCE").toBe(true);
    expect(envOf(instancePod(cluster, restored, 2, "replica", "10.0.0.1")).some((e) => e.name.startsWith("SETPOINT_RECOVERY_"))).toBe(false);
    const latest = parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "5Gi" }, bootstrap: { recovery: { source: destination, backupId: "20261205T100000Z" } } });
    expect(JSON.parse(envOf(instancePod(cluster, latest, 1, "primary")).find((e) => e.name === "SETPOINT_RECOVERY_TARGET")!.value!)).toEqual({ kind: "latest", backupId: "20261205T100000Z" });
    // An exclusive target reaches the instance manager as such; the time as written, microseconds and zone kept.
    const exclusive = parsePostgresClusterSpec({ postgresVersion: 17, storage: { size: "5Gi" }, bootstrap: { recovery: { source: destination, target: { time: "2026-12-05T12:00:00.123456+02:00", inclusive: false } } } });
    expect(JSON.parse(envOf(instancePod(cluster, exclusive, 1, "primary")).find((e) => e.name === "SETPOINT_RECOVERY_TARGET")!.value!)).toEqual({ kind: "time", time: "2026-12-05T12:00:00.123456+02:00", inclusive: false });
  });
});
