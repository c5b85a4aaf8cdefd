// The Pulumi Kubernetes provider plugin (pulumi-resource-kubernetes), built from the Go module
// proxy and installed into $PULUMI_HOME/plugins like the CLI's own plugin installer does.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { goBuild } from "./go-build.mjs";
import { placeExecutable, sameFile } from "./install.mjs";
import { runCapture } from "./proc.mjs";
import { pulumiHome } from "./pulumi.mjs";
import { PULUMI_KUBERNETES_SOURCE, PULUMI_KUBERNETES_VERSION } from "./versions.mjs";

const wrapperDir = fileURLToPath(new URL("./go/pulumi-resource-kubernetes/", import.meta.url));
const BINARY = "pulumi-resource-kubernetes";
const VERSION_VAR = "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version";

/**
 * Builds the provider into `binDir` when missing. Upstream embeds two files that its
 * `go generate` step writes; this does the same in a build copy of the wrapper module:
 * the provider's schema.json with `version` set, and its Terraform mapping, both compacted.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {string} dir toolchain cache entry (<root>/<key>)
 * @returns {Promise<Record<string, number>>} seconds spent, keyed by executable
 */
export async function buildKubernetesProvider(toolchain, dir) {
  const output = join(dir, "bin", BINARY);
  if (existsSync(output)) return {};
  const src = join(dir, "src", "pulumi-resource-kubernetes");
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  for (const f of ["go.mod", "go.sum", "main.go"]) copyFileSync(join(wrapperDir, f), join(src, f));

  const [module] = PULUMI_KUBERNETES_SOURCE.split("@");
  const dl = await runCapture(toolchain.go, ["mod", "download", "-json", module], { cwd: src, env: toolchain.env, timeoutMs: 30 * 60_000 });
  if (dl.status !== 0) throw new Error(`go mod download ${module} failed: ${dl.stderr || dl.stdout}`);
  const moduleDir = JSON.parse(dl.stdout).Dir;
  const cmdDir = join(moduleDir, "cmd", "pulumi-resource-kubernetes");
  const schema = JSON.parse(readFileSync(join(cmdDir, "schema.json"), "utf8"));
  schema.version = PULUMI_KUBERNETES_VERSION;
  writeFileSync(join(src, "schema-embed.json"), JSON.stringify(schema));
  const mapping = JSON.parse(readFileSync(join(cmdDir, "terraform-mapping.json"), "utf8"));
  writeFileSync(join(src, "terraform-mapping-embed.json"), JSON.stringify(mapping));

  const seconds = await goBuild(toolchain, {
    dir: src,
    pkg: ".",
    output,
    ldflags: [`-X ${VERSION_VAR}=${PULUMI_KUBERNETES_VERSION}`],
    logFile: join(dir, "logs", `${BINARY}.log`),
  });
  rmSync(join(dir, "src"), { recursive: true, force: true });
  return { [BINARY]: seconds };
}

/**
 * Installs the plugin as `pulumi plugin install` would leave it:
 * plugins/resource-kubernetes-v<version>/pulumi-resource-kubernetes, a `.lock` file beside the
 * directory, and no `.partial` marker (its presence means "install incomplete" to the CLI, so
 * it is written first and removed last).
 * @param {string} binDir
 * @returns {string} the installed executable
 */
export function installKubernetesProvider(binDir) {
  const plugins = join(pulumiHome(), "plugins");
  const name = `resource-kubernetes-v${PULUMI_KUBERNETES_VERSION}`;
  const pluginDir = join(plugins, name);
  const installed = join(pluginDir, BINARY);
  const partial = join(plugins, `${name}.partial`);
  const lock = join(plugins, `${name}.lock`);
  if (existsSync(installed) && existsSync(lock) && !existsSync(partial) && sameFile(installed, join(binDir, BINARY))) {
    return installed;
  }
  mkdirSync(plugins, { recursive: true });
  writeFileSync(partial, "");
  mkdirSync(pluginDir, { recursive: true });
  placeExecutable(join(binDir, BINARY), installed);
  writeFileSync(lock, "");
  rmSync(partial);
  return installed;
}

/** Version line for the summary, naming the source commit. */
export function kubernetesProviderVersion() {
  return `v${PULUMI_KUBERNETES_VERSION}`;
}
