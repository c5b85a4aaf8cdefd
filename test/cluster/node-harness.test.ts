// The node harness on a real API server: a pod running Setpoint's instance manager becomes
// Running on its own loopback address and accepts connections there; a killed container is
// restarted with restartCount 1 and its data; a deleted and recreated pod on the same claim
// keeps the data; a replica pod's manager clones its source (over the replication protocol,
// through its slot) and starts as a streaming standby.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { HBA_FILE, instanceHba } from "../../sdk/instance/hba";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { startNodeHarness, type NodeHarness } from "../support/node/harness";
import { INSTANCE_MANAGER, REPLICATION_USER } from "../../sdk/operator/cluster/objects";
import { majors } from "../support/postgres";
import { eventually } from "../support/eventually";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 90_000;

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const major = majors().includes(17) ? 17 : majors()[0]!;
const ns = "harness";
const password = "harness-secret-pw";

function podManifest(name: string, claim: string, replicaOf?: string): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      terminationGracePeriodSeconds: 10,
      containers: [
        {
          name: "postgres",
          image: `setpoint-postgres:${major}`,
          command: [...INSTANCE_MANAGER],
          // Replication is allowed by Setpoint's own pg_hba.conf (mounted from a ConfigMap), never by the image.
          args: ["run", "-c", "work_mem=8MB", "-c", "hba_file=/etc/setpoint/pg_hba.conf"],
          env: [
            { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
            { name: "SETPOINT_ROLE", value: replicaOf === undefined ? "primary" : "replica" },
            { name: "SETPOINT_POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
            { name: "SETPOINT_SUPERUSER_PASSWORD", valueFrom: { secretKeyRef: { name: "pg-superuser", key: "password" } } },
            ...(replicaOf === undefined
              ? []
              : [
                  { name: "SETPOINT_PRIMARY_HOST", value: replicaOf },
                  { name: "SETPOINT_REPLICATION_USER", value: REPLICATION_USER },
                  { name: "SETPOINT_REPLICATION_PASSWORD", value: "repl-pw" },
                  { name: "SETPOINT_REPLICATION_SLOT", value: "clone_1" },
                ]),
          ],
          ports: [{ name: "postgres", containerPort: 5432 }],
          volumeMounts: [
            { name: "data", mountPath: "/var/lib/postgresql/data" },
            { name: "config", mountPath: "/etc/setpoint", readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: "data", persistentVolumeClaim: { claimName: claim } },
        { name: "config", configMap: { name: "pg-config" } },
      ],
    },
  };
}

describe.skipIf(toolchain.skip !== undefined)("node harness", () => {
  let cp: ControlPlane | undefined;
  let node: NodeHarness | undefined;
  let core: CoreV1Api;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    node = await startNodeHarness({ kubeConfig: cp.kubeConfig });
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "pg-superuser" }, stringData: { password } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "pg-config" }, data: { [HBA_FILE]: instanceHba({ replicationUser: REPLICATION_USER }) } /* the password variant: these pods mount no certificates */ } });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: "data-1" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
    });
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await cp?.stop();
  }, 120_000);

  /** The pod once it is Ready with the given restart count; a fresh read each time. */
  const readyPod = (name: string, restartCount = 0): Promise<V1Pod> =>
    eventually(`pod ${name} Ready (restartCount ${restartCount})`, async () => {
      const pod = await core.readNamespacedPod({ name, namespace: ns });
      const ready = pod.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      return ready && pod.status?.containerStatuses?.[0]?.restartCount === restartCount ? pod : undefined;
    }, WAIT_MS);

  const query = async (ip: string, sql: string): Promise<unknown[]> => {
    const client = pgClient({ host: ip, port: 5432, user: "postgres", password, database: "postgres", connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it("binds the claim and the pod, runs it on its own loopback address, and reports it Running and Ready", async () => {
    await core.createNamespacedPod({ namespace: ns, body: podManifest("pg-0", "data-1") });
    const pod = await readyPod("pg-0");
    expect(pod.spec?.nodeName).toBe(node!.nodeName);
    expect(pod.status?.phase).toBe("Running");
    expect(pod.status?.podIP).toMatch(new RegExp(`^127\\.${node!.block}\\.\\d+\\.\\d+$`));
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ name: "postgres", ready: true, restartCount: 0, state: { running: {} } });
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "data-1", namespace: ns });
    expect(pvc.status?.phase).toBe("Bound");

    // The server listens on the pod IP (password auth over TCP), runs the pod's major, and took the pod's args.
    const rows = await query(pod.status!.podIP!, "select current_setting('server_version_num')::int / 10000 as major, current_setting('work_mem') as work_mem, current_setting('listen_addresses') as listen");
    expect(rows).toEqual([{ major, work_mem: "8MB", listen: pod.status!.podIP }]);
    await query(pod.status!.podIP!, "create table kept (n int); insert into kept values (1)");
  });

  it("restarts a killed container with restartCount 1 and its data", async () => {
    const before = await readyPod("pg-0");
    const pid = node!.pid(ns, "pg-0");
    node!.kill(ns, "pg-0", "SIGKILL");
    const pod = await readyPod("pg-0", 1);
    expect(node!.pid(ns, "pg-0")).not.toBe(pid);
    expect(pod.status?.podIP).toBe(before.status?.podIP); // same pod, same IP
    expect(pod.status?.containerStatuses?.[0]?.lastState?.terminated).toMatchObject({ exitCode: 137, reason: "Error" });
    expect(await query(pod.status!.podIP!, "select n from kept")).toEqual([{ n: 1 }]);
  });

  it("keeps the data when the pod is deleted and recreated on the same claim", async () => {
    await core.deleteNamespacedPod({ name: "pg-0", namespace: ns });
    await eventually("pod gone", async () => {
      try {
        await core.readNamespacedPod({ name: "pg-0", namespace: ns });
        return undefined;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, WAIT_MS);
    expect(node!.pid(ns, "pg-0")).toBeUndefined();
    await core.createNamespacedPod({ namespace: ns, body: podManifest("pg-0", "data-1") });
    const pod = await readyPod("pg-0");
    expect(await query(pod.status!.podIP!, "select n from kept")).toEqual([{ n: 1 }]);
  });

  it("runs a replica pod's manager: the clone streams from its source through the slot", async () => {
    const source = await readyPod("pg-0");
    const sourceIp = source.status!.podIP!;
    await query(sourceIp, `create role ${REPLICATION_USER} login replication password 'repl-pw'; select pg_create_physical_replication_slot('clone_1', true)`);
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: "data-2" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
    });
    const manifest = podManifest("pg-1", "data-2", sourceIp);
    await core.createNamespacedPod({ namespace: ns, body: manifest });
    const clone = await readyPod("pg-1");
    const cloneIp = clone.status!.podIP!;
    expect(await query(cloneIp, "select pg_is_in_recovery() as r, n from kept")).toEqual([{ r: true, n: 1 }]);
    await query(sourceIp, "insert into kept values (2)");
    await eventually("row streamed to the clone", async () => JSON.stringify(await query(cloneIp, "select n from kept order by n")) === JSON.stringify([{ n: 1 }, { n: 2 }]), WAIT_MS);
    expect(await query(sourceIp, "select application_name, state from pg_stat_replication")).toEqual([{ application_name: "clone_1", state: "streaming" }]);
  });
});
