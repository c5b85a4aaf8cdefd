/**
 * Sequence sync: logical replication does not carry sequence positions (before PostgreSQL 19), so
 * at cutover every sequence on the new primary side is set to the old side's position, read after
 * the write fence, so new rows continue without collisions.
 */
import type { ClientBase } from "pg";
import { SetpointError } from "../errors";
import { quoteQualified } from "../postgres/quote";

/** A sequence's position. `lastValue` is null when it was never used. */
export interface SequencePosition {
  readonly qualified: string;
  readonly lastValue: string | null;
}

/** Reads every user sequence's position (one query). */
export async function readSequences(client: ClientBase): Promise<SequencePosition[]> {
  const { rows } = await client.query<{ schema: string; name: string; last_value: string | null }>(
    `SELECT schemaname AS schema, sequencename AS name, last_value::text AS last_value
       FROM pg_sequences
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'setpoint', 'setpoint_upgrade') AND schemaname NOT LIKE 'pg\\_%'
      ORDER BY 1, 2`,
  );
  return rows.map((r) => ({ qualified: quoteQualified(r.schema, r.name), lastValue: r.last_value }));
}

/**
 * Sets each used sequence on `client` to the given position (one statement).
 * @returns how many sequences were set.
 * @throws {SetpointError} `UPGRADE_SEQUENCE_MISSING` when a sequence does not exist on this side.
 */
export async function writeSequences(client: ClientBase, positions: readonly SequencePosition[]): Promise<number> {
  const used = positions.filter((p) => p.lastValue !== null);
  if (used.length === 0) return 0;
  const { rows } = await client.query<{ name: string }>(
    `SELECT n AS name FROM unnest($1::text[]) AS x(n) WHERE to_regclass(n) IS NULL`,
    [used.map((p) => p.qualified)],
  );
  if (rows.length > 0) {
    throw new SetpointError(
      "UPGRADE_SEQUENCE_MISSING",
      `sequence(s) ${rows.map((r) => r.name).join(", ")} exist on the old side but not on the new one; create them there (the schema definition must include them)`,
    );
  }
  await client.query(`SELECT count(setval(n::regclass, v, true)) FROM unnest($1::text[], $2::bigint[]) AS x(n, v)`, [
    used.map((p) => p.qualified),
    used.map((p) => p.lastValue),
  ]);
  return used.length;
}
