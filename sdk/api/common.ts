/**
 * Building blocks shared by every Setpoint custom resource: the API group, conditions,
 * status, quantities, durations, and cross-field rules that hold in both zod and the API
 * server (as CEL `x-kubernetes-validations`), written once.
 */
import { z } from "zod";

/** API group of every Setpoint custom resource. */
export const GROUP = "setpoint.dev";
/** The one served (and stored) version. */
export const VERSION = "v1alpha1";
/** `apiVersion` of every Setpoint custom resource. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Condition types every Setpoint resource reports. */
export const CONDITION_TYPES = ["Ready", "Progressing", "Degraded"] as const;
/** One of {@link CONDITION_TYPES}. */
export type ConditionType = (typeof CONDITION_TYPES)[number];

/**
 * A Kubernetes resource quantity as a string, e.g. `10Gi`, `500m`, `1.5`.
 * Binary (`Ki`..`Ei`) and decimal (`m`, `k`, `M`..`E`) suffixes; no exponent form.
 */
export const QUANTITY_PATTERN = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

/** A duration such as `30s`, `5m`, `1h30m` (units `ms`, `s`, `m`, `h`). */
export const DURATION_PATTERN = /^([0-9]+(ms|s|m|h))+$/;

/**
 * An integer in `[min, max]` whose errors name the whole allowed range.
 * @param min lowest allowed value.
 * @param max highest allowed value.
 */
export function intRange(min: number, max: number): z.ZodInt {
  const error = `must be an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** A quantity string (see {@link QUANTITY_PATTERN}). */
export const quantity = z
  .string()
  .regex(QUANTITY_PATTERN, { error: "must be a Kubernetes quantity such as 10Gi, 512Mi or 500m" });

/** A duration string (see {@link DURATION_PATTERN}). */
export const duration = z.string().regex(DURATION_PATTERN, { error: "must be a duration such as 30s, 5m or 1h30m" });

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a duration string such as `1h30m` or `250ms`.
 * @throws {RangeError} when `text` does not match {@link DURATION_PATTERN}.
 */
export function durationToMs(text: string): number {
  if (!DURATION_PATTERN.test(text)) throw new RangeError(`not a duration: ${JSON.stringify(text)} (expected e.g. 30s, 5m, 1h30m)`);
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/** A reference to a key of a Secret or ConfigMap in the resource's namespace. */
export const localObjectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: "must be a Kubernetes object name (lowercase letters, digits, '-' and '.')" });

/** One condition, shaped like `metav1.Condition` plus a closed set of types. */
export const conditionSchema = z.object({
  type: z.enum(CONDITION_TYPES).describe("Ready, Progressing or Degraded."),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z
    .string()
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe("CamelCase reason for the condition's last transition."),
  message: z.string().max(32768).optional().describe("Human-readable details; never contains secrets."),
  lastTransitionTime: z.iso.datetime().describe("When the status last changed."),
  observedGeneration: z.int().min(0).optional().describe("metadata.generation this condition was computed from."),
});
/** One status condition. */
export type Condition = z.output<typeof conditionSchema>;

/** `status.conditions`: a list keyed by `type`, so server-side apply merges per condition. */
export const conditionsSchema = z
  .array(conditionSchema)
  .max(8)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] });

/** Fields every Setpoint status has. */
export const baseStatusShape = {
  observedGeneration: z.int().min(0).optional().describe("metadata.generation the controller last acted on."),
  conditions: conditionsSchema.optional(),
};

/**
 * A rule that must hold across fields of one object, checked by zod (`check`) and by the API
 * server (`cel`, a CEL expression over `self`). Both forms live side by side so they cannot
 * drift apart unnoticed: the integration tests exercise the CEL form against a real API server.
 */
export interface CrossFieldRule<T> {
  /** CEL expression over `self` that is true when the object is valid. */
  readonly cel: string;
  /** Error message, naming the fields and what is allowed. */
  readonly message: string;
  /** Field the error is reported on, relative to the object, e.g. `sql` (no leading dot). */
  readonly field?: string;
  /** The same rule in TypeScript. */
  readonly check: (value: T) => boolean;
}

/**
 * Attaches cross-field rules to an object schema: zod reports a failed rule as an issue at
 * `field`, and the generated OpenAPI carries them as `x-kubernetes-validations`.
 */
export function withRules<S extends z.ZodObject>(schema: S, rules: readonly CrossFieldRule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.check(value)) ctx.addIssue({ code: "custom", message: rule.message, path: rule.field ? [rule.field] : [] });
    }
  });
  return refined.meta({
    "x-kubernetes-validations": rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      ...(r.field ? { fieldPath: `.${r.field}` } : {}),
    })),
  }) as S;
}

/**
 * Rule: exactly one of the optional fields `a` and `b` is set.
 * @param a first field name.
 * @param b second field name.
 */
export function exactlyOneOf<T extends object>(a: keyof T & string, b: keyof T & string): CrossFieldRule<T> {
  return {
    cel: `has(self.${a}) != has(self.${b})`,
    message: `exactly one of ${a} or ${b} must be set`,
    check: (v) => ((v as Record<string, unknown>)[a] !== undefined) !== ((v as Record<string, unknown>)[b] !== undefined),
  };
}
