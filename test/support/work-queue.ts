import type { WorkQueue } from "../../sdk/reconcile/internal/work-queue";

/** Every key the queue holds now, in hand-out order (each is marked done at once). */
export async function drain(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) {
    const key = (await queue.get())!;
    keys.push(key);
    queue.done(key);
  }
  return keys;
}
