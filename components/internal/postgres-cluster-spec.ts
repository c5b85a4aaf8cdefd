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
import { planSteps } from "../../sdk/upgrade/phases";
import { readinessRefusal } from "../../sdk/upgrade/preflight-predict";
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
  /** The major the spec asks: wait until it serves the cluster (or a supervised upgrade's gate). */
  postgresVersion?: number;
}

/** Reasons of a refused major change (the operator's `Degraded` condition, ADR 0033). */
const MAJOR_REFUSALS = new Set(["DowngradeRefused", "UpgradeTargetChanged", "UpgradeRefused", "UpgradePreflightRefused", "ServedByUpgrade"]);

/** Where a cluster stands with the major its spec asks (ADR 0033). Pure. */
export type MajorProgress =
  | { readonly kind: "done"; readonly note?: string }
  | { readonly kind: "wait"; readonly why: string }
  | { readonly kind: "refused"; readonly message: string };

/**
 * Whether `pulumi up` may stop waiting for a raised `postgresVersion`: done when the major serves
 * the cluster (status `postgresVersion`) or the upgrade rests at its supervised gate; refused
 * when the operator refused the change for this generation (the message names the fix). Pure.
 */
export function majorProgress(status: PostgresClusterStatus | undefined, wanted: number | undefined, generation: number): MajorProgress {
  if (wanted === undefined) return { kind: "done" };
  const degraded = status?.conditions?.find((c) => c.type === "Degraded" && c.status === "True");
  if (degraded && MAJOR_REFUSALS.has(degraded.reason) && (degraded.observedGeneration ?? 0) >= generation) return { kind: "refused", message: `${degraded.reason}: ${degraded.message ?? ""}` };
  if (status?.postgresVersion === undefined || status.postgresVersion === wanted) return { kind: "done" };
  const u = status.upgrade;
  if (u?.to === wanted && u.gate === "supervised" && u.phase === "synchronized") {
    return { kind: "done", note: `PostgresUpgrade ${u.name} is synchronized and waits at the supervised gate: annotate the cluster setpoint.dev/upgrade-approved=${wanted} (or set primaryUpdateStrategy: unsupervised) to cut over` };
  }
  return { kind: "wait", why: u ? `upgrading ${u.from} -> ${u.to} (PostgresUpgrade ${u.name}): ${u.phase}` : `waiting for the upgrade to ${wanted} to start` };
}

/** What `pulumi preview` says about a change of `postgresVersion` (ADR 0033). Pure. */
export type MajorPreview = { readonly kind: "none" } | { readonly kind: "refuse"; readonly message: string } | { readonly kind: "upgrade"; readonly message: string };

/**
 * The preview of a major change against the live cluster's status: a downgrade is refused with
 * the fix; a raise lists the upgrade's planned steps (the engine's own plan for a new upgrade) and
 * where a supervised cluster stops. Pure.
 */
