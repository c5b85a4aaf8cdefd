/**
 * The cluster controller's pooler steps (ADR 0022), apart from its instance steps:
 *
 * - {@link pausePoolers}, called before a planned switchover shuts the old primary down: each
 *   PgBouncer pod is annotated ({@link POOLER_PAUSED_ANNOTATION}, first, so an operator that dies
 *   right after still knows the pause is its own) and told `PAUSE`, which returns once every
 *   server connection is released; clients' next queries wait in PgBouncer.
 * - {@link syncPooler}, every reconcile: the admin Secret, `pgbouncer.ini` (the confirmed
 *   primary's address) and the auth file (verifiers read from the primary), the pods, the
 *   Service; each pod whose files changed is annotated with the new hash (a pod update makes the
 *   kubelet refresh its ConfigMap and Secret volumes at once instead of at its next periodic
 *   sync) and told `RELOAD` until `SHOW DATABASES` shows the primary; then `RESUME` for a pod the
 *   operator paused, once no switchover is in progress and it points at the primary — or in any
 *   case once the pause is older than {@link POOLER_PAUSE_LIMIT_MS} (clients are never held
 *   forever). A PgBouncer or a primary that does not answer never fails the reconcile: it is
 *   looked at again soon.
 */
import { X509Certificate } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { CoreV1Api, KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { poolerObjectNames } from "../../api/names";
import type { PostgresClusterSpec } from "../../api/postgres-cluster";
import { randomPassword } from "../../postgres/embedded";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import type { InstanceTarget } from "./instance-sql";
import { caHash, type ClusterObject } from "./objects";
import {
  dataHash,
  POOLER_CONFIG_HASH_ANNOTATION,
  POOLER_DATA_HASH_ANNOTATION,
  POOLER_PAUSED_ANNOTATION,
  POOLER_POD_HASH_ANNOTATION,
  POOLER_SETTINGS_HASH_ANNOTATION,
  POOLER_USERLIST,
  POOLER_INI,
  poolerAdminSecret,
  poolerAuthSecret,
  poolerConfigMap,
  poolerIni,
  poolerPod,
  poolerService,
  poolerSettingsHash,
  settingsNotLoaded,
  poolerUserlist,
  userlistChangeVisible,
  userlistEntries,
} from "./pooler";
import { pausePooler, probePooler, readPoolerSource, reloadPooler, resumePooler, type PoolerProbe, type PoolerTarget, type PoolerTls } from "./pooler-sql";
import { clusterTlsNames } from "./tls";
import { poolerPodName } from "../../api/names";

/** A certificate's serial as Node reports a peer's (hex, upper case); undefined when it cannot be read. */
function certificateSerial(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).serialNumber.toUpperCase();
  } catch {
    return undefined;
  }
}

/** Longest the operator holds a pooler's clients: past it, `RESUME` even unconfirmed. */
export const POOLER_PAUSE_LIMIT_MS = 30_000;
/** Annotation on a PgBouncer pod: when its files last changed (the pod update makes the kubelet write them at once). */
export const POOLER_CHANGED_ANNOTATION = "setpoint.dev/pooler-config-changed-at";
/**
 * Annotation on a PgBouncer pod: when its files last changed in a way its console cannot show
 * (a `[pgbouncer]` setting, a verifier changed or a role removed): it is told `RELOAD` on every
 * reconcile for {@link RELOAD_WINDOW_MS} after. Other changes (the primary's address, databases,
 * roles added) are reloaded until `SHOW DATABASES` / `SHOW USERS` show them, and then no more.
 */
export const POOLER_UNSEEN_CHANGE_ANNOTATION = "setpoint.dev/pooler-unseen-change-at";
/** How long after an unseen change a pod is told `RELOAD` on every reconcile (the kubelet writes the files in its own time). */
const RELOAD_WINDOW_MS = 120_000;

