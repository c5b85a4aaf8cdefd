import type { ClientBase } from "pg";
import { dollarQuote, quoteIdentIfNeeded, quoteLiteral } from "../../postgres/quote";
import type { Change } from "../changes";
import { CAST_RESULT_SETTINGS, PROBE_ROW_CAP, probesFor, type CastProbe, type RowProbe } from "./data-probes";
import type { Hazard } from "../hazards";
import { CANONICAL_SEARCH_PATH } from "../introspect/introspect";
import type { SchemaModel } from "../model";

/** Bounds of the data probes (see docs/adr/0013-data-probes.md). */
export interface DataProbeOptions {
  /** `statement_timeout` of each probe query. @default 5000 */
  timeoutMs?: number;
  /** Time all probes of one plan may take together; probes not started by then report `DATA_UNVERIFIED`. @default 30000 */
  budgetMs?: number;
  /**
   * Whether hazards name the primary key (else `ctid`) of one offending row. Only key values are
   * ever shown, never the values being checked. @default true
   */
  sampleKeys?: boolean;
}

/** Findings of the data probes: hazards by {@link probeKeyOf} key. */
export type DataHazards = ReadonlyMap<string, readonly Hazard[]>;

const DATA_EXCEPTION = "22";
const INTEGRITY_VIOLATION = "23";
const UNDEFINED_FUNCTION = "42883";
const CANNOT_COERCE = "42846";
const QUERY_CANCELED = "57014";
const LOCK_NOT_AVAILABLE = "55P03";
const INSUFFICIENT_PRIVILEGE = "42501";

/**
 * Checks the existing rows against the changes that would fail on them (SET NOT NULL, a new
 * NOT NULL column, a column type change, a new or validated UNIQUE, PRIMARY KEY, CHECK or FOREIGN
 * KEY) and those that would silently change them (a lossy type change). Runs in one read-only
 * transaction on `client` (which must not be in a transaction block), each probe under a
 * `statement_timeout`; a probe that does not finish reports `DATA_UNVERIFIED`, never a pass.
 */
export async function probeData(client: ClientBase, changes: readonly Change[], live: SchemaModel, desired: SchemaModel, options: DataProbeOptions = {}): Promise<DataHazards> {
  const probes = probesFor(changes, live, desired);
  const out = new Map<string, Hazard[]>();
  if (probes.length === 0) return out;
  const timeoutMs = options.timeoutMs ?? 5000;
  const budgetMs = options.budgetMs ?? 30_000;
  const samples = options.sampleKeys ?? true;
  const add = (key: string, h: Hazard) => out.set(key, [...(out.get(key) ?? []), h]);
  const started = Date.now();
  await client.query("BEGIN READ ONLY");
  try {
    // Type and expression texts are printed under the canonical search_path, as the apply runs them.
    await client.query(`SET LOCAL search_path = ${CANONICAL_SEARCH_PATH}`);
    // A probe must see every row, as the step's own check does: where row-level security would hide
    // some, PostgreSQL then refuses the query (42501) and the probe reports DATA_UNVERIFIED.
    await client.query("SET LOCAL row_security = off");
    let current: number | undefined;
    for (const probe of probes) {
      const left = budgetMs - (Date.now() - started);
      if (left <= 0) {
        add(probe.key, unverified(probe.what, `not run: the probes of this plan used their budget of ${budgetMs} ms`));
        continue;
      }
      const limit = Math.max(1, Math.min(timeoutMs, left));
      if (limit !== current) await client.query(`SET LOCAL statement_timeout = ${quoteLiteral(`${limit}ms`)}`);
      current = limit;
      const found = probe.kind === "rows" ? await runRowProbe(client, probe, limit, samples) : await runCastProbe(client, probe, limit, samples);
      for (const h of found) add(probe.key, h);
    }
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
  }
  return out;
}

