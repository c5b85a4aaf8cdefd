import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { inputErrorOf } from "../test/support/input-error";
import { setPulumiMocks, valueOf } from "../test/support/pulumi-mocks";
import { PostgresCluster } from "./postgres-cluster";
import { clusterEndpoints, isServing, majorProgress, postgresClusterDefaults, previewMajorChange, waitForClusterReady } from "./internal/postgres-cluster-spec";

const registered: pulumi.runtime.MockResourceArgs[] = [];

void setPulumiMocks((args) => {
  registered.push(args);
  // Like the API server: the first write of a spec is generation 1.
  const state = args.type.startsWith("kubernetes:") ? { ...args.inputs, metadata: { ...args.inputs.metadata, generation: 1 } } : args.inputs;
  return { id: `${args.name}-id`, state };
});

const minimal = { postgresVersion: 17, storage: { size: "10Gi" } };

describe("postgresClusterDefaults", () => {
  it("applies placement and spec defaults", () => {
    expect(postgresClusterDefaults("orders", minimal)).toEqual({
      clusterName: "orders",
      namespace: "default",
      waitForReady: true,
      readyTimeoutMs: 600_000,
      spec: {
        instances: 1,
        postgresVersion: 17,
        storage: { size: "10Gi" },
        bootstrap: { database: "app", owner: "app" },
        services: { rw: true, ro: true },
        primaryUpdateStrategy: "unsupervised",
        failoverGrace: "5s",
      },
    });
  });

  it("types and defaults the pooler from the same schema as the CRD", () => {
    expect(postgresClusterDefaults("orders", { ...minimal, pooler: { instances: 2, poolMode: "session" } }).spec.pooler).toEqual({
      instances: 2,
      poolMode: "session",
      defaultPoolSize: 20,
      maxClientConn: 1000,
    });
    expect(() => postgresClusterDefaults("orders", { ...minimal, pooler: { parameters: { listen_port: "1" } } })).toThrow(/pooler\.parameters may only set server_idle_timeout/);
  });

  it("types and defaults managed roles from the same schema as the CRD, refusing the operator's roles with the field named", () => {
    const roles = postgresClusterDefaults("orders", { ...minimal, roles: [{ name: "svc", login: true, passwordSecret: { secretName: "svc-pw" } }] }).spec.roles;
    expect(roles).toEqual([
      {
        name: "svc",
        ensure: "present",
        login: true,
        superuser: false,
        createdb: false,
        createrole: false,
        inherit: true,
        replication: false,
        bypassrls: false,
        connectionLimit: -1,
        inRoles: [],
        passwordSecret: { secretName: "svc-pw", key: "password" },
        disablePassword: false,
      },
    ]);
    expect(() => postgresClusterDefaults("orders", { ...minimal, roles: [{ name: "streaming_replica" }] })).toThrow(expect.objectContaining({ propertyPath: "roles[0].name" }));
    expect(() => postgresClusterDefaults("orders", { ...minimal, roles: [{ name: "app" }] })).toThrow(/bootstrap owner/);
  });

  it("derives a valid cluster name from any Pulumi name", () => {
    expect(postgresClusterDefaults("Orders_DB", minimal).clusterName).toBe("orders-db-06a465a1");
    expect(postgresClusterDefaults("x", { ...minimal, clusterName: "orders" }).clusterName).toBe("orders");
  });

  it("keeps the kubeconfig out of the spec", () => {
    expect(postgresClusterDefaults("orders", { ...minimal, kubeconfig: "apiVersion: v1" }).spec).not.toHaveProperty("kubeconfig");
  });

  it.each([
    [{ ...minimal, instances: 0 }, "instances", "must be an integer from 1 to 9"],
    [{ ...minimal, postgresVersion: 12 }, "postgresVersion", "must be an integer from 14 to 18"],
    [{ storage: { size: "1Gi" } }, "postgresVersion", "postgresVersion (14-18) or image must be set"],
    [{ ...minimal, storage: { size: "big" } }, "storage.size", "Kubernetes quantity"],
    [{ ...minimal, primaryUpdateStrategy: "manual" }, "primaryUpdateStrategy", '"unsupervised", "supervised"'],
    [{ ...minimal, namespace: "Prod" }, "namespace", "DNS-1035 label"],
    [{ ...minimal, clusterName: "a".repeat(64) }, "clusterName", "at most 63 characters"],
    [{ ...minimal, readyTimeout: "ten minutes" }, "readyTimeout", "duration such as 90s"],
  ])("rejects %j naming %s", (args, path, message) => {
    const error = inputErrorOf(() => postgresClusterDefaults("orders", args as never));
    expect(error.propertyPath).toBe(path);
    expect(error.message).toContain(message);
  });
});

