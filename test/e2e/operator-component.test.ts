// The Operator component through the real Pulumi engine and Kubernetes provider, against the
// harness's kube-apiserver: CRDs, namespace, RBAC and Deployment exist as the component says.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorClusterRules, operatorNamespaceRules } from "../../components/operator";
import { API_VERSION, crdManifests, GROUP, VERSION } from "../../sdk/api/index";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";
import type { PulumiProject } from "../support/pulumi";
import { createPulumiProject, errorsOf, requireTypeScriptPrelude, summaryOf } from "../support/pulumi";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver"]);

const PROGRAM = `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { Operator } = require(REPO + "/components/operator.ts");

const provider = new k8s.Provider("harness", {
  kubeconfig: pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8")),
});
const operator = new Operator("setpoint", { image: "setpoint-operator:e2e", skipAwait: true }, { providers: [provider] });
exports.namespace = operator.namespace;
exports.crdNames = operator.crdNames;
exports.serviceAccountName = operator.serviceAccountName;
exports.deploymentName = operator.deploymentName;
`;

/** The Kubernetes objects (namespace, service account, RBAC, Deployment, … and one per CRD) + the component + the provider + the stack. */
const RESOURCES = 7 + crdManifests().length + 3;

describe.skipIf(toolchain.skip !== undefined)("Operator component (real engine, real API server)", () => {
  let cp: ControlPlane | undefined;
  let project: PulumiProject | undefined;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env });
    project = await createPulumiProject({
      toolchain: toolchain.env!,
      name: "operator-e2e",
      files: { "index.js": PROGRAM },
      env: { SETPOINT_TEST_KUBECONFIG: cp.kubeconfigPath },
    });
  }, 180_000);

  afterAll(async () => {
    project?.cleanup();
    await cp?.stop();
  });

  it("installs CRDs, namespace, RBAC and the Deployment, then changes nothing", async () => {
    const first = await project!.up();
    expect(summaryOf(first), errorsOf(first)).toMatchObject({ result: "succeeded", resourceChanges: { create: RESOURCES } });
    expect(await project!.outputs()).toEqual({
      namespace: "setpoint-system",
      crdNames: ["postgresclusters.setpoint.dev", "postgresschemas.setpoint.dev", "postgresupgrades.setpoint.dev", "postgresbackups.setpoint.dev", "postgresscheduledbackups.setpoint.dev"],
      serviceAccountName: "setpoint-operator",
      deploymentName: "setpoint-operator",
    });

    const kc = cp!.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const apps = kc.makeApiClient(AppsV1Api);

    expect((await core.readNamespace({ name: "setpoint-system" })).metadata?.name).toBe("setpoint-system");
    await core.readNamespacedServiceAccount({ name: "setpoint-operator", namespace: "setpoint-system" });

    const role = await rbac.readClusterRole({ name: "setpoint-operator" });
    expect(role.rules?.map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs }))).toEqual(operatorClusterRules());
    const binding = await rbac.readClusterRoleBinding({ name: "setpoint-operator" });
    expect(binding.roleRef.name).toBe("setpoint-operator");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "setpoint-operator", namespace: "setpoint-system" }]);
    const leRole = await rbac.readNamespacedRole({ name: "setpoint-operator-leader-election", namespace: "setpoint-system" });
    expect(leRole.rules?.map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs }))).toEqual(operatorNamespaceRules());

    const dep = await apps.readNamespacedDeployment({ name: "setpoint-operator", namespace: "setpoint-system" });
    expect(dep.metadata?.annotations?.["pulumi.com/skipAwait"]).toBe("true");
    expect(dep.spec?.replicas).toBe(1);
    const pod = dep.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe("setpoint-operator");
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.containers[0]?.image).toBe("setpoint-operator:e2e");
    expect(pod.containers[0]?.args).toEqual(["--leader-elect"]);

    // The CRDs went through the provider intact: the API server enforces their defaults and CEL rules.
    const objects = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: VERSION, namespace: "setpoint-system", plural: "postgresclusters" };
    const created = (await objects.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: API_VERSION, kind: "PostgresCluster", metadata: { name: "probe" }, spec: { postgresVersion: 17, storage: { size: "1Gi" } } },
    })) as { spec: Record<string, unknown> };
    expect(created.spec["instances"]).toBe(1);
    await expect(
      objects.createNamespacedCustomObject({
        ...ref,
        body: { apiVersion: API_VERSION, kind: "PostgresCluster", metadata: { name: "bad" }, spec: { storage: { size: "1Gi" } } },
      }),
    ).rejects.toMatchObject({ code: 422, body: expect.stringContaining("postgresVersion (14-18) or image must be set") });

    const second = await project!.up();
    expect(summaryOf(second), errorsOf(second)).toMatchObject({ result: "succeeded", resourceChanges: { same: RESOURCES } });
  }, 400_000);

  it("reports a bad argument as an error naming the property", async () => {
    const bad = await createPulumiProject({
      toolchain: toolchain.env!,
      name: "operator-e2e-bad",
      files: {
        "index.js": `${requireTypeScriptPrelude()}
const { Operator } = require(REPO + "/components/operator.ts");
new Operator("setpoint", { image: "x", replicas: 5 });
`,
      },
    });
    try {
      await expect(bad.up()).rejects.toThrow(/replicas: must be an integer from 1 to 3/);
    } finally {
      bad.cleanup();
    }
  }, 200_000);
});
