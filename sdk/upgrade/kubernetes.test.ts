import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { kubernetesSecretSwitch, kubernetesServiceSwitch } from "./kubernetes";

// Validation happens before any client is made, so these need no kubeconfig.
function refusal(make: () => unknown): InputError {
  try {
    make();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error("accepted");
}

describe("kubernetesServiceSwitch options", () => {
  it("refuses empty or equal selectors and a missing name", () => {
    const base = { namespace: "default", name: "db", blue: { cluster: "a" }, green: { cluster: "b" } };
    expect(refusal(() => kubernetesServiceSwitch({ ...base, green: {} })).propertyPath).toBe("green");
    expect(refusal(() => kubernetesServiceSwitch({ ...base, green: { cluster: "a" } })).message).toMatch(/could not tell them apart/);
    expect(refusal(() => kubernetesServiceSwitch({ ...base, name: "" })).propertyPath).toBe("name");
  });
});

describe("kubernetesSecretSwitch options", () => {
  const blue = { host: "blue-db", uri: "postgres://app:blue-secret@blue-db/app" };
  const green = { host: "green-db", uri: "postgres://app:green-secret@green-db/app" };

  it("accepts valid options without contacting the API server", () => {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromClusterAndUser({ name: "unreachable", server: "https://127.0.0.1:1", skipTLSVerify: false }, { name: "nobody" });
    const sw = kubernetesSecretSwitch({ kubeconfig, namespace: "default", name: "app", blue, green });
    expect(sw.kind).toBe("kubernetes-secret");
    expect(sw.canPause).toBe(false);
  });

  it("reports an unreachable API server as unavailable, naming the Secret but no value", async () => {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromClusterAndUser({ name: "unreachable", server: "https://127.0.0.1:1", skipTLSVerify: false }, { name: "nobody" });
    const err = await kubernetesSecretSwitch({ kubeconfig, namespace: "default", name: "app", blue, green })
      .pointTo("green")
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ reason: "unavailable", operation: "pointTo", object: "default/app", side: "green" });
    expect(String((err as Error).message)).toMatch(/could not be reached for Secret default\/app/);
    expect(`${(err as Error).message} ${String((err as Error).cause)}`).not.toMatch(/blue-secret|green-secret/);
  });

  it("needs the same keys on both sides, named without their values", () => {
    const err = refusal(() => kubernetesSecretSwitch({ namespace: "default", name: "app", blue, green: { host: "green-db" } }));
    expect(err.message).toBe("blue and green must give the same Secret keys; blue has host, uri, green has host");
    expect(err.message).not.toContain("secret@");
  });

  it("refuses keys a Secret cannot hold and sides that are equal", () => {
    expect(refusal(() => kubernetesSecretSwitch({ namespace: "default", name: "app", blue: { "db url": "a" }, green: { "db url": "b" } })).message).toMatch(/not a valid Secret key/);
    expect(refusal(() => kubernetesSecretSwitch({ namespace: "default", name: "app", blue, green: { ...blue } })).message).toMatch(/could not tell them apart/);
  });
});
