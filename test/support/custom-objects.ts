// Creating the operator's custom objects (setpoint.dev kinds) in a test's namespace.
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { GROUP, KINDS, VERSION, type SetpointKind } from "../../sdk/api/index";

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
