/**
 * The `PostgresUpgrade` reconciler (ADR 0027): a thin driver of the upgrade engine. Each reconcile
 * observes blue and green (the `PostgresCluster`s the spec names), creates green from blue's spec
 * with the new major when it does not exist, decides one engine operation with
 * {@link decideUpgrade} (one gate at a time), runs it as driver `operator` (the engine takes its
 * lock on blue, so the CLI or the Pulumi provider can never run the same upgrade at once), and
 * writes status last: phase, Ready/Progressing/Degraded with reasons, observedGeneration, and an
 * Event per step. The engine's state lives in its table on blue (`setpoint.upgrades`), so a new
 * operator pod resumes from the saved phase. Secrets never reach status, Events or logs.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type KubernetesObject, type V1Secret } from "@kubernetes/client-node";
import { API_VERSION } from "../../api/common";
import { clusterObjectNames } from "../../api/names";
import { parsePostgresClusterSpec, parsePostgresUpgradeSpec } from "../../api/parse";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../api/postgres-cluster";
import type { PostgresUpgradeSpec, PostgresUpgradeStatus } from "../../api/postgres-upgrade";
import { InputError, SetpointError } from "../../errors";
import { requestKey, type ReconcileContext, type Request, type Result } from "../../reconcile/index";
import { apiStatusCode } from "../../reconcile/internal/api-error";
import { writeStatus, type StatusApi, type StatusObject } from "../../reconcile/internal/status";
import { setControllerReference } from "../../reconcile/owners";
import { finalizeUpgrade, followUpgrade, forgetUpgrade, rollbackUpgrade, runUpgrade, type FollowResult, type UpgradeResult } from "../../upgrade/engine";
import { phaseRule, planSteps } from "../../upgrade/phases";
import type { UpgradeOptions } from "../../upgrade/context";
import { UpgradeError } from "../../upgrade/context";
import { UpgradeInProgressError, describeHolder } from "../../upgrade/lock";
import { PreflightRefusedError } from "../../upgrade/steps";
import { tableStateStore, type StateStore, type UpgradeState } from "../../upgrade/state";
import type { TrafficSwitch } from "../../upgrade/traffic";
import type { EventRecorder } from "../cluster/events";
import { CLUSTER_LABEL, INSTANCE_LABEL, TRAFFIC_OWNER_ANNOTATION } from "../cluster/objects";
import { clusterTlsNames, readOperatorTls, serverAltNames } from "../cluster/tls";
import type { OperatorTls } from "../cluster/instance-sql";
import { connect } from "../../postgres/connection";
import { UPGRADE_APPLICATION_NAME } from "../../upgrade/fence";
import { engineConnection, grantReplicationRead, runtimeDirOf, subscriptionConnection, type SideConnection } from "./connections";
import { decideUpgrade, finalizedState, restingPhases, stateFacts, upgradeStatus, type StateFacts, type UpgradeOutcome } from "./decisions";

/** A `PostgresUpgrade` as read from the cache (unvalidated spec). */
export interface PostgresUpgradeObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresUpgradeStatus;
}

/** A `PostgresCluster` as the upgrade controller reads it. */
export interface UpgradeClusterObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresClusterStatus;
}

/** How one side is reached: its primary's address and its superuser credentials. */
export interface SideEndpoint {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  readonly database: string;
  /** The rw Service's selector of this side's primary. */
  readonly selector: Readonly<Record<string, string>>;
  /** The operator's TLS identity towards this side (ADR 0035); undefined before its certificates exist. */
  readonly tls?: OperatorTls;
  /** The side's superuser logs in over the network with its password (SCRAM, `spec.tls.superuserPasswordOverNetwork`), not a certificate. */
  readonly passwordOverNetwork?: boolean;
}

/**
 * Builds the traffic switch of an upgrade: the seam a pooler plugs into. The default switches the
 * blue cluster's rw Service between blue's and green's primary (no pause: the engine fences
 * logins on blue); a pooler-aware builder returns a pausing switch instead.
 */
export type TrafficSwitchFactory = (input: {
  namespace: string;
  blueCluster: string;
  /** Blue's PostgresCluster uid (owner of its pooler's objects). */
  blueUid: string;
  /** Blue's `spec.pooler`, when it has a managed pooler (ADR 0033: the cutover goes through it). */
  bluePooler?: PostgresClusterSpec["pooler"];
  blue: SideEndpoint;
  green: SideEndpoint;
}) => TrafficSwitch;