export function previewMajorChange(status: PostgresClusterStatus | undefined, spec: Pick<PostgresClusterSpec, "postgresVersion" | "image" | "primaryUpdateStrategy" | "tls">, clusterName: string): MajorPreview {
  const running = status?.upgrade?.from ?? status?.postgresVersion;
  const wanted = spec.postgresVersion;
  // Served by its green after a finalized upgrade (ADR 0046): it has no instances of its own to change.
  if (status?.upgrade?.phase === "finalized" && wanted !== undefined && spec.image === undefined) {
    const u = status.upgrade;
    return wanted === u.to
      ? { kind: "none" }
      : { kind: "refuse", message: `cluster ${clusterName} is served by PostgresCluster ${u.green} on ${u.to} since PostgresUpgrade ${u.name} was finalized, and has no instances of its own; nothing was changed. Set postgresVersion back to ${u.to}; a further major upgrade is made on ${u.green}` };
  }
  if (running === undefined || wanted === undefined || spec.image !== undefined || running === wanted) return { kind: "none" };
  if (status?.upgrade && status.upgrade.to === wanted) return { kind: "none" };
  if (wanted < running) {
    return { kind: "refuse", message: `postgresVersion ${wanted} is lower than the ${running} cluster ${clusterName} runs: PostgreSQL cannot go back a major in place, and nothing was changed. Set postgresVersion back to ${running} (to run ${wanted}, restore a backup into a new cluster)` };
  }
  if (status?.upgrade) {
    return { kind: "refuse", message: `an upgrade to ${status.upgrade.to} (PostgresUpgrade ${status.upgrade.name}) is under way: set postgresVersion back to ${status.upgrade.to}, or roll that upgrade back and delete it first` };
  }
  // The engine's preflight rules that need only the running cluster, as the operator last ran them (ADR 0037).
  const readiness = status?.upgradeReadiness?.postgresVersion === running ? status.upgradeReadiness : undefined;
  const refusal = readinessRefusal(readiness, wanted);
  if (refusal) return { kind: "refuse", message: `PostgresCluster ${clusterName}: ${refusal} (the operator inspected the cluster at ${readiness!.checkedAt})` };
  const until = spec.primaryUpdateStrategy === "supervised" ? "synchronized" : "switched";
  const steps = planSteps(undefined, { operation: "run", until }).steps;
  const checked = readiness?.targets.find((t) => t.postgresVersion === wanted);
  const warnings = checked?.findings.filter((f) => f.severity === "warning").map((f) => `${f.code}${f.object ? ` ${f.object}` : ""}: ${f.message} (${f.fix})`) ?? [];
  return {
    kind: "upgrade",
    message:
      `major upgrade ${running} -> ${wanted} (blue-green): PostgresUpgrade ${clusterName}-to-${wanted} builds PostgresCluster ${clusterName}-v${wanted} from this spec; ` +
      `planned steps: ${steps.join(" -> ")}${until === "synchronized" ? " (supervised: stops before the cutover until approved)" : ""}; ` +
      (checked
        ? `preflight at ${readiness!.checkedAt}: no blocking finding for ${wanted} (replica identities, extensions ${wanted} ships, unlogged tables, large objects)${warnings.length ? `; warnings: ${warnings.join("; ")}` : ""}; the rest (green's capacity, roles, privileges) runs once green exists`
        : `the operator has not inspected the cluster for ${wanted} yet: the engine's preflight runs before anything is replicated and refuses into status with the fix`),
  };
}

/** The live cluster's status, or undefined when it does not exist (or cannot be read). */
export async function readClusterStatus(kubeconfig: string | undefined, namespace: string, name: string): Promise<PostgresClusterStatus | undefined> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use (ADR 0011)
  const { CustomObjectsApi } = require("@kubernetes/client-node") as typeof k8sClient;
  try {
    const obj = (await loadKubeConfig(kubeconfig).makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.PostgresCluster.plural, name })) as { status?: unknown };
    return parsePostgresClusterStatus(obj.status ?? {});
  } catch {
    return undefined;
  }
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
      const major = majorProgress(status, opts.postgresVersion, opts.generation);
      if (major.kind === "refused") throw new InputError(`PostgresCluster ${opts.namespace}/${opts.name}: ${major.message}`);
      if (isServing(status, opts.generation) && major.kind === "done") return status;
      const ready = readyCondition(status);
      const progressing = status.conditions?.find((c) => c.type === "Progressing");
      last = ready
        ? `Ready=${ready.status} (${ready.reason}${ready.message ? `: ${ready.message}` : ""}) for generation ${ready.observedGeneration ?? "?"}`
        : "no Ready condition yet";
      if (major.kind === "wait") last += `; ${major.why}`;
      if (ready?.status === "True" && progressing?.status === "True") last += `; Progressing=True (${progressing.reason}${progressing.message ? `: ${progressing.message}` : ""})`;
    } catch (err) {
      if (err instanceof InputError) throw err;
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

