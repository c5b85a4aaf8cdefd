import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { inputErrorOf } from "../test/support/input-error";
import { setPulumiMocks, valueOf } from "../test/support/pulumi-mocks";
import { Operator, operatorClusterRules, operatorDefaults, operatorNamespaceRules, operatorObjectNames } from "./operator";

/** Resources registered with the mock engine, in order. */
const registered: pulumi.runtime.MockResourceArgs[] = [];

void setPulumiMocks((args) => {
  registered.push(args);
  return { id: `${args.name}-id`, state: args.inputs };
});

describe("operatorDefaults", () => {
  it("applies every default", () => {
    expect(operatorDefaults({ image: "setpoint/operator:dev" })).toEqual({
      image: "setpoint/operator:dev",
      namespace: "setpoint-system",
      createNamespace: true,
      name: "setpoint-operator",
      replicas: 1,
      leaderElect: true,
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
      logLevel: "info",
      imagePullPolicy: "IfNotPresent",
      installCrds: true,
      skipAwait: false,
    });
  });

  it.each([
    [{ image: "" }, "image", "image is required"],
    [{ image: "i", replicas: 0 }, "replicas", "must be an integer from 1 to 3"],
    [{ image: "i", replicas: 4 }, "replicas", "must be an integer from 1 to 3"],
    [{ image: "i", replicas: 2, leaderElect: false }, "leaderElect", "leaderElect must be true when replicas is 2"],
    [{ image: "i", namespace: "Setpoint" }, "namespace", "must be a DNS label"],
    [{ image: "i", logLevel: "trace" }, "logLevel", '"debug", "info", "warn", "error"'],
    [{ image: "i", imagePullPolicy: "Sometimes" }, "imagePullPolicy", '"Always", "IfNotPresent", "Never"'],
  ])("rejects %j naming %s", (args, path, message) => {
    const error = inputErrorOf(() => operatorDefaults(args as never));
    expect(error.propertyPath).toBe(path);
    expect(error.message).toContain(message);
  });
});

