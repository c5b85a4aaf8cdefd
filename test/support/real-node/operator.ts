// The operator on a real node, deployed as users deploy it: the operator image built from its
// recipe (images/recipes.ts) and imported into the node's containerd, then a Pulumi program with
// the `Operator` component (CRDs, namespace, RBAC, Deployment) run by the real Pulumi engine and
// the toolchain's Kubernetes provider against the node's API server. The Deployment pulls nothing
// (`imagePullPolicy: Never`) and Pulumi waits until it is available. Shared by the real-pod tests
// and by the demos' real-node mode, so both deploy the operator the one way.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ToolchainEnv } from "../../../scripts/toolchain/paths.mjs";
import { instanceImageRecipe, OPERATOR_IMAGE, POOLER_IMAGE } from "../../../images/recipes";
import type { PostgresMajor } from "../../../sdk/postgres/versions";
import { createPulumiProject, errorsOf, requireTypeScriptPrelude, summaryOf, type EngineEvent, type PulumiProject } from "../pulumi";
import { REAL_NODE_TOOLS, realNodeUnavailable } from "./gate";
import { packageConfig, packageRootfs, recipeConfig, recipeRootfs } from "./images";
import { startRealNode, type RealNode } from "./node";

/** The toolchain pieces a real node with the operator deployed through Pulumi needs. */
export const REAL_OPERATOR_TOOLS = [...REAL_NODE_TOOLS, "pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes"];

/** Why the real-node operator cannot run here (not root, Debian packages missing), or undefined. */
export const realOperatorUnavailable = realNodeUnavailable;

/** The image reference the operator's test image is imported under. */
export const OPERATOR_TEST_IMAGE = "setpoint-operator:test";

/** What {@link importOperatorImage} built. */
export interface OperatorImage {
  /** The reference pods use (with `imagePullPolicy: Never`). */
  readonly ref: string;
  /** The uid the Deployment runs as has no entry in the image's /etc/passwd (nss_wrapper supplies one). */
  readonly uidUnknownToImage: (uid: number) => boolean;
  /** Wall time of assembling the root filesystem and importing it, in ms. */
  readonly buildMs: number;
}

