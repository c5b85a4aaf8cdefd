import type * as k8sClient from "@kubernetes/client-node";
import type { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

/**
 * `@kubernetes/client-node`, loaded on first use rather than with this module: a Pulumi program
 * whose `Schema` connects by URL never loads the Kubernetes client (ADR 0011).
 */
function client(): typeof k8sClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use (ADR 0011)
  return require("@kubernetes/client-node") as typeof k8sClient;
}

/**
 * Loads a kubeconfig from its content (YAML or JSON) or a file path; the default kubeconfig
 * ($KUBECONFIG, ~/.kube/config, or the in-cluster service account) when undefined or empty.
 */
export function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const kc = new (client().KubeConfig)();
  if (kubeconfig === undefined || kubeconfig === "") kc.loadFromDefault();
  else if (!kubeconfig.includes("\n") && !kubeconfig.trimStart().startsWith("{")) kc.loadFromFile(kubeconfig);
  else kc.loadFromString(kubeconfig);
  return kc;
}

/**
 * Reads every key of a Secret, decoded as UTF-8.
 * @throws {Error} naming the Secret when it cannot be read (never its values).
 */
export async function readSecretData(opts: {
  name: string;
  namespace: string;
  kubeconfig?: string;
  /** A client to reuse (a long-running caller should pass one); `kubeconfig` is then ignored. */
  api?: Pick<CoreV1Api, "readNamespacedSecret">;
}): Promise<Record<string, string>> {
  const api = opts.api ?? loadKubeConfig(opts.kubeconfig).makeApiClient(client().CoreV1Api);
  let secret;
  try {
    secret = await api.readNamespacedSecret({ name: opts.name, namespace: opts.namespace });
  } catch (cause) {
    throw new Error(`cannot read secret ${opts.namespace}/${opts.name}: ${(cause as { code?: number }).code === 404 ? "it does not exist" : (cause as Error).message}`, { cause });
  }
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

/**
 * Reads one key of a Kubernetes Secret, decoded.
 * @throws {Error} naming the secret and key (never the value) when either is missing.
 */
export async function readSecretKey(opts: {
  name: string;
  namespace: string;
  key: string;
  kubeconfig?: string;
  /** A client to reuse (a long-running caller should pass one); `kubeconfig` is then ignored. */
  api?: Pick<CoreV1Api, "readNamespacedSecret">;
}): Promise<string> {
  const data = await readSecretData(opts);
  const value = data[opts.key];
  if (value === undefined) throw new Error(`secret ${opts.namespace}/${opts.name} has no key "${opts.key}"; keys: ${Object.keys(data).join(", ") || "(none)"}`);
  return value;
}
