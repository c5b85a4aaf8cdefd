import { createHash } from "node:crypto";
import { z } from "zod";
import { InputError, SetpointError } from "../errors";
import { connect, redactUrl, type ConnectionInput } from "../postgres/connection";
import { acquireApplyLock, applyPlan, lockScopeOf, type StepResult } from "./apply/apply";
import { allowedForPlan, planHash, type PlanApproval } from "./plan/approvals";
import { catalogReadAt, NonConvergenceError, planSchema, type PlannedSchema, type SchemaEngineOptions } from "./engine";
import { scopedCatalogFingerprint } from "./introspect/fingerprint";
import { HAZARD_CODES } from "./hazards";
import { assertHazardsAllowed, type AllowedHazards, type Plan } from "./plan/plan";
import type { DesiredSchema } from "./source/desired";

/**
 * A saved plan (`setpoint schema plan --out plan.json`): exactly the steps to run, the catalog
 * fingerprint of the database they were planned against, and the desired state (to prove
 * convergence after). `setpoint schema apply plan.json` runs those steps and nothing else, and
 * refuses when the database changed since or the file was edited.
 */

/** Version of the plan file format; a file of another version is refused. */
export const PLAN_FILE_VERSION = 1;

/** The plan file. Holds no credentials: the target is recorded with its password redacted. */
export interface PlanFile {
  readonly format: "setpoint-schema-plan";
  readonly version: typeof PLAN_FILE_VERSION;
  /** ISO time the plan was made. */
  readonly createdAt: string;
  /** The target it was planned against, password redacted (informational). */
  readonly target: string;
  readonly serverMajor: number;
  /** The scoped catalog fingerprint the plan was read at, and the schemas it covers. */
  readonly readAt: { readonly fingerprint: string; readonly schemas: readonly string[] };
  /** The desired state, to prove convergence after applying. */
  readonly desired: { readonly files: readonly { readonly name: string; readonly sql: string }[]; readonly renames: readonly unknown[] };
  /** Planning options that shape the re-plan after apply. */
  readonly options: { readonly online: boolean };
  /** {@link planHash} of `plan`: what approvals name. */
  readonly planHash: string;
  readonly plan: Plan;
  /** SHA-256 of every other field: an edited file is refused. */
  readonly contentHash: string;
}

/** Raised when a plan file cannot be used as is; nothing ran. */
export class PlanFileError extends SetpointError {
  /** `PLAN_FILE_INVALID` (unreadable, wrong version) or `PLAN_FILE_ALTERED` (edited since it was saved). */
  declare readonly code: "PLAN_FILE_INVALID" | "PLAN_FILE_ALTERED";
  readonly file: string | undefined;

  constructor(code: "PLAN_FILE_INVALID" | "PLAN_FILE_ALTERED", message: string, file: string | undefined, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.file = file;
  }
}

/** Raised when the database's schemas changed since the plan was saved; nothing ran. */
export class DatabaseMovedError extends SetpointError {
  readonly schemas: readonly string[];
  readonly planned: string;
  readonly now: string;

  constructor(schemas: readonly string[], planned: string, now: string) {
    super(
      "DATABASE_MOVED",
      `the database changed since this plan was made (schemas ${schemas.join(", ")} have other catalog contents now), so the plan may no longer be right; nothing ran. ` +
        "Make a new plan (setpoint schema plan --out ...), review it, and apply that one",
    );
    this.schemas = schemas;
    this.planned = planned;
    this.now = now;
  }
}

/** Builds the plan file of a plan made by `planSchema`. */
export function toPlanFile(planned: PlannedSchema, target: ConnectionInput, desired: DesiredSchema, options: { online?: boolean } = {}): PlanFile {
  const at = catalogReadAt(planned);
  const body: Omit<PlanFile, "contentHash"> = {
    format: "setpoint-schema-plan",
    version: PLAN_FILE_VERSION,
    createdAt: new Date().toISOString(),
    target: typeof target === "string" ? redactUrl(target) : "(connection fields)",
    serverMajor: planned.serverMajor,
    readAt: { fingerprint: at.fingerprint, schemas: [...at.schemas] },
    desired: { files: desired.files.map((f) => ({ name: f.name, sql: f.sql })), renames: [...(desired.renames ?? [])] },
    options: { online: options.online ?? true },
    planHash: planHash(planned.plan),
    // Through JSON, so the hash below is of exactly what the file holds.
    plan: JSON.parse(JSON.stringify(planned.plan)) as Plan,
  };
  return { ...body, contentHash: contentHash(body) };
}

