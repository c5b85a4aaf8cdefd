/**
 * The cluster controller's decisions as data (STYLE rule 4): ordered lists of named checkers,
 * each answering `{ required, reason }` for one snapshot; the first that requires an action
 * names it, and its reason reaches the log and status.
 *
 * - {@link FAILOVER_CHECKERS}: must the primary be replaced (fence it, promote a replica)?
 * - {@link PROMOTION_GUARDS}: may it be, without losing acknowledged commits?
 * - {@link FOLLOW_CHECKERS}: must a replica's streaming configuration change (it follows the
 *   wrong primary, with the wrong credentials or slot)? The parameters involved are reloadable
 *   (PostgreSQL 13+), so the action is ALTER SYSTEM + reload, never a restart.
 * - {@link RESTART_CHECKERS}: must an instance restart (parameters pending a restart)?
 * - {@link ROLLING_GUARDS} and {@link PRIMARY_UPDATE_GUARDS}: may a replica, then the primary,
 *   be restarted or switched over now (one at a time, replicas first, supervised waits)?
 * - {@link SWITCHOVER_GUARDS}: may a switchover's target be promoted (old primary down, target
 *   past the fence LSN and the most advanced)?
 * - {@link GROW_GUARDS}: may a volume grow now (threshold crossed, no expansion running, below
 *   the limit)?
 */
import { lsnBytes, parseConninfo } from "./instance-sql";

/** One checker's answer. */
export interface Decision {
  readonly required: boolean;
  readonly reason: string;
}

/** A named check over a snapshot `T`. */
export interface Checker<T> {
  readonly name: string;
  check(input: T): Decision;
}

/** The first checker (in order) that requires action, with its reason; undefined when none does. */
export function firstRequired<T>(checkers: readonly Checker<T>[], input: T): { readonly checker: string; readonly reason: string } | undefined {
  for (const c of checkers) {
    const d = c.check(input);
    if (d.required) return { checker: c.name, reason: d.reason };
  }
  return undefined;
}

/** What the failover checkers look at. */
export interface PrimaryHealth {
  readonly name: string;
  /** The pod exists and is not being deleted. */
  readonly podPresent: boolean;
  /** The database answered the probe as a primary. */
  readonly reachable: boolean;
  /** Since when the pod has not been Ready (undefined when it is). */
  readonly notReadySince?: Date;
  readonly now: Date;
  /** How long an unready, unreachable primary is given to come back before it is replaced. */
  readonly graceMs: number;
  /** The primary is being restarted in place (a decided restart, not a loss) until then. */
  readonly restartingUntil?: Date;
  /**
   * The kubelet reports that the primary's container exited since the pod was last Ready
   * ({@link containerExitedSince}): its server is gone, whatever the kubelet does next.
   */
  readonly containerExited?: boolean;
}

const restarting = (p: PrimaryHealth): boolean => p.restartingUntil !== undefined && p.now.getTime() < p.restartingUntil.getTime();

/**
 * Ordered: a deleted pod is certain, and so is a container the kubelet saw exit (ADR 0038); an
 * unready, unreachable one whose container still runs (hung, overloaded, cut off) only after its
 * grace period. None while the controller itself restarts the primary in place (bounded by
 * `restartingUntil`).
 */
export const FAILOVER_CHECKERS: readonly Checker<PrimaryHealth>[] = [
  {
    name: "PrimaryPodGone",
    check: (p) => ({ required: !p.podPresent && !restarting(p), reason: `the primary's pod ${p.name} is gone or being deleted` }),
  },
  {
    name: "PrimaryContainerExited",
    check: (p) => ({
      required: p.containerExited === true && !p.reachable && p.notReadySince !== undefined && !restarting(p),
      reason: `the primary's container in ${p.name} exited (its kubelet reports it): its server is gone, a replica takes over without waiting for a restart`,
    }),
  },
  {
    name: "PrimaryUnreachable",
    check: (p) => {
      const downMs = p.notReadySince ? p.now.getTime() - p.notReadySince.getTime() : 0;
      return {
        required: !p.reachable && p.notReadySince !== undefined && downMs >= p.graceMs && !restarting(p),
        reason: `primary ${p.name} has been unready and unreachable for ${Math.round(downMs / 1000)} s (grace ${Math.round(p.graceMs / 1000)} s)`,
      };
    },
  },
];

