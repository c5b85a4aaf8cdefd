/**
 * Loaders of optional peer dependencies. A component that needs one loads it when it is
 * constructed, never at module load, so a program that does not use that component needs no such
 * package installed (a `Schema`-only program runs without `@pulumi/kubernetes`). See ADR 0011.
 */
import type * as k8s from "@pulumi/kubernetes";
import { InputError } from "../../sdk/errors";

/**
 * `@pulumi/kubernetes`, loaded on first use by `component` (e.g. `Operator`).
 * @throws {InputError} naming the package to install when it is not installed.
 */
export function loadPulumiKubernetes(component: string): typeof k8s {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use: an optional peer (ADR 0011)
    return require("@pulumi/kubernetes") as typeof k8s;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw cause;
    throw new InputError(
      `${component} needs the optional peer dependency @pulumi/kubernetes, which is not installed; run \`npm install @pulumi/kubernetes@^4.25.0\` in your Pulumi project`,
      {},
      { cause },
    );
  }
}
