import { z } from "zod";
import { InputError } from "../sdk/errors";
import { isConninfo, parseConninfo, redactUrl } from "../sdk/postgres/connection";
import { optionsConflict } from "../sdk/upgrade/phases";
import { connectionString, desiredDefinition, sameArgsBy } from "./schema-args";

/**
 * The plain, serializable inputs of the upgrade dynamic resource (after the component resolved its
 * Pulumi inputs). Validated with zod here, at the trust boundary: in the provider's `check`, and
 * again before every operation (state written by older versions is untrusted).
 */

const pgbouncerTarget = z.union([
  z.string().min(1),
  z.object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().min(1),
    user: z.string().min(1).optional(),
    password: z.string().optional(),
  }),
]);

const stringMap = z.record(z.string(), z.string());

// A Service's selectors, or the switched keys of a Secret, for each side.
const kubernetesObject = {
  namespace: z.string().min(1),
  name: z.string().min(1),
  blue: stringMap,
  green: stringMap,
  /** Kubeconfig content or path. @default the default kubeconfig */
  kubeconfig: z.string().min(1).optional(),
};

/** The traffic switch, described as data (the provider builds the switch from it on every run). */
export const trafficInput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("none") }),
  z.object({
    kind: z.literal("pgbouncer"),
    admin: connectionString,
    databasesFile: z.string().min(1, "the file PgBouncer %includes with the switched databases is required"),
    databases: z
      .array(
        z.object({
          name: z.string().min(1),
          blue: pgbouncerTarget,
          green: pgbouncerTarget,
          settings: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
        }),
      )
      .min(1, "name at least one PgBouncer database"),
    connectTimeoutMs: z.number().int().positive().optional(),
  }),
  z.object({ kind: z.literal("kubernetes-service"), ...kubernetesObject }),
  z.object({ kind: z.literal("kubernetes-secret"), ...kubernetesObject }),
]);

/** A validated traffic description. */
export type TrafficInput = z.infer<typeof trafficInput>;

/** Kinds of traffic switch the component can build. */
export const TRAFFIC_KINDS = ["none", "pgbouncer", "kubernetes-service", "kubernetes-secret"] as const;

const positive = z.number().int().positive();

/** Zod schema of the upgrade resource's inputs. */
export const upgradeResourceInputs = z.object({
  /** Row of `setpoint.upgrades` on blue holding the engine's state; fixed when the resource is created. */
  stateKey: z.string().min(1).max(200),
  blue: connectionString,
  green: connectionString,
  blueFromGreen: connectionString.optional(),
  greenFromBlue: connectionString.optional(),
  /** The schema definition applied on green; blue's schema is copied when absent. */
  schema: desiredDefinition("the schema definition is empty: pass sql, sqlPath or definition").optional(),
  schemas: z.union([z.literal("all"), z.array(z.string().min(1))]).optional(),
  devUrl: connectionString.optional(),
  traffic: trafficInput.default({ kind: "none" }),
  cutoverDeadlineMs: positive.default(30_000),
  verify: z.enum(["checksums", "counts", "none"]).default("checksums"),
  until: z.enum(["synchronized", "switched"]).default("switched"),
  finalize: z.boolean().default(false),
  rollback: z.boolean().default(false),
  maxLagBytes: positive.optional(),
  catchUpTimeoutMs: positive.optional(),
  maxRetainedWalBytes: positive.optional(),
  syncTimeoutMs: positive.optional(),
  verifyBeforeSwitch: z.boolean().default(false),
  allowObjectsNotCopied: z.boolean().default(false),
});

/** Validated inputs of the upgrade dynamic resource. */
export type UpgradeResourceInputs = z.infer<typeof upgradeResourceInputs>;

/** The inputs that hold credentials: secret in state, never echoed in errors or logs. */
export const SECRET_INPUTS = ["blue", "green", "blueFromGreen", "greenFromBlue", "devUrl", "traffic"] as const;

const ALLOWED: Record<string, string> = {
  verify: '"checksums", "counts", "none"',
  until: '"synchronized", "switched"',
  "traffic.kind": TRAFFIC_KINDS.map((k) => `"${k}"`).join(", "),
};

/**
 * Parses the resource inputs.
 * @throws {InputError} naming the first invalid property and what is allowed (never its value).
 */
