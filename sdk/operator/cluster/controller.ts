/**
 * The `PostgresCluster` reconciler (ADR 0004): observe once — the cluster and its children from
 * the informer caches, and each running instance's database role over a short timeout that may
 * fail — then small idempotent steps, each creating or correcting one kind of child, and status
 * last with `observedGeneration`.
 *
 * Steps, in order: credential Secrets (superuser, application, replication; passwords generated
 * once, never logged); failover when the primary is gone ({@link FAILOVER_CHECKERS}: fence the
 * old primary, promote the most advanced replica, relabel it, drop the old primary's volume so it
 * comes back as a fresh replica); the first instance's claim and pod on a new cluster; the rw / ro
 * Services (rw selects exactly the primary's pod, ro the replicas); on the primary, the bootstrap
 * database and owner, the replication role, one physical slot per replica and
 * `synchronous_standby_names`; replica claims and pods (cloned by `pg_basebackup` through their
 * slot) up to `spec.instances`, scale-down of the highest-ordinal replicas (never the primary);
 * and each replica's streaming configuration ({@link FOLLOW_CHECKERS}).
 *
 * The primary is the pod labelled `setpoint.dev/role=primary`, written before status, so a lost
 * status write never loses a promotion.
 */
import type { CoreV1Api, KubernetesObject, V1PersistentVolumeClaim, V1Pod, V1Service } from "@kubernetes/client-node";
import { MAX_INSTANCES } from "../../api/postgres-cluster";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { Client } from "pg";
import { parsePostgresClusterSpec } from "../../api/parse";
import { clusterObjectNames, instanceName, POSTGRES_PORT, replicationSlotName } from "../../api/names";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import { InputError } from "../../errors";
import { randomPassword } from "../../postgres/embedded";
import { quoteIdent, quoteLiteral } from "../../postgres/quote";
import { controllerOf } from "../../reconcile/owners";
import { requestKey, type ReconcileContext, type Request, type Result } from "../../reconcile/index";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { writeStatus, type StatusApi, type StatusObject } from "../../reconcile/internal/status";
import { ALLOW_DATA_LOSS_ANNOTATION, FAILOVER_CHECKERS, FOLLOW_CHECKERS, firstRequired, pickCandidate, PROMOTION_GUARDS } from "./decisions";
import { ensureReplicationRole, probeInstance, promote, renderConninfo, setAndReload, syncSlots, type InstanceProbe } from "./instance-sql";
import {
  appSecret,
  instanceClaim,
  instancePod,
  readOnlySelector,
  readWriteSelector,
  REPLICATION_USER,
  replicationSecret,
  ROLE_LABEL,
  service,
  streamingConninfo,
  superuserSecret,
  type ClusterObject,
} from "./objects";
import { statusFor, type InstanceObservation, type Observation } from "./status";

export type { InstanceProbe } from "./instance-sql";

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
  readonly api: Pick<
    CoreV1Api,
        | "createNamespacedSecret"
    | "createNamespacedPersistentVolumeClaim"
    | "createNamespacedPod"
    | "createNamespacedService"
    | "patchNamespacedService"
    | "deleteNamespacedService"
    | "readNamespacedSecret"
    | "patchNamespacedPod"
    | "deleteNamespacedPod"
    | "deleteNamespacedPersistentVolumeClaim"
  >;
  /** Where status is written (the `postgresclusters` status subresource). */
  readonly status: StatusApi;
  /** Asks an instance for its role. @default a connection to `podIP:5432` as the superuser */
  readonly probe?: (host: string, password: string, timeoutMs: number) => Promise<InstanceProbe>;
  /** Timeout of each instance probe and bootstrap connection. @default 3000 ms */
  readonly probeTimeoutMs?: number;
  /** Look again this soon while the cluster is not Ready. @default 2000 ms */
  readonly progressRequeueMs?: number;
  /** Look again this often once settled (health). @default 30_000 ms */
  readonly healthRequeueMs?: number;
  /** How long an unready, unreachable primary may stay so before it is replaced. @default 10_000 ms */
  readonly failoverGraceMs?: number;
}

const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

/** One step's outcome, logged by name (never with secret values). */
interface StepResult {
  readonly step: string;
  readonly outcome: "Created" | "Updated" | "Unchanged" | "Waiting";
  readonly detail?: string;
}

