// Upgrade benchmark: `npm run bench:upgrade -- [--size-mb 1100] [--from 16] [--to 17] [--writers 4]
// [--rate 200] [--base-dir DIR] [--json FILE]`.
// Blue (PostgreSQL 16 by default) gets a dataset of at least 1 GB; a steady writer load runs through
// a real PgBouncer for the whole upgrade, each transaction inserting one row with a unique id and
// recording whether it committed; the upgrade engine copies the schema, replicates to green (17),
// cuts over by pausing PgBouncer and repointing it, and verifies checksums. Then every committed id
// is looked up on green. See docs/bench-upgrade.md.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Client } from "pg";
import { pgClient } from "../sdk/postgres/client";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/embedded";
import { isSupportedMajor, type PostgresMajor } from "../sdk/postgres/versions";
import { memoryStateStore, pgbouncerSwitch, runUpgrade, finalizeUpgrade, type UpgradeOptions } from "../sdk/upgrade/index";
import { startPgBouncer, type PgBouncer } from "../test/support/pgbouncer";
import { textTable } from "./support/stats";

const TARGETS = { lostRows: 0, failedTransactions: 0, maxWritePauseMs: 1000, checksumsEqual: true } as const;
const DATA_TABLES = 4;

interface Result {
  fromVersion: number;
  toVersion: number;
  datasetBytes: number;
  initialCopySeconds: number;
  cutoverSeconds: number;
  maxWritePauseMs: number;
  p99CommitLatencyMsDuringCutover: number;
  committedTransactions: number;
  failedTransactions: number;
  lostRows: number;
  checksumsEqual: boolean;
  /** Context for reading the numbers; not part of the required shape. */
  detail: {
    rows: number;
    writers: number;
    targetRatePerSecond: number;
    achievedRatePerSecond: number;
    engineWritePauseMs: number;
    verificationSeconds: number;
    schemaSeconds: number;
    generateSeconds: number;
    totalSeconds: number;
    p50CommitLatencyMs: number;
    phases: { phase: string; seconds: number; message: string }[];
    machine: { cpus: number; memoryGiB: number; node: string };
  };
}