/** Runs one statement under a savepoint, so a failure leaves the transaction usable. */
async function attempt<T extends Record<string, unknown>>(client: ClientBase, sql: string): Promise<{ ok: true; rows: T[] } | { ok: false; code: string }> {
  await client.query("SAVEPOINT setpoint_probe");
  try {
    const { rows } = await client.query<T>(sql);
    await client.query("RELEASE SAVEPOINT setpoint_probe");
    return { ok: true, rows };
  } catch (e) {
    // A statement_timeout that fires as the probe ends can leave a second cancel pending (the
    // timer's signal arrives after the first was handled); it then cancels the next statement,
    // reported "due to user request". ROLLBACK TO SAVEPOINT works in an aborted transaction, so
    // it is sent again once the stray cancel has been spent on it.
    await client.query("ROLLBACK TO SAVEPOINT setpoint_probe").catch(async (err: unknown) => {
      if ((err as { code?: string }).code !== QUERY_CANCELED) throw err;
      await client.query("ROLLBACK TO SAVEPOINT setpoint_probe");
    });
    // Never the server's message: it can quote the offending value.
    return { ok: false, code: String((e as { code?: string }).code ?? "unknown") };
  }
}

async function runRowProbe(client: ClientBase, p: RowProbe, limitMs: number, samples: boolean): Promise<Hazard[]> {
  const r = await attempt<{ k: string }>(client, p.sql);
  if (!r.ok) return [unverified(p.what, failureReason(r.code, limitMs), r.code === QUERY_CANCELED || r.code === LOCK_NOT_AVAILABLE)];
  if (r.rows.length === 0) return [];
  const count = Math.min(r.rows.length, PROBE_ROW_CAP);
  const capped = r.rows.length > PROBE_ROW_CAP;
  const sample = samples ? formatKey(p.keyColumns, r.rows[0]!.k) : undefined;
  return [
    {
      code: p.code,
      message: `${p.what} would fail: ${rowsText(count, capped)} ${p.offence[count === 1 && !capped ? 0 : 1]}${sample ? ` (e.g. the row with ${sample})` : ""}; fix these rows first or change the desired schema`,
      rows: { count, capped, ...(sample ? { sampleKey: sample } : {}) },
    },
  ];
}

