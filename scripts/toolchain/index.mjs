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
//   --jobs=N                                 groups built at once (default $SETPOINT_TOOLCHAIN_JOBS, else 2)
// Cold, the missing groups build concurrently (ADR 0028): `node` after `kube` (they share most
// packages through the Go build cache), the others independent of each other.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ensureGo } from "./go.mjs";
import { buildKube, kubeVersions } from "./kube.mjs";
import { buildNode, nodeVersions } from "./node.mjs";
import { buildKubernetesProvider, installKubernetesProvider, kubernetesProviderVersion } from "./kubernetes-provider.mjs";
import { acquireLock } from "./lock.mjs";
import { GROUPS, envJsonPath, groupDir, toolchainDir, toolchainKey, toolchainRoot } from "./paths.mjs";
import { buildS3, s3Versions } from "./s3.mjs";
import { runScheduled } from "./schedule.mjs";
import { buildPulumi, installPulumi, pulumiHome, pulumiOnPath, pulumiVersions } from "./pulumi.mjs";

const STAMP_FORMAT = 1;

/**
 * Cold build order: a group starts once the groups it comes after are built; among ready groups
 * the first listed starts first, so the longest (measured cold, docs/ci-time.md) go first.
 * `node` comes after `kube`: built at the same time they would compile the same Kubernetes
 * packages twice (the Go build cache does not share work in progress).
 */
const BUILD_ORDER = [
  { group: "kubernetes-provider" },
  { group: "kube" },
  { group: "s3" },
  { group: "node", after: ["kube"] },
  { group: "pulumi" },
];

/**
 * Groups built at once: two saturate two cores (each `go build -p <cores>`) while one of them
 * downloads modules, loads packages or links, the phases that leave a core idle.
 */
function defaultJobs() {
  const env = process.env.SETPOINT_TOOLCHAIN_JOBS;
  if (env) return parseJobs(env, "SETPOINT_TOOLCHAIN_JOBS");
  return availableParallelism() >= 2 ? 2 : 1;
}

function parseJobs(value, what) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Writes `file` whole or not at all: readers never see a truncated stamp or env.json. */
function writeAtomically(file, text) {
  const tmp = `${file}.partial-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function say(msg) {
  console.log(`toolchain: ${msg}`);
}

function parseArgs(argv) {
  const opts = { groups: Object.keys(GROUPS), force: false, jobs: undefined };
  for (const arg of argv) {
    if (arg === "--force") opts.force = true;
    else if (arg.startsWith("--jobs=")) opts.jobs = parseJobs(arg.slice("--jobs=".length), "--jobs");
    else if (arg.startsWith("--only=")) opts.groups = arg.slice("--only=".length).split(",");
    else throw new Error(`unknown option ${arg}; use --only=${Object.keys(GROUPS).join(",")}, --force or --jobs=N`);
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
    const built = {};
    const tools = {};
    let pulumiBinDir;
    // Which groups this run provides, and which of them must be built.
    const provided = [];
    const stamps = {};
    const toBuild = [];
    for (const group of Object.keys(GROUPS)) {
      const selected = opts.groups.includes(group);
      const dir = groupDir(group);
      if (selected && opts.force) rmSync(dir, { recursive: true, force: true });
      const stamp = readStamp(dir);
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
      provided.push(group);
      stamps[group] = stamp;
      if (!isWarm(group, dir, stamp)) toBuild.push(group);
    }

    if (toBuild.length > 0) {
      const toolchain = await ensureGo(root, say);
      const jobs = Math.min(opts.jobs ?? defaultJobs(), toBuild.length);
      say(`building ${toBuild.join(", ")} with ${toolchain.version}, ${jobs} group(s) at a time`);
      const tasks = BUILD_ORDER.filter((t) => toBuild.includes(t.group)).map((t) => ({
        name: t.group,
        // An `after` group that is warm (or not provided) is not waited for.
        after: (t.after ?? []).filter((g) => toBuild.includes(g)),
        run: async () => {
          const dir = groupDir(t.group);
          say(`building ${t.group} into ${dir} (logs in ${join(dir, "logs")})`);
          const result = await buildGroup(t.group, toolchain, dir);
          const previous = stamps[t.group];
          // The stamp is written last and atomically: it is what makes the entry complete.
          const stamp = { format: STAMP_FORMAT, group: t.group, versions: result.versions, buildSeconds: { ...previous?.buildSeconds, ...result.built } };
          writeAtomically(join(dir, "stamp.json"), JSON.stringify(stamp, null, 2) + "\n");
          const seconds = Object.values(result.built).reduce((a, b) => a + b, 0);
          say(`built ${t.group} (${Object.keys(result.built).join(", ") || "nothing missing"}) in ${seconds.toFixed(0)}s`);
          return { stamp, built: result.built };
        },
      }));
      const outcome = await runScheduled(tasks, jobs);
      for (const [group, r] of Object.entries(outcome.results)) {
        stamps[group] = r.stamp;
        Object.assign(built, r.built);
      }
      const failed = Object.entries(outcome.failures);
      if (failed.length > 0) {
        const lines = failed.map(([g, e]) => `${g}: ${e.message}`);
        if (outcome.skipped.length > 0) lines.push(`not built because of that: ${outcome.skipped.join(", ")}`);
        const ok = Object.keys(outcome.results);
        if (ok.length > 0) lines.push(`built and cached: ${ok.join(", ")} (the next run builds only what failed)`);
        throw new Error(`building failed\n  ${lines.join("\n  ")}`);
      }
    }

    for (const group of provided) {
      const stamp = stamps[group];
      const bin = join(groupDir(group), "bin");
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
    writeAtomically(envJsonPath(), JSON.stringify(env, null, 2) + "\n");

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
