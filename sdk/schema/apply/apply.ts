import type { ClientBase } from "pg";
import { SetpointError } from "../../errors";
import { quoteLiteral, quoteQualified } from "../../postgres/quote";
import { CANONICAL_SEARCH_PATH } from "../introspect/introspect";
import { describeLockWait, LockWatch, type LockWait, type ObserverFactory } from "./lock-watch";
import { assertHazardsAllowed, type AllowedHazards, type Plan, type PlanStep } from "../plan/plan";

/** Outcome of one step. */
export type StepStatus = "Succeeded" | "Failed" | "Skipped" | "NotStarted";

/** What happened to one plan step during apply. */
export interface StepResult {
  readonly index: number;
  readonly kind: PlanStep["kind"];
  readonly status: StepStatus;
  readonly sql: readonly string[];
  readonly attempts: number;
  readonly durationMs: number;
  /** Set when the step ran but its transaction was rolled back because a later step in it failed. */
  readonly rolledBack?: boolean;
  readonly error?: string;
}

/** Options for {@link applyPlan}. */
export interface ApplyOptions {
  /** Hazards the caller accepts. @default [] (any hazard refuses the plan before anything runs) */
  allowHazards?: AllowedHazards;
  /** How many times a step (or its transaction group) is retried after a lock timeout. @default 5 */
  lockRetries?: number;
  /** Called after each step finishes. */
  onStep?: (result: StepResult) => void;
  /** Base delay before a lock-timeout retry; doubles each time, with jitter. @default 250 */
  retryBaseDelayMs?: number;
  /** The caller already holds the apply lock for this plan ({@link acquireApplyLock}). @default false */
  lockHeld?: boolean;
  /**
   * Opens a second connection to the same database, used only while a step waits on a lock, so a
   * lock-timeout error can name the blocking session. @default none (the error names no blocker)
   */
  observer?: ObserverFactory;
  /**
   * Stops the apply: no further step or retry starts, and with an `observer` the running statement
   * is cancelled (`pg_cancel_backend`) so its transaction group rolls back at once, even while it
   * waits on a lock. The apply then fails with an {@link ApplyError} saying what is committed.
   * @default none
   */
  signal?: AbortSignal;
}

/** Raised when a step fails. Transactional groups are rolled back whole; `results` says what ran. */
export class ApplyError extends SetpointError {
  readonly results: readonly StepResult[];
  readonly step: number;
  readonly statement: string | undefined;
  /** For a lock timeout: what the step waited for and who held it, as last seen before it gave up. */
  readonly lockWait: LockWait | undefined;
  /** For a lock timeout: milliseconds from the first attempt to the last failure, retries included. */
  readonly elapsedMs: number | undefined;

  constructor(
    message: string,
    results: readonly StepResult[],
    step: number,
    statement: string | undefined,
    cause: unknown,
    lock: { wait: LockWait | undefined; elapsedMs: number } | undefined = undefined,
  ) {
    super("APPLY_FAILED", message, { cause });
    this.results = results;
    this.step = step;
    this.statement = statement;
    this.lockWait = lock?.wait;
    this.elapsedMs = lock?.elapsedMs;
  }
}

/** Raised when another apply holds the advisory lock of a schema this apply changes. Nothing ran. */
export class ConcurrentApplyError extends SetpointError {
  constructor(scope: readonly string[] | null) {
    const what = scope === null ? "this database" : `schema${scope.length === 1 ? "" : "s"} ${scope.map((n) => JSON.stringify(n)).join(", ")} of this database`;
    super("APPLY_LOCKED", `another Setpoint apply is changing ${what} (advisory lock held); wait for it to finish and run again`);
  }
}

/**
 * Session-level advisory lock key of the whole database ("setpoint" in ASCII). An apply whose
 * changes stay inside known schemas holds it shared, plus an exclusive lock per schema; one that
 * reaches beyond schemas (extensions, or a change whose schema is not known) holds it exclusive.
 * So applies to different schemas of one database run at the same time, and never interleave
 * with one to the same schema.
 */
export const APPLY_LOCK_KEY = "7310012289005282420";
/** First key of the two-key advisory locks of single schemas (the second is `hashtext(schema)`). */
const SCHEMA_LOCK_CLASS = 1936027760; // "setp"

/**
 * The schemas a plan changes, sorted, or `null` when a step reaches beyond them: an extension (one
 * per database, whatever its schema), or a change that names no schema.
 */
export function lockScopeOf(plan: Plan): string[] | null {
  const out = new Set<string>();
  for (const step of plan.steps) {
    if (step.kind.includes("Extension")) return null;
    const found = schemasIn(step);
    if (found.length === 0) return null;
    for (const s of found) out.add(s);
  }
  return [...out].sort();
}

