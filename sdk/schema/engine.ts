import type { Client } from "pg";
import { InputError, SetpointError } from "../errors";
import { quoteIdent } from "../postgres/quote";
import { connect, type ConnectionInput } from "../postgres/connection";
import { majorFromVersionNum } from "../postgres/versions";
import { acquireApplyLock, applyPlan, lockScopeOf, type StepResult } from "./apply";
import { diff } from "./diff";
import { findUncastableColumns, UncastableColumnsError } from "./casts";
import { ExtensionInUseError, findExtensionDependents } from "./extension-dependents";
import { gatherRowFacts } from "./facts";
import { scopedCatalogFingerprint, scopedCatalogState } from "./fingerprint";
import { introspect } from "./introspect";
import { inSchemas, type SchemaModel } from "./model";
import { closeKeptConnections as closeKept, giveBack, lease } from "./internal/kept-connections";
import { WeightedLru } from "./internal/lru";
import { MODEL_MEMO_WEIGHT, modelWeight, normalize, normalizedFromCache, type NormalizeOptions, type TargetRoles } from "./normalize";
import { assertHazardsAllowed, plan, planChanges, type AllowedHazards, type Plan, type PlanPolicy } from "./plan";
import type { DesiredSchema } from "./source";
import { allowedForPlan, type PlanApproval } from "./approvals";

/** Options shared by {@link planSchema} and {@link applySchema}. */
export interface SchemaEngineOptions extends Omit<PlanPolicy, "serverMajor" | "facts" | "renames" | "role"> {
  /** Dev database server for normalizing the desired schema. @default an embedded server of the target's major */
  devUrl?: string;
  /**
   * Schemas the engine manages on the target. Objects in other schemas are never touched.
   * @default the schemas the desired state contains
   */
  schemas?: readonly string[];
  /** Normalized-model cache directory, or `false`. @default ~/.cache/setpoint/schema */
  cacheDir?: string | false;
  /**
   * Keep the dev server and scratch databases between calls (a long-running process); see
   * `NormalizeOptions.reuse` and `closeDevResources`. @default false
   */
  reuseDevResources?: boolean;
  /**
   * Keep target connections open between calls (a long-running process that plans the same
   * databases again and again): each call leases an idle connection of its target instead of
   * opening one, and its catalog queries, prepared once per connection, are not planned again.
   * Call {@link closeKeptConnections} before exiting. @default false
   */
  keepConnections?: boolean;
  /** Hazards to accept. @default [] */
  allowHazards?: AllowedHazards;
  /** Hazards accepted for one plan only, by its hash (see `planHash`). @default [] */
  approvals?: readonly PlanApproval[];
  /** Retries of a step after a lock timeout. @default 5 */
  lockRetries?: number;
  /** First delay before a lock-timeout retry, doubling each time. @default 250 */
  retryBaseDelayMs?: number;
}

/** A plan together with what it was computed from. */
export interface PlannedSchema {
  readonly plan: Plan;
  readonly live: SchemaModel;
  readonly desired: SchemaModel;
  /** Hash of the desired input and the server major. */
  readonly fingerprint: string;
  readonly serverMajor: number;
  /** True when the desired model came from the cache (no dev database was used). */
  readonly desiredFromCache: boolean;
}

/** Result of {@link applySchema}. */
export interface AppliedSchema extends PlannedSchema {
  readonly results: readonly StepResult[];
}

/** Raised when a fresh plan after apply is not empty. */
export class NonConvergenceError extends SetpointError {
  readonly remaining: Plan;

  constructor(remaining: Plan) {
    super(
      "NOT_CONVERGED",
      `apply finished but the database does not match the desired schema; ${remaining.steps.length} step(s) remain:\n` +
        remaining.steps.map((s) => `  - ${s.kind}: ${s.sql.join("; ")}`).join("\n") +
        "\nThis is a Setpoint bug or a concurrent change; please report it with both schemas.",
    );
    this.remaining = remaining;
  }
}

