// Counts (and times) every query issued through node-postgres while a recording is open, by
// wrapping Client.prototype.query once. The engine opens its own clients inside planSchema, so
// wrapping the prototype is the only way to observe them without changing engine code.
import { Client } from "pg";

/** One query seen while recording. */
export interface RecordedQuery {
  /** First line of the SQL text, trimmed (enough to tell the catalog queries apart). */
  readonly sql: string;
  readonly ms: number;
}

let active: RecordedQuery[] | null = null;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    const sink = active;
    if (!sink) return original.apply(this, args);
    const started = performance.now();
    const result = original.apply(this, args);
    const first = args[0];
    const text = typeof first === "string" ? first : ((first as { text?: string } | null)?.text ?? "(non-text query)");
    const sql = text.trim().split("\n")[0]!.slice(0, 100);
    if (result && typeof (result as Promise<unknown>).then === "function") {
      const entry = { sql, ms: 0 };
      sink.push(entry);
      (result as Promise<unknown>).then(
        () => (entry.ms = performance.now() - started),
        () => (entry.ms = performance.now() - started),
      );
    } else {
      sink.push({ sql, ms: 0 });
    }
    return result;
  };
}

/** Runs `fn` and returns its result together with every query any pg Client issued meanwhile. */
export async function recordQueries<T>(fn: () => Promise<T>): Promise<{ value: T; queries: RecordedQuery[] }> {
  install();
  if (active) throw new Error("recordQueries does not nest");
  const queries: RecordedQuery[] = [];
  active = queries;
  try {
    return { value: await fn(), queries };
  } finally {
    active = null;
  }
}