/** The part of a pod's status {@link containerExitedSince} reads. */
export interface ContainerView {
  readonly status?: {
    readonly containerStatuses?: readonly {
      readonly restartCount?: number;
      readonly state?: { readonly running?: { readonly startedAt?: Date | string }; readonly waiting?: object; readonly terminated?: object };
      readonly lastState?: { readonly terminated?: object };
    }[];
  };
}

/**
 * Whether the kubelet reports that the pod's (first) container exited since `unreadySince`, the
 * start of the pod's current unready spell. Pure. Evidence, each written by the kubelet only after
 * it saw the process end: the container is terminated; or it waits to be started again after an
 * exit (`lastState.terminated`, the restart backoff); or it runs but was started again at or after
 * the spell began (timestamps have 1 s resolution: same second counts), so the one that was Ready
 * before it exited. A first start (waiting, no exit yet) and a container that runs since before
 * the spell (a hung or slow server) are not exits: the failover grace covers those.
 */
export function containerExitedSince(pod: ContainerView | undefined, unreadySince: Date | undefined): boolean {
  const c = pod?.status?.containerStatuses?.[0];
  if (c === undefined || unreadySince === undefined) return false;
  if (c.state?.terminated !== undefined) return true;
  if (c.state?.waiting !== undefined) return c.lastState?.terminated !== undefined;
  const started = c.state?.running?.startedAt;
  if (started === undefined || (c.restartCount ?? 0) === 0) return false;
  return Math.floor(new Date(started).getTime() / 1000) >= Math.floor(unreadySince.getTime() / 1000);
}

/**
 * Grace period of the fence's deletion of an old primary (ADR 0026). Never 0: a deletion with
 * grace 0 is a force delete, which removes the pod object at once while its containers may still
 * run (the kubelet stops them afterwards, at least 2 s later for a hung one), so a promotion that
 * follows the object's disappearance could run beside a live old primary that still acknowledges
 * commits. With a grace period the kubelet removes the object only once every container has
 * stopped: the object's disappearance is the kubelet's confirmation. 1 s: the old primary is dead
 * or unresponsive already; its manager turns SIGTERM into a fast shutdown, SIGKILL follows.
 */
export const FENCE_GRACE_SECONDS = 1;

/** After this long without the kubelet's confirmation, the fence's status names what a human can do. */
export const FENCE_STUCK_MS = 20_000;

/** The deletion that fences the old primary's pod `uid` (never a force delete). Pure. */
export function fenceDeletion(uid: string | undefined): { gracePeriodSeconds: number; preconditions?: { uid: string } } {
  return { gracePeriodSeconds: FENCE_GRACE_SECONDS, ...(uid === undefined ? {} : { preconditions: { uid } }) };
}

/**
 * Whether the kubelet has confirmed that a pod being deleted runs no container any more. Pure.
 * Either its object is gone (the caller passes undefined), or it is being deleted and the kubelet
 * has written a terminal phase (`Failed`/`Succeeded`): a kubelet moves a deleted pod to a
 * terminal phase only once every container stopped, and never starts one again, before it
 * cleans up volumes and cgroups and removes the object (seconds later on a loaded node).
 * A terminal phase without a deletion is not enough: nothing said the kubelet had finished.
 */
export function fenceConfirmed(pod: { metadata?: { deletionTimestamp?: Date | string }; status?: { phase?: string } } | undefined): boolean {
  if (pod === undefined) return true;
  const phase = pod.status?.phase;
  return pod.metadata?.deletionTimestamp !== undefined && (phase === "Failed" || phase === "Succeeded");
}

/**
 * What the status says while the fence waits for the kubelet to confirm `pod` stopped. Pure.
 * @param deletingSince the pod's deletionTimestamp (undefined: the deletion was just sent).
 */
export function fenceWaitMessage(pod: string, candidate: string, deletingSince: Date | undefined, now: Date): string {
  const base = `fencing ${pod} before promoting ${candidate}: waiting for its kubelet to confirm its containers stopped`;
  if (deletingSince === undefined || now.getTime() - deletingSince.getTime() < FENCE_STUCK_MS) return base;
  return `${base} (${Math.round((now.getTime() - deletingSince.getTime()) / 1000)} s so far: its node may be down; once the machine is known to be off, taint the node node.kubernetes.io/out-of-service=nodeshutdown:NoExecute or delete the pod with --force, and the failover proceeds)`;
}

/** Annotation on a PostgresCluster that allows a failover which may lose acknowledged commits. */
export const ALLOW_DATA_LOSS_ANNOTATION = "setpoint.dev/allow-data-loss-failover";