describe("operator RBAC", () => {
  it("grants exactly what the controllers use, cluster-wide", () => {
    const plurals = ["postgresclusters", "postgresschemas", "postgresupgrades", "postgresbackups", "postgresscheduledbackups"];
    expect(operatorClusterRules()).toEqual([
      { apiGroups: ["setpoint.dev"], resources: plurals, verbs: ["get", "list", "watch", "update", "patch"] },
      { apiGroups: ["setpoint.dev"], resources: plurals.map((p) => `${p}/status`), verbs: ["get", "update", "patch"] },
      { apiGroups: ["setpoint.dev"], resources: plurals.map((p) => `${p}/finalizers`), verbs: ["update"] },
      { apiGroups: ["setpoint.dev"], resources: ["postgresbackups"], verbs: ["create"] },
      {
        apiGroups: [""],
        resources: ["pods", "services", "persistentvolumeclaims", "secrets", "configmaps"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      },
      { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ]);
  });

  it("never grants wildcards", () => {
    for (const rule of [...operatorClusterRules(), ...operatorNamespaceRules()]) {
      expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain("*");
    }
  });

  it("keeps leader election leases to the operator's namespace", () => {
    expect(operatorNamespaceRules()).toEqual([{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }]);
  });

  it("names objects from the base name", () => {
    expect(operatorObjectNames("setpoint-operator")).toEqual({
      serviceAccount: "setpoint-operator",
      clusterRole: "setpoint-operator",
      leaderElectionRole: "setpoint-operator-leader-election",
      deployment: "setpoint-operator",
    });
  });
});

describe("Operator (mocked engine)", () => {
  let op: Operator;

  beforeAll(async () => {
    op = new Operator("setpoint", { image: "setpoint/operator:dev", replicas: 2, skipAwait: true });
    await valueOf(op.deploymentName);
  });

  const byType = (type: string) => registered.filter((r) => r.type === type);

  it("creates the CRDs, namespace, service account, RBAC and Deployment", () => {
    const types = registered.filter((r) => r.name.startsWith("setpoint-")).map((r) => r.type);
    expect(types.sort()).toEqual(
      [
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
      ].sort(),
    );
    expect(byType("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").map((r) => r.inputs.metadata.name).sort()).toEqual([
      "postgresbackups.setpoint.dev",
      "postgresclusters.setpoint.dev",
      "postgresscheduledbackups.setpoint.dev",
      "postgresschemas.setpoint.dev",
      "postgresupgrades.setpoint.dev",
    ]);
  });

  it("parents every child to the component", async () => {
    const urns = await Promise.all([...op.crds, op.deployment, op.clusterRole].map((r) => valueOf(r.urn)));
    for (const urn of urns) expect(urn).toContain("setpoint:index:Operator$kubernetes:");
  });

  it("exposes names as outputs", async () => {
    expect(await valueOf(op.namespace)).toBe("setpoint-system");
    expect(await valueOf(op.serviceAccountName)).toBe("setpoint-operator");
    expect(await valueOf(op.crdNames)).toHaveLength(5);
  });

  it("binds the roles to the service account", () => {
    const subjects = [{ kind: "ServiceAccount", name: "setpoint-operator", namespace: "setpoint-system" }];
    const crb = byType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")[0]!;
    expect(crb.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "setpoint-operator" });
    expect(crb.inputs.subjects).toEqual(subjects);
    const role = byType("kubernetes:rbac.authorization.k8s.io/v1:Role")[0]!;
    expect(role.inputs.metadata.namespace).toBe("setpoint-system");
    expect(role.inputs.rules).toEqual(operatorNamespaceRules());
    expect(byType("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")[0]!.inputs.subjects).toEqual(subjects);
    expect(byType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")[0]!.inputs.rules).toEqual(operatorClusterRules());
  });

  it("runs a locked-down, leader-elected Deployment", () => {
    const dep = byType("kubernetes:apps/v1:Deployment")[0]!.inputs;
    expect(dep.metadata).toMatchObject({ name: "setpoint-operator", namespace: "setpoint-system", annotations: { "pulumi.com/skipAwait": "true" } });
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe("setpoint-operator");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    const container = pod.containers[0];
    expect(container.image).toBe("setpoint/operator:dev");
    expect(container.args).toEqual(["--leader-elect"]);
    expect(container.env).toContainEqual({ name: "SETPOINT_LEADER_ELECT", value: "true" });
    expect(container.env).toContainEqual({ name: "NODE_OPTIONS", value: "--max-old-space-size=128 --max-semi-space-size=8" });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(container.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } });
  });

  it("gives the read-only container a writable scratch volume for TMPDIR, the dev server and the model cache", () => {
    const pod = byType("kubernetes:apps/v1:Deployment")[0]!.inputs.spec.template.spec;
    const container = pod.containers[0];
    expect(pod.volumes).toEqual([{ name: "scratch", emptyDir: { sizeLimit: "1Gi" } }]);
    expect(container.volumeMounts).toEqual([{ name: "scratch", mountPath: "/tmp" }]);
    // Every directory the process writes to is on that volume.
    const env = Object.fromEntries((container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    for (const name of ["TMPDIR", "HOME", "SETPOINT_SCRATCH_DIR", "SETPOINT_CACHE_DIR"]) expect(env[name], name).toMatch(/^\/tmp(\/|$)/);
  });

  it("skips CRDs and namespace when asked, and awaits by default", async () => {
    const before = registered.length;
    const other = new Operator("other", { image: "i", installCrds: false, createNamespace: false, namespace: "ops", name: "pg-operator" });
    await valueOf(other.deploymentName);
    const mine = registered.slice(before);
    expect(mine.filter((r) => r.type.includes("CustomResourceDefinition") || r.type.endsWith(":Namespace"))).toEqual([]);
    const dep = mine.find((r) => r.type === "kubernetes:apps/v1:Deployment")!.inputs;
    expect(dep.metadata.annotations).toEqual({});
    expect(dep.metadata).toMatchObject({ name: "pg-operator", namespace: "ops" });
    expect(await valueOf(other.crdNames)).toEqual([]);
  });

  it("throws a ResourceError naming the property for bad args", () => {
    expect(() => new Operator("bad", { image: "i", replicas: 7 })).toThrow(/replicas: must be an integer from 1 to 3/);
    try {
      new Operator("bad2", { image: "i", replicas: 7 });
    } catch (err) {
      expect(pulumi.ResourceError.isInstance(err)).toBe(true);
    }
  });
});