// Every `schema` named by a change (its table's, a foreign key's target's, a comment's, ...), and the
// name of a schema created or dropped. Looks two levels deep: changes are flat records of model objects.
function schemasIn(step: PlanStep): string[] {
  const out: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (value === null || typeof value !== "object" || depth > 2) return;
    for (const [key, v] of Object.entries(value)) {
      if (key === "schema" && typeof v === "string") out.push(v);
      else if (typeof v === "object") visit(v, depth + 1);
    }
  };
  visit(step, 0);
  if (step.kind === "createSchema" || step.kind === "dropSchema") out.push(step.schema.name);
  if (step.kind === "comment" && step.target.type === "SCHEMA") out.push(step.target.name);
  return out;
}

/**
 * Takes the apply lock of `scope` (see {@link APPLY_LOCK_KEY}) without waiting, and returns its
 * release. `null` locks the whole database.
 * @throws {ConcurrentApplyError} when another apply holds any part of it; nothing is left held.
 */
export async function acquireApplyLock(client: ClientBase, scope: readonly string[] | null): Promise<() => Promise<void>> {
  const taken: string[] = [];
  const release = async () => {
    for (const unlock of taken.reverse()) await client.query(unlock).catch(() => undefined);
  };
  const take = async (lock: string, unlock: string): Promise<boolean> => {
    const { rows } = await client.query<{ ok: boolean }>(`SELECT ${lock} AS ok`);
    if (rows[0]?.ok) taken.push(`SELECT ${unlock}`);
    return rows[0]?.ok === true;
  };
  try {
    let ok =
      scope === null
        ? await take(`pg_try_advisory_lock(${APPLY_LOCK_KEY})`, `pg_advisory_unlock(${APPLY_LOCK_KEY})`)
        : await take(`pg_try_advisory_lock_shared(${APPLY_LOCK_KEY})`, `pg_advisory_unlock_shared(${APPLY_LOCK_KEY})`);
    // Sorted, and never waiting: two applies cannot deadlock on these.
    for (const schema of scope ?? []) {
      if (!ok) break;
      const key = `${SCHEMA_LOCK_CLASS}, hashtext(${quoteLiteral(schema)})`;
      ok = await take(`pg_try_advisory_lock(${key})`, `pg_advisory_unlock(${key})`);
    }
    if (!ok) throw new ConcurrentApplyError(scope);
  } catch (err) {
    await release();
    throw err;
  }
  return release;
}

/**
 * Runs a plan. Refuses it whole, before anything runs, if it has hazards not in `allowHazards`.
 * Holds session-level advisory locks (see {@link APPLY_LOCK_KEY}) so two applies to one schema never interleave. Consecutive `group` steps
 * share one transaction; `own` steps commit what came before; `none` steps (CONCURRENTLY) run
 * alone. Lock timeouts are retried with backoff. A failed concurrent index build leaves an invalid
 * index, which is dropped before a retry and detected by the next plan.
 * @throws {HazardsRefusedError} before anything runs.
 * @throws {ConcurrentApplyError} when another apply runs.
 * @throws {ApplyError} when a step fails; groups that committed stay, the failing group is rolled back.
 */
export async function applyPlan(client: ClientBase, plan: Plan, options: ApplyOptions = {}): Promise<StepResult[]> {
  assertHazardsAllowed(plan, options.allowHazards ?? []);
  const results: StepResult[] = plan.steps.map((s, index) => ({ index, kind: s.kind, status: "NotStarted", sql: s.sql, attempts: 0, durationMs: 0 }));
  if (plan.steps.length === 0) return results;

  const release = options.lockHeld ? null : await acquireApplyLock(client, lockScopeOf(plan));
  const watch = options.observer ? new LockWatch(backendPid(client), options.observer) : null;
  try {
    await client.query(`SET search_path = ${CANONICAL_SEARCH_PATH}`);
    // If this process dies, the server notices within a second and stops the step (PostgreSQL 14+),
    // instead of finishing it unattended after a lock wait.
    await client.query("SET client_connection_check_interval = '1s'");
    for (const batch of batches(plan.steps)) {
      if (options.signal?.aborted) throw stoppedBefore(results, batch[0]!, options.signal);
      await runBatch(client, plan, batch, results, options, watch);
    }
    return results;
  } finally {
    await watch?.close();
    await release?.();
  }
}

// The apply connection's backend pid (node-postgres keeps it from the startup), for the lock watch.
function backendPid(client: ClientBase): Promise<number | null> {
  const known = (client as { processID?: unknown }).processID;
  if (typeof known === "number" && known > 0) return Promise.resolve(known);
  return client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid").then(
    (r) => r.rows[0]?.pid ?? null,
    () => null,
  );
}

