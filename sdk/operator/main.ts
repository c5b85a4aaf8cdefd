/**
 * The Setpoint operator process (`node dist/sdk/operator/main.js`): an informer on
 * `PostgresSchema` objects feeding a controller that runs {@link reconcilePostgresSchema}
 * (spec and metadata changes only: the echo of our own status writes is filtered out), metadata
 * informers on ConfigMaps and Secrets that reconcile the `PostgresSchema`s referring to a changed
 * one; the `PostgresCluster` controller (`./cluster/register.ts`) with informers on the pods,
 * claims and services it owns; the `PostgresUpgrade` controller (`./upgrade/register.ts`); a periodic resync, optional Lease leader election, and an HTTP endpoint with `/healthz`,
 * `/readyz` (200 once every informer has synced) and `/metrics` (Prometheus text).
 *
 * Flags: `--kubeconfig <path>`, `--namespace <ns>` (default: all namespaces), `--resync <seconds>`
 * (default 300), `--leader-elect`, `--lease-namespace <ns>` (default `default`), `--lease-name`
 * (default `setpoint-operator`), `--metrics-port <port>` (default 8080, 0 = random),
 * `--dev-url <postgres url>` (default: an embedded server), `--concurrency <n>` (default 2). The
 * Lease's namespace and name default to `$POD_NAMESPACE` and `$SETPOINT_LEADER_ELECTION_LEASE`
 * where set (the `Operator` component's Deployment sets both), its holder identity to
 * `$POD_NAME_$POD_UID` (so a restarted container takes its Lease back at once). On SIGTERM the in-flight reconciles
 * are cancelled first and the Lease is released last, so another replica leads at once.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { loadKubeConfig, readSecretKey } from "../reconcile/kubeconfig";
import { GROUP, VERSION } from "../api/common";
import { KINDS } from "../api/crds";
import { InputError } from "../errors";
import type { Logger, Request } from "../reconcile/index";
import { Controller } from "../reconcile/internal/controller";
import { Informer } from "../reconcile/internal/informer";
import { LeaderElector } from "../reconcile/internal/leader-election";
import { enqueueObject, generationChanged, ReferenceIndex } from "../reconcile/internal/sources";
import { LOW_PRIORITY } from "../reconcile/internal/work-queue";
import { reportFailureInStatus, type StatusApi } from "../reconcile/internal/status";
import { jsonLogger } from "../reconcile/internal/logger";
import { defaultRegistry, type MetricsRegistry } from "../reconcile/internal/metrics";
import { createSchemaEngine, type SchemaEngineOptions } from "../schema/engine";
import { clusterController } from "./cluster/register";
import { customResourceInformer } from "./informers";
import type { TrafficSwitchFactory } from "./upgrade/controller";
import { upgradeController } from "./upgrade/register";
import { backupController, type BackupTimings } from "./backup/register";
import type { UpgradeState } from "../upgrade/state";
import { reconcilePostgresSchema, referencedConfigMaps, referencedSecrets, type PostgresSchemaObject } from "./schema/controller";

/** Options of {@link startOperator}. */
export interface OperatorOptions {
  /** A kubeconfig path or content, or a loaded KubeConfig. @default the default kubeconfig */
  kubeconfig?: string | KubeConfig;
  /** Watch only this namespace. @default all namespaces */
  namespace?: string;
  /** Re-queue every cached object this often, in seconds. @default 300 */
  resyncSeconds?: number;
  /** Campaign for a Lease and reconcile only while holding it. @default false */
  leaderElect?: boolean;
  /** Namespace of the Lease. @default "default" */
  leaseNamespace?: string;
  /** Name of the Lease. @default "setpoint-operator" */
  leaseName?: string;
  /**
   * This process's holder identity in the Lease. @default `<POD_NAME>_<POD_UID>` where both are
   * set (the Operator component's Deployment sets them), else the LeaderElector's per-process one
   */
  leaseIdentity?: string;
  /** Lease timing, for tests. @default the LeaderElector defaults */
  leaseTiming?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** Port of the health and metrics endpoint; 0 picks a free one. @default 8080 */
  metricsPort?: number;
  /** Host the endpoint binds to. @default "0.0.0.0" */
  metricsHost?: string;
  /** Parallel reconciles. @default 2 */
  concurrency?: number;
  /** Schema engine options (e.g. `devUrl`, `cacheDir`). @default {} */
  engineOptions?: SchemaEngineOptions;
  /** Look again after this long when a database is unreachable. @default 10_000 ms */
  unreachableRequeueMs?: number;
  /** Logger. @default JSON lines on stderr */
  logger?: Logger;
  /** Metrics registry served on `/metrics`. @default defaultRegistry */
  metrics?: MetricsRegistry;
  /** Test seam: runs at each checkpoint of an upgrade the operator drives (e.g. to hold it mid-phase). */
  upgradeCheckpoint?: (name: string, state: UpgradeState) => void | Promise<void>;
  /** The traffic switch of `PostgresUpgrade`s (a pooler's). @default blue's rw Service */
  upgradeTraffic?: TrafficSwitchFactory;
  /** Timings of the backup scheduler and retention (tests shorten them). */
  backupTimings?: BackupTimings;
  /**
   * Time between the steps of a cluster authority's rotation (ADR 0049): long enough for every
   * holder of a `ca.crt` (pods, applications reading the app Secret) to read it again.
   * @default 7 days
   */
  authorityOverlapSeconds?: number;
  /** Called once when leadership is lost, after the controller stopped (the process should exit non-zero). */
  onLostLeadership?: () => void;
}

