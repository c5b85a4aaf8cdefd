import type * as pulumi from "@pulumi/pulumi";

/**
 * The `Upgrade` dynamic provider as Pulumi serializes it into state: a plain object whose methods
 * load the implementation at call time. It captures nothing but `impl`, so its serialized text does
 * not change when the engine does, and resources are not marked for update by a Setpoint upgrade.
 */
export const upgradeProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => impl().check(olds, news),
  diff: (id, olds, news) => impl().diff(id, olds, news),
  create: (inputs) => impl().create(inputs),
  update: (id, olds, news) => impl().update(id, olds, news),
  read: (id, props) => impl().read(id, props),
  delete: (id, props) => impl().remove(id, props),
};

// Resolved from the program's directory (where `setpoint` is installed, or the setpoint checkout
// itself): the provider process evaluates this code with no file of its own to resolve from.
function impl(): typeof import("./internal/upgrade-provider-impl") {
  const { createRequire } = require("node:module") as typeof import("node:module");
  const { join } = require("node:path") as typeof import("node:path");
  return createRequire(join(process.cwd(), "index.js"))("setpoint/internal/upgrade-provider");
}