const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** The Kubernetes calls the pooler steps make. */
export type PoolerApi = Pick<
  CoreV1Api,
  | "createNamespacedSecret"
  | "replaceNamespacedSecret"
  | "deleteNamespacedSecret"
  | "createNamespacedConfigMap"
  | "replaceNamespacedConfigMap"
  | "deleteNamespacedConfigMap"
  | "createNamespacedPod"
  | "patchNamespacedPod"
  | "deleteNamespacedPod"
  | "createNamespacedService"
  | "deleteNamespacedService"
>;

/** One step's outcome, as the controller logs it. */
export interface PoolerStep {
  readonly step: string;
  readonly outcome: "Created" | "Updated" | "Unchanged" | "Waiting";
  readonly detail?: string;
}

/** What the pooler reports in status. */
export interface PoolerObservation {
  readonly service: string;
  readonly instances: number;
  readonly readyInstances: number;
  /** The instance every ready pod points at, when they agree. */
  readonly primary?: string;
  readonly paused: boolean;
}

/** Inputs of {@link syncPooler}. */
export interface PoolerSyncInput {
  readonly cluster: ClusterObject;
  readonly spec: PostgresClusterSpec;
  readonly api: PoolerApi;
  /** The cluster's PgBouncer pods, by name (from the cache). */
  readonly pods: ReadonlyMap<string, V1Pod>;
  /** The cluster's Secrets, ConfigMaps and Services (metadata), by name. */
  readonly secrets: ReadonlyMap<string, KubernetesObject>;
  readonly configMaps: ReadonlyMap<string, KubernetesObject>;
  readonly services: ReadonlyMap<string, KubernetesObject>;
  readonly readSecret: (name: string, key: string) => Promise<string>;
  /** The primary, when it is confirmed (answers, not in recovery) and nothing fences it. */
  readonly primary?: { readonly name: string; readonly ip: string; readonly target: InstanceTarget };
  /** Instance pod IPs -> names (to report which instance the pooler points at). */
  readonly instanceIps: ReadonlyMap<string, string>;
  /** A planned switchover is in progress: keep the operator's pause. */
  readonly holding: boolean;
  readonly now: Date;
  readonly timeoutMs: number;
  readonly event: (type: "Normal" | "Warning", reason: string, message: string) => void;
  /** How the operator verifies the PgBouncer pods (ADR 0044). */
  readonly poolerTls: PoolerTls;
}

/** What {@link syncPooler} did and saw. */
export interface PoolerSyncResult {
  readonly steps: readonly PoolerStep[];
  readonly status?: PoolerObservation;
  /** Something is converging (a pod not pointing at the primary yet, clients held): look again soon. */
  readonly soon: boolean;
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function isRunning(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.podIP !== undefined && (pod.status.containerStatuses?.some((c) => c.state?.running) ?? false);
}

async function ignoreMissing(p: Promise<unknown>, codes: readonly number[] = [404]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!codes.includes(apiStatusCode(err) ?? 0)) throw err;
  }
}

/**
 * Holds the clients of every running PgBouncer pod of a cluster (see the module documentation).
 * Never throws for a pod that does not answer: a switchover must not wait on its pooler.
 * @returns the pods that did not confirm the pause in time, with why.
 */