/** Everything the reconciler needs, injectable. */
export interface PostgresUpgradeDeps {
  readonly upgrades: { get(key: string): PostgresUpgradeObject | undefined };
  readonly clusters: { get(key: string): UpgradeClusterObject | undefined };
  readonly api: Pick<CoreV1Api, "readNamespacedSecret" | "createNamespacedSecret" | "readNamespacedPod" | "patchNamespacedService" | "patchNamespacedSecret">;
  /** Creates a PostgresCluster (the green side). */
  readonly createCluster: (namespace: string, body: object) => Promise<unknown>;
  /** Merge-patches a PostgresUpgrade's metadata (its finalizer). */
  readonly patchUpgradeMetadata: (namespace: string, name: string, metadata: object) => Promise<unknown>;
  /** Merge-patches a PostgresCluster's metadata (releasing a finalized green). */
  readonly patchClusterMetadata: (namespace: string, name: string, metadata: object) => Promise<unknown>;
  readonly status: StatusApi;
  readonly events: EventRecorder;
  readonly traffic: TrafficSwitchFactory;
  /** Where the engine keeps the upgrade's state. @default its table on blue */
  readonly store?: (blue: UpgradeOptions["blue"], key: string) => StateStore;
  /** Passed to the engine (tests: hold a run at a checkpoint). */
  readonly onCheckpoint?: (name: string, state: UpgradeState) => void | Promise<void>;
  /** How long a reconcile waits for another runner's lock before reporting it. @default 2000 */
  readonly lockWaitMs?: number;
  /** Look again this soon while waiting for a cluster or a lock. @default 5000 */
  readonly waitRequeueMs?: number;
}

export { TRAFFIC_OWNER_ANNOTATION };

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const RETRY_AFTER_FAILURE_MS = 15_000;
/** How long a switched upgrade whose primaries kept their addresses is not followed again. */
const FOLLOW_RECHECK_MS = 60_000;

/**
 * Held by a PostgresUpgrade the engine has started: its deletion first forgets the upgrade
 * (`forgetUpgrade`: abort before the switch, finalize after it; never moves traffic), so no
 * publication or slot is left on blue retaining WAL.
 */
export const UPGRADE_FINALIZER = "setpoint.dev/upgrade";

