// An application that writes: one numbered row per transaction, through whatever address it is
// given (the rw Service), reconnecting after any error as a client with a retry loop would.
// It records each row whose commit the server acknowledged, and which server acknowledged it,
// so that after a failover the rows missing on the new primary can be counted.
import { setTimeout as sleep } from "node:timers/promises";
import type { Client} from "pg";
import { type ClientConfig } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { quoteIdent } from "../../sdk/postgres/index";

/** One acknowledged row. */
export interface Ack {
  readonly id: number;
  /** `inet_server_addr()` of the server that acknowledged it. */
  readonly server: string;
  /** When the acknowledgement arrived (ms since the epoch). */
  readonly at: number;
}

/** One failed attempt. */
export interface WriterError {
  /** The row id the attempt was for. */
  readonly id: number;
  /** When the attempt failed (ms since the epoch). */
  readonly at: number;
  /** The error's message (and its SQLSTATE when the server sent one). */
  readonly message: string;
}

/** A running writer. */
export interface Writer {
  /** Acknowledged rows, in order. */
  readonly acked: readonly Ack[];
  /** Failed attempts (connection refused or lost, statement timed out). */
  readonly failures: () => number;
  /** Each failed attempt, in order: what a test prints when it finds failures. */
  readonly errors: readonly WriterError[];
  /** Stops after the statement in flight. */
  stop(): Promise<void>;
}

/**
 * Starts inserting `(id, note)` rows into `table` (e.g. "orders"), ids from
 * `firstId` up, every `pauseMs`. A connection to a server in recovery is dropped: only a primary
 * acknowledges. `connection` may be a function, called for each new connection (e.g. to pick the
 * pod a Service selects at that moment); an error it throws counts as a failed attempt.
 */
export function startWriter(connection: ClientConfig | (() => Promise<ClientConfig>), table: string, firstId = 1, pauseMs = 20): Writer {
  const acked: Ack[] = [];
  const errors: WriterError[] = [];
  let failures = 0;
  let stopped = false;
  const done = (async () => {
    let id = firstId;
    let client: Client | undefined;
    let server = "";
    while (!stopped) {
      try {
        if (!client) {
          client = pgClient({ ...(typeof connection === "function" ? await connection() : connection), connectionTimeoutMillis: 2000, query_timeout: 5000 });
          await client.connect();
          const who = (await client.query<{ addr: string; r: boolean }>("select host(inet_server_addr()) as addr, pg_is_in_recovery() as r")).rows[0]!;
          if (who.r) throw new Error(`${who.addr} is a replica`);
          server = who.addr;
        }
        await client.query(`insert into ${quoteIdent(table)} (id, note) values ($1, $2)`, [id, `row ${id}`]);
        acked.push({ id, server, at: Date.now() });
        id++;
        await sleep(pauseMs);
      } catch (err) {
        // Not acknowledged (it may or may not have committed): the next row gets the next id.
        failures++;
        const code = (err as { code?: unknown }).code;
        errors.push({ id, at: Date.now(), message: `${err instanceof Error ? err.message : String(err)}${typeof code === "string" ? ` (${code})` : ""}` });
        id++;
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(100);
      }
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    acked,
    errors,
    failures: () => failures,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