export async function pausePoolers(options: {
  readonly api: Pick<CoreV1Api, "patchNamespacedPod">;
  readonly namespace: string;
  readonly pods: Iterable<V1Pod>;
  readonly adminPassword: string;
  readonly poolMode: "session" | "transaction";
  readonly now: Date;
  readonly timeoutMs: number;
  readonly poolerTls: PoolerTls;
}): Promise<string[]> {
  // In session mode PAUSE waits for every client to disconnect: a short wait, then the switchover goes on.
  const waitMs = options.poolMode === "transaction" ? 10_000 : 1000;
  const failed: string[] = [];
  await Promise.all(
    [...options.pods].filter(isRunning).map(async (pod) => {
      const name = pod.metadata!.name!;
      try {
        if (pod.metadata?.annotations?.[POOLER_PAUSED_ANNOTATION] === undefined) {
          await options.api.patchNamespacedPod({ name, namespace: options.namespace, body: { metadata: { annotations: { [POOLER_PAUSED_ANNOTATION]: options.now.toISOString() } } } }, MERGE_PATCH);
        }
        if (!(await pausePooler({ host: pod.status!.podIP!, password: options.adminPassword, timeoutMs: options.timeoutMs, tls: options.poolerTls }, waitMs))) failed.push(`${name}: PAUSE not complete after ${waitMs} ms`);
      } catch (err) {
        failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  return failed;
}

/** What to do with clients the operator holds in one PgBouncer. */
export type PauseDecision = { readonly kind: "Hold"; readonly reason: string } | { readonly kind: "Resume"; readonly reason: string } | { readonly kind: "ResumeUnconfirmed"; readonly reason: string };

/**
 * Whether a PgBouncer the operator paused is resumed now: once no switchover is in progress and
 * it points at the confirmed primary; in any case once it has held its clients for
 * {@link POOLER_PAUSE_LIMIT_MS}. Pure.
 */
export function pauseDecision(o: { readonly holding: boolean; readonly onPrimary: boolean; readonly heldMs: number }): PauseDecision {
  if (!o.holding && o.onPrimary) return { kind: "Resume", reason: "it points at the confirmed primary" };
  if (o.heldMs > POOLER_PAUSE_LIMIT_MS) return { kind: "ResumeUnconfirmed", reason: `clients held longer than ${POOLER_PAUSE_LIMIT_MS / 1000} s` };
  return { kind: "Hold", reason: o.holding ? "the switchover is in progress" : "it does not point at the confirmed primary yet" };
}

/**
 * What a PgBouncer pod's files are, as one value for its {@link POOLER_CONFIG_HASH_ANNOTATION}:
 * `pgbouncer.ini`'s and `userlist.txt`'s hashes, the serial of the certificate it serves, and the
 * hash of the trust bundle it verifies the instances with. A new bundle always comes with a new
 * certificate (tls.ts issues the pooler's anew: ADR 0049), whose serial confirms the reload that
 * loaded both. Pure.
 */
export function poolerFilesHash(parts: { readonly ini?: string; readonly auth?: string; readonly serial?: string; readonly trust: string }): string {
  return `${parts.ini ?? ""}.${parts.auth ?? ""}.${parts.serial ?? ""}.${parts.trust}`;
}

/** Every configured database points at `ip` (and there is at least one). */
function pointsAt(probe: PoolerProbe, ip: string, databases: readonly string[]): boolean {
  return databases.length > 0 && databases.every((d) => probe.hosts[d] === ip);
}

/** The pooler steps of one reconcile (see the module documentation). */
export async function syncPooler(input: PoolerSyncInput): Promise<PoolerSyncResult> {
  const { cluster, api, spec } = input;
  const namespace = cluster.metadata.namespace;
  const names = poolerObjectNames(cluster.metadata.name);
  const steps: PoolerStep[] = [];
  const pooler = spec.pooler;
  if (pooler === undefined) {
    // No pooler wanted: remove whatever one left (its pods first, so nothing serves stale files).
    for (const name of input.pods.keys()) await ignoreMissing(api.deleteNamespacedPod({ name, namespace }));
    if (input.services.has(names.service)) await ignoreMissing(api.deleteNamespacedService({ name: names.service, namespace }));
    if (input.configMaps.has(names.configMap)) await ignoreMissing(api.deleteNamespacedConfigMap({ name: names.configMap, namespace }));
    for (const s of [names.authSecret, names.adminSecret, clusterTlsNames(cluster.metadata.name).pooler]) if (input.secrets.has(s)) await ignoreMissing(api.deleteNamespacedSecret({ name: s, namespace }));
    if (input.pods.size > 0) steps.push({ step: "pooler", outcome: "Updated", detail: "removed (spec.pooler unset)" });
    return { steps, soon: false };
  }

  if (!input.secrets.has(names.adminSecret)) {
    await ignoreMissing(api.createNamespacedSecret({ namespace, body: poolerAdminSecret(cluster, randomPassword()) }), [409]);
    steps.push({ step: "pooler admin-secret", outcome: "Created" });
  }
  const adminPassword = await input.readSecret(names.adminSecret, "password");

  // The files: written from the primary when it is confirmed, else left as they are (created empty).
  const liveIniHash = input.configMaps.get(names.configMap)?.metadata?.annotations?.[POOLER_DATA_HASH_ANNOTATION];
  const liveAuthHash = input.secrets.get(names.authSecret)?.metadata?.annotations?.[POOLER_DATA_HASH_ANNOTATION];
  let databases: readonly string[] = [];
  let iniHash = liveIniHash;
  let authHash = liveAuthHash;
  let changed = false;
  // A change written now that no pod's console can show (see POOLER_UNSEEN_CHANGE_ANNOTATION).
  let unseen = false;
  let users: readonly string[] | undefined;
  // A primary that does not answer now is asked again on the next reconcile; the files stay as they are.
  const source = input.primary ? await readPoolerSource(input.primary.target).catch(() => undefined) : undefined;
  if (source !== undefined || liveIniHash === undefined || liveAuthHash === undefined) {
    databases = source?.databases ?? [];
    const ini = poolerIni(pooler, input.primary?.ip, databases);
    const userlist = poolerUserlist(await input.readSecret(names.adminSecret, "verifier"), source?.roles ?? []);
    iniHash = dataHash({ [POOLER_INI]: ini });
    authHash = dataHash({ [POOLER_USERLIST]: userlist });
    if (source !== undefined) users = [...userlistEntries(userlist).keys()];
    if (liveIniHash === undefined) {
      await ignoreMissing(api.createNamespacedConfigMap({ namespace, body: poolerConfigMap(cluster, ini) }), [409]);
      steps.push({ step: "pooler config", outcome: "Created" });
    } else if (liveIniHash !== iniHash && source !== undefined) {
      await api.replaceNamespacedConfigMap({ name: names.configMap, namespace, body: poolerConfigMap(cluster, ini) });
      steps.push({ step: "pooler config", outcome: "Updated", detail: `databases at ${input.primary!.name}` });
      changed = true;
    }
    if (liveAuthHash === undefined) {
      await ignoreMissing(api.createNamespacedSecret({ namespace, body: poolerAuthSecret(cluster, userlist) }), [409]);
      steps.push({ step: "pooler auth", outcome: "Created" });
    } else if (liveAuthHash !== authHash && source !== undefined) {
      const before = await input.readSecret(names.authSecret, POOLER_USERLIST).catch(() => undefined);
      unseen = before === undefined || !userlistChangeVisible(before, userlist);
      await api.replaceNamespacedSecret({ name: names.authSecret, namespace, body: poolerAuthSecret(cluster, userlist) });
      steps.push({ step: "pooler auth", outcome: "Updated", detail: `${source.roles.length} roles` });
      changed = true;
    }
  }
  // The pooler's certificate (ADR 0044) by its serial: a renewed one makes the pods' annotation
  // change (the kubelet then writes the files), and each pod is told RELOAD until the certificate
  // it serves the operator's own TLS session is the new one.
  const expectedSerial = input.poolerTls.certificatePem === undefined ? undefined : certificateSerial(input.poolerTls.certificatePem);
  const configHash = poolerFilesHash({ ini: iniHash, auth: authHash, serial: expectedSerial, trust: caHash(input.poolerTls.ca) });
  const settingsHash = poolerSettingsHash(pooler);

  // Pods: ordinals 1..instances; others go; one with an outdated pod spec is replaced when the rest are ready.
  const wanted = new Map(Array.from({ length: pooler.instances }, (_, k) => [poolerPodName(cluster.metadata.name, k + 1), k + 1] as const));
  for (const [name, ordinal] of wanted) {
    if (input.pods.has(name)) continue;
    await ignoreMissing(api.createNamespacedPod({ namespace, body: poolerPod(cluster, pooler, ordinal, configHash) }), [409]);
    steps.push({ step: `pooler pod ${name}`, outcome: "Created" });
  }
  for (const name of input.pods.keys()) {
    if (wanted.has(name)) continue;
    await ignoreMissing(api.deleteNamespacedPod({ name, namespace }));
    steps.push({ step: `pooler pod ${name}`, outcome: "Updated", detail: "deleted (scale-down)" });
  }
  const live = [...input.pods.values()].filter((p) => wanted.has(p.metadata!.name!) && !p.metadata?.deletionTimestamp);
  const outdated = live.find((p) => p.metadata?.annotations?.[POOLER_POD_HASH_ANNOTATION] !== poolerPod(cluster, pooler, wanted.get(p.metadata!.name!)!, configHash).metadata?.annotations?.[POOLER_POD_HASH_ANNOTATION]);
  if (outdated && !input.holding && live.every((p) => p === outdated || isReady(p))) {
    await ignoreMissing(api.deleteNamespacedPod({ name: outdated.metadata!.name!, namespace, body: { preconditions: { uid: outdated.metadata?.uid } } }), [404, 409]);
    steps.push({ step: `pooler pod ${outdated.metadata!.name!}`, outcome: "Updated", detail: "replaced (pod spec changed)" });
  }
  if (!input.services.has(names.service)) {
    await ignoreMissing(api.createNamespacedService({ namespace, body: poolerService(cluster) }), [409]);
    steps.push({ step: `pooler service ${names.service}`, outcome: "Created" });
  }

  // Each running pod: its files announced (annotation), reloaded until it points at the primary, resumed.
  let soon = false;
  const pointing = new Set<string>();
  let paused = false;
  await Promise.all(
    live.filter(isRunning).map(async (pod) => {
      const name = pod.metadata!.name!;
      const annotations = pod.metadata?.annotations ?? {};
      const target: PoolerTarget = { host: pod.status!.podIP!, password: adminPassword, timeoutMs: input.timeoutMs, tls: input.poolerTls };
      let changedAt = Date.parse(annotations[POOLER_CHANGED_ANNOTATION] ?? "");
      let unseenAt = Date.parse(annotations[POOLER_UNSEEN_CHANGE_ANNOTATION] ?? "");
      const filesChanged = annotations[POOLER_CONFIG_HASH_ANNOTATION] !== configHash || changed;
      // A changed [pgbouncer] setting is seen in SHOW CONFIG (settingsLoaded below): never a blind reload window.
      const podSettings = annotations[POOLER_SETTINGS_HASH_ANNOTATION];
      if (filesChanged || podSettings !== settingsHash) {
        const at = input.now.toISOString();
        const marks: Record<string, string> = { [POOLER_SETTINGS_HASH_ANNOTATION]: settingsHash };
        if (filesChanged) Object.assign(marks, { [POOLER_CONFIG_HASH_ANNOTATION]: configHash, [POOLER_CHANGED_ANNOTATION]: at });
        if (filesChanged && unseen) marks[POOLER_UNSEEN_CHANGE_ANNOTATION] = at;
        await ignoreMissing(api.patchNamespacedPod({ name, namespace, body: { metadata: { annotations: marks } } }, MERGE_PATCH));
        if (filesChanged) changedAt = input.now.getTime();
        if (marks[POOLER_UNSEEN_CHANGE_ANNOTATION] !== undefined) unseenAt = input.now.getTime();
      }
      let probe: PoolerProbe;
      try {
        probe = await probePooler(target);
      } catch {
        // Starting or restarting: its readiness is an event; only held clients make it urgent.
        if (annotations[POOLER_PAUSED_ANNOTATION] !== undefined) soon = paused = true;
        return;
      }
      const primaryIp = input.primary?.ip;
      const onPrimary = primaryIp !== undefined && pointsAt(probe, primaryIp, databases);
      const usersLoaded = (p: PoolerProbe): boolean => users === undefined || users.every((u) => p.users.includes(u));
      // The certificate it served the probe's TLS session is the one it has loaded (ADR 0044).
      const certLoaded = (p: PoolerProbe): boolean => expectedSerial === undefined || p.certificateSerial === undefined || p.certificateSerial === expectedSerial;
      const recentlyChanged = !Number.isNaN(changedAt) && input.now.getTime() - changedAt < RELOAD_WINDOW_MS;
      const unseenRecently = !Number.isNaN(unseenAt) && input.now.getTime() - unseenAt < RELOAD_WINDOW_MS;
      // The settings as it runs them: told RELOAD while the written ones are not all loaded, for as
      // long as a change is fresh (a value PgBouncer refuses keeps its old one: not reloaded forever).
      const settingsLoaded = (p: PoolerProbe): boolean => settingsNotLoaded(pooler, p.config).length === 0;
      // RELOAD only for something to load: with server TLS each one recycles every server connection
      // and, in PgBouncer 1.18, can make it refuse clients for a moment (pooler-sql.ts, reloadPooler).
      if ((primaryIp !== undefined && !onPrimary) || !usersLoaded(probe) || !certLoaded(probe) || (recentlyChanged && !settingsLoaded(probe)) || unseenRecently) {
        // Clients held for a switchover wait on every round trip: while the kubelet writes the new
        // file, RELOAD again every 100 ms (up to 2 s) rather than on the next reconcile.
        const heldForUs = annotations[POOLER_PAUSED_ANNOTATION] !== undefined && !input.holding;
        try {
          for (let attempt = 0; ; attempt++) {
            await reloadPooler(target);
            probe = await probePooler(target);
            if (!heldForUs || primaryIp === undefined || pointsAt(probe, primaryIp, databases) || attempt >= 20) break;
            await sleep(100);
          }
        } catch {
          soon = true; // it stopped answering meanwhile: looked at again
        }
      }
      const nowOnPrimary = primaryIp !== undefined && pointsAt(probe, primaryIp, databases);
      if (nowOnPrimary) pointing.add(name);
      // The kubelet writes the files in its own time (no event says when): look again soon while a change is fresh.
      else if (primaryIp !== undefined && recentlyChanged) soon = true;
      if ((!usersLoaded(probe) || !certLoaded(probe) || !settingsLoaded(probe)) && recentlyChanged) soon = true;
      const pausedAt = annotations[POOLER_PAUSED_ANNOTATION];
      if (pausedAt !== undefined) {
        const heldMs = input.now.getTime() - (Date.parse(pausedAt) || 0);
        if (pauseDecision({ holding: input.holding, onPrimary: nowOnPrimary, heldMs }).kind !== "Hold") {
          try {
            await resumePooler(target);
          } catch {
            soon = true;
            paused = true;
            return;
          }
          await ignoreMissing(api.patchNamespacedPod({ name, namespace, body: [{ op: "remove", path: `/metadata/annotations/${POOLER_PAUSED_ANNOTATION.replace("/", "~1")}` }] }, JSON_PATCH), [404, 422]);
          if (nowOnPrimary) steps.push({ step: `pooler resume ${name}`, outcome: "Updated", detail: `clients held ${(heldMs / 1000).toFixed(1)} s, now served by ${input.primary!.name}` });
          else input.event("Warning", "PoolerResumedUnconfirmed", `${name} resumed after ${(heldMs / 1000).toFixed(0)} s without pointing at a confirmed primary`);
        } else {
          soon = true;
          paused = true;
        }
      }
    }),
  );
  if (changed) soon = true;

  const ready = live.filter(isReady);
  const serving = ready.filter(isRunning);
  const agreed = serving.length > 0 && serving.every((p) => pointing.has(p.metadata!.name!)) ? input.primary?.ip : undefined;
  return {
    steps,
    soon,
    status: {
      service: names.service,
      instances: live.length,
      readyInstances: ready.length,
      ...(agreed !== undefined && input.instanceIps.has(agreed) ? { primary: input.instanceIps.get(agreed)! } : {}),
      paused,
    },
  };
}
