import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { redactUrl } from "../../sdk/postgres/connection";
import {
  forgetUpgrade,
  phaseRule,
  planSteps,
  planUpgrade,
  PreflightRefusedError,
  rollbackUpgrade,
  runUpgrade,
  STATE_VERSION,
  tableStateStore,
  UPGRADE_PHASES,
  UpgradeRefusedError,
  type TrafficSwitch,
  type UpgradeEvent,
  type UpgradeOptions,
  type UpgradeState,
} from "../../sdk/upgrade/index";
import { kubernetesSecretSwitch, kubernetesServiceSwitch } from "../../sdk/upgrade/kubernetes";
import { pgbouncerSwitch } from "../../sdk/upgrade/pgbouncer";
import { containsUnknown } from "../schema-args";
import { describeTraffic, parseUpgradeInputs, scrub, secretsOf, stableArgs, sameUpgradeArgs, type TrafficInput, type UpgradeResourceInputs } from "../upgrade-args";
import { planView, preflightLines, refusalText, requestOf, summaryOf } from "./upgrade-view";
import type { UpgradeSummary } from "../upgrade-summary";

/**
 * The implementation behind the `Upgrade` dynamic provider. The serialized provider
 * (`components/upgrade-provider.ts`) only `require`s this module and forwards each call, so engine
 * changes never change the serialized text stored in state.
 *
 * The engine's state lives in `setpoint.upgrades` on blue (one row per state key), not in Pulumi's
 * state: a `pulumi up` that failed or was killed leaves it exactly where the engine stopped, and
 * the next run's `check` reads it to plan and its `create` or `update` resumes from it. Which steps
 * run, and what rollback, finalize and delete mean from each phase, is the engine's phase table:
 * this driver maps arguments to an engine request and the engine's answer to outputs.
 */

/** How long an operation waits for another runner of an upgrade of the same blue database (a killed `up` leaves its provider running). */
const LOCK_WAIT_MS = 30_000;

/** What the resource stores besides its inputs. Never a connection or a password. */
interface UpgradeView {
  /** One line per step the next `up` runs; empty when there is nothing to do. Shown by preview. */
  plannedSteps: string[];
  /** The preflight report as lines (summary, then each finding with its fix); empty once past preflight. */
  preflight: string[];
  /** The traffic switch, described without credentials. */
  trafficSummary: string;
}

const COMPUTED = ["plannedSteps", "preflight", "trafficSummary", "phase", "summary"] as const;

/** Stable resource id: a hash of the state key (the engine's own id exists only once it started). */
function idOf(i: UpgradeResourceInputs): string {
  return createHash("sha256").update(i.stateKey).digest("hex").slice(0, 16);
}

function trafficSwitchOf(t: TrafficInput): TrafficSwitch | undefined {
  switch (t.kind) {
    case "none":
      return undefined;
    case "pgbouncer":
      return pgbouncerSwitch({
        admin: t.admin,
        databasesFile: t.databasesFile,
        databases: t.databases,
        ...(t.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: t.connectTimeoutMs }),
      });
    case "kubernetes-service":
      return kubernetesServiceSwitch({ namespace: t.namespace, name: t.name, blue: t.blue, green: t.green, ...(t.kubeconfig ? { kubeconfig: t.kubeconfig } : {}) });
    case "kubernetes-secret":
      return kubernetesSecretSwitch({ namespace: t.namespace, name: t.name, blue: t.blue, green: t.green, ...(t.kubeconfig ? { kubeconfig: t.kubeconfig } : {}) });
  }
}

function optionsOf(i: UpgradeResourceInputs, traffic: TrafficSwitch | undefined, onProgress?: (e: UpgradeEvent) => void): UpgradeOptions {
  const optional = <K extends keyof UpgradeResourceInputs>(k: K) => (i[k] === undefined ? {} : { [k]: i[k] });
  return {
    blue: i.blue,
    green: i.green,
    ...optional("blueFromGreen"),
    ...optional("greenFromBlue"),
    ...(i.schema ? { schema: i.schema, schemaOptions: { ...(i.devUrl ? { devUrl: i.devUrl } : {}), ...(i.schemas ? { schemas: i.schemas } : {}) } } : {}),
    ...(traffic ? { traffic } : {}),
    store: tableStateStore(i.blue, i.stateKey),
    driver: "pulumi",
    lockWaitMs: LOCK_WAIT_MS,
    cutoverDeadlineMs: i.cutoverDeadlineMs,
    verify: i.verify,
    verifyBeforeSwitch: i.verifyBeforeSwitch,
    allowObjectsNotCopied: i.allowObjectsNotCopied,
    ...optional("maxLagBytes"),
    ...optional("catchUpTimeoutMs"),
    ...optional("maxRetainedWalBytes"),
    ...optional("syncTimeoutMs"),
    ...(onProgress ? { onProgress } : {}),
  };
}

