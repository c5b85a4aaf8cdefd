/**
 * Kubernetes traffic switches: repoint a Service's selector, or rewrite the keys of the
 * application's Secret. Neither can hold clients, so `canPause` is false and the engine fences
 * writes on blue itself; `pause` and `resume` do nothing.
 *
 * Why the Service switch writes the selector (and not Endpoints or EndpointSlices): the selector
 * is one field of one object, written in one request, and the EndpointSlice controller derives
 * the endpoints from it, pod restarts and IP changes included. Writing EndpointSlices of a
 * selector-less Service would pin pod IPs that change on every restart and fight whoever manages
 * them (and Endpoints is deprecated). A Service without a selector is refused with a pointer to
 * the Secret switch.
 */
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Secret, type V1Service } from "@kubernetes/client-node";
import { InputError } from "../errors";
import { apiStatusCode } from "../reconcile/internal/api-error";
import { loadKubeConfig } from "../reconcile/kubeconfig";
import { TrafficSwitchError, type TrafficSwitchFailure, type TrafficSwitchOperation } from "./traffic-error";
import type { Side, TrafficSwitch } from "./traffic";

/** How the Kubernetes switches reach the API server. */
export interface KubernetesConnectionOptions {
  /**
   * A loaded KubeConfig, or kubeconfig content (YAML or JSON) or a file path.
   * @default the default kubeconfig: $KUBECONFIG, ~/.kube/config, or the in-cluster service account
   */
  readonly kubeconfig?: KubeConfig | string;
}

/** Options of {@link kubernetesServiceSwitch}. */
export interface KubernetesServiceSwitchOptions extends KubernetesConnectionOptions {
  readonly namespace: string;
  /** The Service applications connect to; it must exist and have a selector. */
  readonly name: string;
  /** The Service's whole selector when traffic goes to blue, e.g. `{ "setpoint.dev/cluster": "db-16" }`. */
  readonly blue: Readonly<Record<string, string>>;
  /** The Service's whole selector when traffic goes to green. */
  readonly green: Readonly<Record<string, string>>;
}

/** Options of {@link kubernetesSecretSwitch}. */
export interface KubernetesSecretSwitchOptions extends KubernetesConnectionOptions {
  readonly namespace: string;
  /** The application's Secret; it must exist. Keys not named in blue and green are left alone. */
  readonly name: string;
  /** Values of the switched keys for blue, e.g. `{ host, port, uri }`. Never logged. */
  readonly blue: Readonly<Record<string, string>>;
  /** Values of the same keys for green. Never logged. */
  readonly green: Readonly<Record<string, string>>;
}

const SERVICE_KIND = "kubernetes-service";
const SECRET_KIND = "kubernetes-secret";
const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * A {@link TrafficSwitch} that sets a Service's selector to blue's or green's. Only the selector is
 * written (a JSON patch), and only when it differs; `current()` reads it from the live Service.
 * @throws {InputError} when a selector is empty or blue and green are equal.
 */
export function kubernetesServiceSwitch(options: KubernetesServiceSwitchOptions): TrafficSwitch {
  checkObject(options);
  checkPair(options.blue, options.green, "selector label", false);
  return new ServiceSwitch(options, coreApi(options.kubeconfig));
}

/**
 * A {@link TrafficSwitch} that rewrites keys of the application's Secret to blue's or green's
 * values (a merge patch of those keys only, and only when one differs); `current()` compares the
 * live values. Applications see the change when they re-read the Secret: a mounted Secret is
 * refreshed by the kubelet within about a minute; environment variables only on a pod restart.
 * @throws {InputError} when the key sets of blue and green differ, are empty or invalid, or every
 *   value is equal on both sides.
 */
export function kubernetesSecretSwitch(options: KubernetesSecretSwitchOptions): TrafficSwitch {
  checkObject(options);
  checkPair(options.blue, options.green, "Secret key", true);
  for (const key of Object.keys(options.blue)) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) throw new InputError(`blue and green: "${key}" is not a valid Secret key ([-._a-zA-Z0-9]+)`, { propertyPath: "blue" });
  }
  return new SecretSwitch(options, coreApi(options.kubeconfig));
}

type Api = Pick<CoreV1Api, "readNamespacedService" | "patchNamespacedService" | "readNamespacedSecret" | "patchNamespacedSecret">;

