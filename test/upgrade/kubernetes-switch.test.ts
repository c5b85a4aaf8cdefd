// The Kubernetes traffic switches against a real kube-apiserver (test/support/control-plane.ts).
import { randomBytes } from "node:crypto";
import { CoreV1Api, type V1Secret, type V1Service } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubernetesSecretSwitch, kubernetesServiceSwitch } from "../../sdk/upgrade/kubernetes";
import { TrafficSwitchError } from "../../sdk/upgrade/traffic-error";
import type { ControlPlane } from "../support/control-plane";
import { startControlPlane, toolchainOrSkip } from "../support/control-plane";

const toolchain = toolchainOrSkip(["etcd", "kube-apiserver"]);
const namespace = "default";

const BLUE_SELECTOR = { app: "orders-db", "setpoint.dev/cluster": "orders-16" };
const GREEN_SELECTOR = { app: "orders-db", "setpoint.dev/cluster": "orders-17", "setpoint.dev/role": "primary" };

function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

async function rejection(p: Promise<unknown>): Promise<TrafficSwitchError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TrafficSwitchError);
  return err as TrafficSwitchError;
}

describe.skipIf(toolchain.skip !== undefined)("Kubernetes traffic switches", () => {
  let cp: ControlPlane | undefined;
  let core: CoreV1Api;

  beforeAll(async () => {
    cp = await startControlPlane({ toolchain: toolchain.env! });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  async function createService(name: string, selector?: Record<string, string>): Promise<V1Service> {
    return core.createNamespacedService({
      namespace,
      body: {
        metadata: { name, labels: { team: "orders" } },
        spec: { ...(selector ? { selector } : {}), ports: [{ name: "postgres", port: 5432, targetPort: 5432 }] },
      },
    });
  }

  describe("Service selector", () => {
    it("repoints the selector (whole: keys only blue has are removed), writes nothing when already there, and reads the side back", async () => {
      const name = unique("orders-db");
      const created = await createService(name, BLUE_SELECTOR);
      const sw = kubernetesServiceSwitch({ kubeconfig: cp!.kubeConfig, namespace, name, blue: BLUE_SELECTOR, green: GREEN_SELECTOR });
      expect(sw.kind).toBe("kubernetes-service");
      expect(sw.canPause).toBe(false);
      expect(await sw.current()).toBe("blue");

      await sw.pause({ timeoutMs: 1 }); // no-ops: the engine fences writes itself
      await sw.pointTo("green");
      await sw.resume();
      let live = await core.readNamespacedService({ name, namespace });
      expect(live.spec?.selector).toEqual(GREEN_SELECTOR);
      expect(live.spec?.ports).toEqual(created.spec?.ports);
      expect(live.metadata?.labels).toEqual({ team: "orders" });

      const version = live.metadata?.resourceVersion;
      await sw.pointTo("green");
      expect((await core.readNamespacedService({ name, namespace })).metadata?.resourceVersion).toBe(version);

      // A fresh switch (the engine after a crash) reads the side from the Service, not from memory.
      const fresh = kubernetesServiceSwitch({ kubeconfig: cp!.kubeconfigPath, namespace, name, blue: BLUE_SELECTOR, green: GREEN_SELECTOR });
      expect(await fresh.current()).toBe("green");
      await fresh.pointTo("blue");
      live = await core.readNamespacedService({ name, namespace });
      expect(live.spec?.selector).toEqual(BLUE_SELECTOR);
      expect(await sw.current()).toBe("blue");
      await fresh.close();
      await sw.close();
    });

    it("names a missing Service, refuses a selector-less one, and reports a selector that is neither side", async () => {
      const missing = kubernetesServiceSwitch({ kubeconfig: cp!.kubeConfig, namespace, name: "no-such-service", blue: BLUE_SELECTOR, green: GREEN_SELECTOR });
      const notFound = await rejection(missing.pointTo("green"));
      expect(notFound).toMatchObject({ reason: "not-found", operation: "pointTo", side: "green", object: "default/no-such-service" });
      expect(notFound.message).toMatch(/Service default\/no-such-service does not exist/);
      expect((await rejection(missing.current())).reason).toBe("not-found");
      await expect(core.readNamespacedService({ name: "no-such-service", namespace })).rejects.toMatchObject({ code: 404 }); // not created

      const manual = unique("external-db");
      await createService(manual);
      const selectorless = kubernetesServiceSwitch({ kubeconfig: cp!.kubeConfig, namespace, name: manual, blue: BLUE_SELECTOR, green: GREEN_SELECTOR });
      const unsupported = await rejection(selectorless.pointTo("green"));
      expect(unsupported.reason).toBe("unsupported");
      expect(unsupported.message).toMatch(/has no selector.*kubernetesSecretSwitch/);
      expect((await core.readNamespacedService({ name: manual, namespace })).spec?.selector).toBeUndefined();

      const other = unique("orders-db");
      await createService(other, { app: "something-else" });
      const neither = await rejection(kubernetesServiceSwitch({ kubeconfig: cp!.kubeConfig, namespace, name: other, blue: BLUE_SELECTOR, green: GREEN_SELECTOR }).current());
      expect(neither.reason).toBe("unknown-side");
      expect(neither.message).toContain("{app=something-else}");
    });
  });

  describe("application Secret", () => {
    const blueValues = { host: "orders-16.default.svc", port: "5432", uri: `postgres://app:${"blue-" + randomBytes(6).toString("hex")}@orders-16.default.svc:5432/orders` };
    const greenValues = { host: "orders-17.default.svc", port: "5432", uri: `postgres://app:${"green-" + randomBytes(6).toString("hex")}@orders-17.default.svc:5432/orders` };
    const b64 = (v: string): string => Buffer.from(v, "utf8").toString("base64");
    const decoded = (s: V1Secret): Record<string, string> =>
      Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));

    async function createSecret(name: string, data: Record<string, string>, immutable = false): Promise<void> {
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name }, ...(immutable ? { immutable: true } : {}), data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) },
      });
    }

    it("rewrites only the switched keys, writes nothing when already there, and reads the side back", async () => {
      const name = unique("orders-app");
      await createSecret(name, { ...blueValues, "api-token": "unrelated" });
      const sw = kubernetesSecretSwitch({ kubeconfig: cp!.kubeConfig, namespace, name, blue: blueValues, green: greenValues });
      expect(sw.kind).toBe("kubernetes-secret");
      expect(sw.canPause).toBe(false);
      expect(await sw.current()).toBe("blue");

      await sw.pointTo("green");
      let live = await core.readNamespacedSecret({ name, namespace });
      expect(decoded(live)).toEqual({ ...greenValues, "api-token": "unrelated" });
      const version = live.metadata?.resourceVersion;
      await sw.pointTo("green");
      expect((await core.readNamespacedSecret({ name, namespace })).metadata?.resourceVersion).toBe(version);

      const fresh = kubernetesSecretSwitch({ kubeconfig: cp!.kubeConfig, namespace, name, blue: blueValues, green: greenValues });
      expect(await fresh.current()).toBe("green");
      await fresh.pointTo("blue");
      live = await core.readNamespacedSecret({ name, namespace });
      expect(decoded(live)).toEqual({ ...blueValues, "api-token": "unrelated" });
    });

    it("names a missing or immutable Secret and a mixed one by keys, never by values", async () => {
      const secretValues = [blueValues.uri, greenValues.uri, b64(blueValues.uri), b64(greenValues.uri)];
      const noLeak = (err: TrafficSwitchError): void => {
        const text = `${err.message} ${String(err.cause)} ${JSON.stringify(err)}`;
        for (const v of secretValues) expect(text).not.toContain(v);
      };

      const missing = kubernetesSecretSwitch({ kubeconfig: cp!.kubeConfig, namespace, name: "no-such-secret", blue: blueValues, green: greenValues });
      const notFound = await rejection(missing.pointTo("green"));
      expect(notFound).toMatchObject({ reason: "not-found", object: "default/no-such-secret" });
      expect(notFound.message).toMatch(/Secret default\/no-such-secret does not exist/);
      noLeak(notFound);

      const frozen = unique("orders-frozen");
      await createSecret(frozen, blueValues, true);
      const immutable = await rejection(kubernetesSecretSwitch({ kubeconfig: cp!.kubeConfig, namespace, name: frozen, blue: blueValues, green: greenValues }).pointTo("green"));
      expect(immutable.reason).toBe("unsupported");
      expect(immutable.message).toMatch(/immutable/);
      noLeak(immutable);

      const mixed = unique("orders-mixed");
      await createSecret(mixed, { host: greenValues.host, port: "5432", uri: "postgres://someone-else" });
      const unknown = await rejection(kubernetesSecretSwitch({ kubeconfig: cp!.kubeConfig, namespace, name: mixed, blue: blueValues, green: greenValues }).current());
      expect(unknown.reason).toBe("unknown-side");
      expect(unknown.message).toMatch(/blue's value in port; green's value in host; other or missing values in uri/);
      expect(unknown.message).not.toContain("someone-else");
      noLeak(unknown);
    });
  });
});