/**
 * Progress goes to the provider's stderr, which the Pulumi engine shows as the stack's
 * diagnostics during `up` (dynamic providers have no engine connection for `pulumi.log`).
 */
function progressLogger(i: UpgradeResourceInputs): (e: UpgradeEvent) => void {
  const secrets = secretsOf(i);
  return (e) => console.error(scrub(`Upgrade ${i.stateKey}: ${e.phase}: ${e.message}`, secrets));
}

/** The input an error is about, from its structured fields (never its text). */
function failedProperty(err: unknown, i: UpgradeResourceInputs): string {
  const e = err as { code?: unknown; target?: unknown; propertyPath?: unknown };
  if (e.code === "CONNECTION_FAILED") {
    for (const k of ["blue", "green", "devUrl"] as const) if (i[k] && e.target === redactUrl(i[k])) return k;
  }
  // Pulumi prints the named property's value beside the reason: no property, so nothing is printed.
  return "";
}

/** Plans from the saved state: the steps the next run executes, or why it refuses. */
async function planFor(i: UpgradeResourceInputs): Promise<{ view: UpgradeView; refusal?: string }> {
  const planned = await planUpgrade(optionsOf(i, undefined), { until: i.until, finalize: i.finalize, rollback: i.rollback });
  const view: UpgradeView = { ...planView(i, planned.state, planned.steps), preflight: preflightLines(planned.preflight) };
  if (planned.preflight && !planned.preflight.ok) return { view, refusal: new PreflightRefusedError(planned.preflight).message };
  return { view, ...(planned.refusal ? { refusal: refusalText(planned.refusal) } : {}) };
}

/**
 * `check`: validates and, when blue and green are known, plans from the saved state and runs the
 * preflight, so preview shows the findings and the steps; a preflight error fails the preview.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  // The state key is fixed when the resource is created: the engine's state lives under it.
  const proposed = typeof olds.stateKey === "string" && olds.stateKey ? { ...news, stateKey: olds.stateKey } : news;
  if (containsUnknown(stableArgs(proposed))) {
    return { inputs: { ...proposed, plannedSteps: ["(planned once blue and green are known)"], preflight: [], trafficSummary: "" } };
  }
  let inputs: UpgradeResourceInputs;
  try {
    inputs = parseUpgradeInputs(proposed);
  } catch (err) {
    const e = err as { propertyPath?: string; message: string };
    return { inputs: proposed, failures: [{ property: e.propertyPath?.split(".")[0] ?? "", reason: e.message }] };
  }
  const secrets = secretsOf(inputs);
  try {
    // Builds the switch (it validates its own options; nothing connects until it is used).
    await trafficSwitchOf(inputs.traffic)?.close();
  } catch (err) {
    return { inputs: proposed, failures: [{ property: "traffic", reason: scrub(`Upgrade: traffic: ${(err as Error).message}`, secrets) }] };
  }
  const final = recordedFinal(olds);
  if (final) {
    const refusal = planSteps(finalState(final), requestOf(inputs)).refusal;
    if (refusal) return { inputs: proposed, failures: [{ property: "", reason: `Upgrade: ${refusalText(refusal)}` }] };
    return { inputs: { ...proposed, ...inputs, plannedSteps: [], preflight: [], trafficSummary: describeTraffic(inputs.traffic) } };
  }
  let planned: Awaited<ReturnType<typeof planFor>>;
  try {
    planned = await planFor(inputs);
  } catch (err) {
    return { inputs: proposed, failures: [{ property: failedProperty(err, inputs), reason: scrub(`Upgrade: ${(err as Error).message}`, secrets) }] };
  }
  if (planned.refusal) return { inputs: proposed, failures: [{ property: "", reason: scrub(`Upgrade: ${planned.refusal}`, secrets) }] };
  return { inputs: { ...proposed, ...inputs, ...planned.view } };
}

/** `diff`: a change when the next run has steps to execute or the arguments changed. Never a replacement. */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const planned = (news.plannedSteps as string[] | undefined) ?? [];
  return { changes: planned.length > 0 || !sameUpgradeArgs(olds, news), replaces: [], deleteBeforeReplace: false };
}

function outputsOf(raw: Record<string, unknown>, i: UpgradeResourceInputs, summary: UpgradeSummary): Record<string, unknown> {
  const kept = Object.fromEntries(Object.entries(raw).filter(([k]) => !(COMPUTED as readonly string[]).includes(k)));
  return { ...kept, ...i, plannedSteps: [], preflight: raw.preflight ?? [], trafficSummary: raw.trafficSummary ?? "", phase: summary.phase, summary };
}

/**
 * The summary Pulumi recorded, when its phase is final. The engine never leaves a final phase and
 * no upgrade object is left in one, so nothing needs the databases any more (blue may be gone).
 */
function recordedFinal(props: Record<string, unknown>): UpgradeSummary | undefined {
  const s = props.summary as UpgradeSummary | undefined;
  return s && typeof s === "object" && UPGRADE_PHASES.includes(s.phase) && phaseRule(s.phase).final ? s : undefined;
}

