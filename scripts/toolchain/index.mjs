#!/usr/bin/env node
// `npm run toolchain`: provides the real engines the integration tests and the demo run
// against, built from package registries only (see docs/adr/0002-toolchain.md):
//   pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs  -> $PULUMI_HOME/versions/<v>/bin
//   pulumi-resource-kubernetes                                     -> $PULUMI_HOME/plugins/resource-kubernetes-v<v>/
//   kube-apiserver, kube-controller-manager, etcd                  -> <cache>/kube-<key>/bin
//   kubelet, kube-proxy, kube-scheduler, coredns (real-pod tier)   -> <cache>/node-<key>/bin
//   weed (SeaweedFS, the backup tests' S3 server)                   -> <cache>/s3-<key>/bin
// Idempotent: a warm run only checks files and never invokes `go`. Writes <cache>/<key>/env.json
// with the absolute path and version of every executable. Options:
//   --only=pulumi,kube,node,kubernetes-provider,s3 provide some groups only
//   --force                                  rebuild the selected groups even when cached
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureGo } from "./go.mjs";
import { buildKube, kubeVersions } from "./kube.mjs";
import { buildNode, nodeVersions } from "./node.mjs";
import { buildKubernetesProvider, installKubernetesProvider, kubernetesProviderVersion } from "./kubernetes-provider.mjs";
import { acquireLock } from "./lock.mjs";
import { GROUPS, envJsonPath, groupDir, toolchainDir, toolchainKey, toolchainRoot } from "./paths.mjs";
import { buildS3, s3Versions } from "./s3.mjs";
import { buildPulumi, installPulumi, pulumiHome, pulumiOnPath, pulumiVersions } from "./pulumi.mjs";

const STAMP_FORMAT = 1;

function say(msg) {
  console.log(`toolchain: ${msg}`);
}

function parseArgs(argv) {
  const opts = { groups: Object.keys(GROUPS), force: false };
  for (const arg of argv) {
    if (arg === "--force") opts.force = true;
    else if (arg.startsWith("--only=")) opts.groups = arg.slice("--only=".length).split(",");
    else throw new Error(`unknown option ${arg}; use --only=${Object.keys(GROUPS).join(",")} or --force`);
  }
  for (const g of opts.groups) {
    if (!(g in GROUPS)) throw new Error(`unknown group ${g} in --only; use ${Object.keys(GROUPS).join(", ")}`);
  }
  return opts;
}

function readStamp(dir) {
  try {
    const stamp = JSON.parse(readFileSync(join(dir, "stamp.json"), "utf8"));
    return stamp.format === STAMP_FORMAT ? stamp : undefined;
  } catch {
    return undefined;
  }
}

/** A group is warm when its stamp records every binary and every binary exists. */
function isWarm(group, dir, stamp) {
  return GROUPS[group].binaries.every((b) => stamp?.versions?.[b] && existsSync(join(dir, "bin", b)));
}

/** Builds one group into its directory; returns seconds per built executable. */
async function buildGroup(group, toolchain, dir) {
  const bin = join(dir, "bin");
  const logs = join(dir, "logs");
  switch (group) {
    case "pulumi": {
      const built = await buildPulumi(toolchain, bin, logs);
      return { built, versions: pulumiVersions(bin) };
    }
    case "kube": {
      const built = await buildKube(toolchain, bin, logs);
      return { built, versions: kubeVersions(bin) };
    }
    case "node": {
      const built = await buildNode(toolchain, bin, logs);
      return { built, versions: nodeVersions(bin) };
    }
    case "kubernetes-provider": {
      const built = await buildKubernetesProvider(toolchain, dir);
      return { built, versions: { "pulumi-resource-kubernetes": kubernetesProviderVersion() } };
    }
    case "s3": {
      const built = await buildS3(toolchain, bin, logs);
      return { built, versions: s3Versions(bin) };
    }
    default:
      throw new Error(`no build for group ${group}`);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const root = toolchainRoot();
  mkdirSync(root, { recursive: true });

  // Interrupts must run the 'exit' handlers that kill builds and release the lock.
  for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => process.exit(130));
  const release = await acquireLock(join(root, ".lock"), say);
  try {
    let toolchain;
    const built = {};
    const tools = {};
    let pulumiBinDir;
    for (const group of Object.keys(GROUPS)) {
      const selected = opts.groups.includes(group);
      const dir = groupDir(group);
      if (selected && opts.force) rmSync(dir, { recursive: true, force: true });
      let stamp = readStamp(dir);
      // Groups left out by --only still appear in env.json when they are already built.
      if (!selected && !isWarm(group, dir, stamp)) continue;
      // An official install of the pinned version on PATH wins over our build.
      const external = group === "pulumi" && selected ? pulumiOnPath() : undefined;
      if (external) {
        say(`using the pulumi installation on PATH at ${external}`);
        pulumiBinDir = external;
        const versions = pulumiVersions(external);
        for (const b of GROUPS.pulumi.binaries) tools[b] = { version: versions[b], path: join(external, b) };
        continue;
      }
      if (!isWarm(group, dir, stamp)) {
        toolchain ??= await ensureGo(root, say);
        say(`building ${group} with ${toolchain.version} into ${dir} (logs in ${join(dir, "logs")})`);
        const result = await buildGroup(group, toolchain, dir);
        Object.assign(built, result.built);
        stamp = { format: STAMP_FORMAT, group, versions: result.versions, buildSeconds: { ...stamp?.buildSeconds, ...result.built } };
        writeFileSync(join(dir, "stamp.json"), JSON.stringify(stamp, null, 2) + "\n");
      }
      const bin = join(dir, "bin");
      if (group === "pulumi") pulumiBinDir = installPulumi(bin);
      for (const b of GROUPS[group].binaries) tools[b] = { version: stamp.versions[b], path: join(bin, b) };
      if (group === "kubernetes-provider") tools["pulumi-resource-kubernetes"].path = installKubernetesProvider(bin);
    }

    // An external pulumi found by an earlier run stays in env.json under --only=kube.
    let previous = {};
    try {
      previous = JSON.parse(readFileSync(envJsonPath(), "utf8"));
    } catch {
      // first run for this key
    }
    if (!opts.groups.includes("pulumi") && !tools.pulumi && previous.tools?.pulumi) {
      for (const b of GROUPS.pulumi.binaries) tools[b] = previous.tools[b];
      pulumiBinDir ??= previous.pulumiBinDir;
    }
    const home = pulumiHome();
    const env = {
      format: 1,
      key: toolchainKey(),
      pulumiHome: home,
      pulumiBinDir: pulumiBinDir ?? previous.pulumiBinDir ?? join(home, "versions"),
      tools,
    };
    mkdirSync(toolchainDir(), { recursive: true });
    writeFileSync(envJsonPath(), JSON.stringify(env, null, 2) + "\n");

    for (const [name, s] of Object.entries(built)) say(`built ${name} in ${s.toFixed(0)}s`);
    for (const [name, t] of Object.entries(env.tools)) console.log(`${name} ${t.version}`);
    const verb = Object.keys(built).length > 0 ? "done" : "cached";
    say(`${verb} in ${((Date.now() - started) / 1000).toFixed(1)}s; env: ${envJsonPath()}`);
  } finally {
    release();
  }
}

main().catch((err) => {
  console.error(`toolchain: ${err.message}`);
  process.exit(1);
});
