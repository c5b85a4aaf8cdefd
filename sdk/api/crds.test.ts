import { describe, expect, it } from "vitest";
import { crdManifestList, crdManifests, crdName } from "./crds";
import type { OpenApiSchema } from "./openapi";

const byKind = Object.fromEntries(crdManifests().map((c) => [c.spec.names.kind, c]));
const props = (s: unknown): Record<string, OpenApiSchema> => (s as { properties: Record<string, OpenApiSchema> }).properties;

describe("crdManifests", () => {
  it("defines the five kinds of setpoint.dev/v1alpha1", () => {
    expect(crdManifests().map((c) => c.metadata.name)).toEqual([
      "postgresclusters.setpoint.dev",
      "postgresschemas.setpoint.dev",
      "postgresupgrades.setpoint.dev",
      "postgresbackups.setpoint.dev",
      "postgresscheduledbackups.setpoint.dev",
    ]);
    expect(crdName("PostgresSchema")).toBe("postgresschemas.setpoint.dev");
    for (const crd of crdManifests()) {
      expect(crd.spec.group).toBe("setpoint.dev");
      expect(crd.spec.scope).toBe("Namespaced");
      expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([["v1alpha1", true, true]]);
      expect(crd.spec.versions[0]!.subresources).toEqual({ status: {} });
    }
  });

  it("prints READY, REASON and AGE from the Ready condition", () => {
    for (const crd of crdManifests()) {
      expect(crd.spec.versions[0]!.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
        ["Ready", "string", '.status.conditions[?(@.type=="Ready")].status'],
        ["Reason", "string", '.status.conditions[?(@.type=="Ready")].reason'],
        ["Age", "date", ".metadata.creationTimestamp"],
      ]);
    }
  });

  it("gives every status observedGeneration and conditions keyed by type", () => {
    for (const crd of crdManifests()) {
      const status = props(crd.spec.versions[0]!.schema.openAPIV3Schema)["status"]!;
      expect(props(status)["observedGeneration"]).toMatchObject({ type: "integer", minimum: 0 });
      const conditions = props(status)["conditions"]!;
      expect(conditions).toMatchObject({ type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] });
      const condition = conditions["items"] as OpenApiSchema;
      expect(Object.keys(props(condition))).toEqual(["type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"]);
      expect(props(condition)["type"]).toMatchObject({ enum: ["Ready", "Progressing", "Degraded"] });
      expect(condition["required"]).toEqual(["type", "status", "reason", "lastTransitionTime"]);
    }
  });

  it("carries bounds and defaults into the PostgresCluster schema", () => {
    const spec = props(byKind["PostgresCluster"]!.spec.versions[0]!.schema.openAPIV3Schema)["spec"]!;
    expect(props(spec)["instances"]).toMatchObject({ type: "integer", minimum: 1, maximum: 9, default: 1 });
    expect(props(spec)["postgresVersion"]).toMatchObject({ type: "integer", minimum: 14, maximum: 18 });
    expect(props(spec)["parameters"]).toMatchObject({ type: "object", additionalProperties: { type: "string" } });
    expect(props(spec)["primaryUpdateStrategy"]).toMatchObject({ enum: ["unsupervised", "supervised"], default: "unsupervised" });
    expect(props(spec)["failoverGrace"]).toMatchObject({ type: "string", default: "5s" });
    expect((spec["x-kubernetes-validations"] as { fieldPath?: string }[]).some((v) => v.fieldPath === ".parameters")).toBe(true);
    expect(spec["required"]).toEqual(["storage"]);
    expect(spec["x-kubernetes-validations"]).toContainEqual({
      rule: "has(self.postgresVersion) || has(self.image)",
      message: "postgresVersion (14-18) or image must be set",
      fieldPath: ".postgresVersion",
    });
  });

  it("generates PostgresBackup and PostgresScheduledBackup from their zod schemas", () => {
    const backup = props(byKind["PostgresBackup"]!.spec.versions[0]!.schema.openAPIV3Schema)["spec"]!;
    expect(props(backup)["target"]).toMatchObject({ enum: ["prefer-standby", "primary"] });
    expect(backup["required"]).toEqual(["cluster"]);
    const status = props(byKind["PostgresBackup"]!.spec.versions[0]!.schema.openAPIV3Schema)["status"]!;
    expect(Object.keys(props(status))).toEqual(expect.arrayContaining(["phase", "beginLsn", "endLsn", "beginTime", "endTime", "timeline", "sizeBytes", "usable", "error"]));
    const scheduled = props(byKind["PostgresScheduledBackup"]!.spec.versions[0]!.schema.openAPIV3Schema)["spec"]!;
    expect(props(scheduled)["suspend"]).toMatchObject({ type: "boolean", default: false });
    expect(props(scheduled)["schedule"]).toMatchObject({ type: "string" });
    expect(scheduled["required"]).toEqual(["cluster", "schedule"]);
  });

  it("returns fresh objects and a kubectl-friendly List", () => {
    const a = crdManifests();
    a[0]!.metadata.name = "changed";
    expect(crdManifests()[0]!.metadata.name).toBe("postgresclusters.setpoint.dev");
    const list = crdManifestList();
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    expect(list.items).toHaveLength(5);
  });
});