/** A running operator. */
export interface RunningOperator {
  /** The port of the health and metrics endpoint. */
  readonly port: number;
  /** Stops election, resync, controller (draining), informer and the endpoint. */
  stop(): Promise<void>;
}

/**
 * Starts the operator in this process.
 * @throws {InputError} when an option is out of range.
 */
export async function startOperator(options: OperatorOptions = {}): Promise<RunningOperator> {
  const resyncSeconds = options.resyncSeconds ?? 300;
  if (!(resyncSeconds > 0)) throw new InputError(`resync must be a positive number of seconds, got ${resyncSeconds}`, { propertyPath: "resync" });
  if (options.authorityOverlapSeconds !== undefined && !(options.authorityOverlapSeconds > 0)) {
    throw new InputError(`authorityOverlapSeconds must be a positive number of seconds, got ${options.authorityOverlapSeconds}`, { propertyPath: "authorityOverlapSeconds" });
  }
  const kc = typeof options.kubeconfig === "object" ? options.kubeconfig : loadKubeConfig(options.kubeconfig);
  const log = options.logger ?? jsonLogger();
  const metrics = options.metrics ?? defaultRegistry;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const { plural } = KINDS.PostgresSchema;
  const ns = options.namespace;

  const informer = customResourceInformer<PostgresSchemaObject>({ kubeConfig: kc, plural, namespace: ns, logger: log, metrics });
  // ConfigMaps and Secrets a PostgresSchema reads: watched as metadata only (no Secret value is
  // ever cached), so that editing one reconciles the objects that use it.
  const referenced = (resource: "configmaps" | "secrets"): Informer<KubernetesObject> =>
    new Informer<KubernetesObject>({
      kubeConfig: kc,
      name: resource,
      path: ns ? `/api/v1/namespaces/${ns}/${resource}` : `/api/v1/${resource}`,
      metadataOnly: true,
      logger: log,
      metrics,
    });
  const configMaps = referenced("configmaps");
  const secrets = referenced("secrets");
  const cluster = clusterController({
    kubeConfig: kc,
    namespace: ns,
    logger: log,
    metrics,
    concurrency: options.concurrency ?? 2,
    secrets,
    configMaps,
    ...(process.env.POD_NAMESPACE ? { operatorNamespace: process.env.POD_NAMESPACE } : {}),
    ...(options.authorityOverlapSeconds !== undefined ? { authorityOverlapMs: options.authorityOverlapSeconds * 1000 } : {}),
  });
  const upgrade = upgradeController({
    kubeConfig: kc,
    namespace: ns,
    logger: log,
    metrics,
    clusters: cluster.clusters,
    ...(options.upgradeCheckpoint ? { onCheckpoint: options.upgradeCheckpoint } : {}),
    ...(options.upgradeTraffic ? { traffic: options.upgradeTraffic } : {}),
  });
  const backup = backupController({ kubeConfig: kc, namespace: ns, logger: log, metrics, clusters: cluster.clusters, ...options.backupTimings });
  const informers = [informer, configMaps, secrets, ...cluster.informers, ...upgrade.informers, ...backup.informers];
  const controllers = [cluster.controller, upgrade.controller, backup.controller];

  const schemaStatus: StatusApi = { client: objects, group: GROUP, version: VERSION, plural };
  // The schema engine owns its caches, kept connections and dev servers; stop() closes it.
  const schemaEngine = createSchemaEngine();
  const controller = new Controller({
    name: "postgresschema",
    concurrency: options.concurrency ?? 2,
    logger: log,
    metrics,
    onFailure: reportFailureInStatus(schemaStatus, informer),
    reconciler: reconcilePostgresSchema({
      cache: informer,
      status: schemaStatus,
      readSecretKey: (namespace, name, key) => readSecretKey({ namespace, name, key, api: core }),
      readConfigMapKey: async (namespace, name, key) => {
        const cm = await core.readNamespacedConfigMap({ name, namespace });
        const value = cm.data?.[key];
        if (value === undefined) throw new Error(`configmap ${namespace}/${name} has no key "${key}"`);
        return value;
      },
      // A long-running process: keep the dev server and scratch databases between normalizations,
      // and target connections between checks.
      engineOptions: { reuseDevResources: true, keepConnections: true, ...options.engineOptions },
      engine: schemaEngine,
      unreachableRequeueMs: options.unreachableRequeueMs,
      metrics,
      versions: {
        secret: (key) => secrets.get(key)?.metadata?.resourceVersion,
        configMap: (key) => configMaps.get(key)?.metadata?.resourceVersion,
      },
    }),
  });
  const enqueue = (req: Request): void => controller.enqueue(req);
  // Our own status writes change neither the generation nor the metadata: they are not events.
  informer.onEvent(enqueueObject(enqueue, generationChanged));
  configMaps.onEvent(new ReferenceIndex(informer, referencedConfigMaps).enqueueReferrers(enqueue));
  secrets.onEvent(new ReferenceIndex(informer, referencedSecrets).enqueueReferrers(enqueue));

  const server = await listen(options.metricsPort ?? 8080, options.metricsHost ?? "0.0.0.0", (path) => {
    switch (path) {
      case "/healthz":
        return { status: 200, body: "ok\n" };
      case "/readyz":
        return informers.every((i) => i.hasSynced()) ? { status: 200, body: "ok\n" } : { status: 503, body: "informers not synced\n" };
      case "/metrics":
        return { status: 200, body: metrics.render(), type: "text/plain; version=0.0.4; charset=utf-8" };
      default:
        return { status: 404, body: "not found\n" };
    }
  });

  await Promise.all(informers.map((i) => i.start()));
  // The resync is a safety net: at low priority, so a pass over many objects never delays the
  // objects that changed or failed.
  const resync = setInterval(() => {
    for (const obj of informer.list()) controller.enqueue({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" }, LOW_PRIORITY);
    for (const obj of cluster.clusters.list()) cluster.controller.enqueue({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" }, LOW_PRIORITY);
    for (const obj of upgrade.upgrades.list()) upgrade.controller.enqueue({ namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" }, LOW_PRIORITY);
  }, resyncSeconds * 1000);
  resync.unref();

  let controllerRunning = false;
  let stopping = false;
  let elector: LeaderElector | undefined;
  if (options.leaderElect) {
    elector = new LeaderElector({
      api: kc.makeApiClient(CoordinationV1Api),
      namespace: options.leaseNamespace ?? "default",
      name: options.leaseName ?? "setpoint-operator",
      ...(options.leaseIdentity !== undefined ? { identity: options.leaseIdentity } : {}),
      ...options.leaseTiming,
      logger: log,
      metrics,
      onStartedLeading: () => {
        controllerRunning = true;
        controller.start();
        for (const c of controllers) c.start();
      },
      onStoppedLeading: () => {
        // Also called by elector.stop() during our own stop(): that is a shutdown, not a loss.
        if (stopping) return;
        log.error("lost leadership; stopping the controller");
        controllerRunning = false;
        void Promise.all([controller, ...controllers].map((c) => c.stop({ abort: true }))).then(() => options.onLostLeadership?.());
      },
    });
    elector.start();
  } else {
    controllerRunning = true;
    controller.start();
    for (const c of controllers) c.start();
  }
  log.info("operator started", { namespace: ns ?? "(all)", port: (server.address() as AddressInfo).port, leaderElect: options.leaderElect ?? false });

  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(resync);
      // Work first, the Lease last: it is renewed while in-flight reconciles are cancelled, then
      // given up, so the next leader starts at once, and never while this one still works.
      if (controllerRunning) await Promise.all([controller, ...controllers].map((c) => c.stop({ abort: true })));
      await elector?.release();
      await Promise.all(informers.map((i) => i.stop()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await schemaEngine.close();
    },
  };
}

type Route = (path: string) => { status: number; body: string; type?: string };

function listen(port: number, host: string, route: Route): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = req.method === "GET" ? route(new URL(req.url ?? "/", "http://localhost").pathname) : { status: 405, body: "method not allowed\n" };
    res.writeHead(answer.status, { "content-type": answer.type ?? "text/plain; charset=utf-8" });
    res.end(answer.body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/**
 * Parses the command line (see the module documentation).
 * @throws {InputError} naming the flag and what is allowed.
 */
export function parseOperatorArgs(argv: readonly string[]): OperatorOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string" },
      resync: { type: "string" },
      "leader-elect": { type: "boolean" },
      "lease-namespace": { type: "string" },
      "lease-name": { type: "string" },
      "metrics-port": { type: "string" },
      "dev-url": { type: "string" },
      concurrency: { type: "string" },
      "authority-overlap": { type: "string" },
    },
  });
  const int = (flag: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InputError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`, { propertyPath: flag });
    }
    return n;
  };
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    resyncSeconds: int("resync", values.resync, 1, 86_400),
    leaderElect: values["leader-elect"] ?? false,
    leaseNamespace: values["lease-namespace"] ?? process.env.POD_NAMESPACE,
    // The Operator component names the Lease after its Deployment in the environment.
    leaseName: values["lease-name"] ?? process.env.SETPOINT_LEADER_ELECTION_LEASE,
    leaseIdentity: podLeaseIdentity(process.env),
    metricsPort: int("metrics-port", values["metrics-port"], 0, 65_535),
    concurrency: int("concurrency", values.concurrency, 1, 64),
    authorityOverlapSeconds: int("authority-overlap", values["authority-overlap"] ?? process.env.SETPOINT_AUTHORITY_OVERLAP_SECONDS, 1, 365 * 86_400),
    engineOptions: values["dev-url"] === undefined ? {} : { devUrl: values["dev-url"] },
  };
}

/**
 * The Lease identity of an operator in a pod: the pod's name and UID (downward API `POD_NAME`,
 * `POD_UID`), the same for every container the kubelet starts in that pod and different for any
 * other pod, even one recreated under the same name. So a container restarted after a crash
 * renews the Lease its predecessor held instead of waiting out its duration: safe, because the
 * kubelet starts a pod's container again only once the previous one has exited, so two processes
 * never hold one identity at a time. Undefined outside a pod (each process then has its own).
 */
export function podLeaseIdentity(env: NodeJS.ProcessEnv): string | undefined {
  const name = env.POD_NAME?.trim();
  const uid = env.POD_UID?.trim();
  return name && uid ? `${name}_${uid}` : undefined;
}

/** Runs the operator until SIGTERM/SIGINT (exit 0) or lost leadership (exit 1). */
async function main(): Promise<void> {
  const log = jsonLogger();
  let options: OperatorOptions;
  try {
    options = parseOperatorArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`setpoint-operator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const operator = await startOperator({ ...options, logger: log, onLostLeadership: () => process.exit(1) });
  const shutdown = (): void => {
    log.info("shutting down");
    operator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`setpoint-operator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
