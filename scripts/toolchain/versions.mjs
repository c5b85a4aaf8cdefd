// Pinned versions of every engine the toolchain builds. Changing a pin (or a wrapper module
// under ./go/) changes the cache key of the group using it (see GROUPS in paths.mjs), so the
// next `npm run toolchain` rebuilds that group only.

/**
 * Go toolchain used for every build. An installed `go` (1.21+) switches to it through
 * GOTOOLCHAIN, downloading golang.org/toolchain from the module proxy when it differs;
 * without any `go`, the same module is fetched and unpacked directly.
 */
export const GO_TOOLCHAIN = "go1.26.8";

/**
 * Pulumi CLI (github.com/pulumi/pulumi/pkg/v3). v3.260.0's module zip is refused by the
 * proxy (403), so v3.259.0 is the newest buildable release. The npm SDK (@pulumi/pulumi) is a
 * different version on purpose: 3.248.0, the newest that supports Node.js 20 (3.249.0 and later
 * declare Node >= 22); a newer CLI runs programs of an older SDK (ADR 0011).
 */
export const PULUMI_VERSION = "3.259.0";

/** Kubernetes release whose kube-apiserver is built (k8s.io/kubernetes). */
export const KUBERNETES_VERSION = "1.34.1";

/**
 * CoreDNS release (github.com/coredns/coredns) for the real-pod tier's cluster DNS; its
 * client-go (v0.34.0) matches KUBERNETES_VERSION's minor.
 */
export const COREDNS_VERSION = "1.12.4";

/** etcd release (go.etcd.io/etcd/server/v3); 3.6 is the line Kubernetes 1.34 is tested with. */
export const ETCD_VERSION = "3.6.5";

/**
 * Revision of the generated files (the dynamic-provider shim). Bump it when their content
 * changes so warm caches are refreshed.
 */
export const GENERATED_REVISION = 1;

/**
 * Pulumi Kubernetes provider plugin, paired with @pulumi/kubernetes of the same version.
 * Built from PULUMI_KUBERNETES_SOURCE, the only provider module version the proxy serves.
 */
export const PULUMI_KUBERNETES_VERSION = "4.25.0";

/** Provider module version the plugin is built from (commit f47bc2d6f199, 2026-01-15). */
export const PULUMI_KUBERNETES_SOURCE =
  "github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199";

/**
 * SeaweedFS (github.com/seaweedfs/seaweedfs), the S3-compatible server of the backup tests. The
 * proxy lists only this pseudo-version (commit 7506e5f91cd6, 2025-11-09); `@latest` is refused.
 */
export const SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs";
export const SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6";