function contentHash(body: Omit<PlanFile, "contentHash">): string {
  return "sha256:" + createHash("sha256").update(canonical(body)).digest("hex");
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

const stepShape = z
  .object({
    kind: z.string(),
    sql: z.array(z.string()),
    objects: z.array(z.string()),
    hazards: z.array(z.object({ code: z.enum(HAZARD_CODES), message: z.string() })),
    transaction: z.enum(["group", "own", "none"]),
    transactional: z.boolean(),
    lockTimeoutMs: z.number().int().nonnegative(),
    statementTimeoutMs: z.number().int().nonnegative(),
  })
  .passthrough();

const planFileShape = z.object({
  format: z.literal("setpoint-schema-plan"),
  version: z.number(),
  createdAt: z.string(),
  target: z.string(),
  serverMajor: z.number().int(),
  readAt: z.object({ fingerprint: z.string().min(1), schemas: z.array(z.string()) }),
  desired: z.object({ files: z.array(z.object({ name: z.string(), sql: z.string() })).min(1), renames: z.array(z.unknown()) }),
  options: z.object({ online: z.boolean() }),
  planHash: z.string(),
  plan: z.object({ steps: z.array(stepShape), unmanaged: z.array(z.unknown()) }),
  contentHash: z.string(),
});

/**
 * Parses and checks a plan file's text: its format and version, and that it is unchanged since it
 * was saved (content hash, and the plan hash of its steps).
 * @throws {PlanFileError} `PLAN_FILE_INVALID` or `PLAN_FILE_ALTERED`, naming the file and the fix.
 */
export function readPlanFile(text: string, file?: string): PlanFile {
  const where = file ?? "the plan file";
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new PlanFileError("PLAN_FILE_INVALID", `${where} is not JSON (${(cause as Error).message}); pass a file written by setpoint schema plan --out`, file, { cause });
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== undefined && version !== PLAN_FILE_VERSION) {
    throw new PlanFileError("PLAN_FILE_INVALID", `${where} has plan format version ${String(version)}; this Setpoint reads version ${PLAN_FILE_VERSION}. Make the plan again with this version`, file);
  }
  const parsed = planFileShape.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PlanFileError("PLAN_FILE_INVALID", `${where} is not a Setpoint plan file: ${issue.path.join(".") || "(root)"}: ${issue.message}; pass a file written by setpoint schema plan --out`, file);
  }
  const f = parsed.data as unknown as PlanFile;
  const { contentHash: stored, ...body } = f;
  if (contentHash(body) !== stored || planHash(f.plan) !== f.planHash) {
    throw new PlanFileError(
      "PLAN_FILE_ALTERED",
      `${where} was changed after it was saved (its content no longer matches its hash); nothing ran. A saved plan runs only as reviewed: make a new plan instead of editing one`,
      file,
    );
  }
  return f;
}

/** Options of {@link applyPlanFile}. */
export interface ApplyPlanFileOptions extends Pick<SchemaEngineOptions, "devUrl" | "cacheDir" | "lockRetries" | "retryBaseDelayMs"> {
  /** Hazards accepted. @default [] */
  allowHazards?: AllowedHazards;
  /** Approvals by plan hash. @default [] */
  approvals?: readonly PlanApproval[];
  onStep?: (r: StepResult) => void;
}

/**
 * Applies exactly the steps of a saved plan: takes the apply lock, checks under it that the
 * database's catalog fingerprint is the one the plan was made at, runs the steps, and re-plans from
 * the saved desired state to prove convergence.
 * @throws {HazardsRefusedError} before anything runs, when a hazard is not allowed or approved.
 * @throws {DatabaseMovedError} before anything runs, when the database changed since the plan.
 * @throws {ApplyError} when a step fails. @throws {NonConvergenceError} when the re-plan is not empty.
 */
export async function applyPlanFile(target: ConnectionInput, file: PlanFile, options: ApplyPlanFileOptions = {}): Promise<StepResult[]> {
  const allowed = allowedForPlan(file.plan, options.allowHazards ?? [], options.approvals);
  assertHazardsAllowed(file.plan, allowed);
  const client = await connect(target);
  try {
    const release = await acquireApplyLock(client, lockScopeOf(file.plan));
    try {
      const now = await scopedCatalogFingerprint(client, file.readAt.schemas);
      if (now !== file.readAt.fingerprint) throw new DatabaseMovedError(file.readAt.schemas, file.readAt.fingerprint, now);
      const results = await applyPlan(client, file.plan, {
        allowHazards: allowed,
        onStep: options.onStep,
        lockRetries: options.lockRetries,
        retryBaseDelayMs: options.retryBaseDelayMs,
        lockHeld: true,
      });
      if (file.plan.steps.length > 0) {
        const after = await planSchema(target, file.desired as DesiredSchema, {
          devUrl: options.devUrl,
          cacheDir: options.cacheDir,
          online: file.options.online,
          schemas: file.readAt.schemas,
        });
        if (after.plan.steps.length > 0) throw new NonConvergenceError(after.plan);
      }
      return results;
    } finally {
      await release();
    }
  } finally {
    await client.end();
  }
}

/**
 * Reads a plan file from disk.
 * @throws {InputError} when the file cannot be read. @throws {PlanFileError} as {@link readPlanFile}.
 */
export async function loadPlanFile(path: string): Promise<PlanFile> {
  const { readFile } = await import("node:fs/promises");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new InputError(`cannot read plan file ${path}: ${(cause as Error).message}`, { propertyPath: "plan", file: path }, { cause });
  }
  return readPlanFile(text, path);
}
