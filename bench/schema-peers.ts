// `npm run bench:peers -- [--sizes 100,1000] [--runs 3] [--json FILE]`
//
// Setpoint's schema plan against the fastest peer, migra (installed from PyPI into a virtual
// environment as a user would: `pip install migra psycopg2-binary`), on the same PostgreSQL 17
// server, the same generated schema, three scenarios per size: cold (empty target), no-op (target
// already converged) and one change (a column added to one table). Both run as the command a user
// runs, a fresh process each time: `bin/setpoint schema plan --url … --dev-url … --schema DIR` with a
// fresh normalized-model cache per run (so Setpoint normalizes every time, as migra loads every
// time), and migra timed including loading the desired SQL into a scratch database of the same
// server (which it needs) and dropping it. Runs alternate which tool goes first; each output is
// checked to be a real plan (the scenario's statements are in it, a no-op is empty). Writes the
// medians and ratios (migra time / Setpoint time: above 1 means Setpoint is faster) as JSON, with
// the machine's load average, and the same ratio over CPU time (the tool's process and the server's,
// from /proc), which a loaded machine distorts far less than wall time.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pgClient } from "../sdk/postgres/client";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/embedded";
import { syntheticSchema } from "./support/synthetic";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { sizes: { type: "string", default: "100,1000" }, runs: { type: "string", default: "3" }, json: { type: "string" }, venv: { type: "string" } },
});
const sizes = (values.sizes ?? "").split(",").map(Number);
const runs = Number(values.runs);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1) {
  console.error("usage: bench:peers -- [--sizes 100,1000,10000] [--runs N] [--json FILE] [--venv DIR]");
  process.exit(2);
}
const repo = resolve(__dirname, "..");
const venv = values.venv ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? tmpdir(), ".cache"), "setpoint", "migra-venv");

/** migra from PyPI in its own virtual environment (created once). */
function ensureMigra(): string {
  const migra = join(venv, "bin", "migra");
  if (existsSync(migra)) return migra;
  console.log(`installing migra into ${venv} (pip install migra psycopg2-binary)`);
  for (const [cmd, args] of [
    ["python3", ["-m", "venv", venv]],
    [join(venv, "bin", "pip"), ["install", "-q", "migra", "psycopg2-binary"]],
  ] as const) {
    const r = spawnSync(cmd, [...args], { stdio: "inherit" });
    if (r.status !== 0) {
      console.error(`could not install migra (${cmd} ${args.join(" ")} failed); it needs python3 with venv and access to PyPI`);
      process.exit(2);
    }
  }
  return migra;
}

const desiredSql = (tables: number, extraColumn: boolean): string[] => {
  const files = syntheticSchema(tables).files.map((f) => f.sql);
  if (!extraColumn) return files;
  // One change: a column added to the first table.
  return [files[0]!.replace(/\n\);/, ",\n  note text\n);"), ...files.slice(1)];
};

async function sql(server: EmbeddedPostgres, database: string, statements: string | readonly string[]): Promise<void> {
  const c = pgClient({ connectionString: server.url(database) });
  await c.connect();
  try {
    for (const s of typeof statements === "string" ? [statements] : statements) await c.query(s);
  } finally {
    await c.end();
  }
}

interface Sample {
  readonly tool: "setpoint" | "migra";
  readonly ms: number;
  /** CPU of the tool's process (and its children) and of the PostgreSQL server during the run, from /proc. */
  readonly toolCpuMs: number;
  readonly serverCpuMs: number;
}

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** utime + stime (+ reaped children's, with `children`) of a process, in ms. */
function procCpuMs(pid: number | "self", children: boolean): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0)) * TICK_MS;
}

/** CPU of a PostgreSQL server: the postmaster, its reaped children and its live ones. */
function serverCpuMs(postmaster: number): number {
  let sum = procCpuMs(postmaster, true);
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === postmaster) sum += procCpuMs(Number(p), false);
    } catch {
      // exited meanwhile: counted in the postmaster's reaped children
    }
  }
  return sum;
}

/** CPU of child processes this process waited for (`spawnSync`): the reaped children's time of /proc/self. */
const childrenCpuMs = () => procCpuMs("self", true) - procCpuMs("self", false);

function timedRun(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; stdout: string; status: number | null; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 512 * 1024 * 1024 });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