/** Creates the `PostgresUpgrade` reconciler. */
export function reconcilePostgresUpgrade(deps: PostgresUpgradeDeps) {
  const waitMs = deps.waitRequeueMs ?? 5_000;
  // What each switched upgrade last followed (both primaries' addresses) and found: a look at an
  // unchanged pair within FOLLOW_RECHECK_MS reuses it instead of six connections and the pooler's
  // consoles (every status change of blue or green reconciles a switched upgrade).
  const followed = new Map<string, { readonly pair: string; readonly at: number; readonly lost: string | undefined }>();
  return async (ctx: ReconcileContext, req: Request): Promise<Result> => {
    const obj = deps.upgrades.get(requestKey(req));
    if (obj === undefined) return {};
    if (obj.metadata?.deletionTimestamp) return deleting(deps, ctx, req, obj);
    const generation = obj.metadata?.generation ?? 0;
    const previous = obj.status;
    const write = async (facts: StateFacts, outcome: UpgradeOutcome, extra: Pick<PostgresUpgradeStatus, "greenCreated" | "findings"> = {}): Promise<void> => {
      const next = upgradeStatus(previous, facts, outcome, generation, ctx.now(), extra);
      await writeStatus(deps.status, obj as StatusObject<PostgresUpgradeStatus>, next);
    };
    const known: StateFacts = { phase: previous?.phase ?? "new", ...(previous?.upgradeId ? { upgradeId: previous.upgradeId } : {}) };
    const subject = { apiVersion: API_VERSION, kind: "PostgresUpgrade", metadata: { name: req.name, namespace: req.namespace, uid: obj.metadata?.uid ?? "" } };
    const event = (type: "Normal" | "Warning", reason: string, message: string): Promise<void> => deps.events.record(subject, type, reason, message);

    let spec: PostgresUpgradeSpec;
    try {
      spec = parsePostgresUpgradeSpec(obj.spec);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      await write(known, { kind: "failed", reason: "InvalidSpec", message: err.message });
      return {};
    }

    // Blue: it must exist and run the major the spec says it runs.
    const blueName = spec.from.clusterRef.name;
    const greenName = spec.to.clusterRef.name;
    const blueObj = deps.clusters.get(`${req.namespace}/${blueName}`);
    // Finalized is the end (nothing moves traffic, nothing rolls back): its status is enough, and
    // blue's instances — which hold the engine's state — may be gone (ADR 0046). Never connect again.
    if (previous?.phase === "finalized") {
      await releaseGreen(deps, req.namespace, greenName, obj.metadata?.uid);
      const rest = decideUpgrade(spec, finalizedState(previous.upgradeId ?? ""));
      if (rest.kind === "rest") await write(known, { kind: "rest", reason: rest.reason, message: rest.message });
      else if (rest.kind === "refuse") await refuse(write, known, event, rest.reason, rest.message);
      return {};
    }
    if (!blueObj) {
      await refuse(write, known, event, "BlueClusterNotFound", `PostgresCluster ${req.namespace}/${blueName} (spec.from.clusterRef) does not exist; nothing was created. Fix spec.from.clusterRef.name`);
      return {};
    }
    const blueSpec = clusterSpec(blueObj);
    if (!blueSpec) {
      await refuse(write, known, event, "BlueClusterInvalid", `PostgresCluster ${blueName} has an invalid spec (see its status); nothing was created`);
      return {};
    }
    const greenObj = deps.clusters.get(`${req.namespace}/${greenName}`);
    const greenSpec = greenObj ? clusterSpec(greenObj) : undefined;
    const started = previous?.upgradeId !== undefined;
    // Before anything started, blue must run from.postgresVersion (after the start a finalize may retire it).
    // The major blue's instances run: a cluster whose postgresVersion was raised (ADR 0033) keeps its own.
    const blueMajor = blueObj.status?.upgrade?.from ?? blueObj.status?.postgresVersion ?? blueSpec.postgresVersion;
    if (!started && blueMajor !== spec.from.postgresVersion) {
      await refuse(
        write,
        known,
        event,
        "VersionMismatch",
        `PostgresCluster ${blueName} runs PostgreSQL ${String(blueMajor)}, not ${spec.from.postgresVersion} (spec.from.postgresVersion); nothing was created. Set spec.from.postgresVersion to ${String(blueMajor)}`,
      );
      return {};
    }
    if (greenObj && (!greenSpec || greenSpec.postgresVersion !== spec.to.postgresVersion)) {
      await refuse(
        write,
        known,
        event,
        "GreenVersionMismatch",
        `PostgresCluster ${greenName} exists and runs ${greenSpec ? `PostgreSQL ${String(greenSpec.postgresVersion)}` : "an invalid spec"}, not ${spec.to.postgresVersion}; nothing was changed. Name a new cluster in spec.to.clusterRef (the controller creates it) or fix that cluster`,
      );
      return {};
    }
    if (!greenObj) {
      await createGreen(deps, obj, req.namespace, blueName, blueSpec, greenName, spec.to.postgresVersion);
      await event("Normal", "GreenCreated", `created PostgresCluster ${greenName} (PostgreSQL ${spec.to.postgresVersion}) from ${blueName}'s spec`);
      await write(known, { kind: "waiting", reason: "WaitingForGreen", message: `created PostgresCluster ${greenName}; waiting for it to become Ready` }, { greenCreated: true });
      return { requeueAfterMs: waitMs };
    }
    // Switched: green serves, and both sides are long established. Following green's primary after
    // its failover must not wait for green to settle (its former primary rejoins meanwhile), and a
    // finalize or rollback needs each side's primary (Ready), not a healed cluster: every step is
    // idempotent and retried. Before the switch a step never starts on a side about to restart.
    const switched = previous?.phase === "switched";
    const unsettled = ([[blueName, blueObj], [greenName, greenObj]] as const).find(([, c]) => (switched ? !clusterReady(c) : !clusterSettled(c)));
    if (unsettled) {
      const name = unsettled[0];
      const what = switched ? "Ready (its primary accepting connections)" : "Ready with nothing in progress (no rollout or restart pending)";
      await write(known, { kind: "waiting", reason: name === blueName ? "WaitingForBlue" : "WaitingForGreen", message: `waiting for PostgresCluster ${name} to be ${what}` });
      return { requeueAfterMs: waitMs };
    }

    const blue = await endpoint(deps, req.namespace, blueName, blueObj, blueSpec);
    const green = await endpoint(deps, req.namespace, greenName, greenObj, greenSpec!);
    const blueConn = engineConnection(blue, blueName);
    const greenConn = engineConnection(green, greenName);
    const store = (deps.store ?? tableStateStore)(blueConn, `PostgresUpgrade/${req.namespace}/${req.name}`);
    const state = await store.load();
    const decision = decideUpgrade(spec, state);
    if (decision.kind === "refuse") {
      await refuse(write, stateFacts(state), event, decision.reason, decision.message);
      return {};
    }
    if (decision.kind === "rest") {
      if (state?.phase === "finalized") await releaseGreen(deps, req.namespace, greenName, obj.metadata?.uid);
      let lost: string | undefined;
      if (state?.phase === "switched") {
        const key = requestKey(req);
        const pair = `${blue.host} ${green.host}`;
        const last = followed.get(key);
        if (last?.pair === pair && ctx.now().getTime() - last.at < FOLLOW_RECHECK_MS) {
          lost = last.lost;
        } else {
          const result = await follow(deps, ctx, event, { namespace: req.namespace, blueName, blueObj, blueSpec, blue, blueConn, greenName, greenObj, green, greenConn, store });
          if (result === undefined) return { requeueAfterMs: waitMs };
          lost = result.lost;
          followed.set(key, { pair, at: ctx.now().getTime(), lost });
        }
      } else {
        followed.delete(requestKey(req));
      }
      await write(
        stateFacts(state),
        lost
          ? { kind: "rest", reason: decision.reason, message: `traffic is on green. ${lost}`, degraded: { reason: "RollbackPathLost", message: lost } }
          : { kind: "rest", reason: decision.reason, message: decision.message },
      );
      return {};
    }

    const finalizers = obj.metadata?.finalizers ?? [];
    if (!finalizers.includes(UPGRADE_FINALIZER)) await deps.patchUpgradeMetadata(req.namespace, req.name, { finalizers: [...finalizers, UPGRADE_FINALIZER] });
    // The switch moves blue's rw Service: from the cutover on, tell the cluster controller the
    // selector is not its to reconcile. Before it, the Service keeps following blue's primary.
    const rwService = clusterObjectNames(blueName).readWriteService;
    const movesTraffic = !phaseRule(state?.phase ?? "new").beforeSwitch || planSteps(state, decision.request).steps.includes("cutover");
    if (movesTraffic) await deps.api.patchNamespacedService(
      { name: rwService, namespace: req.namespace, body: { metadata: { annotations: { [TRAFFIC_OWNER_ANNOTATION]: `PostgresUpgrade/${req.name}` } } } },
      MERGE_PATCH,
    );
    const traffic = deps.traffic(trafficInput(req.namespace, blueName, blueObj, blueSpec, blue, green));
    const paths = await subscriptionPaths(blue, blueConn, blueName, green, greenConn, greenName);
    const options = { ...engineOptions(deps, ctx, blueConn, greenConn, store, traffic, event), ...paths };
    await event("Normal", "UpgradeStepStarted", decision.message);
    let result: UpgradeResult;
    try {
      const request = decision.request;
      result =
        request.operation === "run"
          ? await runUpgrade(options, { ...(request.until ? { until: request.until } : {}) })
          : request.operation === "rollback"
            ? await rollbackUpgrade(options)
            : await finalizeUpgrade(options);
    } catch (err) {
      const latest = await store.load().catch(() => state);
      if (err instanceof UpgradeInProgressError) {
        await write(stateFacts(latest), { kind: "waiting", reason: "WaitingForLock", message: `another runner holds this upgrade: ${describeHolder(err.holder)}` });
        return { requeueAfterMs: waitMs };
      }
      if (err instanceof PreflightRefusedError) {
        const findings = err.report.findings.filter((f) => f.severity === "error").map((f) => `[${f.code}] ${f.message} — fix: ${f.fix}`);
        await refuse(write, stateFacts(latest), event, "PreflightRefused", `preflight refused the upgrade; nothing was changed on either side: ${findings.join("; ")}`, findings);
        return {};
      }
      if (err instanceof SetpointError && err.code === "UPGRADE_ROLLBACK_PATH_LOST") {
        // Nothing changed and retrying cannot bring the slot back: say so until the spec changes.
        await refuse(write, stateFacts(latest), event, "RollbackPathLost", err instanceof UpgradeError ? (err.cause as Error | undefined)?.message ?? err.message : err.message);
        return {};
      }
      // A failed step (or a lost connection): the state on blue says where it stopped; the next
      // reconcile resumes from there (every step is idempotent).
      const message = err instanceof UpgradeError ? err.message : `upgrade step failed: ${err instanceof Error ? err.message : String(err)}`;
      await event("Warning", "UpgradeStepFailed", message);
      await write(stateFacts(latest), { kind: "failed", reason: "StepFailed", message });
      return { requeueAfterMs: RETRY_AFTER_FAILURE_MS };
    } finally {
      await traffic.close();
    }
    for (const p of result.phases) await event(p.status === "Succeeded" ? "Normal" : "Warning", `Upgrade${stepReason(p.phase)}${p.status}`, p.message.slice(0, 900));
    if (result.state.phase === "rolled-back" || result.state.phase === "aborted") {
      // Traffic is blue's again: hand the rw Service back to the cluster controller.
      await deps.api.patchNamespacedService(
        { name: rwService, namespace: req.namespace, body: { metadata: { annotations: { [TRAFFIC_OWNER_ANNOTATION]: null } } } },
        MERGE_PATCH,
      );
    }
    if (result.state.phase === "finalized") await releaseGreen(deps, req.namespace, greenName, obj.metadata?.uid);
    const after = decideUpgrade(spec, result.state);
    const more = after.kind === "operate";
    const atRest = restingPhases(spec).includes(result.state.phase);
    await write(
      stateFacts(result.state),
      !more && after.kind === "rest" && atRest ? { kind: "rest", reason: after.reason, message: after.message } : { kind: "progress", more, message: decision.message },
    );
    return more ? { requeueAfterMs: 1 } : {};
  };
}

