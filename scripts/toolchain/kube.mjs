// kube-apiserver and etcd for the envtest-style control plane (no kubelet or scheduler), plus
// kube-controller-manager, which tests may start for the garbage collector and namespace
// controller only. All built from the Go module proxy.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { goBuild, goBuildMany } from "./go-build.mjs";
import { probe } from "./proc.mjs";
import { ETCD_VERSION, KUBERNETES_VERSION } from "./versions.mjs";

/**
 * Version variables the Kubernetes build normally stamps from git (hack/lib/version.sh).
 * Without them the server reports v0.0.0-master, which clients treat as very old.
 * @returns {string[]}
 */
export function kubeVersionFlags() {
  const [major, minor] = KUBERNETES_VERSION.split(".");
  const vars = {
    gitVersion: `v${KUBERNETES_VERSION}`,
    gitMajor: major,
    gitMinor: minor,
    gitTreeState: "clean",
    buildDate: "1970-01-01T00:00:00Z",
  };
  const pkgs = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"];
  return pkgs.flatMap((pkg) => Object.entries(vars).map(([k, v]) => `-X ${pkg}.${k}=${v}`));
}

/**
 * Builds kube-apiserver, kube-controller-manager and etcd into `binDir` when missing.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {string} binDir
 * @param {string} logDir
 * @returns {Promise<Record<string, number>>} seconds spent per build, keyed by the executables it built (`a+b` for one build of two)
 */
export async function buildKube(toolchain, binDir, logDir) {
  const timings = {};
  if (!existsSync(join(binDir, "etcd"))) {
    timings.etcd = await goBuild(toolchain, {
      module: "etcd",
      pkg: ".",
      output: join(binDir, "etcd"),
      logFile: join(logDir, "etcd.log"),
    });
  }
  // Both servers in one `go build`: the controller manager's packages are mostly the server's.
  const missing = ["kube-apiserver", "kube-controller-manager"].filter((cmd) => !existsSync(join(binDir, cmd)));
  if (missing.length > 0) {
    timings[missing.join("+")] = await goBuildMany(toolchain, {
      module: "kube-apiserver",
      pkgs: missing.map((cmd) => `k8s.io/kubernetes/cmd/${cmd}`),
      binDir,
      ldflags: kubeVersionFlags(),
      logFile: join(logDir, `${missing.join("+")}.log`),
    });
  }
  return timings;
}

/**
 * Versions the built executables report, e.g. { "kube-apiserver": "v1.34.1", etcd: "3.6.5" }.
 * @param {string} binDir
 * @returns {Record<string, string>}
 */
export function kubeVersions(binDir) {
  const kas = probe(join(binDir, "kube-apiserver"), ["--version"]);
  const kcm = probe(join(binDir, "kube-controller-manager"), ["--version"]);
  const etcd = probe(join(binDir, "etcd"), ["--version"]);
  return {
    "kube-apiserver": kas?.replace(/^Kubernetes\s+/, "") ?? `v${KUBERNETES_VERSION}?`,
    "kube-controller-manager": kcm?.replace(/^Kubernetes\s+/, "") ?? `v${KUBERNETES_VERSION}?`,
    etcd: /etcd Version: (\S+)/.exec(etcd ?? "")?.[1] ?? `${ETCD_VERSION}?`,
  };
}
