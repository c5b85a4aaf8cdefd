import type { ClientBase } from "pg";
import { quoteIdent, quoteQualified } from "../../postgres/quote";
import type { Change, RowFacts } from "../changes";
import type { QualifiedName } from "../model";
import { factsKey } from "../diff/context";

/** Tables larger than this (planner estimate) are not probed for column emptiness. */
const COLUMN_PROBE_MAX_ROWS = 1_000_000;

/**
 * Learns cheaply whether the tables and columns that `changes` would drop hold data, so hazards can
 * say "the table is empty". Each probe is an `EXISTS` with a short statement timeout; a probe that
 * times out reports "not checked".
 */
export async function gatherRowFacts(client: ClientBase, changes: readonly Change[]): Promise<Map<string, RowFacts>> {
  const facts = new Map<string, RowFacts>();
  // A parent in classic inheritance loses only its own rows (its children leave it first, or keep
  // the column), so it is probed with ONLY; a partitioned table takes its partitions' rows with it.
  const targets = changes.flatMap((c): { table: QualifiedName; column: string | undefined; only: boolean }[] =>
    c.kind === "dropTable"
      ? [{ table: c.table, column: undefined, only: c.table.partitionBy === null }]
      : c.kind === "dropColumn"
        ? [{ table: c.table, column: c.column.name, only: c.only }]
        : [],
  );
  if (targets.length === 0) return facts;
  await client.query("SET statement_timeout = '2s'");
  try {
    for (const { table, column, only } of targets) {
      const t = quoteQualified(table.schema, table.name);
      const est = await client.query<{ n: string }>(
        `SELECT greatest(c.reltuples, 0)::bigint::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [table.schema, table.name],
      );
      const estimatedRows = Number(est.rows[0]?.n ?? -1);
      let empty: boolean | null = null;
      if (column === undefined || estimatedRows <= COLUMN_PROBE_MAX_ROWS) {
        const where = column === undefined ? "" : ` WHERE ${quoteIdent(column)} IS NOT NULL`;
        try {
          const r = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${only ? "ONLY " : ""}${t}${where}) AS any`);
          empty = !r.rows[0]?.any;
        } catch {
          empty = null;
        }
      }
      facts.set(factsKey(table, column), { empty, estimatedRows });
    }
  } finally {
    await client.query("RESET statement_timeout");
  }
  return facts;
}

/**
 * The changes with what the probes learned written into the drops they describe (`rows` of
 * `dropTable` and `dropColumn`): the same changes a diff given these facts returns, without
 * diffing again.
 */
export function withRowFacts(changes: readonly Change[], facts: ReadonlyMap<string, RowFacts>): Change[] {
  if (facts.size === 0) return [...changes];
  return changes.map((c) => {
    if (c.kind === "dropTable") return { ...c, rows: facts.get(factsKey(c.table)) ?? c.rows };
    if (c.kind === "dropColumn") return { ...c, rows: facts.get(factsKey(c.table, c.column.name)) ?? c.rows };
    return c;
  });
}