/**
 * A switched upgrade at rest: traffic and the rollback path follow green's primary as green's
 * status names it now (`followUpgrade`), with an Event for each move and a Warning once the
 * rollback path is lost. Undefined when another runner holds the upgrade's lock (look again).
 */
async function follow(
  deps: PostgresUpgradeDeps,
  ctx: ReconcileContext,
  event: EventFn,
  s: {
    namespace: string;
    blueName: string;
    blueObj: UpgradeClusterObject;
    blueSpec: PostgresClusterSpec;
    blue: SideEndpoint;
    blueConn: SideConnection;
    greenName: string;
    greenObj: UpgradeClusterObject;
    green: SideEndpoint;
    greenConn: SideConnection;
    store: StateStore;
  },
): Promise<FollowResult | undefined> {
  const traffic = deps.traffic(trafficInput(s.namespace, s.blueName, s.blueObj, s.blueSpec, s.blue, s.green));
  let result: FollowResult;
  try {
    const paths = await subscriptionPaths(s.blue, s.blueConn, s.blueName, s.green, s.greenConn, s.greenName);
    result = await followUpgrade({ ...engineOptions(deps, ctx, s.blueConn, s.greenConn, s.store, traffic, event), ...paths, lockWaitMs: 0 });
  } catch (err) {
    if (err instanceof UpgradeInProgressError) return undefined;
    throw err;
  } finally {
    await traffic.close();
  }
  const primary = s.greenObj.status?.currentPrimary ?? "";
  const names = s.blueSpec.pooler ? "rw Service and pooler" : "rw Service";
  if (result.traffic === "moved") await event("Normal", "TrafficFollowedGreen", `green's primary is ${primary} (${s.green.host}) now: ${s.blueName}'s ${names} point at it again`);
  if (result.rollbackPath === "reconnected") await event("Normal", "RollbackPathReconnected", `${s.blueName}'s rollback subscription reads green's primary ${primary} at its new address`);
  if (result.rollbackPath === "lost") await event("Warning", "RollbackPathLost", result.lost ?? "the rollback path is lost");
  return result;
}

