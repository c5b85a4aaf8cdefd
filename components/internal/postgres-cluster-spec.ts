// What the PostgresCluster component does besides creating resources: validating and defaulting
// its arguments, and waiting for the operator to report it Ready. Kept apart from the component's
// module because these signatures name zod-derived types, which the published declarations of
// `setpoint/components` must not reference (ADR 0011).
import type * as k8sClient from "@kubernetes/client-node";
import { z } from "zod";
import {
  DURATION_PATTERN,
  GROUP,
  KINDS,
  POSTGRES_PORT,
  VERSION,
  clusterObjectNames,
  durationToMs,
  isDnsLabel,
  isReadyFor,
  kubeName,
  parsePostgresClusterStatus,
  parseWithSchema,
  postgresClusterSpecSchema,
  readyCondition,
  serviceHost,
} from "../../sdk/api/index";
import type { PostgresClusterSpec, PostgresClusterStatus } from "../../sdk/api/index";
import { InputError } from "../../sdk/errors";
import { loadKubeConfig } from "../../sdk/reconcile/kubeconfig";
import type { ClusterEndpoints, PostgresClusterArgs } from "../postgres-cluster";

/** {@link PostgresClusterArgs} validated, with every default applied. */
export interface ResolvedPostgresClusterArgs {
  readonly clusterName: string;
  readonly namespace: string;
  readonly spec: PostgresClusterSpec;
  readonly waitForReady: boolean;
  readonly readyTimeoutMs: number;
}

const dnsLabel = z.string().refine((s) => isDnsLabel(s), { error: "must be a DNS-1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters" });

const placementSchema = z.object({
  namespace: dnsLabel.default("default"),
  clusterName: dnsLabel.optional(),
  waitForReady: z.boolean().default(true),
  readyTimeout: z.string().regex(DURATION_PATTERN, { error: "must be a duration such as 90s, 10m or 1h" }).default("10m"),
});

/**
 * Validates {@link PostgresClusterArgs} and applies every default (those of the CRD spec too). Pure.
 * @param name the Pulumi resource name (the default cluster name).
 * @param args the component's arguments.
 * @throws {InputError} naming the property (`propertyPath`, e.g. `storage.size`) and what is allowed.
 */
export function postgresClusterDefaults(name: string, args: PostgresClusterArgs): ResolvedPostgresClusterArgs {
  if (args === undefined || args === null || typeof args !== "object") {
    throw new InputError("PostgresCluster args must be an object with at least storage and postgresVersion or image", { propertyPath: "args" });
  }
  const { namespace, clusterName, waitForReady, readyTimeout, kubeconfig: _kubeconfig, ...spec } = args;
  const placement = parseWithSchema(placementSchema, "PostgresCluster args", "", { namespace, clusterName, waitForReady, readyTimeout });
  return {
    clusterName: placement.clusterName ?? kubeName([name]),
    namespace: placement.namespace,
    spec: parseWithSchema(postgresClusterSpecSchema, "PostgresCluster args", "", spec),
    waitForReady: placement.waitForReady,
    readyTimeoutMs: durationToMs(placement.readyTimeout),
  };
}

/**
 * Endpoints of a cluster: what its status reports, else the naming convention shared with the
 * operator (`sdk/api/names.ts`). Pure.
 */
export function clusterEndpoints(clusterName: string, namespace: string, status?: PostgresClusterStatus): ClusterEndpoints {
  const names = clusterObjectNames(clusterName);
  return {
    readWriteHost: serviceHost(status?.readWriteService ?? names.readWriteService, namespace),
    readOnlyHost: serviceHost(status?.readOnlyService ?? names.readOnlyService, namespace),
    port: status?.port ?? POSTGRES_PORT,
    secretName: status?.secretName ?? names.appSecret,
  };
}

/** Options of {@link waitForClusterReady}. */
export interface WaitOptions {
  /** Kubeconfig content or path; the default kubeconfig when undefined. */
  kubeconfig?: string;
  namespace: string;
  name: string;
  /** `metadata.generation` the Ready condition must have observed. */
  generation: number;
  timeoutMs: number;
  /** Delay between reads. @default 1000 */
  pollMs?: number;
}


/**
 * True when the cluster serves the spec of `generation`: `Ready=True` for it, and no change of
 * that spec still rolling out (`Progressing=True`, e.g. a rolling restart for a parameter, or
 * replicas still cloning). Pure.
 */
export function isServing(status: PostgresClusterStatus | undefined, generation: number): boolean {
  const progressing = status?.conditions?.find((c) => c.type === "Progressing");
  return isReadyFor(status, generation) && progressing?.status !== "True";
}

/**
 * Polls a PostgresCluster until it serves the spec of `generation` ({@link isServing}), so that
 * dependents (a Schema, applications) never run against a rollout in progress.
 * @returns the status that was Ready.
 * @throws {Error} after `timeoutMs`, with the last Ready condition's reason and message (or
 *   the last API error); never with credentials.
 */
export async function waitForClusterReady(opts: WaitOptions): Promise<PostgresClusterStatus> {
  // Loaded on use: only a cluster that waits for Ready talks to the Kubernetes API from the program.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use (ADR 0011)
  const { CustomObjectsApi } = require("@kubernetes/client-node") as typeof k8sClient;
  const api = loadKubeConfig(opts.kubeconfig).makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + opts.timeoutMs;
  let last = "no status yet";
  for (;;) {
    try {
      const obj = (await api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: opts.namespace,
        plural: KINDS.PostgresCluster.plural,
        name: opts.name,
      })) as { status?: unknown };
      const status = parsePostgresClusterStatus(obj.status);
      if (isServing(status, opts.generation)) return status;
      const ready = readyCondition(status);
      const progressing = status.conditions?.find((c) => c.type === "Progressing");
      last = ready
        ? `Ready=${ready.status} (${ready.reason}${ready.message ? `: ${ready.message}` : ""}) for generation ${ready.observedGeneration ?? "?"}`
        : "no Ready condition yet";
      if (ready?.status === "True" && progressing?.status === "True") last += `; Progressing=True (${progressing.reason}${progressing.message ? `: ${progressing.message}` : ""})`;
    } catch (err) {
      const e = err as { code?: number; message?: string };
      last = `reading the resource failed: ${e.code ? `HTTP ${e.code}` : (e.message ?? String(err)).split("\n")[0]}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `PostgresCluster ${opts.namespace}/${opts.name} not Ready for generation ${opts.generation} after ${Math.round(opts.timeoutMs / 1000)}s: ${last}`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 1000, Math.max(0, deadline - Date.now()))));
  }
}

