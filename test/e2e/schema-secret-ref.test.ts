// The Schema component reading its connection URL from a Kubernetes Secret (as it will on a
// cluster, from a PostgresCluster's application secret): real API server, real Pulumi engine,
// real PostgreSQL 17 with a password-protected role. The password never reaches the state.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";
import { createPasswordRole, freshDatabase, majors, serverUrl } from "../support/postgres";
import { createPulumiProject, errorsOf, REPO_ROOT, summaryOf } from "../support/pulumi";

const MAJOR = 17;
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs", "etcd", "kube-apiserver"]);

const PROGRAM = `
const { Schema } = require("setpoint/components");
const schema = new Schema("widgets", {
  connection: { secretRef: { name: process.env.SETPOINT_TEST_SECRET, namespace: "default" }, kubeconfig: process.env.SETPOINT_TEST_KUBECONFIG },
  devUrl: process.env.SETPOINT_TEST_DEV_URL,
  sql: "CREATE TABLE widgets (id int PRIMARY KEY, label text);",
});
exports.planHash = schema.planHash;
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe.skipIf(toolchain.skip !== undefined || !majors().includes(MAJOR))("Schema connection from a Kubernetes Secret", () => {
  it("previews before the secret exists, fails up naming the secret, then applies once it exists", async () => {
    if (!existsSync(join(REPO_ROOT, "dist/components/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    const db = await freshDatabase(MAJOR);
    const { role, password, url: uri, drop } = await createPasswordRole(db);
    cleanups.push(drop);
    const c = await db.client();

    const plane: ControlPlane = await startControlPlane();
    cleanups.push(() => plane.stop());
    const cache = mkdtempSync(join(tmpdir(), "setpoint-secretref-cache-"));
    cleanups.push(() => rmSync(cache, { recursive: true, force: true }));
    const project = await createPulumiProject({
      toolchain: toolchain.env!,
      name: "schema-secret-ref",
      files: { "index.js": PROGRAM },
      installSetpoint: true,
      env: {
        SETPOINT_CACHE_DIR: cache,
        SETPOINT_TEST_SECRET: "app-db",
        SETPOINT_TEST_KUBECONFIG: plane.kubeconfigPath,
        SETPOINT_TEST_DEV_URL: serverUrl(db.server),
      },
    });
    cleanups.push(() => project.cleanup());

    // Before the secret exists (a cluster still being created), preview works and plans later.
    const early = await project.pulumi("preview", "--diff");
    expect(early).toContain("planned once the database is known");
    const failed = await project.pulumi("up", "--yes", "--skip-preview").then(
      (out) => out,
      (err: Error) => err.message,
    );
    expect(failed).toContain("cannot read secret default/app-db: it does not exist");

    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "app-db" }, stringData: { uri } } });

    const preview = await project.pulumi("preview", "--diff");
    expect(preview).toContain("CREATE TABLE");
    const up = await project.up();
    expect(summaryOf(up), errorsOf(up)).toMatchObject({ result: "succeeded" });
    const { rows } = await c.query("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'widgets'");
    expect(rows).toEqual([{ owner: role }]);
    const again = await project.up();
    expect(summaryOf(again)?.resourceChanges).toEqual({ same: 3 });

    const exported = await project.pulumi("stack", "export");
    expect(exported).not.toContain(password);
  }, 300_000);
});
