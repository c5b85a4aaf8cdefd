import * as pulumi from "@pulumi/pulumi";

/**
 * Sets Pulumi's mocks for a unit test: `newResource` answers every registration, calls echo
 * their inputs, and resources are not in preview.
 * @param project @default "setpoint"
 * @param stack @default "test"
 */
export function setPulumiMocks(newResource: pulumi.runtime.Mocks["newResource"], project = "setpoint", stack = "test"): Promise<void> {
  return pulumi.runtime.setMocks({ newResource, call: (args) => args.inputs }, project, stack, false);
}

/** What the mock engine saw for one registered resource, with what its `newResource` does not see. */
export interface Registration {
  type: string;
  name: string;
  parent: string;
  inputs: Record<string, unknown>;
  additionalSecretOutputs: string[];
}

// The part of the engine's register request recordRegistrations reads.
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getObject(): unknown;
  getAdditionalsecretoutputsList(): string[];
}

/**
 * Records every resource registered from now on, with its parent and resource options (the
 * mock's `newResource` sees neither), in order. Call after {@link setPulumiMocks}.
 * @returns the list the registrations are appended to
 */
export function recordRegistrations(): Registration[] {
  const registered: Registration[] = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: unknown): unknown };
  const registerResource = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    registered.push({
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      inputs: pulumi.runtime.deserializeProperties(req.getObject() as never) as Record<string, unknown>,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    });
    return registerResource(req, cb);
  };
  return registered;
}

/** The value an output resolves to (in a mocked program every output resolves). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}
