/**
 * The `PostgresSchema` reconciler: observe the object once (from the informer cache), resolve
 * its connection and desired SQL, plan, apply what the spec allows, and report the outcome as
 * status (written last). Outcomes that are facts about the world (hazards refused, database
 * unreachable, invalid spec) become conditions; other failures are thrown so the controller
 * retries them with backoff (ADR 0004).
 *
 * Secrets (connection URLs, passwords) never reach status, logs or errors: a target is named
 * only in redacted form (`ConnectionError.target`, built with `redactUrl`).
 */
import { withAuthority, type ConnectionInput } from "../../postgres/connection";
import type { KubernetesObject } from "@kubernetes/client-node";
import { durationToMs } from "../../api/common";
import { parsePostgresSchemaSpec } from "../../api/parse";
import type { PostgresSchemaSpec, PostgresSchemaStatus } from "../../api/postgres-schema";
import { ConnectionError, InputError } from "../../errors";
import { findCondition, setCondition, statusEqual, type ConditionInput } from "../../reconcile/conditions";
import { requestKey, type ReconcileContext, type Request, type Result } from "../../reconcile/index";
import { defaultRegistry, type MetricsRegistry } from "../../reconcile/internal/metrics";
import { writeStatus, type StatusApi, type StatusObject } from "../../reconcile/internal/status";
import { applySchema, planSchema, type AppliedSchema, type SchemaEngineOptions } from "../../schema/engine";
import type { HazardCode } from "../../schema/hazards";
import { HazardsRefusedError, refusedHazards, type AllowedHazards, type Plan } from "../../schema/plan/plan";
import type { DesiredSchema } from "../../schema/source/desired";
import { formatDifference, UnmodelledDifferenceError } from "../../schema/verify/index";

/** A `PostgresSchema` object as read from the API server or the informer cache (unvalidated). */
export interface PostgresSchemaObject extends KubernetesObject {
  spec?: unknown;
  status?: PostgresSchemaStatus;
}

/** Everything the reconciler needs from the outside world, injectable for tests. */
export interface PostgresSchemaDeps {
  /** The informer cache of `PostgresSchema` objects, keyed `namespace/name`. */
  readonly cache: { get(key: string): PostgresSchemaObject | undefined };
  /** Where status is written (the `postgresschemas` status subresource). */
  readonly status: StatusApi;
  /**
   * Reads one key of a Secret, decoded.
   * @throws when the Secret or key is missing (the message must not contain the value).
   */
  readonly readSecretKey: (namespace: string, name: string, key: string) => Promise<string>;
  /**
   * Reads one key of a ConfigMap.
   * @throws when the ConfigMap or key is missing.
   */
  readonly readConfigMapKey: (namespace: string, name: string, key: string) => Promise<string>;
  /** Engine options passed to every plan and apply (e.g. `devUrl`, `cacheDir`). @default {} */
  readonly engineOptions?: SchemaEngineOptions;
  /** The schema engine. @default { planSchema, applySchema } from `sdk/schema/engine` */
  readonly engine?: { plan: typeof planSchema; apply: typeof applySchema };
  /** Look again after this long when the database is unreachable. @default 10_000 ms */
  readonly unreachableRequeueMs?: number;
  /** Look again after this long when the status write hit a conflict. @default 500 ms */
  readonly conflictRequeueMs?: number;
  /** Where the controller's own counters are registered. @default defaultRegistry */
  readonly metrics?: MetricsRegistry;
  /**
   * The current resourceVersion of a Secret or ConfigMap (`namespace/name`), as the operator's
   * watches last saw it; `undefined` when unknown. With it, a reconcile whose object, Secret,
   * ConfigMap and status are unchanged since a database check younger than the interval that
   * check asked for (the drift check interval) is answered without a database round trip or an
   * API read: periodic resyncs then cost nothing, and the database is checked as often as
   * `driftCheckInterval` says. @default undefined (every reconcile checks the database)
   */
  readonly versions?: {
    readonly secret: (key: string) => string | undefined;
    readonly configMap: (key: string) => string | undefined;
  };
}