interface Tx {
  uid: number;
  start: number;
  end: number;
  ok: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "1100" },
      from: { type: "string", default: "16" },
      to: { type: "string", default: "17" },
      writers: { type: "string", default: "4" },
      rate: { type: "string", default: "200" },
      "base-dir": { type: "string" },
      json: { type: "string" },
    },
  });
  const from = Number(values.from);
  const to = Number(values.to);
  if (!isSupportedMajor(from) || !isSupportedMajor(to) || to <= from) throw new Error(`--from and --to must be supported majors with to > from (got ${from} → ${to})`);
  const sizeMb = Number(values["size-mb"]);
  const writers = Number(values.writers);
  const rate = Number(values.rate);
  const base = mkdtempSync(join(values["base-dir"] ?? tmpdir(), "setpoint-bench-upgrade-"));
  // The servers run as an unprivileged user when this process is root; they must reach their directories.
  chmodSync(base, 0o755);
  const started = performance.now();
  const servers: EmbeddedPostgres[] = [];
  let bouncer: PgBouncer | undefined;
  try {
    const parameters = { max_wal_size: "4GB", checkpoint_timeout: "15min", maintenance_work_mem: "256MB", shared_buffers: "512MB", max_connections: 100 };
    const blueServer = await startEmbeddedPostgres({ major: from as PostgresMajor, baseDir: base, parameters });
    servers.push(blueServer);
    const greenServer = await startEmbeddedPostgres({ major: to as PostgresMajor, baseDir: base, parameters });
    servers.push(greenServer);
    const url = (s: EmbeddedPostgres, db: string) => `postgres://postgres@127.0.0.1:${s.port}/${db}`;
    for (const s of servers) await exec(url(s, "postgres"), `CREATE DATABASE bench`);
    const blueUrl = url(blueServer, "bench");
    const greenUrl = url(greenServer, "bench");

    log(`generating ${sizeMb} MB on PostgreSQL ${from} in ${DATA_TABLES} tables ...`);
    const g0 = performance.now();
    const { rows, bytes } = await generate(blueUrl, sizeMb);
    const generateSeconds = (performance.now() - g0) / 1000;
    log(`  ${rows} rows, ${(bytes / 1024 ** 2).toFixed(0)} MB in ${generateSeconds.toFixed(1)} s`);

    bouncer = await startPgBouncer({
      databases: { app: `host=127.0.0.1 port=${blueServer.port} dbname=bench user=postgres` },
      settings: { default_pool_size: writers + 2, query_wait_timeout: 60 },
    });
    const traffic = pgbouncerSwitch({
      admin: bouncer.adminUrl,
      databasesFile: bouncer.databasesFile,
      databases: [
        {
          name: "app",
          blue: { host: "127.0.0.1", port: blueServer.port, database: "bench", user: "postgres" },
          green: { host: "127.0.0.1", port: greenServer.port, database: "bench", user: "postgres" },
        },
      ],
    });

    const load = startLoad(bouncer.url("app"), writers, rate);
    await sleep(2000);
    const phases: Result["detail"]["phases"] = [];
    const marks: Record<string, number> = {};
    const options: UpgradeOptions = {
      blue: blueUrl,
      green: greenUrl,
      traffic,
      store: memoryStateStore(),
      cutoverDeadlineMs: 30_000,
      onProgress: (e) => {
        if (e.message === "started") marks[e.phase] = performance.now();
        log(`  [${e.phase}] ${e.message}`);
      },
    };
    const result = await runUpgrade(options);
    const cutoverEnd = performance.now();
    await sleep(2000);
    const txs = await load.stop();
    await traffic.close();
    for (const p of result.phases) phases.push({ phase: p.phase, seconds: p.durationMs / 1000, message: p.message });

    const committed = txs.filter((t) => t.ok);
    const failed = txs.filter((t) => !t.ok);
    const onGreen = new Set<number>();
    const gc = pgClient({ connectionString: greenUrl });
    await gc.connect();
    try {
      const { rows: ids } = await gc.query<{ uid: string }>(`SELECT uid FROM writes`);
      for (const r of ids) onGreen.add(Number(r.uid));
    } finally {
      await gc.end();
    }
    const lostRows = committed.filter((t) => !onGreen.has(t.uid)).length;
    const cutoverStart = marks.cutover ?? cutoverEnd;
    const inCutover = txs.filter((t) => t.end >= cutoverStart && t.start <= cutoverEnd).map((t) => t.end - t.start);
    const all = txs.map((t) => t.end - t.start);
    const phaseSeconds = (name: string) => phases.filter((p) => p.phase === name).reduce((a, p) => a + p.seconds, 0);
    const runSeconds = (txs.at(-1)!.end - txs[0]!.start) / 1000;
    const out: Result = {
      fromVersion: from,
      toVersion: to,
      datasetBytes: bytes,
      initialCopySeconds: round(phaseSeconds("replicate") + phaseSeconds("synchronize")),
      // The cutover proper (lag check, fence, catch-up proof, sequences, switch, rollback path); the
      // checksum verification that follows on snapshots, with traffic already on green, is reported apart.
      cutoverSeconds: round(phaseSeconds("cutover") - (result.cutover?.verification?.durationMs ?? 0) / 1000),
      maxWritePauseMs: Math.round(Math.max(...all)),
      p99CommitLatencyMsDuringCutover: round(percentile(inCutover, 0.99)),
      committedTransactions: committed.length,
      failedTransactions: failed.length,
      lostRows,
      checksumsEqual: result.cutover?.verification?.equal === true,
      detail: {
        rows,
        writers,
        targetRatePerSecond: rate,
        achievedRatePerSecond: round(txs.length / runSeconds),
        engineWritePauseMs: result.cutover?.writePauseMs ?? -1,
        verificationSeconds: round((result.cutover?.verification?.durationMs ?? 0) / 1000),
        schemaSeconds: round(phaseSeconds("schema")),
        generateSeconds: round(generateSeconds),
        totalSeconds: round((performance.now() - started) / 1000),
        p50CommitLatencyMs: round(percentile(all, 0.5)),
        phases,
        machine: { cpus: cpus().length, memoryGiB: round(totalmem() / 1024 ** 3), node: process.version },
      },
    };
    await finalizeUpgrade(options);
    report(out);
    if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2) + "\n");
  } finally {
    await bouncer?.stop();
    for (const s of servers) await s.stop().catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  }
}

async function exec(url: string, sql: string): Promise<void> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

