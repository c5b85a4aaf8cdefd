import type { Client } from "pg";
import { InputError, SetpointError } from "../errors";
import { quoteIdent } from "../postgres/quote";
import { connect, type ConnectionInput } from "../postgres/connection";
import { majorFromVersionNum } from "../postgres/versions";
import { acquireApplyLock, applyPlan, lockScopeOf, type StepResult } from "./apply/apply";
import { diff } from "./diff/diff";
import { findUncastableColumns, UncastableColumnsError } from "./probes/casts";
import { ExtensionInUseError, findExtensionDependents } from "./probes/extension-dependents";
import { gatherRowFacts, withRowFacts } from "./probes/row-facts";
import { probeData, type DataProbeOptions } from "./probes/data-probes-run";
import { scopedCatalogFingerprint, scopedCatalogState } from "./introspect/fingerprint";
import { introspect } from "./introspect/introspect";
import { IN_SCOPE, NOT_EXTENSION_MEMBER } from "./introspect/catalog-scope";
import { catalogQuery } from "./internal/prepared";
import { inSchemas, type SchemaModel } from "./model";
import { KeptConnections } from "./internal/kept-connections";
import { WeightedLru } from "./internal/lru";
import { DevResources } from "./normalize/dev-servers";
import { MODEL_MEMO_WEIGHT, ModelCache, modelWeight } from "./normalize/model-cache";
import { normalizedFromCache, normalizeWith, resolvedCacheDir, type NormalizeOptions, type NormalizeResources, type TargetRoles } from "./normalize/normalize";
import { assertHazardsAllowed, planChanges, type AllowedHazards, type Plan, type PlanPolicy } from "./plan/plan";
import type { DesiredSchema } from "./source/desired";
import { CatalogChecks, desiredCatalogCheck, snapshotReader, UnmodelledDifferenceError, type CatalogCheck } from "./verify/engine-check";
import { allowedForPlan, type PlanApproval } from "./plan/approvals";