function coreApi(kubeconfig: KubeConfig | string | undefined): Api {
  const kc = kubeconfig instanceof KubeConfig ? kubeconfig : loadKubeConfig(kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

function checkObject(options: { namespace: string; name: string }): void {
  if (!options.namespace) throw new InputError("namespace is required", { propertyPath: "namespace" });
  if (!options.name) throw new InputError("name is required", { propertyPath: "name" });
}

/**
 * Blue and green must be non-empty string maps that differ; with `sameKeys`, over the same keys.
 * Messages name keys, never values.
 */
function checkPair(blue: Readonly<Record<string, string>>, green: Readonly<Record<string, string>>, what: string, sameKeys: boolean): void {
  for (const [side, map] of [["blue", blue], ["green", green]] as const) {
    if (Object.keys(map).length === 0) throw new InputError(`${side} must give at least one ${what}`, { propertyPath: side });
    for (const [k, v] of Object.entries(map)) if (typeof v !== "string") throw new InputError(`${side}.${k} must be a string`, { propertyPath: `${side}.${k}` });
  }
  const blueKeys = Object.keys(blue).sort();
  const greenKeys = Object.keys(green).sort();
  if (sameKeys && blueKeys.join("\0") !== greenKeys.join("\0")) {
    throw new InputError(`blue and green must give the same ${what}s; blue has ${blueKeys.join(", ")}, green has ${greenKeys.join(", ")}`, { propertyPath: "green" });
  }
  if (sameMap(blue, green)) throw new InputError("blue and green are equal; the switch could not tell them apart", { propertyPath: "green" });
}

function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && b[k] === a[k]);
}

abstract class KubernetesSwitch implements TrafficSwitch {
  abstract readonly kind: string;
  readonly canPause = false;
  protected readonly object: string;

  constructor(options: { namespace: string; name: string }) {
    this.object = `${options.namespace}/${options.name}`;
  }

  abstract current(): Promise<Side>;
  abstract pointTo(side: Side): Promise<void>;

  /** Nothing to hold: the engine fences writes on blue when `canPause` is false. */
  async pause(): Promise<void> {}

  async resume(): Promise<void> {}

  /** The API client keeps no connection that needs closing. */
  async close(): Promise<void> {}

  protected error(operation: TrafficSwitchOperation, reason: TrafficSwitchFailure, message: string, side?: Side, cause?: unknown): TrafficSwitchError {
    return new TrafficSwitchError({ switchKind: this.kind, operation, reason, object: this.object, ...(side ? { side } : {}) }, message, cause === undefined ? {} : { cause });
  }

  /**
   * Wraps an API failure: 404 is `not-found`, anything else `unavailable`. The message carries the
   * HTTP status and the API server's reason (or the network error) only, and so does the cause:
   * the response body is dropped (a Secret's could hold values).
   */
  protected apiError(operation: TrafficSwitchOperation, what: string, err: unknown, side?: Side): TrafficSwitchError {
    const status = apiStatusCode(err);
    const detail = status === undefined ? (err instanceof Error ? err.message : String(err)) : `HTTP ${status}${statusReason(err) ? ` ${statusReason(err)}` : ""}`;
    const cause = Object.assign(new Error(detail), { code: status });
    if (status === 404) return this.error(operation, "not-found", `${what} ${this.object} does not exist`, side, cause);
    return this.error(operation, "unavailable", `the API server refused or could not be reached for ${what} ${this.object}: ${detail}`, side, cause);
  }
}

class ServiceSwitch extends KubernetesSwitch {
  readonly kind = SERVICE_KIND;

  constructor(
    private readonly o: KubernetesServiceSwitchOptions,
    private readonly api: Api,
  ) {
    super(o);
  }

  async current(): Promise<Side> {
    const selector = await this.selector("current");
    const side = sameMap(selector, this.o.blue) ? "blue" : sameMap(selector, this.o.green) ? "green" : undefined;
    if (!side) throw this.error("current", "unknown-side", `the Service's selector ${formatSelector(selector)} is neither blue's ${formatSelector(this.o.blue)} nor green's ${formatSelector(this.o.green)}`);
    return side;
  }