/**
 * Plans the changes that make the database at `target` match `desired`: normalizes the desired
 * SQL (cached), introspects the target once, diffs, and orders. Runs nothing on the target but
 * catalog reads and cheap emptiness probes for objects the plan would drop.
 * @throws {ConnectionError} when the target is unreachable.
 * @throws {InputError} when the desired SQL is invalid (with file and line).
 * @throws {UncastableColumnsError} when a column changes to a type its values have no cast to.
 * @throws {ExtensionInUseError} when an extension to drop is used by objects outside the managed schemas.
 */
export async function planSchema(target: ConnectionInput, desired: DesiredSchema, options: SchemaEngineOptions = {}): Promise<PlannedSchema> {
  const client = await open(target, options);
  try {
    return await planWith(client, desired, options);
  } finally {
    await close(target, client, options);
  }
}

/** A connection to the target: a kept one with {@link SchemaEngineOptions.keepConnections}, else a new one. */
function open(target: ConnectionInput, options: SchemaEngineOptions): Promise<Client> {
  return options.keepConnections ? lease(target) : connect(target);
}

function close(target: ConnectionInput, client: Client, options: SchemaEngineOptions): Promise<void> {
  return options.keepConnections ? giveBack(target, client) : client.end();
}

/** Closes the target connections kept by {@link SchemaEngineOptions.keepConnections}. */
export function closeKeptConnections(): Promise<void> {
  return closeKept();
}

async function planWith(client: Client, desired: DesiredSchema, options: SchemaEngineOptions): Promise<PlannedSchema> {
  const { rows } = await client.query<{ v: string; me: string; superuser: boolean; names: string[]; member_of: string[] }>(TARGET_FACTS_SQL);
  const target = rows[0]!;
  const serverMajor = majorFromVersionNum(Number(target.v));
  const roles: TargetRoles = { names: target.names, applying: target.me, superuser: target.superuser, memberOf: target.member_of };
  const { normalized, live } = await desiredAndLive(
    client,
    desired,
    { devUrl: options.devUrl, major: serverMajor, cacheDir: options.cacheDir, reuse: options.reuseDevResources, roles },
    options.schemas,
  );
  assertRolesExist(normalized.model, roles);
  const policy: PlanPolicy = { ...options, serverMajor, renames: desired.renames ?? [], role: roles.applying };
  // Probe emptiness only for what the plan would drop, then plan with those facts; a column type
  // change PostgreSQL has no cast for is refused here, before anything runs.
  const changes = diff(live, normalized.model, policy);
  const uncastable = await findUncastableColumns(client, changes, normalized.model);
  if (uncastable.length) throw new UncastableColumnsError(uncastable);
  const extensionDependents = await findExtensionDependents(client, changes, live.schemas.map((s) => s.name));
  if (extensionDependents.length) throw new ExtensionInUseError(extensionDependents);
  const facts = await gatherRowFacts(client, changes);
  // The diff reads facts only into the drops they describe: without any, it would be the same again.
  const p = facts.size === 0 ? planChanges(changes, live, normalized.model, policy) : plan(live, normalized.model, { ...policy, facts });
  return { plan: p, live, desired: normalized.model, fingerprint: normalized.fingerprint, serverMajor, desiredFromCache: normalized.cached };
}

// The server major, and the roles normalization mirrors (names only: no attributes, no secrets).
const TARGET_FACTS_SQL = `
SELECT current_setting('server_version_num') AS v, current_user::text AS me,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS superuser,
       array(SELECT rolname::text FROM pg_roles ORDER BY 1) AS names,
       array(SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
             WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY 1) AS member_of`;

/**
 * Checks that every role the desired model names (owners, grantees, default privileges) exists on
 * the target: normalization may have found it on the dev server, where other roles can exist.
 * @throws {InputError} naming the missing roles and the fix.
 */