function trafficInput(namespace: string, blueCluster: string, blueObj: UpgradeClusterObject, blueSpec: PostgresClusterSpec, blue: SideEndpoint, green: SideEndpoint): Parameters<TrafficSwitchFactory>[0] {
  return { namespace, blueCluster, blueUid: blueObj.metadata?.uid ?? "", ...(blueSpec.pooler ? { bluePooler: blueSpec.pooler } : {}), blue, green };
}

/**
 * How each side's server reaches the other for the engine's subscriptions (ADR 0042): the
 * replication role by certificate with the subscriber's own files. Grants blue's replication role
 * the read its subscription's initial copy needs.
 */
async function subscriptionPaths(blue: SideEndpoint, blueConn: SideConnection, blueName: string, green: SideEndpoint, greenConn: SideConnection, greenName: string): Promise<Pick<UpgradeOptions, "blueFromGreen" | "greenFromBlue">> {
  const b = await connect(blueConn, { applicationName: UPGRADE_APPLICATION_NAME });
  try {
    const g = await connect(greenConn, { applicationName: UPGRADE_APPLICATION_NAME });
    try {
      await grantReplicationRead(b);
      return { blueFromGreen: subscriptionConnection(blue, blueName, await runtimeDirOf(g, greenName)), greenFromBlue: subscriptionConnection(green, greenName, await runtimeDirOf(b, blueName)) };
    } finally {
      await g.end();
    }
  } finally {
    await b.end();
  }
}