/** What the promotion guards look at. */
export interface PromotionInput {
  /** `spec.synchronous`, if any. */
  readonly synchronous?: { readonly number: number };
  /** Replicas listed in `synchronous_standby_names` (every replica but the primary). */
  readonly listedReplicas: number;
  /** Replicas reachable now, in recovery (the candidates). */
  readonly reachableReplicas: number;
  /** The cluster carries {@link ALLOW_DATA_LOSS_ANNOTATION} = "true". */
  readonly allowDataLoss: boolean;
}

/**
 * Ordered reasons to refuse a promotion (`required` = refuse). With `n` of `k` replicas
 * synchronous, every acknowledged commit is on at least `n` of them, so any `k - n + 1` include
 * one that has it, and the most advanced of those has them all; with fewer (or asynchronous
 * replication) a promotion may lose commits, and only the annotation allows it.
 */
export const PROMOTION_GUARDS: readonly Checker<PromotionInput>[] = [
  {
    name: "AsynchronousReplication",
    check: (p) => ({
      required: p.synchronous === undefined && !p.allowDataLoss,
      reason: `replication is asynchronous: promoting a replica may lose acknowledged commits; set spec.synchronous, or annotate the cluster ${ALLOW_DATA_LOSS_ANNOTATION}=true to fail over anyway`,
    }),
  },
  {
    name: "SynchronousQuorumUnreachable",
    check: (p) => {
      const needed = p.synchronous ? p.listedReplicas - p.synchronous.number + 1 : 0;
      return {
        required: p.synchronous !== undefined && p.reachableReplicas < needed && !p.allowDataLoss,
        reason: `${p.reachableReplicas} of ${p.listedReplicas} replicas reachable, ${needed} needed to be sure of every acknowledged commit; annotate the cluster ${ALLOW_DATA_LOSS_ANNOTATION}=true to fail over anyway`,
      };
    },
  },
];

/** A replica as a failover candidate. */
export interface Candidate {
  readonly name: string;
  readonly ordinal: number;
  /** Last replayed WAL position. */
  readonly replayLsn?: string;
  /** Last received WAL position. */
  readonly receiveLsn?: string;
}

/**
 * The replica to promote: the most advanced (received, then replayed WAL), lowest ordinal on ties.
 * @returns undefined when there is no candidate.
 */
export function pickCandidate(candidates: readonly Candidate[]): Candidate | undefined {
  const key = (c: Candidate): number => Math.max(lsnBytes(c.receiveLsn), lsnBytes(c.replayLsn));
  return [...candidates].sort((a, b) => key(b) - key(a) || lsnBytes(b.replayLsn) - lsnBytes(a.replayLsn) || a.ordinal - b.ordinal)[0];
}

/** What the follow checkers compare: a replica's live settings against the wanted ones. */
export interface FollowInput {
  readonly liveConninfo: string;
  readonly liveSlot: string;
  readonly wantedConninfo: Readonly<Record<string, string>>;
  readonly wantedSlot: string;
}

const differs = (keys: readonly string[]) => (f: FollowInput) => {
  const live = parseConninfo(f.liveConninfo);
  return keys.some((k) => (live[k] ?? "") !== (f.wantedConninfo[k] ?? ""));
};

/** Ordered: the primary it follows first, then credentials, then the slot. Reasons never carry the password. */
export const FOLLOW_CHECKERS: readonly Checker<FollowInput>[] = [
  {
    name: "FollowsOtherPrimary",
    check: (f) => ({
      required: differs(["host", "hostaddr", "port"])(f),
      reason: `streams from ${parseConninfo(f.liveConninfo).hostaddr ?? parseConninfo(f.liveConninfo).host ?? "(none)"}, the primary is ${f.wantedConninfo.hostaddr ?? f.wantedConninfo.host ?? "?"}`,
    }),
  },
  {
    name: "StreamingCredentials",
    check: (f) => ({ required: differs(["user", "password", "application_name", "dbname"])(f), reason: "streaming user, password, application_name or dbname (slot synchronization) differ from the wanted ones" }),
  },
  {
    name: "StreamingTls",
    check: (f) => ({
      required: differs(["sslmode", "sslrootcert", "sslcert", "sslkey", "ssl_min_protocol_version"])(f),
      reason: "streaming TLS settings (verify-full, the authority, the replication client certificate) differ",
    }),
  },
  {
    name: "ReplicationSlot",
    check: (f) => ({ required: f.liveSlot !== f.wantedSlot, reason: `primary_slot_name is "${f.liveSlot}", want "${f.wantedSlot}"` }),
  },
];

