// Where `npm run demo:cluster` runs its cluster: on real pods (a real node: kubelet + containerd,
// the operator deployed in its pod by `pulumi up` of the Operator component, Setpoint's instance
// image) when the machine can run one, else on the node harness that plays the kubelet with local
// processes and the operator as a local process. Both give the demo the same things: an API
// server, how to reach the rw Service, how to kill the primary, and a stop that removes everything.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClientConfig } from "pg";
import { clusterObjectNames, crdManifests } from "../../sdk/api/index";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import type { Logger } from "../../sdk/reconcile/index";
import { clusterClientConfig } from "../../test/support/cluster-tls";
import { installCrds, startControlPlane, type ControlPlane } from "../../test/support/control-plane";
import { startNodeHarness, type NodeHarness } from "../../test/support/node/harness";
import { must } from "../../test/support/real-node/host";
import { importInstanceImage, realOperatorUnavailable, REAL_OPERATOR_TOOLS, startRealNodeWithOperator, type RealNodeWithOperator } from "../../test/support/real-node/operator";
import { startVolumeProvisioner } from "../../test/support/real-node/volumes";
import { startServiceProxy, type ServiceProxy } from "../../test/support/service-proxy";
import { recordingLogger, requireToolchain, step } from "./demo";

/** The tools each platform needs from the toolchain. */
const HARNESS_TOOLS = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager"];

/** A running place for the demo's cluster. */
export interface ClusterPlatform {
  readonly kind: "real-pods" | "harness";
  readonly kubeConfig: KubeConfig;
  readonly kubeconfigPath: string;
  /** The stack's `readWriteAddress` config (how Pulumi's Schema reaches the rw Service). */
  readonly readWriteAddress: string;
  /** Where this process reaches the rw Service, once the cluster exists. */
  readWriteEndpoint(): Promise<{ host: string; port: number }>;
  /**
   * How this process connects to the cluster's instances (TLS verify-full, ADR 0035): at `host`
   * (a pod address), else through the rw Service; the superuser by the operator's certificate.
   */
  clientConfig(target?: ClusterTarget): Promise<ClientConfig>;
  /** What killing the primary means here, for the step's title. */
  readonly killWhat: string;
  /** Kills the primary `pod`'s PostgreSQL; resolves to a description (pid, container id). */
  killPrimary(pod: string): Promise<string>;
  /** The operator's log so far, when it runs in a pod (read from the kubelet's log directory). */
  operatorLog?(): string;
  /** The log of `namespace`'s `pod` so far (every container, restarts included), when it runs on a real node. */
  podLog?(namespace: string, pod: string): string;
  /** The tail of a node component's log (`kubelet`, `containerd`, …), when it runs on a real node. */
  nodeLog?(component: string): string;
  /** SIGKILLs the operator's container(s) (when it runs in a pod): nothing released, the kubelet restarts it. */
  killOperator?(): Promise<string>;
  /** Stops everything; resolves to what was left behind (empty when everything went). */
  stop(): Promise<string[]>;
}

/** Who connects where: a pod's address (default: the rw Service), a user (default: the superuser). */
export interface ClusterTarget {
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
}

/** `clientConfig` of a platform: the rw Service unless a host is given. */
function clientConfigOf(kubeConfig: KubeConfig, namespace: string, name: string, readWrite: () => Promise<{ host: string; port: number }>) {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (target: ClusterTarget = {}): Promise<ClientConfig> => {
    const at = target.host === undefined ? await readWrite() : { host: target.host, port: target.port ?? 5432 };
    return clusterClientConfig(core, namespace, name, { ...target, ...at });
  };
}

