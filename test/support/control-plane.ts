// Test harness for a real Kubernetes API: etcd + kube-apiserver (envtest style: no kubelet,
// scheduler or controller-manager) on loopback ports, with throwaway certificates. Binaries
// come from `npm run toolchain` (scripts/toolchain); see docs/adr/0002-toolchain.md.
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import type { ToolchainEnv } from "../../scripts/toolchain/paths.mjs";

const pathsModule = resolve(__dirname, "../../scripts/toolchain/paths.mjs");

/**
 * Reads this checkout's toolchain env.json (written by `npm run toolchain`).
 *
 * Runs scripts/toolchain/paths.mjs in a child Node process, so the cache key is computed by
 * the same code that built the toolchain, and so this stays synchronous (usable at test
 * collection time in a CommonJS module, which cannot await at top level).
 * @returns the env, or undefined when the toolchain is missing or incomplete.
 */
export function loadToolchain(): ToolchainEnv | undefined {
  const script = `import(${JSON.stringify(pathsModule)}).then((m) => process.stdout.write(JSON.stringify(m.readToolchainEnv() ?? null)))`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  return (JSON.parse(out) as ToolchainEnv | null) ?? undefined;
}

/**
 * Decides whether toolchain tests run: returns the env when present; returns a skip reason
 * when it is missing on a developer machine.
 * @throws {Error} when it is missing and `CI` is set: CI must never silently skip them.
 */
export function toolchainOrSkip(tools: string[]): { env?: ToolchainEnv; skip?: string } {
  const env = loadToolchain();
  const missing = tools.filter((t) => !env?.tools[t]);
  if (missing.length === 0) return { env };
  const message = `toolchain missing (${missing.join(", ")}); run \`npm run toolchain\` first`;
  if (process.env.CI) throw new Error(`${message} (CI is set, so this is a failure, not a skip)`);
  console.warn(`skipping: ${message}`);
  return { skip: message };
}

/** A running etcd + kube-apiserver pair. */
export interface ControlPlane {
  /** Path of a kubeconfig for a system:masters user (client certificate). */
  kubeconfigPath: string;
  /** API server URL, e.g. https://127.0.0.1:41234. */
  server: string;
  /** etcd client URL (plain HTTP on loopback), e.g. http://127.0.0.1:41235. */
  etcdUrl: string;
  /** The loaded kubeconfig, ready for `makeApiClient`. */
  kubeConfig: KubeConfig;
  /** PIDs of the servers, to assert they are gone after stop(). */
  pids: { etcd: number; apiserver: number; controllerManager?: number };
  /** Stops both processes (SIGTERM, then SIGKILL after 10 s) and removes the temp dir. */
  stop(): Promise<void>;
}

/** Options of startControlPlane. */
export interface ControlPlaneOptions {
  /** Toolchain to take binaries from. @default loadToolchain() */
  toolchain?: ToolchainEnv;
  /** How long to wait for /readyz. @default 90_000 ms */
  readyTimeoutMs?: number;
  /**
   * kube-controller-manager controllers to run, e.g. `["garbagecollector", "namespace"]` so
   * foreground (cascading) deletions and namespace deletions complete, as in a real cluster.
   * @default [] (envtest style: no controller-manager)
   */
  controllers?: string[];
  /**
   * Extra kube-apiserver flags, e.g. `["--watch-cache=false"]` so watches are served by etcd
   * and an etcd compaction makes an old resourceVersion answer 410 Gone.
   * @default []
   */
  apiserverArgs?: string[];
  /**
   * The address kube-apiserver binds to and advertises (the `kubernetes` Service's endpoint). A
   * real node's pods reach the API server there, so the real-node harness passes its bridge's
   * address. @default "127.0.0.1"
   */
  address?: string;
  /**
   * Keep the ServiceAccount admission plugin (pods get service-account tokens), as a cluster
   * with real pods needs; the controller-manager then also needs the `serviceaccount`,
   * `serviceaccount-token` and `root-ca-cert-publisher` controllers. @default false (envtest style)
   */
  serviceAccounts?: boolean;
}