async function runCastProbe(client: ClientBase, p: CastProbe, limitMs: number, samples: boolean): Promise<Hazard[]> {
  const categories = await attempt<{ f: string | null; t: string | null }>(
    client,
    `SELECT (SELECT typcategory::text FROM pg_type WHERE oid = to_regtype(${quoteLiteral(p.from)})) AS f, (SELECT typcategory::text FROM pg_type WHERE oid = to_regtype(${quoteLiteral(p.to)})) AS t`,
  );
  // Text parsed into a typed value changes its spelling by design ('007' becomes 7): only failures count then.
  const fromText = categories.ok && categories.rows[0]?.f === "S";
  const toText = categories.ok && categories.rows[0]?.t === "S";
  let lossy = !fromText || toText;
  let r = await attempt<{ n: string; k: string | null }>(client, p.scan(lossy));
  if (!r.ok && lossy && (r.code === UNDEFINED_FUNCTION || r.code === CANNOT_COERCE)) {
    // No equality operator, or no cast back: values cannot be compared, only cast.
    lossy = false;
    r = await attempt(client, p.scan(false));
  }
  if (r.ok) {
    const n = Number(r.rows[0]?.n ?? 0);
    if (!lossy || n === 0) return [];
    const sample = samples && r.rows[0]?.k ? formatKey(p.keyColumns, r.rows[0].k) : undefined;
    return [
      {
        code: "TYPE_CAST_LOSSY",
        message: `${p.what} changes the values of ${rowsText(n, false)} (rounded, truncated or otherwise altered by the cast)${sample ? `, e.g. the row with ${sample}` : ""}; allow TYPE_CAST_LOSSY if that is intended`,
        rows: { count: n, capped: false, ...(sample ? { sampleKey: sample } : {}) },
      },
    ];
  }
  if (!r.code.startsWith(DATA_EXCEPTION) && !r.code.startsWith(INTEGRITY_VIOLATION)) {
    return [unverified(p.what, failureReason(r.code, limitMs), r.code === QUERY_CANCELED || r.code === LOCK_NOT_AVAILABLE)];
  }
  // Some value cannot be cast: count them one by one (a subtransaction per row, so bounded by the same timeout).
  const count = await attempt(client, `DO ${dollarQuote(p.perRow)}`);
  const result = count.ok
    ? await attempt<{ n: string | null; k: string | null }>(
        client,
        `SELECT current_setting(${quoteLiteral(CAST_RESULT_SETTINGS.count)}, true) AS n, current_setting(${quoteLiteral(CAST_RESULT_SETTINGS.sample)}, true) AS k`,
      )
    : null;
  const n = result?.ok ? Number(result.rows[0]?.n ?? 0) : 0;
  const k = result?.ok ? result.rows[0]?.k : null;
  if (count.ok && result?.ok && n === 0) {
    // Every value casts: what failed was casting some back (9.2e18 as double precision back to
    // bigint), so the cast changes them.
    return [{ code: "TYPE_CAST_LOSSY", message: `${p.what} changes some values (they do not survive the round trip back to ${p.from}); allow TYPE_CAST_LOSSY if that is intended` }];
  }
  const sample = samples && k ? formatKey(p.keyColumns, k) : undefined;
  const counted = n > 0 ? `${rowsText(n, false)} ${n === 1 ? "holds a value" : "hold values"}` : `some rows (not counted: ${failureReason(count.ok ? "unknown" : count.code, limitMs)}) hold values`;
  return [
    {
      code: "CAST_FAILS",
      message: `${p.what} would fail: ${counted} that cannot be cast${sample ? ` (e.g. the row with ${sample})` : ""}; fix these rows first or change the desired schema`,
      ...(n > 0 ? { rows: { count: n, capped: false, ...(sample ? { sampleKey: sample } : {}) } } : {}),
    },
  ];
}

function unverified(what: string, reason: string, timedOut = true): Hazard {
  return {
    code: "DATA_UNVERIFIED",
    message:
      `${what}: the existing rows could not be checked (${reason}); the step may fail when applied. ` +
      `${timedOut ? "Raise the probe bounds (--probe-timeout, dataProbes.timeoutMs and budgetMs), or " : ""}allow DATA_UNVERIFIED to apply anyway`,
  };
}

function failureReason(code: string, limitMs: number): string {
  if (code === QUERY_CANCELED) return `the probe did not finish within ${limitMs} ms`;
  if (code === LOCK_NOT_AVAILABLE) return "the table is locked by another session";
  if (code === INSUFFICIENT_PRIVILEGE) return "the applying role cannot read every row (privileges or row-level security)";
  return `the probe failed with SQLSTATE ${code}`;
}

function rowsText(n: number, capped: boolean): string {
  return capped ? `more than ${n} rows` : `${n} row${n === 1 ? "" : "s"}`;
}

/**
 * A sample key for messages, PostgreSQL-style: `(id)=(42)`. Values come from the server as a JSON
 * array; each is shown bare when it is a short plain token, else JSON-quoted (control characters
 * escaped) and cut at 64 characters, so a key cannot break or forge the output around it.
 */
export function formatKey(columns: readonly string[], json: string): string {
  let values: unknown[];
  try {
    values = JSON.parse(json) as unknown[];
  } catch {
    return "(?)";
  }
  const show = (v: unknown): string => {
    if (v === null) return "NULL";
    const text = typeof v === "string" ? v : JSON.stringify(v);
    if (/^[\w.:@+-]{1,64}$/.test(text)) return text;
    return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
  };
  return `(${columns.map(quoteIdentIfNeeded).join(", ")})=(${values.map(show).join(", ")})`;
}
