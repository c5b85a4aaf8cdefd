// A second node of the node-harness tier, for PgBouncer pods only (ADR 0022): it plays the
// kubelet for pods whose container is named `pgbouncer` (the operator's pooler pods), running
// Debian's real `pgbouncer` as a local process on the pod's own loopback address 127.B.x.y.
// The PostgreSQL node harness (harness.ts) never binds these pods, and this one binds nothing
// else, so the two stay independent.
//
// What it copies from a kubelet, and how:
// - ConfigMap and Secret volumes (with `items`) are written per pod; paths under a mount in the
//   container's args and in the files' `key = value` lines point at those files, as the mount
//   would make them.
// - The container's network namespace: `listen_addr` is the pod's own address (in a pod `*`
//   means the pod's interfaces; here it would mean the host's).
// - Every pod update re-writes the volumes' files from the API (a kubelet refreshes ConfigMap and
//   Secret volumes when it syncs a pod, which an update triggers).
// - Readiness is the pod's tcpSocket probe: the listen port accepts a connection.
// - A deleted pod gets SIGTERM (the image's stop signal; PgBouncer's immediate shutdown), SIGKILL
//   after its grace period, then is removed; a process that dies is restarted after a backoff.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { Informer, objectKey } from "../../../sdk/reconcile/internal/informer";
import { bindPod } from "./binding";
import { MetricsRegistry } from "../../../sdk/reconcile/internal/metrics";
import { pgbouncerBinary } from "../pgbouncer";

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
/** The container this node runs. */
export const PGBOUNCER_CONTAINER = "pgbouncer";

/** Options of {@link startPoolerNode}. */
export interface PoolerNodeOptions {
  readonly kubeConfig: KubeConfig;
  /** @default "setpoint-pooler-node" */
  readonly nodeName?: string;
  /** Second octet of pod addresses to stay away from (the PostgreSQL harness's). */
  readonly avoidBlock?: number;
}

/** A running pooler node. */
export interface PoolerNode {
  readonly nodeName: string;
  /** The OS process id of a pod's PgBouncer, if running. */
  pid(namespace: string, pod: string): number | undefined;
  /** The end of a pod's PgBouncer log. */
  logTail(namespace: string, pod: string, chars?: number): string;
  stop(): Promise<void>;
}

interface Worker {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly dir: string;
  ip?: string;
  child?: ChildProcess;
  startedAt?: Date;
  ready: boolean;
  restarts: number;
  log: string;
  gone: boolean;
  timer?: NodeJS.Timeout;
}

