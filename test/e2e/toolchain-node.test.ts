// The toolchain's node group: the kubelet, kube-proxy and kube-scheduler are the Kubernetes
// version of the control plane they join, CoreDNS is the pinned release, and pause is static
// (it runs alone in the sandbox image, with no libraries).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import { run } from "../support/real-node/host";

const toolchain = toolchainOrSkip(["kube-apiserver", "kubelet", "kube-proxy", "kube-scheduler", "coredns", "pause"]);

describe.skipIf(toolchain.skip !== undefined)("toolchain: node group", () => {
  it("builds the node components at the control plane's Kubernetes version", () => {
    const tools = toolchain.env!.tools;
    const apiserver = tools["kube-apiserver"]!.version;
    expect(apiserver).toMatch(/^v1\.\d+\.\d+$/);
    for (const name of ["kubelet", "kube-proxy", "kube-scheduler"]) {
      expect(tools[name]!.version, name).toBe(apiserver);
      expect(run(tools[name]!.path, ["--version"]).out.trim(), name).toBe(`Kubernetes ${apiserver}`);
    }
    expect(run(tools.coredns!.path, ["-version"]).out).toContain(`CoreDNS-${tools.coredns!.version}`);
  });

  it("builds a static pause program", () => {
    const elf = readFileSync(toolchain.env!.tools.pause!.path);
    expect(elf.subarray(1, 4).toString()).toBe("ELF");
    // No PT_INTERP program header: no dynamic loader, so no libraries needed in its image.
    expect(elf.includes(Buffer.from("/lib64/ld-linux"))).toBe(false);
  });
});
