// What a `kubectl get pods,postgrescluster,events --watch` would show of one PostgresCluster,
// as lines with the time since the watch began: pods created, restarted (a new container or a
// new pod on the same volume), ready or not, deleted; the current primary; the Ready and
// Progressing conditions; per-instance pending restarts; and the Kubernetes Events about the
// cluster. Polled (every 250 ms): a demo reads the cluster the way a user would.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { CLUSTER_LABEL, ROLE_LABEL } from "../../sdk/operator/cluster/objects";

/** What changed. `restart`: the instance's server started again (new container or new pod). */
export type ClusterChangeKind = "created" | "restart" | "ready" | "unready" | "terminating" | "deleted" | "primary" | "condition" | "pending-restart" | "event";

/** One observed change. */
export interface ClusterChange {
  /** When it was seen (ms since the epoch). */
  readonly at: number;
  readonly kind: ClusterChangeKind;
  /** The pod (instance) it is about, if any. */
  readonly pod?: string;
  /** The role label of that pod when the change was seen. */
  readonly role?: string;
  /** For `primary`: the previous and the new primary. */
  readonly from?: string;
  readonly to?: string;
  readonly text: string;
}

/** A running watch. */
export interface ClusterWatch {
  /** Every change seen so far, in order. */
  readonly changes: readonly ClusterChange[];
  /** The last status read. */
  status(): PostgresClusterStatus | undefined;
  /** The pods as last listed. */
  pods(): readonly V1Pod[];
  stop(): Promise<void>;
}

interface PodView {
  uid: string;
  ready: boolean;
  restartCount: number;
  startedAt?: string;
  terminating: boolean;
}

function view(pod: V1Pod): PodView {
  const c = pod.status?.containerStatuses?.[0];
  const startedAt = c?.state?.running?.startedAt;
  return {
    uid: pod.metadata?.uid ?? "",
    ready: pod.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True") ?? false,
    restartCount: c?.restartCount ?? 0,
    startedAt: startedAt === undefined ? undefined : new Date(startedAt).toISOString(),
    terminating: pod.metadata?.deletionTimestamp !== undefined,
  };
}

/**
 * Starts watching cluster `name` in `namespace`; `print` gets each change as a line.
 * Reads that fail (the API server busy) are retried on the next tick.
 */
export function watchCluster(opts: { kubeConfig: KubeConfig; namespace: string; name: string; print: (line: string) => void; intervalMs?: number }): ClusterWatch {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const objects = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  const began = Date.now();
  const changes: ClusterChange[] = [];
  const podViews = new Map<string, PodView>();
  const everSeen = new Set<string>();
  const seenEvents = new Set<string>();
  const conditions = new Map<string, string>();
  const pending = new Set<string>();
  let primary: string | undefined;
  let lastStatus: PostgresClusterStatus | undefined;
  let lastPods: V1Pod[] = [];
  let stopped = false;

  const record = (change: Omit<ClusterChange, "at">): void => {
    const c = { at: Date.now(), ...change };
    changes.push(c);
    opts.print(`+${((c.at - began) / 1000).toFixed(1).padStart(5)} s  ${c.text}`);
  };

  const podChanges = (pods: V1Pod[]): void => {
    const names = new Set<string>();
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      const role = pod.metadata?.labels?.[ROLE_LABEL];
      names.add(name);
      const now = view(pod);
      const before = podViews.get(name);
      podViews.set(name, now);
      const as = role ? ` (${role})` : "";
      const known = everSeen.has(name);
      everSeen.add(name);
      if (!before && !known) {
        record({ kind: "created", pod: name, role, text: `pod ${name}${as} created` });
      } else if (!before || before.uid !== now.uid) {
        record({ kind: "restart", pod: name, role, text: `pod ${name}${as} re-created: server restarted` });
      } else if (now.startedAt !== undefined && before.startedAt !== undefined && now.startedAt !== before.startedAt) {
        record({ kind: "restart", pod: name, role, text: `pod ${name}${as}: server restarted (restart count ${now.restartCount})` });
      }
      if (now.terminating && !before?.terminating) record({ kind: "terminating", pod: name, role, text: `pod ${name}${as} terminating` });
      if (now.ready !== (before?.ready ?? false) && !now.terminating) {
        record({ kind: now.ready ? "ready" : "unready", pod: name, role, text: `pod ${name}${as} ${now.ready ? "ready" : "not ready"}${now.ready ? ` at ${pod.status?.podIP ?? "?"}` : ""}` });
      }
    }
    for (const name of [...podViews.keys()]) {
      if (names.has(name)) continue;
      podViews.delete(name);
      record({ kind: "deleted", pod: name, text: `pod ${name} deleted` });
    }
  };

  const statusChanges = (status: PostgresClusterStatus | undefined): void => {
    if (status?.currentPrimary !== undefined && status.currentPrimary !== primary) {
      if (primary !== undefined) record({ kind: "primary", from: primary, to: status.currentPrimary, text: `primary: ${primary} -> ${status.currentPrimary}` });
      else record({ kind: "primary", to: status.currentPrimary, text: `primary: ${status.currentPrimary}` });
      primary = status.currentPrimary;
    }
    for (const c of status?.conditions ?? []) {
      if (c.type !== "Ready" && c.type !== "Progressing") continue;
      const text = `${c.type}=${c.status} ${c.reason}${c.message ? `: ${c.message}` : ""}`;
      if (conditions.get(c.type) === text) continue;
      conditions.set(c.type, text);
      record({ kind: "condition", text: `cluster ${text}` });
    }
    for (const i of status?.instances ?? []) {
      if (i.pendingRestart === true && !pending.has(i.name)) {
        pending.add(i.name);
        record({ kind: "pending-restart", pod: i.name, role: i.role, text: `instance ${i.name} (${i.role}): pending restart` });
      } else if (i.pendingRestart !== true) pending.delete(i.name);
    }
  };

  const tick = async (): Promise<void> => {
    const cluster = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: opts.namespace, plural: KINDS.PostgresCluster.plural, name: opts.name }).catch(() => undefined)) as
      | { status?: PostgresClusterStatus }
      | undefined;
    const pods = (await core.listNamespacedPod({ namespace: opts.namespace, labelSelector: `${CLUSTER_LABEL}=${opts.name}` })).items.sort((a, b) =>
      a.metadata!.name!.localeCompare(b.metadata!.name!),
    );
    lastPods = pods;
    lastStatus = cluster?.status;
    podChanges(pods);
    statusChanges(cluster?.status);
    const events = await core.listNamespacedEvent({ namespace: opts.namespace, fieldSelector: `involvedObject.name=${opts.name}` });
    for (const e of events.items) {
      const key = `${e.metadata?.uid ?? ""}/${e.count ?? 1}`;
      if (seenEvents.has(key)) continue;
      seenEvents.add(key);
      record({ kind: "event", text: `event ${e.type ?? ""} ${e.reason ?? ""}: ${e.message ?? ""}` });
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await sleep(opts.intervalMs ?? 250);
    }
  })();

  return {
    changes,
    status: () => lastStatus,
    pods: () => lastPods,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