  async pointTo(side: Side): Promise<void> {
    const want = side === "blue" ? this.o.blue : this.o.green;
    if (sameMap(await this.selector("pointTo", side), want)) return;
    let written: V1Service;
    try {
      written = await this.api.patchNamespacedService(
        { name: this.o.name, namespace: this.o.namespace, body: [{ op: "replace", path: "/spec/selector", value: { ...want } }] },
        JSON_PATCH,
      );
    } catch (err) {
      throw this.apiError("pointTo", "Service", err, side);
    }
    const now = written.spec?.selector ?? {};
    if (!sameMap(now, want)) {
      throw this.error("pointTo", "not-applied", `the API server accepted the selector but the Service now selects ${formatSelector(now)} (an admission webhook or another controller changed it)`, side);
    }
  }

  private async selector(operation: TrafficSwitchOperation, side?: Side): Promise<Record<string, string>> {
    let service: V1Service;
    try {
      service = await this.api.readNamespacedService({ name: this.o.name, namespace: this.o.namespace });
    } catch (err) {
      throw this.apiError(operation, "Service", err, side);
    }
    const selector = service.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) {
      throw this.error(
        operation,
        "unsupported",
        `the Service has no selector, so its endpoints are managed by hand; this switch repoints selectors. Give it a selector, or switch the application's Secret (kubernetesSecretSwitch)`,
        side,
      );
    }
    return selector;
  }
}

class SecretSwitch extends KubernetesSwitch {
  readonly kind = SECRET_KIND;

  constructor(
    private readonly o: KubernetesSecretSwitchOptions,
    private readonly api: Api,
  ) {
    super(o);
  }

  async current(): Promise<Side> {
    const values = decode(await this.read("current"));
    const keys = Object.keys(this.o.blue);
    const on = (want: Readonly<Record<string, string>>): string[] => keys.filter((k) => values[k] === want[k]);
    const blue = on(this.o.blue);
    if (blue.length === keys.length) return "blue";
    const green = on(this.o.green);
    if (green.length === keys.length) return "green";
    const neither = keys.filter((k) => !blue.includes(k) && !green.includes(k));
    throw this.error(
      "current",
      "unknown-side",
      `the Secret's keys match neither side: ${[
        blue.length ? `blue's value in ${blue.join(", ")}` : "",
        green.filter((k) => !blue.includes(k)).length ? `green's value in ${green.filter((k) => !blue.includes(k)).join(", ")}` : "",
        neither.length ? `other or missing values in ${neither.join(", ")}` : "",
      ]
        .filter(Boolean)
        .join("; ")}`,
    );
  }

  async pointTo(side: Side): Promise<void> {
    const want = side === "blue" ? this.o.blue : this.o.green;
    const secret = await this.read("pointTo", side);
    const live = decode(secret);
    if (Object.keys(want).every((k) => live[k] === want[k])) return;
    if (secret.immutable) throw this.error("pointTo", "unsupported", "the Secret is immutable; recreate it without `immutable: true` to let the switch rewrite it", side);
    let written: V1Secret;
    try {
      const data = Object.fromEntries(Object.entries(want).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));
      written = await this.api.patchNamespacedSecret({ name: this.o.name, namespace: this.o.namespace, body: { data } }, MERGE_PATCH);
    } catch (err) {
      throw this.apiError("pointTo", "Secret", err, side);
    }
    const now = decode(written);
    const differ = Object.keys(want).filter((k) => now[k] !== want[k]);
    if (differ.length > 0) throw this.error("pointTo", "not-applied", `after the patch the Secret's ${differ.join(", ")} still differ (an admission webhook or another controller changed them)`, side);
  }

  private async read(operation: TrafficSwitchOperation, side?: Side): Promise<V1Secret> {
    try {
      return await this.api.readNamespacedSecret({ name: this.o.name, namespace: this.o.namespace });
    } catch (err) {
      throw this.apiError(operation, "Secret", err, side);
    }
  }
}

function decode(secret: V1Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

function formatSelector(selector: Readonly<Record<string, string>>): string {
  return `{${Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}}`;
}

/** The `reason` of the Kubernetes Status in a failed call's body (e.g. `Invalid`, `Forbidden`). */
function statusReason(err: unknown): string | undefined {
  let body = (err as { body?: unknown } | null)?.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const reason = (body as { reason?: unknown } | null | undefined)?.reason;
  return typeof reason === "string" ? reason : undefined;
}
