// The generated CRDs on a real kube-apiserver: they install, the API server applies the same
// defaults zod does, and it rejects the same invalid specs (422, naming the field).
import type { RequestOptions } from "node:https";
import { request } from "node:https";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  API_VERSION,
  GROUP,
  KINDS,
  VERSION,
  crdManifests,
  parsePostgresClusterSpec,
  parsePostgresSchemaSpec,
  parsePostgresUpgradeSpec,
  type SetpointKind,
} from "../../sdk/api/index";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const namespace = "default";

interface KubeObject {
  metadata: { name: string; generation?: number };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The API server's Status body of a failed request. */
interface KubeStatus {
  code: number;
  message: string;
  details?: { causes?: Array<{ field?: string; message?: string; reason?: string }> };
}

describe.skipIf(toolchain.skip !== undefined)("CRDs on a real API server", () => {
  let cp: ControlPlane | undefined;
  let api: CustomObjectsApi;
  let counter = 0;

  const ref = (kind: SetpointKind) => ({ group: GROUP, version: VERSION, namespace, plural: KINDS[kind].plural });

  const create = async (kind: SetpointKind, spec: unknown, name = `obj-${++counter}`): Promise<KubeObject> =>
    (await api.createNamespacedCustomObject({
      ...ref(kind),
      body: { apiVersion: API_VERSION, kind, metadata: { name }, spec },
    })) as KubeObject;

  /** Creates an object that must be rejected; resolves to the API server's Status. */
  const reject = async (kind: SetpointKind, spec: unknown): Promise<KubeStatus> => {
    try {
      await create(kind, spec);
    } catch (err) {
      const e = err as { code?: number; body?: string };
      expect(e.code, `expected a 422 for ${JSON.stringify(spec)}`).toBe(422);
      return JSON.parse(e.body ?? "{}") as KubeStatus;
    }
    throw new Error(`the API server accepted an invalid ${kind}: ${JSON.stringify(spec)}`);
  };

  const fields = (s: KubeStatus): string[] => (s.details?.causes ?? []).map((c) => c.field ?? "");

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env });
    await installCrds(cp.kubeConfig, crdManifests());
    api = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  });

  describe("PostgresCluster", () => {
    it("applies the same defaults as parsePostgresClusterSpec", async () => {
      const input = { postgresVersion: 17, storage: { size: "1Gi" } };
      const created = await create("PostgresCluster", input);
      expect(created.spec).toEqual(parsePostgresClusterSpec(input));
      expect(created.spec).toMatchObject({
        instances: 1,
        bootstrap: { database: "app", owner: "app" },
        services: { rw: true, ro: true },
        primaryUpdateStrategy: "unsupervised",
      });
    });

    it("keeps every field of a full spec", async () => {
      const input = {
        instances: 3,
        postgresVersion: 16,
        image: "registry.example/postgres:16.4",
        storage: { size: "20Gi", storageClass: "fast", autoGrow: { step: "5Gi", limit: "100Gi" } },
        parameters: { work_mem: "8MB", max_connections: "200" },
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
        bootstrap: { database: "orders", owner: "orders_owner" },
        services: { rw: true, ro: false },
        primaryUpdateStrategy: "supervised",
        synchronous: { number: 1 },
      };
      const created = await create("PostgresCluster", input);
      expect(created.spec).toEqual(parsePostgresClusterSpec(input));
      expect(created.spec["storage"]).toEqual({
        size: "20Gi",
        storageClass: "fast",
        autoGrow: { thresholdPercent: 80, step: "5Gi", limit: "100Gi" },
      });
      expect(created.spec["synchronous"]).toEqual({ method: "any", number: 1 });
    });

    it("applies the pooler's defaults as parsePostgresClusterSpec does, and keeps its settings", async () => {
      const input = { postgresVersion: 17, storage: { size: "1Gi" }, pooler: { parameters: { query_wait_timeout: "60" } } };
      const created = await create("PostgresCluster", input);
      expect(created.spec).toEqual(parsePostgresClusterSpec(input));
      expect(created.spec["pooler"]).toEqual({ instances: 1, poolMode: "transaction", defaultPoolSize: 20, maxClientConn: 1000, parameters: { query_wait_timeout: "60" } });
    });

    it("applies the roles' defaults as parsePostgresClusterSpec does, and refuses a duplicate name", async () => {
      const input = {
        postgresVersion: 17,
        storage: { size: "1Gi" },
        roles: [
          { name: "reader", login: true, inRoles: ["readers", "pg_read_all_data"], passwordSecret: { secretName: "reader-pw" }, validUntil: "2030-01-01T00:00:00Z" },
          { name: "readers", comment: "group", connectionLimit: 3 },
          { name: "old", ensure: "absent" },
        ],
      };
      const created = await create("PostgresCluster", input);
      expect(created.spec).toEqual(parsePostgresClusterSpec(input));
      expect((created.spec["roles"] as { passwordSecret?: unknown }[])[0]!.passwordSecret).toEqual({ secretName: "reader-pw", key: "password" });
      const duplicate = { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "a" }, { name: "a", login: true }] };
      expect(fields(await reject("PostgresCluster", duplicate))).toContain("spec.roles[1]");
      expect(() => parsePostgresClusterSpec(duplicate)).toThrow(/must be unique/);
    });

    it("applies backup and recovery defaults as parsePostgresClusterSpec does", async () => {
      const destination = { endpoint: "http://10.0.0.1:8333", bucket: "backups", prefix: "team/orders", credentials: { secretName: "s3-creds" } };
      const input = {
        postgresVersion: 17,
        storage: { size: "1Gi" },
        backup: { destination, schedule: "30 2 * * 1-5", retention: "4w" },
        bootstrap: { recovery: { source: destination, target: { lsn: "0/3000060", inclusive: false } } },
      };
      const created = await create("PostgresCluster", input);
      expect(created.spec).toEqual(parsePostgresClusterSpec(input));
    });

    it.each([
      ["instances: 0", { instances: 0, postgresVersion: 17, storage: { size: "1Gi" } }, "spec.instances"],
      ["instances: 10", { instances: 10, postgresVersion: 17, storage: { size: "1Gi" } }, "spec.instances"],
      ["postgresVersion: 12", { postgresVersion: 12, storage: { size: "1Gi" } }, "spec.postgresVersion"],
      ["neither postgresVersion nor image", { storage: { size: "1Gi" } }, "spec.postgresVersion"],
      ["a size that is not a quantity", { postgresVersion: 17, storage: { size: "lots" } }, "spec.storage.size"],
      ["an unknown primaryUpdateStrategy", { postgresVersion: 17, storage: { size: "1Gi" }, primaryUpdateStrategy: "yolo" }, "spec.primaryUpdateStrategy"],
      ["synchronous.number >= instances", { postgresVersion: 17, storage: { size: "1Gi" }, synchronous: { number: 1 } }, "spec.synchronous"],
      ["a non-string parameter", { postgresVersion: 17, storage: { size: "1Gi" }, parameters: { work_mem: 8 } }, "spec.parameters.work_mem"],
      ["a parameter the operator manages", { postgresVersion: 17, storage: { size: "1Gi" }, parameters: { primary_conninfo: "host=x" } }, "spec.parameters"],
      ["a failoverGrace that is not a duration", { postgresVersion: 17, storage: { size: "1Gi" }, failoverGrace: "soon" }, "spec.failoverGrace"],
      ["pooler.instances: 0", { postgresVersion: 17, storage: { size: "1Gi" }, pooler: { instances: 0 } }, "spec.pooler.instances"],
      ["pooler.poolMode: statement", { postgresVersion: 17, storage: { size: "1Gi" }, pooler: { poolMode: "statement" } }, "spec.pooler.poolMode"],
      ["a pooler parameter the operator owns", { postgresVersion: 17, storage: { size: "1Gi" }, pooler: { parameters: { auth_type: "trust" } } }, "spec.pooler.parameters"],
      ["a pooler parameter value with a comment", { postgresVersion: 17, storage: { size: "1Gi" }, pooler: { parameters: { query_timeout: "5 ; auth_type = trust" } } }, "spec.pooler.parameters.query_timeout"],
      ["a backup bucket S3 does not allow", { postgresVersion: 17, storage: { size: "1Gi" }, backup: { destination: { ...{ endpoint: "http://10.0.0.1:8333", bucket: "backups", credentials: { secretName: "s3-creds" } }, bucket: "Not_A_Bucket" } } }, "spec.backup.destination.bucket"],
      ["a backup schedule that is not cron", { postgresVersion: 17, storage: { size: "1Gi" }, backup: { destination: { endpoint: "http://10.0.0.1:8333", bucket: "backups", credentials: { secretName: "s3-creds" } }, schedule: "nightly" } }, "spec.backup.schedule"],
      ["a retention that is not a period", { postgresVersion: 17, storage: { size: "1Gi" }, backup: { destination: { endpoint: "http://10.0.0.1:8333", bucket: "backups", credentials: { secretName: "s3-creds" } }, retention: "forever" } }, "spec.backup.retention"],
      ["a recovery target with both a time and a name", { postgresVersion: 17, storage: { size: "1Gi" }, bootstrap: { recovery: { source: { endpoint: "http://10.0.0.1:8333", bucket: "backups", credentials: { secretName: "s3-creds" } }, target: { time: "2026-12-05T10:00:00Z", name: "x" } } } }, "spec.bootstrap.recovery.target.time"],
      ["a pg_* role", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "pg_mine" }] }, "spec.roles[0].name"],
      ["the operator's replication role", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "x" }, { name: "streaming_replica" }] }, "spec.roles[1].name"],
      ["a superuser role", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "boss", superuser: true }] }, "spec.roles[0].superuser"],
      ["a replication role", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "rep", replication: true }] }, "spec.roles[0].replication"],
      ["a membership in the superuser", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "sneaky", inRoles: ["postgres"] }] }, "spec.roles[0].inRoles"],
      ["the bootstrap owner as a role", { postgresVersion: 17, storage: { size: "1Gi" }, bootstrap: { owner: "shopper" }, roles: [{ name: "shopper" }] }, "spec.roles"],
      ["the default bootstrap owner as a role", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "app" }] }, "spec.roles"],
      ["a password Secret and disablePassword", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "a", passwordSecret: { secretName: "s" }, disablePassword: true }] }, "spec.roles[0].disablePassword"],
      ["a validUntil that is not a time", { postgresVersion: 17, storage: { size: "1Gi" }, roles: [{ name: "a", validUntil: "tomorrow" }] }, "spec.roles[0].validUntil"],
    ])("rejects %s with a 422 naming the field, as zod does", async (_label, spec, field) => {
      const status = await reject("PostgresCluster", spec);
      expect(fields(status)).toContain(field);
      expect(status.message).toContain(field);
      expect(() => parsePostgresClusterSpec(spec)).toThrow(expect.objectContaining({ propertyPath: field }));
    });

    it("serves status through the subresource, printed as READY / REASON / AGE", async () => {
      const created = await create("PostgresCluster", { postgresVersion: 17, storage: { size: "1Gi" } }, "printed");
      const condition = {
        type: "Ready",
        status: "True",
        reason: "ClusterHealthy",
        message: "1/1 instances ready",
        lastTransitionTime: "2026-11-21T00:00:00Z",
        observedGeneration: created.metadata.generation,
      };
      const status = {
        observedGeneration: created.metadata.generation,
        conditions: [condition],
        currentPrimary: "printed-1",
        instances: [{ name: "printed-1", role: "primary", ready: true, lagBytes: 0, pendingRestart: false }],
        readWriteService: "printed-rw",
        readOnlyService: "printed-ro",
        port: 5432,
        secretName: "printed-app",
      };
      const patched = (await api.replaceNamespacedCustomObjectStatus({
        ...ref("PostgresCluster"),
        name: "printed",
        body: { ...created, status },
      })) as KubeObject;
      expect(patched.status).toEqual(status);

      const table = await getTable(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/postgresclusters/printed`);
      expect(table.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Ready", "Reason", "Age"]);
      expect(table.rows[0]?.cells.slice(0, 3)).toEqual(["printed", "True", "ClusterHealthy"]);
    });

    it("rejects a status with an unknown condition type", async () => {
      const created = await create("PostgresCluster", { postgresVersion: 17, storage: { size: "1Gi" } });
      const bad = { conditions: [{ type: "Happy", status: "True", reason: "Yes", lastTransitionTime: "2026-11-21T00:00:00Z" }] };
      await expect(
        api.replaceNamespacedCustomObjectStatus({ ...ref("PostgresCluster"), name: created.metadata.name, body: { ...created, status: bad } }),
      ).rejects.toMatchObject({ code: 422, body: expect.stringContaining("status.conditions[0].type") });
    });
  });

  describe("PostgresSchema", () => {
    it("applies the same defaults as parsePostgresSchemaSpec", async () => {
      const input = { connection: { secretRef: { name: "orders-db" } }, desired: { sql: "CREATE TABLE t (id int);" } };
      const created = await create("PostgresSchema", input);
      expect(created.spec).toEqual(parsePostgresSchemaSpec(input));
      expect(created.spec).toMatchObject({
        connection: { secretRef: { name: "orders-db", key: "uri" } },
        allowHazards: [],
        online: true,
        driftCheckInterval: "5m",
        renames: [],
      });
    });

    it("accepts a clusterRef, a ConfigMap, hazards and renames", async () => {
      const input = {
        connection: { clusterRef: { name: "orders", database: "orders" } },
        desired: { configMapRef: { name: "orders-schema" } },
        allowHazards: ["INDEX_BUILD", "TABLE_REWRITE"],
        online: false,
        driftCheckInterval: "1h30m",
        renames: [
          { kind: "table", from: "users", to: "accounts" },
          { kind: "column", schema: "app", table: "accounts", from: "mail", to: "email" },
        ],
      };
      const created = await create("PostgresSchema", input);
      expect(created.spec).toEqual(parsePostgresSchemaSpec(input));
    });

    const sql = { sql: "CREATE TABLE t (id int);" };
    const secret = { secretRef: { name: "db" } };
    it.each([
      ["both secretRef and clusterRef", { connection: { ...secret, clusterRef: { name: "c" } }, desired: sql }, "spec.connection"],
      ["neither secretRef nor clusterRef", { connection: {}, desired: sql }, "spec.connection"],
      ["both sql and configMapRef", { connection: secret, desired: { ...sql, configMapRef: { name: "m" } } }, "spec.desired"],
      ["an unknown hazard code", { connection: secret, desired: sql, allowHazards: ["YOLO"] }, "spec.allowHazards[0]"],
      ["all combined with a code", { connection: secret, desired: sql, allowHazards: ["all", "INDEX_BUILD"] }, "spec.allowHazards"],
      ["a bad driftCheckInterval", { connection: secret, desired: sql, driftCheckInterval: "5 minutes" }, "spec.driftCheckInterval"],
      ["a column rename without table", { connection: secret, desired: sql, renames: [{ kind: "column", from: "a", to: "b" }] }, "spec.renames[0].table"],
    ])("rejects %s with a 422 naming the field, as zod does", async (_label, spec, field) => {
      const status = await reject("PostgresSchema", spec);
      expect(fields(status)).toContain(field);
      expect(() => parsePostgresSchemaSpec(spec)).toThrow(expect.objectContaining({ propertyPath: field }));
    });
  });

  describe("PostgresUpgrade", () => {
    const side = (name: string, v: number) => ({ clusterRef: { name }, postgresVersion: v });

    it("accepts from/to cluster references and versions", async () => {
      const input = { from: side("blue", 16), to: side("green", 17) };
      const created = await create("PostgresUpgrade", input);
      expect(created.spec).toEqual(parsePostgresUpgradeSpec(input));
    });

    it("rejects a downgrade with a 422 naming the field, as zod does", async () => {
      const spec = { from: side("blue", 17), to: side("green", 16) };
      const status = await reject("PostgresUpgrade", spec);
      expect(fields(status)).toContain("spec.to");
      expect(() => parsePostgresUpgradeSpec(spec)).toThrow(expect.objectContaining({ propertyPath: "spec.to" }));
    });
  });

  /** GET in Table form (what `kubectl get` prints). */
  async function getTable(path: string): Promise<{ columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> }> {
    const opts: RequestOptions = {
      headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" },
    };
    await cp!.kubeConfig.applyToHTTPSOptions(opts);
    return new Promise((resolve, rejectReq) => {
      const req = request(new URL(path, cp!.server), opts, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(JSON.parse(text) as never));
      });
      req.on("error", rejectReq);
      req.end();
    });
  }
});