async function main(): Promise<void> {
  const migra = ensureMigra();
  if (!existsSync(join(repo, "dist", "sdk", "cli", "main.js"))) {
    console.error("bench:peers runs bin/setpoint, which needs dist/: run `npm run build` first");
    process.exit(2);
  }
  // Setpoint's own embedded dev server has max_locks_per_transaction=1024: with the default 64 a
  // 10,000-table file cannot be created in one transaction (psql, migra's loader, commits each statement).
  const server = await startEmbeddedPostgres({ major: 17, parameters: { max_connections: 200, max_locks_per_transaction: 1024 } });
  const work = mkdtempSync(join(tmpdir(), "setpoint-bench-peers-"));
  const postmaster = Number(readFileSync(join(server.dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const results: Record<string, unknown>[] = [];
  try {
    for (const tables of sizes) {
      for (const scenario of ["cold", "no-op", "one change"] as const) {
        const target = `target_${tables}_${scenario.replace(/\W/g, "_")}`;
        await sql(server, "postgres", `CREATE DATABASE ${target}`);
        if (scenario !== "cold") await sql(server, target, desiredSql(tables, false));
        const desired = desiredSql(tables, scenario === "one change");
        const schemaDir = join(work, `${target}-schema`);
        mkdirSync(schemaDir);
        desired.forEach((s, i) => writeFileSync(join(schemaDir, `${String(i).padStart(2, "0")}.sql`), s));
        const samples: Sample[] = [];
        for (let run = 0; run < runs; run++) {
          for (const tool of run % 2 === 0 ? (["setpoint", "migra"] as const) : (["migra", "setpoint"] as const)) {
            if (tool === "setpoint") {
              const cache = mkdtempSync(join(work, "cache-"));
              const [c0, s0] = [childrenCpuMs(), serverCpuMs(postmaster)];
              const r = timedRun(process.execPath, [join(repo, "bin", "setpoint"), "schema", "plan", "--url", server.url(target), "--dev-url", server.url(), "--schema", schemaDir, "--format", "json"], {
                ...process.env,
                SETPOINT_CACHE_DIR: cache,
              });
              rmSync(cache, { recursive: true, force: true });
              if (r.status !== 0) throw new Error(`setpoint failed: ${r.stderr}`);
              const steps = (JSON.parse(r.stdout) as { steps: { sql: string[] }[] }).steps.flatMap((s) => s.sql).join("\n");
              checkPlan("setpoint", scenario, tables, steps);
              samples.push({ tool, ms: r.ms, toolCpuMs: childrenCpuMs() - c0, serverCpuMs: serverCpuMs(postmaster) - s0 });
            } else {
              const scratch = `scratch_${run}_${tables}`;
              const [c0, s0] = [childrenCpuMs(), serverCpuMs(postmaster)];
              const t0 = process.hrtime.bigint();
              await sql(server, "postgres", `CREATE DATABASE ${scratch}`);
              await sql(server, scratch, desired);
              const url = (db: string) => server.url(db).replace(/^postgres:/, "postgresql+psycopg2:");
              const r = timedRun(migra, ["--unsafe", url(target), url(scratch)]);
              await sql(server, "postgres", `DROP DATABASE ${scratch}`);
              const ms = Number(process.hrtime.bigint() - t0) / 1e6;
              // migra exits 2 when there are differences, 0 when none.
              if (r.status !== 0 && r.status !== 2) throw new Error(`migra failed: ${r.stderr}`);
              checkPlan("migra", scenario, tables, r.stdout);
              samples.push({ tool, ms, toolCpuMs: childrenCpuMs() - c0, serverCpuMs: serverCpuMs(postmaster) - s0 });
            }
          }
        }
        const median = (tool: Sample["tool"], of: (s: Sample) => number = (s) => s.ms) => {
          const xs = samples.filter((s) => s.tool === tool).map(of).sort((a, b) => a - b);
          return xs[Math.floor(xs.length / 2)]!;
        };
        // CPU of the tool and the server together: what a busy machine's wall time follows.
        const cpu = (s: Sample) => s.toolCpuMs + s.serverCpuMs;
        const row = {
          tables,
          scenario,
          setpointMs: Math.round(median("setpoint")),
          migraMs: Math.round(median("migra")),
          ratio: median("migra") / median("setpoint"),
          setpointCpuMs: median("setpoint", cpu),
          migraCpuMs: median("migra", cpu),
          cpuRatio: median("migra", cpu) / median("setpoint", cpu),
          loadAverage: loadavg(),
          samples,
        };
        results.push(row);
        console.log(
          `${String(tables).padStart(6)} ${scenario.padEnd(10)} setpoint ${String(row.setpointMs).padStart(7)} ms  migra ${String(row.migraMs).padStart(7)} ms  migra/setpoint ${row.ratio.toFixed(2)}x` +
            `  CPU (tool + server) ${row.setpointCpuMs} / ${row.migraCpuMs} ms: ${row.cpuRatio.toFixed(2)}x  load ${loadavg()[0]!.toFixed(1)}`,
        );
        await sql(server, "postgres", `DROP DATABASE ${target}`);
      }
    }
    const out = { bench: "schema-peers", postgres: 17, runs, cpus: cpus().length, loadAverage: loadavg(), results };
    if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(JSON.stringify({ ...out, results: results.map(({ samples: _s, ...r }) => r) }));
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A real plan: the cold one creates every table, the one-change one adds the column, a no-op is empty. */
function checkPlan(tool: string, scenario: "cold" | "no-op" | "one change", tables: number, text: string): void {
  const creates = (text.match(/create table/gi) ?? []).length;
  const ok = scenario === "cold" ? creates === tables : scenario === "no-op" ? text.trim() === "" : /add column\s+"?note"?/i.test(text) && creates === 0;
  if (!ok) throw new Error(`${tool}'s ${scenario} plan at ${tables} tables is not the expected plan:\n${text.slice(0, 2000)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