/** One observation of the database, remembered to answer resyncs that change nothing. */
interface Observation {
  /** When the observation started (ms since the epoch, on the controller's clock). */
  readonly at: number;
  /** {@link reconcilePostgresSchema}'s inputs fingerprint at the time. */
  readonly inputs: string;
  /** The status it left (written, or found equal). */
  readonly status: PostgresSchemaStatus;
  /** How long it stands: the requeue it asked for (the drift check interval, or sooner); undefined: until the inputs change. */
  readonly windowMs: number | undefined;
}

/** At most this many statements are listed in `status.pendingStatements` (the CRD's limit). */
const MAX_PENDING = 1000;

/** The outcome of one observation, before it is turned into status. */
type Outcome =
  | { readonly kind: "Converged"; readonly fingerprint: string }
  | { readonly kind: "Applied"; readonly fingerprint: string; readonly statements: number; readonly driftCorrected: boolean }
  | { readonly kind: "HazardsRefused"; readonly message: string; readonly pending: readonly string[] }
  | { readonly kind: "DatabaseUnreachable"; readonly message: string }
  | { readonly kind: "InvalidSpec"; readonly message: string }
  | { readonly kind: "InvalidSchema"; readonly message: string }
  | { readonly kind: "UnmodelledDifference"; readonly message: string }
  | { readonly kind: "Unsupported"; readonly message: string };