export function assertRolesExist(model: SchemaModel, roles: Pick<TargetRoles, "names">): void {
  const have = new Set(roles.names);
  const named = [
    ...model.acls.flatMap((a) => [a.owner, ...a.acl.map((e) => e.grantee)]),
    ...model.defaultAcls.flatMap((d) => [d.role, ...d.acl.map((e) => e.grantee)]),
  ];
  const missing = [...new Set(named.filter((r): r is string => r !== null && !have.has(r)))].sort();
  if (missing.length) {
    throw new InputError(
      `the desired schema grants privileges to or gives ownership to role(s) ${missing.map((r) => quoteIdent(r)).join(", ")}, which do not exist on the target; ` +
        `create them there first (CREATE ROLE ...; roles are server-wide and Setpoint does not create them), then plan again`,
    );
  }
}

/**
 * The normalized desired model, and the live model of the schemas it manages (`schemas`, else the
 * desired model's). When normalization has to run on the dev server, the target is introspected
 * meanwhile, over the schemas the desired SQL most likely has; when it turns out to have one more,
 * the target is read again over the right ones, as it would have been without the overlap.
 */
async function desiredAndLive(
  client: Client,
  desired: DesiredSchema,
  normalizeOptions: NormalizeOptions,
  schemas: readonly string[] | undefined,
): Promise<{ normalized: Awaited<ReturnType<typeof normalize>>; live: SchemaModel }> {
  const cached = normalizedFromCache(desired, normalizeOptions);
  if (cached) return { normalized: cached, live: await introspectUnlessUnchanged(client, schemas ?? cached.model.schemas.map((s) => s.name)) };
  const guess = schemas ?? likelySchemas(desired);
  // Settle both before reporting a failure (an invalid desired schema first), so neither is left running.
  const [normalized, early] = await Promise.allSettled([normalize(desired, normalizeOptions), introspectUnlessUnchanged(client, guess)]);
  if (normalized.status === "rejected") throw normalized.reason;
  if (early.status === "rejected") throw early.reason;
  const actual = schemas ?? normalized.value.model.schemas.map((s) => s.name);
  if (!actual.every((s) => guess.includes(s))) return { normalized: normalized.value, live: await introspectUnlessUnchanged(client, actual) };
  const live = inSchemas(early.value, actual);
  readAt.set(live, readAt.get(early.value)!);
  return { normalized: normalized.value, live };
}

// `CREATE SCHEMA [IF NOT EXISTS] name`, the name quoted or not (AUTHORIZATION forms are simply missed).
const CREATE_SCHEMA = /\bcreate\s+schema\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[a-z_][\w$]*)/gi;

/**
 * The schemas a desired SQL schema most likely holds once applied: `public` (every new database has
 * it) and those it creates. A guess that may include too many (filtered out afterwards) or miss one
 * (read afterwards); never trusted as the scope.
 */
function likelySchemas(desired: DesiredSchema): string[] {
  const out = new Set(["public"]);
  for (const file of desired.files) {
    for (const m of file.sql.matchAll(CREATE_SCHEMA)) {
      const name = m[1]!;
      out.add(name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.replace(/[A-Z]/g, (c) => c.toLowerCase()));
    }
  }
  return [...out];
}

// Last introspection per target and scope, reused while the catalog fingerprint is unchanged: a
// long-running process (the operator's drift checks) then costs one cheap query when converged.
const liveMemo = new WeightedLru<string, { fingerprint: string; model: SchemaModel }>(MODEL_MEMO_WEIGHT, (e) => modelWeight(e.model));
/** The catalog fingerprint each live model was read at (taken before the read, so never newer). */
const readAt = new WeakMap<SchemaModel, { readonly fingerprint: string; readonly schemas: readonly string[] }>();

/** Forgets remembered introspections (each next plan introspects again); for benchmarks and tests. */
export function forgetLiveIntrospections(): void {
  liveMemo.clear();
}

/**
 * What the live model of `planned` was read at: the scoped catalog fingerprint (taken before the
 * read) and the schemas it covers. Equal fingerprints later mean no DDL touched those schemas.
 */
export function catalogReadAt(planned: Pick<PlannedSchema, "live">): { readonly fingerprint: string; readonly schemas: readonly string[] } {
  const at = readAt.get(planned.live);
  if (!at) throw new SetpointError("INTERNAL", "the plan's live model has no recorded catalog fingerprint; please report this");
  return at;
}

