// A postgresVersion bump refused at `pulumi preview` (ADR 0037), through the real Pulumi engine and
// a real API server, the test playing the operator: the readiness in the cluster's status is the
// operator's own inspection (`inspectReadiness`) of a real PostgreSQL 16 database. A table without
// a replica identity and an extension 17 does not ship fail the preview and `pulumi up` with the
// fixes, and nothing is written or created; a downgrade and a major outside the supported range are
// refused too; once blue is fixed the preview shows the upgrade's plan.
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, KINDS, VERSION, crdManifests } from "../../sdk/api/index";
import { inspectReadiness } from "../../sdk/operator/cluster/upgrade-readiness";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { eventually } from "../support/eventually";
import { freshDatabase, majors } from "../support/postgres";
import type { PulumiProject } from "../support/pulumi";
import { createPulumiProject, errorsOf, requireTypeScriptPrelude, summaryOf } from "../support/pulumi";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"]);
const namespace = "default";

const PROGRAM = `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { PostgresCluster } = require(REPO + "/components/postgres-cluster.ts");

const kubeconfig = pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8"));
const provider = new k8s.Provider("harness", { kubeconfig });
const cluster = new PostgresCluster("shop", {
  namespace: "${namespace}",
  postgresVersion: new pulumi.Config().getNumber("postgresVersion") ?? 16,
  instances: 3,
  storage: { size: "1Gi" },
  pooler: { instances: 1 },
  readyTimeout: "3m",
  kubeconfig,
}, { providers: [provider] });
exports.readWriteHost = cluster.readWriteHost;
`;

describe.skipIf(toolchain.skip !== undefined || !majors().includes(16))("postgresVersion bump: preflight at preview (real engine, test as operator)", () => {
  let cp: ControlPlane | undefined;
  let p: PulumiProject | undefined;
  let api: CustomObjectsApi;
  const ref = { group: GROUP, version: VERSION, namespace, plural: KINDS.PostgresCluster.plural };
  type Obj = { metadata: { name: string; generation: number }; spec: Record<string, unknown>; status?: Record<string, unknown> };

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env });
    await installCrds(cp.kubeConfig, crdManifests());
    api = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    p = await createPulumiProject({ toolchain: toolchain.env!, name: "cluster-preflight", files: { "index.js": PROGRAM }, env: { SETPOINT_TEST_KUBECONFIG: cp.kubeconfigPath } });
  }, 180_000);
  afterAll(async () => {
    p?.cleanup();
    await cp?.stop();
  });

  const read = async (): Promise<Obj> => (await api.getNamespacedCustomObject({ ...ref, name: "shop" })) as Obj;
  const writeStatus = async (status: Record<string, unknown>): Promise<void> => {
    const live = await read();
    await api.replaceNamespacedCustomObjectStatus({ ...ref, name: "shop", body: { ...live, status } });
  };
  const failure = async (run: Promise<unknown>): Promise<string> => {
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err, "the run succeeded").toBeInstanceOf(Error);
    return (err as Error).message;
  };

  it("refuses a bump the engine's preflight would refuse, with the fixes, and writes nothing", async () => {
    const blue = await freshDatabase(16);
    const b = await blue.client();
    await b.query(`CREATE EXTENSION adminpack`); // 16 ships it, 17 does not
    await b.query(`CREATE TABLE events (at timestamptz, what text)`);
    const url = new URL(blue.url);
    const at = { host: url.hostname, port: Number(url.port), password: decodeURIComponent(url.password), database: blue.name, timeoutMs: 5000 };
    const ready = (generation: number) => ({ type: "Ready", status: "True", reason: "ClusterHealthy", message: "3/3 instances ready", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"), observedGeneration: generation });

    // The cluster at 16, its status as the operator writes it (readiness from a real inspection).
    const up = p!.up();
    up.catch(() => undefined);
    for (let i = 0; ; i++) {
      const created = await read().catch(() => undefined);
      if (created) break;
      if (i > 480) throw new Error("the component never created the PostgresCluster");
      await sleep(250);
    }
    await writeStatus({ observedGeneration: 1, conditions: [ready(1)], postgresVersion: 16, readWriteService: "shop-rw", upgradeReadiness: await inspectReadiness(at, 16, new Date()) });
    const first = await up;
    expect(summaryOf(first), errorsOf(first)).toMatchObject({ result: "succeeded" });

    // 16 -> 17: refused at preview with each finding and its fix.
    await p!.pulumi("config", "set", "postgresVersion", "17");
    const preview = await failure(p!.pulumi("preview", "--non-interactive"));
    expect(preview).toMatch(/upgrading 16 -> 17 would be refused by the upgrade's preflight, so nothing was created/);
    expect(preview).toMatch(/NO_REPLICA_IDENTITY "public"\."events".*fix: add a primary key, or ALTER TABLE "public"\."events" REPLICA IDENTITY USING INDEX/s);
    expect(preview).toMatch(/MISSING_EXTENSION "adminpack": extension "adminpack" is installed on blue but not available on green/);
    // `pulumi up` refuses too, before the spec is written; nothing else is created.
    const upRefused = await failure(p!.up());
    expect(upRefused).toMatch(/NO_REPLICA_IDENTITY/);
    expect((await read()).metadata.generation).toBe(1);
    expect((await read()).spec).toMatchObject({ postgresVersion: 16 });
    // (A first list of a kind may answer 429 while the API server's cache of it starts.)
    const upgrades = await eventually("PostgresUpgrades listed", () => api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.PostgresUpgrade.plural }).then((l) => l as { items: unknown[] }, () => undefined), 60_000);
    expect(upgrades.items).toEqual([]);

    // A downgrade, and a major outside the supported range: refused at preview with the fix.
    await p!.pulumi("config", "set", "postgresVersion", "15");
    expect(await failure(p!.pulumi("preview", "--non-interactive"))).toMatch(/postgresVersion 15 is lower than the 16 cluster shop runs.*Set postgresVersion back to 16/s);
    await p!.pulumi("config", "set", "postgresVersion", "19");
    expect(await failure(p!.pulumi("preview", "--non-interactive"))).toMatch(/postgresVersion: must be an integer from 14 to 18/);

    // Fixed on the running cluster, inspected again: the preview shows the upgrade's plan.
    await b.query(`DROP EXTENSION adminpack`);
    await b.query(`ALTER TABLE events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`);
    await writeStatus({ observedGeneration: 1, conditions: [ready(1)], postgresVersion: 16, readWriteService: "shop-rw", upgradeReadiness: await inspectReadiness(at, 16, new Date()) });
    await p!.pulumi("config", "set", "postgresVersion", "17");
    const planned = await p!.pulumi("preview", "--non-interactive");
    expect(planned).toMatch(/major upgrade 16 -> 17 \(blue-green\)/);
    expect(planned).toMatch(/no blocking finding for 17/);
    expect((await read()).metadata.generation).toBe(1);
  }, 600_000);
});
