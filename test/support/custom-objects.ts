// Creating, reading and waiting on the operator's custom objects (setpoint.dev kinds) in a test's namespace.
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { GROUP, KINDS, VERSION, type SetpointKind } from "../../sdk/api/index";
import { eventually } from "./eventually";

/** Creates a `kind` object named `name` with `spec` in `namespace`. */
export function createCustomObject(objects: CustomObjectsApi, namespace: string, kind: SetpointKind, name: string, spec: object): Promise<unknown> {
  return objects.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: KINDS[kind].plural,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name }, spec },
  });
}

/** One condition of a setpoint.dev object's status. */
export interface ObjectCondition {
  type: string;
  status: string;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

/** A setpoint.dev object as a test reads it: its generation and the status the operator wrote. */
export interface StatusObject {
  metadata: { name: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: ObjectCondition[] } & Record<string, unknown>;
}

/** Reads the `kind` object named `name` from the API server (not from any cache). */
export async function readCustomObject<T extends StatusObject = StatusObject>(objects: CustomObjectsApi, namespace: string, kind: SetpointKind, name: string): Promise<T> {
  return (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS[kind].plural, name })) as T;
}

/** The condition of `type` in an object's status, if any. */
export function conditionOf(o: StatusObject | undefined, type: string): ObjectCondition | undefined {
  return o?.status?.conditions?.find((c) => c.type === type);
}

/**
 * Waits until the object's status satisfies `ready` (read from the API server every 100 ms) and
 * returns the object as it was then.
 * @throws naming `what` when it does not within `timeoutMs`.
 */
export function waitForStatus<T extends StatusObject = StatusObject>(
  objects: CustomObjectsApi,
  at: { namespace: string; kind: SetpointKind; name: string },
  what: string,
  ready: (o: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  return eventually(
    what,
    async () => {
      const o = await readCustomObject<T>(objects, at.namespace, at.kind, at.name);
      return ready(o) ? o : undefined;
    },
    timeoutMs,
  );
}

/** True when condition `type` has `reason` (and, when given, `status`) for the object's current generation. */
export function hasCondition(o: StatusObject, type: string, expected: { reason?: string; status?: string }): boolean {
  const c = conditionOf(o, type);
  return (
    c !== undefined &&
    (expected.reason === undefined || c.reason === expected.reason) &&
    (expected.status === undefined || c.status === expected.status) &&
    c.observedGeneration === o.metadata.generation
  );
}

/** Deletes the `kind` object named `name`. */
export function deleteCustomObject(objects: CustomObjectsApi, namespace: string, kind: SetpointKind, name: string): Promise<unknown> {
  return objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS[kind].plural, name });
}