/** Options shared by {@link planSchema} and {@link applySchema}. */
export interface SchemaEngineOptions extends Omit<PlanPolicy, "serverMajor" | "facts" | "renames" | "role" | "dataHazards"> {
  /** Dev database server for normalizing the desired schema. @default an embedded server of the target's major */
  devUrl?: string;
  /**
   * Schemas the engine manages on the target. Objects in other schemas are never touched, and the
   * desired state's objects outside them are left out of the plan. `"all"`: every schema of the
   * target except PostgreSQL's own (pg_*, information_schema) and those of extensions, plus those the
   * desired state creates; a schema the desired state does not have is dropped (under the
   * DATA_LOSS_DROP_SCHEMA hazard), as whole-database diff tools do.
   * @default the schemas the desired state contains
   */
  schemas?: readonly string[] | "all";
  /** Normalized-model cache directory, or `false`. @default ~/.cache/setpoint/schema */
  cacheDir?: string | false;
  /** Writable directory of the embedded dev server's data (see `NormalizeOptions.scratchDir`). @default $SETPOINT_SCRATCH_DIR, tmpfs, or $TMPDIR */
  scratchDir?: string;
  /**
   * Keep the dev server and scratch databases between calls (a long-running process), until the
   * engine's `close()`; see `NormalizeOptions.reuse`. @default false
   */
  reuseDevResources?: boolean;
  /**
   * Keep target connections open between calls (a long-running process that plans the same
   * databases again and again): each call leases an idle connection of its target instead of
   * opening one, and its catalog queries, prepared once per connection, are not planned again.
   * The engine's `close()` closes them (see {@link createSchemaEngine}). @default false
   */
  keepConnections?: boolean;
  /** Hazards to accept. @default [] */
  allowHazards?: AllowedHazards;
  /**
   * Bounds of the plan-time probes of existing rows (NULLs under a new NOT NULL, values a type
   * change cannot cast or would change, duplicates under a new UNIQUE, rows a new CHECK or foreign
   * key rejects), or `false` to skip them: such steps then fail only when applied.
   * @default { timeoutMs: 5000, budgetMs: 30000, sampleKeys: true }
   */
  dataProbes?: DataProbeOptions | false;
  /** Hazards accepted for one plan only, by its hash (see `planHash`). @default [] */
  approvals?: readonly PlanApproval[];
  /** Retries of a step after a lock timeout. @default 5 */
  lockRetries?: number;
  /** First delay before a lock-timeout retry, doubling each time. @default 250 */
  retryBaseDelayMs?: number;
  /**
   * Compare the target's catalogs with the desired state's on the dev database when the plan is
   * empty (see `verify/`, ADR 0014): `plan` lists the differences it cannot remove
   * (`PlannedSchema.catalogCheck`), and `apply` fails with `UnmodelledDifferenceError` when any
   * remain. @default true
   */
  verifyCatalogs?: boolean;
  /**
   * Stops an apply (see `ApplyOptions.signal`): no further step starts and the running one is
   * cancelled, its transaction group rolled back. A long-running driver passes its shutdown signal.
   * @default none
   */
  signal?: AbortSignal;
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
  /**
   * The catalog-level check of an empty plan: differences the plan does not remove (properties the
   * engine does not model), and known, tolerated ones. Null when the plan has steps, or with
   * `verifyCatalogs: false`.
   */
  readonly catalogCheck: CatalogCheck | null;
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

/** What one schema engine owns (see {@link createSchemaEngine}). */
interface EngineState extends NormalizeResources {
  readonly kept: KeptConnections;
  /** Last introspection per target and scope, reused while the scoped catalog fingerprint is unchanged. */
  readonly live: WeightedLru<string, { fingerprint: string; model: SchemaModel }>;
  readonly checks: CatalogChecks;
}

async function planWith(
  state: EngineState,
  client: Client,
  desired: DesiredSchema,
  options: SchemaEngineOptions,
  check: "if-converged" | "always" = "if-converged",
  catalogs: "when-checked" | "eager" = "eager",
): Promise<PlannedSchema> {
  const { rows } = await client.query<{ v: string; me: string; superuser: boolean; names: string[]; member_of: string[] }>(TARGET_FACTS_SQL);
  const target = rows[0]!;
  const serverMajor = majorFromVersionNum(Number(target.v));
  const roles: TargetRoles = { names: target.names, applying: target.me, superuser: target.superuser, memberOf: target.member_of };
  const verifying = options.verifyCatalogs !== false;
  const normalizeOptions: NormalizeOptions = { devUrl: options.devUrl, major: serverMajor, cacheDir: options.cacheDir, reuse: options.reuseDevResources, roles, scratchDir: options.scratchDir };
  const policy: PlanPolicy = { ...options, serverMajor, renames: desired.renames ?? [], role: roles.applying };
  const inScope = (m: SchemaModel) => (options.schemas === undefined || options.schemas === "all" ? m : inSchemas(m, options.schemas));
  // The desired state's catalogs are read on the dev database while it holds the desired SQL, by
  // default always (an apply sharing this model cache would otherwise normalize again for its check,
  // ADR 0023); "when-checked" reads them only for an apply or a verify, or when the target read
  // meanwhile predicts an empty plan (the check runs then). A check that finds them missing normalizes again.
  const reader = verifying ? snapshotReader() : null;
  const onBuilt: BuiltHook | undefined =
    reader === null
      ? undefined
      : check === "always" || catalogs === "eager"
        ? (scratch, inTransaction, model, _liveFor, concurrent) => reader.onBuilt(scratch, inTransaction, model, concurrent)
        : async (scratch, inTransaction, model, liveFor, concurrent) => {
            const live = await liveFor(model);
            if (live === null || diff(live, inScope(model), policy).length === 0) await reader.onBuilt(scratch, inTransaction, model, concurrent);
          };
  // Every schema of the target: managed on top of those the desired state has.
  const targetSchemas = options.schemas === "all" ? await catalogQuery<{ name: string }>(client, TARGET_SCHEMAS_SQL, [null]).then((r) => r.map((x) => x.name)) : [];
  const { normalized: full, live } = await desiredAndLive(
    state,
    client,
    desired,
    normalizeOptions,
    options.schemas === "all" ? undefined : options.schemas,
    targetSchemas,
    onBuilt,
  );
  if (reader) reader.remember(state.checks.desired, full.fingerprint, resolvedCacheDir(options.cacheDir));
  // The desired state in the managed schemas only: `public`, which every database has, is not
  // created when another schema alone is managed.
  const normalized = { ...full, model: inScope(full.model) };
  assertRolesExist(normalized.model, roles);
  // Diffed once: the probes read what the changes need (emptiness of what they drop, the rows of
  // what they validate) and annotate them; a column type change PostgreSQL has no cast for is
  // refused here, before anything runs.
  const changes = diff(live, normalized.model, policy);
  const uncastable = await findUncastableColumns(client, changes, normalized.model);
  if (uncastable.length) throw new UncastableColumnsError(uncastable);
  const extensionDependents = await findExtensionDependents(client, changes, live.schemas.map((s) => s.name));
  if (extensionDependents.length) throw new ExtensionInUseError(extensionDependents);
  const facts = await gatherRowFacts(client, changes);
  const dataHazards = options.dataProbes === false ? undefined : await probeData(client, changes, live, normalized.model, options.dataProbes);
  const p = planChanges(withRowFacts(changes, facts), live, normalized.model, { ...policy, dataHazards });
  const catalogCheck =
    verifying && (p.steps.length === 0 || check === "always")
      ? await desiredCatalogCheck(client, {
          desired,
          normalizeOptions,
          fingerprint: normalized.fingerprint,
          schemas: Array.isArray(options.schemas) ? options.schemas : [...new Set([...normalized.model.schemas.map((s) => s.name), ...targetSchemas])],
          liveReadAt: readAt.get(live)?.fingerprint,
        },
        state.checks,
        (d, o) => normalizeWith(d, o, state),
      )
      : null;
  return { plan: p, live, desired: normalized.model, fingerprint: normalized.fingerprint, serverMajor, desiredFromCache: normalized.cached, catalogCheck };
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
/**
 * Called while the dev database holds the desired SQL (see `NormalizeOptions.onBuilt`), with
 * `liveFor`: the target's model over the desired model's scope, as read meanwhile (null when that
 * read does not cover the scope).
 */
type BuiltHook = (
  scratch: Client,
  inTransaction: boolean,
  model: SchemaModel,
  liveFor: (model: SchemaModel) => Promise<SchemaModel | null>,
  concurrent: readonly Client[],
) => Promise<void>;

async function desiredAndLive(
  state: EngineState,
  client: Client,
  desired: DesiredSchema,
  normalizeOptions: NormalizeOptions,
  schemas: readonly string[] | undefined,
  alsoManaged: readonly string[],
  onBuilt?: BuiltHook,
): Promise<{ normalized: Awaited<ReturnType<typeof normalize>>; live: SchemaModel }> {
  const inDesired = (m: SchemaModel) => [...new Set([...m.schemas.map((s) => s.name), ...alsoManaged])];
  const cached = normalizedFromCache(desired, normalizeOptions, state.models);
  if (cached) return { normalized: cached, live: await introspectUnlessUnchanged(state, client, schemas ?? inDesired(cached.model)) };
  const guess = schemas ?? [...new Set([...likelySchemas(desired), ...alsoManaged])];
  const earlyRead = introspectUnlessUnchanged(state, client, guess);
  const liveFor = async (model: SchemaModel): Promise<SchemaModel | null> => {
    const actual = schemas ?? inDesired(model);
    const early = actual.every((s) => guess.includes(s)) ? await earlyRead.catch(() => null) : null;
    return early && inSchemas(early, actual);
  };
  const withHook: NormalizeOptions = {
    ...normalizeOptions,
    liveFor,
    ...(onBuilt ? { onBuilt: (scratch: Client, inTransaction: boolean, model: SchemaModel, concurrent: readonly Client[]) => onBuilt(scratch, inTransaction, model, liveFor, concurrent) } : {}),
  };
  // Settle both before reporting a failure (an invalid desired schema first), so neither is left running.
  const [normalized, early] = await Promise.allSettled([normalizeWith(desired, withHook, state), earlyRead]);
  if (normalized.status === "rejected") throw normalized.reason;
  if (early.status === "rejected") throw early.reason;
  const actual = schemas ?? inDesired(normalized.value.model);
  if (!actual.every((s) => guess.includes(s))) return { normalized: normalized.value, live: await introspectUnlessUnchanged(state, client, actual) };
  const live = inSchemas(early.value, actual);
  readAt.set(live, readAt.get(early.value)!);
  return { normalized: normalized.value, live };
}

// The target's schemas, but PostgreSQL's own and those an extension created.
const TARGET_SCHEMAS_SQL = `SELECT n.nspname AS name FROM pg_namespace n
WHERE ${IN_SCOPE("n")} AND ${NOT_EXTENSION_MEMBER("pg_namespace", "n.oid")} ORDER BY 1`;

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

/**
 * The catalog fingerprint each live model was read at (taken before the read, so never newer): an
 * attribute of the model object, not a cache (it keeps nothing alive).
 */
const readAt = new WeakMap<SchemaModel, { readonly fingerprint: string; readonly schemas: readonly string[] }>();

/**
 * What the live model of `planned` was read at: the scoped catalog fingerprint (taken before the
 * read) and the schemas it covers. Equal fingerprints later mean no DDL touched those schemas.
 */
export function catalogReadAt(planned: Pick<PlannedSchema, "live">): { readonly fingerprint: string; readonly schemas: readonly string[] } {
  const at = readAt.get(planned.live);
  if (!at) throw new SetpointError("INTERNAL", "the plan's live model has no recorded catalog fingerprint; please report this");
  return at;
}

// The last introspection per target and scope is reused while the catalog fingerprint is unchanged:
// a long-running process (the operator's drift checks) then costs one cheap query when converged.
async function introspectUnlessUnchanged(state: EngineState, client: Client, schemas: readonly string[]): Promise<SchemaModel> {
  const { fingerprint, existing } = await scopedCatalogState(client, schemas);
  // A schema that does not exist holds nothing: the model of the scope is the model of the schemas
  // in it that exist, and so is the fingerprint. Keyed by those, scopes that differ only in schemas
  // not created yet (each new tenant's, with the shared public schema) share one read.
  const key = `${client.host}:${client.port}/${client.database}|${existing.join(",")}`;
  const hit = state.live.get(key);
  let model: SchemaModel;
  if (hit && hit.fingerprint === fingerprint) model = hit.model;
  else {
    model = await introspect(client, { schemas: existing });
    state.live.set(key, { fingerprint, model });
  }
  // A copy per call: what it was read at names the scope asked for, which other calls sharing the
  // model do not.
  const live = { ...model };
  readAt.set(live, { fingerprint, schemas });
  return live;
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

async function applyWith(state: EngineState, target: ConnectionInput, desired: DesiredSchema, options: ApplyOptions): Promise<AppliedSchema> {
  const client = await open(state, target, options);
  try {
    const first = await planWith(state, client, desired, options, "if-converged", "eager");
    if (first.plan.steps.length === 0) {
      if (first.catalogCheck?.differences.length) throw new UnmodelledDifferenceError(first.catalogCheck.differences);
      return { ...first, results: [] };
    }
    const allowHazards = options.allowHazards ?? [];
    assertHazardsAllowed(first.plan, allowedForPlan(first.plan, allowHazards, options.approvals)); // refused before any lock is taken
    let scope = lockScopeOf(first.plan);
    for (let attempt = 1; ; attempt++) {
      const release = await acquireApplyLock(client, scope);
      try {
        // Another apply may have changed these schemas between the plan and the lock: plan again
        // under it (the desired model is cached; the target is read again only if its catalog changed).
        const planned = attempt === 1 && (await unchangedSince(client, first)) ? first : await planWith(state, client, desired, options, "if-converged", "eager");
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
          signal: options.signal,
          observer: () => connect(target, { applicationName: "setpoint-observer" }),
        });
        let catalogCheck = planned.catalogCheck;
        if (planned.plan.steps.length > 0) {
          const after = await planWith(state, client, desired, options, "if-converged", "eager");
          if (after.plan.steps.length > 0) throw new NonConvergenceError(after.plan);
          catalogCheck = after.catalogCheck;
        }
        // What the plan did not remove: properties the engine does not model.
        if (catalogCheck?.differences.length) throw new UnmodelledDifferenceError(catalogCheck.differences);
        // The desired model came from where the first plan found it (a plan under the lock reads it from the cache).
        return { ...planned, desiredFromCache: first.desiredFromCache, results, catalogCheck };
      } finally {
        await release();
      }
    }
  } finally {
    await giveBack(state, target, client, options);
  }
}

async function verifyWith(state: EngineState, target: ConnectionInput, desired: DesiredSchema, options: SchemaEngineOptions): Promise<VerifiedSchema> {
  const client = await open(state, target, options);
  try {
    const planned = await planWith(state, client, desired, { ...options, verifyCatalogs: true }, "always");
    return { ...planned, catalogCheck: planned.catalogCheck! };
  } finally {
    await giveBack(state, target, client, options);
  }
}

/** A connection to the target: a kept one with {@link SchemaEngineOptions.keepConnections}, else a new one. */
function open(state: EngineState, target: ConnectionInput, options: SchemaEngineOptions): Promise<Client> {
  return options.keepConnections ? state.kept.lease(target) : connect(target);
}

function giveBack(state: EngineState, target: ConnectionInput, client: Client, options: SchemaEngineOptions): Promise<void> {
  return options.keepConnections ? state.kept.giveBack(target, client) : client.end();
}

/** Options of {@link SchemaEngine.apply}. */
export type ApplyOptions = SchemaEngineOptions & { onStep?: (r: StepResult) => void };

/** Result of {@link SchemaEngine.verify}: a plan with its catalog-level check. */
export type VerifiedSchema = PlannedSchema & { readonly catalogCheck: CatalogCheck };

/**
 * A schema engine: plan, apply and verify, and the process state they share — normalized models in
 * memory, the last introspection of each target, catalog checks, and (when the options ask for
 * them) kept target connections and dev servers with pooled scratch databases. A one-shot process
 * can use the default engine behind {@link planSchema}, {@link applySchema} and {@link verifySchema};
 * a long-running one creates its own and closes it.
 */
export interface SchemaEngine {
  /**
   * Plans the changes that make the database at `target` match `desired`: normalizes the desired
   * SQL (cached), introspects the target once, diffs, and orders. Runs nothing on the target but
   * catalog reads, cheap emptiness probes for objects the plan would drop, and bounded read-only
   * probes of the rows that changes would fail on or alter (see {@link SchemaEngineOptions.dataProbes}).
   * @throws {ConnectionError} when the target is unreachable.
   * @throws {InputError} when the desired SQL is invalid (with file and line).
   * @throws {UncastableColumnsError} when a column changes to a type its values have no cast to.
   * @throws {ExtensionInUseError} when an extension to drop is used by objects outside the managed schemas.
   */
  plan(target: ConnectionInput, desired: DesiredSchema, options?: SchemaEngineOptions): Promise<PlannedSchema>;
  /**
   * Plans and applies in one session, then re-plans to prove convergence.
   * @throws {HazardsRefusedError} before anything runs, when the plan has hazards not allowed.
   * @throws {UncastableColumnsError} before anything runs, when a column changes to a type its values have no cast to.
   * @throws {ExtensionInUseError} before anything runs, when an extension to drop is used by objects outside the managed schemas.
   * @throws {ApplyError} when a step fails (see its `results`).
   * @throws {NonConvergenceError} when the re-plan is not empty.
   * @throws {UnmodelledDifferenceError} when the re-plan is empty (or there was nothing to apply) but
   *   the target's catalogs still differ from the desired state's (unless `verifyCatalogs: false`).
   */
  apply(target: ConnectionInput, desired: DesiredSchema, options?: ApplyOptions): Promise<AppliedSchema>;
  /**
   * Plans, and compares the target's catalogs with the desired state's whatever the plan (the
   * catalog-level convergence proof on demand, `setpoint schema verify`). Runs nothing on the target
   * but catalog reads.
   * @throws what {@link SchemaEngine.plan} throws.
   */
  verify(target: ConnectionInput, desired: DesiredSchema, options?: SchemaEngineOptions): Promise<VerifiedSchema>;
  /**
   * Normalizes desired SQL into a model on the dev server (see {@link NormalizeOptions}), through
   * this engine's caches, dev servers and scratch databases.
   * @throws {InputError} with the file and line when the SQL is invalid (the server's own message).
   */
  normalize(desired: DesiredSchema, options?: NormalizeOptions): Promise<{ model: SchemaModel; fingerprint: string; cached: boolean }>;
  /**
   * Resolves when the work earlier calls left for after returning is done: scratch databases
   * dropped (with those a killed process left) and models written to the cache directory. A process
   * that exits normally waits for it anyway; benchmarks and tests wait to measure or assert without it.
   */
  settled(): Promise<void>;
  /** Majors whose embedded dev server this engine keeps running now (`reuseDevResources`). */
  keptDevServers(): number[];
  /** Idle target connections this engine keeps now (`keepConnections`). */
  keptConnections(): number;
  /**
   * Forgets what is remembered in memory — normalized models, introspections, catalog checks and
   * desired catalogs — so each next call reads them again (the cache directory stays); for
   * benchmarks and tests.
   */
  forgetCaches(): void;
  /**
   * Ends what the engine keeps: closes kept target connections (those leased now when given back),
   * drops pooled scratch databases, stops kept dev servers, and waits for background work. The
   * engine can still be used afterwards; it starts them again.
   */
  close(): Promise<void>;
}

/**
 * A schema engine that owns its state. `defaults` apply to every call; a call's own options are
 * laid over them.
 */
export function createSchemaEngine(defaults: SchemaEngineOptions = {}): SchemaEngine {
  const state: EngineState = {
    kept: new KeptConnections(),
    dev: new DevResources(),
    models: new ModelCache(),
    live: new WeightedLru(MODEL_MEMO_WEIGHT, (e) => modelWeight(e.model)),
    checks: new CatalogChecks(),
  };
  const planOnce = async (target: ConnectionInput, desired: DesiredSchema, options: SchemaEngineOptions) => {
    const client = await open(state, target, options);
    try {
      return await planWith(state, client, desired, options);
    } finally {
      await giveBack(state, target, client, options);
    }
  };
  const engine: SchemaEngine = {
    plan: (target, desired, options = {}) => planOnce(target, desired, { ...defaults, ...options }),
    apply: (target, desired, options = {}) => applyWith(state, target, desired, { ...defaults, ...options }),
    verify: (target, desired, options = {}) => verifyWith(state, target, desired, { ...defaults, ...options }),
    normalize: (desired, options = {}) => normalizeWith(desired, options, state),
    settled: () => state.dev.settled(),
    keptDevServers: () => state.dev.keptMajors(),
    keptConnections: () => state.kept.count(),
    forgetCaches: () => {
      state.models.clear();
      state.live.clear();
      state.checks.clear();
    },
    close: async () => {
      await Promise.all([state.kept.close(), state.dev.close()]);
    },
  };
  keptOf.set(engine, state.kept);
  return engine;
}

const keptOf = new WeakMap<SchemaEngine, KeptConnections>();

/** The target connections an engine keeps, to lease one as the engine would (tests). */
export function keptConnectionsOf(engine: SchemaEngine): KeptConnections {
  return keptOf.get(engine)!;
}

// ---- The default engine, behind the functions of earlier versions ----

let defaultEngine: SchemaEngine | undefined;

/** The engine behind {@link planSchema}, {@link applySchema}, {@link verifySchema} and {@link normalize}, created on first use. */
export function defaultSchemaEngine(): SchemaEngine {
  defaultEngine ??= createSchemaEngine();
  return defaultEngine;
}

/** {@link SchemaEngine.plan} of the default engine. */
export function planSchema(target: ConnectionInput, desired: DesiredSchema, options: SchemaEngineOptions = {}): Promise<PlannedSchema> {
  return defaultSchemaEngine().plan(target, desired, options);
}

/** {@link SchemaEngine.apply} of the default engine. */
export function applySchema(target: ConnectionInput, desired: DesiredSchema, options: ApplyOptions = {}): Promise<AppliedSchema> {
  return defaultSchemaEngine().apply(target, desired, options);
}

/** {@link SchemaEngine.verify} of the default engine. */
export function verifySchema(target: ConnectionInput, desired: DesiredSchema, options: SchemaEngineOptions = {}): Promise<VerifiedSchema> {
  return defaultSchemaEngine().verify(target, desired, options);
}

/** {@link SchemaEngine.normalize} of the default engine. */
export function normalize(desired: DesiredSchema, options: NormalizeOptions = {}): Promise<{ model: SchemaModel; fingerprint: string; cached: boolean }> {
  return defaultSchemaEngine().normalize(desired, options);
}

/** {@link SchemaEngine.settled} of the default engine. */
export function scratchCleanup(): Promise<void> {
  return defaultSchemaEngine().settled();
}

/**
 * Closes what the default engine keeps (`keepConnections`, and `reuseDevResources` too).
 * @deprecated create an engine ({@link createSchemaEngine}) and call its `close()`.
 */
export function closeKeptConnections(): Promise<void> {
  return defaultEngine ? defaultEngine.close() : Promise.resolve();
}

/**
 * Ends what the default engine keeps (`reuseDevResources`, and `keepConnections` too).
 * @deprecated create an engine ({@link createSchemaEngine}) and call its `close()`.
 */
export function closeDevResources(): Promise<void> {
  return defaultEngine ? defaultEngine.close() : Promise.resolve();
}
