/**
 * The `PostgresCluster` reconciler (ADR 0004): observe once — the cluster and its children from
 * the informer caches, and each running instance's database role over a short timeout that may
 * fail — then small idempotent steps, each creating or correcting one kind of child, and status
 * last with `observedGeneration`.
 *
 * Steps, in order: credential Secrets (passwords generated once, never logged), one
 * PersistentVolumeClaim and one Pod per instance, the rw / ro Services (rw selects exactly the
 * primary's pod), and the bootstrap database and owner on the primary once it accepts
 * connections. This first version runs the primary only: streaming replicas are not created yet,
 * which status says (`Progressing`, reason `ReplicasNotImplemented`) when `instances > 1`.
 */
import type { CoreV1Api, KubernetesObject, V1PersistentVolumeClaim, V1Pod, V1Service } from "@kubernetes/client-node";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { Client } from "pg";
import { parsePostgresClusterSpec } from "../../api/parse";
import { clusterObjectNames, instanceName, POSTGRES_PORT } from "../../api/names";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import { InputError } from "../../errors";
import { randomPassword } from "../../postgres/embedded";
import { quoteIdent, quoteLiteral } from "../../postgres/quote";
import { controllerOf } from "../../reconcile/owners";
import { requestKey, type ReconcileContext, type Request, type Result } from "../../reconcile/index";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { writeStatus, type StatusApi, type StatusObject } from "../../reconcile/internal/status";
import { appSecret, instanceClaim, instancePod, readOnlySelector, readWriteSelector, service, superuserSecret, type ClusterObject } from "./objects";
import { statusFor, type InstanceObservation, type Observation } from "./status";

/** A `PostgresCluster` as read from the informer cache (spec unvalidated). */
export interface PostgresClusterObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresClusterStatus;
}

/** What one instance's database says about itself. */
export type InstanceProbe = { readonly reachable: true; readonly inRecovery: boolean } | { readonly reachable: false; readonly error: string };

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
    "createNamespacedSecret" | "createNamespacedPersistentVolumeClaim" | "createNamespacedPod" | "createNamespacedService" | "patchNamespacedService" | "deleteNamespacedService" | "readNamespacedSecret"
  >;
  /** Where status is written (the `postgresclusters` status subresource). */
  readonly status: StatusApi;
  /** Asks an instance for its role. @default a connection to `podIP:5432` as the superuser */
  readonly probe?: (host: string, password: string, timeoutMs: number) => Promise<InstanceProbe>;
  /** Timeout of each instance probe and bootstrap connection. @default 3000 ms */
  readonly probeTimeoutMs?: number;
  /** Look again this soon while the cluster is not Ready. @default 2000 ms */
  readonly progressRequeueMs?: number;
  /** Look again this often once Ready (health). @default 30_000 ms */
  readonly healthRequeueMs?: number;
}

const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

/** One step's outcome, logged by name (never with secret values). */
interface StepResult {
  readonly step: string;
  readonly outcome: "Created" | "Updated" | "Unchanged" | "Waiting";
  readonly detail?: string;
}