/** Builds the operator image from its recipe (needs `dist/`) and imports it into the node's containerd. */
export function importOperatorImage(node: RealNode, ref = OPERATOR_TEST_IMAGE): OperatorImage {
  const started = Date.now();
  const work = mkdtempSync(join(node.dir, "operator-image-"));
  const rootfs = join(work, "rootfs");
  try {
    recipeRootfs(OPERATOR_IMAGE, rootfs);
    const passwd = readFileSync(join(rootfs, "etc", "passwd"), "utf8");
    const uids = new Set(passwd.split("\n").map((l) => Number(l.split(":")[2])));
    node.importRootfs(rootfs, ref, recipeConfig(OPERATOR_IMAGE));
    return { ref, uidUnknownToImage: (uid) => !uids.has(uid), buildMs: Date.now() - started };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Builds Setpoint's instance image of `major` from its recipe and imports it into the node's
 * containerd as `setpoint-postgres:<major>` (the image the operator's pods use by default);
 * resolves to the wall time it took, in ms.
 */
export function importInstanceImage(node: RealNode, major: PostgresMajor): number {
  const started = Date.now();
  const work = mkdtempSync(join(node.dir, "instance-image-"));
  try {
    const recipe = instanceImageRecipe(major);
    recipeRootfs(recipe, join(work, "rootfs"));
    node.importRootfs(join(work, "rootfs"), `setpoint-postgres:${major}`, recipeConfig(recipe));
    return Date.now() - started;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Builds the pooler image (Debian's pgbouncer, from its recipe) and imports it into the node's
 * containerd as `ref`; resolves to the wall time it took, in ms.
 */
export function importPoolerImage(node: RealNode, ref: string): number {
  const started = Date.now();
  const work = mkdtempSync(join(node.dir, "pooler-image-"));
  try {
    packageRootfs(POOLER_IMAGE, join(work, "rootfs"));
    node.importRootfs(join(work, "rootfs"), ref, packageConfig(POOLER_IMAGE));
    return Date.now() - started;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Options of {@link deployOperator}. */
export interface DeployOperatorOptions {
  readonly node: RealNode;
  readonly toolchain: ToolchainEnv;
  /** The image {@link importOperatorImage} imported. */
  readonly image: string;
  /** Operator replicas (leader election on). @default 1 */
  readonly replicas?: number;
}

/** The Operator component deployed on the node by a Pulumi stack of its own. */
export interface DeployedOperator {
  /** Namespace and Deployment name (the component's defaults). */
  readonly namespace: string;
  readonly deployment: string;
  /** The Lease the replicas elect a leader on (named after the Deployment). */
  readonly lease: string;
  /** Wall time of the first `pulumi up` (CRDs to an available Deployment), in ms. */
  readonly upMs: number;
  /** The events of the first `pulumi up`. */
  readonly upEvents: EngineEvent[];
  readonly project: PulumiProject;
  /** `pulumi destroy`; resolves to its events. */
  destroy(): Promise<EngineEvent[]>;
  /** Removes the stack's files (after destroy, or when the node goes away with everything in it). */
  cleanup(): void;
}

/** The Pulumi program: the Operator component on the node's API server, image from the node's containerd. */
function program(image: string, replicas: number): string {
  return `${requireTypeScriptPrelude()}
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const { Operator } = require(REPO + "/components/operator.ts");

const provider = new k8s.Provider("real-node", {
  kubeconfig: pulumi.secret(fs.readFileSync(process.env.SETPOINT_TEST_KUBECONFIG, "utf8")),
});
const operator = new Operator("setpoint", { image: ${JSON.stringify(image)}, imagePullPolicy: "Never", replicas: ${replicas} }, { providers: [provider] });
exports.namespace = operator.namespace;
exports.deploymentName = operator.deploymentName;
exports.crdNames = operator.crdNames;
`;
}

/**
 * Runs `pulumi up` of a program with the `Operator` component against the node (see the module
 * comment); resolves once Pulumi reports the Deployment available.
 * @throws with the engine's error diagnostics when the update fails.
 */
export async function deployOperator(options: DeployOperatorOptions): Promise<DeployedOperator> {
  const replicas = options.replicas ?? 1;
  // The provider leaves kubeconfig copies in TMPDIR: keep them in the node's run directory.
  const tmp = mkdtempSync(join(options.node.dir, "pulumi-tmp-"));
  const project = await createPulumiProject({
    toolchain: options.toolchain,
    name: "setpoint-real-node-operator",
    files: { "index.js": program(options.image, replicas) },
    env: { SETPOINT_TEST_KUBECONFIG: options.node.controlPlane.kubeconfigPath, TMPDIR: tmp },
    timeoutMs: 600_000,
  });
  const started = Date.now();
  let upEvents: EngineEvent[];
  try {
    upEvents = await project.up();
  } catch (err) {
    project.cleanup();
    throw err;
  }
  const upMs = Date.now() - started;
  const summary = summaryOf(upEvents);
  if (summary?.result !== "succeeded") {
    project.cleanup();
    throw new Error(`pulumi up of the Operator failed: ${errorsOf(upEvents)}`);
  }
  return {
    namespace: "setpoint-system",
    deployment: "setpoint-operator",
    lease: "setpoint-operator",
    upMs,
    upEvents,
    project,
    destroy: () => project.destroy(),
    cleanup: () => project.cleanup(),
  };
}

/** Options of {@link startRealNodeWithOperator}. */
export interface RealNodeWithOperatorOptions {
  readonly toolchain: ToolchainEnv;
  /** Operator replicas. @default 1 */
  readonly replicas?: number;
  /** Runs once the node is up and before the operator is deployed, e.g. to import the instance image. */
  readonly beforeDeploy?: (node: RealNode) => void | Promise<void>;
}

/** A real node with the operator running in its pods (see {@link startRealNodeWithOperator}). */
export interface RealNodeWithOperator {
  readonly node: RealNode;
  readonly image: OperatorImage;
  readonly operator: DeployedOperator;
  /** Stops the node with everything on it and removes the stack's files (no `pulumi destroy`: the cluster goes away). */
  stop(): Promise<void>;
}

/**
 * Starts a real node, imports the operator image and deploys the `Operator` component on it
 * through Pulumi: what a demo or test of the cluster path on real pods starts with. Everything
 * started is stopped again when a step fails.
 * @throws what {@link startRealNode}, {@link importOperatorImage} and {@link deployOperator} throw.
 */
export async function startRealNodeWithOperator(options: RealNodeWithOperatorOptions): Promise<RealNodeWithOperator> {
  const node = await startRealNode({ toolchain: options.toolchain });
  try {
    const image = importOperatorImage(node);
    await options.beforeDeploy?.(node);
    const operator = await deployOperator({ node, toolchain: options.toolchain, image: image.ref, replicas: options.replicas });
    return {
      node,
      image,
      operator,
      stop: async () => {
        operator.cleanup();
        await node.stop();
      },
    };
  } catch (err) {
    await node.stop();
    throw err;
  }
}