/** Why the demo cannot run on real pods here, or undefined when it can. */
export function realPodsUnavailable(): string | undefined {
  if (process.env.SETPOINT_DEMO_PLATFORM === "harness") return "SETPOINT_DEMO_PLATFORM=harness";
  const why = realOperatorUnavailable();
  if (why) return why;
  try {
    requireToolchain(REAL_OPERATOR_TOOLS);
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
  return undefined;
}

/** Starts the real node with the operator in its pod, the instance image and the volume provisioner. */
export async function startRealPods(namespace: string, name: string, major: PostgresMajor): Promise<ClusterPlatform> {
  const tc = requireToolchain(REAL_OPERATOR_TOOLS);
  step("starting a real node (kubelet + containerd), the instance image, and the operator in its pod (pulumi up of the Operator component)");
  const started = Date.now();
  let instanceMs = 0;
  const real: RealNodeWithOperator = await startRealNodeWithOperator({
    toolchain: tc,
    replicas: 1,
    beforeDeploy: (node) => {
      instanceMs = importInstanceImage(node, major);
    },
  });
  const { node } = real;
  console.log(
    `node ${node.nodeName} at ${node.nodeIp}, pods in ${node.podCidr}; API server ${node.controlPlane.server}; run directory ${node.dir}\n` +
      `operator image built and imported in ${(real.image.buildMs / 1000).toFixed(1)} s, setpoint-postgres:${major} in ${(instanceMs / 1000).toFixed(1)} s; ` +
      `pulumi up of the Operator (Deployment available) in ${(real.operator.upMs / 1000).toFixed(1)} s; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
  );
  const stopProvisioner = startVolumeProvisioner(node, namespace, (m) => console.error(m));
  const core = node.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  // The kubelet's log directory: pod-logs/<namespace>_<pod>_<uid>/<container>/<restart>.log.
  const podLogs = (prefix: string): string => {
    const root = join(node.dir, "pod-logs");
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    return readdirSync(root)
      .filter((d) => d.startsWith(prefix))
      .flatMap((d) => files(join(root, d)).sort())
      .map((f) => readFileSync(f, "utf8"))
      .join("");
  };
  const readWriteEndpoint = async (): Promise<{ host: string; port: number }> => {
    const svc = await core.readNamespacedService({ name: clusterObjectNames(name).readWriteService, namespace });
    return { host: svc.spec!.clusterIP!, port: 5432 };
  };
  return {
    kind: "real-pods",
    kubeConfig: node.controlPlane.kubeConfig,
    kubeconfigPath: node.controlPlane.kubeconfigPath,
    readWriteAddress: "clusterIP",
    readWriteEndpoint,
    clientConfig: clientConfigOf(node.controlPlane.kubeConfig, namespace, name, readWriteEndpoint),
    killWhat: "container",
    killPrimary: async (pod) => {
      const p = await core.readNamespacedPod({ name: pod, namespace });
      const id = p.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
      must("ctr", ["--address", node.containerdSocket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id]);
      return `container ${id.slice(0, 12)} SIGKILLed by containerd; the kubelet restarts it`;
    },
    killOperator: async () => {
      const pods = (await core.listNamespacedPod({ namespace: real.operator.namespace })).items;
      const ids = pods.flatMap((p) => (p.status?.containerStatuses ?? []).flatMap((c) => (c.state?.running && c.containerID ? [c.containerID.replace(/^containerd:\/\//, "")] : [])));
      for (const id of ids) must("ctr", ["--address", node.containerdSocket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id]);
      return `operator container(s) ${ids.map((i) => i.slice(0, 12)).join(", ") || "(none running)"} SIGKILLed by containerd`;
    },
    operatorLog: () => podLogs(`${real.operator.namespace}_`),
    podLog: (ns, pod) => podLogs(`${ns}_${pod}_`),
    nodeLog: (component) => node.logTail(component),
    stop: async () => {
      stopProvisioner();
      await real.stop();
      return node.leftovers();
    },
  };
}

/**
 * Starts the control plane, the node harness, the operator as a local process and a stand-in for
 * the rw Service. `logger`: the operator's (default: printed, as the demo shows it).
 */
export async function startHarness(namespace: string, name: string, logger: Logger = recordingLogger([])): Promise<ClusterPlatform> {
  const tc = requireToolchain(HARNESS_TOOLS);
  let cp: ControlPlane | undefined;
  let node: NodeHarness | undefined;
  let operator: RunningOperator | undefined;
  let proxy: ServiceProxy | undefined;
  const stop = async (): Promise<string[]> => {
    await proxy?.stop();
    await operator?.stop().catch((err: unknown) => console.error(`stopping the operator: ${String(err)}`));
    await node?.stop();
    await cp?.stop();
    return [];
  };
  try {
    step("starting the local control plane (etcd + kube-apiserver + garbage collector)");
    cp = await startControlPlane({ toolchain: tc, controllers: ["garbagecollector", "pvc-protection"] });
    console.log(`API server ${cp.server}; etcd pid ${cp.pids.etcd}, kube-apiserver pid ${cp.pids.apiserver}; kubeconfig ${cp.kubeconfigPath}`);
    // What the Operator component installs on a real cluster (examples/kubernetes); here the operator runs locally.
    await installCrds(cp.kubeConfig, crdManifests());

    step("starting the node harness (plays the kubelet: each pod's PostgreSQL is a local process)");
    node = await startNodeHarness({ kubeConfig: cp.kubeConfig });
    console.log(`node ${node.nodeName}: pod addresses 127.${node.block}.x.y, volumes in ${node.baseDir}`);

    step("starting the operator (local process, out of cluster)");
    operator = await startOperator({ kubeconfig: cp.kubeConfig, namespace, metricsPort: 0, metricsHost: "127.0.0.1", logger });
    // No kube-proxy here: a local stand-in gives the rw Service an address on this machine.
    const rw = clusterObjectNames(name).readWriteService;
    proxy = await startServiceProxy({ kubeConfig: cp.kubeConfig, namespace, service: rw });
    console.log(`${rw} Service reachable at ${proxy.host}:${proxy.port} (each new connection goes to the pod the Service selects)`);
  } catch (err) {
    await stop();
    throw err;
  }
  const h = node;
  const address = { host: proxy.host, port: proxy.port };
  return {
    kind: "harness",
    kubeConfig: cp.kubeConfig,
    kubeconfigPath: cp.kubeconfigPath,
    readWriteAddress: `${address.host}:${address.port}`,
    readWriteEndpoint: () => Promise.resolve(address),
    clientConfig: clientConfigOf(cp.kubeConfig, namespace, name, () => Promise.resolve(address)),
    killWhat: "server",
    killPrimary: (pod) => {
      const pid = h.pid(namespace, pod);
      h.crash(namespace, pod);
      return Promise.resolve(`server pid ${pid ?? "?"} killed for good`);
    },
    stop,
  };
}
