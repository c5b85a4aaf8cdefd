// The real-node harness: a real Kubernetes node on this machine for the real-pod tier. containerd
// (runc, cgroupfs) with root, state and socket under the run directory; the kubelet, kube-proxy
// (iptables), kube-scheduler and CoreDNS (cluster names only, no forwarding) from the toolchain's
// node group, against the test control plane (control-plane.ts) bound to the node's bridge address
// so pods reach it through the `kubernetes` Service. Pods get addresses on a bridge the harness
// creates, and an iptables chain drops anything forwarded off that network: nothing is routed off
// the machine. Images come from OCI archives imported into containerd (oci.ts), never a registry.
//
// Needs root, cgroup v1 hierarchies, containerd/runc/CNI plugins/iptables from Debian, and the
// toolchain's `node` group. Teardown (stop(), the exit hooks, or the next start's sweep after a
// killed run) removes every process, mount, interface, iptables rule and cgroup the run made and
// restores the kernel settings the components changed (host.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { ToolchainEnv } from "../../../scripts/toolchain/paths.mjs";
import { startControlPlane, SERVICE_CIDR, type ControlPlane } from "../control-plane";
import { absentHostPaths, iptablesChains, NODE_LOCK, releaseAbandonedLock, createCgroupRoot, installForwardRule, leftovers, must, readSysctls, run, RUN_PREFIX, sweepRealNodes, undoRun, type RunState } from "./host";
import { buildOciArchive, importImage, normalisedName } from "./oci";

/** The sandbox (pause) image every pod runs first. */
export const PAUSE_IMAGE = "setpoint-pause:1";

/** Options of {@link startRealNode}. */
export interface RealNodeOptions {
  readonly toolchain: ToolchainEnv;
  /** Node name. @default "setpoint-real-1" */
  readonly nodeName?: string;
}

/** A running real node and its control plane. */
export interface RealNode {
  readonly controlPlane: ControlPlane;
  readonly nodeName: string;
  /** The node's address: the bridge's, where the API server, the kubelet and CoreDNS listen. */
  readonly nodeIp: string;
  readonly podCidr: string;
  /** The run directory (containerd's root and state, the kubelet's, logs). */
  readonly dir: string;
  /** containerd's socket, for `ctr`. */
  readonly containerdSocket: string;
  /** Imports a root filesystem as image `ref` (e.g. `setpoint-smoke:1`); pods use it with `imagePullPolicy: Never`. */
  importRootfs(rootfs: string, ref: string, config?: Parameters<typeof buildOciArchive>[2]): string;
  /** The end of a component's log (kubelet, containerd, kube-proxy, kube-scheduler, coredns). */
  logTail(component: string): string;
  /** Stops everything and undoes every host change; idempotent. */
  stop(): Promise<void>;
  /** What the run left behind (empty after a complete stop). */
  leftovers(): string[];
}

interface Started {
  readonly name: string;
  readonly proc: ChildProcess;
}

/** A free TCP port on `host`. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      srv.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** A /24 in 10.240-253.x.0 that no route on this machine overlaps. */
function choosePodCidr(): { cidr: string; prefix: string } {
  const routes = must("ip", ["-4", "route", "show", "table", "all"]);
  for (let attempt = 0; attempt < 50; attempt++) {
    const prefix = `10.${randomInt(240, 254)}.${randomInt(1, 255)}`;
    if (!routes.includes(`${prefix}.`)) return { cidr: `${prefix}.0/24`, prefix };
  }
  throw new Error("no free 10.x pod network found");
}

function yamlish(value: unknown): string {
  return JSON.stringify(value, null, 2); // JSON is YAML: the components read either
}

/**
 * Starts the control plane and a real node (see the module comment). Sweeps the leftovers of
 * killed runs first.
 * @throws when not root, when a component is missing or does not come up (with its log's end).
 */