const defaultProbe = (host: string, password: string, timeoutMs: number): Promise<InstanceProbe> => probeInstance({ host, password, timeoutMs });

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
    if (obj === undefined || obj.metadata?.deletionTimestamp) return {}; // gone or going: the garbage collector takes the children
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

    // Observe once: children from the caches, then each running instance's database.
    const uid = cluster.metadata.uid;
    const mine = <T extends KubernetesObject>(cache: Cache<T>): Map<string, T> =>
      new Map(cache.list().filter((o) => o.metadata?.namespace === req.namespace && controllerOf(o)?.uid === uid).map((o) => [o.metadata!.name!, o]));
    const pods = mine(deps.pods);
    const claims = mine(deps.claims);
    const services = mine(deps.services);
    const secrets = mine(deps.secrets);
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
    const target = async (host: string) => ({ host, password: await superPassword(), timeoutMs });
    const probes = new Map<string, InstanceProbe>();
    await Promise.all(
      [...pods].map(async ([name, pod]) => {
        const ip = pod.status?.podIP;
        let result: InstanceProbe = { reachable: false, error: "no pod IP yet" };
        if (ip && !pod.metadata?.deletionTimestamp && pod.status?.containerStatuses?.some((c) => c.state?.running)) result = await probe(ip, await superPassword(), timeoutMs);
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
    let primary = labelled.length === 1 ? labelled[0]! : saying.length === 1 ? saying[0]! : (obj.status?.currentPrimary ?? instanceName(req.name, 1));
    const podIp = (name: string): string | undefined => live(name)?.status?.podIP;
    const roleLabelsSet = new Map<string, string>(); // labels set in this reconcile (the snapshot predates them)
    const setRoleLabel = async (name: string, role: "primary" | "replica"): Promise<void> => {
      roleLabelsSet.set(name, role);
      await deps.api.patchNamespacedPod({ name, namespace: req.namespace, body: [{ op: "add", path: `/metadata/labels/${ROLE_LABEL.replace("/", "~1")}`, value: role }] }, JSON_PATCH);
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
      steps.push(await createIfMissing("app-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: appSecret(cluster, spec, randomPassword()) })));
    }
    if (!secrets.has(names.replicationSecret)) {
      steps.push(await createIfMissing("replication-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: replicationSecret(cluster, randomPassword()) })));
    }

    // Failover: the primary is gone (or dead past its grace) and a replica can take over.
    const primaryPod = pods.get(primary);
    {
      const decision = firstRequired(FAILOVER_CHECKERS, {
        name: primary,
        podPresent: live(primary) !== undefined,
        reachable: isPrimaryNow(primary),
        notReadySince: primaryPod ? notReadySince(primaryPod) : undefined,
        now: ctx.now(),
        graceMs: deps.failoverGraceMs ?? 10_000,
      });
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
      } else if (decision && chosen) {
        ctx.log.info(`failover: ${decision.checker}`, { reason: decision.reason, candidate: chosen.name });
        if (primaryPod !== undefined) {
          // Fence first: never two primaries. The old primary's process must be gone before a promotion.
          if (!primaryPod.metadata?.deletionTimestamp) await ignoreNotFound(deps.api.deleteNamespacedPod({ name: primary, namespace: req.namespace, body: { gracePeriodSeconds: 0 } }));
          topology = { reason: "Failover", message: `${decision.reason}; fencing ${primary} before promoting ${chosen.name}` };
          fencing = true;
        } else {
          // The old primary's data may hold WAL the new one never saw: it comes back as a fresh clone.
          // Its claim goes before the promotion, so no later step can start a pod on that data.
          if (claims.has(primary)) await ignoreNotFound(deps.api.deleteNamespacedPersistentVolumeClaim({ name: primary, namespace: req.namespace }));
          const ok = await promote(await target(podIp(chosen.name)!), 30);
          if (!ok) throw new Error(`failover: ${chosen.name} did not finish promotion within 30 s`);
          await setRoleLabel(chosen.name, "primary");
          steps.push({ step: "failover", outcome: "Updated", detail: `promoted ${chosen.name} (${decision.checker}: ${decision.reason})` });
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
      const liveService = services.get(name);
      if (!enabled) {
        if (liveService !== undefined) {
          await ignoreNotFound(deps.api.deleteNamespacedService({ name, namespace: req.namespace }));
          steps.push({ step: `service ${name}`, outcome: "Updated", detail: "deleted (disabled in spec.services)" });
        }
        continue;
      }
      if (liveService === undefined) {
        steps.push(await createIfMissing(`service ${name}`, () => deps.api.createNamespacedService({ namespace: req.namespace, body: service(cluster, name, selector) })));
      } else if (JSON.stringify(liveService.spec?.selector ?? {}) !== JSON.stringify(selector)) {
        // A merge patch would keep stale selector keys: replace the selector as a whole.
        await deps.api.patchNamespacedService({ name, namespace: req.namespace, body: [{ op: "replace", path: "/spec/selector", value: selector }] }, JSON_PATCH);
        steps.push({ step: `service ${name}`, outcome: "Updated", detail: "selector" });
      }
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

    const primaryIp = podIp(primary);
    const primaryProbe = probes.get(primary);
    let bootstrapped = false;
    const replicaNames = [...present].filter((n) => n !== primary).sort((a, b) => ordinalOf(a) - ordinalOf(b));
    // Right after a promotion too: the other replicas follow the new primary without waiting for another reconcile.
    if (primaryIp && primaryProbe?.reachable && !primaryProbe.inRecovery && !fencing) {
      const primaryTarget = await target(primaryIp);
      steps.push(await bootstrap(primaryIp, await superPassword(), spec, () => readSecret(names.appSecret, "password")));
      bootstrapped = true;
      const replicationPassword = await readSecret(names.replicationSecret, "password");
      if (await ensureReplicationRole(primaryTarget, REPLICATION_USER, replicationPassword)) steps.push({ step: "replication-role", outcome: "Created" });

      // Scale: keep the lowest-ordinal replicas, add the lowest free ordinals, never remove the primary.
      const keep = replicaNames.slice(0, Math.max(0, spec.instances - 1));
      const remove = replicaNames.slice(keep.length);
      const add: number[] = [];
      for (let n = 1; keep.length + add.length < spec.instances - 1; n++) if (!present.has(instanceName(req.name, n))) add.push(n);
      const wanted = [...keep, ...add.map((n) => instanceName(req.name, n))].sort((a, b) => ordinalOf(a) - ordinalOf(b));
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
        const claim = await createIfMissing(`claim ${name}`, () => deps.api.createNamespacedPersistentVolumeClaim({ namespace: req.namespace, body: instanceClaim(cluster, spec, n) }));
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
        const wantedConninfo = { ...streamingConninfo(primaryIp, name), password: replicationPassword };
        const change = firstRequired(FOLLOW_CHECKERS, { liveConninfo: r.primaryConninfo ?? "", liveSlot: r.primarySlotName ?? "", wantedConninfo, wantedSlot: replicationSlotName(name) });
        if (change) {
          await setAndReload(await target(ip), { primary_conninfo: renderConninfo(wantedConninfo), primary_slot_name: replicationSlotName(name) });
          steps.push({ step: `follow ${name}`, outcome: "Updated", detail: `${change.checker}: ${change.reason}` });
        }
      }
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
        };
      });
    const observation: Observation = {
      kind: "Observed",
      instances,
      primary,
      bootstrapped,
      wantedInstances: spec.instances,
      names,
      services: spec.services,
      ...(topology ? { topology } : {}),
    };
    const next = statusFor(obj.status, observation, generation, ctx.now());
    const written = await writeStatus(deps.status, obj as StatusObject<PostgresClusterStatus>, next);
    if (written.conflict) return { requeueAfterMs: 500 };
    if (topology?.reason === "Failover") return { requeueAfterMs: 250 }; // a failover in progress: look again soon
    const settled = next.conditions?.some((c) => c.type === "Progressing" && c.status === "False") ?? false;
    return { requeueAfterMs: settled ? (deps.healthRequeueMs ?? 30_000) : (deps.progressRequeueMs ?? 2000) };
  };

  /** Creates the bootstrap owner role and database on the primary when missing (idempotent). */
  async function bootstrap(host: string, password: string, spec: PostgresClusterSpec, ownerPassword: () => Promise<string>): Promise<StepResult> {
    const { owner, database } = spec.bootstrap;
    const client = new Client({ host, port: POSTGRES_PORT, user: "postgres", password, database: "postgres", connectionTimeoutMillis: timeoutMs });
    await client.connect();
    try {
      const created: string[] = [];
      const role = await client.query("select 1 from pg_roles where rolname = $1", [owner]);
      if (role.rowCount === 0) {
        // The password travels as a literal inside the statement; statements are never logged here.
        await client.query(`CREATE ROLE ${quoteIdent(owner)} LOGIN PASSWORD ${quoteLiteral(await ownerPassword())}`);
        created.push(`role ${owner}`);
      }
      const db = await client.query("select 1 from pg_database where datname = $1", [database]);
      if (db.rowCount === 0) {
        await client.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(owner)}`);
        created.push(`database ${database}`);
      }
      return created.length > 0 ? { step: "bootstrap", outcome: "Created", detail: created.join(", ") } : { step: "bootstrap", outcome: "Unchanged" };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
