/**
 * Lag and WAL retention: how far green is behind, and the guard that keeps blue's disk from
 * filling when green stalls (the upgrade's slots make blue keep every WAL segment green has not
 * confirmed).
 */
import { SetpointError } from "../errors";
import type { RunContext } from "./context";
import { lagBytes, retainedWalBytes, sleep, subscriptionOid } from "./replicate";

/** Blue retains more WAL for green than allowed; the caller aborts the upgrade. */
export class RetentionExceededError extends SetpointError {
  readonly retainedBytes: number;

  constructor(retained: number, limit: number) {
    super(
      "UPGRADE_WAL_RETENTION",
      `blue retained ${retained} bytes of WAL for green (limit ${limit}): green is not keeping up (see green's server log for the apply worker's error)`,
    );
    this.retainedBytes = retained;
  }
}

/**
 * Measures the WAL blue retains for this upgrade's slots.
 * @throws {RetentionExceededError} above `maxRetainedWalBytes`.
 */
export async function checkRetention(ctx: RunContext): Promise<number> {
  const oid = await subscriptionOid(ctx.green, ctx.names.subscription);
  const retained = await retainedWalBytes(ctx.blue, ctx.names.subscription, oid);
  if (retained > ctx.o.maxRetainedWalBytes) throw new RetentionExceededError(retained, ctx.o.maxRetainedWalBytes);
  return retained;
}

/** Waits until green is within `maxLagBytes` of blue, guarding WAL retention meanwhile. */
export async function waitForLowLag(ctx: RunContext): Promise<void> {
  const until = Date.now() + ctx.o.catchUpTimeoutMs;
  for (;;) {
    const lag = await lagBytes(ctx.blue, ctx.green, ctx.names.subscription);
    if (lag !== null && lag <= ctx.o.maxLagBytes) return;
    await checkRetention(ctx);
    if (Date.now() > until) {
      throw new SetpointError(
        "UPGRADE_LAG_TOO_HIGH",
        `green stayed ${lag === null ? "disconnected" : `${lag} bytes`} behind blue for ${ctx.o.catchUpTimeoutMs} ms (limit ${ctx.o.maxLagBytes} bytes); reduce blue's write load or raise maxLagBytes`,
      );
    }
    await sleep(200);
  }
}
