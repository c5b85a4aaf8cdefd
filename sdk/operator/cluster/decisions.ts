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
}

/** Ordered: a deleted pod is certain; an unreachable one only after its grace period. */
export const FAILOVER_CHECKERS: readonly Checker<PrimaryHealth>[] = [
  {
    name: "PrimaryPodGone",
    check: (p) => ({ required: !p.podPresent, reason: `the primary's pod ${p.name} is gone or being deleted` }),
  },
  {
    name: "PrimaryUnreachable",
    check: (p) => {
      const downMs = p.notReadySince ? p.now.getTime() - p.notReadySince.getTime() : 0;
      return {
        required: !p.reachable && p.notReadySince !== undefined && downMs >= p.graceMs,
        reason: `primary ${p.name} has been unready and unreachable for ${Math.round(downMs / 1000)} s (grace ${Math.round(p.graceMs / 1000)} s)`,
      };
    },
  },
];

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
      required: differs(["host", "port"])(f),
      reason: `streams from ${parseConninfo(f.liveConninfo).host ?? "(none)"}, the primary is ${f.wantedConninfo.host ?? "?"}`,
    }),
  },
  {
    name: "StreamingCredentials",
    check: (f) => ({ required: differs(["user", "password", "application_name"])(f), reason: "streaming user, password or application_name differ from the replication Secret" }),
  },
  {
    name: "ReplicationSlot",
    check: (f) => ({ required: f.liveSlot !== f.wantedSlot, reason: `primary_slot_name is "${f.liveSlot}", want "${f.wantedSlot}"` }),
  },
];