// Rows of ~240 bytes across DATA_TABLES tables (with a primary key and one secondary index each),
// plus the writer's table; stops when the tables hold sizeMb.
async function generate(url: string, sizeMb: number): Promise<{ rows: number; bytes: number }> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE writes (id bigserial PRIMARY KEY, uid bigint NOT NULL UNIQUE, writer int NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    for (let t = 0; t < DATA_TABLES; t++) {
      await c.query(`CREATE TABLE items_${t} (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, customer_id int NOT NULL, sku text NOT NULL,
        amount numeric(12,2) NOT NULL, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    }
    const batch = 250_000;
    let rows = 0;
    let bytes = 0;
    for (let round = 0; bytes < sizeMb * 1024 * 1024; round++) {
      const t = round % DATA_TABLES;
      await c.query(
        `INSERT INTO items_${t} (customer_id, sku, amount, note)
         SELECT (g * 7919) % 100000, 'sku-' || (g % 5000), (g % 100000) / 100.0, md5(g::text) || repeat(chr(97 + (g % 26)::int), 160)
           FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
        [rows, batch],
      );
      rows += batch;
      if (t === DATA_TABLES - 1) bytes = await tablesBytes(c);
    }
    for (let t = 0; t < DATA_TABLES; t++) await c.query(`CREATE INDEX ON items_${t} (customer_id)`);
    await c.query(`ANALYZE`);
    return { rows, bytes: await tablesBytes(c) };
  } finally {
    await c.end();
  }
}

async function tablesBytes(c: Client): Promise<number> {
  const { rows } = await c.query<{ b: string }>(`SELECT sum(pg_total_relation_size(c.oid))::text AS b FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace`);
  return Number(rows[0]!.b);
}

// `writers` sessions through PgBouncer, together about `rate` transactions per second; each
// transaction inserts one row with a unique id and is recorded as committed or failed.
function startLoad(url: string, writers: number, rate: number): { stop(): Promise<Tx[]> } {
  let running = true;
  let next = 0;
  const txs: Tx[] = [];
  const interval = (1000 * writers) / rate;
  const loops = Array.from({ length: writers }, async (_, w) => {
    let client: Client | null = null;
    while (running) {
      const tickStart = performance.now();
      const uid = ++next;
      const start = performance.now();
      try {
        if (!client) {
          client = pgClient({ connectionString: url });
          await client.connect();
        }
        await client.query(`INSERT INTO writes (uid, writer) VALUES ($1, $2)`, [uid, w]);
        txs.push({ uid, start, end: performance.now(), ok: true });
      } catch {
        txs.push({ uid, start, end: performance.now(), ok: false });
        await client?.end().catch(() => undefined);
        client = null;
      }
      const wait = interval - (performance.now() - tickStart);
      if (wait > 0) await sleep(wait);
    }
    await client?.end().catch(() => undefined);
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return txs.sort((a, b) => a.start - b.start);
    },
  };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function report(r: Result): void {
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  process.stdout.write(
    textTable(
      ["measure", "value", "target"],
      [
        ["upgrade", `${r.fromVersion} → ${r.toVersion}`, ""],
        ["dataset", `${(r.datasetBytes / 1024 ** 3).toFixed(2)} GiB, ${r.detail.rows} rows`, "≥ 1 GB"],
        ["initial copy", `${r.initialCopySeconds} s`, ""],
        ["cutover (lag check → switch → rollback path)", `${r.cutoverSeconds} s`, ""],
        ["verification (after the switch, on snapshots)", `${r.detail.verificationSeconds} s`, ""],
        ["max write pause (client-side)", `${r.maxWritePauseMs} ms`, `≤ ${TARGETS.maxWritePauseMs} ms: ${verdict(r.maxWritePauseMs <= TARGETS.maxWritePauseMs)}`],
        ["engine write pause (fence → resume)", `${r.detail.engineWritePauseMs} ms`, ""],
        ["p99 commit latency during cutover", `${r.p99CommitLatencyMsDuringCutover} ms`, ""],
        ["committed / failed transactions", `${r.committedTransactions} / ${r.failedTransactions}`, `failed 0: ${verdict(r.failedTransactions === 0)}`],
        ["lost rows", `${r.lostRows}`, `0: ${verdict(r.lostRows === 0)}`],
        ["checksums equal", `${r.checksumsEqual}`, `true: ${verdict(r.checksumsEqual)}`],
      ],
    ) + "\n",
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