/** Groups step indexes into units that run together. */
function batches(steps: readonly PlanStep[]): number[][] {
  const out: number[][] = [];
  let group: number[] = [];
  steps.forEach((s, i) => {
    if (s.transaction === "group") {
      group.push(i);
      return;
    }
    if (group.length) out.push(group);
    group = [];
    out.push([i]);
  });
  if (group.length) out.push(group);
  return out;
}

const LOCK_TIMEOUT = "55P03";

async function runBatch(client: ClientBase, plan: Plan, batch: number[], results: StepResult[], options: ApplyOptions, watch: LockWatch | null): Promise<void> {
  const transactional = plan.steps[batch[0]!]!.transactional;
  const batchStarted = Date.now();
  if (watch) watch.last = null;
  const cancel = (): void => void watch?.cancel();
  const run = async (sql: string, lockTimeoutMs: number) => {
    watch?.start(lockTimeoutMs);
    options.signal?.addEventListener("abort", cancel, { once: true });
    try {
      if (options.signal?.aborted) cancel(); // aborted before the listener was in place
      await client.query(sql);
    } finally {
      options.signal?.removeEventListener("abort", cancel);
      watch?.stop();
    }
  };
  const retries = options.lockRetries ?? 5;
  // A transactional group goes first as a few multi-statement queries: a round trip per statement
  // and per timeout change costs more, client and server, than the DDL of a small table. When that
  // fails the group has rolled back, and it runs again statement by statement, which names the
  // failing step and statement (a lock timeout counts as an attempt; any other error does not).
  let chunked = transactional && batch.length > 1;
  for (let attempt = 1; ; attempt++) {
    const started = new Map<number, number>();
    let current = batch[0]!;
    let statement: string | undefined;
    let lockTimeout: number | undefined;
    let statementTimeout: number | undefined;
    try {
      if (transactional) await client.query("BEGIN");
      if (chunked) {
        for (const chunk of chunks(plan, batch)) {
          for (const i of chunk.steps) started.set(i, Date.now());
          await run(chunk.sql, Math.min(...chunk.steps.map((i) => plan.steps[i]!.lockTimeoutMs)));
        }
      } else {
        for (const i of batch) {
          current = i;
          const step = plan.steps[i]!;
          started.set(i, Date.now());
          // Timeouts are set only when they change within the batch (a round trip each).
          const scope = transactional ? "LOCAL " : "";
          if (step.lockTimeoutMs !== lockTimeout) await client.query(`SET ${scope}lock_timeout = ${quoteLiteral(`${step.lockTimeoutMs}ms`)}`);
          if (step.statementTimeoutMs !== statementTimeout) await client.query(`SET ${scope}statement_timeout = ${quoteLiteral(`${step.statementTimeoutMs}ms`)}`);
          lockTimeout = step.lockTimeoutMs;
          statementTimeout = step.statementTimeoutMs;
          for (const sql of step.sql) {
            statement = sql;
            await run(sql, step.lockTimeoutMs);
          }
          statement = undefined;
          if (!transactional) finish(results, i, "Succeeded", attempt, started, options);
        }
      }
      if (transactional) {
        await client.query("COMMIT");
        for (const i of batch) finish(results, i, "Succeeded", attempt, started, options);
      }
      return;
    } catch (cause) {
      if (transactional) await client.query("ROLLBACK").catch(() => undefined);
      else await cleanupFailedConcurrentBuild(client, plan.steps[current]!);
      const code = (cause as { code?: string }).code;
      // Stopped: no retry, whatever the error (a cancelled statement, or a lock timeout meanwhile).
      const stopped = options.signal?.aborted === true;
      if (chunked && !stopped) {
        chunked = false;
        if (code !== LOCK_TIMEOUT || attempt > retries) attempt--;
        else await retryDelay(attempt, options);
        continue;
      }
      if (code === LOCK_TIMEOUT && attempt <= retries && !stopped) {
        await retryDelay(attempt, options);
        if (options.signal?.aborted) throw stoppedBefore(results, batch[0]!, options.signal);
        continue;
      }
      // The server's hint says what to change (e.g. max_locks_per_transaction for "out of shared memory").
      const hintText = (cause as { hint?: string }).hint;
      const message = `${(cause as Error).message ?? String(cause)}${hintText ? ` (hint: ${hintText})` : ""}`;
      for (const i of batch) {
        if (i === current) finish(results, i, "Failed", attempt, started, options, message);
        else if (started.has(i) && transactional) results[i] = { ...results[i]!, status: "NotStarted", rolledBack: true, attempts: attempt };
      }
      const step = plan.steps[current]!;
      const elapsedMs = Date.now() - batchStarted;
      const wait = watch?.last ?? undefined;
      const hint =
        code === LOCK_TIMEOUT
          ? ` (lock not acquired within ${step.lockTimeoutMs} ms after ${attempt} attempts, ${elapsedMs} ms in all with the waits between them; ` +
            `${wait ? describeLockWait(wait) : "another session holds a conflicting lock"})`
          : "";
      throw new ApplyError(
        `step ${current + 1} (${step.kind}) failed${hint}: ${message}${statement ? `\n  statement: ${statement}` : ""}` +
          (transactional ? `\n  its transaction was rolled back; ${countSucceeded(results)} earlier step(s) are committed; run apply again to resume` : `\n  run apply again to resume`),
        results,
        current,
        statement,
        cause,
        code === LOCK_TIMEOUT ? { wait, elapsedMs } : undefined,
      );
    }
  }
}

