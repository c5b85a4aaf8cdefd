/**
 * Cutover: fence writes, prove green has everything blue committed, sync sequences, prepare the
 * rollback path, switch traffic, unfence; bounded by a deadline after which it aborts and blue
 * serves exactly as before. Then, outside the write pause: close blue to logins, drop the forward
 * path, subscribe blue to green (the rollback path), and verify.
 */
import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { SetpointError } from "../errors";
import { toConninfo } from "../postgres/connection";
import { replicatedTables, type ReplicatedTable } from "./catalog";
import type { RunContext } from "./context";
import { applyLoginFence, liftLoginFence, planLoginFence } from "./fence";
import { waitForLowLag } from "./lag";
import { disableSubscription, dropPublication, dropSlot, dropSubscription, ensureLogicalSlot, ensurePublication, ensureSubscription, sleep } from "./replicate";
import { compatibility, sentinelTable } from "./schema";
import { readSequences, writeSequences } from "./sequences";
import type { CutoverState, UpgradeState } from "./state";
import { verifyTables, type VerifyReport } from "./verify";

/** Raised when a cutover gave up before switching; blue was unfenced and serves as before. */
export class CutoverAbortedError extends SetpointError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super("UPGRADE_CUTOVER_ABORTED", `cutover aborted before switching traffic: ${reason}; blue was unfenced and serves as before, replication to green continues`, options);
  }
}

/** Verification snapshots: one REPEATABLE READ transaction per side, opened inside the fence. */
interface Snapshots {
  readonly blue: Client;
  readonly green: Client;
}

/** What a finished cutover measured. */
export interface CutoverResult {
  readonly writePauseMs: number;
  readonly sequencesSynced: number;
  readonly verification: VerifyReport | null;
}

/**
 * Runs the cutover from `synchronized` to `switched`. Resumable: a cutover found in progress (the
 * previous run died) that had not switched is aborted cleanly and started again; one that had
 * switched is completed.
 * @throws {CutoverAbortedError} when the deadline passed or green could not confirm; blue serves.
 */
export async function cutover(ctx: RunContext): Promise<CutoverResult> {
  if (ctx.state.cutover) {
    if (ctx.state.cutover.switching && (await trafficSide(ctx)) === "green") {
      markSwitched(ctx);
      await ctx.save();
      return completeSwitch(ctx);
    }
    ctx.emit("cutover", "a previous cutover did not finish; undoing it before starting again");
    await abortCutover(ctx);
  }
  const tables = await replicatedTables(ctx.blue);
  const problems = compatibility(tables, await replicatedTables(ctx.green));
  const published = new Set(ctx.state.tables);
  if (problems.length > 0 || tables.some((t) => !published.has(t.qualified))) {
    throw new SetpointError(
      "UPGRADE_BLUE_SCHEMA_CHANGED",
      `blue's tables changed since replication started (${problems.join("; ") || "new tables"}); run the upgrade again to bring green's schema and the publication up to date before the cutover`,
    );
  }
  await waitForLowLag(ctx);
  await ensurePublication(ctx.green, ctx.names.reversePublication, ctx.state.tables);
  // What the switch can do without holding a client is not part of the write pause.
  if (ctx.o.traffic?.canPause) await ctx.o.traffic.prepare?.();

  const now = Date.now();
  const c: CutoverState = {
    fencedAt: now,
    deadline: now + ctx.o.cutoverDeadlineMs,
    fence: ctx.o.traffic?.canPause ? "switch" : "logins",
    caughtUp: false,
    forwardDisabled: false,
    reverseSlotCreated: false,
    switching: false,
    postSwitchDone: false,
  };
  ctx.state.cutover = c;
  await ctx.save();
  const pauseStarted = performance.now();
  let snapshots: Snapshots | null = null;
  try {
    ctx.emit("cutover", c.fence === "switch" ? `pausing traffic at ${ctx.o.traffic!.kind}` : "fencing logins on blue");
    if (c.fence === "switch") {
      await ctx.o.traffic!.pause({ timeoutMs: Math.max(1, c.deadline - Date.now()) });
    } else {
      const fence = await planLoginFence(ctx.blue, "blue");
      ctx.state.fences = [...ctx.state.fences.filter((f) => f.side !== "blue"), fence];
      await ctx.save();
      await applyLoginFence(ctx.blue, fence);
    }
    await ctx.checkpoint("fenced");

    const lsn = (await ctx.blue.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0]!.lsn;
    c.fenceLsn = lsn;
    c.sentinel = randomBytes(8).toString("hex");
    await ctx.blue.query(`INSERT INTO ${sentinelTable()} (token, side) VALUES ($1, 'blue')`, [c.sentinel]);
    await ctx.save();
    await waitForSentinel(ctx.green, c.sentinel, c.deadline, { subscription: ctx.names.subscription, lsn });
    c.caughtUp = true;
    await ctx.checkpoint("caught-up");

    await disableSubscription(ctx.green, ctx.names.subscription);
    c.forwardDisabled = true;
    await ctx.save();
    await waitForApplyWorkerExit(ctx.green, ctx.names.subscription, c.deadline);
    await ensureLogicalSlot(ctx.green, ctx.names.reverseSubscription);
    c.reverseSlotCreated = true;
    c.sequencesSynced = await writeSequences(ctx.green, await readSequences(ctx.blue));
    await ctx.save();
    await ctx.checkpoint("prepared");

    let verification: VerifyReport | null = null;
    if (ctx.o.verify !== "none") {
      snapshots = await openSnapshots(ctx);
      if (ctx.o.verifyBeforeSwitch) {
        verification = await verifyTables(snapshots.blue, snapshots.green, dataTables(tables), { mode: ctx.o.verify, chunkRows: ctx.o.verifyChunkRows });
        recordVerification(ctx.state, verification);
        await closeSnapshots(snapshots);
        snapshots = null;
        if (!verification.equal) throw new SetpointError("UPGRADE_VERIFICATION_FAILED", `green's data differs from blue's: ${mismatchText(verification)}`);
      }
    }
    if (Date.now() > c.deadline) throw new SetpointError("UPGRADE_DEADLINE", `the cutover deadline of ${ctx.o.cutoverDeadlineMs} ms passed before the switch`);

    c.switching = true;
    await ctx.save();
    await ctx.checkpoint("switching");
    if (ctx.o.traffic) await ctx.o.traffic.pointTo("green");
    markSwitched(ctx);
    await ctx.save();
    await ctx.checkpoint("switched");
    const result = await finishSwitch(ctx, snapshots, pauseStarted, verification);
    snapshots = null;
    return result;
  } catch (cause) {
    if (snapshots) await closeSnapshots(snapshots);
    if (ctx.state.phase === "switched") throw cause;
    try {
      await abortCutover(ctx);
    } catch (undo) {
      throw new SetpointError(
        "UPGRADE_CUTOVER_ABORT_FAILED",
        `cutover failed (${(cause as Error).message}) and undoing it failed too (${(undo as Error).message}); run the upgrade again or roll it back: both are safe to repeat`,
        { cause },
      );
    }
    throw new CutoverAbortedError((cause as Error).message, { cause });
  }
}

