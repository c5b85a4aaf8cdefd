/**
 * `Operator`: installs the Setpoint operator into a Kubernetes cluster: the CRDs, a namespace,
 * a service account with least-privilege RBAC, and the operator Deployment.
 */
import type * as k8sTypes from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { crdManifests, KINDS, GROUP, parseWithSchema } from "../sdk/api/index";
import { kubeName } from "../sdk/api/names";
import { InputError } from "../sdk/errors";
import { OPERATOR_NODE_OPTIONS } from "../sdk/operator/process";
import { loadPulumiKubernetes } from "./internal/optional-peers";

/** Most operator replicas; more add nothing with a single leader. */
export const MAX_OPERATOR_REPLICAS = 3;

/**
 * Where the operator container mounts its writable scratch volume (an `emptyDir`), also its
 * `TMPDIR` and `HOME`: the root filesystem is read-only, and the schema engine's embedded dev
 * server keeps its data there (`SETPOINT_SCRATCH_DIR`), as does the normalized-model cache
 * (`SETPOINT_CACHE_DIR`).
 */
export const OPERATOR_SCRATCH_DIR = "/tmp";

/** Size limit of the scratch volume: a dev server per major (~40 MB each) plus the model cache. */
export const OPERATOR_SCRATCH_SIZE = "1Gi";

/**
 * The operator container's environment for its scratch volume (see {@link OPERATOR_SCRATCH_DIR}). Pure.
 */
export function operatorScratchEnv(): { name: string; value: string }[] {
  return [
    { name: "TMPDIR", value: OPERATOR_SCRATCH_DIR },
    { name: "HOME", value: OPERATOR_SCRATCH_DIR },
    { name: "SETPOINT_SCRATCH_DIR", value: OPERATOR_SCRATCH_DIR },
    { name: "SETPOINT_CACHE_DIR", value: `${OPERATOR_SCRATCH_DIR}/setpoint-cache` },
  ];
}

/** Arguments of {@link Operator}. */
export interface OperatorArgs {
  /** Operator container image, e.g. `ghcr.io/acme/setpoint-operator:0.1.0` (built from the repo's Dockerfile). */
  image: pulumi.Input<string>;
  /** Namespace the operator runs in. @default "setpoint-system" */
  namespace?: string;
  /** Create the namespace; set false when it already exists. @default true */
  createNamespace?: boolean;
  /** Base name of the ServiceAccount, RBAC objects and Deployment. @default "setpoint-operator" */
  name?: string;
  /** Operator replicas (1-3); only the leader reconciles. @default 1 */
  replicas?: number;
  /** Run leader election (`--leader-elect`); required when replicas > 1. @default true */
  leaderElect?: boolean;
  /** Container resources. @default { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } } */
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Log level of the operator. @default "info" */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Image pull policy. @default "IfNotPresent" */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Install the CustomResourceDefinitions. @default true */
  installCrds?: boolean;
  /**
   * Do not wait for the Deployment to become available (sets `pulumi.com/skipAwait: "true"`);
   * needed where no kubelet runs pods, e.g. against a bare API server.
   * @default false
   */
  skipAwait?: boolean;
}

const quantityMap = z.record(z.string(), z.string().min(1));

const operatorArgsSchema = z.object({
  namespace: z
    .string()
    .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, { error: "must be a DNS label ([a-z][-a-z0-9]*)" })
    .max(63)
    .default("setpoint-system"),
  createNamespace: z.boolean().default(true),
  name: z
    .string()
    .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, { error: "must be a DNS label ([a-z][-a-z0-9]*)" })
    .max(53, { error: "must be at most 53 characters (suffixes are appended)" })
    .default("setpoint-operator"),
  replicas: z
    .int({ error: `must be an integer from 1 to ${MAX_OPERATOR_REPLICAS}` })
    .min(1, { error: `must be an integer from 1 to ${MAX_OPERATOR_REPLICAS}` })
    .max(MAX_OPERATOR_REPLICAS, { error: `must be an integer from 1 to ${MAX_OPERATOR_REPLICAS}` })
    .default(1),
  leaderElect: z.boolean().default(true),
  resources: z
    .object({ requests: quantityMap.optional(), limits: quantityMap.optional() })
    .default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } }),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent"),
  installCrds: z.boolean().default(true),
  skipAwait: z.boolean().default(false),
});

