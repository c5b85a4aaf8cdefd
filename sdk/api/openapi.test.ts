import { describe, expect, it } from "vitest";
import { z } from "zod";
import { crdManifests } from "./crds";
import { SchemaConversionError, structuralViolations, toOpenApiSchema, type OpenApiSchema } from "./openapi";

/** Every node of a schema, with its path. */
function* nodes(schema: OpenApiSchema, path = ""): Generator<[string, OpenApiSchema]> {
  yield [path, schema];
  for (const [k, v] of Object.entries((schema["properties"] as Record<string, OpenApiSchema> | undefined) ?? {})) yield* nodes(v, `${path}.${k}`);
  if (schema["items"]) yield* nodes(schema["items"] as OpenApiSchema, `${path}[]`);
  if (typeof schema["additionalProperties"] === "object") yield* nodes(schema["additionalProperties"] as OpenApiSchema, `${path}{}`);
}

describe("toOpenApiSchema", () => {
  it("converts literals, enums, maps, bounded integers and defaults", () => {
    const schema = z.object({
      count: z.int().min(1).max(9).default(1),
      big: z.int().min(0),
      mode: z.union([z.literal("a"), z.literal("b"), z.enum(["c"])]),
      labels: z.record(z.string(), z.string()),
      nested: z.object({ flag: z.boolean().default(true) }).prefault({}),
      when: z.iso.datetime().optional(),
      strict: z.strictObject({ x: z.string() }),
    });
    expect(toOpenApiSchema(schema)).toEqual({
      type: "object",
      properties: {
        count: { type: "integer", minimum: 1, maximum: 9, default: 1 },
        big: { type: "integer", minimum: 0 },
        mode: { type: "string", enum: ["a", "b", "c"] },
        labels: { type: "object", additionalProperties: { type: "string" } },
        nested: { type: "object", default: {}, properties: { flag: { type: "boolean", default: true } } },
        when: { type: "string", format: "date-time" },
        strict: { type: "object", properties: { x: { type: "string" } }, required: ["x"] },
      },
      required: ["big", "mode", "labels", "strict"],
    });
  });

  it("marks unbounded integers int64", () => {
    expect(toOpenApiSchema(z.int())).toEqual({ type: "integer", format: "int64" });
  });

  it("turns exclusive bounds into the OpenAPI v3.0 form", () => {
    expect(toOpenApiSchema(z.number().positive())).toEqual({ type: "number", minimum: 0, exclusiveMinimum: true });
  });

  it("refuses what a structural schema cannot express, naming the path", () => {
    const objects = z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]);
    expect(() => toOpenApiSchema(z.object({ v: objects }))).toThrow(SchemaConversionError);
    expect(() => toOpenApiSchema(z.object({ v: objects }))).toThrow(/^\.properties\.v: anyOf/);
    expect(() => toOpenApiSchema(z.object({ v: z.union([z.string(), z.number()]) }))).toThrow(/multi-type/);
    expect(() => toOpenApiSchema(z.object({ v: z.string().nullable() }))).toThrow(/\.properties\.v/);
    expect(() => toOpenApiSchema(z.object({ v: z.any() }))).toThrow(/every node needs a type/);
    expect(() => toOpenApiSchema(z.object({ v: z.tuple([z.string()]) }))).toThrow(/unsupported keyword "prefixItems"/);
  });
});

describe("generated CRD schemas", () => {
  const schemas = crdManifests().map((c) => [c.metadata.name, c.spec.versions[0]!.schema.openAPIV3Schema] as const);

  it.each(schemas)("%s is structural", (_name, schema) => {
    expect(structuralViolations(schema)).toEqual([]);
  });

  it.each(schemas)("%s has no $ref, typeless nodes, unions or preserve-unknown-fields", (_name, schema) => {
    for (const [path, node] of nodes(schema)) {
      expect(typeof node["type"], `type at ${path}`).toBe("string");
      for (const k of ["$ref", "$schema", "anyOf", "oneOf", "allOf", "not", "const", "propertyNames", "x-kubernetes-preserve-unknown-fields"]) {
        expect(node, `${k} at ${path}`).not.toHaveProperty([k]);
      }
      if (node["additionalProperties"] !== undefined) expect(typeof node["additionalProperties"], path).toBe("object");
    }
  });

  it("finds violations in a hand-made bad schema", () => {
    expect(
      structuralViolations({
        type: "object",
        properties: { a: {}, b: { type: "array" }, c: { type: "object" }, d: { type: "string", anyOf: [] } },
      }),
    ).toEqual([".a: no type", ".b: array without items", ".c: object without properties, additionalProperties or x-kubernetes-preserve-unknown-fields", ".d: has anyOf"]);
  });
});
