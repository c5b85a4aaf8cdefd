/**
 * The `PostgresCluster` reconciler (ADR 0004): observe once — the cluster and its children from
 * the informer caches, each running instance's database (role, WAL position, replication,
 * `postgresql.auto.conf` and `pending_restart`) over a short timeout that may fail, and the disk
 * collector's latest samples (disk.ts) — then small idempotent steps, each creating or correcting
 * one kind of child, and status last with `observedGeneration`.
 *
 * Steps, in order: credential Secrets (superuser, application, replication; passwords generated
 * once, never logged); a switchover in progress (ADR 0009: promote its target once the old
 * primary has shut down and the target is past the fence, switchover.ts); else
 * failover when the primary is gone ({@link FAILOVER_CHECKERS}, `spec.failoverGrace`: fence the
 * old primary, promote the most advanced replica, relabel it, drop the old primary's volume so it
 * comes back as a fresh replica); the first instance's claim and pod on a new cluster; the rw / ro
 * Services (rw selects exactly the primary's pod, ro the replicas); on the primary, the bootstrap
 * database and owner, the replication role, one physical slot per replica and
 * `synchronous_standby_names`; replica claims and pods (cloned by their instance manager through their
 * slot) up to `spec.instances`, scale-down of the highest-ordinal replicas (never the primary);
 * each replica's streaming configuration ({@link FOLLOW_CHECKERS}); every instance's parameters
 * (`ALTER SYSTEM` + reload); the parameter rollout (rollout.ts: restart replicas one at a time,
 * then switch over); volume growth (grow.ts); with `spec.roles`, the managed roles on the primary
 * (roles-sync.ts). Decisions are recorded as Events. With
 * `spec.pooler`, the PgBouncer pods follow the primary right after the topology steps, and a
 * planned switchover pauses them before the old primary shuts down (pooler-sync.ts, ADR 0022).
 *
 * The primary is the pod labelled `setpoint.dev/role=primary`, written before status, so a lost
 * status write never loses a promotion.
 */
import type { CoreV1Api, KubernetesObject, V1PersistentVolumeClaim, V1Pod, V1Service } from "@kubernetes/client-node";
import { MAX_INSTANCES, RESERVED_PARAMETERS } from "../../api/postgres-cluster";
import { durationToMs, GROUP, VERSION } from "../../api/common";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { parsePostgresClusterSpec } from "../../api/parse";
import { clusterObjectNames, instanceName, replicationSlotName } from "../../api/names";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import { InputError } from "../../errors";
import { randomPassword } from "../../postgres/embedded";
import { quoteIdent } from "../../postgres/quote";
import { controllerOf } from "../../reconcile/owners";
import { requestKey, type ReconcileContext, type Request, type Result } from "../../reconcile/index";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { writeStatus, type StatusApi, type StatusObject } from "../../reconcile/internal/status";
import {
  ALLOW_DATA_LOSS_ANNOTATION,
  containerExitedSince,
  FAILOVER_CHECKERS,
  fenceConfirmed,
  fenceDeletion,
  fenceWaitMessage,
  FOLLOW_CHECKERS,
  firstRequired,
  pickCandidate,
  PRIMARY_FIRST_CHECKERS,
  PROMOTION_GUARDS,
  SWITCHOVER_TO_ANNOTATION,
} from "./decisions";
import { quantityBytes, type DiskSample } from "./disk";
import type { EventRecorder } from "./events";
import { applyParameters, checkpoint, dropInactiveSlots, ensureBootstrap, ensureReplicationRole, probeInstance, promote, renderConninfo, setAndReload, syncSlots, type InstanceProbe, type InstanceTarget, type OperatorTls } from "./instance-sql";
import { planGrowth } from "./grow";
import { planRollout, type RolloutInstance } from "./rollout";
import { nextSwitchoverStep, oldPrimaryDown, readSwitchover, SWITCHOVER_ANNOTATIONS, SWITCHOVER_TIMEOUT_MS, switchoverAnnotations } from "./switchover";
import {
  appSecret,
  CA_HASH_ANNOTATION,
  caHash,
  CLUSTER_LABEL,
  backupDestination,
  desiredParameters,
  instanceClaim,
  instancePod,
  readOnlySelector,
  readWriteSelector,
  REPLICATION_USER,
  replicationSecret,
  instanceConfigMap,
  CONFIG_HASH_ANNOTATION,
  ROLE_LABEL,
  service,
  TRAFFIC_OWNER_ANNOTATION,
  streamingConninfo,
  synchronizesSlots,
  superuserSecret,
  type ClusterObject,
} from "./objects";
import type { ClusterMetrics } from "./metrics";
import { archiveFailureMessage, archiveFailureReason, statusFor, type InstanceObservation, type Observation } from "./status";
import { sameStore } from "../../instance/backup";
import { syncRoles } from "./roles-sync";
import { POOLER_LABEL } from "./pooler";
import { decideMajor, majorUpgradeStep, runningMajor, withMajorUpgrade, type MajorUpgradeApi } from "./major-upgrade";
import { readinessStep } from "./upgrade-readiness";
import { pausePoolers, syncPooler, type PoolerObservation, type PoolerSyncInput } from "./pooler-sync";
import { readOperatorTls, ROTATE_AUTHORITY_ANNOTATION, syncClusterTls, verifiedPoolerName, verifiedServerName } from "./tls";
import type { PoolerTls } from "./pooler-sql";
import { clusterNetworkPolicy, SAME_NAMESPACE_PEERS, syncNetworkPolicy, type NetworkPolicyApi, type NetworkPolicyOptions } from "./network-policy";
import { poolerObjectNames } from "../../api/names";
import { retirement, servedBy, servedStatus } from "./served";

export type { InstanceProbe } from "./instance-sql";

/** How long the checkpoint before a switchover's pause may take (it runs while clients still write). */
const SWITCHOVER_CHECKPOINT_MS = 30_000;

/** A `PostgresCluster` as read from the informer cache (spec unvalidated). */
export interface PostgresClusterObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresClusterStatus;
}


/** A read-only view of one informer cache. */
export interface Cache<T> {
  list(): readonly T[];
}

/** Everything the reconciler needs from the outside world, injectable for tests. */
export interface PostgresClusterDeps {
  readonly clusters: { get(key: string): PostgresClusterObject | undefined };
  readonly pods: Cache<V1Pod>;
  readonly claims: Cache<V1PersistentVolumeClaim>;
  readonly services: Cache<V1Service>;
  /** Secrets, metadata only: existence is all the cache is asked. */
  readonly secrets: Cache<KubernetesObject>;
  /** ConfigMaps, metadata only: existence and the content hash annotation. */
  readonly configMaps: Cache<KubernetesObject>;
  readonly api: Pick<
    CoreV1Api,
    | "createNamespacedSecret"
    | "createNamespacedConfigMap"
    | "replaceNamespacedConfigMap"
    | "createNamespacedPersistentVolumeClaim"
    | "createNamespacedPod"
    | "createNamespacedService"
    | "patchNamespacedService"
    | "deleteNamespacedService"
    | "readNamespacedSecret"
    | "patchNamespacedSecret"
    | "patchNamespacedPod"
    | "deleteNamespacedPod"
    | "deleteNamespacedPersistentVolumeClaim"
    | "patchNamespacedPersistentVolumeClaim"
    | "replaceNamespacedSecret"
    | "deleteNamespacedSecret"
    | "deleteNamespacedConfigMap"
  >;
  /** Where status is written (the `postgresclusters` status subresource). */
  readonly status: StatusApi;
  /** PostgresUpgrades, for a raised postgresVersion (ADR 0033). @default none: a raise is pinned, nothing created */
  readonly upgrades?: MajorUpgradeApi;
  /** Asks an instance for its role. @default a connection to `podIP:5432` as the superuser, over TLS with the operator's certificate */
  readonly probe?: (target: InstanceTarget) => Promise<InstanceProbe>;
  /** Timeout of each instance probe and bootstrap connection. @default 3000 ms */
  readonly probeTimeoutMs?: number;
  /** Where the primary's archiver is exported (`setpoint_backup_*` on the operator's /metrics). */
  readonly metrics?: ClusterMetrics;
  /** Look again this soon while the cluster is not Ready. @default 2000 ms */
  readonly progressRequeueMs?: number;
  /** Look again this often once settled (health). @default 30_000 ms */
  readonly healthRequeueMs?: number;
  /** Each step of an authority's rotation waits this long after the last (ADR 0049). @default AUTHORITY_OVERLAP_MS (7 days) */
  readonly authorityOverlapMs?: number;
  /** Where Kubernetes Events about decisions go. @default none */
  readonly events?: EventRecorder;
  /** The disk collector's latest samples (disk.ts). @default none: no disk usage, no growth */
  readonly disk?: { usage(namespace: string, instance: string): DiskSample | undefined };
  /**
   * The cluster's NetworkPolicy (network-policy.ts): where the operator runs and the API to write
   * it. @default none: no NetworkPolicy is written
   */
  readonly networkPolicies?: { readonly api: NetworkPolicyApi; readonly operator: NetworkPolicyOptions["operator"] };
  /** JSON-patches the PostgresCluster's metadata (to clear a handled switchover request). @default none */
  readonly patchCluster?: (namespace: string, name: string, patch: readonly object[]) => Promise<unknown>;
}