type EventFn = (type: "Normal" | "Warning", reason: string, message: string) => Promise<void>;

function engineOptions(deps: PostgresUpgradeDeps, ctx: ReconcileContext, blue: UpgradeOptions["blue"], green: UpgradeOptions["green"], store: StateStore, traffic: TrafficSwitch, event: EventFn): UpgradeOptions {
  return {
    blue,
    green,
    store,
    traffic,
    driver: "operator",
    lockWaitMs: deps.lockWaitMs ?? 2_000,
    onProgress: (e) => ctx.log.info("upgrade progress", { phase: e.phase, message: e.message }),
    onCheckpoint: async (name, s) => {
      if (name.startsWith("phase:")) void event("Normal", "UpgradePhase", `the upgrade is ${s.phase}`);
      await deps.onCheckpoint?.(name, s);
    },
  };
}

/**
 * A PostgresUpgrade being deleted: forget the upgrade on blue (abort before the switch, finalize
 * after it; traffic never moves), release a green that now serves, hand blue's rw Service back
 * when traffic stayed on blue, then drop the finalizer. A blue that no longer exists holds nothing
 * to clean up.
 */
async function deleting(deps: PostgresUpgradeDeps, ctx: ReconcileContext, req: Request, obj: PostgresUpgradeObject): Promise<Result> {
  const finalizers = obj.metadata?.finalizers ?? [];
  if (!finalizers.includes(UPGRADE_FINALIZER)) return {};
  const done = async (): Promise<Result> => {
    await deps.patchUpgradeMetadata(req.namespace, req.name, { finalizers: finalizers.filter((f) => f !== UPGRADE_FINALIZER) });
    return {};
  };
  const subject = { apiVersion: API_VERSION, kind: "PostgresUpgrade", metadata: { name: req.name, namespace: req.namespace, uid: obj.metadata?.uid ?? "" } };
  const event: EventFn = (type, reason, message) => deps.events.record(subject, type, reason, message);
  let spec: PostgresUpgradeSpec;
  try {
    spec = parsePostgresUpgradeSpec(obj.spec);
  } catch {
    return done();
  }
  const blueName = spec.from.clusterRef.name;
  const greenName = spec.to.clusterRef.name;
  const blueObj = deps.clusters.get(`${req.namespace}/${blueName}`);
  const blueSpec = blueObj ? clusterSpec(blueObj) : undefined;
  if (!blueObj || !blueSpec || blueObj.metadata?.deletionTimestamp) return done();
  // A finalized upgrade whose blue is served by green (ADR 0046): blue's instances, and the state
  // on them, are removed; green is released and there is nothing left to end.
  if (obj.status?.phase === "finalized" && blueObj.status?.upgrade?.name === req.name && blueObj.status.upgrade.phase === "finalized") {
    await releaseGreen(deps, req.namespace, greenName, obj.metadata?.uid);
    return done();
  }
  const greenObj = deps.clusters.get(`${req.namespace}/${greenName}`);
  const greenSpec = greenObj ? clusterSpec(greenObj) : undefined;
  if (!clusterReady(blueObj)) return { requeueAfterMs: deps.waitRequeueMs ?? 5_000 };
  const blue = await endpoint(deps, req.namespace, blueName, blueObj, blueSpec);
  const store = (deps.store ?? tableStateStore)(engineConnection(blue, blueName), `PostgresUpgrade/${req.namespace}/${req.name}`);
  const state = await store.load();
  if (!state) return done();
  if (!greenObj || !greenSpec || !clusterReady(greenObj)) {
    await event("Warning", "ForgetWaiting", `waiting for PostgresCluster ${greenName} to be Ready to end the upgrade before deletion; to give up, remove the finalizer ${UPGRADE_FINALIZER}`);
    return { requeueAfterMs: deps.waitRequeueMs ?? 5_000 };
  }
  const green = await endpoint(deps, req.namespace, greenName, greenObj, greenSpec);
  const traffic = deps.traffic(trafficInput(req.namespace, blueName, blueObj, blueSpec, blue, green));
  try {
    await forgetUpgrade(engineOptions(deps, ctx, engineConnection(blue, blueName), engineConnection(green, greenName), store, traffic, event));
  } catch (err) {
    await event("Warning", "ForgetFailed", `${err instanceof Error ? err.message : String(err)}; retrying. To give up, remove the finalizer ${UPGRADE_FINALIZER}`);
    return { requeueAfterMs: RETRY_AFTER_FAILURE_MS };
  } finally {
    await traffic.close();
  }
  if (phaseRule(state.phase).beforeSwitch || state.phase === "aborted" || state.phase === "rolled-back") {
    await deps.api.patchNamespacedService(
      { name: clusterObjectNames(blueName).readWriteService, namespace: req.namespace, body: { metadata: { annotations: { [TRAFFIC_OWNER_ANNOTATION]: null } } } },
      MERGE_PATCH,
    );
  } else {
    // Switched or finalized: green serves and must outlive this object.
    await releaseGreen(deps, req.namespace, greenName, obj.metadata?.uid);
  }
  await event("Normal", "UpgradeForgotten", `the upgrade (${state.phase}) was ended and its state dropped`);
  return done();
}