/** Annotation on a PostgresCluster asking for a switchover to the named instance (its own name: restart the primary in place). */
export const SWITCHOVER_TO_ANNOTATION = "setpoint.dev/switchover-to";

/** What the restart checkers look at: one instance as observed. */
export interface RestartInput {
  readonly name: string;
  /** `pg_settings.pending_restart` parameters. */
  readonly pendingRestart: readonly string[];
}

/** Ordered reasons an instance must restart (`required` = restart it). */
export const RESTART_CHECKERS: readonly Checker<RestartInput>[] = [
  {
    name: "PendingRestart",
    check: (i) => ({
      required: i.pendingRestart.length > 0,
      reason: `${i.name}: ${i.pendingRestart.join(", ")} changed and ${i.pendingRestart.length === 1 ? "needs" : "need"} a restart`,
    }),
  },
];

/**
 * Parameters a hot standby needs at least as high as the primary's: lowering one must restart
 * the primary first (in place), or the replicas restarted first would refuse to replay.
 */
export const HOT_STANDBY_PARAMETERS = ["max_connections", "max_locks_per_transaction", "max_prepared_transactions", "max_wal_senders", "max_worker_processes"] as const;

/** What the primary-first checkers look at. */
export interface PrimaryFirstInput {
  /** The primary's pending-restart parameters. */
  readonly pendingRestart: readonly string[];
  /** What the primary runs now (`current_setting`). */
  readonly running: Readonly<Record<string, string>>;
  /** What it will run after the restart. */
  readonly desired: Readonly<Record<string, string>>;
}

/** Ordered reasons the primary must restart before the replicas (`required` = primary first, in place). */
export const PRIMARY_FIRST_CHECKERS: readonly Checker<PrimaryFirstInput>[] = [
  {
    name: "HotStandbyParameterDecrease",
    check: (p) => {
      const lowered = HOT_STANDBY_PARAMETERS.filter((k) => p.pendingRestart.includes(k) && p.desired[k] !== undefined && p.running[k] !== undefined && Number(p.desired[k]) < Number(p.running[k]));
      return {
        required: lowered.length > 0,
        reason: `${lowered.map((k) => `${k} ${p.running[k]} -> ${p.desired[k]}`).join(", ")}: a hot standby needs at least the primary's value, so the primary restarts first, in place`,
      };
    },
  },
];

/** What the rolling guards look at before a replica is restarted. */
export interface RollingInput {
  /** The replica about to restart. */
  readonly name: string;
  /** Ready and answering as a primary. */
  readonly primaryReady: boolean;
  /** Other instances that are not ready, or (replicas) not streaming. */
  readonly othersNotReady: readonly string[];
}

/** Ordered reasons to hold a replica's restart back (`required` = wait): one instance at a time. */
export const ROLLING_GUARDS: readonly Checker<RollingInput>[] = [
  { name: "PrimaryNotReady", check: (r) => ({ required: !r.primaryReady, reason: `not restarting ${r.name} while the primary is not ready` }) },
  {
    name: "InstanceNotReady",
    check: (r) => ({ required: r.othersNotReady.length > 0, reason: `not restarting ${r.name} until ${r.othersNotReady.join(", ")} ${r.othersNotReady.length === 1 ? "is" : "are"} back and streaming` }),
  },
];

/** What the primary-update guards look at once the primary needs a restart. */
export interface PrimaryUpdateInput {
  readonly primary: string;
  /** Replicas that still need a restart themselves. */
  readonly replicasPending: readonly string[];
  /** Replicas that are not ready and streaming. */
  readonly replicasNotStreaming: readonly string[];
  readonly strategy: "supervised" | "unsupervised";
  /** The value of {@link SWITCHOVER_TO_ANNOTATION}, if any. */
  readonly requested?: string;
  /** The replica a switchover would promote (undefined: the primary restarts in place). */
  readonly target?: string;
}

/**
 * Ordered reasons to hold the primary's restart or switchover back (`required` = wait):
 * replicas go first, each back streaming, and a supervised cluster waits for its user.
 */