export { SWITCHOVER_AT_ANNOTATION, SWITCHOVER_FROM_ANNOTATION, SWITCHOVER_LSN_ANNOTATION } from "./switchover";

/** Annotation on the primary's claim while the controller restarts it in place: until when that is not a failover. */
export const RESTART_IN_PLACE_ANNOTATION = "setpoint.dev/restart-in-place-until";
/** How long a primary restarted in place has to come back before the failover checkers apply again. */
const RESTART_IN_PLACE_MS = 60_000;

function restartingUntil(claim: V1PersistentVolumeClaim | undefined): Date | undefined {
  const t = Date.parse(claim?.metadata?.annotations?.[RESTART_IN_PLACE_ANNOTATION] ?? "");
  return Number.isNaN(t) ? undefined : new Date(t);
}

const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** One step's outcome, logged by name (never with secret values). */
interface StepResult {
  readonly step: string;
  readonly outcome: "Created" | "Updated" | "Unchanged" | "Waiting";
  readonly detail?: string;
}

const defaultProbe = (target: InstanceTarget): Promise<InstanceProbe> => probeInstance(target);

/** Does the app Secret (metadata from the cache) lack the cluster's current authority? Pure. */
function appCaOutdated(secret: KubernetesObject, caPem: string): boolean {
  return secret.metadata?.annotations?.[CA_HASH_ANNOTATION] !== caHash(caPem);
}

/** The last termination message of a pod's container (the instance manager's failure: reason and message). */
function terminationMessage(pod: V1Pod | undefined): string | undefined {
  const c = pod?.status?.containerStatuses?.[0];
  const m = c?.state?.terminated?.message ?? c?.lastState?.terminated?.message;
  return m?.trim() || undefined;
}

function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** When the pod's Ready condition last became False (undefined while Ready or never reported). */
function notReadySince(pod: V1Pod): Date | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === "Ready");
  if (c?.status === "True") return undefined;
  const t = c?.lastTransitionTime ?? pod.metadata?.creationTimestamp;
  return t === undefined ? undefined : new Date(t);
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (apiStatusCode(err) !== 404) throw err;
  }
}

/** Creates `body`; an object that already exists (a stale cache) counts as done. */
async function createIfMissing(step: string, create: () => Promise<unknown>): Promise<StepResult> {
  try {
    await create();
    return { step, outcome: "Created" };
  } catch (err) {
    if (apiStatusCode(err) === 409) return { step, outcome: "Unchanged", detail: "already exists" };
    throw err;
  }
}

/**
 * Creates the `PostgresCluster` reconciler (see the module documentation).
 * @returns a reconciler; it throws (backoff) on API failures.
 */