/** A property of an unvalidated object, or undefined. */
function field(value: unknown, ...path: string[]): unknown {
  let cur = value;
  for (const p of path) cur = typeof cur === "object" && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function refIn(obj: PostgresSchemaObject, ...path: string[]): string[] {
  const name = field(obj.spec, ...path, "name");
  return typeof name === "string" && name !== "" ? [`${obj.metadata?.namespace ?? ""}/${name}`] : [];
}

/** The ConfigMap (`namespace/name`) an object reads its desired SQL from, if any. Accepts unvalidated specs. */
export function referencedConfigMaps(obj: PostgresSchemaObject): string[] {
  return refIn(obj, "desired", "configMapRef");
}

/** The Secret (`namespace/name`) an object reads its connection from, if any. Accepts unvalidated specs. */
export function referencedSecrets(obj: PostgresSchemaObject): string[] {
  return refIn(obj, "connection", "secretRef");
}

/** Spec `allowHazards` in the engine's form. */
export function allowedHazards(spec: Pick<PostgresSchemaSpec, "allowHazards">): AllowedHazards {
  return spec.allowHazards.includes("all") ? "all" : (spec.allowHazards.filter((h) => h !== "all") as HazardCode[]);
}

/** Every SQL statement of a plan, in order, capped at the status limit. */
export function planStatements(plan: Plan): string[] {
  return plan.steps.flatMap((s) => s.sql).slice(0, MAX_PENDING);
}

/** The operator's message for refused hazards: each hazard, and the spec field that allows it. */
export function refusalMessage(hazards: readonly { code: string; message: string; step: number }[]): string {
  const codes = [...new Set(hazards.map((h) => h.code))];
  return (
    `${hazards.length} hazardous step(s) not allowed: ` +
    hazards.map((h) => `step ${h.step + 1}: ${h.code}: ${h.message}`).join("; ") +
    `. To apply them add ${codes.join(", ")} to spec.allowHazards, or change the desired schema.`
  );
}

/** The status message for catalog differences: the first few, each naming catalog, property and object. */
export function unmodelledMessage(err: UnmodelledDifferenceError): string {
  const shown = err.differences.slice(0, 5).map((d) => formatDifference(d));
  const more = err.differences.length > shown.length ? `; and ${err.differences.length - shown.length} more` : "";
  return `${err.differences.length} catalog difference(s) the engine does not change: ${shown.join("; ")}${more}. Change them on the database, or in the desired schema.`;
}

function desiredFrom(spec: PostgresSchemaSpec, sql: string, name: string): DesiredSchema {
  return {
    files: [{ name, sql }],
    renames: spec.renames.map((r) =>
      r.kind === "table"
        ? { kind: "table" as const, schema: r.schema, from: r.from, to: r.to }
        : { kind: "column" as const, schema: r.schema, table: r.table ?? "", from: r.from, to: r.to },
    ),
  };
}

/** The conditions and status fields of an outcome, on top of the previous status. */
export function statusFor(
  previous: PostgresSchemaStatus | undefined,
  outcome: Outcome,
  generation: number,
  now: Date,
): PostgresSchemaStatus {
  const ready = (status: "True" | "False", reason: string, message?: string): ConditionInput => ({ type: "Ready", status, reason, message });
  const degraded = (status: "True" | "False", reason: string, message?: string): ConditionInput => ({ type: "Degraded", status, reason, message });
  let progressing: ConditionInput = { type: "Progressing", status: "False", reason: outcome.kind };
  let inputs: ConditionInput[];
  let fields: Partial<PostgresSchemaStatus>;
  switch (outcome.kind) {
    case "Converged": {
      fields = { drift: false, pendingStatements: [], lastAppliedFingerprint: outcome.fingerprint };
      // Still converged since our own apply of this generation and desired schema: keep saying
      // so. Flipping the reason to Converged would cost one status write per apply, made by the
      // next drift check or resync of an object that did not change.
      const last = findCondition(previous?.conditions, "Ready");
      const stillApplied =
        last?.status === "True" &&
        (last.reason === "Applied" || last.reason === "DriftCorrected") &&
        last.observedGeneration === generation &&
        previous?.lastAppliedFingerprint === outcome.fingerprint;
      if (stillApplied) {
        inputs = [ready("True", last.reason, last.message), degraded("False", last.reason)];
        progressing = { ...progressing, reason: last.reason };
      } else {
        inputs = [ready("True", "Converged", "the database matches the desired schema"), degraded("False", "Converged")];
      }
      break;
    }
    case "Applied": {
      const reason = outcome.driftCorrected ? "DriftCorrected" : "Applied";
      inputs = [ready("True", reason, `applied ${outcome.statements} statement(s)`), degraded("False", reason)];
      fields = { drift: false, pendingStatements: [], lastAppliedFingerprint: outcome.fingerprint };
      break;
    }
    case "HazardsRefused":
      inputs = [ready("False", "HazardsRefused", outcome.message), degraded("True", "HazardsRefused", outcome.message)];
      fields = { drift: true, pendingStatements: [...outcome.pending] };
      break;
    case "UnmodelledDifference":
      // The database differs from the desired schema where the engine cannot change it: drift it cannot correct.
      inputs = [ready("False", outcome.kind, outcome.message), degraded("True", outcome.kind, outcome.message)];
      fields = { drift: true, pendingStatements: [] };
      break;
    case "DatabaseUnreachable":
    case "InvalidSpec":
    case "InvalidSchema":
    case "Unsupported":
      inputs = [ready("False", outcome.kind, outcome.message), degraded("True", outcome.kind, outcome.message)];
      fields = {};
      break;
    default: {
      const never: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
    }
  }
  let conditions = previous?.conditions;
  for (const input of [...inputs, progressing]) conditions = setCondition(conditions, input, generation, now);
  const next: PostgresSchemaStatus = { ...previous, ...fields, observedGeneration: generation, conditions };
  // lastCheckTime moves only when something else changed: bumping it on every drift check would
  // turn each check into a status write and each write into another reconcile.
  if (!statusEqual({ ...previous, lastCheckTime: undefined }, { ...next, lastCheckTime: undefined })) {
    return { ...next, lastCheckTime: now.toISOString().replace(/\.\d{3}Z$/, "Z") };
  }
  return next;
}

/**
 * Creates the `PostgresSchema` reconciler (see the module documentation).
 * @param deps caches, clients and engine; see {@link PostgresSchemaDeps}.
 * @returns a reconciler; it throws (backoff) on failures other than the measured outcomes.
 */
export function reconcilePostgresSchema(deps: PostgresSchemaDeps) {
  const engine = deps.engine ?? { plan: planSchema, apply: applySchema };
  const plans = (deps.metrics ?? defaultRegistry).counter(
    "setpoint_schema_plans_total",
    "Plans made by the PostgresSchema controller, by where the normalized desired model came from (cache, or dev-server: normalized on the dev database server).",
    ["desired"],
  );
  const skips = (deps.metrics ?? defaultRegistry).counter(
    "setpoint_schema_checks_skipped_total",
    "Reconciles answered from the last observation: same object, generation, Secret and ConfigMap versions and status, checked less than its interval ago.",
  );
  /** The last observation per key, while its inputs and our status stand. */
  const recent = new Map<string, Observation>();

  return async (ctx: ReconcileContext, req: Request): Promise<Result> => {
    const key = requestKey(req);
    const obj = deps.cache.get(key);
    if (obj === undefined) {
      recent.delete(key);
      return {}; // deleted: nothing to do
    }
    const at = ctx.now().getTime();
    const inputs = inputsOf(obj);
    const last = recent.get(key);
    // A resync (or any event that changed none of the inputs) inside the interval the last check
    // asked for: the database was checked recently enough, and nothing it depends on changed.
    if (last !== undefined && inputs !== undefined && last.inputs === inputs && statusEqual(last.status, obj.status)) {
      const elapsed = at - last.at;
      if (last.windowMs === undefined || elapsed < last.windowMs) {
        skips.inc();
        ctx.log.debug("checked recently and nothing changed", { checkedMsAgo: elapsed });
        return last.windowMs === undefined ? {} : { requeueAfterMs: last.windowMs - elapsed };
      }
    }
    recent.delete(key);
    const generation = obj.metadata?.generation ?? 0;
    const { outcome, requeueAfterMs } = await observe(ctx, req, obj);
    const next = statusFor(obj.status, outcome, generation, ctx.now());
    const written = await writeStatus(deps.status, obj as StatusObject<PostgresSchemaStatus>, next);
    if (written.conflict) {
      ctx.log.info("status write conflicted; requeueing with fresh state");
      return { requeueAfterMs: deps.conflictRequeueMs ?? 500 };
    }
    if (inputs !== undefined) recent.set(key, { at, inputs, status: next, windowMs: requeueAfterMs });
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  };

  /**
   * What an observation depends on besides the database: the object (uid, generation) and the
   * versions of the Secret and ConfigMap it reads. `undefined` when a version is unknown.
   */
  function inputsOf(obj: PostgresSchemaObject): string | undefined {
    if (deps.versions === undefined) return undefined;
    const parts = [obj.metadata?.uid ?? "", String(obj.metadata?.generation ?? 0)];
    for (const [refs, versionOf] of [
      [referencedSecrets(obj), deps.versions.secret],
      [referencedConfigMaps(obj), deps.versions.configMap],
    ] as const) {
      for (const ref of refs) {
        const version = versionOf(ref);
        if (version === undefined) return undefined;
        parts.push(`${ref}@${version}`);
      }
    }
    return parts.join("|");
  }

  async function observe(
    ctx: ReconcileContext,
    req: Request,
    obj: PostgresSchemaObject,
  ): Promise<{ outcome: Outcome; requeueAfterMs?: number }> {
    let spec: PostgresSchemaSpec;
    try {
      spec = parsePostgresSchemaSpec(obj.spec);
    } catch (err) {
      if (err instanceof InputError) return { outcome: { kind: "InvalidSpec", message: err.message } };
      throw err;
    }
    const driftMs = durationToMs(spec.driftCheckInterval);
    const { secretRef, clusterRef } = spec.connection;
    if (clusterRef !== undefined || secretRef === undefined) {
      return { outcome: { kind: "Unsupported", message: "spec.connection.clusterRef is not supported yet; use spec.connection.secretRef" } };
    }
    const secretUrl = await deps.readSecretKey(req.namespace, secretRef.name, secretRef.key);
    // A cluster's app Secret carries its authority (ADR 0035): verify-full against it, not the system's.
    const ca = await deps.readSecretKey(req.namespace, secretRef.name, "ca.crt").catch(() => undefined);
    const url: ConnectionInput = ca !== undefined && /^postgres(ql)?:\/\//.test(secretUrl) ? withAuthority(secretUrl, ca) : secretUrl;
    const { sql, configMapRef } = spec.desired;
    const desired =
      sql !== undefined
        ? desiredFrom(spec, sql, "spec.desired.sql")
        : desiredFrom(
            spec,
            await deps.readConfigMapKey(req.namespace, configMapRef!.name, configMapRef!.key),
            `configmap ${configMapRef!.name} key ${configMapRef!.key}`,
          );
    const options: SchemaEngineOptions = {
      ...deps.engineOptions,
      // A stopping operator (shutdown, lost leadership) cancels its apply: the group rolls back now
      // rather than finishing after another replica took over.
      signal: ctx.signal,
      online: spec.online,
      allowHazards: allowedHazards(spec),
      ...(spec.allSchemas ? { schemas: "all" as const } : spec.schemas ? { schemas: spec.schemas } : {}),
    };
    try {
      // Apply straight away: the engine plans, and refuses the plan whole before anything runs
      // when it has hazards the spec does not allow; planning here first would plan twice.
      let applied: AppliedSchema;
      try {
        applied = await engine.apply(url, desired, options);
      } catch (err) {
        if (!(err instanceof HazardsRefusedError)) throw err;
        // Refused: plan again only to list the pending statements in status.
        const planned = await engine.plan(url, desired, options);
        plans.inc({ desired: planned.desiredFromCache ? "cache" : "dev-server" });
        if (planned.plan.steps.length === 0) return { outcome: { kind: "Converged", fingerprint: planned.fingerprint }, requeueAfterMs: driftMs };
        const refused = refusedHazards(planned.plan, options.allowHazards!);
        const message = refusalMessage(refused.length > 0 ? refused : err.hazards);
        ctx.log.info("plan refused: hazards not allowed", { steps: planned.plan.steps.length, hazards: (refused.length > 0 ? refused : err.hazards).map((h) => h.code) });
        return { outcome: { kind: "HazardsRefused", message, pending: planStatements(planned.plan) }, requeueAfterMs: driftMs };
      }
      plans.inc({ desired: applied.desiredFromCache ? "cache" : "dev-server" });
      if (applied.plan.steps.length === 0) {
        ctx.log.debug("converged");
        return { outcome: { kind: "Converged", fingerprint: applied.fingerprint }, requeueAfterMs: driftMs };
      }
      const statements = planStatements(applied.plan).length;
      // Drift: this very desired schema was applied before, and the database no longer matches it.
      // (Not "was Ready": a cached status may lag behind, and a refused drift is not Ready either.)
      const driftCorrected = obj.status?.lastAppliedFingerprint === applied.fingerprint;
      if (driftCorrected) ctx.log.info("drift detected and corrected", { statements });
      else ctx.log.info("applied the desired schema", { statements });
      return {
        outcome: { kind: "Applied", fingerprint: applied.fingerprint, statements, driftCorrected },
        requeueAfterMs: driftMs,
      };
    } catch (err) {
      if (err instanceof ConnectionError) {
        ctx.log.info("database unreachable", { target: err.target, error: err.message });
        return {
          outcome: { kind: "DatabaseUnreachable", message: `cannot reach ${err.target}: ${err.message}` },
          requeueAfterMs: deps.unreachableRequeueMs ?? 10_000,
        };
      }
      if (err instanceof UnmodelledDifferenceError) {
        // The catalog-level check (ADR 0014): properties the engine does not model differ.
        ctx.log.info("catalogs differ from the desired schema", { differences: err.differences.length });
        return { outcome: { kind: "UnmodelledDifference", message: unmodelledMessage(err) }, requeueAfterMs: driftMs };
      }
      if (err instanceof InputError && err.propertyPath !== "url") {
        return { outcome: { kind: "InvalidSchema", message: err.message }, requeueAfterMs: driftMs };
      }
      if (err instanceof InputError) {
        // An invalid connection URL in the Secret: name the Secret, never its value.
        return {
          outcome: { kind: "InvalidSpec", message: `secret ${secretRef.name} key ${secretRef.key}: ${err.message}` },
          requeueAfterMs: driftMs,
        };
      }
      throw err;
    }
  }
}