async function refuse(
  write: (facts: StateFacts, outcome: UpgradeOutcome, extra?: Pick<PostgresUpgradeStatus, "greenCreated" | "findings">) => Promise<void>,
  facts: StateFacts,
  event: (type: "Normal" | "Warning", reason: string, message: string) => Promise<void>,
  reason: string,
  message: string,
  findings?: string[],
): Promise<void> {
  await event("Warning", reason, message);
  await write(facts, { kind: "failed", reason, message }, findings ? { findings } : {});
}

function stepReason(step: string): string {
  return step.charAt(0).toUpperCase() + step.slice(1);
}

function clusterSpec(c: UpgradeClusterObject): PostgresClusterSpec | undefined {
  try {
    return parsePostgresClusterSpec(c.spec);
  } catch {
    return undefined;
  }
}

function clusterReady(c: UpgradeClusterObject): boolean {
  const ready = c.status?.conditions?.find((x) => x.type === "Ready");
  return ready?.status === "True" && c.status?.currentPrimary !== undefined;
}

/**
 * Ready with nothing in progress at its current generation, and no parameter waiting for a
 * restart: an engine step never starts on a side about to restart (a new cluster restarts its
 * primary for `wal_level` right after it first becomes Ready).
 */
function clusterSettled(c: UpgradeClusterObject): boolean {
  const progressing = c.status?.conditions?.find((x) => x.type === "Progressing");
  return (
    clusterReady(c) &&
    progressing?.status === "False" &&
    c.status?.observedGeneration === c.metadata?.generation &&
    !(c.status?.instances ?? []).some((i) => i.pendingRestart === true)
  );
}

async function secretValue(api: PostgresUpgradeDeps["api"], namespace: string, name: string, key: string): Promise<string> {
  const s = await api.readNamespacedSecret({ name, namespace });
  const v = s.data?.[key];
  if (v === undefined) throw new Error(`secret ${namespace}/${name} has no key "${key}"`);
  return Buffer.from(v, "base64").toString("utf8");
}

/** Blue's or green's primary: its pod address (a Service would move with the switch) and superuser password. */
async function endpoint(deps: PostgresUpgradeDeps, namespace: string, name: string, c: UpgradeClusterObject, spec: PostgresClusterSpec): Promise<SideEndpoint> {
  const primary = c.status!.currentPrimary!;
  const pod = await deps.api.readNamespacedPod({ name: primary, namespace });
  const host = pod.status?.podIP;
  if (!host) throw new Error(`pod ${namespace}/${primary} (primary of ${name}) has no IP yet`);
  return {
    host,
    port: c.status?.port ?? 5432,
    password: await secretValue(deps.api, namespace, clusterObjectNames(name).superuserSecret, "password"),
    database: spec.bootstrap.database,
    selector: { [CLUSTER_LABEL]: name, [INSTANCE_LABEL]: primary },
    tls: await readOperatorTls(deps.api, namespace, name),
    passwordOverNetwork: spec.tls?.superuserPasswordOverNetwork === true,
  };
}

/**
 * Green from blue's spec with the new major (no image override), owned by the PostgresUpgrade.
 * Green's application Secret is created first as a copy of blue's, so the application's
 * credentials (still pointing at blue's rw Service, which the switch moves) work on green.
 */
async function createGreen(deps: PostgresUpgradeDeps, upgrade: PostgresUpgradeObject, namespace: string, blueName: string, blueSpec: PostgresClusterSpec, greenName: string, major: number): Promise<void> {
  const owner = { apiVersion: API_VERSION, kind: "PostgresUpgrade", metadata: { name: upgrade.metadata!.name!, namespace, uid: upgrade.metadata!.uid! } };
  const blueApp = await deps.api.readNamespacedSecret({ name: clusterObjectNames(blueName).appSecret, namespace });
  const app: V1Secret = setControllerReference(owner, {
    apiVersion: "v1",
    kind: "Secret",
    type: blueApp.type ?? "kubernetes.io/basic-auth",
    metadata: { name: clusterObjectNames(greenName).appSecret, namespace, labels: { [CLUSTER_LABEL]: greenName } },
    data: { ...blueApp.data },
  });
  await ignoreConflict(deps.api.createNamespacedSecret({ namespace, body: app }));
  const body = setControllerReference(owner, {
    apiVersion: API_VERSION,
    kind: "PostgresCluster",
    metadata: { name: greenName, namespace, labels: { "setpoint.dev/upgrade": upgrade.metadata!.name! } },
    spec: greenSpec(blueSpec, namespace, blueName, major),
  });
  await ignoreConflict(deps.createCluster(namespace, body));
}

