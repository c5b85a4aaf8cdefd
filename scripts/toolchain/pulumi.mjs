// Pulumi CLI, Node.js language host and dynamic-provider shim, installed where the CLI and
// the Automation API look: $PULUMI_HOME/versions/<version>/bin.
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { goBuild } from "./go-build.mjs";
import { placeExecutable } from "./install.mjs";
import { probe } from "./proc.mjs";
import { GENERATED_REVISION, PULUMI_VERSION } from "./versions.mjs";

/** Executables that make up a working Pulumi installation for Node.js programs. */
export const PULUMI_BINARIES = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"];

const SDK_VERSION_VAR = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version";

/**
 * The dynamic-provider plugin: the engine starts it for `pulumi.dynamic.Resource`s with the
 * program's directory as working directory, so @pulumi/pulumi resolves from there.
 */
const DYNAMIC_PROVIDER_SHIM = `#!/bin/sh
# pulumi-resource-pulumi-nodejs (Setpoint toolchain, revision ${GENERATED_REVISION}): serves
# Pulumi dynamic providers by running @pulumi/pulumi/cmd/dynamic-provider, resolved from the
# program's directory the way the program itself resolves it.
entry=$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || {
  echo "pulumi-resource-pulumi-nodejs: cannot resolve @pulumi/pulumi/cmd/dynamic-provider from $PWD; run npm ci there" >&2
  exit 1
}
exec node "$entry" "$@"
`;

/** PULUMI_HOME as the CLI computes it. */
export function pulumiHome() {
  return process.env.PULUMI_HOME || join(homedir(), ".pulumi");
}

/**
 * A `pulumi` on PATH that already reports the pinned version and has the Node.js plugins
 * beside it (an official install) is used as is.
 * @returns {string | undefined} its directory
 */
export function pulumiOnPath() {
  const version = probe("pulumi", ["version"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
  if (version !== `v${PULUMI_VERSION}`) return undefined;
  const exe = probe("sh", ["-c", "command -v pulumi"]);
  if (!exe) return undefined;
  const dir = dirname(realpathSync(exe));
  return PULUMI_BINARIES.every((b) => existsSync(join(dir, b))) ? dir : undefined;
}

/**
 * Builds whichever of the Pulumi executables are missing from `binDir`.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {string} binDir
 * @param {string} logDir
 * @returns {Promise<Record<string, number>>} seconds spent per built executable
 */
export async function buildPulumi(toolchain, binDir, logDir) {
  const timings = {};
  const version = `v${PULUMI_VERSION}`;
  if (!existsSync(join(binDir, "pulumi"))) {
    timings.pulumi = await goBuild(toolchain, {
      module: "pulumi",
      pkg: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
      output: join(binDir, "pulumi"),
      ldflags: [`-X ${SDK_VERSION_VAR}=${version}`],
      logFile: join(logDir, "pulumi.log"),
    });
  }
  if (!existsSync(join(binDir, "pulumi-language-nodejs"))) {
    timings["pulumi-language-nodejs"] = await goBuild(toolchain, {
      module: "pulumi-language-nodejs",
      pkg: ".",
      output: join(binDir, "pulumi-language-nodejs"),
      ldflags: [`-X main.version=${version}`],
      logFile: join(logDir, "pulumi-language-nodejs.log"),
    });
  }
  writeShim(join(binDir, "pulumi-resource-pulumi-nodejs"));
  return timings;
}

function writeShim(path) {
  if (existsSync(path) && readFileSync(path, "utf8") === DYNAMIC_PROVIDER_SHIM) return;
  writeFileSync(`${path}.partial`, DYNAMIC_PROVIDER_SHIM, { mode: 0o755 });
  chmodSync(`${path}.partial`, 0o755);
  renameSync(`${path}.partial`, path);
}

/**
 * Installs the executables from `binDir` into $PULUMI_HOME/versions/<version>/bin (hard
 * links when on the same filesystem, else copies), replacing stale ones.
 * @returns {string} the installed bin directory
 */
export function installPulumi(binDir) {
  const dest = join(pulumiHome(), "versions", PULUMI_VERSION, "bin");
  mkdirSync(dest, { recursive: true });
  for (const name of PULUMI_BINARIES) placeExecutable(join(binDir, name), join(dest, name));
  return dest;
}

/**
 * Versions the installed executables report.
 * @param {string} dir
 * @returns {Record<string, string>}
 */
export function pulumiVersions(dir) {
  const env = { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" };
  return {
    pulumi: probe(join(dir, "pulumi"), ["version"], { env }) ?? "unknown",
    "pulumi-language-nodejs": probe(join(dir, "pulumi-language-nodejs"), ["--version"]) ?? `v${PULUMI_VERSION}`,
    "pulumi-resource-pulumi-nodejs": `shim r${GENERATED_REVISION}`,
  };
}