export function reconcilePostgresCluster(deps: PostgresClusterDeps) {
  const probe = deps.probe ?? defaultProbe;
  const timeoutMs = deps.probeTimeoutMs ?? 3000;
  return async (ctx: ReconcileContext, req: Request): Promise<Result> => {
    const obj = deps.clusters.get(requestKey(req));
    if (obj === undefined || obj.metadata?.deletionTimestamp) {
      deps.metrics?.forgetCluster(req.namespace, req.name);
      return {}; // gone or going: the garbage collector takes the children
    }
    const generation = obj.metadata?.generation ?? 0;
    const cluster = obj as ClusterObject & PostgresClusterObject;
    let spec: PostgresClusterSpec;
    try {
      spec = parsePostgresClusterSpec(obj.spec);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      const next = statusFor(obj.status, { kind: "InvalidSpec", message: err.message }, generation, ctx.now());
      await writeStatus(deps.status, obj as StatusObject<PostgresClusterStatus>, next);
      return {};
    }

    // A restored cluster archives its new timeline to its own prefix, never into its source's.
    const destination = backupDestination(cluster, spec);
    const recoverySource = spec.bootstrap.recovery?.source;
    if (destination && recoverySource && sameStore(destination, { ...recoverySource, prefix: recoverySource.prefix ?? "" })) {
      const message = `backup.destination (s3://${destination.bucket}/${destination.prefix}) is bootstrap.recovery.source: a restored cluster archives a new timeline to its own prefix and never writes into its source's; choose another backup.destination.prefix`;
      const next = statusFor(obj.status, { kind: "InvalidSpec", message }, generation, ctx.now());
      await writeStatus(deps.status, obj as StatusObject<PostgresClusterStatus>, next);
      return {};
    }

    // Observe once: children from the caches, then each running instance's database.
    const uid = cluster.metadata.uid;
    const mine = <T extends KubernetesObject>(cache: Cache<T>): Map<string, T> =>
      new Map(cache.list().filter((o) => o.metadata?.namespace === req.namespace && controllerOf(o)?.uid === uid).map((o) => [o.metadata!.name!, o]));
    // PgBouncer pods (pooler-sync.ts) are not instances: every instance step ignores them.
    const allPods = mine(deps.pods);
    const poolerPods = new Map([...allPods].filter(([, p]) => p.metadata?.labels?.[POOLER_LABEL] !== undefined));
    const pods = new Map([...allPods].filter(([n]) => !poolerPods.has(n)));
    const claims = mine(deps.claims);
    const services = mine(deps.services);
    const secrets = mine(deps.secrets);
    const configMaps = mine(deps.configMaps);
    // A raised postgresVersion (ADR 0033): the instances keep the major they run; a PostgresUpgrade
    // the cluster owns moves the cluster to the new major on a green sibling.
    const major = decideMajor({ cluster: req.name, spec, running: runningMajor(obj.status, [...allPods.values()].filter((p) => p.metadata?.labels?.[POOLER_LABEL] === undefined)), status: obj.status, annotations: obj.metadata?.annotations ?? {} });
    const wantedMajor = spec.postgresVersion;
    if (major.kind !== "same") spec = { ...spec, postgresVersion: major.kind === "upgrade" ? major.from : major.running };
    const names = clusterObjectNames(req.name);
    const ordinals = new Map(Array.from({ length: MAX_INSTANCES * 4 }, (_, k) => [instanceName(req.name, k + 1), k + 1] as const));
    const ordinalOf = (name: string): number => ordinals.get(name) ?? Number.MAX_SAFE_INTEGER;
    const secretCache = new Map<string, string>();
    const readSecret = async (name: string, key: string): Promise<string> => {
      const cached = secretCache.get(`${name}/${key}`);
      if (cached !== undefined) return cached;
      const s = await deps.api.readNamespacedSecret({ name, namespace: req.namespace });
      const v = s.data?.[key];
      if (v === undefined) throw new Error(`secret ${req.namespace}/${name} has no key "${key}"`);
      const value = Buffer.from(v, "base64").toString("utf8");
      secretCache.set(`${name}/${key}`, value);
      return value;
    };
    const superPassword = (): Promise<string> => readSecret(names.superuserSecret, "password");
    // The cluster's authority and certificates (tls.ts): created first, renewed before they
    // expire; the operator's own connections use them (verify-full, its client certificate).
    // The pooler's own certificate only with a pooler (ADR 0044).
    const tls = await syncClusterTls(deps.api, cluster, ctx.now(), spec.tls?.authority?.secretName, spec.tls?.serverNames, {
      pooler: spec.pooler !== undefined,
      ...(deps.authorityOverlapMs !== undefined ? { overlapMs: deps.authorityOverlapMs } : {}),
      ...(obj.metadata?.annotations?.[ROTATE_AUTHORITY_ANNOTATION] !== undefined ? { rotationRequest: obj.metadata.annotations[ROTATE_AUTHORITY_ANNOTATION] } : {}),
    });
    const operatorTls: OperatorTls = { ca: tls.caPem, cert: tls.operatorIdentity.cert, key: tls.operatorIdentity.key, serverName: verifiedServerName(req.name, req.namespace) };
    const poolerTls: PoolerTls = { ca: tls.caPem, serverName: verifiedPoolerName(req.name, req.namespace), ...(tls.poolerCertificatePem ? { certificatePem: tls.poolerCertificatePem } : {}) };
    const target = async (host: string): Promise<InstanceTarget> => ({ host, password: await superPassword(), timeoutMs, tls: operatorTls });
    const probes = new Map<string, InstanceProbe>();
    // Served by its green after a finalized upgrade (ADR 0046): its own instances are only removed, never probed.
    const served = servedBy(obj.status);
    await Promise.all(
      [...pods].filter(() => served === undefined).map(async ([name, pod]) => {
        const ip = pod.status?.podIP;
        let result: InstanceProbe = { reachable: false, error: "no pod IP yet" };
        if (ip && !pod.metadata?.deletionTimestamp && pod.status?.containerStatuses?.some((c) => c.state?.running)) result = await probe(await target(ip));
        probes.set(name, result);
      }),
    );
    const live = (name: string): V1Pod | undefined => {
      const p = pods.get(name);
      return p && !p.metadata?.deletionTimestamp ? p : undefined;
    };
    const isPrimaryNow = (name: string): boolean => {
      const r = probes.get(name);
      return r?.reachable === true && !r.inRecovery;
    };
    // The primary: the pod labelled so; else the one instance that says so; else the last known; else the first.
    const labelled = [...pods.values()].filter((p) => p.metadata?.labels?.[ROLE_LABEL] === "primary").map((p) => p.metadata!.name!);
    const saying = [...pods.keys()].filter(isPrimaryNow);
    // A switchover in progress: its target pod names the old primary (pod annotations survive an operator restart).
    const switchover = readSwitchover(pods.values());
    let primary =
      labelled.length === 1
        ? labelled[0]!
        : saying.length === 1
          ? saying[0]!
          : labelled.length === 0 && switchover !== undefined
            ? switchover.from
            : (obj.status?.currentPrimary ?? instanceName(req.name, 1));
    const podIp = (name: string): string | undefined => live(name)?.status?.podIP;
    const roleLabelsSet = new Map<string, string>(); // labels set in this reconcile (the snapshot predates them)
    const setRoleLabel = async (name: string, role: "primary" | "replica"): Promise<void> => {
      roleLabelsSet.set(name, role);
      await deps.api.patchNamespacedPod({ name, namespace: req.namespace, body: [{ op: "add", path: `/metadata/labels/${ROLE_LABEL.replace("/", "~1")}`, value: role }] }, JSON_PATCH);
    };

    const subject = { apiVersion: `${GROUP}/${VERSION}`, kind: "PostgresCluster", metadata: { name: req.name, namespace: req.namespace, uid } };
    /** Records a Kubernetes Event about a decision (never fails the reconcile). */
    const event = (type: "Normal" | "Warning", reason: string, message: string): void => {
      if (deps.events) void deps.events.record(subject, type, reason, message);
    };
    /** A Service of the cluster: deleted when disabled, created when missing, its selector replaced when it differs. */
    const syncService = async (name: string, selector: Record<string, string>, enabled: boolean, detail: string): Promise<void> => {
      const liveService = services.get(name);
      if (!enabled) {
        if (liveService !== undefined) {
          await ignoreNotFound(deps.api.deleteNamespacedService({ name, namespace: req.namespace }));
          steps.push({ step: `service ${name}`, outcome: "Updated", detail: "deleted (disabled in spec.services)" });
        }
      } else if (liveService === undefined) {
        steps.push(await createIfMissing(`service ${name}`, () => deps.api.createNamespacedService({ namespace: req.namespace, body: service(cluster, name, selector) })));
      } else if (JSON.stringify(liveService.spec?.selector ?? {}) !== JSON.stringify(selector)) {
        // A merge patch would keep stale selector keys: replace the selector as a whole.
        await deps.api.patchNamespacedService({ name, namespace: req.namespace, body: [{ op: "replace", path: "/spec/selector", value: selector }] }, JSON_PATCH);
        steps.push({ step: `service ${name}`, outcome: "Updated", detail });
      }
    };
    /** The pooler (pooler-sync.ts) pointed at `primary` (when confirmed), holding its clients or not. */
    const poolerStep = (o: Pick<PoolerSyncInput, "primary" | "instanceIps" | "holding">) =>
      syncPooler({ cluster, spec, api: deps.api, pods: poolerPods, secrets, configMaps, services, readSecret, ...o, now: ctx.now(), timeoutMs, event, poolerTls });
    const removeAnnotations = async (name: string, keys: readonly string[]): Promise<void> => {
      const present = keys.filter((k) => pods.get(name)?.metadata?.annotations?.[k] !== undefined);
      if (present.length === 0) return;
      await ignoreNotFound(deps.api.patchNamespacedPod({ name, namespace: req.namespace, body: present.map((k) => ({ op: "remove", path: `/metadata/annotations/${k.replace("/", "~1")}` })) }, JSON_PATCH));
    };
    /** Before a planned switchover shuts the primary down: the pooler holds its clients (PAUSE). */
    const holdPoolerClients = async (): Promise<void> => {
      if (spec.pooler === undefined || poolerPods.size === 0) return;
      const adminPassword = await readSecret(poolerObjectNames(req.name).adminSecret, "password").catch(() => undefined);
      if (adminPassword === undefined) return;
      const t0 = Date.now();
      const failed = await pausePoolers({ api: deps.api, namespace: req.namespace, pods: poolerPods.values(), adminPassword, poolMode: spec.pooler.poolMode, now: ctx.now(), timeoutMs, poolerTls });
      ctx.log.info(`switchover: ${poolerPods.size} pooler pod(s) paused in ${Date.now() - t0} ms`);
      if (failed.length > 0) event("Warning", "PoolerPauseIncomplete", `switching over anyway: ${failed.join("; ")}`);
    };
    const clearSwitchoverRequest = async (): Promise<void> => {
      if (obj.metadata?.annotations?.[SWITCHOVER_TO_ANNOTATION] === undefined || !deps.patchCluster) return;
      await deps.patchCluster(req.namespace, req.name, [{ op: "remove", path: `/metadata/annotations/${SWITCHOVER_TO_ANNOTATION.replace("/", "~1")}` }]).catch((err: unknown) => {
        if (apiStatusCode(err) !== 404 && apiStatusCode(err) !== 422) throw err;
      });
    };

    // Act: small idempotent steps.
    const steps: StepResult[] = [];
    let topology: { reason: string; message: string } | undefined;
    /** The old primary is being fenced: nothing may act on the primary until its pod is gone. */
    let fencing = false;
    if (!secrets.has(names.superuserSecret)) {
      steps.push(await createIfMissing("superuser-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: superuserSecret(cluster, randomPassword()) })));
    }
    if (!secrets.has(names.appSecret)) {
      steps.push(await createIfMissing("app-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: appSecret(cluster, spec, randomPassword(), tls.caPem) })));
    } else if (appCaOutdated(secrets.get(names.appSecret)!, tls.caPem)) {
      // The application's copy of the authority follows a new one (ADR 0035).
      await deps.api.patchNamespacedSecret({ name: names.appSecret, namespace: req.namespace, body: { metadata: { annotations: { [CA_HASH_ANNOTATION]: caHash(tls.caPem) } }, data: { "ca.crt": Buffer.from(tls.caPem).toString("base64"), sslmode: Buffer.from("verify-full").toString("base64") } } }, MERGE_PATCH);
      steps.push({ step: "app-secret ca.crt", outcome: "Updated" });
    }
    if (!secrets.has(names.replicationSecret)) {
      steps.push(await createIfMissing("replication-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: replicationSecret(cluster, randomPassword()) })));
    }
    // The configuration files Setpoint writes for its instances (pg_hba.conf), before any pod mounts them.
    const config = instanceConfigMap(cluster, spec);
    const liveConfig = configMaps.get(names.configMap);
    if (liveConfig === undefined) {
      steps.push(await createIfMissing("config", () => deps.api.createNamespacedConfigMap({ namespace: req.namespace, body: config })));
    } else if (liveConfig.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] !== config.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]) {
      await deps.api.replaceNamespacedConfigMap({ name: names.configMap, namespace: req.namespace, body: config });
      steps.push({ step: "config", outcome: "Updated" });
    }

    // The certificates' plan ran before the probes (above); what it did is reported here.
    for (const a of tls.actions) steps.push({ step: a.kind === "issue" || a.kind === "trust" ? `tls ${a.leaf}` : "tls authority", outcome: "Updated", detail: a.reason });
    for (const a of tls.actions) {
      if (a.kind === "issue" && a.reason !== "missing" && a.reason !== "issued by the new authority") event("Normal", "CertificateRenewed", `${a.leaf} certificate renewed: ${a.reason}`);
      if (a.kind === "rotate-authority") event("Normal", "AuthorityRotationStarted", `a new certificate authority signs (${a.reason}); every ca.crt trusts both until the rotation ends`);
      if (a.kind === "retire-previous-authority") event("Normal", "AuthorityRotationFinished", `the previous certificate authority is no longer trusted: ${a.reason}`);
    }

    // Who may reach the instances (issue 19): created with the cluster, drift corrected every reconcile.
    if (deps.networkPolicies) {
      const policy = clusterNetworkPolicy(cluster, { operator: deps.networkPolicies.operator, allowFrom: SAME_NAMESPACE_PEERS });
      const outcome = await syncNetworkPolicy(deps.networkPolicies.api, policy);
      if (outcome !== "Unchanged") steps.push({ step: "network-policy", outcome });
    }

    // A finalized major upgrade (ADR 0046): green serves the cluster's names for good, so the old
    // instances go (pods, then claims) and nothing else acts on instances. The rw Service and the
    // pooler follow green's primary, the ro Service selects green's replicas.
    if (served !== undefined) {
      const green = deps.clusters.get(`${req.namespace}/${served.green}`);
      const plan = retirement(pods.values(), claims.values());
      for (const name of plan.deletePods) await ignoreNotFound(deps.api.deleteNamespacedPod({ name, namespace: req.namespace }));
      for (const name of plan.deleteClaims) await ignoreNotFound(deps.api.deleteNamespacedPersistentVolumeClaim({ name, namespace: req.namespace }));
      if (plan.deletePods.length + plan.deleteClaims.length > 0) {
        const what = [...plan.deletePods.map((n) => `pod ${n}`), ...plan.deleteClaims.map((n) => `claim ${n}`)].join(", ");
        steps.push({ step: "retire", outcome: "Updated", detail: what });
        event("Normal", "InstancesRetired", `PostgresUpgrade ${served.name} is finalized and ${served.green} serves this cluster on ${served.to}: removing its ${served.from} instances (${what})`);
      }
      const greenObject: ClusterObject = { ...cluster, metadata: { ...cluster.metadata, name: served.green } };
      const greenPrimary = green?.status?.currentPrimary;
      const servedServices: [string, Record<string, string> | undefined, boolean][] = [
        [names.readWriteService, greenPrimary ? readWriteSelector(greenObject, greenPrimary) : undefined, spec.services.rw],
        [names.readOnlyService, readOnlySelector(greenObject), spec.services.ro],
      ];
      for (const [name, selector, enabled] of servedServices) {
        // Green's primary not known yet: the rw Service stays as it is.
        if (selector !== undefined || !enabled) await syncService(name, selector ?? {}, enabled, `selector: ${served.green}'s ${name === names.readWriteService ? `primary ${greenPrimary}` : "replicas"}`);
      }
      // The pooler follows green's primary (a failover of green included), confirmed the way an own
      // primary is: green's pod answers, not in recovery, over green's own operator certificate.
      const greenPods = deps.pods.list().filter((p) => p.metadata?.namespace === req.namespace && p.metadata?.labels?.[CLUSTER_LABEL] === served.green);
      const greenPod = greenPrimary ? greenPods.find((p) => p.metadata?.name === greenPrimary && !p.metadata?.deletionTimestamp) : undefined;
      const greenIp = greenPod?.status?.podIP;
      let greenSource: { name: string; ip: string; target: InstanceTarget } | undefined;
      const greenTls = spec.pooler && greenIp ? await readOperatorTls(deps.api, req.namespace, served.green) : undefined;
      if (greenPrimary && greenIp && greenTls && greenPod?.status?.containerStatuses?.some((c) => c.state?.running)) {
        const greenTarget: InstanceTarget = { host: greenIp, password: await readSecret(clusterObjectNames(served.green).superuserSecret, "password"), timeoutMs, tls: greenTls };
        const answer = await probe(greenTarget);
        if (answer.reachable && !answer.inRecovery) greenSource = { name: greenPrimary, ip: greenIp, target: greenTarget };
      }
      const poolerResult = await poolerStep({
        ...(greenSource ? { primary: greenSource } : {}),
        instanceIps: new Map(greenPods.filter((p) => p.status?.podIP).map((p) => [p.status!.podIP!, p.metadata!.name!] as const)),
        holding: false,
      });
      steps.push(...poolerResult.steps);
      for (const st of steps) if (st.outcome !== "Unchanged") ctx.log.info(`step ${st.step}: ${st.outcome}`, st.detail ? { detail: st.detail } : undefined);
      deps.metrics?.archive(req.namespace, req.name, undefined);
      const next = servedStatus(obj.status, { upgrade: served, green, remaining: plan.remaining, wantedMajor, ...(spec.pooler && poolerResult.status ? { pooler: poolerResult.status } : {}) }, generation, ctx.now());
      const written = await writeStatus(deps.status, obj as StatusObject<PostgresClusterStatus>, next);
      if (written.conflict) return { requeueAfterMs: 500 };
      return { requeueAfterMs: plan.remaining.length > 0 || poolerResult.soon ? (deps.progressRequeueMs ?? 2000) : (deps.healthRequeueMs ?? 30_000) };
    }

    // A switchover in progress: promote its target once the old primary has shut down and the
    // target has its last WAL (SWITCHOVER_GUARDS); nothing else may act on the primary meanwhile.
    const primaryPod = pods.get(primary);
    let failoverDueInMs: number | undefined;
    let switching = false;
    if (switchover !== undefined && switchover.from === primary) {
      switching = true;
      const to = switchover.to;
      // Decided, but the operator stopped before the old primary's shutdown began: begin it now.
      if (primaryPod !== undefined && !primaryPod.metadata?.deletionTimestamp && !isPrimaryNow(to)) {
        await holdPoolerClients();
        await ignoreNotFound(deps.api.deleteNamespacedPod({ name: primary, namespace: req.namespace, body: { preconditions: { uid: primaryPod.metadata?.uid } } }));
      }
      const others = new Map([...pods.keys()].filter((n) => n !== primary && live(n) !== undefined).map((n) => [n, probes.get(n)] as const));
      const next = nextSwitchoverStep(switchover, !oldPrimaryDown(pods.get(primary)), others, ctx.now());
      if (next.kind === "Abandon") {
        // Give up: the failover path (with its promotion guards) decides from here.
        await removeAnnotations(to, SWITCHOVER_ANNOTATIONS);
        event("Warning", "SwitchoverAbandoned", `switchover from ${primary} to ${to} abandoned after ${SWITCHOVER_TIMEOUT_MS / 1000} s: ${next.reason}`);
        topology = { reason: "SwitchoverAbandoned", message: next.reason };
        fencing = true;
      } else if (next.kind === "Wait") {
        topology = { reason: "Switchover", message: `switching over from ${primary} to ${to}: ${next.reason}` };
        fencing = true;
      } else {
        if (next.kind === "Promote") {
          const t0 = Date.now();
          const ok = await promote(await target(podIp(to)!), 30);
          if (!ok) throw new Error(`switchover: ${to} did not finish promotion within 30 s`);
          ctx.log.info(`switchover: ${to} promoted in ${Date.now() - t0} ms`);
        }
        await setRoleLabel(to, "primary");
        await removeAnnotations(to, SWITCHOVER_ANNOTATIONS);
        if (obj.metadata?.annotations?.[SWITCHOVER_TO_ANNOTATION] === to) await clearSwitchoverRequest();
        const tookS = switchover.startedAt ? ` in ${((ctx.now().getTime() - switchover.startedAt) / 1000).toFixed(1)} s` : "";
        steps.push({ step: "switchover", outcome: "Updated", detail: `promoted ${to}${tookS}; ${primary} rejoins as a replica on its volume` });
        event("Normal", "SwitchoverCompleted", `promoted ${to}${tookS}; ${primary} rejoins as a replica`);
        topology = { reason: "Switchover", message: `promoted ${to}; ${primary} rejoins as a replica` };
        probes.set(to, { ...(probes.get(to) as Extract<InstanceProbe, { reachable: true }>), reachable: true, inRecovery: false, peers: [], slots: [] });
        probes.delete(primary);
        pods.delete(primary);
        primary = to;
      }
    }

    // Failover: the primary is gone (or dead past its grace) and a replica can take over.
    if (!switching) {
      const decision = firstRequired(FAILOVER_CHECKERS, {
        name: primary,
        podPresent: live(primary) !== undefined,
        reachable: isPrimaryNow(primary),
        notReadySince: primaryPod ? notReadySince(primaryPod) : undefined,
        now: ctx.now(),
        graceMs: durationToMs(spec.failoverGrace),
        restartingUntil: restartingUntil(claims.get(primary)),
        containerExited: containerExitedSince(primaryPod, primaryPod ? notReadySince(primaryPod) : undefined),
      });
      const since = primaryPod ? notReadySince(primaryPod) : undefined;
      if (!decision && since !== undefined && !isPrimaryNow(primary)) {
        // The reconcile that decides probes the primary first, and a hung one answers only with the
        // probe's timeout: start it that much before the grace ends (else the timeout comes after it).
        const dueIn = since.getTime() + durationToMs(spec.failoverGrace) - ctx.now().getTime() + 50;
        failoverDueInMs = Math.max(100, dueIn - timeoutMs > 100 ? dueIn - timeoutMs : dueIn);
      }
      const candidates = [...pods.keys()]
        .filter((n) => n !== primary && live(n) !== undefined && probes.get(n)?.reachable === true && (probes.get(n) as { inRecovery: boolean }).inRecovery)
        .map((n) => {
          const r = probes.get(n) as Extract<InstanceProbe, { reachable: true }>;
          return { name: n, ordinal: ordinalOf(n), replayLsn: r.lsn, receiveLsn: r.receiveLsn };
        });
      const chosen = pickCandidate(candidates);
      const refusal = firstRequired(PROMOTION_GUARDS, {
        synchronous: spec.synchronous,
        listedReplicas: [...new Set([...claims.keys(), ...pods.keys()])].filter((n) => n !== primary && ordinals.has(n)).length,
        reachableReplicas: candidates.length,
        allowDataLoss: obj.metadata?.annotations?.[ALLOW_DATA_LOSS_ANNOTATION] === "true",
      });
      if (decision && chosen && refusal) {
        // Not promoting: the primary's pod is recreated on its volume when it is gone (below), or awaited.
        ctx.log.info(`failover refused: ${refusal.checker}`, { reason: refusal.reason, trigger: decision.reason });
        topology = { reason: "FailoverRefused", message: `${decision.reason}; not promoting ${chosen.name}: ${refusal.reason}` };
        event("Warning", "FailoverRefused", `${refusal.checker}: ${topology.message}`);
      } else if (decision && chosen) {
        ctx.log.info(`failover: ${decision.checker}`, { reason: decision.reason, candidate: chosen.name });
        if (!fenceConfirmed(primaryPod)) {
          // Fence first: never two primaries. The old primary's process must be gone before a
          // promotion: a graceful deletion, whose object the kubelet removes only once its
          // containers stopped, never a force delete (ADR 0026).
          if (primaryPod !== undefined && !primaryPod.metadata?.deletionTimestamp) {
            // A 409: the cache showed a pod since replaced; the next reconcile sees the new one.
            await ignoreNotFound(deps.api.deleteNamespacedPod({ name: primary, namespace: req.namespace, body: fenceDeletion(primaryPod.metadata?.uid) })).catch((err: unknown) => {
              if (apiStatusCode(err) !== 409) throw err;
            });
            event("Warning", "Failover", `${decision.checker}: ${decision.reason}; fencing ${primary} before promoting ${chosen.name}`);
          }
          const deletingSince = primaryPod?.metadata?.deletionTimestamp ? new Date(primaryPod.metadata.deletionTimestamp) : undefined;
          topology = { reason: "Failover", message: `${decision.reason}; ${fenceWaitMessage(primary, chosen.name, deletingSince, ctx.now())}` };
          fencing = true;
        } else {
          // The old primary's data may hold WAL the new one never saw: it comes back as a fresh clone.
          // Its claim goes before the promotion, so no later step can start a pod on that data.
          if (claims.has(primary)) await ignoreNotFound(deps.api.deleteNamespacedPersistentVolumeClaim({ name: primary, namespace: req.namespace }));
          const ok = await promote(await target(podIp(chosen.name)!), 30);
          if (!ok) throw new Error(`failover: ${chosen.name} did not finish promotion within 30 s`);
          await setRoleLabel(chosen.name, "primary");
          steps.push({ step: "failover", outcome: "Updated", detail: `promoted ${chosen.name} (${decision.checker}: ${decision.reason})` });
          event("Normal", "FailoverCompleted", `promoted ${chosen.name}: ${decision.reason}`);
          topology = { reason: "Failover", message: `promoted ${chosen.name}: ${decision.reason}` };
          probes.set(chosen.name, { reachable: true, inRecovery: false });
          probes.delete(primary);
          pods.delete(primary);
          claims.delete(primary);
          primary = chosen.name;
        }
      }
    }

    // A new cluster: the first instance, as primary.
    const present = new Set([...claims.keys(), ...pods.keys()].filter((n) => ordinals.has(n)));
    if (present.size === 0 || (!fencing && !pods.has(primary) && claims.has(primary))) {
      if (!claims.has(primary)) {
        steps.push(await createIfMissing("claim", () => deps.api.createNamespacedPersistentVolumeClaim({ namespace: req.namespace, body: instanceClaim(cluster, spec, ordinalOf(primary)) })));
      }
      steps.push(await createIfMissing("pod", () => deps.api.createNamespacedPod({ namespace: req.namespace, body: instancePod(cluster, spec, ordinalOf(primary), "primary") })));
    }
    const wantServices: [string, Record<string, string>, boolean][] = [
      [names.readWriteService, readWriteSelector(cluster, primary), spec.services.rw],
      [names.readOnlyService, readOnlySelector(cluster), spec.services.ro],
    ];
    for (const [name, selector, enabled] of wantServices) {
      const owner = services.get(name)?.metadata?.annotations?.[TRAFFIC_OWNER_ANNOTATION];
      if (enabled && owner !== undefined && name === names.readWriteService) {
        // A PostgresUpgrade switches this Service between its blue and green primaries (ADR 0027).
        steps.push({ step: `service ${name}`, outcome: "Unchanged", detail: `selector owned by ${owner}` });
      } else {
        await syncService(name, selector, enabled, "selector");
      }
    }

    // A primary restarted in place is back: its claim's marker goes (a later loss is a loss again).
    const primaryClaim = claims.get(primary);
    const restartedAt = restartingUntil(primaryClaim);
    const primaryLive = live(primary);
    const createdAt = primaryLive?.metadata?.creationTimestamp ? new Date(primaryLive.metadata.creationTimestamp).getTime() : 0;
    // Only the pod created for the restart counts (the cache may still show the one being deleted).
    if (restartedAt && primaryLive && isPrimaryNow(primary) && isPodReady(primaryLive) && createdAt >= restartedAt.getTime() - RESTART_IN_PLACE_MS - 1000) {
      await deps.api.patchNamespacedPersistentVolumeClaim(
        { name: primary, namespace: req.namespace, body: [{ op: "remove", path: `/metadata/annotations/${RESTART_IN_PLACE_ANNOTATION.replace("/", "~1")}` }] },
        JSON_PATCH,
      );
    }

    // Role labels follow the primary (the ro Service selects replicas by label), also after an
    // interrupted failover: a promotion whose relabel never happened is finished here.
    if (!fencing) {
      for (const [name, pod] of pods) {
        if (live(name) === undefined) continue;
        const role = name === primary ? "primary" : "replica";
        if (role === "primary" && !isPrimaryNow(name)) continue; // only a confirmed primary is labelled so
        if ((roleLabelsSet.get(name) ?? pod.metadata?.labels?.[ROLE_LABEL]) !== role) {
          await setRoleLabel(name, role);
          steps.push({ step: `role label ${name}`, outcome: "Updated", detail: role });
        }
      }
    }

    // The pooler (pooler-sync.ts): its files follow the confirmed primary; clients held for a switchover
    // are resumed once it serves — right after a promotion, before the slower steps below.
    const poolerPrimaryIp = podIp(primary);
    const poolerPrimaryProbe = probes.get(primary);
    // While a PostgresUpgrade owns the traffic (ADR 0027/0033) the pooler's files are its: left alone, clients it holds kept.
    const trafficOwned = services.get(names.readWriteService)?.metadata?.annotations?.[TRAFFIC_OWNER_ANNOTATION] !== undefined;
    const confirmedPrimary =
      poolerPrimaryIp && poolerPrimaryProbe?.reachable && !poolerPrimaryProbe.inRecovery && !fencing && !trafficOwned ? { name: primary, ip: poolerPrimaryIp, target: await target(poolerPrimaryIp) } : undefined;
    const poolerResult = await poolerStep({
      ...(confirmedPrimary ? { primary: confirmedPrimary } : {}),
      instanceIps: new Map([...pods.keys()].flatMap((n) => (podIp(n) ? [[podIp(n)!, n] as const] : []))),
      holding: (switching && fencing) || trafficOwned,
    });
    steps.push(...poolerResult.steps);
    const poolerStatus: PoolerObservation | undefined = poolerResult.status;

    const primaryIp = podIp(primary);
    const primaryProbe = probes.get(primary);
    let bootstrapped = false;
    // Managed roles as last seen when the primary cannot be reached in this reconcile.
    let roles: { status: NonNullable<PostgresClusterStatus["roles"]>; failure?: { reason: string; message: string } } | undefined =
      spec.roles !== undefined && obj.status?.roles ? { status: obj.status.roles } : undefined;
    const replicaNames = [...present].filter((n) => n !== primary).sort((a, b) => ordinalOf(a) - ordinalOf(b));
    let keep: string[] = [];
    let adding: string[] = [];
    // New claims are as large as the largest existing one (volumes may have grown).
    const claimSize = [...claims.values()]
      .map((c) => c.spec?.resources?.requests?.storage)
      .filter((q): q is string => q !== undefined)
      .reduce((a, b) => (quantityBytes(b) > quantityBytes(a) ? b : a), spec.storage.size);
    // Right after a promotion too: the other replicas follow the new primary without waiting for another reconcile.
    if (primaryIp && primaryProbe?.reachable && !primaryProbe.inRecovery && !fencing) {
      const primaryTarget = await target(primaryIp);
      // CREATE DATABASE may take longer than a probe on a busy node; connecting may not (a primary hung since its probe).
      const created = await ensureBootstrap({ ...primaryTarget, queryTimeoutMs: Math.max(timeoutMs, 30_000) }, spec.bootstrap.owner, spec.bootstrap.database, () => readSecret(names.appSecret, "password"));
      steps.push(created.length > 0 ? { step: "bootstrap", outcome: "Created", detail: created.join(", ") } : { step: "bootstrap", outcome: "Unchanged" });
      bootstrapped = true;
      const replicationPassword = await readSecret(names.replicationSecret, "password");
      if (await ensureReplicationRole(primaryTarget, REPLICATION_USER, replicationPassword)) steps.push({ step: "replication-role", outcome: "Created" });
      // Managed roles (roles-sync.ts, ADR 0032): as declared, passwords from their Secrets; never a password in a step or Event.
      if (spec.roles !== undefined) {
        const synced = await syncRoles({ roles: spec.roles, bootstrapOwner: spec.bootstrap.owner, target: primaryTarget, api: deps.api, namespace: req.namespace, previous: obj.status?.roles });
        if (synced.applied.length > 0) steps.push({ step: "roles", outcome: "Updated", detail: synced.applied.join("; ") });
        for (const e of synced.events) event(e.type, e.reason, e.message);
        roles = { status: synced.status, ...(synced.failure ? { failure: synced.failure } : {}) };
      }

      // Scale: keep the lowest-ordinal replicas, add the lowest free ordinals, never remove the primary.
      keep = replicaNames.slice(0, Math.max(0, spec.instances - 1));
      const remove = replicaNames.slice(keep.length);
      const add: number[] = [];
      for (let n = 1; keep.length + add.length < spec.instances - 1; n++) if (!present.has(instanceName(req.name, n))) add.push(n);
      adding = add.map((n) => instanceName(req.name, n));
      const wanted = [...keep, ...adding].sort((a, b) => ordinalOf(a) - ordinalOf(b));
      const wantedSlots = wanted.map(replicationSlotName);
      const ours = new Set([...ordinals.keys()].map(replicationSlotName));
      const slots = primaryProbe.slots ?? [];
      const createSlots = wantedSlots.filter((s) => !slots.some((x) => x.name === s));
      const dropSlots = slots.filter((x) => ours.has(x.name) && !wantedSlots.includes(x.name)).map((x) => x.name);
      if (createSlots.length > 0 || dropSlots.length > 0) {
        await syncSlots(primaryTarget, createSlots, dropSlots);
        steps.push({ step: "replication-slots", outcome: "Updated", detail: `created [${createSlots.join(", ")}], dropped inactive of [${dropSlots.join(", ")}]` });
      }
      const sync = spec.synchronous && wanted.length > 0 ? `${spec.synchronous.method.toUpperCase()} ${spec.synchronous.number} (${wantedSlots.map((s) => quoteIdent(s)).join(", ")})` : "";
      if ((primaryProbe.synchronousStandbyNames ?? "") !== sync) {
        await setAndReload(primaryTarget, { synchronous_standby_names: sync });
        steps.push({ step: "synchronous_standby_names", outcome: "Updated", detail: sync || "(asynchronous)" });
      }
      for (const n of add) {
        const name = instanceName(req.name, n);
        const claim = await createIfMissing(`claim ${name}`, () => deps.api.createNamespacedPersistentVolumeClaim({ namespace: req.namespace, body: instanceClaim(cluster, spec, n, claimSize) }));
        steps.push(claim);
        // A claim of that name already there is an old one still being deleted: its pod waits for a fresh claim.
        if (claim.outcome !== "Created") continue;
        steps.push(await createIfMissing(`pod ${name}`, () => deps.api.createNamespacedPod({ namespace: req.namespace, body: instancePod(cluster, spec, n, "replica", primaryIp) })));
      }
      for (const name of remove) {
        if (pods.has(name)) await ignoreNotFound(deps.api.deleteNamespacedPod({ name, namespace: req.namespace }));
        if (claims.has(name)) await ignoreNotFound(deps.api.deleteNamespacedPersistentVolumeClaim({ name, namespace: req.namespace }));
        steps.push({ step: `scale-down ${name}`, outcome: "Updated", detail: "pod and claim deleted; its slot is dropped once inactive" });
      }
      // A recreated replica pod (its claim kept) clones nothing: it starts from its volume.
      for (const name of keep) {
        // A claim still being deleted (a fenced primary's) is waited for, never mounted again.
        if (claims.has(name) && !claims.get(name)!.metadata?.deletionTimestamp && !pods.has(name)) {
          steps.push(await createIfMissing(`pod ${name}`, () => deps.api.createNamespacedPod({ namespace: req.namespace, body: instancePod(cluster, spec, ordinalOf(name), "replica", primaryIp) })));
        }
      }
      // Every replica streams from this primary, with the replication Secret's credentials, through its slot.
      for (const name of keep) {
        const r = probes.get(name);
        const ip = podIp(name);
        if (!ip || !r?.reachable || !r.inRecovery) continue;
        const streamTls = r.tlsRuntimeDir === undefined ? undefined : { serverName: verifiedServerName(req.name, req.namespace), runtimeDir: r.tlsRuntimeDir };
        const wantedConninfo = { ...streamingConninfo(primaryIp, name, streamTls, synchronizesSlots(spec) ? "postgres" : undefined), password: replicationPassword };
        const change = firstRequired(FOLLOW_CHECKERS, { liveConninfo: r.primaryConninfo ?? "", liveSlot: r.primarySlotName ?? "", wantedConninfo, wantedSlot: replicationSlotName(name) });
        if (change) {
          await setAndReload(await target(ip), { primary_conninfo: renderConninfo(wantedConninfo), primary_slot_name: replicationSlotName(name) });
          steps.push({ step: `follow ${name}`, outcome: "Updated", detail: `${change.checker}: ${change.reason}` });
        }
        // Slots a former primary kept would hold WAL on it forever: nobody streams from a replica.
        const stale = (r.slots ?? []).filter((x) => !x.active).map((x) => x.name);
        if (stale.length > 0) {
          await dropInactiveSlots(await target(ip), stale);
          steps.push({ step: `slots ${name}`, outcome: "Updated", detail: `dropped [${stale.join(", ")}] (left from when it was primary)` });
        }
      }
    }

    // Configuration: every instance's postgresql.auto.conf holds exactly the desired parameters
    // (plus those the operator manages itself); a change is reloaded at once, and the instance is
    // probed again so the rollout below sees what now waits for a restart.
    const desired = desiredParameters(spec);
    const rejected: string[] = [];
    if (!fencing) {
      await Promise.all(
        [...pods.keys()].map(async (name) => {
          const r = probes.get(name);
          const ip = podIp(name);
          if (!ip || !r?.reachable || r.autoConf === undefined) return;
          const auto = r.autoConf;
          const set = Object.fromEntries(Object.entries(desired).filter(([k, v]) => auto[k] !== v));
          const reset = Object.keys(auto).filter((k) => !(k in desired) && !(RESERVED_PARAMETERS as readonly string[]).includes(k));
          if (Object.keys(set).length === 0 && reset.length === 0) return;
          const result = await applyParameters(await target(ip), set, reset);
          for (const x of result.rejected) rejected.push(`${x.name}: ${x.message}`);
          const applied = [...Object.keys(set), ...reset].filter((k) => !result.rejected.some((x) => x.name === k));
          if (applied.length > 0) steps.push({ step: `config ${name}`, outcome: "Updated", detail: `set [${Object.keys(set).join(", ")}], reset [${reset.join(", ")}]; reloaded` });
          probes.set(name, await probe(await target(ip)));
        }),
      );
      if (rejected.length > 0) event("Warning", "InvalidParameter", `PostgreSQL refused: ${[...new Set(rejected)].join("; ")}`);
    }

    // Parameter rollout (rollout.ts): replicas restart first, one at a time, then the primary by a switchover.
    const peersNow = primaryProbe?.reachable ? (primaryProbe.peers ?? []) : [];
    const rolloutOf = (name: string): RolloutInstance => {
      const r = probes.get(name);
      const pod = live(name);
      const streaming = name === primary || peersNow.some((p) => p.applicationName === replicationSlotName(name) && p.state === "streaming");
      return {
        name,
        ordinal: ordinalOf(name),
        ready: pod !== undefined && isPodReady(pod) && r?.reachable === true && streaming,
        pendingRestart: r?.reachable ? r.pendingRestart : undefined,
        replayLsn: r?.reachable ? r.lsn : undefined,
        receiveLsn: r?.reachable ? r.receiveLsn : undefined,
      };
    };
    if (!fencing && topology === undefined && bootstrapped && live(primary) !== undefined) {
      const requested = obj.metadata?.annotations?.[SWITCHOVER_TO_ANNOTATION];
      const action = planRollout({
        primary: rolloutOf(primary),
        replicas: keep.filter((n) => live(n) !== undefined).map(rolloutOf),
        missingReplicas: [...keep.filter((n) => live(n) === undefined), ...adding],
        strategy: spec.primaryUpdateStrategy,
        requested,
        primaryFirst: (() => {
          const p = probes.get(primary);
          return p?.reachable ? firstRequired(PRIMARY_FIRST_CHECKERS, { pendingRestart: p.pendingRestart ?? [], running: p.effective ?? {}, desired }) : undefined;
        })(),
      });
      switch (action.kind) {
        case "None":
          break;
        case "RequestDone":
          await clearSwitchoverRequest();
          break;
        case "Wait":
          topology = { reason: action.checker === "SupervisedUpdate" ? "WaitingForSwitchover" : "RollingRestart", message: action.reason };
          if (action.checker === "SupervisedUpdate") event("Normal", "WaitingForSwitchover", action.reason);
          break;
        case "RestartReplica":
        case "RestartPrimary": {
          const pod = live(action.name)!;
          if (action.kind === "RestartPrimary") {
            // A decided restart, not a loss: the failover checkers leave it alone for a while (restartingUntil).
            const until = new Date(ctx.now().getTime() + RESTART_IN_PLACE_MS).toISOString();
            await deps.api.patchNamespacedPersistentVolumeClaim({ name: action.name, namespace: req.namespace, body: { metadata: { annotations: { [RESTART_IN_PLACE_ANNOTATION]: until } } } }, MERGE_PATCH);
          }
          await ignoreNotFound(deps.api.deleteNamespacedPod({ name: action.name, namespace: req.namespace, body: { preconditions: { uid: pod.metadata?.uid } } }));
          const what = action.kind === "RestartReplica" ? `replica ${action.name}` : `primary ${action.name} in place`;
          steps.push({ step: `restart ${action.name}`, outcome: "Updated", detail: `${action.checker}: ${action.reason}` });
          event("Normal", action.kind === "RestartReplica" ? "RestartingReplica" : "RestartingPrimary", `restarting ${what}: ${action.reason}`);
          topology = { reason: "RollingRestart", message: `restarting ${what}: ${action.reason}` };
          break;
        }
        case "Switchover": {
          // Fence by a graceful shutdown: a fast shutdown streams all WAL, its shutdown checkpoint
          // included, to the connected replicas before the server exits (SWITCHOVER_GUARDS check it).
          // A checkpoint first, while clients still write: the shutdown checkpoint inside the pause is then short.
          if (primaryIp && primaryProbe?.reachable && !primaryProbe.inRecovery) {
            const t0 = Date.now();
            await checkpoint(await target(primaryIp), SWITCHOVER_CHECKPOINT_MS).then(
              () => ctx.log.info(`switchover: checkpoint on ${action.from} before the pause took ${Date.now() - t0} ms`),
              (err: unknown) => ctx.log.info(`switchover: checkpoint on ${action.from} failed, switching over anyway`, { detail: (err as Error).message }),
            );
          }
          const fenceLsn = primaryProbe?.reachable ? (primaryProbe.lsn ?? "0/0") : "0/0";
          await deps.api.patchNamespacedPod(
            { name: action.to, namespace: req.namespace, body: { metadata: { annotations: switchoverAnnotations(action.from, fenceLsn, ctx.now()) } } },
            MERGE_PATCH,
          );
          await holdPoolerClients();
          await ignoreNotFound(deps.api.deleteNamespacedPod({ name: action.from, namespace: req.namespace }));
          steps.push({ step: "switchover", outcome: "Updated", detail: `${action.checker}: ${action.reason}; shutting ${action.from} down, then promoting ${action.to}` });
          event("Normal", "Switchover", `switching over from ${action.from} to ${action.to}: ${action.reason}`);
          topology = { reason: "Switchover", message: `switching over from ${action.from} to ${action.to}: ${action.reason}` };
          break;
        }
        default: {
          const never: never = action;
          throw new Error(`unhandled rollout action ${JSON.stringify(never)}`);
        }
      }
    }

    // Disk: grow a claim whose volume crossed the auto-grow threshold (grow.ts), once per crossing.
    const growth = planGrowth(
      [...claims].flatMap(([name, c]) => {
        const usedBytes = deps.disk?.usage(req.namespace, name)?.usedBytes;
        const requested = c.spec?.resources?.requests?.storage;
        return usedBytes === undefined || requested === undefined || c.metadata?.deletionTimestamp ? [] : [{ name, requested, capacity: c.status?.capacity?.storage, usedBytes }];
      }),
      spec.storage.autoGrow,
    );
    const disk = growth.usage;
    for (const reason of growth.atLimit) event("Warning", "DiskAtLimit", reason);
    for (const g of growth.grow) {
      await deps.api.patchNamespacedPersistentVolumeClaim({ name: g.name, namespace: req.namespace, body: [{ op: "replace", path: "/spec/resources/requests/storage", value: g.to }] }, JSON_PATCH);
      steps.push({ step: `grow ${g.name}`, outcome: "Updated", detail: `${g.from} -> ${g.to}: ${g.reason}` });
      event("Normal", "VolumeGrown", `growing ${g.name} from ${g.from} to ${g.to}: ${g.reason}`);
    }
    for (const s of steps) if (s.outcome !== "Unchanged") ctx.log.info(`step ${s.step}: ${s.outcome}`, s.detail ? { detail: s.detail } : undefined);

    const peers = primaryProbe?.reachable ? (primaryProbe.peers ?? []) : [];
    const instances: InstanceObservation[] = [...pods]
      .filter(([name]) => live(name) !== undefined)
      .sort(([a], [b]) => ordinalOf(a) - ordinalOf(b))
      .map(([name, pod]) => {
        const peer = peers.find((p) => p.applicationName === replicationSlotName(name));
        return {
          name,
          podReady: isPodReady(pod),
          probe: probes.get(name) ?? { reachable: false, error: "not probed" },
          ip: pod.status?.podIP,
          ...(peer ? { lagBytes: peer.lagBytes ?? 0 } : {}),
          streaming: peer?.state === "streaming",
          ...(disk.has(name) ? { diskUsedBytes: disk.get(name)!.usedBytes } : {}),
        };
      });
    // Effective parameters: what the primary (else any instance that answers) runs for each desired one.
    const reporter = [primary, ...[...pods.keys()].sort((a, b) => ordinalOf(a) - ordinalOf(b))].map((n) => probes.get(n)).find((r) => r?.reachable && r.effective !== undefined);
    const effective = reporter?.reachable ? Object.fromEntries(Object.keys(desired).sort().flatMap((k) => (reporter.effective?.[k] !== undefined ? [[k, reporter.effective[k]!]] : []))) : undefined;
    const fullest = [...disk.values()].sort((a, b) => b.usedBytes / Math.max(1, b.capacityBytes) - a.usedBytes / Math.max(1, a.capacityBytes))[0];
    if (rejected.length > 0 && topology === undefined) topology = { reason: "InvalidParameter", message: `PostgreSQL refused: ${[...new Set(rejected)].join("; ")}` };
    // Backups: the primary's archiver (spec.backup), and a restore bootstrap that failed (its container's termination message).
    const archive = spec.backup && primaryProbe?.reachable && !primaryProbe.inRecovery ? primaryProbe.archive : undefined;
    // Exported as it is observed; without spec.backup or a primary to ask, the series go (no stale lag).
    deps.metrics?.archive(req.namespace, req.name, archive);
    if (archive?.failing && archive.lastFailedWal !== obj.status?.backup?.lastFailedWal) event("Warning", archiveFailureReason(archive), archiveFailureMessage(archive));
    const restoreFailure = spec.bootstrap.recovery && !bootstrapped ? terminationMessage(pods.get(primary)) : undefined;
    const backupProblem = restoreFailure ? { reason: "RestoreFailed", message: `restoring from s3://${spec.bootstrap.recovery!.source.bucket}/${spec.bootstrap.recovery!.source.prefix ?? ""} failed: ${restoreFailure}` } : undefined;
    if (backupProblem && obj.status?.conditions?.find((c) => c.type === "Ready")?.message !== backupProblem.message) event("Warning", "RestoreFailed", backupProblem.message);
    const observation: Observation = {
      kind: "Observed",
      instances,
      primary,
      bootstrapped,
      wantedInstances: spec.instances,
      names,
      services: spec.services,
      ...(topology ? { topology } : {}),
      ...(effective ? { effectiveParameters: effective } : {}),
      ...(fullest ? { diskUsage: fullest } : {}),
      ...(poolerStatus && spec.pooler ? { pooler: poolerStatus } : {}),
      ...(roles ? { roles } : {}),
      ...(archive ? { archive } : {}),
      ...(backupProblem ? { backupProblem } : {}),
    };
    let next = statusFor(obj.status, observation, generation, ctx.now());
    // Preflight of a bump before anything exists (ADR 0037): refreshed while steady, checked live before an upgrade is created.
    const ready = await readinessStep({
      status: obj.status,
      decision: major,
      primary: primaryIp && primaryProbe?.reachable && !primaryProbe.inRecovery ? async () => ({ ...(await target(primaryIp)), database: spec.bootstrap.database }) : undefined,
      now: ctx.now(),
    });
    if (ready.error) ctx.log.info("upgrade readiness not inspected", { detail: ready.error });
    const upgrade = await majorUpgradeStep(deps.upgrades, cluster, ready.decision, event);
    next = withMajorUpgrade(next, upgrade, ready.decision, generation, ctx.now());
    if (ready.readiness) next = { ...next, upgradeReadiness: ready.readiness };
    const written = await writeStatus(deps.status, obj as StatusObject<PostgresClusterStatus>, next);
    if (written.conflict) return { requeueAfterMs: 500 };
    if (topology?.reason === "Failover" || topology?.reason === "Switchover" || poolerResult.soon) return { requeueAfterMs: 250 }; // in progress: look again soon
    if (upgrade?.status && upgrade.status.phase !== "finalized") return { requeueAfterMs: 2000 }; // the upgrade's phase is reported here
    // Waiting for a user's approval is as settled as it gets: the annotation's arrival is an event.
    const settled = (next.conditions?.some((c) => c.type === "Progressing" && c.status === "False") ?? false) || topology?.reason === "WaitingForSwitchover";
    const after = settled ? (deps.healthRequeueMs ?? 30_000) : (deps.progressRequeueMs ?? 2000);
    // An unready primary is looked at again when its failover grace runs out, not up to a requeue later.
    return { requeueAfterMs: failoverDueInMs !== undefined ? Math.min(after, failoverDueInMs) : after };
  };
}
