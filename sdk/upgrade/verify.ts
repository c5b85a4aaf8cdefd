/**
 * Verification: per-table row counts and chunked checksums, computed on both sides over the same
 * logical state (each side inside a REPEATABLE READ snapshot taken while writes were fenced), and
 * compared. A chunk is `chunkRows` consecutive rows in key order; its checksum is the md5 of the
 * concatenated md5s of each row's text form (columns in blue's order, so column order on green
 * does not matter).
 */
import type { ClientBase } from "pg";
import { quoteIdent } from "../postgres/quote";
import type { ReplicatedTable } from "./catalog";

/** Counts and checksums of one table on one side. */
export interface TableChecksum {
  readonly rows: number;
  /** One md5 per chunk, in key order (empty for "counts" verification). */
  readonly chunks: readonly string[];
}

/** A table whose contents differ. */
export interface TableMismatch {
  readonly table: string;
  readonly blueRows: number;
  readonly greenRows: number;
  /** 0-based indexes of differing chunks (by key order). */
  readonly chunks: readonly number[];
}

/** Result of a verification. */
export interface VerifyReport {
  readonly mode: "checksums" | "counts";
  readonly tables: number;
  readonly rows: number;
  readonly chunks: number;
  readonly mismatches: readonly TableMismatch[];
  readonly equal: boolean;
  readonly durationMs: number;
}

/** Computes one table's counts (and checksums) inside the client's current transaction. */
export async function tableChecksum(client: ClientBase, table: ReplicatedTable, mode: "checksums" | "counts", chunkRows: number): Promise<TableChecksum> {
  if (mode === "counts") {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table.qualified}`);
    return { rows: Number(rows[0]!.n), chunks: [] };
  }
  const cols = table.columns.map(quoteIdent);
  const rowText = `md5(ROW(${cols.join(", ")})::text)`;
  const order = table.keyColumns.length > 0 ? table.keyColumns.map(quoteIdent).join(", ") : rowText;
  const { rows } = await client.query<{ n: string; sum: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(h, '' ORDER BY rn)) AS sum
       FROM (SELECT row_number() OVER (ORDER BY ${order}) AS rn, ${rowText} AS h FROM ${table.qualified}) s
      GROUP BY (rn - 1) / ${Math.max(1, Math.floor(chunkRows))}
      ORDER BY (rn - 1) / ${Math.max(1, Math.floor(chunkRows))}`,
  );
  return { rows: rows.reduce((a, r) => a + Number(r.n), 0), chunks: rows.map((r) => r.sum) };
}

/**
 * Compares every table on both sides. Each client must already be inside its snapshot (or the
 * data must be frozen); both sides are read concurrently.
 */
export async function verifyTables(
  blue: ClientBase,
  green: ClientBase,
  tables: readonly ReplicatedTable[],
  options: { mode: "checksums" | "counts"; chunkRows: number },
): Promise<VerifyReport> {
  const started = performance.now();
  const mismatches: TableMismatch[] = [];
  let rows = 0;
  let chunks = 0;
  for (const t of tables) {
    const [b, g] = await Promise.all([tableChecksum(blue, t, options.mode, options.chunkRows), tableChecksum(green, t, options.mode, options.chunkRows)]);
    rows += b.rows;
    chunks += b.chunks.length;
    const differing: number[] = [];
    for (let i = 0; i < Math.max(b.chunks.length, g.chunks.length); i++) if (b.chunks[i] !== g.chunks[i]) differing.push(i);
    if (b.rows !== g.rows || differing.length > 0) mismatches.push({ table: t.qualified, blueRows: b.rows, greenRows: g.rows, chunks: differing });
  }
  return { mode: options.mode, tables: tables.length, rows, chunks, mismatches, equal: mismatches.length === 0, durationMs: Math.round(performance.now() - started) };
}
