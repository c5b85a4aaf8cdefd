/** One built (or found) executable. */
export interface ToolchainTool {
  /** Version as the tool reports it, e.g. "v3.259.0", "v1.34.1", "3.6.5". */
  version: string;
  /** Absolute path of the executable. */
  path: string;
}

/** Content of `<toolchain dir>/env.json`, written by `npm run toolchain`. */
export interface ToolchainEnv {
  /** Format version of this file. */
  format: 1;
  /** Cache key (see toolchainKey()). */
  key: string;
  /** PULUMI_HOME the CLI and plugins were installed into. */
  pulumiHome: string;
  /** Directory holding `pulumi` and its bundled plugins (language host, dynamic-provider shim). */
  pulumiBinDir: string;
  /** Every tool by name: pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs, kube-apiserver, kube-controller-manager, etcd, kubelet, kube-proxy, kube-scheduler, coredns, pulumi-resource-kubernetes, weed. */
  tools: Record<string, ToolchainTool>;
}

/** Root of all toolchain caches ($SETPOINT_TOOLCHAIN_DIR or ~/.cache/setpoint/toolchain). */
export function toolchainRoot(): string;
/** Cache key of this checkout's toolchain (hash of every group's key). */
export function toolchainKey(): string;
/** Cache key of one build group. */
export function groupKey(group: "pulumi" | "kube" | "node" | "kubernetes-provider" | "s3"): string;
/** `<root>/<group>-<groupKey>`: a group's bin/, logs/ and stamp.json. */
export function groupDir(group: "pulumi" | "kube" | "node" | "kubernetes-provider" | "s3"): string;
/** `<root>/<key>`, holding env.json. */
export function toolchainDir(): string;
/** Path of env.json for this checkout. */
export function envJsonPath(): string;
/** env.json's content, or undefined when the toolchain is missing or incomplete. */
export function readToolchainEnv(): ToolchainEnv | undefined;