/** The primary's database role `SELECT` over a short-lived connection. */
async function defaultProbe(host: string, password: string, timeoutMs: number): Promise<InstanceProbe> {
  const client = new Client({ host, port: POSTGRES_PORT, user: "postgres", password, database: "postgres", connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  try {
    await client.connect();
    const res = await client.query<{ r: boolean }>("select pg_is_in_recovery() as r");
    return { reachable: true, inRecovery: res.rows[0]?.r ?? false };
  } catch (err) {
    return { reachable: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
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

    // Observe once: children from the caches, then each running instance's role.
    const uid = cluster.metadata.uid;
    const mine = <T extends KubernetesObject>(cache: Cache<T>): Map<string, T> =>
      new Map(cache.list().filter((o) => o.metadata?.namespace === req.namespace && controllerOf(o)?.uid === uid).map((o) => [o.metadata!.name!, o]));
    const pods = mine(deps.pods);
    const claims = mine(deps.claims);
    const services = mine(deps.services);
    const secrets = mine(deps.secrets);
    const names = clusterObjectNames(req.name);
    const readSecret = async (name: string, key: string): Promise<string> => {
      const s = await deps.api.readNamespacedSecret({ name, namespace: req.namespace });
      const v = s.data?.[key];
      if (v === undefined) throw new Error(`secret ${req.namespace}/${name} has no key "${key}"`);
      return Buffer.from(v, "base64").toString("utf8");
    };
    const instances: InstanceObservation[] = [];
    let superPassword: string | undefined;
    for (const [name, pod] of [...pods].sort(([a], [b]) => a.localeCompare(b))) {
      const ip = pod.status?.podIP;
      let result: InstanceProbe = { reachable: false, error: "no pod IP yet" };
      if (ip && pod.status?.containerStatuses?.some((c) => c.state?.running)) {
        superPassword ??= await readSecret(names.superuserSecret, "password");
        result = await probe(ip, superPassword, timeoutMs);
      }
      instances.push({ name, podReady: isPodReady(pod), probe: result, ip });
    }

    // Act: small idempotent steps.
    const steps: StepResult[] = [];
    if (!secrets.has(names.superuserSecret)) {
      steps.push(await createIfMissing("superuser-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: superuserSecret(cluster, randomPassword()) })));
    }
    if (!secrets.has(names.appSecret)) {
      steps.push(await createIfMissing("app-secret", () => deps.api.createNamespacedSecret({ namespace: req.namespace, body: appSecret(cluster, spec, randomPassword()) })));
    }
    // This version runs the first instance only (the primary); see the module documentation.
    const primaryOrdinal = 1;
    const primary = instanceName(req.name, primaryOrdinal);
    if (!claims.has(primary)) {
      steps.push(await createIfMissing("claim", () => deps.api.createNamespacedPersistentVolumeClaim({ namespace: req.namespace, body: instanceClaim(cluster, spec, primaryOrdinal) })));
    }
    if (!pods.has(primary)) {
      steps.push(await createIfMissing("pod", () => deps.api.createNamespacedPod({ namespace: req.namespace, body: instancePod(cluster, spec, primaryOrdinal, "primary") })));
    }
    const wantServices: [string, Record<string, string>, boolean][] = [
      [names.readWriteService, readWriteSelector(cluster, primary), spec.services.rw],
      [names.readOnlyService, readOnlySelector(cluster), spec.services.ro],
    ];
    for (const [name, selector, enabled] of wantServices) {
      const live = services.get(name);
      if (!enabled) {
        if (live !== undefined) {
          await deps.api.deleteNamespacedService({ name, namespace: req.namespace }).catch((err: unknown) => {
            if (apiStatusCode(err) !== 404) throw err;
          });
          steps.push({ step: `service ${name}`, outcome: "Updated", detail: "deleted (disabled in spec.services)" });
        }
        continue;
      }
      if (live === undefined) {
        steps.push(await createIfMissing(`service ${name}`, () => deps.api.createNamespacedService({ namespace: req.namespace, body: service(cluster, name, selector) })));
      } else if (JSON.stringify(live.spec?.selector ?? {}) !== JSON.stringify(selector)) {
        // A merge patch would keep stale selector keys: replace the selector as a whole.
        await deps.api.patchNamespacedService({ name, namespace: req.namespace, body: [{ op: "replace", path: "/spec/selector", value: selector }] }, JSON_PATCH);
        steps.push({ step: `service ${name}`, outcome: "Updated", detail: "selector" });
      }
    }
    const primaryObs = instances.find((i) => i.name === primary);
    let bootstrapped = false;
    if (primaryObs?.probe.reachable && !primaryObs.probe.inRecovery && primaryObs.ip) {
      superPassword ??= await readSecret(names.superuserSecret, "password");
      const step = await bootstrap(primaryObs.ip, superPassword, spec, () => readSecret(names.appSecret, "password"));
      steps.push(step);
      bootstrapped = true;
    }
    for (const s of steps) if (s.outcome !== "Unchanged") ctx.log.info(`step ${s.step}: ${s.outcome}`, s.detail ? { detail: s.detail } : undefined);

    const observation: Observation = {
      kind: "Observed",
      instances,
      primary,
      bootstrapped,
      wantedInstances: spec.instances,
      names,
      services: spec.services,
    };
    const next = statusFor(obj.status, observation, generation, ctx.now());
    const written = await writeStatus(deps.status, obj as StatusObject<PostgresClusterStatus>, next);
    if (written.conflict) return { requeueAfterMs: 500 };
    const ready = next.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    return { requeueAfterMs: ready ? (deps.healthRequeueMs ?? 30_000) : (deps.progressRequeueMs ?? 2000) };
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
