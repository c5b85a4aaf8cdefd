// The node harness: plays one Kubernetes node (kubelet, plus the scheduler's and the volume
// provisioner's part for this node) against a real API server that has none of them.
//
// - Registers a Ready Node object.
// - Binds unscheduled pods it can run (a `postgres` container with a `postgres:<major>` image)
//   to itself through the pods/binding subresource, as a one-node scheduler would.
// - Provisions every pending PersistentVolumeClaim: a directory per claim (keyed by the claim's
//   uid, so it outlives pods and harness restarts on the same base directory, and a recreated
//   claim gets a fresh volume), reported Bound with the requested capacity; a deleted claim's
//   directory is removed (reclaim policy Delete); a larger request on a bound claim is granted
//   at once (online volume expansion).
// - Runs each bound pod's container command, Setpoint's instance manager (container.ts), which
//   prepares PGDATA (initdb, or a replica's clone from its primary over the replication protocol)
//   and runs PostgreSQL on the pod's own loopback address 127.B.x.y (B fixed per harness, x.y per
//   pod; the downward API's status.podIP gives the manager that address for its status endpoint,
//   ADR 0026), and reports status through pods/status: phase, podIP, conditions, container state,
//   ready and restartCount.
// - A process that dies is reported terminated and restarted after a backoff with
//   restartCount + 1 (restartPolicy Always). A pod being deleted is stopped with SIGINT, SIGKILL
//   after its grace period, then removed with grace period 0, as a kubelet finishes a deletion.
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1PersistentVolumeClaim, type V1Pod, type V1PodCondition, type V1ContainerStatus } from "@kubernetes/client-node";
import { runIdentity } from "../../../sdk/postgres/embedded";
import { Informer, objectKey } from "../../../sdk/reconcile/internal/informer";
import { bindPod } from "./binding";
import { MetricsRegistry } from "../../../sdk/reconcile/internal/metrics";
import { quantityBytes } from "../../../sdk/operator/cluster/disk";
import { PostgresContainer, type Exit } from "./container";
import { instanceSpec, postgresContainer, POSTGRES_CONTAINER, UnsupportedPodError, type InstanceSpec } from "./pod-spec";

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Options of {@link startNodeHarness}. */
export interface NodeHarnessOptions {
  readonly kubeConfig: KubeConfig;
  /** Node name. @default "setpoint-node-1" */
  readonly nodeName?: string;
  /** Where volumes and per-pod directories live; reuse one to keep volumes across harness restarts. @default a fresh temp dir, removed by stop() */
  readonly baseDir?: string;
  /** First restart delay after a container dies; doubled per restart up to 10 s. @default 500 ms */
  readonly restartBackoffMs?: number;
}

/** A running node harness. */
export interface NodeHarness {
  readonly nodeName: string;
  /** Second octet of every pod IP this node hands out (127.B.x.y). */
  readonly block: number;
  readonly baseDir: string;
  /** Host directory of a claim's volume, if the claim was provisioned. */
  volumeDir(namespace: string, claimName: string): string | undefined;
  /** The OS process id of a pod's container (its PID 1, the instance manager), if running. */
  pid(namespace: string, podName: string): number | undefined;
  /** Sends a signal to a pod's container (SIGKILL: every process of it, a crash or an OOM kill as the node sees it). */
  kill(namespace: string, podName: string, signal?: NodeJS.Signals): void;
  /**
   * Kills a pod's PostgreSQL for good: it is reported in CrashLoopBackOff and never restarted
   * (a server that cannot come back, e.g. a broken disk), until the pod is deleted.
   */
  crash(namespace: string, podName: string): void;
  /** The end of a pod's server log, for failing tests. */
  logTail(namespace: string, podName: string): string;
  /** Stops every process (fast shutdown) and the watches; removes the base dir if the harness created it. */
  stop(): Promise<void>;
}

interface Worker {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  ip?: string;
  container?: PostgresContainer;
  /** Set while a start is in progress, to serialize starts. */
  starting?: Promise<void>;
  restartCount: number;
  /** Reported in the Initialized condition (no init containers: true once the container started). */
  initialized: boolean;
  ready: boolean;
  lastExit?: { exit: Exit; startedAt: Date };
  waiting?: { reason: string; message?: string };
  restartTimer?: NodeJS.Timeout;
  terminating: boolean;
  gone: boolean;
  /** Crashed for good (see NodeHarness.crash): never restarted. */
  held?: boolean;
  statusWrite: Promise<void>;
}