/**
 * Green's spec from blue's (pure): the new major, everything else blue declares, except what
 * would make green something other than an empty cluster of the new major that serves blue's
 * names once switched:
 * - no `image` (it names blue's major) and no `pooler` (green serves through blue's, ADR 0033);
 * - no `bootstrap.recovery`: green is initialised empty and filled by replication from blue — a
 *   green restored from blue's source would hold rows the initial copy then collides with;
 * - its own archive: a `backup.destination.prefix` blue names explicitly gets `-v<major>` (with the
 *   default prefix, `<namespace>/<green>` is green's own already) — green starts on timeline 1 and
 *   its WAL would collide with blue's segments of the same names in blue's prefix;
 * - `unsupervised` (green serves nothing before the cutover: its own restarts need no approval);
 * - certificates from blue's authority, also for blue's Service names (ADR 0035): blue's pooler and
 *   the operator verify green's servers with what they already trust once the names move to green;
 * - on PostgreSQL 17 and later, standbys that synchronize failover slots (`sync_replication_slots`,
 *   `hot_standby_feedback`; ADR 0050): the rollback path's slot on green's primary then survives a
 *   failover of green (unless blue's parameters say otherwise).
 */
export function greenSpec(blueSpec: PostgresClusterSpec, namespace: string, blueName: string, major: number): PostgresClusterSpec {
  const { image: _image, pooler: _pooler, ...rest } = blueSpec;
  const { recovery: _recovery, ...bootstrap } = rest.bootstrap;
  const backup = rest.backup && {
    ...rest.backup,
    destination: { ...rest.backup.destination, ...(rest.backup.destination.prefix !== undefined ? { prefix: `${rest.backup.destination.prefix}-v${major}` } : {}) },
  };
  return {
    ...rest,
    bootstrap,
    ...(backup ? { backup } : {}),
    postgresVersion: major,
    ...(major >= 17 ? { parameters: { sync_replication_slots: "on", hot_standby_feedback: "on", ...rest.parameters } } : {}),
    primaryUpdateStrategy: "unsupervised",
    tls: { ...rest.tls, superuserPasswordOverNetwork: rest.tls?.superuserPasswordOverNetwork ?? false, authority: rest.tls?.authority ?? { secretName: clusterTlsNames(blueName).ca }, serverNames: [...(rest.tls?.serverNames ?? []), ...serverAltNames(blueName, namespace)] },
  };
}

/**
 * A finalized upgrade's green serves for good: it (and its application Secret) stop being owned by
 * the PostgresUpgrade, so deleting the PostgresUpgrade never garbage-collects the serving cluster.
 */
async function releaseGreen(deps: PostgresUpgradeDeps, namespace: string, greenName: string, upgradeUid: string | undefined): Promise<void> {
  const green = deps.clusters.get(`${namespace}/${greenName}`);
  const owned = (refs: { uid?: string }[] | undefined): boolean => (refs ?? []).some((r) => r.uid === upgradeUid);
  if (green && owned(green.metadata?.ownerReferences)) {
    await deps.patchClusterMetadata(namespace, greenName, { ownerReferences: (green.metadata?.ownerReferences ?? []).filter((r) => r.uid !== upgradeUid) });
  }
  // Gone with green (or deleted by hand): nothing to release.
  const secret = await deps.api.readNamespacedSecret({ name: clusterObjectNames(greenName).appSecret, namespace }).catch((err: unknown) => {
    if (apiStatusCode(err) === 404) return undefined;
    throw err;
  });
  if (secret && owned(secret.metadata?.ownerReferences)) {
    await deps.api.patchNamespacedSecret({ name: secret.metadata!.name!, namespace, body: { metadata: { ownerReferences: (secret.metadata?.ownerReferences ?? []).filter((r) => r.uid !== upgradeUid) } } }, MERGE_PATCH);
  }
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (apiStatusCode(err) !== 409) throw err;
  }
}