/** {@link OperatorArgs} after validation, every default applied (the image is passed through). */
export interface ResolvedOperatorArgs {
  image: pulumi.Input<string>;
  namespace: string;
  createNamespace: boolean;
  name: string;
  replicas: number;
  leaderElect: boolean;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  logLevel: "debug" | "info" | "warn" | "error";
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  installCrds: boolean;
  skipAwait: boolean;
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
// Fails to compile when the documented type and the schema drift apart. Spelled out rather than
// derived from zod, so the published declarations never reference zod (whose types need
// esModuleInterop, which Pulumi's stock tsconfig does not set).
const RESOLVED_MATCHES_SCHEMA: Equal<Omit<ResolvedOperatorArgs, "image">, z.output<typeof operatorArgsSchema>> = true;
void RESOLVED_MATCHES_SCHEMA;

/**
 * Validates {@link OperatorArgs} and applies the defaults. Pure.
 * @throws {InputError} naming the property (`propertyPath`, e.g. `replicas`) and what is allowed.
 */
export function operatorDefaults(args: OperatorArgs): ResolvedOperatorArgs {
  if (args === undefined || args === null || typeof args !== "object") {
    throw new InputError("Operator args must be an object with at least `image`", { propertyPath: "args" });
  }
  if (args.image === undefined || args.image === "") {
    throw new InputError("image is required: the operator container image (see the Dockerfile at the repo root)", { propertyPath: "image" });
  }
  const { image, ...rest } = args;
  const resolved = parseWithSchema(operatorArgsSchema, "Operator args", "", rest);
  if (resolved.replicas > 1 && !resolved.leaderElect) {
    throw new InputError(`leaderElect must be true when replicas is ${resolved.replicas} (only one replica may reconcile)`, {
      propertyPath: "leaderElect",
    });
  }
  return { ...resolved, image };
}

/** One RBAC rule, as plain data. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const READ = ["get", "list", "watch"];
const MANAGE = [...READ, "create", "update", "patch", "delete"];

/**
 * Cluster-wide permissions of the operator, exactly what its controllers use: read its custom
 * resources (and set finalizers on them; it never writes their spec), create the PostgresBackups
 * of schedules, write their status, manage the pods, services, volumes, secrets, config maps and
 * network policies it creates, and emit events.
 */
export function operatorClusterRules(): PolicyRule[] {
  const plurals = Object.values(KINDS).map((k) => k.plural);
  return [
    { apiGroups: [GROUP], resources: plurals, verbs: [...READ, "update", "patch"] },
    { apiGroups: [GROUP], resources: plurals.map((p) => `${p}/status`), verbs: ["get", "update", "patch"] },
    { apiGroups: [GROUP], resources: plurals.map((p) => `${p}/finalizers`), verbs: ["update"] },
    // The backup scheduler creates a PostgresBackup for each due cron time.
    { apiGroups: [GROUP], resources: [KINDS.PostgresBackup.plural], verbs: ["create"] },
    { apiGroups: [""], resources: ["pods", "services", "persistentvolumeclaims", "secrets", "configmaps"], verbs: MANAGE },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: MANAGE },
    { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  ];
}

/**
 * Permissions in the operator's own namespace: the leader-election Lease. Namespaced on purpose,
 * so the operator cannot touch other components' leases.
 */
export function operatorNamespaceRules(): PolicyRule[] {
  return [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }];
}

/** Kubernetes names of the objects an {@link Operator} creates. */
export function operatorObjectNames(base: string): { serviceAccount: string; clusterRole: string; leaderElectionRole: string; deployment: string } {
  return {
    serviceAccount: base,
    clusterRole: base,
    leaderElectionRole: kubeName([base, "leader-election"]),
    deployment: base,
  };
}

/**
 * The Setpoint operator: CRDs, namespace, ServiceAccount, RBAC and Deployment.
 *
 * Pass a `k8s.Provider` through `opts.providers` (or `opts.provider`) to target a cluster;
 * children inherit it.
 */
export class Operator extends pulumi.ComponentResource {
  /** Namespace the operator runs in. */
  readonly namespace: pulumi.Output<string>;
  /** Names of the installed CRDs (empty when `installCrds` is false). */
  readonly crdNames: pulumi.Output<string[]>;
  /** Name of the operator's ServiceAccount. */
  readonly serviceAccountName: pulumi.Output<string>;
  /** Name of the operator Deployment. */
  readonly deploymentName: pulumi.Output<string>;
  // Typed as pulumi.CustomResource, not as @pulumi/kubernetes classes: the declarations of
  // `setpoint/components` must type-check in a program without @pulumi/kubernetes (a Schema-only
  // one). Cast to the @pulumi/kubernetes class to reach its typed outputs.
  /** The `CustomResourceDefinition` resources, for `dependsOn` of custom resources created in the same program. */
  readonly crds: pulumi.CustomResource[];
  /** The operator `apps/v1` Deployment. */
  readonly deployment: pulumi.CustomResource;
  /** The cluster-wide `rbac.authorization.k8s.io/v1` ClusterRole. */
  readonly clusterRole: pulumi.CustomResource;

