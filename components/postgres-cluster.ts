/**
 * `PostgresCluster`: creates a `PostgresCluster` custom resource (setpoint.dev/v1alpha1) and,
 * on `pulumi up`, waits until the operator reports it Ready for the spec just written. Its
 * outputs are how applications reach the database.
 */
import { CustomObjectsApi } from "@kubernetes/client-node";
import { loadKubeConfig } from "../sdk/reconcile/kubeconfig";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  API_VERSION,
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
} from "../sdk/api/index";
import type { PostgresClusterSpec, PostgresClusterSpecInput, PostgresClusterStatus } from "../sdk/api/index";
import { InputError } from "../sdk/errors";

/** Arguments of {@link PostgresCluster}: the cluster's spec plus where and how to wait. */
export interface PostgresClusterArgs extends PostgresClusterSpecInput {
  /** Namespace of the custom resource (and of the services and secrets the operator creates). @default "default" */
  namespace?: string;
  /**
   * `metadata.name` of the custom resource: a DNS-1035 label of at most 63 characters.
   * @default the Pulumi resource name, made a valid label by `kubeName`
   */
  clusterName?: string;
  /** Wait on `pulumi up` until the cluster is Ready for the written spec. @default true */
  waitForReady?: boolean;
  /** How long to wait for Ready, e.g. `90s`, `10m`, `1h`. @default "10m" */
  readyTimeout?: string;
  /**
   * Kubeconfig (content, or a file path) used only to watch readiness; never stored in state.
   * Pass the same one as your `k8s.Provider` when you use an explicit provider.
   * @default the default kubeconfig: $KUBECONFIG, ~/.kube/config, or the in-cluster service account
   */
  kubeconfig?: pulumi.Input<string>;
}

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

/** How applications reach a cluster. */
export interface ClusterEndpoints {
  /** `<cluster>-rw.<namespace>.svc`: the primary. */
  readonly readWriteHost: string;
  /** `<cluster>-ro.<namespace>.svc`: the replicas (served when `services.ro` is true). */
  readonly readOnlyHost: string;
  /** PostgreSQL port of both services. */
  readonly port: number;
  /** Secret with the application owner's credentials. */
  readonly secretName: string;
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

/**
 * A PostgreSQL cluster run by the Setpoint operator.
 *
 * The operator (see `Operator`) must be installed; its CRDs must exist before this resource is
 * created (use `dependsOn: operator.crds` in the same program).
 */
export class PostgresCluster extends pulumi.ComponentResource {
  /** `metadata.name` of the custom resource. */
  readonly clusterName: pulumi.Output<string>;
  /** Namespace of the cluster. */
  readonly namespace: pulumi.Output<string>;
  /** Host of the primary, `<cluster>-rw.<namespace>.svc`; known once the cluster is Ready. */
  readonly readWriteHost: pulumi.Output<string>;
  /** Host of the replicas, `<cluster>-ro.<namespace>.svc`; known once the cluster is Ready. */
  readonly readOnlyHost: pulumi.Output<string>;
  /** PostgreSQL port (5432). */
  readonly port: pulumi.Output<number>;
  /** Secret with the application credentials (from status, else `<cluster>-app`). */
  readonly secretName: pulumi.Output<string>;
  /** The custom resource. */
  readonly resource: k8s.apiextensions.CustomResource;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("setpoint:index:PostgresCluster", name, {}, opts);
    let a: ResolvedPostgresClusterArgs;
    try {
      a = postgresClusterDefaults(name, args);
    } catch (err) {
      throw err instanceof InputError ? new pulumi.ResourceError(err.message, this, true) : err;
    }

    this.resource = new k8s.apiextensions.CustomResource(
      name,
      {
        apiVersion: API_VERSION,
        kind: KINDS.PostgresCluster.kind,
        metadata: { name: a.clusterName, namespace: a.namespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        spec: a.spec,
      },
      { parent: this },
    );

    const kubeconfig = pulumi.secret(pulumi.output(args.kubeconfig ?? ""));
    // Outputs settle only when the operator reports Ready for this generation, so dependents
    // (schemas, applications) never see a cluster that is not serving the spec just written.
    const ready = pulumi.all([this.resource.metadata, kubeconfig]).apply(async ([metadata, config]) => {
      if (!a.waitForReady || pulumi.runtime.isDryRun()) return undefined;
      try {
        return await waitForClusterReady({
          kubeconfig: config || undefined,
          namespace: a.namespace,
          name: a.clusterName,
          generation: metadata.generation,
          timeoutMs: a.readyTimeoutMs,
        });
      } catch (err) {
        throw new pulumi.ResourceError((err as Error).message, this, true);
      }
    });
    // The kubeconfig's secrecy would otherwise spread to the endpoints, which hold no secret.
    const endpoints = pulumi.unsecret(ready.apply((status) => clusterEndpoints(a.clusterName, a.namespace, status)));

    this.clusterName = this.resource.metadata.name;
    this.namespace = this.resource.metadata.namespace;
    this.readWriteHost = endpoints.readWriteHost;
    this.readOnlyHost = endpoints.readOnlyHost;
    this.port = endpoints.port;
    this.secretName = endpoints.secretName;
    this.registerOutputs({
      clusterName: this.clusterName,
      namespace: this.namespace,
      readWriteHost: this.readWriteHost,
      readOnlyHost: this.readOnlyHost,
      port: this.port,
      secretName: this.secretName,
    });
  }
}