/** The error of an apply stopped through its signal before the step at `index` (re)started. */
function stoppedBefore(results: StepResult[], index: number, signal: AbortSignal): ApplyError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new ApplyError(`apply stopped before step ${index + 1} (${reason}); ${countSucceeded(results)} earlier step(s) are committed; run apply again to resume`, results, index, undefined, signal.reason);
}

/** Waits before retry `attempt + 1` after a lock timeout: the base delay doubling, with jitter. */
async function retryDelay(attempt: number, options: ApplyOptions): Promise<void> {
  const base = options.retryBaseDelayMs ?? 250;
  await new Promise((r) => setTimeout(r, base * 2 ** (attempt - 1) * (0.5 + Math.random())));
}

/** Most statements and characters sent in one query when a group runs chunked. */
const CHUNK_STATEMENTS = 1000;
const CHUNK_CHARS = 1 << 20;

/**
 * A transactional group as multi-statement query texts, in order: each step's statements, preceded
 * by `SET LOCAL` of its timeouts where they change. PostgreSQL 13+ applies statement_timeout to
 * each statement of such a text separately. Statements are separated by a newline before the
 * semicolon, so a trailing line comment cannot swallow it.
 */
function chunks(plan: Plan, batch: readonly number[]): { steps: number[]; sql: string }[] {
  const out: { steps: number[]; sql: string }[] = [];
  let steps: number[] = [];
  let parts: string[] = [];
  let chars = 0;
  let lockTimeout: number | undefined;
  let statementTimeout: number | undefined;
  const flush = () => {
    if (parts.length) out.push({ steps, sql: parts.join("\n;\n") });
    steps = [];
    parts = [];
    chars = 0;
  };
  for (const i of batch) {
    const step = plan.steps[i]!;
    const sql: string[] = [];
    if (step.lockTimeoutMs !== lockTimeout) sql.push(`SET LOCAL lock_timeout = ${quoteLiteral(`${step.lockTimeoutMs}ms`)}`);
    if (step.statementTimeoutMs !== statementTimeout) sql.push(`SET LOCAL statement_timeout = ${quoteLiteral(`${step.statementTimeoutMs}ms`)}`);
    lockTimeout = step.lockTimeoutMs;
    statementTimeout = step.statementTimeoutMs;
    sql.push(...step.sql);
    const size = sql.reduce((n, q) => n + q.length + 3, 0);
    if (parts.length && (parts.length + sql.length > CHUNK_STATEMENTS || chars + size > CHUNK_CHARS)) flush();
    steps.push(i);
    parts.push(...sql);
    chars += size;
  }
  flush();
  return out;
}

function countSucceeded(results: StepResult[]): number {
  return results.filter((r) => r.status === "Succeeded").length;
}

function finish(results: StepResult[], i: number, status: StepStatus, attempts: number, started: Map<number, number>, options: ApplyOptions, error?: string): void {
  const r: StepResult = { ...results[i]!, status, attempts, durationMs: Date.now() - (started.get(i) ?? Date.now()), ...(error ? { error } : {}) };
  results[i] = r;
  options.onStep?.(r);
}

// CREATE INDEX CONCURRENTLY that fails leaves an invalid index behind; drop it so a retry can build it.
async function cleanupFailedConcurrentBuild(client: ClientBase, step: PlanStep): Promise<void> {
  if (step.kind !== "createIndex") return;
  const { rows } = await client
    .query<{ ok: boolean }>(
      `SELECT true AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2 AND NOT i.indisvalid`,
      [step.table.schema, step.index.name],
    )
    .catch(() => ({ rows: [] as { ok: boolean }[] }));
  if (rows.length) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(step.table.schema, step.index.name)}`).catch(() => undefined);
}