describe("clusterEndpoints", () => {
  it("follows the naming convention without a status", () => {
    expect(clusterEndpoints("orders", "shop")).toEqual({
      readWriteHost: "orders-rw.shop.svc",
      readOnlyHost: "orders-ro.shop.svc",
      port: 5432,
      secretName: "orders-app",
    });
  });

  it("prefers what the status reports", () => {
    expect(
      clusterEndpoints("orders", "shop", { readWriteService: "w", readOnlyService: "r", port: 6432, secretName: "creds" }),
    ).toEqual({ readWriteHost: "w.shop.svc", readOnlyHost: "r.shop.svc", port: 6432, secretName: "creds" });
  });
});

describe("isServing", () => {
  const condition = (type: "Ready" | "Progressing", status: "True" | "False", generation: number) => ({ type, status, reason: "R", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: generation });

  it("needs Ready for the generation and nothing still rolling out", () => {
    expect(isServing({ observedGeneration: 2, conditions: [condition("Ready", "True", 2)] }, 2)).toBe(true);
    expect(isServing({ observedGeneration: 2, conditions: [condition("Ready", "True", 2), condition("Progressing", "False", 2)] }, 2)).toBe(true);
    // A rolling restart keeps the cluster Ready while the new spec is not served everywhere yet.
    expect(isServing({ observedGeneration: 2, conditions: [condition("Ready", "True", 2), condition("Progressing", "True", 2)] }, 2)).toBe(false);
    expect(isServing({ observedGeneration: 2, conditions: [condition("Ready", "True", 1)] }, 2)).toBe(false);
    expect(isServing(undefined, 1)).toBe(false);
  });
});