/** The first address of the test clusters' Service range: the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = "10.0.0.1";
/** The test clusters' Service range. */
export const SERVICE_CIDR = "10.0.0.0/24";

/** Everything started and not yet stopped, killed on exit or interrupt. */
const running = new Set<{ procs: ChildProcess[]; dir: string }>();

function killAllSync(): void {
  for (const cp of running) {
    for (const p of cp.procs) if (p.exitCode === null) p.kill("SIGKILL");
    rmSync(cp.dir, { recursive: true, force: true });
  }
  running.clear();
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = (): void => {
      killAllSync();
      process.removeListener(signal, onSignal);
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** A free TCP port on 127.0.0.1 (the kernel's choice; released before use). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolvePort(addr.port) : reject(new Error("no port"))));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.error) throw new Error("openssl not found; install it (apt-get install openssl)", { cause: r.error });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

interface Certs {
  caCert: string;
  servingCert: string;
  servingKey: string;
  clientCert: string;
  clientKey: string;
  saPublic: string;
  saPrivate: string;
}

/**
 * One CA signs the serving certificate (127.0.0.1, localhost) and an admin client
 * certificate (O=system:masters); a separate EC key pair signs service-account tokens.
 */
function generateCerts(dir: string, address: string): Certs {
  const p = (name: string): string => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=setpoint-test-ca"], dir);
  const sign = (name: string, subj: string, ext: string): void => {
    openssl(["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj], dir);
    writeFileSync(p(`${name}.ext`), ext);
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", `${name}.crt`, "-extfile", `${name}.ext`],
      dir,
    );
  };
  // In-cluster clients reach it as the `kubernetes` Service (its IP and names), the node at `address`.
  const sans = [
    ...new Set(["IP:127.0.0.1", `IP:${address}`, `IP:${KUBERNETES_SERVICE_IP}`]),
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
  ];
  sign("serving", "/CN=kube-apiserver", `subjectAltName=${sans.join(",")}\nextendedKeyUsage=serverAuth\n`);
  sign("admin", "/O=system:masters/CN=setpoint-admin", "extendedKeyUsage=clientAuth\n");
  const sa = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(p("sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(p("sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));
  return {
    caCert: p("ca.crt"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    clientCert: p("admin.crt"),
    clientKey: p("admin.key"),
    saPublic: p("sa.pub"),
    saPrivate: p("sa.key"),
  };
}

function kubeconfigYaml(server: string, certs: Certs): string {
  const b64 = (f: string): string => readFileSync(f).toString("base64");
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "setpoint-test", cluster: { server, "certificate-authority-data": b64(certs.caCert) } }],
      users: [
        {
          name: "setpoint-admin",
          user: { "client-certificate-data": b64(certs.clientCert), "client-key-data": b64(certs.clientKey) },
        },
      ],
      contexts: [{ name: "setpoint-test", context: { cluster: "setpoint-test", user: "setpoint-admin", namespace: "default" } }],
      "current-context": "setpoint-test",
    },
    null,
    2,
  );
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, "a");
  try {
    return spawn(bin, args, { stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** GET an https URL with the admin client certificate; resolves to the status code and body. */
function httpsGet(url: string, certs: Certs): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(certs.caCert),
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolveGet({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

async function waitFor(
  what: string,
  proc: ChildProcess,
  logFile: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before becoming ready:\n${tail(logFile)}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${tail(logFile)}`);
}

async function stopProcess(proc: ChildProcess, graceMs = 10_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A watchdog shell that kills the servers and removes `dir` if this process dies without
 * running its exit handlers (e.g. a test worker killed with SIGKILL).
 */
function startWatchdog(pids: number[], dir: string): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pids.join(" ")} 2>/dev/null; rm -rf '${dir}'`;
  const dog = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  dog.unref();
  return dog;
}

/** Starts kube-controller-manager against the API server with only `controllers` enabled. */
async function startControllerManager(
  toolchain: ToolchainEnv,
  controllers: string[],
  kubeconfigPath: string,
  dir: string,
  procs: ChildProcess[],
  certs: Certs,
): Promise<ChildProcess> {
  const bin = toolchain.tools["kube-controller-manager"]?.path;
  if (!bin) throw new Error("kube-controller-manager not built; run `npm run toolchain`");
  const port = await freePort();
  const log = join(dir, "kube-controller-manager.log");
  const proc = startProcess(
    bin,
    [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      `--controllers=${controllers.join(",")}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, "controller-manager-certs")}`,
      // For the service-account token and root CA publisher controllers, when they run.
      `--service-account-private-key-file=${certs.saPrivate}`,
      `--root-ca-file=${certs.caCert}`,
    ],
    log,
  );
  procs.push(proc, startWatchdog([proc.pid!], dir));
  await waitFor("kube-controller-manager", proc, log, 60_000, async () => {
    return (await insecureGet(`https://127.0.0.1:${port}/healthz`)) === 200;
  });
  return proc;
}

/** Status code of a GET that trusts any certificate (the controller-manager's is self-signed). */
function insecureGet(url: string): Promise<number> {
  return new Promise((resolveGet, reject) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolveGet(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Starts etcd and kube-apiserver on free loopback ports in a fresh temp dir, waits until
 * the API server's /readyz passes, and writes a kubeconfig for a system:masters user.
 * Both processes are killed when this process exits or is interrupted, even without stop().
 * @throws {Error} when the toolchain is missing (run `npm run toolchain`) or a server does
 *   not come up (the error carries the end of its log).
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const toolchain = opts.toolchain ?? loadToolchain();
  const etcdBin = toolchain?.tools["etcd"]?.path;
  const apiserverBin = toolchain?.tools["kube-apiserver"]?.path;
  if (!etcdBin || !apiserverBin) throw new Error("etcd/kube-apiserver not built; run `npm run toolchain`");
  installExitHandlers();

  const dir = mkdtempSync(join(tmpdir(), "setpoint-kube-"));
  const entry = { procs: [] as ChildProcess[], dir };
  running.add(entry);
  try {
    const address = opts.address ?? "127.0.0.1";
    const certs = generateCerts(dir, address);
    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcdLog = join(dir, "etcd.log");
    const etcd = startProcess(
      etcdBin,
      [
        "--name=default",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      etcdLog,
    );
    entry.procs.push(etcd);
    await waitFor("etcd", etcd, etcdLog, 30_000, async () => {
      const res = await fetch(`${etcdUrl}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === "true";
    });

    const server = `https://${address}:${securePort}`;
    const apiserverLog = join(dir, "kube-apiserver.log");
    const apiserver = startProcess(
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${address}`,
        `--advertise-address=${address}`,
        `--secure-port=${securePort}`,
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        `--tls-cert-file=${certs.servingCert}`,
        `--tls-private-key-file=${certs.servingKey}`,
        `--client-ca-file=${certs.caCert}`,
        // How it authenticates to a kubelet (logs, exec): a real node's trusts this CA.
        `--kubelet-client-certificate=${certs.clientCert}`,
        `--kubelet-client-key=${certs.clientKey}`,
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${certs.saPublic}`,
        `--service-account-signing-key-file=${certs.saPrivate}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        "--authorization-mode=RBAC",
        // Without a controller-manager nothing creates the default ServiceAccount, so do not require it.
        ...(opts.serviceAccounts ? [] : ["--disable-admission-plugins=ServiceAccount"]),
        "--allow-privileged=true",
        ...(opts.apiserverArgs ?? []),
      ],
      apiserverLog,
    );
    entry.procs.push(apiserver);
    const dog = startWatchdog([etcd.pid!, apiserver.pid!], dir);
    entry.procs.push(dog);
    await waitFor("kube-apiserver", apiserver, apiserverLog, opts.readyTimeoutMs ?? 90_000, async () => {
      const res = await httpsGet(`${server}/readyz`, certs);
      return res.status === 200;
    });

    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, certs), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);

    let controllerManager: ChildProcess | undefined;
    if (opts.controllers && opts.controllers.length > 0) {
      controllerManager = await startControllerManager(toolchain!, opts.controllers, kubeconfigPath, dir, entry.procs, certs);
    }

    let stopped: Promise<void> | undefined;
    return {
      kubeconfigPath,
      server,
      etcdUrl,
      kubeConfig,
      pids: { etcd: etcd.pid!, apiserver: apiserver.pid!, controllerManager: controllerManager?.pid },
      stop: () =>
        (stopped ??= (async () => {
          if (controllerManager) await stopProcess(controllerManager);
          await stopProcess(apiserver);
          await stopProcess(etcd);
          // The watchdogs (and anything else left) go last, without ceremony.
          for (const p of entry.procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
          running.delete(entry);
          rmSync(dir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    for (const p of entry.procs) if (p.exitCode === null) p.kill("SIGKILL");
    running.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A CustomResourceDefinition as plain wire-format JSON (e.g. `x-kubernetes-*` keys as is). */
export interface CrdManifest {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; [key: string]: unknown };
  spec: Record<string, unknown>;
}

interface CrdStatus {
  metadata?: { resourceVersion?: string };
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

const CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/**
 * Creates (or replaces) CustomResourceDefinitions and waits until each is Established.
 *
 * Manifests go to the API server as raw JSON: the typed client-node models rename
 * `x-kubernetes-*` keys and drop ones they do not know, which would silently change a CRD.
 * @param kubeconfig a kubeconfig path or a loaded KubeConfig
 * @param manifests CRD objects (apiextensions.k8s.io/v1), wire format
 * @param timeoutMs how long to wait for Established. @default 30_000
 * @throws {Error} naming the CRD that was rejected or not established in time.
 */
export async function installCrds(kubeconfig: string | KubeConfig, manifests: CrdManifest[], timeoutMs = 30_000): Promise<void> {
  const kc = typeof kubeconfig === "string" ? loadKubeConfig(kubeconfig) : kubeconfig;
  for (const crd of manifests) {
    const name = crd.metadata.name;
    const created = await kubeRequest(kc, "POST", CRDS_PATH, crd);
    if (created.status === 409) {
      const live = (await kubeRequest(kc, "GET", `${CRDS_PATH}/${name}`)).body as CrdStatus;
      const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: live.metadata?.resourceVersion } };
      const replaced = await kubeRequest(kc, "PUT", `${CRDS_PATH}/${name}`, body);
      if (replaced.status >= 300) throw new Error(`replacing CRD ${name}: HTTP ${replaced.status}: ${JSON.stringify(replaced.body)}`);
    } else if (created.status >= 300) {
      throw new Error(`creating CRD ${name}: HTTP ${created.status}: ${JSON.stringify(created.body)}`);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of manifests) {
    const name = crd.metadata.name;
    for (;;) {
      const live = (await kubeRequest(kc, "GET", `${CRDS_PATH}/${name}`)).body as CrdStatus;
      const conditions = live.status?.conditions ?? [];
      if (conditions.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) {
        throw new Error(`CRD ${name} not Established after ${timeoutMs} ms: ${JSON.stringify(conditions)}`);
      }
      await sleep(100);
    }
  }
}

/** One JSON request to the API server with the kubeconfig's credentials. */
async function kubeRequest(kc: KubeConfig, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(path, cluster.server);
  const opts: RequestOptions = { method, headers: { "content-type": "application/json", accept: "application/json" } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolveReq, reject) => {
    const req = request(url, opts, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON; keep the text for the error message
        }
        resolveReq({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/**
 * Compacts etcd's history up to its current revision through etcd's v3 JSON gateway, as the
 * API server's own periodic compaction does (`--etcd-compaction-interval`): afterwards a watch
 * from an older resourceVersion that the API server serves from etcd answers 410 Gone.
 * @returns the revision compacted to.
 * @throws {Error} when etcd refuses either request.
 */
export async function compactEtcd(etcdUrl: string): Promise<number> {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  // Any read returns the store's current revision in its header.
  const range = await post("/v3/kv/range", { key: Buffer.from("/").toString("base64"), limit: 1 });
  const revision = Number((range.header as { revision?: string } | undefined)?.revision);
  if (!Number.isInteger(revision) || revision < 1) throw new Error(`etcd returned no revision: ${JSON.stringify(range)}`);
  await post("/v3/kv/compaction", { revision: String(revision), physical: true });
  return revision;
}
