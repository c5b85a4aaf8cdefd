import { z } from "zod";
import { InputError } from "../sdk/errors";
import { isConninfo } from "../sdk/postgres/connection";
import { HAZARD_CODES } from "../sdk/schema/hazards";

/** A connection: a `postgres://` URL, or a libpq `key=value` string (as the CLI and the engine accept). */
export const connectionString = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s) || isConninfo(s), "must be a postgres:// or postgresql:// URL, or a libpq connection string (host=... dbname=... user=...)");

/**
 * A schema definition as a dynamic resource carries it: its SQL files (at least one; `whenEmpty` is
 * the error when there are none) and its declared renames.
 */
export function desiredDefinition(whenEmpty: string) {
  return z.object({
    files: z.array(z.object({ name: z.string().min(1), sql: z.string() })).min(1, whenEmpty),
    renames: z
      .array(
        z.union([
          z.object({ kind: z.literal("table"), schema: z.string(), from: z.string(), to: z.string() }),
          z.object({ kind: z.literal("column"), schema: z.string(), table: z.string(), from: z.string(), to: z.string() }),
        ]),
      )
      .default([]),
  });
}

/**
 * The plain, serializable inputs of the schema dynamic resource (after the component resolved its
 * Pulumi inputs). Validated with zod here, at the trust boundary: in the component before
 * registering, and again in the provider's `check` (state written by older versions is untrusted).
 */
export const schemaResourceInputs = z
  .object({
  /** postgres:// URL or libpq connection string of the target, including credentials (kept secret in state). */
  connection: connectionString,
  /**
   * The authority (PEM) to verify the target against, verify-full, instead of the system's (e.g. a
   * cluster's app Secret `ca.crt`, ADR 0035); a `hostaddr` in the URL is then the address connected
   * to and the URL's host the name verified. Only with a postgres:// URL. Kept secret in state.
   */
  ca: z.string().min(1).optional(),
  desired: desiredDefinition("the desired schema is empty: pass sql, sqlPath or definition"),
  allowHazards: z.union([z.literal("all"), z.array(z.enum(HAZARD_CODES))]).default([]),
  /** Hazards approved for one plan, by its hash: they lapse when the plan changes. */
  approvals: z
    .array(
      z.object({
        planHash: z.string().regex(/^(sha256:)?[0-9a-f]{12,64}$/, 'must be the plan hash the preview shows ("sha256:" and at least 12 hex digits)'),
        hazards: z.union([z.literal("all"), z.array(z.enum(HAZARD_CODES))]),
      }),
    )
    .default([]),
  online: z.boolean().default(true),
  devUrl: connectionString.optional(),
  deletionPolicy: z.enum(["retain", "drop"]).default("retain"),
  schemas: z.union([z.literal("all"), z.array(z.string().min(1))]).optional(),
  planAtPreview: z.boolean().default(true),
  /**
   * Compare the catalogs with the desired state's when the plan is empty (ADR 0014); absent means
   * true (no default here: an unset argument stays out of the inputs and of every stack's diff).
   */
  verifyCatalogs: z.boolean().optional(),
  })
  .refine((i) => i.ca === undefined || /^postgres(ql)?:\/\//.test(i.connection), {
    message: "an authority (ca) needs the connection as a postgres:// URL, not a libpq connection string",
    path: ["ca"],
  });

/** Validated inputs of the schema dynamic resource. */
export type SchemaResourceInputs = z.infer<typeof schemaResourceInputs>;

/**
 * Parses the resource inputs.
 * @throws {InputError} naming the first invalid property and what is allowed.
 */
export function parseSchemaInputs(raw: unknown): SchemaResourceInputs {
  // Pulumi hands unset optional inputs to providers as null.
  const cleaned = raw && typeof raw === "object" ? Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null)) : raw;
  const result = schemaResourceInputs.safeParse(cleaned);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  const allowed = path.startsWith("allowHazards") || /^approvals\.\d+\.hazards/.test(path) ? ` (allowed: "all" or a list of ${HAZARD_CODES.join(", ")})` : path === "deletionPolicy" ? ' (allowed: "retain", "drop")' : "";
  // Never echo the value: it may be a connection URL with a password.
  throw new InputError(`invalid Schema argument ${path || "(root)"}: ${issue.message}${allowed}`, { propertyPath: path });
}

/** Pulumi's marker for values not known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when any value inside `v` is unknown (preview of a program whose inputs are not resolved yet). */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** The argument part of inputs or state: what a change to means "update", apart from the plan. */
export function stableArgs(v: Record<string, unknown>): Record<string, unknown> {
  const { connection, ca, desired, allowHazards, online, devUrl, deletionPolicy, schemas, verifyCatalogs } = v;
  return { connection, ca, desired, allowHazards, online, devUrl, deletionPolicy, schemas, verifyCatalogs };
}

/**
 * True when two sets of arguments mean the same thing: keys compared sorted, null the same as
 * absent, and defaults applied (state holds parsed arguments, new inputs may not).
 */
export function sameArgs(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return sameArgsBy(a, b, (v) => parseSchemaInputs(v) as unknown as Record<string, unknown>, stableArgs);
}

/**
 * {@link sameArgs} for any resource: `parse` applies defaults (falling back to the raw value when
 * it throws), `stable` picks the argument part.
 */
export function sameArgsBy(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  parse: (v: Record<string, unknown>) => Record<string, unknown>,
  stable: (v: Record<string, unknown>) => Record<string, unknown>,
): boolean {
  const norm = (v: Record<string, unknown>) => {
    try {
      return canonical(stable(parse(v)));
    } catch {
      return canonical(stable(v));
    }
  };
  return norm(a) === norm(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== null && x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}