/** True when `ip:port` can be bound now (verifies 127.0.0.0/8 routing and that nobody else holds it). */
async function canBind(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, ip, () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts the harness: registers the Node and begins scheduling, provisioning and running pods.
 * @throws when the Node cannot be registered or the watches cannot start.
 */
export async function startNodeHarness(options: NodeHarnessOptions): Promise<NodeHarness> {
  const nodeName = options.nodeName ?? "setpoint-node-1";
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const ownsBase = options.baseDir === undefined;
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), "setpoint-node-"));
  const identity = runIdentity("nobody", 17);
  const mkdir = (dir: string): string => {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755); // the server's user must traverse it
    if (identity) chownSync(dir, identity.uid, identity.gid);
    return dir;
  };
  chmodSync(baseDir, 0o755);
  mkdir(join(baseDir, "volumes"));
  mkdir(join(baseDir, "pods"));
  // A kill -9 of this process leaves no exit hook to run: a watchdog stops the servers then.
  const dog = spawn(
    "sh",
    ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for f in $(find '${baseDir}' -name postmaster.pid); do kill -QUIT $(head -1 "$f") 2>/dev/null; done; sleep 2; ${ownsBase ? `rm -rf '${baseDir}'` : "true"}`],
    { stdio: "ignore", detached: true },
  );
  dog.unref();

  const block = randomInt(32, 250);
  let nextHost = 2; // 127.B.0.1 is the node's own address
  const hostIp = `127.${block}.0.1`;
  const backoff = options.restartBackoffMs ?? 500;
  let stopping = false;
  const workers = new Map<string, Worker>(); // by pod uid
  const byKey = new Map<string, Worker>(); // namespace/name -> current worker

  await core.createNode({
    body: {
      metadata: { name: nodeName, labels: { "kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux" } },
      status: nodeStatus(),
    },
  });
  await core.patchNodeStatus({ name: nodeName, body: { status: nodeStatus() } }, MERGE_PATCH);

  function nodeStatus(): object {
    const now = new Date().toISOString();
    return {
      addresses: [
        { type: "InternalIP", address: hostIp },
        { type: "Hostname", address: nodeName },
      ],
      capacity: { cpu: "2", memory: "4Gi", pods: "110" },
      allocatable: { cpu: "2", memory: "4Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "setpoint node harness", lastHeartbeatTime: now, lastTransitionTime: now }],
      nodeInfo: {
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "setpoint-harness://1",
        kernelVersion: "",
        kubeProxyVersion: "",
        kubeletVersion: "v1.30.0-setpoint",
        machineID: "",
        operatingSystem: "linux",
        osImage: "setpoint node harness",
        systemUUID: "",
      },
    };
  }

  const metrics = new MetricsRegistry();
  const pods = new Informer<V1Pod>({ kubeConfig: options.kubeConfig, path: "/api/v1/pods", name: "harness-pods", metrics, restartBackoff: { initialMs: 200, maxMs: 2000 } });
  const claims = new Informer<V1PersistentVolumeClaim>({
    kubeConfig: options.kubeConfig,
    path: "/api/v1/persistentvolumeclaims",
    name: "harness-pvcs",
    metrics,
    restartBackoff: { initialMs: 200, maxMs: 2000 },
  });

  const claimDir = (pvc: V1PersistentVolumeClaim): string =>
    join(baseDir, "volumes", `${pvc.metadata!.namespace}_${pvc.metadata!.name}_${pvc.metadata!.uid!.slice(0, 8)}`);
  const errors: unknown[] = [];
  const background = (what: string, p: Promise<unknown>): void => {
    p.catch((err: unknown) => {
      // The harness must not crash a test run; keep the error for diagnostics.
      errors.push(err);
      if (!stopping) process.stderr.write(`node harness: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  };

  // Provisioner: every pending claim gets a directory and is reported Bound.
  claims.onEvent((event) => {
    const pvc = event.object;
    if (event.type === "delete") {
      const inUse = [...workers.values()].some((w) => w.container && !w.gone && w.namespace === pvc.metadata?.namespace && specOf(w)?.claimName === pvc.metadata?.name);
      if (!inUse) rmSync(claimDir(pvc), { recursive: true, force: true });
      return;
    }
    if (pvc.metadata?.deletionTimestamp) return;
    if (pvc.status?.phase === "Bound") {
      // Volume expansion (online, as a CSI driver with EXPAND_VOLUME does it): a request above
      // the capacity is granted at once. The directory has no size limit: usage is what is measured.
      const want = pvc.spec?.resources?.requests?.storage;
      const have = pvc.status.capacity?.storage;
      if (want !== undefined && have !== undefined && quantityBytes(want) > quantityBytes(have)) {
        background(
          `expanding claim ${objectKey(pvc)}`,
          core.patchNamespacedPersistentVolumeClaimStatus({ name: pvc.metadata!.name!, namespace: pvc.metadata!.namespace!, body: { status: { capacity: { storage: want } } } }, MERGE_PATCH),
        );
      }
      return;
    }
    mkdir(claimDir(pvc));
    const capacity = pvc.spec?.resources?.requests?.storage ?? "1Gi";
    background(
      `binding claim ${objectKey(pvc)}`,
      core.patchNamespacedPersistentVolumeClaimStatus(
        { name: pvc.metadata!.name!, namespace: pvc.metadata!.namespace!, body: { status: { phase: "Bound", accessModes: pvc.spec?.accessModes ?? ["ReadWriteOnce"], capacity: { storage: capacity } } } },
        MERGE_PATCH,
      ),
    );
  });

  const specs = new Map<string, InstanceSpec>();
  function specOf(w: Worker): InstanceSpec | undefined {
    return specs.get(w.uid);
  }

  pods.onEvent((event) => {
    const pod = event.object;
    if (event.type !== "delete" && !pod.spec?.nodeName && (pod.spec?.schedulerName ?? "default-scheduler") === "default-scheduler" && postgresContainer(pod)) {
      background(`binding pod ${objectKey(pod)}`, bindPod(core, pod, nodeName));
      return;
    }
    if (pod.spec?.nodeName !== nodeName) return;
    const uid = pod.metadata!.uid!;
    let w = workers.get(uid);
    if (event.type === "delete") {
      if (w) background(`stopping ${objectKey(pod)}`, terminate(w, 0, false));
      return;
    }
    if (!w) {
      w = { uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, restartCount: 0, initialized: false, ready: false, terminating: false, gone: false, statusWrite: Promise.resolve() };
      workers.set(uid, w);
      byKey.set(objectKey(pod), w);
    }
    if (pod.metadata?.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      background(`terminating ${objectKey(pod)}`, terminate(w, grace, true));
      return;
    }
    if (!w.container && !w.starting && !w.restartTimer && !w.terminating && !w.held) {
      const worker = w;
      worker.starting = startContainer(worker, pod).finally(() => (worker.starting = undefined));
      background(`starting ${objectKey(pod)}`, worker.starting);
    }
  });
  // Claims are watched first: a pod's start looks its claim up in the claim cache.
  await claims.start();
  await pods.start();

  async function allocateIp(port: number): Promise<string> {
    for (;;) {
      const n = nextHost++;
      if (n >= 254 * 254) throw new Error("node harness: pod addresses exhausted");
      const ip = `127.${block}.${Math.floor(n / 254)}.${(n % 254) + 1}`;
      if (await canBind(ip, port)) return ip;
    }
  }

  async function resolveEnv(pod: V1Pod, vars: InstanceSpec["env"], ip: () => Promise<string>): Promise<Record<string, string>> {
    const namespace = pod.metadata!.namespace!;
    const env: Record<string, string> = {};
    for (const e of vars) {
      if (e.value !== undefined) env[e.name] = e.value;
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (field !== undefined) {
        const fields: Record<string, string | undefined> = { "metadata.uid": pod.metadata?.uid, "metadata.name": pod.metadata?.name, "metadata.namespace": namespace };
        // The pod's address is known before its container starts, as a kubelet's sandbox has it.
        const v = field === "status.podIP" ? await ip() : fields[field];
        if (v === undefined) throw new UnsupportedPodError("CreateContainerConfigError", `unsupported fieldRef ${field}`);
        env[e.name] = v;
      }
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const secret = await core.readNamespacedSecret({ name: ref.name!, namespace });
        const v = secret.data?.[ref.key];
        if (v === undefined) throw new UnsupportedPodError("CreateContainerConfigError", `secret ${ref.name} has no key ${ref.key}`);
        env[e.name] = Buffer.from(v, "base64").toString("utf8");
      }
      const cmRef = e.valueFrom?.configMapKeyRef;
      if (cmRef) {
        const cm = await core.readNamespacedConfigMap({ name: cmRef.name!, namespace });
        const v = cm.data?.[cmRef.key];
        if (v === undefined) throw new UnsupportedPodError("CreateContainerConfigError", `configmap ${cmRef.name} has no key ${cmRef.key}`);
        env[e.name] = v;
      }
    }
    return env;
  }

  async function startContainer(w: Worker, pod: V1Pod): Promise<void> {
    let spec: InstanceSpec;
    let env: Record<string, string>;
    try {
      spec = instanceSpec(pod);
      specs.set(w.uid, spec);
      env = await resolveEnv(pod, spec.env, async () => (w.ip ??= await allocateIp(spec.port)));
    } catch (err) {
      w.waiting = { reason: err instanceof UnsupportedPodError ? err.reason : "CreateContainerConfigError", message: err instanceof Error ? err.message : String(err) };
      await writeStatus(w);
      // A kubelet keeps retrying (the secret may appear): so do we.
      scheduleRestart(w, backoff * 4);
      return;
    }
    const pvc = claims.get(`${w.namespace}/${spec.claimName}`);
    if (pvc?.metadata?.deletionTimestamp) {
      // As a kubelet: a claim being deleted is never mounted again.
      w.waiting = { reason: "ContainerCreating", message: `persistentvolumeclaim ${spec.claimName} is being deleted` };
      await writeStatus(w);
      scheduleRestart(w, backoff * 4);
      return;
    }
    if (!pvc || pvc.status?.phase !== "Bound") {
      w.waiting = { reason: "ContainerCreating", message: `waiting for persistentvolumeclaim ${spec.claimName} to be bound` };
      await writeStatus(w);
      scheduleRestart(w, backoff);
      return;
    }
    w.ip ??= await allocateIp(spec.port);
    const volume = mkdir(claimDir(pvc));
    const dataDir = spec.dataSubPath === "" ? volume : join(volume, spec.dataSubPath);
    const runDir = mkdir(join(baseDir, "pods", w.uid));
    let serverArgs: readonly string[];
    try {
      ({ args: serverArgs, env } = await mountVolumes(w.namespace, spec, env, join(runDir, "configmaps")));
    } catch (err) {
      // As a kubelet: the pod waits in ContainerCreating until its ConfigMaps and Secrets exist.
      w.waiting = { reason: "ContainerCreating", message: err instanceof Error ? err.message : String(err) };
      await writeStatus(w);
      scheduleRestart(w, backoff * 4);
      return;
    }
    if (w.terminating || w.gone) return;
    w.initialized = true;
    const container = PostgresContainer.start({ major: spec.major, ip: w.ip, port: spec.port, dataDir, runDir, env, serverArgs });
    w.container = container;
    w.waiting = undefined;
    w.ready = false;
    await writeStatus(w);
    void container.whenExited().then((exit) => onExit(w, container, exit));
    if (await container.waitReady()) {
      if (w.container === container) {
        w.ready = true;
        await writeStatus(w);
      }
    }
  }

  /**
   * Writes the files of the container's ConfigMap and Secret volumes under `dir` (as a kubelet
   * mounts them; Secret files owned by the container's user with the volume's mode, as fsGroup
   * makes them readable) and returns the server arguments and environment with paths under a
   * mount pointing there.
   * @throws when a ConfigMap or Secret does not exist (the pod waits, as on a kubelet).
   */
  async function mountVolumes(namespace: string, spec: InstanceSpec, env: Record<string, string>, dir: string): Promise<{ args: string[]; env: Record<string, string> }> {
    const mounts: [string, string][] = [];
    for (const [i, m] of spec.configMapMounts.entries()) {
      const cm = await core.readNamespacedConfigMap({ name: m.configMap, namespace }).catch(() => undefined);
      if (cm === undefined) throw new Error(`configmap "${m.configMap}" not found`);
      const target = mkdir(join(dir, String(i)));
      for (const [key, value] of Object.entries(cm.data ?? {})) {
        writeFileSync(join(target, key), value, { mode: 0o644 });
      }
      mounts.push([m.mountPath, target]);
    }
    const identity = runIdentity("nobody", spec.major);
    for (const [i, m] of spec.secretMounts.entries()) {
      const secret = await core.readNamespacedSecret({ name: m.secretName, namespace }).catch(() => undefined);
      if (secret === undefined) throw new Error(`secret "${m.secretName}" not found`);
      const target = mkdir(join(dir, `secret-${i}`));
      if (identity) chownSync(target, identity.uid, identity.gid);
      for (const [key, b64] of Object.entries(secret.data ?? {})) {
        const path = m.items ? m.items.find((x) => x.key === key)?.path : key;
        if (path === undefined) continue;
        const file = join(target, path);
        writeFileSync(file, Buffer.from(b64, "base64"), { mode: m.defaultMode });
        chmodSync(file, m.defaultMode);
        if (identity) chownSync(file, identity.uid, identity.gid);
      }
      mounts.push([m.mountPath, target]);
    }
    const mapPath = (value: string): string => {
      for (const [mount, target] of mounts) if (value === mount || value.startsWith(`${mount}/`)) return target + value.slice(mount.length);
      return value;
    };
    const args = spec.serverArgs.map((a) => {
      const eq = a.indexOf("=");
      if (a === "-c" || eq < 0) return a;
      const value = a.slice(eq + 1).replace(/^'(.*)'$/, "$1");
      const mapped = mapPath(value);
      return mapped === value ? a : `${a.slice(0, eq)}=${mapped}`;
    });
    return { args, env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith("/") ? mapPath(v) : v])) };
  }

  function onExit(w: Worker, container: PostgresContainer, exit: Exit): void {
    if (w.container !== container) return;
    w.container = undefined;
    w.ready = false;
    w.lastExit = { exit, startedAt: container.startedAt };
    if (w.terminating || w.gone || stopping) return;
    if (w.held) w.waiting = { reason: "CrashLoopBackOff", message: "back-off restarting failed container (held by the test)" };
    background(`reporting exit of ${w.namespace}/${w.name}`, writeStatus(w));
    if (w.held) return;
    // restartPolicy Always, with the kubelet's doubling backoff (capped).
    scheduleRestart(w, Math.min(10_000, backoff * 2 ** Math.min(w.restartCount, 5)), true);
  }

  function scheduleRestart(w: Worker, delayMs: number, countsAsRestart = false): void {
    if (w.restartTimer || stopping) return;
    w.restartTimer = setTimeout(() => {
      w.restartTimer = undefined;
      const pod = pods.get(`${w.namespace}/${w.name}`);
      if (!pod || pod.metadata?.uid !== w.uid || w.terminating || w.gone || stopping) return;
      if (countsAsRestart) w.restartCount++;
      w.starting = startContainer(w, pod).finally(() => (w.starting = undefined));
      background(`restarting ${w.namespace}/${w.name}`, w.starting);
    }, delayMs);
  }

  async function terminate(w: Worker, graceSeconds: number, finalize: boolean): Promise<void> {
    if (w.terminating && finalize) return;
    w.terminating = true;
    if (!finalize) w.gone = true;
    if (w.restartTimer) clearTimeout(w.restartTimer);
    w.restartTimer = undefined;
    await w.starting?.catch(() => undefined);
    const container = w.container;
    if (container) {
      await container.stop(graceSeconds);
      w.container = undefined;
    }
    w.ready = false;
    if (finalize && !w.gone) {
      await core.deleteNamespacedPod({ name: w.name, namespace: w.namespace, body: { gracePeriodSeconds: 0, preconditions: { uid: w.uid } } }).catch((err: unknown) => {
        if ((err as { code?: number }).code !== 404 && (err as { code?: number }).code !== 409) throw err;
      });
    }
    w.gone = true;
    workers.delete(w.uid);
    if (byKey.get(`${w.namespace}/${w.name}`) === w) byKey.delete(`${w.namespace}/${w.name}`);
    rmSync(join(baseDir, "pods", w.uid), { recursive: true, force: true });
  }

  function writeStatus(w: Worker): Promise<void> {
    // Serialized per pod; each write sends the state as it is when the write starts.
    w.statusWrite = w.statusWrite.then(async () => {
      if (w.gone || stopping) return;
      const pod = pods.get(`${w.namespace}/${w.name}`);
      if (!pod || pod.metadata?.uid !== w.uid) return;
      try {
        await core.patchNamespacedPodStatus({ name: w.name, namespace: w.namespace, body: { status: podStatus(w, pod) } }, MERGE_PATCH);
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    });
    return w.statusWrite;
  }

  function podStatus(w: Worker, pod: V1Pod): object {
    const now = new Date();
    const c = pod.spec!.containers.find((x) => x.name === POSTGRES_CONTAINER) ?? pod.spec!.containers[0]!;
    const running = w.container !== undefined;
    const previous = (pod.status?.conditions ?? []) as V1PodCondition[];
    const cond = (type: string, ok: boolean): V1PodCondition => {
      const status = ok ? "True" : "False";
      const prev = previous.find((p) => p.type === type);
      return { type, status, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now };
    };
    const terminated = w.lastExit
      ? {
          terminated: {
            exitCode: w.lastExit.exit.exitCode,
            ...(w.lastExit.exit.signal ? { signal: signalNumber(w.lastExit.exit.signal) } : {}),
            reason: w.lastExit.exit.exitCode === 0 ? "Completed" : "Error",
            startedAt: w.lastExit.startedAt,
            finishedAt: w.lastExit.exit.finishedAt,
          },
        }
      : undefined;
    const state = running
      ? { running: { startedAt: w.container!.startedAt } }
      : w.waiting
        ? { waiting: w.waiting }
        : (terminated ?? { waiting: { reason: "ContainerCreating" } });
    const containerStatus: V1ContainerStatus = {
      name: c.name,
      image: c.image!,
      imageID: `setpoint-harness://${c.image!}`,
      containerID: running ? `setpoint-harness://${w.uid}/${w.container!.pid ?? 0}` : undefined,
      ready: w.ready,
      started: running,
      restartCount: w.restartCount,
      state: state as V1ContainerStatus["state"],
      // As the kubelet: the last exit stays in lastState while the container runs again or waits to (CrashLoopBackOff).
      lastState: ((running || w.waiting) && terminated ? terminated : {}) as V1ContainerStatus["lastState"],
    };
    return {
      phase: running || w.lastExit ? "Running" : "Pending",
      hostIP: hostIp,
      hostIPs: [{ ip: hostIp }],
      ...(w.ip ? { podIP: w.ip, podIPs: [{ ip: w.ip }] } : {}),
      startTime: pod.status?.startTime ?? now,
      conditions: [cond("PodScheduled", true), cond("Initialized", w.initialized), cond("ContainersReady", w.ready), cond("Ready", w.ready)],
      containerStatuses: [containerStatus],
    };
  }

  let stopped: Promise<void> | undefined;
  return {
    nodeName,
    block,
    baseDir,
    volumeDir(namespace, claimName) {
      const pvc = claims.get(`${namespace}/${claimName}`);
      return pvc ? claimDir(pvc) : undefined;
    },
    pid: (namespace, podName) => byKey.get(`${namespace}/${podName}`)?.container?.pid,
    kill(namespace, podName, signal = "SIGKILL") {
      const container = byKey.get(`${namespace}/${podName}`)?.container;
      if (!container) throw new Error(`node harness: no running container for pod ${namespace}/${podName}`);
      container.kill(signal);
    },
    crash(namespace, podName) {
      const w = byKey.get(`${namespace}/${podName}`);
      if (!w?.container) throw new Error(`node harness: no running container for pod ${namespace}/${podName}`);
      w.held = true;
      w.container.kill("SIGKILL");
    },
    logTail: (namespace, podName) => byKey.get(`${namespace}/${podName}`)?.container?.logTail() ?? "(not running)",
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        await pods.stop();
        await claims.stop();
        for (const w of workers.values()) if (w.restartTimer) clearTimeout(w.restartTimer);
        await Promise.all([...workers.values()].map(async (w) => {
          await w.starting?.catch(() => undefined);
          await w.container?.stop(10);
        }));
        workers.clear();
        dog.kill("SIGKILL");
        if (ownsBase) rmSync(baseDir, { recursive: true, force: true });
      })()),
  };
}

function signalNumber(signal: string): number {
  return ({ SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

