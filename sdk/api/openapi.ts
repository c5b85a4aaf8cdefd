/**
 * Zod schema -> OpenAPI v3 *structural* schema, as `apiextensions.k8s.io/v1` accepts it.
 *
 * zod 4's `z.toJSONSchema` emits JSON Schema 2020-12; Kubernetes wants a subset of OpenAPI v3
 * in which every node has a `type`, there are no references, maps are `additionalProperties`,
 * and unions appear only as value validations. The conversion works on an allow-list of
 * keywords and throws on anything else, so a schema Kubernetes would reject (or silently
 * prune) fails at generation time, in a unit test, rather than at install time.
 */
import { z } from "zod";

/** An OpenAPI v3 schema node, as plain JSON (wire-format keys such as `x-kubernetes-*`). */
export type OpenApiSchema = { [keyword: string]: unknown };

/** Keywords copied as they are (after their values are converted). */
const PASS_THROUGH = new Set([
  "type",
  "format",
  "description",
  "default",
  "enum",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "required",
  "nullable",
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-embedded-resource",
]);

/** Keywords zod emits that carry no meaning for Kubernetes. */
const DROPPED = new Set(["$schema", "propertyNames", "id", "title", "examples"]);

/** A structural-schema violation found while converting. */
export class SchemaConversionError extends Error {
  constructor(
    /** JSON path of the offending node, e.g. `spec.properties.instances`. */
    readonly path: string,
    message: string,
  ) {
    super(`${path || "(root)"}: ${message}`);
    this.name = "SchemaConversionError";
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `anyOf` of string enums/consts collapses to one enum; anything else is not structural. */
function collapseAnyOf(branches: unknown[], path: string): OpenApiSchema {
  const values: unknown[] = [];
  for (const [i, raw] of branches.entries()) {
    const b = convertNode(raw, `${path}.anyOf[${i}]`);
    if (b["type"] !== "string" || !Array.isArray(b["enum"]) || Object.keys(b).some((k) => k !== "type" && k !== "enum")) {
      throw new SchemaConversionError(path, "anyOf is only supported for unions of string literals/enums");
    }
    values.push(...(b["enum"] as unknown[]));
  }
  return { type: "string", enum: [...new Set(values)] };
}

function convertNode(raw: unknown, path: string): OpenApiSchema {
  if (!isObject(raw)) throw new SchemaConversionError(path, "schema node must be an object");
  let out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(raw)) {
    if (DROPPED.has(key)) continue;
    if (key === "$ref" || key === "$defs" || key === "definitions") {
      throw new SchemaConversionError(path, `${key} is not allowed in a structural schema (inline the schema)`);
    }
    switch (key) {
      case "properties": {
        if (!isObject(value)) throw new SchemaConversionError(path, "properties must be an object");
        out["properties"] = Object.fromEntries(
          Object.entries(value).map(([name, sub]) => [name, convertNode(sub, `${path}.properties.${name}`)]),
        );
        break;
      }
      case "items":
        out["items"] = convertNode(value, `${path}.items`);
        break;
      case "additionalProperties":
        // `false` is zod's strict object; Kubernetes prunes unknown fields instead.
        if (value !== false) out["additionalProperties"] = convertNode(value, `${path}.additionalProperties`);
        break;
      case "const":
        out["enum"] = [value];
        break;
      case "anyOf":
        out = { ...out, ...collapseAnyOf(value as unknown[], path) };
        break;
      case "exclusiveMinimum":
      case "exclusiveMaximum": {
        // JSON Schema 2020-12 gives the bound; OpenAPI v3.0 a flag beside minimum/maximum.
        const bound = key === "exclusiveMinimum" ? "minimum" : "maximum";
        out[bound] = value;
        out[key] = true;
        break;
      }
      default:
        if (!PASS_THROUGH.has(key)) throw new SchemaConversionError(path, `unsupported keyword ${JSON.stringify(key)}`);
        out[key] = value;
    }
  }
  if (out["type"] === "integer") {
    // zod bounds every int by the safe-integer range; that is noise for Kubernetes (int64).
    if (out["minimum"] === Number.MIN_SAFE_INTEGER) delete out["minimum"];
    if (out["maximum"] === Number.MAX_SAFE_INTEGER) delete out["maximum"];
    if (out["minimum"] === undefined && out["maximum"] === undefined) out["format"] = "int64";
  }
  if (out["format"] === "date-time") delete out["pattern"]; // the API server checks the format itself
  if (Array.isArray(out["required"]) && out["required"].length === 0) delete out["required"];
  if (out["type"] === undefined && out["x-kubernetes-preserve-unknown-fields"] !== true && out["x-kubernetes-int-or-string"] !== true) {
    throw new SchemaConversionError(path, "every node needs a type");
  }
  if (out["type"] === "null" || Array.isArray(out["type"])) {
    throw new SchemaConversionError(path, "nullable and multi-type nodes are not supported");
  }
  return out;
}

/**
 * Converts a zod schema to an OpenAPI v3 structural schema for a CRD. Input semantics: fields
 * with a default are optional and carry `default`, so the API server applies the same defaults
 * zod does.
 * @throws {SchemaConversionError} naming the path of the first node Kubernetes would not accept.
 */
export function toOpenApiSchema(schema: z.ZodType): OpenApiSchema {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw", reused: "inline", cycles: "throw" });
  return convertNode(json, "");
}

/**
 * Lists violations of the structural-schema rules in an already converted schema: nodes
 * without `type`, references, unions of subschemas. Empty means structural.
 */
export function structuralViolations(schema: OpenApiSchema, path = ""): string[] {
  const problems: string[] = [];
  for (const banned of ["$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "const", "$schema", "propertyNames"]) {
    if (banned in schema) problems.push(`${path || "(root)"}: has ${banned}`);
  }
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true || schema["x-kubernetes-int-or-string"] === true;
  if (typeof schema["type"] !== "string" && !preserve) problems.push(`${path || "(root)"}: no type`);
  // `metadata: { type: object }` is the one opaque object Kubernetes itself validates.
  const opaque = preserve || path === ".metadata";
  if (schema["type"] === "object" && schema["properties"] === undefined && schema["additionalProperties"] === undefined && !opaque) {
    problems.push(`${path || "(root)"}: object without properties, additionalProperties or x-kubernetes-preserve-unknown-fields`);
  }
  if (schema["type"] === "array" && !isObject(schema["items"])) problems.push(`${path || "(root)"}: array without items`);
  if (isObject(schema["properties"])) {
    for (const [k, v] of Object.entries(schema["properties"])) problems.push(...structuralViolations(v as OpenApiSchema, `${path}.${k}`));
  }
  if (isObject(schema["items"])) problems.push(...structuralViolations(schema["items"] as OpenApiSchema, `${path}[]`));
  if (isObject(schema["additionalProperties"])) {
    problems.push(...structuralViolations(schema["additionalProperties"] as OpenApiSchema, `${path}{}`));
  }
  return problems;
}