/** A state standing for a recorded final summary, for deciding what arguments may ask. */
function finalState(s: UpgradeSummary): UpgradeState {
  return { version: STATE_VERSION, id: s.id, phase: s.phase, tables: [], fences: [], reverseSubscribed: false, history: [...s.history] };
}

/** What an operation gets: the parsed inputs and the engine's options (switch, store, progress, lock wait). */
interface Session {
  readonly i: UpgradeResourceInputs;
  readonly options: UpgradeOptions;
}

/**
 * Runs `body` with the traffic switch built (the engine takes the upgrade's lock itself). Errors
 * come out with every password scrubbed; `onError` may turn them into what Pulumi should record.
 */
async function withUpgrade<T>(raw: Record<string, unknown>, body: (s: Session) => Promise<T>, onError: (message: string, err: unknown, s: Session) => Promise<Error>): Promise<T> {
  const i = parseUpgradeInputs(raw);
  const secrets = secretsOf(i);
  const progress = progressLogger(i);
  let traffic: TrafficSwitch | undefined;
  const session: Session = { i, options: optionsOf(i, undefined, progress) };
  try {
    traffic = trafficSwitchOf(i.traffic);
    const withTraffic: Session = { ...session, options: optionsOf(i, traffic, progress) };
    return await body(withTraffic);
  } catch (err) {
    const message = err instanceof UpgradeRefusedError ? refusalText(err.refusal) : (err as Error).message;
    throw await onError(scrub(`Upgrade: ${message}`, secrets), err, session);
  } finally {
    await traffic?.close().catch(() => undefined);
  }
}

/**
 * Runs what the arguments ask for. A failure after the engine saved a state is reported with the
 * resource's id and outputs, so Pulumi records the resource (and the phase it stopped in): a later
 * `up` resumes it and a `destroy` cleans it up.
 */
async function drive(raw: Record<string, unknown>): Promise<{ id: string; outs: Record<string, unknown> }> {
  return withUpgrade(
    raw,
    async ({ i, options }) => {
      const { state } = i.rollback ? await rollbackUpgrade(options) : await runUpgrade(options, { until: i.until, finalize: i.finalize });
      // An empty id: no upgrade was ever saved (a rollback of nothing), shown as not started.
      return { id: idOf(i), outs: outputsOf(raw, i, summaryOf(state.id ? state : undefined)) };
    },
    async (message, err, { i, options }) => {
      const failure = new Error(message, { cause: err }) as Error & { id?: string; properties?: Record<string, unknown>; reasons?: string[] };
      const state = await options.store.load().catch(() => undefined);
      // The dynamic provider host reports an error carrying an id as "created, failed to initialize".
      if (state) Object.assign(failure, { id: idOf(i), properties: outputsOf(raw, i, summaryOf(state)), reasons: [message] });
      return failure;
    },
  );
}

/** `create`: runs the upgrade from wherever its saved state stands (a previous, failed `up` included). */
export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  return drive(inputs);
}

/** `update`: resumes, stages, switches, finalizes or rolls back, as the arguments now say. */
export async function update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const final = recordedFinal(olds);
  // Arguments of an ended upgrade may still change (check refused what it cannot do): record them.
  if (final) return { outs: outputsOf(news, parseUpgradeInputs(news), final) };
  return { outs: (await drive(news)).outs };
}

/** `read` (refresh): the phase and summary from the saved state. */
export async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const i = parseUpgradeInputs(props);
  const state = await tableStateStore(i.blue, i.stateKey).load();
  const summary = summaryOf(state);
  return { id, props: { ...props, phase: summary.phase, summary } };
}

/**
 * `delete` never moves traffic. Before the switch it aborts (blue keeps serving, and no slot is
 * left retaining WAL on blue); after the switch it finalizes (green keeps serving, and the rollback
 * path's slot on green, which would retain WAL on the serving database once blue is gone, is
 * dropped). Then the saved state is forgotten, so a new upgrade under the same key starts afresh.
 * That is the engine's `forgetUpgrade` (its phase table says what it means from each phase).
 * See docs/adr/0006-upgrade-component.md and 0019.
 */
export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
  if (recordedFinal(props)) {
    // Nothing of the upgrade is left; forget its state if blue is still there (it may be gone).
    const i = parseUpgradeInputs(props);
    await forgetUpgrade(optionsOf(i, undefined)).catch((err: unknown) =>
      progressLogger(i)({ phase: "delete", message: scrub(`the saved state was not removed from blue (${(err as Error).message})`, secretsOf(i)), at: Date.now() }),
    );
    return;
  }
  await withUpgrade(
    props,
    async ({ options }) => {
      await forgetUpgrade(options);
    },
    (message, err) => Promise.resolve(new Error(message, { cause: err })),
  );
}