async function introspectUnlessUnchanged(client: Client, schemas: readonly string[]): Promise<SchemaModel> {
  const { fingerprint, existing } = await scopedCatalogState(client, schemas);
  // A schema that does not exist holds nothing: the model of the scope is the model of the schemas
  // in it that exist, and so is the fingerprint. Keyed by those, scopes that differ only in schemas
  // not created yet (each new tenant's, with the shared public schema) share one read.
  const key = `${client.host}:${client.port}/${client.database}|${existing.join(",")}`;
  const hit = liveMemo.get(key);
  let model: SchemaModel;
  if (hit && hit.fingerprint === fingerprint) model = hit.model;
  else {
    model = await introspect(client, { schemas: existing });
    liveMemo.set(key, { fingerprint, model });
  }
  // A copy per call: what it was read at names the scope asked for, which other calls sharing the
  // model do not.
  const live = { ...model };
  readAt.set(live, { fingerprint, schemas });
  return live;
}

/**
 * Plans and applies in one session, then re-plans to prove convergence.
 * @throws {HazardsRefusedError} before anything runs, when the plan has hazards not allowed.
 * @throws {UncastableColumnsError} before anything runs, when a column changes to a type its values have no cast to.
 * @throws {ExtensionInUseError} before anything runs, when an extension to drop is used by objects outside the managed schemas.
 * @throws {ApplyError} when a step fails (see its `results`).
 * @throws {NonConvergenceError} when the re-plan is not empty.
 */
export async function applySchema(
  target: ConnectionInput,
  desired: DesiredSchema,
  options: SchemaEngineOptions & { onStep?: (r: StepResult) => void } = {},
): Promise<AppliedSchema> {
  const client = await open(target, options);
  try {
    const first = await planWith(client, desired, options);
    if (first.plan.steps.length === 0) return { ...first, results: [] };
    const allowHazards = options.allowHazards ?? [];
    assertHazardsAllowed(first.plan, allowedForPlan(first.plan, allowHazards, options.approvals)); // refused before any lock is taken
    let scope = lockScopeOf(first.plan);
    for (let attempt = 1; ; attempt++) {
      const release = await acquireApplyLock(client, scope);
      try {
        // Another apply may have changed these schemas between the plan and the lock: plan again
        // under it (the desired model is cached; the target is read again only if its catalog changed).
        const planned = attempt === 1 && (await unchangedSince(client, first)) ? first : await planWith(client, desired, options);
        const needed = lockScopeOf(planned.plan);
        if (!covers(scope, needed)) {
          // The plan now reaches schemas the lock does not hold: take a wider lock and plan again.
          scope = attempt >= 2 ? null : [...new Set([...(scope ?? []), ...(needed ?? [])])].sort();
          if (needed === null) scope = null;
          continue;
        }
        const results = await applyPlan(client, planned.plan, {
          // An approval holds for the plan it names: a plan that changed under the lock needs its own.
          allowHazards: allowedForPlan(planned.plan, allowHazards, options.approvals),
          onStep: options.onStep,
          lockRetries: options.lockRetries,
          retryBaseDelayMs: options.retryBaseDelayMs,
          lockHeld: true,
        });
        if (planned.plan.steps.length > 0) {
          const after = await planWith(client, desired, options);
          if (after.plan.steps.length > 0) throw new NonConvergenceError(after.plan);
        }
        // The desired model came from where the first plan found it (a plan under the lock reads it from the cache).
        return { ...planned, desiredFromCache: first.desiredFromCache, results };
      } finally {
        await release();
      }
    }
  } finally {
    await close(target, client, options);
  }
}

/** Whether a lock scope (`null`: the whole database) includes another. */
function covers(held: readonly string[] | null, needed: readonly string[] | null): boolean {
  if (held === null) return true;
  if (needed === null) return false;
  return needed.every((s) => held.includes(s));
}

/** Whether the target's catalog is unchanged since `planned` read it (so the plan still holds). */
async function unchangedSince(client: Client, planned: PlannedSchema): Promise<boolean> {
  const at = readAt.get(planned.live);
  return at !== undefined && (await scopedCatalogFingerprint(client, at.schemas)) === at.fingerprint;
}
