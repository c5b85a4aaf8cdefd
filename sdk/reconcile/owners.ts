/**
 * Owner references, as controller-runtime's `controllerutil.SetControllerReference`: a child
 * object names the one object that controls it, so the garbage collector deletes it with its
 * owner and the runtime can map the child's events back to the owner's key
 * (`enqueueForOwner` in `./internal/sources`).
 */
import type { KubernetesObject, V1OwnerReference } from "@kubernetes/client-node";
import { SetpointError } from "../errors";

/** An object that can own others: it must have been read from the API server (it has a uid). */
export interface OwnerObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string };
}

/** Raised when a child already has a different controller (an object has at most one). */
export class AlreadyOwnedError extends SetpointError {
  /** The controller reference the child already has. */
  readonly existing: V1OwnerReference;

  constructor(child: string, existing: V1OwnerReference) {
    super(
      "ALREADY_OWNED",
      `${child} is already controlled by ${existing.kind} ${existing.name} (uid ${existing.uid}); an object has at most one controller`,
    );
    this.existing = existing;
  }
}

/** The API group of an `apiVersion` (`""` for the core group): `setpoint.dev/v1alpha1` → `setpoint.dev`. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/**
 * The controller owner reference of `obj` (the one with `controller: true`), if any.
 * @param obj any object with metadata.
 */
export function controllerOf(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** True when `ref` points at `owner` (same group, kind, name and uid; the version may differ). */
function refersTo(ref: V1OwnerReference, owner: OwnerObject): boolean {
  return (
    groupOf(ref.apiVersion) === groupOf(owner.apiVersion ?? "") &&
    ref.kind === owner.kind &&
    ref.name === owner.metadata?.name &&
    ref.uid === owner.metadata?.uid
  );
}

/**
 * Returns `child` with a controller owner reference to `owner` (`controller: true`,
 * `blockOwnerDeletion: true`), replacing an existing reference to the same owner and keeping
 * every other reference. `child` is not modified.
 * @param owner the controlling object, as read from the API server.
 * @param child the object to create or update.
 * @throws {TypeError} when `owner` lacks apiVersion, kind, name or uid, or when a namespaced
 *   owner and the child are in different namespaces (the garbage collector would ignore the reference).
 * @throws {AlreadyOwnedError} when `child` already has a different controller.
 */
export function setControllerReference<C extends KubernetesObject>(owner: OwnerObject, child: C): C {
  const { apiVersion, kind } = owner;
  const { name, uid, namespace: ownerNs } = owner.metadata ?? {};
  if (!apiVersion || !kind || !name || !uid) {
    throw new TypeError("setControllerReference: the owner needs apiVersion, kind, metadata.name and metadata.uid (read it from the API server first)");
  }
  const childNs = child.metadata?.namespace;
  if (ownerNs && childNs && ownerNs !== childNs) {
    throw new TypeError(`setControllerReference: owner ${kind} ${ownerNs}/${name} and child in namespace ${childNs}: cross-namespace owner references are not allowed`);
  }
  const refs = child.metadata?.ownerReferences ?? [];
  const current = refs.find((r) => r.controller === true);
  if (current !== undefined && !refersTo(current, owner)) {
    throw new AlreadyOwnedError(`${child.kind ?? "object"} ${child.metadata?.name ?? "(unnamed)"}`, current);
  }
  const ref: V1OwnerReference = { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
  const others = refs.filter((r) => !refersTo(r, owner));
  return { ...child, metadata: { ...child.metadata, ownerReferences: [...others, ref] } };
}
