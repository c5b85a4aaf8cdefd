/**
 * `PostgresCluster`: creates a `PostgresCluster` custom resource (setpoint.dev/v1alpha1) and,
 * on `pulumi up`, waits until the operator reports it Ready for the spec just written. Its
 * outputs are how applications reach the database.
 */
import * as pulumi from "@pulumi/pulumi";
import { API_VERSION, KINDS } from "../sdk/api/index";
import type { PostgresClusterSpecInput } from "../sdk/api/postgres-cluster-input";
import { InputError } from "../sdk/errors";
import { loadPulumiKubernetes } from "./internal/optional-peers";
import { clusterEndpoints, postgresClusterDefaults, previewMajorChange, readClusterStatus, waitForClusterReady, type ResolvedPostgresClusterArgs } from "./internal/postgres-cluster-spec";

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
  /**
   * The `setpoint.dev/v1alpha1` custom resource. Typed as `pulumi.CustomResource` so that the
   * declarations of `setpoint/components` type-check without @pulumi/kubernetes (ADR 0011).
   */
  readonly resource: pulumi.CustomResource;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("setpoint:index:PostgresCluster", name, {}, opts);
    let a: ResolvedPostgresClusterArgs;
    // Loaded here, not at the top: a program without a PostgresCluster needs no @pulumi/kubernetes.
    let k8s: ReturnType<typeof loadPulumiKubernetes>;
    try {
      k8s = loadPulumiKubernetes("PostgresCluster");
      a = postgresClusterDefaults(name, args);
    } catch (err) {
      throw err instanceof InputError ? new pulumi.ResourceError(err.message, this, true) : err;
    }

    const kubeconfig = pulumi.secret(pulumi.output(args.kubeconfig ?? ""));
    // A changed postgresVersion (ADR 0033, 0037): a downgrade, or a raise the operator's readiness
    // says the engine's preflight would refuse, fails the preview (and `up`, before the spec is
    // written: the resource's spec waits for this check); a raise shows the upgrade's plan.
    const checkedSpec = pulumi.unsecret(
      kubeconfig.apply(async (config) => {
        const preview = previewMajorChange(await readClusterStatus(config || undefined, a.namespace, a.clusterName), a.spec, a.clusterName);
        if (preview.kind === "upgrade" && pulumi.runtime.isDryRun()) void pulumi.log.info(preview.message, this);
        if (preview.kind === "refuse") throw new pulumi.ResourceError(preview.message, this, true);
        return a.spec;
      }),
    );
    const resource = new k8s.apiextensions.CustomResource(
      name,
      {
        apiVersion: API_VERSION,
        kind: KINDS.PostgresCluster.kind,
        metadata: { name: a.clusterName, namespace: a.namespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        spec: checkedSpec,
      },
      { parent: this },
    );

    // Outputs settle only when the operator reports Ready for this generation, so dependents
    // (schemas, applications) never see a cluster that is not serving the spec just written.
    const ready = pulumi.all([resource.metadata, kubeconfig]).apply(async ([metadata, config]) => {
      if (!a.waitForReady || pulumi.runtime.isDryRun()) return undefined;
      try {
        return await waitForClusterReady({
          kubeconfig: config || undefined,
          namespace: a.namespace,
          name: a.clusterName,
          generation: metadata.generation,
          timeoutMs: a.readyTimeoutMs,
          ...(a.spec.postgresVersion !== undefined ? { postgresVersion: a.spec.postgresVersion } : {}),
        });
      } catch (err) {
        throw new pulumi.ResourceError((err as Error).message, this, true);
      }
    });
    // The kubeconfig's secrecy would otherwise spread to the endpoints, which hold no secret.
    const endpoints = pulumi.unsecret(ready.apply((status) => clusterEndpoints(a.clusterName, a.namespace, status)));

    this.resource = resource;
    this.clusterName = resource.metadata.name;
    this.namespace = resource.metadata.namespace;
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
