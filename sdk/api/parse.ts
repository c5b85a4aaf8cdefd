/**
 * The trust boundary for Setpoint custom resources: specs written by users (component args,
 * objects read from the API server) are parsed here with zod, and every failure becomes an
 * `InputError` whose `propertyPath` names the field, e.g. `spec.storage.size`.
 */
import type { z } from "zod";
import { InputError } from "../errors";
import { postgresClusterSpecSchema, postgresClusterStatusSchema } from "./postgres-cluster";
import type { PostgresClusterSpec, PostgresClusterStatus } from "./postgres-cluster";
import { postgresSchemaSpecSchema, postgresSchemaStatusSchema } from "./postgres-schema";
import type { PostgresSchemaSpec, PostgresSchemaStatus } from "./postgres-schema";
import { postgresUpgradeSpecSchema } from "./postgres-upgrade";
import type { PostgresUpgradeSpec } from "./postgres-upgrade";

/** One problem found while parsing: where, and what is allowed. */
export interface SpecIssue {
  /** Dotted path, e.g. `spec.instances` or `spec.renames[0].table`. */
  readonly propertyPath: string;
  /** What is wrong and what is allowed. */
  readonly message: string;
}

/** Formats a zod path as `a.b[0].c`, under `prefix`. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
    case "too_big":
    case "invalid_type":
    case "invalid_format":
    case "custom":
    default:
      return issue.message;
  }
}

/** Every issue of a zod error, with paths under `prefix`. */
export function specIssues(error: z.ZodError, prefix: string): SpecIssue[] {
  return error.issues.map((issue) => ({ propertyPath: formatPath(prefix, issue.path), message: describeIssue(issue) }));
}

/**
 * Parses `value` with a zod schema at a trust boundary.
 * @param schema the schema (its output type is the result).
 * @param kind what is parsed, for the message, e.g. `PostgresCluster spec`.
 * @param prefix path prefix of `propertyPath`, e.g. `spec`; empty for top-level arguments.
 * @param value the untrusted value.
 * @throws {InputError} naming the first invalid field (`propertyPath`), listing the others.
 */
export function parseWithSchema<T>(schema: z.ZodType<T>, kind: string, prefix: string, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = specIssues(result.error, prefix);
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues.slice(1).map((i) => i.propertyPath).join(", ")})` : "";
  throw new InputError(`invalid ${kind}: ${first.propertyPath || prefix}: ${first.message}${more}`, { propertyPath: first.propertyPath }, {
    cause: result.error,
  });
}

/**
 * Validates a PostgresCluster spec and applies its defaults.
 * @param value the `spec` object (untrusted).
 * @param prefix path prefix for errors. @default "spec"
 * @throws {InputError} naming the first invalid field (`propertyPath`) and what is allowed.
 */
export function parsePostgresClusterSpec(value: unknown, prefix = "spec"): PostgresClusterSpec {
  return parseWithSchema(postgresClusterSpecSchema, "PostgresCluster spec", prefix, value);
}

/**
 * Validates a PostgresSchema spec and applies its defaults.
 * @param value the `spec` object (untrusted).
 * @param prefix path prefix for errors. @default "spec"
 * @throws {InputError} naming the first invalid field.
 */
export function parsePostgresSchemaSpec(value: unknown, prefix = "spec"): PostgresSchemaSpec {
  return parseWithSchema(postgresSchemaSpecSchema, "PostgresSchema spec", prefix, value);
}

/**
 * Validates a PostgresUpgrade spec.
 * @param value the `spec` object (untrusted).
 * @param prefix path prefix for errors. @default "spec"
 * @throws {InputError} naming the first invalid field.
 */
export function parsePostgresUpgradeSpec(value: unknown, prefix = "spec"): PostgresUpgradeSpec {
  return parseWithSchema(postgresUpgradeSpecSchema, "PostgresUpgrade spec", prefix, value);
}

/**
 * Validates a PostgresCluster status read from the API server.
 * @param value the `status` object, or undefined when none was written yet.
 * @throws {InputError} when the status does not have the documented shape.
 */
export function parsePostgresClusterStatus(value: unknown): PostgresClusterStatus {
  return parseWithSchema(postgresClusterStatusSchema, "PostgresCluster status", "status", value ?? {});
}

/**
 * Validates a PostgresSchema status read from the API server.
 * @param value the `status` object, or undefined when none was written yet.
 * @throws {InputError} when the status does not have the documented shape.
 */
export function parsePostgresSchemaStatus(value: unknown): PostgresSchemaStatus {
  return parseWithSchema(postgresSchemaStatusSchema, "PostgresSchema status", "status", value ?? {});
}