export async function startRealNode(options: RealNodeOptions): Promise<RealNode> {
  if (process.getuid?.() !== 0) throw new Error("the real-node harness needs root (containerd, iptables, mounts)");
  const tool = (name: string): string => {
    const path = options.toolchain.tools[name]?.path;
    if (!path) throw new Error(`${name} not built; run \`npm run toolchain\` (group node)`);
    return path;
  };
  for (const cmd of ["containerd", "ctr", "runc", "iptables"]) {
    if (run("sh", ["-c", `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} not installed (Debian: containerd runc containernetworking-plugins iptables)`);
  }
  if (!existsSync("/usr/lib/cni/bridge")) throw new Error("CNI plugins not installed (Debian: containernetworking-plugins)");
  // One real node at a time on this machine: kube-proxy's cleanup, containerd's /run/containerd
  // and the host paths a run removes are machine-wide.
  const releaseLock = await acquireNodeLock();
  sweepRealNodes(tool("kube-proxy"));

  const nodeName = options.nodeName ?? "setpoint-real-1";
  const dir = mkdtempSync(join(tmpdir(), RUN_PREFIX));
  chmodSync(dir, 0o755);
  const id = dir.slice(-6).toLowerCase().replace(/[^a-z0-9]/g, "x");
  const { cidr: podCidr, prefix } = choosePodCidr();
  const nodeIp = `${prefix}.1`;
  const state: RunState = {
    ownerPid: process.pid,
    bridge: `sptbr${id}`.slice(0, 15),
    podCidr,
    chain: `SPT-FWD-${id}`.toUpperCase(),
    cgroupRoot: `setpoint-${id}`,
    sysctls: readSysctls(),
    netnsBefore: existsSync("/run/netns") ? readdirSync("/run/netns") : [],
    pids: [],
    absentBefore: absentHostPaths(),
    chainsBefore: iptablesChains(),
  };
  const saveState = (): void => writeFileSync(join(dir, "state.json"), JSON.stringify(state, null, 2));
  saveState();
  const started: Started[] = [];
  let controlPlane: ControlPlane | undefined;
  let stopped: Promise<void> | undefined;
  const logs = join(dir, "logs");
  mkdirSync(logs);

  const startProc = (name: string, bin: string, args: string[]): ChildProcess => {
    const fd = openSync(join(logs, `${name}.log`), "a");
    try {
      const proc = spawn(bin, args, { stdio: ["ignore", fd, fd] });
      started.push({ name, proc });
      state.pids.push(proc.pid!);
      saveState();
      return proc;
    } finally {
      closeSync(fd);
    }
  };
  const logTail = (component: string): string => {
    try {
      return readFileSync(join(logs, `${component}.log`), "utf8").split("\n").slice(-40).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const waitFor = async (what: string, component: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const proc = started.find((s) => s.name === component)?.proc;
      if (proc && (proc.exitCode !== null || proc.signalCode !== null)) throw new Error(`${component} exited before ${what}:\n${logTail(component)}`);
      if (await Promise.resolve().then(check).catch(() => false)) return;
      await sleep(250);
    }
    throw new Error(`${what} not within ${timeoutMs} ms:\n${logTail(component)}`);
  };

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener("exit", onExit);
      // Pods first, through the kubelet, so sandboxes are torn down by the CNI as on a real node.
      if (controlPlane) {
        const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
        // Cordoned first, so controllers' replacement pods stay pending instead of starting.
        await core
          .patchNode({ name: nodeName, body: { spec: { unschedulable: true } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
          .catch(() => undefined);
        await core
          .listPodForAllNamespaces()
          .then((list) => Promise.all(list.items.map((p) => core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: p.metadata!.namespace!, gracePeriodSeconds: 0 }).catch(() => undefined))))
          .catch(() => undefined);
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && run("ctr", ["--address", containerdSocket, "-n", "k8s.io", "tasks", "ls", "-q"]).out.trim() !== "") await sleep(500);
      }
      for (const s of [...started].reverse()) {
        if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
        const exited = new Promise<void>((r) => s.proc.once("exit", () => r()));
        s.proc.kill("SIGTERM");
        const timer = setTimeout(() => s.proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await controlPlane?.stop();
      undoRun(dir, state, tool("kube-proxy"));
      releaseLock();
    })());
  const onExit = (): void => undoRun(dir, state, tool("kube-proxy"));
  process.on("exit", onExit);
  // A kill -9 of this process runs no hook: a watchdog undoes the run through the sweep then.
  const sweeper = `import(${JSON.stringify(join(__dirname, "sweep-cli.ts"))})`;
  const dog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${JSON.stringify(process.execPath)} --import tsx -e '${sweeper}' ${JSON.stringify(tool("kube-proxy"))}`], {
    stdio: "ignore",
    detached: true,
    cwd: join(__dirname, "../../.."),
  });
  dog.unref();

  const containerdSocket = join(dir, "containerd.sock");
  try {
    // The pod network: our bridge, our forward rule, before anything can route.
    must("ip", ["link", "add", state.bridge, "type", "bridge"]);
    must("ip", ["addr", "add", `${nodeIp}/24`, "dev", state.bridge]);
    must("ip", ["link", "set", state.bridge, "up"]);
    installForwardRule(state.chain, state.bridge, podCidr);
    createCgroupRoot(state.cgroupRoot);

    controlPlane = await startControlPlane({
      toolchain: options.toolchain,
      address: nodeIp,
      serviceAccounts: true,
      controllers: ["*"],
      apiserverArgs: ["--kubelet-preferred-address-types=InternalIP", "--allow-privileged=true"],
    });
    const kubeconfig = controlPlane.kubeconfigPath;

    // containerd, with the CNI config for our bridge.
    const cniConf = join(dir, "cni", "net.d");
    mkdirSync(cniConf, { recursive: true });
    writeFileSync(
      join(cniConf, "10-setpoint.conflist"),
      JSON.stringify({
        cniVersion: "0.4.0",
        name: `setpoint-${id}`,
        plugins: [
          {
            type: "bridge",
            bridge: state.bridge,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: "host-local", ranges: [[{ subnet: podCidr, gateway: nodeIp }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(dir, "cni", "ipam") },
          },
        ],
      }),
    );
    writeFileSync(
      join(dir, "containerd.toml"),
      [
        "version = 2",
        `root = ${JSON.stringify(join(dir, "containerd", "root"))}`,
        `state = ${JSON.stringify(join(dir, "containerd", "state"))}`,
        "[grpc]",
        `  address = ${JSON.stringify(containerdSocket)}`,
        "[plugins.\"io.containerd.grpc.v1.cri\"]",
        `  sandbox_image = ${JSON.stringify(normalisedName(PAUSE_IMAGE))}`,
        "  restrict_oom_score_adj = true",
        "  disable_apparmor = true",
        "  enable_selinux = false",
        "[plugins.\"io.containerd.grpc.v1.cri\".cni]",
        "  bin_dir = \"/usr/lib/cni\"",
        `  conf_dir = ${JSON.stringify(cniConf)}`,
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]",
        "  runtime_type = \"io.containerd.runc.v2\"",
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]",
        "  SystemdCgroup = false",
        `  Root = ${JSON.stringify(join(dir, "runc"))}`,
        "",
      ].join("\n"),
    );
    startProc("containerd", "containerd", ["--config", join(dir, "containerd.toml")]);
    await waitFor("containerd socket", "containerd", 30_000, () => run("ctr", ["--address", containerdSocket, "version"]).status === 0);

    // The sandbox image: the toolchain's static pause program alone.
    const importRootfs = (rootfs: string, ref: string, config: Parameters<typeof buildOciArchive>[2] = {}): string => {
      const work = mkdtempSync(join(dir, "image-"));
      const archive = join(work, "image.tar");
      buildOciArchive(rootfs, ref, config, archive, work);
      importImage(containerdSocket, archive);
      return normalisedName(ref);
    };
    const pauseRoot = join(dir, "pause-rootfs");
    mkdirSync(pauseRoot);
    copyFileSync(tool("pause"), join(pauseRoot, "pause"));
    chmodSync(join(pauseRoot, "pause"), 0o755);
    importRootfs(pauseRoot, PAUSE_IMAGE, { entrypoint: ["/pause"] });

    // kubelet
    const kubeletPort = await freePort(nodeIp);
    const healthz = await freePort("127.0.0.1");
    writeFileSync(join(dir, "resolv.conf"), "");
    writeFileSync(
      join(dir, "kubelet.yaml"),
      yamlish({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        address: nodeIp,
        port: kubeletPort,
        readOnlyPort: 0,
        healthzBindAddress: "127.0.0.1",
        healthzPort: healthz,
        authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: join(dirOf(kubeconfig), "ca.crt") } },
        authorization: { mode: "AlwaysAllow" },
        cgroupDriver: "cgroupfs",
        cgroupRoot: `/${state.cgroupRoot}`,
        failCgroupV1: false,
        failSwapOn: false,
        containerRuntimeEndpoint: `unix://${containerdSocket}`,
        clusterDNS: [nodeIp],
        clusterDomain: "cluster.local",
        resolvConf: join(dir, "resolv.conf"),
        podLogsDir: join(dir, "pod-logs"),
        volumePluginDir: join(dir, "volume-plugins"),
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
        maxPods: 30,
        nodeStatusUpdateFrequency: "4s",
        syncFrequency: "10s",
        serializeImagePulls: false,
        protectKernelDefaults: false,
        makeIPTablesUtilChains: false,
        localStorageCapacityIsolation: true,
      }),
    );
    startProc("kubelet", tool("kubelet"), [
      `--config=${join(dir, "kubelet.yaml")}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${join(dir, "kubelet")}`,
      `--cert-dir=${join(dir, "kubelet-pki")}`,
      `--hostname-override=${nodeName}`,
      `--node-ip=${nodeIp}`,
      "--v=1",
    ]);
    startProc("kube-proxy", tool("kube-proxy"), [
      `--kubeconfig=${kubeconfig}`,
      "--proxy-mode=iptables",
      `--hostname-override=${nodeName}`,
      `--cluster-cidr=${podCidr}`,
      `--nodeport-addresses=${podCidr}`,
      "--iptables-localhost-nodeports=false",
      "--conntrack-max-per-core=0",
      "--conntrack-tcp-timeout-established=0",
      "--conntrack-tcp-timeout-close-wait=0",
      `--healthz-bind-address=127.0.0.1:${await freePort("127.0.0.1")}`,
      `--metrics-bind-address=127.0.0.1:${await freePort("127.0.0.1")}`,
    ]);
    startProc("kube-scheduler", tool("kube-scheduler"), [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort("127.0.0.1")}`,
    ]);
    // Cluster DNS on the node's address: cluster names only; anything else is refused, never forwarded.
    writeFileSync(
      join(dir, "Corefile"),
      [
        "cluster.local:53 in-addr.arpa:53 {",
        `  bind ${nodeIp}`,
        "  errors",
        `  kubernetes cluster.local in-addr.arpa {\n    kubeconfig ${kubeconfig} setpoint-test\n  }`,
        "  cache 5",
        "}",
        ".:53 {",
        `  bind ${nodeIp}`,
        "  errors",
        "}",
        "",
      ].join("\n"),
    );
    startProc("coredns", tool("coredns"), ["-conf", join(dir, "Corefile")]);

    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor("node Ready", "kubelet", 120_000, async () => {
      const node = await core.readNode({ name: nodeName });
      return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    });
    await waitFor("the default ServiceAccount", "kubelet", 60_000, async () => (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" })) !== undefined);

    return {
      controlPlane,
      nodeName,
      nodeIp,
      podCidr,
      dir,
      containerdSocket,
      importRootfs,
      logTail,
      stop,
      leftovers: () => leftovers(dir, state),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until no live process holds {@link NODE_LOCK}, takes it, and returns its release. */
async function acquireNodeLock(): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(NODE_LOCK);
      writeFileSync(join(NODE_LOCK, "pid"), String(process.pid));
      return () => rmSync(NODE_LOCK, { recursive: true, force: true });
    } catch {
      releaseAbandonedLock();
      await sleep(1000);
    }
  }
}

function dirOf(file: string): string {
  return file.slice(0, file.lastIndexOf("/"));
}

export { SERVICE_CIDR };