export function parseUpgradeInputs(raw: unknown): UpgradeResourceInputs {
  const result = upgradeResourceInputs.safeParse(withoutNulls(raw));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.join(".");
    const allowed = ALLOWED[path] ?? (path === "traffic" ? ALLOWED["traffic.kind"] : undefined);
    // Never echo the value: it may be a connection URL with a password.
    throw new InputError(`invalid Upgrade argument ${path || "(root)"}: ${issue.message}${allowed ? ` (allowed: ${allowed})` : ""}`, { propertyPath: path });
  }
  const inputs = result.data;
  const conflict = optionsConflict(inputs);
  if (conflict) throw new InputError(`invalid Upgrade arguments: ${conflict.message}`, { propertyPath: conflict.option });
  return inputs;
}

// Pulumi hands unset optional inputs to providers as null, at any depth.
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  return v;
}

/** The argument part of inputs or state: a change to any of these means "update". */
export function stableArgs(v: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(upgradeResourceInputs.shape);
  return Object.fromEntries(keys.map((k) => [k, v[k]]));
}

/**
 * True when two sets of arguments mean the same thing: keys compared sorted, null the same as
 * absent, and defaults applied (state holds parsed arguments, new inputs may not).
 */
export function sameUpgradeArgs(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return sameArgsBy(a, b, (v) => parseUpgradeInputs(v) as unknown as Record<string, unknown>, stableArgs);
}

/**
 * Every password the inputs hold (as given and URL-decoded), so text bound for logs and errors can
 * be scrubbed of them even when a lower layer forgot to redact.
 */
export function secretsOf(inputs: UpgradeResourceInputs): string[] {
  const found = new Set<string>();
  const fromUrl = (url: string | undefined) => {
    if (!url) return;
    if (isConninfo(url)) {
      try {
        for (const [k, v] of Object.entries(parseConninfo(url))) if (/pass/i.test(k) && v) found.add(v);
      } catch {
        // Unparseable: the engine refuses it before using it, naming no value.
      }
      return;
    }
    try {
      const u = new URL(url);
      if (u.password) {
        found.add(u.password);
        found.add(decodeURIComponent(u.password));
      }
      for (const [k, v] of u.searchParams) if (/pass/i.test(k) && v) found.add(v);
    } catch {
      // Not a URL: nothing to extract (the schema already refused it).
    }
  };
  for (const url of [inputs.blue, inputs.green, inputs.blueFromGreen, inputs.greenFromBlue, inputs.devUrl]) fromUrl(url);
  const t = inputs.traffic;
  if (t.kind === "pgbouncer") {
    fromUrl(t.admin);
    for (const db of t.databases) {
      for (const target of [db.blue, db.green]) {
        if (typeof target === "string") fromUrl(target);
        else if (target.password) found.add(target.password);
      }
    }
  }
  if (t.kind === "kubernetes-secret") {
    for (const [key, value] of [...Object.entries(t.blue), ...Object.entries(t.green)]) {
      if (/pass/i.test(key)) found.add(value);
      else if (/^postgres(ql)?:\/\//.test(value)) fromUrl(value);
    }
  }
  // Very short "passwords" would blank out ordinary words; such a password is not worth hiding from its own logs.
  return [...found].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of `secrets` in `text` with `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}

/** A one-line, credential-free description of the traffic switch, shown in previews. */
export function describeTraffic(t: TrafficInput): string {
  switch (t.kind) {
    case "none":
      return "none: writes fenced on blue by closing logins; repoint the application to green yourself";
    case "pgbouncer":
      return `pgbouncer ${redactUrl(t.admin)}: database(s) ${t.databases.map((d) => d.name).join(", ")}; clients wait during the cutover`;
    case "kubernetes-service":
      return `kubernetes-service ${t.namespace}/${t.name}: selector set to green's (${labels(t.green)}); blue fenced by closing logins`;
    case "kubernetes-secret":
      return `kubernetes-secret ${t.namespace}/${t.name}: key(s) ${Object.keys(t.green).sort().join(", ")} set to green's values; blue fenced by closing logins`;
    default:
      return assertNever(t);
  }
}

function labels(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** True when the switch holds clients during the cutover (its pause is the write fence). */
export function trafficCanPause(t: TrafficInput): boolean {
  return t.kind === "pgbouncer";
}

function assertNever(v: never): never {
  throw new Error(`unexpected traffic kind ${JSON.stringify(v)}`);
}
