// Runs the toolchain's build groups concurrently, a bounded number at a time, in dependency order.
// Pure scheduling: what a task does (a `go build`) is the caller's.

/**
 * @template T
 * @typedef {{ name: string, after?: string[], run: () => Promise<T> }} Task
 */

/**
 * @template T
 * @typedef {{ results: Record<string, T>, failures: Record<string, Error>, skipped: string[] }} ScheduleOutcome
 */

/**
 * Runs `tasks` with at most `jobs` at a time. A task starts once every task named in its `after`
 * has succeeded; among ready tasks, the one listed first starts first (list the longest first).
 * A failing task does not stop the others: the tasks independent of it still run (their results
 * are valid cache entries), those that come after it are skipped. Never rejects.
 * @template T
 * @param {Task<T>[]} tasks
 * @param {number} jobs at least 1
 * @returns {Promise<ScheduleOutcome<T>>}
 */
export function runScheduled(tasks, jobs) {
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`jobs must be a positive integer, got ${jobs}`);
  const names = new Set(tasks.map((t) => t.name));
  for (const t of tasks) {
    for (const dep of t.after ?? []) {
      if (!names.has(dep)) throw new Error(`task ${t.name} comes after ${dep}, which is not scheduled`);
    }
  }
  /** @type {ScheduleOutcome<T>} */
  const outcome = { results: {}, failures: {}, skipped: [] };
  const pending = [...tasks];
  const done = new Set();
  const blocked = new Set();
  let running = 0;
  return new Promise((resolve) => {
    const pump = () => {
      // Tasks after a failed or skipped one can never run.
      for (let changed = true; changed; ) {
        changed = false;
        for (let i = pending.length - 1; i >= 0; i--) {
          const t = pending[i];
          if ((t.after ?? []).some((d) => blocked.has(d))) {
            pending.splice(i, 1);
            blocked.add(t.name);
            outcome.skipped.push(t.name);
            changed = true;
          }
        }
      }
      while (running < jobs) {
        const i = pending.findIndex((t) => (t.after ?? []).every((d) => done.has(d)));
        if (i < 0) break;
        const [t] = pending.splice(i, 1);
        running++;
        Promise.resolve()
          .then(() => t.run())
          .then(
            (value) => {
              outcome.results[t.name] = value;
              done.add(t.name);
            },
            (err) => {
              outcome.failures[t.name] = err instanceof Error ? err : new Error(String(err));
              blocked.add(t.name);
            },
          )
          .finally(() => {
            running--;
            pump();
          });
      }
      if (running === 0) {
        // Whatever is still pending waits on something that will never finish (a cycle).
        for (const t of pending.splice(0)) outcome.skipped.push(t.name);
        resolve(outcome);
      }
    };
    pump();
  });
}