function markSwitched(ctx: RunContext): void {
  ctx.state.phase = "switched";
  ctx.state.switchedAt = Date.now();
}

async function trafficSide(ctx: RunContext): Promise<"blue" | "green"> {
  // Without a switch, pointing at green is the caller's job; "switching" then means done.
  return ctx.o.traffic ? ctx.o.traffic.current() : "green";
}

/**
 * Completes a switch whose run was interrupted after traffic moved to green: resumes the switch,
 * finishes the post-switch steps; the verification snapshots died with that run, so verification
 * is reported as skipped.
 */
export async function completeSwitch(ctx: RunContext): Promise<CutoverResult> {
  return finishSwitch(ctx, null, null);
}

/** Resumes traffic on green, then everything outside the pause. */
async function finishSwitch(ctx: RunContext, snapshots: Snapshots | null, pauseStarted: number | null, earlier: VerifyReport | null = null): Promise<CutoverResult> {
  const c = ctx.state.cutover!;
  if (c.fence === "switch") await ctx.o.traffic!.resume();
  c.writePauseMs ??= pauseStarted === null ? Date.now() - c.fencedAt : Math.round(performance.now() - pauseStarted);
  await ctx.save();
  ctx.emit("cutover", `traffic on green; writes were held ${c.writePauseMs} ms`);
  let verification = earlier;
  try {
    await postSwitch(ctx);
    if (!earlier && ctx.o.verify !== "none" && !ctx.state.verification) {
      if (snapshots) {
        verification = await verifyTables(snapshots.blue, snapshots.green, dataTables(await replicatedTables(ctx.blue)), {
          mode: ctx.o.verify,
          chunkRows: ctx.o.verifyChunkRows,
        });
        recordVerification(ctx.state, verification);
      } else {
        ctx.state.verification = {
          mode: ctx.o.verify,
          equal: null,
          tables: 0,
          rows: 0,
          mismatchedTables: [],
          skipped: "the run that held the cutover snapshots was interrupted; compare the data yourself before finalizing",
        };
      }
    }
  } finally {
    if (snapshots) await closeSnapshots(snapshots);
  }
  c.postSwitchDone = true;
  await ctx.save();
  await ctx.checkpoint("verified");
  if (verification && !verification.equal) {
    throw new SetpointError(
      "UPGRADE_VERIFICATION_FAILED",
      `green's data differs from blue's at the cutover: ${mismatchText(verification)}; roll the upgrade back (traffic returns to blue with every write green took) and report it`,
    );
  }
  return { writePauseMs: c.writePauseMs ?? 0, sequencesSynced: c.sequencesSynced ?? 0, verification };
}

/**
 * After the switch: close blue to logins (nothing may write there any more), drop the forward
 * subscription and publication, and subscribe blue to green through the slot made in the fence.
 * Idempotent.
 */
