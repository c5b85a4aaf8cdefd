// Where the toolchain lives on disk, and how callers (tests, scripts) find it. Dependency
// free and side-effect free: importing it never builds anything.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  COREDNS_VERSION,
  ETCD_VERSION,
  GENERATED_REVISION,
  GO_TOOLCHAIN,
  KUBERNETES_VERSION,
  PULUMI_KUBERNETES_SOURCE,
  PULUMI_KUBERNETES_VERSION,
  PULUMI_VERSION,
  SEAWEEDFS_MODULE,
  SEAWEEDFS_VERSION,
} from "./versions.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));

/**
 * Root of all toolchain caches: `$SETPOINT_TOOLCHAIN_DIR`, else
 * `$XDG_CACHE_HOME/setpoint/toolchain`, else `~/.cache/setpoint/toolchain`.
 * @returns {string}
 */
export function toolchainRoot() {
  if (process.env.SETPOINT_TOOLCHAIN_DIR) return process.env.SETPOINT_TOOLCHAIN_DIR;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "setpoint", "toolchain");
}

/**
 * The toolchain's build groups: which Go wrapper modules (under ./go/) and which pins each
 * depends on. Each group is cached separately, so changing one pin rebuilds one group.
 */
export const GROUPS = {
  pulumi: {
    modules: ["pulumi", "pulumi-language-nodejs"],
    pins: { GO_TOOLCHAIN, PULUMI_VERSION, GENERATED_REVISION },
    binaries: ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"],
  },
  kube: {
    modules: ["kube-apiserver", "etcd"],
    pins: { GO_TOOLCHAIN, KUBERNETES_VERSION, ETCD_VERSION },
    binaries: ["kube-apiserver", "kube-controller-manager", "etcd"],
  },
  node: {
    modules: ["kube-node", "coredns", "pause"],
    pins: { GO_TOOLCHAIN, KUBERNETES_VERSION, COREDNS_VERSION },
    binaries: ["kubelet", "kube-proxy", "kube-scheduler", "pause", "coredns"],
  },
  "kubernetes-provider": {
    modules: ["pulumi-resource-kubernetes"],
    pins: { GO_TOOLCHAIN, PULUMI_KUBERNETES_VERSION, PULUMI_KUBERNETES_SOURCE },
    binaries: ["pulumi-resource-kubernetes"],
  },
  s3: {
    modules: [],
    pins: { GO_TOOLCHAIN, SEAWEEDFS_MODULE, SEAWEEDFS_VERSION },
    binaries: ["weed"],
  },
};

function filesUnder(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(p));
    else if (entry.isFile()) files.push(p);
  }
  return files;
}

/**
 * Cache key of one group: a hash of its pins, its Go wrapper modules (go.mod, go.sum,
 * sources) and the platform.
 * @param {keyof typeof GROUPS} group
 * @returns {string}
 */
export function groupKey(group) {
  const { modules, pins } = GROUPS[group];
  const h = createHash("sha256");
  h.update(`${group}\n${process.platform}-${process.arch}\n${JSON.stringify(pins)}\n`);
  for (const m of modules) {
    for (const file of filesUnder(join(here, "go", m))) {
      h.update(relative(here, file) + "\n");
      h.update(readFileSync(file));
    }
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Directory holding one group's binaries (bin/), build logs (logs/) and stamp.
 * @param {keyof typeof GROUPS} group
 * @returns {string}
 */
export function groupDir(group) {
  return join(toolchainRoot(), `${group}-${groupKey(group)}`);
}

/**
 * Cache key of this checkout's whole toolchain (all group keys). Two checkouts with the
 * same pins share a cache entry.
 * @returns {string}
 */
export function toolchainKey() {
  const h = createHash("sha256");
  for (const g of Object.keys(GROUPS)) h.update(`${g}=${groupKey(g)}\n`);
  return h.digest("hex").slice(0, 16);
}

/**
 * Directory of this checkout's env.json: `<root>/<key>`.
 * @returns {string}
 */
export function toolchainDir() {
  return join(toolchainRoot(), toolchainKey());
}

/**
 * Path of the env.json that `npm run toolchain` writes (absolute paths of every binary).
 * @returns {string}
 */
export function envJsonPath() {
  return join(toolchainDir(), "env.json");
}

/**
 * Reads env.json, or returns undefined when the toolchain was not built for this checkout.
 * Binaries it names that no longer exist also yield undefined.
 * @returns {import("./paths.d.mts").ToolchainEnv | undefined}
 */
export function readToolchainEnv() {
  const file = envJsonPath();
  if (!existsSync(file)) return undefined;
  const env = JSON.parse(readFileSync(file, "utf8"));
  for (const tool of Object.values(env.tools)) {
    if (!existsSync(tool.path) || !statSync(tool.path).isFile()) return undefined;
  }
  return env;
}