export const PRIMARY_UPDATE_GUARDS: readonly Checker<PrimaryUpdateInput>[] = [
  {
    name: "ReplicasFirst",
    check: (p) => ({ required: p.replicasPending.length > 0, reason: `replicas restart before the primary: ${p.replicasPending.join(", ")} pending` }),
  },
  {
    name: "ReplicasNotStreaming",
    check: (p) => ({ required: p.replicasNotStreaming.length > 0, reason: `waiting for ${p.replicasNotStreaming.join(", ")} to stream again before updating the primary` }),
  },
  {
    name: "SupervisedUpdate",
    check: (p) => ({
      required: p.strategy === "supervised" && p.requested === undefined,
      reason:
        `primary ${p.primary} needs a restart and primaryUpdateStrategy is supervised: annotate the cluster ` +
        (p.target ? `${SWITCHOVER_TO_ANNOTATION}=${p.target} to switch over to it` : `${SWITCHOVER_TO_ANNOTATION}=${p.primary} to restart it in place`),
    }),
  },
];

/** What the switchover guards look at before the target is promoted. */
export interface SwitchoverInput {
  readonly from: string;
  readonly to: string;
  /** The old primary's pod still exists (its server may still run). */
  readonly oldPodPresent: boolean;
  /** The target answers, in recovery. */
  readonly targetReachable: boolean;
  /** The old primary's WAL position when it was fenced. */
  readonly fenceLsn: string;
  /** The target's last received (or replayed, whichever is further) WAL position. */
  readonly targetLsn?: string;
  /** The most advanced WAL position among all reachable replicas. */
  readonly bestLsn?: string;
}

/** Ordered reasons not to promote a switchover's target yet (`required` = wait). */
export const SWITCHOVER_GUARDS: readonly Checker<SwitchoverInput>[] = [
  { name: "OldPrimaryRunning", check: (s) => ({ required: s.oldPodPresent, reason: `waiting for ${s.from} to shut down (its last WAL streams to the replicas)` }) },
  { name: "TargetUnreachable", check: (s) => ({ required: !s.targetReachable, reason: `${s.to} does not answer as a replica` }) },
  {
    name: "TargetBehindFence",
    check: (s) => ({
      required: lsnBytes(s.targetLsn) <= lsnBytes(s.fenceLsn),
      reason: `${s.to} has WAL up to ${s.targetLsn ?? "?"}, not past ${s.from}'s ${s.fenceLsn} when it was fenced (its shutdown checkpoint comes after)`,
    }),
  },
  {
    name: "TargetNotMostAdvanced",
    check: (s) => ({ required: lsnBytes(s.targetLsn) < lsnBytes(s.bestLsn), reason: `${s.to} is at ${s.targetLsn ?? "?"}, another replica at ${s.bestLsn ?? "?"}` }),
  },
];

/** What the disk checkers look at: the fullest instance of a cluster. */
export interface GrowInput {
  readonly autoGrow?: { readonly thresholdPercent: number; readonly stepBytes: number; readonly limitBytes: number };
  readonly instance: string;
  readonly usedBytes: number;
  /** The size the claim asks for now. */
  readonly requestedBytes: number;
  /** The size the volume has (status.capacity); below the request while an expansion runs. */
  readonly capacityBytes: number;
}

const pct = (used: number, of: number): number => (of > 0 ? Math.round((used / of) * 100) : 0);

/**
 * Ordered reasons not to grow a volume now (`required` = do not grow); when none holds, the
 * claim grows by one step (capped at the limit). Usage is measured against the requested size,
 * so a grown claim is below its threshold at once: one crossing grows it once.
 */
export const GROW_GUARDS: readonly Checker<GrowInput>[] = [
  { name: "AutoGrowOff", check: (g) => ({ required: g.autoGrow === undefined, reason: "spec.storage.autoGrow is not set" }) },
  {
    name: "BelowThreshold",
    check: (g) => ({
      required: g.usedBytes * 100 < (g.autoGrow?.thresholdPercent ?? 100) * g.requestedBytes,
      reason: `${g.instance} uses ${pct(g.usedBytes, g.requestedBytes)}% of ${g.requestedBytes} bytes (threshold ${g.autoGrow?.thresholdPercent ?? "-"}%)`,
    }),
  },
  {
    name: "ExpansionInProgress",
    check: (g) => ({ required: g.capacityBytes < g.requestedBytes, reason: `${g.instance}'s volume is still expanding to ${g.requestedBytes} bytes (has ${g.capacityBytes})` }),
  },
  {
    name: "AtLimit",
    check: (g) => ({
      required: g.requestedBytes >= (g.autoGrow?.limitBytes ?? 0),
      reason: `${g.instance} uses ${pct(g.usedBytes, g.requestedBytes)}% of its volume, which is at spec.storage.autoGrow.limit (${g.autoGrow?.limitBytes ?? 0} bytes): not growing`,
    }),
  },
];