describe("waitForClusterReady", () => {
  // The Kubernetes client is loaded on first use (ADR 0011), inside this test: seconds on a busy machine.
  it("gives up after the timeout with the last API error, not credentials", { timeout: 60_000 }, async () => {
    const kubeconfig = JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
      users: [{ name: "u", user: { token: "very-secret-token" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    });
    const err = await waitForClusterReady({ kubeconfig, namespace: "ns", name: "orders", generation: 1, timeoutMs: 300, pollMs: 50 }).catch(
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/PostgresCluster ns\/orders not Ready for generation 1 after 0s: reading the resource failed/);
    expect(String(err)).not.toContain("very-secret-token");
  });
});

describe("PostgresCluster (mocked engine)", () => {
  let cluster: PostgresCluster;

  beforeAll(async () => {
    cluster = new PostgresCluster("orders", { ...minimal, namespace: "shop", instances: 3, waitForReady: false });
    await valueOf(cluster.readWriteHost);
  });

  it("creates one PostgresCluster custom resource, parented to the component, with the defaulted spec", async () => {
    const crs = registered.filter((r) => r.type === "kubernetes:setpoint.dev/v1alpha1:PostgresCluster");
    expect(crs).toHaveLength(1);
    expect(crs[0]!.inputs).toMatchObject({
      apiVersion: "setpoint.dev/v1alpha1",
      kind: "PostgresCluster",
      metadata: { name: "orders", namespace: "shop" },
      spec: { instances: 3, postgresVersion: 17, storage: { size: "10Gi" }, services: { rw: true, ro: true } },
    });
    expect(await valueOf(cluster.resource.urn)).toContain("setpoint:index:PostgresCluster$kubernetes:setpoint.dev/v1alpha1:PostgresCluster::orders");
  });

  it("outputs the endpoints by convention", async () => {
    expect(await valueOf(cluster.readWriteHost)).toBe("orders-rw.shop.svc");
    expect(await valueOf(cluster.readOnlyHost)).toBe("orders-ro.shop.svc");
    expect(await valueOf(cluster.port)).toBe(5432);
    expect(await valueOf(cluster.secretName)).toBe("orders-app");
    expect(await valueOf(cluster.clusterName)).toBe("orders");
  });

  it("throws a ResourceError naming the property for bad args", () => {
    let error: unknown;
    try {
      new PostgresCluster("bad", { postgresVersion: 12, storage: { size: "1Gi" } });
    } catch (err) {
      error = err;
    }
    expect(pulumi.ResourceError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain("postgresVersion: must be an integer from 14 to 18");
  });
});

describe("a changed postgresVersion (ADR 0033)", () => {
  const upgrade = { name: "shop-to-17", green: "shop-v17", from: 16, to: 17 };
  const open = { superuserPasswordOverNetwork: true };
  it("preview plans a raise of a default cluster (no superuser password over the network): the upgrade connects by certificate (ADR 0042)", () => {
    const closed = previewMajorChange({ postgresVersion: 16 }, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised" }, "shop");
    expect(closed).toMatchObject({ kind: "upgrade", message: expect.stringContaining("16 -> 17") });
    expect(previewMajorChange({ postgresVersion: 16 }, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised", tls: { superuserPasswordOverNetwork: false } }, "shop").kind).toBe("upgrade");
  });
  it("preview refuses a downgrade with the fix, and shows the engine's planned steps for a raise", () => {
    const down = previewMajorChange({ postgresVersion: 16 }, { postgresVersion: 15, primaryUpdateStrategy: "unsupervised" }, "shop");
    expect(down).toMatchObject({ kind: "refuse", message: expect.stringContaining("Set postgresVersion back to 16") });
    const up = previewMajorChange({ postgresVersion: 16 }, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised", tls: open }, "shop");
    expect(up.kind).toBe("upgrade");
    expect(up.kind === "upgrade" && up.message).toMatch(/16 -> 17.*shop-to-17.*shop-v17.*planned steps: preflight -> schema -> replicate -> synchronize -> cutover/);
    const supervised = previewMajorChange({ postgresVersion: 16 }, { postgresVersion: 17, primaryUpdateStrategy: "supervised", tls: open }, "shop");
    expect(supervised.kind === "upgrade" && supervised.message).not.toMatch(/cutover ->|-> cutover/);
    expect(supervised.kind === "upgrade" && supervised.message).toMatch(/supervised: stops before the cutover/);
    expect(previewMajorChange(undefined, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised", tls: open }, "shop")).toEqual({ kind: "none" });
    expect(previewMajorChange({ postgresVersion: 17 }, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised", tls: open }, "shop")).toEqual({ kind: "none" });
  });
  it("preview and up refuse any other major on a cluster its green serves after a finalized upgrade (ADR 0046)", () => {
    const served = { postgresVersion: 17, upgrade: { ...upgrade, phase: "finalized" } };
    expect(previewMajorChange(served, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised" }, "shop")).toEqual({ kind: "none" });
    for (const wanted of [16, 18]) {
      expect(previewMajorChange(served, { postgresVersion: wanted, primaryUpdateStrategy: "unsupervised" }, "shop")).toMatchObject({
        kind: "refuse",
        message: expect.stringMatching(/served by PostgresCluster shop-v17 on 17.*Set postgresVersion back to 17; a further major upgrade is made on shop-v17/),
      });
    }
    // What the operator reports for such a spec ends pulumi up's wait at once, with the fix.
    const degraded = { ...served, conditions: [{ type: "Degraded" as const, status: "True" as const, reason: "ServedByUpgrade", message: "spec.postgresVersion 18 was not acted on", lastTransitionTime: "2026-12-06T00:00:00Z", observedGeneration: 9 }] };
    expect(majorProgress(degraded, 18, 9)).toMatchObject({ kind: "refused", message: expect.stringContaining("ServedByUpgrade") });
    expect(majorProgress(served, 17, 9)).toEqual({ kind: "done" });
  });
  it("preview refuses a raise the operator's readiness says the preflight would refuse, naming each fix (ADR 0037)", () => {
    const finding = (code: string, severity: "error" | "warning", object: string, fix: string) => ({ code, severity, object, message: `${object} is a problem`, fix });
    const readiness = {
      postgresVersion: 16,
      checkedAt: "2026-12-06T03:00:00Z",
      targets: [
        { postgresVersion: 17, findings: [finding("NO_REPLICA_IDENTITY", "error", '"public"."events"', "add a primary key"), finding("MISSING_EXTENSION", "error", '"adminpack"', "drop it"), finding("MATERIALIZED_VIEW", "warning", '"public"."mv"', "refresh it")] },
        { postgresVersion: 18, findings: [finding("MATERIALIZED_VIEW", "warning", '"public"."mv"', "refresh it")] },
      ],
    };
    const refused = previewMajorChange({ postgresVersion: 16, upgradeReadiness: readiness }, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised", tls: open }, "shop");
    expect(refused.kind).toBe("refuse");
    expect(refused.kind === "refuse" && refused.message).toMatch(/16 -> 17 would be refused.*nothing was created.*NO_REPLICA_IDENTITY "public"\."events".*fix: add a primary key.*MISSING_EXTENSION "adminpack".*fix: drop it/);
    expect(refused.kind === "refuse" && refused.message).not.toContain("MATERIALIZED_VIEW"); // warnings do not refuse
    const allowed = previewMajorChange({ postgresVersion: 16, upgradeReadiness: readiness }, { postgresVersion: 18, primaryUpdateStrategy: "unsupervised", tls: open }, "shop");
    expect(allowed.kind === "upgrade" && allowed.message).toMatch(/no blocking finding for 18.*warnings: MATERIALIZED_VIEW "public"\."mv"/);
    // A readiness of another major (the instances changed since) says nothing about this bump.
    const stale = previewMajorChange({ postgresVersion: 16, upgradeReadiness: { ...readiness, postgresVersion: 15 } }, { postgresVersion: 17, primaryUpdateStrategy: "unsupervised", tls: open }, "shop");
    expect(stale.kind === "upgrade" && stale.message).toMatch(/has not inspected the cluster for 17 yet/);
  });
  it("pulumi up waits for the new major to serve, stops at the supervised gate, and fails on a refusal", () => {
    expect(majorProgress({ postgresVersion: 16, upgrade: { ...upgrade, phase: "replicating" } }, 17, 2)).toMatchObject({ kind: "wait", why: expect.stringContaining("replicating") });
    expect(majorProgress({ postgresVersion: 17, upgrade: { ...upgrade, phase: "switched" } }, 17, 2)).toEqual({ kind: "done" });
    expect(majorProgress({ postgresVersion: 16, upgrade: { ...upgrade, phase: "synchronized", gate: "supervised" } }, 17, 2)).toMatchObject({ kind: "done", note: expect.stringContaining("upgrade-approved=17") });
    const refused = { postgresVersion: 16, conditions: [{ type: "Degraded" as const, status: "True" as const, reason: "DowngradeRefused", message: "Set spec.postgresVersion back to 16", lastTransitionTime: "2026-12-05T00:00:00Z", observedGeneration: 2 }] };
    expect(majorProgress(refused, 15, 2)).toMatchObject({ kind: "refused", message: expect.stringContaining("back to 16") });
    expect(majorProgress(refused, 15, 3)).toMatchObject({ kind: "wait" }); // a refusal of an older generation is not this spec's
    const preflight = { postgresVersion: 16, conditions: [{ ...refused.conditions[0]!, reason: "UpgradePreflightRefused", message: "NO_REPLICA_IDENTITY" }] };
    expect(majorProgress(preflight, 17, 2)).toMatchObject({ kind: "refused", message: expect.stringContaining("UpgradePreflightRefused") });
  });
});
