// The Kubernetes provider plugin built by the toolchain, driven by the real CLI and
// @pulumi/kubernetes against the harness's API server: create, no-op update, destroy.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";

const run = promisify(execFile);
const repoNodeModules = resolve(__dirname, "../../node_modules");
const toolchain = toolchainOrSkip([
  "pulumi",
  "pulumi-language-nodejs",
  "pulumi-resource-kubernetes",
  "etcd",
  "kube-apiserver",
]);

/** @pulumi/kubernetes must be installed at the version the toolchain built the plugin for. */
function sdkSkipReason(): string | undefined {
  if (toolchain.skip) return toolchain.skip;
  const wanted = toolchain.env!.tools["pulumi-resource-kubernetes"]!.version.replace(/^v/, "");
  let installed: string | undefined;
  try {
    const pkg = readFileSync(join(repoNodeModules, "@pulumi/kubernetes/package.json"), "utf8");
    installed = (JSON.parse(pkg) as { version: string }).version;
  } catch {
    installed = undefined;
  }
  if (installed === wanted) return undefined;
  const message = `@pulumi/kubernetes@${wanted} is not installed (found ${installed ?? "none"}); add it as a devDependency`;
  if (process.env.CI) throw new Error(message);
  console.warn(`skipping: ${message}`);
  return message;
}
const skip = sdkSkipReason();

const PROGRAM = `
const k8s = require("@pulumi/kubernetes");
// Foreground deletion (the provider's default) waits for the garbage collector, which runs in
// kube-controller-manager; this control plane has none, so ask for background deletion.
const settings = new k8s.core.v1.ConfigMap("settings", {
  metadata: {
    name: "settings",
    namespace: "default",
    annotations: { "pulumi.com/deletionPropagationPolicy": "background" },
  },
  data: { mode: "test" },
});
exports.name = settings.metadata.name;
`;

interface EngineEvent {
  summaryEvent?: { result: string; resourceChanges: Record<string, number> };
}

describe.skipIf(skip !== undefined)("toolchain: pulumi-resource-kubernetes", () => {
  let cp: ControlPlane | undefined;
  let dir: string;
  let program: string;
  let env: NodeJS.ProcessEnv;

  const pulumi = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(toolchain.env!.tools["pulumi"]!.path, args, {
        cwd: program,
        env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: 240_000,
      });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`pulumi ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`, { cause: err });
    }
  };
  const summary = async (...args: string[]): Promise<EngineEvent["summaryEvent"]> =>
    (await pulumi(...args, "--yes", "--skip-preview", "--json"))
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(l) as EngineEvent)
      .find((e) => e.summaryEvent)?.summaryEvent;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env });
    dir = mkdtempSync(join(tmpdir(), "setpoint-k8s-provider-"));
    program = join(dir, "program");
    const home = join(dir, "pulumi-home");
    const state = join(dir, "state");
    for (const d of [program, home, state]) mkdirSync(d);
    symlinkSync(join(toolchain.env!.pulumiHome, "plugins"), join(home, "plugins"));
    symlinkSync(repoNodeModules, join(program, "node_modules"));
    writeFileSync(join(program, "Pulumi.yaml"), "name: k8s-provider-smoke\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n");
    writeFileSync(join(program, "package.json"), JSON.stringify({ name: "k8s-provider-smoke", private: true, main: "index.js" }));
    writeFileSync(join(program, "index.js"), PROGRAM);
    env = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
      PULUMI_SKIP_UPDATE_CHECK: "1",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      // The default provider reads the cluster from KUBECONFIG.
      KUBECONFIG: cp.kubeconfigPath,
      // The provider leaves kubeconfig copies in TMPDIR; keep them inside the test's dir.
      TMPDIR: dir,
    };
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_BACKEND_URL;
    await pulumi("login", `file://${state}`);
    await pulumi("stack", "init", "dev", "--secrets-provider", "passphrase");
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("creates a ConfigMap, then changes nothing, then deletes it", async () => {
    const core = cp!.kubeConfig.makeApiClient(CoreV1Api);

    expect(await summary("up")).toMatchObject({ result: "succeeded", resourceChanges: { create: 2 } });
    const created = await core.readNamespacedConfigMap({ name: "settings", namespace: "default" });
    expect(created.data).toEqual({ mode: "test" });

    expect(await summary("up")).toMatchObject({ result: "succeeded", resourceChanges: { same: 2 } });

    expect(await summary("destroy")).toMatchObject({ result: "succeeded", resourceChanges: { delete: 2 } });
    await expect(core.readNamespacedConfigMap({ name: "settings", namespace: "default" })).rejects.toMatchObject({ code: 404 });
  }, 300_000);
});
