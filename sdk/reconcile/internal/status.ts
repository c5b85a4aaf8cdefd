/**
 * Status writes through the status subresource, controller-runtime style: skip the write when
 * nothing changed, send the resourceVersion that was read (optimistic concurrency), and report
 * 409 Conflict to the caller, who requeues and recomputes from fresh state instead of
 * retrying a write based on a stale read. A failed reconcile reports its error in status
 * ({@link reportFailureInStatus}).
 */
import type { CustomObjectsApi, KubernetesObject } from "@kubernetes/client-node";
import type { Condition } from "../../api/common";
import { setCondition, statusEqual } from "../conditions";
import { requestKey, type ReconcileContext, type Request } from "../index";
import { apiStatusCode } from "./api-error";

/** Where objects of one custom resource live, plus the client to reach them. */
export interface StatusApi {
  /** A client-node custom objects client. */
  readonly client: Pick<CustomObjectsApi, "replaceNamespacedCustomObjectStatus">;
  /** API group, e.g. `setpoint.dev`. */
  readonly group: string;
  /** API version, e.g. `v1alpha1`. */
  readonly version: string;
  /** Resource plural, e.g. `postgresschemas`. */
  readonly plural: string;
}

/** A namespaced custom object as read from the API server or an informer cache. */
export interface StatusObject<S> {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  status?: S;
  [key: string]: unknown;
}

/** Outcome of {@link writeStatus}. */
export type WriteStatusResult<S> =
  /** The new status equals the current one: nothing was sent. */
  | { readonly kind: "Unchanged"; readonly conflict: false }
  /** The status was written; `object` is the server's response (with its new resourceVersion). */
  | { readonly kind: "Written"; readonly conflict: false; readonly object: StatusObject<S> }
  /** The object changed since it was read (409): requeue the key, do not retry the write. */
  | { readonly kind: "Conflict"; readonly conflict: true };

/**
 * Writes `newStatus` to `obj` through the status subresource (a PUT carrying
 * `obj.metadata.resourceVersion`), unless it {@link statusEqual}s `obj.status`.
 * @param api the resource and client.
 * @param obj the object as read, including `metadata.resourceVersion`.
 * @param newStatus the complete status to store.
 * @throws the client's error for failures other than 409 Conflict (the caller's backoff applies).
 * @throws {TypeError} when `obj` lacks `metadata.name`, `metadata.namespace` or `metadata.resourceVersion`.
 */
export async function writeStatus<S>(api: StatusApi, obj: StatusObject<S>, newStatus: S): Promise<WriteStatusResult<S>> {
  if (statusEqual(obj.status, newStatus)) return { kind: "Unchanged", conflict: false };
  const { name, namespace, resourceVersion } = obj.metadata ?? {};
  if (!name || !namespace || !resourceVersion) {
    // Without a resourceVersion the PUT would overwrite concurrent changes unconditionally.
    throw new TypeError("writeStatus: obj.metadata needs name, namespace and resourceVersion");
  }
  try {
    const object = (await api.client.replaceNamespacedCustomObjectStatus({
      group: api.group,
      version: api.version,
      plural: api.plural,
      namespace,
      name,
      body: { ...obj, status: newStatus },
    })) as StatusObject<S>;
    return { kind: "Written", conflict: false, object };
  } catch (err) {
    if (apiStatusCode(err) === 409) return { kind: "Conflict", conflict: true };
    throw err;
  }
}

/** The part of a status a failed reconcile updates: the object's and the conditions' observed generation. */
export interface ConditionedStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

/** What a failed reconcile reports: a CamelCase reason and a message (never a secret). */
export interface Failure {
  readonly reason: string;
  readonly message: string;
}

/** Longest condition message the CRDs accept. */
const MAX_MESSAGE = 32_768;

/**
 * The reason and message of an error thrown by a reconciler: a Setpoint error's code in
 * CamelCase (`EMBEDDED_POSTGRES` → `EmbeddedPostgres`), an API error's HTTP status
 * (`ApiError409`), otherwise `ReconcileError`; the message only (never the stack, cause or own
 * properties, which may hold secrets), capped at the CRD's limit.
 */
export function failureOf(err: unknown): Failure {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  const status = apiStatusCode(err);
  let reason = "ReconcileError";
  if (typeof code === "string" && /^[A-Z][A-Z0-9_]*$/.test(code)) {
    reason = code
      .toLowerCase()
      .split("_")
      .filter((w) => w !== "")
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join("");
  } else if (status !== undefined) {
    reason = `ApiError${status}`;
  }
  const message = (err instanceof Error ? err.message : String(err)) || "reconcile failed";
  return { reason, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message };
}

/**
 * The status after a failed reconcile: `Ready=False` and `Degraded=True` with the failure's
 * reason and message, and `observedGeneration` (on the status and on those conditions) set to
 * `generation`; every other field and condition as it was. So the status always says what is wrong
 * now, never an older, unrelated outcome.
 */
export function failedStatus<S extends ConditionedStatus>(previous: S | undefined, failure: Failure, generation: number, now: Date): S {
  let conditions = previous?.conditions;
  conditions = setCondition(conditions, { type: "Ready", status: "False", reason: failure.reason, message: failure.message }, generation, now);
  conditions = setCondition(conditions, { type: "Degraded", status: "True", reason: failure.reason, message: failure.message }, generation, now);
  return { ...(previous ?? ({} as S)), observedGeneration: generation, conditions };
}

/**
 * A controller's `onFailure` hook (see `ControllerOptions.onFailure`) that writes
 * {@link failedStatus} to the object named by the request, read from `cache`. A deleted object,
 * an unchanged status and a conflicting write (the object changed; the retry recomputes) write
 * nothing.
 * @throws the client's error for a failed write (the controller logs it).
 */
export function reportFailureInStatus<S extends ConditionedStatus>(
  api: StatusApi,
  cache: { get(key: string): (KubernetesObject & { status?: S }) | undefined },
): (ctx: ReconcileContext, req: Request, err: unknown) => Promise<void> {
  return async (ctx, req, err) => {
    const obj = cache.get(requestKey(req));
    if (obj === undefined || obj.metadata?.deletionTimestamp) return;
    const generation = obj.metadata?.generation ?? 0;
    await writeStatus(api, obj as StatusObject<S>, failedStatus(obj.status, failureOf(err), generation, ctx.now()));
  };
}
