import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` until it returns something other than `undefined` or `false`, and returns that.
 * An error thrown by `check` counts as "not yet" and is named in the timeout's message, so a test
 * that waits on a server still starting reports why it never became ready.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await Promise.resolve()
      .then(check)
      .catch((err: unknown) => ((last = err), undefined));
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const cause = last === undefined ? "" : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`not within ${timeoutMs} ms: ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}
