/**
 * Parameter rollout as a pure plan over one observation: which instance restarts next, whether
 * the primary switches over (or restarts in place when it has no replica), or what is waited
 * for. The decisions are the ordered checkers of decisions.ts; their names and reasons reach
 * status conditions and Events through the action returned.
 *
 * Order, as CloudNativePG does it: replicas first, one at a time, each back streaming before the
 * next; then the primary, by a switchover to the most advanced updated replica (so the restart
 * costs the writers a reconnect, not the server's restart time), subject to
 * `primaryUpdateStrategy`. Lowering a parameter a hot standby needs at least as high as the
 * primary's (`PRIMARY_FIRST_CHECKERS`) reverses the order: the primary restarts first, in place.
 * A switchover can also be asked for by annotation
 * ({@link SWITCHOVER_TO_ANNOTATION}), which is how a supervised cluster's user lets it happen.
 */
import { firstRequired, pickCandidate, PRIMARY_UPDATE_GUARDS, RESTART_CHECKERS, ROLLING_GUARDS, SWITCHOVER_TO_ANNOTATION } from "./decisions";

/** One instance as the rollout sees it. */
export interface RolloutInstance {
  readonly name: string;
  readonly ordinal: number;
  /** Ready and answering; for a replica also streaming from the primary. */
  readonly ready: boolean;
  /** Parameters waiting for a restart (`pg_settings.pending_restart`); undefined when not observed. */
  readonly pendingRestart?: readonly string[];
  readonly replayLsn?: string;
  readonly receiveLsn?: string;
}

/** What the planner looks at. */
export interface RolloutInput {
  readonly primary: RolloutInstance;
  /** The replicas the cluster keeps (wanted and present or being recreated), by ordinal. */
  readonly replicas: readonly RolloutInstance[];
  /** Replicas wanted but without a pod (being created or recreated). */
  readonly missingReplicas: readonly string[];
  readonly strategy: "supervised" | "unsupervised";
  /** The value of {@link SWITCHOVER_TO_ANNOTATION}, if any. */
  readonly requested?: string;
  /** The primary's pending change must apply to it first ({@link PRIMARY_FIRST_CHECKERS}), with why. */
  readonly primaryFirst?: { readonly checker: string; readonly reason: string };
}

/** What to do next. */
export type RolloutAction =
  | { readonly kind: "None" }
  /** The requested switchover is already done (the named instance is the primary). */
  | { readonly kind: "RequestDone" }
  | { readonly kind: "Wait"; readonly checker: string; readonly reason: string }
  | { readonly kind: "RestartReplica"; readonly name: string; readonly checker: string; readonly reason: string }
  | { readonly kind: "RestartPrimary"; readonly name: string; readonly checker: string; readonly reason: string }
  | { readonly kind: "Switchover"; readonly from: string; readonly to: string; readonly checker: string; readonly reason: string };

/** The next rollout step (see the module documentation). */
export function planRollout(input: RolloutInput): RolloutAction {
  const { primary, replicas } = input;
  const notReady = (except?: string): string[] => [...replicas.filter((r) => r.name !== except && !r.ready).map((r) => r.name), ...input.missingReplicas.filter((n) => n !== except)];
  const restart = (i: RolloutInstance) => firstRequired(RESTART_CHECKERS, { name: i.name, pendingRestart: i.pendingRestart ?? [] });

  // A switchover asked for by name (a supervised cluster's approval, or a manual switchover).
  if (input.requested !== undefined) {
    if (input.requested === primary.name && restart(primary) === undefined) return { kind: "RequestDone" };
    const target = replicas.find((r) => r.name === input.requested);
    if (target !== undefined && restart(target) === undefined) {
      const waiting = notReady();
      if (!primary.ready) return { kind: "Wait", checker: "PrimaryNotReady", reason: `not switching over to ${target.name} while the primary is not ready` };
      if (waiting.length > 0) return { kind: "Wait", checker: "ReplicasNotStreaming", reason: `waiting for ${waiting.join(", ")} to stream before switching over to ${target.name}` };
      const why = restart(primary);
      return { kind: "Switchover", from: primary.name, to: target.name, checker: why?.checker ?? "Requested", reason: why?.reason ?? `${SWITCHOVER_TO_ANNOTATION}=${target.name}` };
    }
  }

  // Lowering a hot-standby parameter: the primary restarts first, in place (a replica switched
  // to would still run the higher value), then the replicas.
  if (input.primaryFirst && restart(primary) !== undefined) {
    const hold = firstRequired(PRIMARY_UPDATE_GUARDS, {
      primary: primary.name,
      replicasPending: [],
      replicasNotStreaming: notReady(),
      strategy: input.strategy,
      requested: input.requested === primary.name ? input.requested : undefined,
    });
    if (hold) return { kind: "Wait", checker: hold.checker, reason: `${hold.reason} (${input.primaryFirst.reason})` };
    return { kind: "RestartPrimary", name: primary.name, checker: input.primaryFirst.checker, reason: input.primaryFirst.reason };
  }

  for (const r of [...replicas].sort((a, b) => a.ordinal - b.ordinal)) {
    const why = restart(r);
    if (why === undefined) continue;
    const hold = firstRequired(ROLLING_GUARDS, { name: r.name, primaryReady: primary.ready, othersNotReady: notReady(r.name) });
    if (hold) return { kind: "Wait", checker: hold.checker, reason: hold.reason };
    return { kind: "RestartReplica", name: r.name, checker: why.checker, reason: why.reason };
  }

  const why = restart(primary);
  if (why === undefined) return { kind: "None" };
  const candidates = replicas.filter((r) => r.ready && restart(r) === undefined);
  const target = pickCandidate(candidates.map((r) => ({ name: r.name, ordinal: r.ordinal, replayLsn: r.replayLsn, receiveLsn: r.receiveLsn })));
  const hold = firstRequired(PRIMARY_UPDATE_GUARDS, {
    primary: primary.name,
    replicasPending: replicas.filter((r) => restart(r) !== undefined).map((r) => r.name),
    replicasNotStreaming: notReady(),
    strategy: input.strategy,
    requested: input.requested,
    target: target?.name,
  });
  if (hold) return { kind: "Wait", checker: hold.checker, reason: hold.reason };
  if (target === undefined) {
    // No replica at all (a single instance): the only way is a restart in place.
    if (replicas.length > 0 || input.missingReplicas.length > 0) return { kind: "Wait", checker: "NoSwitchoverTarget", reason: `no updated replica to switch over to yet (${why.reason})` };
    return { kind: "RestartPrimary", name: primary.name, checker: why.checker, reason: why.reason };
  }
  return { kind: "Switchover", from: primary.name, to: target.name, checker: why.checker, reason: why.reason };
}
