// What real pods showed: the operator's dev server could not create its scratch directory (a
// read-only root filesystem), every reconcile failed with that error, and the PostgresSchema's
// status kept saying the database was unreachable, an older and unrelated outcome. Here the same
// sequence runs in process against a real API server and real PostgreSQL: the status must name the
// current error, at the current generation, and the error must name the directory and the fix.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crdManifests, type PostgresSchemaStatus } from "../../sdk/api/index";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import { noopLogger } from "../../sdk/reconcile/internal/logger";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import type { ControlPlane } from "../support/control-plane";
import { installCrds, startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { conditionOf, createCustomObject, deleteCustomObject, waitForStatus } from "../support/custom-objects";
import { freshDatabase, majors } from "../support/postgres";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const namespace = "default";
const major = majors().includes(17) ? 17 : majors()[0]!;
/** A scratch "directory" below a regular file: nothing can be created there, not even by root. */
const notADirectory = join(tmpdir(), `setpoint-failure-status-${process.pid}`);

interface SchemaObject {
  metadata: { name: string; generation?: number };
  status?: PostgresSchemaStatus & Record<string, unknown>;
}

describe.skipIf(toolchain.skip !== undefined)("PostgresSchema status after failed reconciles", () => {
  let cp: ControlPlane | undefined;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    writeFileSync(notADirectory, "");
    cp = await startControlPlane({ toolchain: toolchain.env! });
    await installCrds(cp.kubeConfig, crdManifests());
    // No dev URL: the operator normalizes on its embedded dev server, whose scratch directory cannot be created.
    operator = await startOperator({
      kubeconfig: cp.kubeConfig,
      namespace,
      resyncSeconds: 2,
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      engineOptions: { scratchDir: join(notADirectory, "scratch"), cacheDir: false },
      unreachableRequeueMs: 500,
      logger: noopLogger,
      metrics: new MetricsRegistry(),
    });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await cp?.stop();
    const { rmSync } = await import("node:fs");
    rmSync(notADirectory, { force: true });
  }, 60_000);

  it("replaces an older condition with the error of the current reconcile", async () => {
    const objects = cp!.kubeConfig.makeApiClient(CustomObjectsApi);
    const core = cp!.kubeConfig.makeApiClient(CoreV1Api);
    const waitFor = (what: string, done: (o: SchemaObject) => boolean) => waitForStatus<SchemaObject>(objects, { namespace, kind: "PostgresSchema", name: "fails" }, what, done);
    const ready = (o: SchemaObject) => conditionOf(o, "Ready");

    await core.createNamespacedSecret({ namespace, body: { metadata: { name: "fails-db" }, stringData: { uri: "postgres://app:pw@127.0.0.1:1/app" } } });
    await createCustomObject(objects, namespace, "PostgresSchema", "fails", { connection: { secretRef: { name: "fails-db" } }, desired: { sql: "CREATE TABLE t (id int);" }, driftCheckInterval: "2s" });
    await waitFor("Ready=False reason DatabaseUnreachable", (o) => ready(o)?.reason === "DatabaseUnreachable");

    // The database becomes reachable; now the dev server fails on every reconcile.
    const db = await freshDatabase(major);
    await core.replaceNamespacedSecret({ name: "fails-db", namespace, body: { metadata: { name: "fails-db" }, stringData: { uri: db.url } } });
    const live = await waitFor("the current error in status", (o) => ready(o)?.reason !== "DatabaseUnreachable");
    expect(ready(live)).toMatchObject({ status: "False", reason: "EmbeddedPostgres", observedGeneration: live.metadata.generation });
    expect(ready(live)?.message).toContain(`${join(notADirectory, "scratch")} is not writable`);
    expect(ready(live)?.message).toContain("SETPOINT_SCRATCH_DIR");
    expect(conditionOf(live, "Degraded")).toMatchObject({ status: "True", reason: "EmbeddedPostgres" });
    expect(live.status?.observedGeneration).toBe(live.metadata.generation);
    expect(JSON.stringify(live.status)).not.toContain(db.url);
    await deleteCustomObject(objects, namespace, "PostgresSchema", "fails");
  }, 120_000);
});
