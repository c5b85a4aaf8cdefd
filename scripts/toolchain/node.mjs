// The node components of the real-pod tier: kubelet, kube-proxy and kube-scheduler from
// k8s.io/kubernetes at the kube-apiserver's version (wrapper module ./go/kube-node), CoreDNS with
// the plugins the harness uses (./go/coredns), and the pod sandbox's pause program (./go/pause).
// All built from the Go module proxy; the container runtime (containerd, runc, CNI plugins) comes
// from Debian packages (.ci/run).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { goBuild, goBuildMany } from "./go-build.mjs";
import { kubeVersionFlags } from "./kube.mjs";
import { probe } from "./proc.mjs";
import { COREDNS_VERSION, KUBERNETES_VERSION } from "./versions.mjs";

/** The Kubernetes commands of the group, each a main package of k8s.io/kubernetes. */
const KUBE_COMMANDS = ["kubelet", "kube-proxy", "kube-scheduler"];

/**
 * Builds kubelet, kube-proxy, kube-scheduler, pause (the sandbox image's process) and coredns
 * into `binDir` when missing.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {string} binDir
 * @param {string} logDir
 * @returns {Promise<Record<string, number>>} seconds spent per build, keyed by the executables it built (`a+b` for one build of two)
 */
export async function buildNode(toolchain, binDir, logDir) {
  const timings = {};
  // The missing commands in one `go build`: they share most of their packages.
  const missing = KUBE_COMMANDS.filter((cmd) => !existsSync(join(binDir, cmd)));
  if (missing.length > 0) {
    timings[missing.join("+")] = await goBuildMany(toolchain, {
      module: "kube-node",
      pkgs: missing.map((cmd) => `k8s.io/kubernetes/cmd/${cmd}`),
      binDir,
      ldflags: kubeVersionFlags(),
      logFile: join(logDir, `${missing.join("+")}.log`),
    });
  }
  if (!existsSync(join(binDir, "pause"))) {
    timings.pause = await goBuild(toolchain, { module: "pause", pkg: ".", output: join(binDir, "pause"), logFile: join(logDir, "pause.log") });
  }
  if (!existsSync(join(binDir, "coredns"))) {
    timings.coredns = await goBuild(toolchain, {
      module: "coredns",
      pkg: ".",
      output: join(binDir, "coredns"),
      logFile: join(logDir, "coredns.log"),
    });
  }
  return timings;
}

/**
 * Versions the built executables report, e.g. { kubelet: "v1.34.1", coredns: "1.12.4" }.
 * @param {string} binDir
 * @returns {Record<string, string>}
 */
export function nodeVersions(binDir) {
  const versions = {};
  for (const cmd of KUBE_COMMANDS) {
    versions[cmd] = probe(join(binDir, cmd), ["--version"])?.replace(/^Kubernetes\s+/, "") ?? `v${KUBERNETES_VERSION}?`;
  }
  versions.pause = "1";
  versions.coredns = /CoreDNS-(\S+)/.exec(probe(join(binDir, "coredns"), ["-version"]) ?? "")?.[1] ?? `${COREDNS_VERSION}?`;
  return versions;
}
