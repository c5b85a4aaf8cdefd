/**
 * The traffic switch of an upgrade whose blue cluster has a managed pooler (ADR 0033): blue's
 * own PgBouncer pods (ADR 0022) are the switch. `pause` first does everything that needs no held
 * client (copies the verifiers to green, computes both sides' `pgbouncer.ini`, marks the pods,
 * opens an admin console per pod), then holds the clients (`PAUSE`, which returns once every
 * server connection is released); `pointTo` moves blue's rw Service (direct clients) and, at the
 * same time, replaces the pooler's `pgbouncer.ini` with the side's primary, announces it to the
 * pods (a pod update makes the kubelet refresh the volume at once) and sends `RELOAD` every 50 ms
 * on the open console until `SHOW DATABASES` shows the new host on every pod; `resume` lets the
 * held clients go on — to green. Clients wait instead of failing.
 *
 * The pods are annotated {@link POOLER_PAUSED_ANNOTATION} before `PAUSE`, as the cluster
 * controller does for a switchover: while an upgrade owns the traffic the cluster controller
 * leaves the pooler's files alone, and if this operator dies with the clients held, the cluster
 * controller resumes them after {@link POOLER_PAUSE_LIMIT_MS}.
 *
 * SCRAM pass-through needs the server's verifier to be the one in the pooler's auth file, which
 * holds blue's verifiers: before pointing at green, the verifier of each pooler role that exists
 * on green is copied from blue (`ALTER ROLE … PASSWORD '<verifier>'`: PostgreSQL stores a
 * verifier given to it as is), so the application's password works through the pooler on both.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import type { Client } from "pg";
import { pgClient } from "../../postgres/client";
import { API_VERSION } from "../../api/common";
import { poolerObjectNames } from "../../api/names";
import { quoteIdent, quoteLiteral } from "../../postgres/quote";
import { TrafficSwitchError, type TrafficSwitchFailure, type TrafficSwitchOperation } from "../../upgrade/traffic-error";
import type { PauseOptions, Side, TrafficSwitch } from "../../upgrade/traffic";
import { withClient, type InstanceTarget, type OperatorTls } from "../cluster/instance-sql";
import { POOLER_CONFIG_HASH_ANNOTATION, POOLER_INI, POOLER_LABEL, POOLER_PAUSED_ANNOTATION, dataHash, poolerConfigMap, poolerIni, type PoolerSpec } from "../cluster/pooler";
import { consoleConfig, pausePooler, probePooler, readPoolerSource, resumePooler, type PoolerTarget } from "../cluster/pooler-sql";
import { verifiedPoolerName } from "../cluster/tls";
import { POOLER_CHANGED_ANNOTATION, POOLER_PAUSE_LIMIT_MS } from "../cluster/pooler-sync";

export { POOLER_PAUSE_LIMIT_MS };

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
/** How long `pointTo` waits for every PgBouncer to show the new host. */
const POINT_TIMEOUT_MS = 15_000;
const RELOAD_EVERY_MS = 50;

/** One side's primary as the switch reaches it (superuser, for reading databases and verifiers). */
export interface PoolerSide {
  readonly host: string;
  readonly password: string;
  /** The operator's TLS identity towards this side (ADR 0035). */
  readonly tls?: OperatorTls;
}

/** Options of {@link managedPoolerSwitch}. */
export interface ManagedPoolerSwitchOptions {
  readonly api: Pick<CoreV1Api, "listNamespacedPod" | "patchNamespacedPod" | "replaceNamespacedConfigMap" | "readNamespacedSecret">;
  readonly namespace: string;
  /** Blue's PostgresCluster (owner of the pooler's objects). */
  readonly blueCluster: { readonly name: string; readonly uid: string };
  readonly pooler: PoolerSpec;
  readonly blue: PoolerSide;
  readonly green: PoolerSide;
  /** Blue's rw Service switch: moved along, for clients that bypass the pooler. */
  readonly service: TrafficSwitch;
  /** Admin console connect/query timeout. @default 3000 */
  readonly timeoutMs?: number;
}

