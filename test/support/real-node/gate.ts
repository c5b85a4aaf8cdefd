// Whether the real-pod tier can run here, decided one way for every real-node test file, the
// demos' real-node mode and the operator helpers: root (containerd and the kubelet need it), the
// Debian packages (containerd, runc, debootstrap, the CNI bridge plugin) and the toolchain's
// control-plane and node binaries. Under CI, as root, anything missing is a failure: CI must not
// skip the real-pod tier.
import type { ToolchainEnv } from "../../../scripts/toolchain/paths.mjs";
import { toolchainOrSkip } from "../control-plane";
import { run } from "./host";

/** The toolchain pieces every real node needs (control plane, node, DNS, the pause image). */
export const REAL_NODE_TOOLS: readonly string[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kubelet", "kube-proxy", "kube-scheduler", "coredns", "pause"];

/** Why a real node cannot run here (not root, Debian packages missing), or undefined. */
export function realNodeUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  if (run("sh", ["-c", "command -v containerd && command -v runc && command -v debootstrap && test -x /usr/lib/cni/bridge"]).status !== 0) {
    return "containerd, runc, debootstrap or the CNI plugins are missing (Debian: containerd runc debootstrap containernetworking-plugins)";
  }
  return undefined;
}

/**
 * The toolchain for a real-node test file (`REAL_NODE_TOOLS` and `extra`), or why it skips.
 * @throws {Error} under CI, as root, when the Debian packages are missing (the toolchain's own check throws for its binaries).
 */
export function realNodeToolchain(extra: readonly string[] = []): { env?: ToolchainEnv; skip?: string } {
  const unavailable = realNodeUnavailable();
  if (unavailable === undefined) return toolchainOrSkip([...REAL_NODE_TOOLS, ...extra]);
  if (process.env.CI && process.getuid?.() === 0) throw new Error(`${unavailable}; CI must not skip the real-pod tier`);
  return { skip: unavailable };
}