function nobody(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync("id", ["-u", "nobody"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "nobody"], { encoding: "utf8" });
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Starts the node: registers it and runs the PgBouncer pods bound to it. */
export async function startPoolerNode(options: PoolerNodeOptions): Promise<PoolerNode> {
  const nodeName = options.nodeName ?? "setpoint-pooler-node";
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const base = mkdtempSync(join(tmpdir(), "setpoint-pooler-node-"));
  chmodSync(base, 0o755); // PgBouncer's user must traverse it
  const identity = nobody();
  let block = randomInt(32, 250);
  while (block === options.avoidBlock) block = randomInt(32, 250);
  let nextHost = 2;
  const hostIp = `127.${block}.0.1`;
  const workers = new Map<string, Worker>();
  let stopping = false;
  const bin = pgbouncerBinary();
  // A kill -9 of this process runs no exit hook: a watchdog kills the PgBouncers (their pid files) and removes the directory.
  const dog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for f in '${base}'/*/pid; do [ -f "$f" ] && kill -9 $(cat "$f") 2>/dev/null; done; rm -rf '${base}'`], { stdio: "ignore", detached: true });
  dog.unref();

  const now = new Date().toISOString();
  const nodeStatus: object = {
    addresses: [{ type: "InternalIP", address: hostIp }],
    capacity: { cpu: "2", memory: "4Gi", pods: "110" },
    allocatable: { cpu: "2", memory: "4Gi", pods: "110" },
    conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "setpoint pooler node", lastHeartbeatTime: now, lastTransitionTime: now }],
  };
  await core.createNode({ body: { metadata: { name: nodeName, labels: { "kubernetes.io/hostname": nodeName } }, status: nodeStatus as never } });
  await core.patchNodeStatus({ name: nodeName, body: { status: nodeStatus } }, MERGE_PATCH);

  const pods = new Informer<V1Pod>({ kubeConfig: options.kubeConfig, path: "/api/v1/pods", name: "pooler-node-pods", metrics: new MetricsRegistry(), restartBackoff: { initialMs: 200, maxMs: 2000 } });
  const background = (what: string, p: Promise<unknown>): void => {
    p.catch((err: unknown) => {
      if (!stopping) process.stderr.write(`pooler node: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  };
  const own = (path: string): void => {
    if (identity) chownSync(path, identity.uid, identity.gid);
  };

  /** Writes the pod's ConfigMap and Secret volumes; returns mount path -> host directory. */
  async function writeVolumes(w: Worker, pod: V1Pod): Promise<Map<string, string>> {
    const c = pod.spec!.containers.find((x) => x.name === PGBOUNCER_CONTAINER)!;
    const mounts = new Map<string, string>();
    const files: [string, string][] = [];
    for (const [i, m] of (c.volumeMounts ?? []).entries()) {
      const v = pod.spec?.volumes?.find((x) => x.name === m.name);
      let data: Record<string, string> = {};
      let items: { key: string; path: string }[] | undefined;
      if (v?.configMap?.name) {
        data = (await core.readNamespacedConfigMap({ name: v.configMap.name, namespace: w.namespace })).data ?? {};
        items = v.configMap.items;
      } else if (v?.secret?.secretName) {
        const raw = (await core.readNamespacedSecret({ name: v.secret.secretName, namespace: w.namespace })).data ?? {};
        data = Object.fromEntries(Object.entries(raw).map(([k, b]) => [k, Buffer.from(b, "base64").toString("utf8")]));
        items = v.secret.items;
      } else continue;
      const dir = join(w.dir, "volumes", String(i));
      mkdirSync(dir, { recursive: true });
      own(dir);
      mounts.set(m.mountPath.replace(/\/+$/, ""), dir);
      for (const [key, value] of Object.entries(data)) {
        const path = items ? items.find((x) => x.key === key)?.path : key;
        if (path !== undefined) files.push([join(dir, path), value]);
      }
    }
    const mapPath = (value: string): string => {
      for (const [mount, dir] of mounts) if (value === mount || value.startsWith(`${mount}/`)) return dir + value.slice(mount.length);
      return value;
    };
    for (const [path, value] of files) {
      // Paths in `key = value` lines point where the mounts put them; the pod listens on its own address.
      const text = value
        .split("\n")
        .map((line) => {
          const m = /^(\s*[A-Za-z_]+\s*=\s*)(.*)$/.exec(line);
          if (!m) return line;
          if (/^\s*listen_addr\s*=/.test(line)) return `${m[1]}${w.ip!}`;
          return `${m[1]}${mapPath(m[2]!)}`;
        })
        .join("\n");
      writeFileSync(path, text, { mode: 0o640 });
      own(path);
    }
    return mounts;
  }

  async function writeStatus(w: Worker): Promise<void> {
    if (w.gone || stopping) return;
    const pod = pods.get(`${w.namespace}/${w.name}`);
    if (!pod || pod.metadata?.uid !== w.uid) return;
    const t = new Date().toISOString();
    const running = w.child !== undefined && w.child.exitCode === null;
    const cond = (type: string, ok: boolean) => ({ type, status: ok ? "True" : "False", lastTransitionTime: t });
    await core
      .patchNamespacedPodStatus(
        {
          name: w.name,
          namespace: w.namespace,
          body: {
            status: {
              phase: running ? "Running" : "Pending",
              hostIP: hostIp,
              ...(w.ip ? { podIP: w.ip, podIPs: [{ ip: w.ip }] } : {}),
              startTime: pod.status?.startTime ?? t,
              conditions: [cond("PodScheduled", true), cond("Initialized", true), cond("ContainersReady", w.ready), cond("Ready", w.ready)],
              containerStatuses: [
                {
                  name: PGBOUNCER_CONTAINER,
                  image: pod.spec!.containers[0]!.image!,
                  imageID: "",
                  ready: w.ready,
                  restartCount: w.restarts,
                  started: running,
                  state: running ? { running: { startedAt: w.startedAt } } : { waiting: { reason: "ContainerCreating" } },
                },
              ],
            },
          },
        },
        MERGE_PATCH,
      )
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 404) throw err;
      });
  }

  async function start(w: Worker, pod: V1Pod): Promise<void> {
    if (w.gone || stopping) return;
    w.ip ??= `127.${block}.${Math.floor(nextHost / 254)}.${(nextHost++ % 254) + 1}`;
    const c = pod.spec!.containers.find((x) => x.name === PGBOUNCER_CONTAINER)!;
    let mounts: Map<string, string>;
    try {
      mounts = await writeVolumes(w, pod);
    } catch (err) {
      // As a kubelet: the pod waits until its ConfigMap and Secret exist.
      w.log += `volumes: ${err instanceof Error ? err.message : String(err)}\n`;
      w.timer = setTimeout(() => background(`starting ${w.name}`, start(w, pods.get(`${w.namespace}/${w.name}`) ?? pod)), 1000);
      return;
    }
    const args = (c.args ?? []).map((a) => {
      for (const [mount, dir] of mounts) if (a.startsWith(`${mount}/`)) return dir + a.slice(mount.length);
      return a;
    });
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], ...(identity ?? {}) });
    w.child = child;
    if (child.pid !== undefined) writeFileSync(join(w.dir, "pid"), String(child.pid));
    w.startedAt = new Date();
    w.ready = false;
    const append = (d: Buffer): void => {
      w.log = (w.log + d.toString("utf8")).slice(-64 * 1024);
    };
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    child.once("exit", () => {
      if (w.child !== child) return;
      w.child = undefined;
      w.ready = false;
      if (w.gone || stopping) return;
      background(`status of ${w.name}`, writeStatus(w));
      w.restarts++;
      w.timer = setTimeout(() => background(`restarting ${w.name}`, start(w, pods.get(`${w.namespace}/${w.name}`) ?? pod)), Math.min(5000, 250 * 2 ** Math.min(w.restarts, 4)));
    });
    await writeStatus(w);
    const port = c.ports?.[0]?.containerPort ?? 6432;
    while (!w.gone && !stopping && w.child === child && !w.ready) {
      w.ready = await new Promise<boolean>((resolve) => {
        const s = connect({ host: w.ip!, port });
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      });
      if (!w.ready) await new Promise((r) => setTimeout(r, 100));
    }
    await writeStatus(w);
  }

  async function terminate(w: Worker, graceSeconds: number, finalize: boolean): Promise<void> {
    if (w.gone) return;
    w.gone = true;
    if (w.timer) clearTimeout(w.timer);
    const child = w.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), graceSeconds * 1000);
      await exited;
      clearTimeout(kill);
    }
    workers.delete(w.uid);
    rmSync(w.dir, { recursive: true, force: true });
    if (finalize) {
      await core.deleteNamespacedPod({ name: w.name, namespace: w.namespace, body: { gracePeriodSeconds: 0, preconditions: { uid: w.uid } } }).catch((err: unknown) => {
        if (![404, 409].includes((err as { code?: number }).code ?? 0)) throw err;
      });
    }
  }

  pods.onEvent((event) => {
    const pod = event.object;
    const isPooler = pod.spec?.containers.some((c) => c.name === PGBOUNCER_CONTAINER) ?? false;
    if (!isPooler) return;
    if (event.type !== "delete" && !pod.spec?.nodeName) {
      background(`binding ${objectKey(pod)}`, bindPod(core, pod, nodeName));
      return;
    }
    if (pod.spec?.nodeName !== nodeName) return;
    const uid = pod.metadata!.uid!;
    let w = workers.get(uid);
    if (event.type === "delete") {
      if (w) background(`stopping ${objectKey(pod)}`, terminate(w, 0, false));
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (w) background(`terminating ${objectKey(pod)}`, terminate(w, pod.metadata.deletionGracePeriodSeconds ?? 10, true));
      return;
    }
    if (!w) {
      const dir = join(base, uid);
      mkdirSync(dir, { recursive: true });
      own(dir);
      w = { uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, dir, ready: false, restarts: 0, log: "", gone: false };
      workers.set(uid, w);
      const worker = w;
      background(`starting ${objectKey(pod)}`, start(worker, pod));
      return;
    }
    // A pod update: the kubelet's sync refreshes the ConfigMap and Secret volumes.
    if (w.child && w.ip) background(`refreshing volumes of ${objectKey(pod)}`, writeVolumes(w, pod));
  });
  await pods.start();

  const byName = (namespace: string, name: string): Worker | undefined => [...workers.values()].find((w) => w.namespace === namespace && w.name === name);
  let stopped: Promise<void> | undefined;
  return {
    nodeName,
    pid: (namespace, name) => byName(namespace, name)?.child?.pid,
    logTail: (namespace, name, chars = 3000) => byName(namespace, name)?.log.slice(-chars) ?? "(no such pod)",
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        await pods.stop();
        await Promise.all([...workers.values()].map((w) => terminate(w, 2, false)));
        dog.kill("SIGKILL");
        rmSync(base, { recursive: true, force: true });
      })()),
  };
}