/** Builds the managed pooler's traffic switch (see the module documentation). */
export function managedPoolerSwitch(o: ManagedPoolerSwitchOptions): TrafficSwitch {
  const names = poolerObjectNames(o.blueCluster.name);
  const timeoutMs = o.timeoutMs ?? 3000;
  const owner = { apiVersion: API_VERSION, kind: "PostgresCluster", metadata: { name: o.blueCluster.name, namespace: o.namespace, uid: o.blueCluster.uid } };
  const fail = (operation: TrafficSwitchOperation, reason: TrafficSwitchFailure, message: string, s?: Side): TrafficSwitchError =>
    new TrafficSwitchError({ switchKind: "managed-pooler", operation, reason, object: `${o.namespace}/${names.service}`, ...(s ? { side: s } : {}) }, message);
  let adminPassword: string | undefined;
  const admin = async (): Promise<string> => {
    if (adminPassword === undefined) {
      const s = await o.api.readNamespacedSecret({ name: names.adminSecret, namespace: o.namespace });
      const v = s.data?.password;
      if (v === undefined) throw fail("pause", "not-found", `secret ${names.adminSecret} has no key "password"`);
      adminPassword = Buffer.from(v, "base64").toString("utf8");
    }
    return adminPassword;
  };
  const running = async (): Promise<V1Pod[]> => {
    const list = await o.api.listNamespacedPod({ namespace: o.namespace, labelSelector: `${POOLER_LABEL}=${o.blueCluster.name}` });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.podIP && (p.status.containerStatuses?.some((c) => c.state?.running) ?? false));
  };
  // PgBouncer's certificate is issued by blue's authority for blue's pooler Service (ADR 0044).
  const poolerTls = o.blue.tls === undefined ? undefined : { ca: o.blue.tls.ca, serverName: verifiedPoolerName(o.blueCluster.name, o.namespace) };
  const target = async (pod: V1Pod): Promise<PoolerTarget> => ({ host: pod.status!.podIP!, password: await admin(), timeoutMs, ...(poolerTls ? { tls: poolerTls } : {}) });
  const side = (s: Side): PoolerSide => (s === "blue" ? o.blue : o.green);
  const instance = (s: PoolerSide): InstanceTarget => ({ host: s.host, password: s.password, timeoutMs: 5000, ...(s.tls ? { tls: s.tls } : {}) });

  /** Both sides' files, computed before the pause (the verifiers copied to green first). */
  const filesFor = async (s: Side): Promise<{ ini: string; databases: readonly string[] }> => {
    const to = side(s);
    const databases = (await readPoolerSource(instance(to))).databases;
    return { ini: poolerIni(o.pooler, to.host, databases), databases };
  };
  let prepared: { pods: V1Pod[]; files: Record<Side, { ini: string; databases: readonly string[] }> } | undefined;
  /** Admin console connections kept open for the switch (RELOAD, SHOW DATABASES, RESUME without a login each). */
  const consoles = new Map<string, Client>();
  const consoleOf = async (pod: V1Pod): Promise<Client> => {
    const t = await target(pod);
    let c = consoles.get(t.host);
    if (!c) {
      c = pgClient(consoleConfig(t, timeoutMs));
      await c.connect();
      consoles.set(t.host, c);
    }
    return c;
  };
  const prepare = async (): Promise<void> => {
    const pods = await running();
    await copyVerifiers(instance(o.blue), instance(o.green));
    const [blueFiles, greenFiles] = await Promise.all([filesFor("blue"), filesFor("green")]);
    const at = new Date().toISOString();
    await Promise.all(
      pods.map(async (pod) => {
        // Marked before PAUSE, so an operator that dies holding the clients leaves a pause the cluster controller ends.
        await o.api.patchNamespacedPod({ name: pod.metadata!.name!, namespace: o.namespace, body: { metadata: { annotations: { [POOLER_PAUSED_ANNOTATION]: at } } } }, MERGE_PATCH);
        await consoleOf(pod);
      }),
    );
    prepared = { pods, files: { blue: blueFiles, green: greenFiles } };
  };
  const notPaused = (err: unknown): void => {
    if (!/not paused|not suspended/i.test(err instanceof Error ? err.message : "")) throw err;
  };

  return {
    kind: "managed-pooler",
    canPause: true,
    async current(): Promise<Side> {
      const pods = await running();
      if (pods.length === 0) return o.service.current();
      for (const pod of pods) {
        const hosts = Object.values((await probePooler(await target(pod))).hosts);
        if (!(hosts.length > 0 && hosts.every((h) => h === o.green.host))) return "blue";
      }
      // Green only when every PgBouncer and the direct clients' Service lead to green's primary (one pointTo moves all).
      return (await o.service.current().catch(() => "blue" as const)) === "green" ? "green" : "blue";
    },
    prepare,
    async pause(p: PauseOptions): Promise<void> {
      // Everything that needs no held client first (the engine calls prepare itself, before its pause).
      if (!prepared) await prepare();
      await Promise.all(
        prepared!.pods.map(async (pod) => {
          if (!(await pausePooler(await target(pod), Math.min(p.timeoutMs, POOLER_PAUSE_LIMIT_MS / 2)))) throw fail("pause", "pause-timeout", `${pod.metadata!.name!}: PAUSE not complete in time`);
        }),
      );
    },
    async resume(): Promise<void> {
      const pods = prepared?.pods ?? (await running());
      await Promise.all(
        pods.map(async (pod) => {
          const t = await target(pod);
          await (consoles.has(t.host) ? consoles.get(t.host)!.query("RESUME").catch(notPaused) : resumePooler(t));
        }),
      );
      await Promise.all(
        pods.map((pod) =>
          o.api
            .patchNamespacedPod({ name: pod.metadata!.name!, namespace: o.namespace, body: [{ op: "remove", path: `/metadata/annotations/${POOLER_PAUSED_ANNOTATION.replace("/", "~1")}` }] }, JSON_PATCH)
            .catch(() => undefined), // already gone
        ),
      );
    },
    async pointTo(s: Side): Promise<void> {
      const to = side(s);
      const { ini, databases } = prepared?.files[s] ?? (await filesFor(s));
      const body = poolerConfigMap(owner, ini);
      const iniHash = dataHash({ [POOLER_INI]: ini });
      const pods = prepared?.pods ?? (await running());
      const at = new Date().toISOString();
      const deadline = Date.now() + POINT_TIMEOUT_MS;
      await Promise.all([
        o.service.pointTo(s),
        (async () => {
          await o.api.replaceNamespacedConfigMap({ name: names.configMap, namespace: o.namespace, body });
          await Promise.all(
            pods.map(async (pod) => {
              // The pod's files hash is "<ini>.<auth>.<serial>.<trust>" (poolerFilesHash, pooler-sync.ts): only the ini part changes.
              const auth = (pod.metadata?.annotations?.[POOLER_CONFIG_HASH_ANNOTATION] ?? ".").split(".").slice(1).join(".");
              await o.api.patchNamespacedPod(
                { name: pod.metadata!.name!, namespace: o.namespace, body: { metadata: { annotations: { [POOLER_CONFIG_HASH_ANNOTATION]: `${iniHash}.${auth}`, [POOLER_CHANGED_ANNOTATION]: at } } } },
                MERGE_PATCH,
              );
              const c = await consoleOf(pod);
              for (;;) {
                await c.query("RELOAD");
                const rows = (await c.query<{ name: string; host: string | null }>("SHOW DATABASES")).rows;
                const hosts = Object.fromEntries(rows.map((r) => [r.name, r.host ?? ""]));
                if (databases.every((d) => hosts[d] === to.host)) return;
                if (Date.now() > deadline) throw fail("pointTo", "not-applied", `${pod.metadata!.name!} still points at ${JSON.stringify(hosts)} after ${POINT_TIMEOUT_MS} ms`, s);
                await sleep(RELOAD_EVERY_MS);
              }
            }),
          );
        })(),
      ]);
    },
    async close(): Promise<void> {
      for (const c of consoles.values()) await c.end().catch(() => undefined);
      consoles.clear();
      await o.service.close();
    },
  };
}

/**
 * Copies the SCRAM verifier of every non-superuser login role of `from` onto the same role on
 * `to` when it exists there and differs (see the module documentation). Idempotent.
 */
export async function copyVerifiers(from: InstanceTarget, to: InstanceTarget): Promise<number> {
  const roles = (await readPoolerSource(from)).roles;
  return withClient(to, async (c) => {
    const have = await c.query<{ name: string; verifier: string | null }>("select rolname as name, rolpassword as verifier from pg_catalog.pg_authid");
    const current = new Map(have.rows.map((r) => [r.name, r.verifier]));
    let copied = 0;
    for (const r of roles) {
      if (!current.has(r.name) || current.get(r.name) === r.verifier) continue;
      // A verifier, never a password: PostgreSQL stores it as given. Statements are never logged.
      await c.query(`ALTER ROLE ${quoteIdent(r.name)} PASSWORD ${quoteLiteral(r.verifier)}`);
      copied++;
    }
    return copied;
  });
}
