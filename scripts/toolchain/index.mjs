#!/usr/bin/env node
// `npm run toolchain`: provides the real engines the integration tests and the demo run
// against, built from package registries only (see docs/adr/0002-toolchain.md):
//   pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs  -> $PULUMI_HOME/versions/<v>/bin
//   kube-apiserver, etcd                                           -> <cache>/<key>/bin
// Idempotent: a warm run only checks files and never invokes `go`. Writes <cache>/<key>/env.json
// with the absolute path of every executable. Options:
//   --only=pulumi|kube   provide one group only      --force   rebuild even when cached
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureGo } from "./go.mjs";
import { buildKube, kubeVersions } from "./kube.mjs";
import { acquireLock } from "./lock.mjs";
import { envJsonPath, toolchainDir, toolchainKey, toolchainRoot } from "./paths.mjs";
import { PULUMI_BINARIES, buildPulumi, installPulumi, pulumiHome, pulumiOnPath, pulumiVersions } from "./pulumi.mjs";

const KUBE_BINARIES = ["kube-apiserver", "etcd"];
const STAMP_FORMAT = 1;

function say(msg) {
  console.log(`toolchain: ${msg}`);
}

function parseArgs(argv) {
  const opts = { groups: ["pulumi", "kube"], force: false };
  for (const arg of argv) {
    if (arg === "--force") opts.force = true;
    else if (arg.startsWith("--only=")) opts.groups = arg.slice("--only=".length).split(",");
    else throw new Error(`unknown option ${arg}; use --only=pulumi,kube or --force`);
  }
  for (const g of opts.groups) {
    if (!["pulumi", "kube"].includes(g)) throw new Error(`unknown group ${g} in --only; use pulumi or kube`);
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

/** Groups whose binaries are all present and stamped, so no build is needed. */
function warmGroups(dir, stamp) {
  const binDir = join(dir, "bin");
  const warm = new Set();
  const has = (names) => names.every((n) => stamp?.versions?.[n] && existsSync(join(binDir, n)));
  if (has(PULUMI_BINARIES)) warm.add("pulumi");
  if (has(KUBE_BINARIES)) warm.add("kube");
  return warm;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const root = toolchainRoot();
  const key = toolchainKey();
  const dir = toolchainDir();
  const binDir = join(dir, "bin");
  const logDir = join(dir, "logs");
  mkdirSync(dir, { recursive: true });

  // Interrupts must run the 'exit' handlers that kill builds and release the lock.
  for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => process.exit(130));
  const release = await acquireLock(join(root, `${key}.lock`), say);
  try {
    if (opts.force) {
      for (const n of [...PULUMI_BINARIES, ...KUBE_BINARIES]) rmSync(join(binDir, n), { force: true });
      rmSync(join(dir, "stamp.json"), { force: true });
    }
    const stamp = readStamp(dir) ?? { format: STAMP_FORMAT, key, versions: {}, buildSeconds: {} };
    const warm = warmGroups(dir, stamp);
    const needed = opts.groups.filter((g) => !warm.has(g));

    const tools = {};
    let pulumiBinDir;
    const external = needed.includes("pulumi") ? pulumiOnPath() : undefined;
    if (external) say(`using the pulumi installation on PATH at ${external}`);
    const toBuild = needed.filter((g) => !(g === "pulumi" && external));

    const built = {};
    if (toBuild.length > 0) {
      const toolchain = await ensureGo(root, say);
      say(`building ${toBuild.join(", ")} with ${toolchain.version} into ${binDir} (logs: ${logDir})`);
      if (toBuild.includes("pulumi")) {
        Object.assign(built, await buildPulumi(toolchain, binDir, logDir));
        Object.assign(stamp.versions, pulumiVersions(binDir));
      }
      if (toBuild.includes("kube")) {
        Object.assign(built, await buildKube(toolchain, binDir, logDir));
        Object.assign(stamp.versions, kubeVersions(binDir));
      }
      Object.assign(stamp.buildSeconds, built);
      writeFileSync(join(dir, "stamp.json"), JSON.stringify(stamp, null, 2) + "\n");
    }

    const home = pulumiHome();
    if (opts.groups.includes("pulumi")) {
      pulumiBinDir = external ?? installPulumi(binDir);
      const versions = external ? pulumiVersions(external) : stamp.versions;
      for (const n of PULUMI_BINARIES) tools[n] = { version: versions[n], path: join(pulumiBinDir, n) };
    }
    if (opts.groups.includes("kube")) {
      for (const n of KUBE_BINARIES) tools[n] = { version: stamp.versions[n], path: join(binDir, n) };
    }

    // Keep entries from groups not provided this time (e.g. --only=kube after a full run).
    let previous = {};
    try {
      previous = JSON.parse(readFileSync(envJsonPath(), "utf8"));
    } catch {
      // first run
    }
    const env = {
      format: 1,
      key,
      pulumiHome: home,
      pulumiBinDir: pulumiBinDir ?? previous.pulumiBinDir ?? join(home, "versions"),
      tools: { ...(previous.tools ?? {}), ...tools },
    };
    writeFileSync(envJsonPath(), JSON.stringify(env, null, 2) + "\n");

    for (const [name, t] of Object.entries(env.tools)) console.log(`${name} ${t.version}`);
    for (const [name, s] of Object.entries(built)) say(`built ${name} in ${s.toFixed(0)}s`);
    say(`${toBuild.length > 0 ? "built" : "cached"} in ${((Date.now() - started) / 1000).toFixed(1)}s; env: ${envJsonPath()}`);
  } finally {
    release();
  }
}

main().catch((err) => {
  console.error(`toolchain: ${err.message}`);
  process.exit(1);
});