  constructor(name: string, args: OperatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("setpoint:index:Operator", name, {}, opts);
    let a: ResolvedOperatorArgs;
    // Loaded here, not at the top: a program that never creates an Operator needs no @pulumi/kubernetes.
    let k8s: typeof k8sTypes;
    try {
      k8s = loadPulumiKubernetes("Operator");
      a = operatorDefaults(args);
    } catch (err) {
      throw toResourceError(err, this);
    }
    const child = { parent: this };
    const names = operatorObjectNames(a.name);
    const labels = { "app.kubernetes.io/name": "setpoint-operator", "app.kubernetes.io/instance": a.name, "app.kubernetes.io/part-of": "setpoint" };

    const crds = a.installCrds
      ? crdManifests().map(
          (crd) =>
            new k8s.apiextensions.v1.CustomResourceDefinition(
              `${name}-${crd.spec.names.plural}`,
              // The provider accepts wire-format `x-kubernetes-*` keys as well as the SDK's underscored ones.
              { metadata: crd.metadata, spec: crd.spec as unknown as k8sTypes.types.input.apiextensions.v1.CustomResourceDefinitionSpec },
              child,
            ),
        )
      : [];

    const ns = a.createNamespace
      ? new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: a.namespace, labels } }, child)
      : undefined;
    const namespace = ns ? ns.metadata.name : pulumi.output(a.namespace);
    const inNs = { parent: this, dependsOn: ns ? [ns] : [] };

    const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: { name: names.serviceAccount, namespace, labels } }, inNs);
    const subject = [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }];

    const clusterRole = new k8s.rbac.v1.ClusterRole(`${name}-role`, { metadata: { name: names.clusterRole, labels }, rules: operatorClusterRules() }, child);
    const binding = new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-binding`,
      {
        metadata: { name: names.clusterRole, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
        subjects: subject,
      },
      child,
    );
    const leRole = new k8s.rbac.v1.Role(
      `${name}-leader-election-role`,
      { metadata: { name: names.leaderElectionRole, namespace, labels }, rules: operatorNamespaceRules() },
      inNs,
    );
    const leBinding = new k8s.rbac.v1.RoleBinding(
      `${name}-leader-election-binding`,
      {
        metadata: { name: names.leaderElectionRole, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: leRole.metadata.name },
        subjects: subject,
      },
      inNs,
    );

    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: {
          name: names.deployment,
          namespace,
          labels,
          annotations: a.skipAwait ? { "pulumi.com/skipAwait": "true" } : {},
        },
        spec: {
          replicas: a.replicas,
          selector: { matchLabels: { "app.kubernetes.io/name": "setpoint-operator", "app.kubernetes.io/instance": a.name } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: sa.metadata.name,
              securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "operator",
                  image: a.image,
                  imagePullPolicy: a.imagePullPolicy,
                  args: a.leaderElect ? ["--leader-elect"] : [],
                  env: [
                    { name: "SETPOINT_LEADER_ELECT", value: String(a.leaderElect) },
                    { name: "SETPOINT_LEADER_ELECTION_LEASE", value: names.deployment },
                    { name: "SETPOINT_LOG_LEVEL", value: a.logLevel },
                    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                    // With POD_NAME, the Lease identity: a restarted container takes its Lease back at once.
                    { name: "POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
                    { name: "NODE_OPTIONS", value: OPERATOR_NODE_OPTIONS },
                    ...operatorScratchEnv(),
                  ],
                  volumeMounts: [{ name: "scratch", mountPath: OPERATOR_SCRATCH_DIR }],
                  resources: a.resources,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                },
              ],
              volumes: [{ name: "scratch", emptyDir: { sizeLimit: OPERATOR_SCRATCH_SIZE } }],
            },
          },
        },
      },
      // The operator must not start before it may read its resources.
      { parent: this, dependsOn: [...(ns ? [ns] : []), ...crds, binding, leBinding] },
    );

    this.namespace = namespace;
    this.crds = crds;
    this.clusterRole = clusterRole;
    this.deployment = deployment;
    this.crdNames = pulumi.output(crds.map((c) => c.metadata.name));
    this.serviceAccountName = sa.metadata.name;
    this.deploymentName = deployment.metadata.name;
    this.registerOutputs({
      namespace: this.namespace,
      crdNames: this.crdNames,
      serviceAccountName: this.serviceAccountName,
      deploymentName: this.deploymentName,
    });
  }
}

/** A validation error as a `pulumi.ResourceError` on `resource`, keeping the property path in the message. */
function toResourceError(err: unknown, resource: pulumi.Resource): Error {
  if (err instanceof InputError) return new pulumi.ResourceError(err.message, resource, true);
  return err instanceof Error ? err : new Error(String(err));
}