export async function postSwitch(ctx: RunContext): Promise<void> {
  // Applied again when already recorded (idempotent): the run that recorded it may have stopped
  // before applying it.
  let fence = ctx.state.fences.find((f) => f.side === "blue");
  if (!fence) {
    fence = await planLoginFence(ctx.blue, "blue");
    ctx.state.fences = [...ctx.state.fences, fence];
    await ctx.save();
  }
  await applyLoginFence(ctx.blue, fence);
  await dropSubscription(ctx.green, ctx.names.subscription, ctx.blue);
  await dropPublication(ctx.blue, ctx.names.publication);
  await subscribeReverse(ctx);
  await ctx.save();
  await ctx.checkpoint("reverse-subscribed");
}

/**
 * Subscribes blue to green through the reverse slot made in the fence (the rollback path), to
 * green's primary as the options name it now (an existing subscription is reconnected). Idempotent.
 */
export async function subscribeReverse(ctx: RunContext): Promise<"created" | "existed" | "reconnected"> {
  const result = await ensureSubscription(ctx.blue, ctx.names.reverseSubscription, {
    conninfo: toConninfo(ctx.o.greenFromBlue ?? ctx.o.green),
    publication: ctx.names.reversePublication,
    copyData: false,
    existingSlot: true,
  });
  ctx.state.reverseSubscribed = true;
  return result;
}

/**
 * Undoes a cutover that has not switched: re-enables the forward path (its slot never moved, so
 * nothing is lost), drops the reverse slot, and unfences blue.
 */
export async function abortCutover(ctx: RunContext): Promise<void> {
  const c = ctx.state.cutover;
  if (!c) return;
  await ensureSubscription(ctx.green, ctx.names.subscription, {
    conninfo: toConninfo(ctx.o.blueFromGreen ?? ctx.o.blue),
    publication: ctx.names.publication,
    copyData: true,
    existingSlot: true,
  });
  await dropSlot(ctx.green, ctx.names.reverseSubscription);
  if (c.fence === "switch") {
    if (ctx.o.traffic) {
      if ((await ctx.o.traffic.current()) !== "blue") await ctx.o.traffic.pointTo("blue");
      await ctx.o.traffic.resume();
    }
  } else {
    for (const f of ctx.state.fences.filter((x) => x.side === "blue")) await liftLoginFence(ctx.blue, f);
    ctx.state.fences = ctx.state.fences.filter((x) => x.side !== "blue");
  }
  ctx.state.cutover = undefined;
  await ctx.save();
  ctx.emit("cutover", "cutover undone; blue serves as before");
}

/** Waits until the sentinel row is visible on `client` and its subscription received `lsn`. */
export async function waitForSentinel(client: Client, token: string, deadline: number, sub?: { subscription: string; lsn: string }): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ seen: boolean; received: boolean | null }>(
      `SELECT EXISTS (SELECT 1 FROM ${sentinelTable()} WHERE token = $1) AS seen,
              ${sub ? `(SELECT w.received_lsn >= $3::pg_lsn FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid WHERE s.subname = $2 AND w.relid IS NULL LIMIT 1)` : "true"} AS received`,
      sub ? [token, sub.subscription, sub.lsn] : [token],
    );
    // The sentinel committed after the fence position, and the subscription applies in commit order.
    if (rows[0]!.seen && rows[0]!.received !== false) return;
    if (Date.now() > deadline) throw new SetpointError("UPGRADE_NOT_CAUGHT_UP", "the other side did not confirm the last write before the deadline");
    await sleep(5);
  }
}

async function waitForApplyWorkerExit(client: Client, subscription: string, deadline: number): Promise<void> {
  for (;;) {
    const { rowCount } = await client.query(
      `SELECT 1 FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid WHERE s.subname = $1 AND w.pid IS NOT NULL`,
      [subscription],
    );
    if (!rowCount) return;
    if (Date.now() > deadline) throw new SetpointError("UPGRADE_DEADLINE", "the subscription's apply worker did not stop before the deadline");
    await sleep(5);
  }
}

async function openSnapshots(ctx: RunContext): Promise<Snapshots> {
  const [blue, green] = await Promise.all([ctx.session("blue"), ctx.session("green")]);
  for (const c of [blue, green]) {
    await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // The snapshot is taken by the first query, here, while writes are fenced.
    await c.query("SELECT 1");
  }
  return { blue, green };
}

async function closeSnapshots(s: Snapshots): Promise<void> {
  for (const c of [s.blue, s.green]) {
    await c.query("ROLLBACK").catch(() => undefined);
    await c.end().catch(() => undefined);
  }
}

/** Tables whose data is compared (not Setpoint's own). */
function dataTables(tables: readonly ReplicatedTable[]): ReplicatedTable[] {
  return tables.filter((t) => t.relkind === "r" || t.relkind === "p");
}

function recordVerification(state: UpgradeState, v: VerifyReport): void {
  state.verification = { mode: v.mode, equal: v.equal, tables: v.tables, rows: v.rows, mismatchedTables: v.mismatches.map((m) => m.table) };
}

function mismatchText(v: VerifyReport): string {
  return v.mismatches
    .slice(0, 10)
    .map((m) => `${m.table} (blue ${m.blueRows} rows, green ${m.greenRows}, ${m.chunks.length} differing chunk(s))`)
    .join(", ");
}
