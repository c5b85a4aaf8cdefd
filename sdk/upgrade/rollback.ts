/**
 * Rollback, abort and finalize. Before the switch, rolling back is an abort: every replication
 * object is dropped and blue serves as before. After the switch, it is the cutover in reverse over
 * the rollback path (green → blue), so blue gets every write made on green. Finalize drops the
 * rollback path once the user is satisfied with green.
 */
import { randomBytes } from "node:crypto";
import { SetpointError } from "../errors";
import { quoteIdent } from "../postgres/quote";
import type { RunContext } from "./context";
import { abortCutover, subscribeReverse, waitForSentinel } from "./cutover";
import { applyLoginFence, liftLoginFence, planLoginFence } from "./fence";
import { disableSubscription, dropPublication, dropSlot, dropSubscription, slotExists } from "./replicate";
import { sentinelTable } from "./schema";
import { readSequences, writeSequences } from "./sequences";
import { SENTINEL_SCHEMA } from "./state";

/** Drops every object of this upgrade on both sides that exists (idempotent). */
async function dropUpgradeObjects(ctx: RunContext): Promise<void> {
  await dropSubscription(ctx.green, ctx.names.subscription, ctx.blue);
  await dropSubscription(ctx.blue, ctx.names.reverseSubscription, ctx.green);
  await dropSlot(ctx.green, ctx.names.reverseSubscription);
  await dropPublication(ctx.blue, ctx.names.publication);
  await dropPublication(ctx.green, ctx.names.reversePublication);
  for (const c of [ctx.blue, ctx.green]) await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(SENTINEL_SCHEMA)} CASCADE`);
  ctx.state.reverseSubscribed = false;
}

/** Abort before the switch: blue serves exactly as before, nothing of the upgrade is left on either side. */
export async function abortUpgrade(ctx: RunContext): Promise<void> {
  if (ctx.state.cutover) await abortCutover(ctx);
  await dropUpgradeObjects(ctx);
  for (const f of ctx.state.fences) await liftLoginFence(f.side === "blue" ? ctx.blue : ctx.green, f);
  ctx.state.fences = [];
  ctx.state.phase = "aborted";
  await ctx.save();
}

/**
 * Rollback after the switch: fence green, wait until blue has every write green took, copy
 * sequences back, switch traffic to blue, drop the upgrade's objects. Green stays closed to logins
 * afterwards (as blue does after a forward switch): nothing replicates from it any more, so a
 * client that still picks green (its connection in flight during the switch back, an old address
 * cached) must be refused, not acknowledged and lost.
 * @throws {SetpointError} `UPGRADE_ROLLBACK_NOT_CAUGHT_UP` when blue does not confirm in time; traffic then stays on green, unfenced.
 */
export async function rollbackAfterSwitch(ctx: RunContext): Promise<void> {
  const traffic = ctx.o.traffic;
  if (!ctx.state.rollback) {
    const now = Date.now();
    ctx.state.rollback = {
      fence: traffic?.canPause ? "switch" : "logins",
      fencedAt: now,
      deadline: now + ctx.o.cutoverDeadlineMs,
      caughtUp: false,
      switchedBack: false,
    };
    await ctx.save();
  }
  const r = ctx.state.rollback;
  if (!r.switchedBack) {
    try {
      // Before anything is fenced: a rollback that cannot carry green's writes to blue never starts.
      if (!r.caughtUp) {
        const lost = await rollbackPathLost(ctx);
        if (lost) throw lost;
      }
      if (r.fence === "switch") {
        await traffic!.pause({ timeoutMs: Math.max(1, r.deadline - Date.now()) });
      } else {
        await fenceGreen(ctx, "rollback-fence-recorded");
      }
      await ctx.checkpoint("rollback-fenced");
      // The rollback path may not be subscribed yet when the run that switched was interrupted.
      await subscribeReverse(ctx);
      r.sentinel ??= randomBytes(8).toString("hex");
      await ctx.save();
      await ctx.green.query(`INSERT INTO ${sentinelTable()} (token, side) VALUES ($1, 'green') ON CONFLICT DO NOTHING`, [r.sentinel]);
      await waitForSentinel(ctx.blue, r.sentinel, Math.max(r.deadline, Date.now() + 5000));
      r.caughtUp = true;
      await disableSubscription(ctx.blue, ctx.names.reverseSubscription);
      r.sequencesSynced = await writeSequences(ctx.blue, await readSequences(ctx.green));
      await ctx.save();
      for (const f of ctx.state.fences.filter((x) => x.side === "blue")) await liftLoginFence(ctx.blue, f);
      ctx.state.fences = ctx.state.fences.filter((x) => x.side !== "blue");
      await ctx.save();
      if (traffic) await traffic.pointTo("blue");
      r.switchedBack = true;
      await ctx.save();
      await ctx.checkpoint("rollback-switched");
    } catch (cause) {
      if (!r.switchedBack) {
        // Give green its traffic back; the upgrade stays switched and can be rolled back again.
        if (r.fence === "switch") await traffic?.resume().catch(() => undefined);
        for (const f of ctx.state.fences.filter((x) => x.side === "green")) await liftLoginFence(ctx.green, f).catch(() => undefined);
        ctx.state.fences = ctx.state.fences.filter((x) => x.side !== "green");
        // Nothing of this attempt holds any more: the next one starts afresh (a new deadline and sentinel).
        ctx.state.rollback = undefined;
        await ctx.save();
        if (cause instanceof SetpointError && cause.code === "UPGRADE_ROLLBACK_PATH_LOST") throw cause;
        throw new SetpointError(
          "UPGRADE_ROLLBACK_NOT_CAUGHT_UP",
          `rollback stopped before switching back (${(cause as Error).message}); traffic stays on green, unfenced; run the rollback again`,
          { cause },
        );
      }
      throw cause;
    }
  }
  if (r.fence === "switch") await traffic!.resume();
  // Never lifted after the switch back: a client that chose green before it and whose connection
  // passes its CONNECT check after a lift would commit where nothing replicates any more (seen: one
  // acknowledged write lost per such client). With a pausing switch green was not fenced yet:
  // direct clients of green are closed out now, as blue's are after a forward switch.
  await fenceGreen(ctx, "rollback-green-fence-recorded");
  await dropUpgradeObjects(ctx);
  ctx.state.phase = "rolled-back";
  await ctx.save();
}

/**
 * Why the rollback path can no longer carry green's writes to blue, or undefined while it can.
 * The path is a logical slot on green's primary (made in the cutover's fence) that blue's reverse
 * subscription reads. A slot lives on one server: a failover of green to a server that was its
 * physical standby (or a primary restored from a backup) has no such slot — every write green took
 * since then would be missing on blue, so rolling back would lose acknowledged writes.
 */
export async function rollbackPathLost(ctx: RunContext): Promise<SetpointError | undefined> {
  if (await slotExists(ctx.green, ctx.names.reverseSubscription)) return undefined;
  const server = (await ctx.green.query<{ addr: string | null }>("SELECT inet_server_addr()::text AS addr")).rows[0]?.addr;
  return new SetpointError(
    "UPGRADE_ROLLBACK_PATH_LOST",
    `the rollback path is lost: green's primary${server ? ` (${server.replace(/\/\d+$/, "")})` : ""} has no replication slot ${ctx.names.reverseSubscription}, which carried green's writes to blue ` +
      "(green failed over, or its primary was restored, after the switch: a slot lives on one server). Rolling back would lose the writes green took since; " +
      "nothing was changed and traffic stays on green. Finalize the upgrade, or move the data back with a new upgrade from green",
  );
}

/**
 * Closes green to logins with the recorded fence, or plans and records one first (recorded before
 * it is applied, so that a crash can always lift it). Applied again when already recorded
 * (idempotent): the run that recorded it may have stopped before applying it.
 */
async function fenceGreen(ctx: RunContext, recorded: string): Promise<void> {
  let fence = ctx.state.fences.find((f) => f.side === "green");
  if (!fence) {
    fence = await planLoginFence(ctx.green, "green");
    ctx.state.fences = [...ctx.state.fences, fence];
    await ctx.save();
    await ctx.checkpoint(recorded);
  }
  await applyLoginFence(ctx.green, fence);
}

/** Finalize after the switch: drops the rollback path and the upgrade's objects. Blue stays closed to logins. */
export async function finalizeUpgrade(ctx: RunContext): Promise<void> {
  await dropUpgradeObjects(ctx);
  ctx.state.phase = "finalized";
  await ctx.save();
}
