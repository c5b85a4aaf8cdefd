/**
 * Status writes through the status subresource, controller-runtime style: skip the write when
 * nothing changed, send the resourceVersion that was read (optimistic concurrency), and report
 * 409 Conflict to the caller, who requeues and recomputes from fresh state instead of
 * retrying a write based on a stale read.
 */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { statusEqual } from "../conditions";
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
