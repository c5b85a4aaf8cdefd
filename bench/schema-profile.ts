// `npm run bench:schema-profile -- [--tables 1000] [--runs 3] [--json FILE]`
//
// Where a cold plan's server time goes (issue 20): on one embedded PostgreSQL 17 server set up as
// `bench:peers` sets up its server, the stages of a cold normalization of the synthetic schema run
// one by one on a fresh scratch database, each timed (wall) with the server's CPU from /proc:
// CREATE DATABASE, the desired DDL file by file on one connection (tables, indexes, foreign keys),
// the introspection of the scratch database, the read of the desired catalogs for the convergence
// check (ADR 0014), DROP DATABASE. Runs are repeated and the medians printed; the JSON has every run
// and the load average.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Client } from "pg";
import { connect } from "../sdk/postgres/connection";
import { startEmbeddedPostgres } from "../sdk/postgres/embedded";
import { introspect } from "../sdk/schema/introspect/introspect";
import { readCatalogSnapshot } from "../sdk/schema/verify/index";
import { cpuSince, cpuSnapshot, postmasterPid } from "./support/cpu";
import { median, ms } from "./support/stats";
import { syntheticSchema } from "./support/synthetic";

const { values } = parseArgs({ args: process.argv.slice(2), options: { tables: { type: "string", default: "1000" }, runs: { type: "string", default: "3" }, json: { type: "string" } } });
const tables = Number(values.tables);
const runs = Number(values.runs);

type Stage = { stage: string; wallMs: number; serverCpuMs: number; nodeCpuMs: number };

async function main(): Promise<void> {
  const server = await startEmbeddedPostgres({ major: 17, parameters: { max_connections: 200 } });
  const pid = postmasterPid(`${server.dir}/data`);
  const desired = syntheticSchema(tables);
  const names = ["DDL: CREATE TABLE", "DDL: CREATE INDEX", "DDL: ADD FOREIGN KEY"];
  const all: Stage[][] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const stages: Stage[] = [];
      const measure = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
        const before = cpuSnapshot(pid);
        const t0 = performance.now();
        const value = await work();
        const wallMs = performance.now() - t0;
        const c = cpuSince(before, cpuSnapshot(pid));
        stages.push({ stage, wallMs, serverCpuMs: c.serverMs, nodeCpuMs: c.nodeMs });
        return value;
      };
      const admin = await connect(server.url(), { applicationName: "profile" });
      const db = `profile_${run}`;
      await measure("CREATE DATABASE", () => admin.query(`CREATE DATABASE ${db} TEMPLATE template0`));
      const scratch: Client = await connect(server.url(db), { applicationName: "profile" });
      for (const [i, f] of desired.files.entries()) await measure(names[i] ?? f.name, () => scratch.query(f.sql));
      await measure("introspection of the scratch database", () => introspect(scratch));
      await measure("desired catalogs read (convergence check)", () => readCatalogSnapshot(scratch));
      await scratch.end();
      await measure("DROP DATABASE", () => admin.query(`DROP DATABASE ${db}`));
      await admin.end();
      all.push(stages);
      console.log(`run ${run + 1}: ${stages.map((s) => `${s.stage} ${ms(s.wallMs)} ms (server ${s.serverCpuMs})`).join("; ")}  load ${loadavg()[0]!.toFixed(1)}`);
    }
  } finally {
    await server.stop();
  }
  const summary = all[0]!.map((s, i) => ({
    stage: s.stage,
    wallMs: ms(median(all.map((r) => r[i]!.wallMs))),
    serverCpuMs: median(all.map((r) => r[i]!.serverCpuMs)),
    nodeCpuMs: ms(median(all.map((r) => r[i]!.nodeCpuMs))),
  }));
  const serverTotal = summary.reduce((a, s) => a + s.serverCpuMs, 0);
  for (const s of summary) {
    const share = `${Math.round((100 * s.serverCpuMs) / serverTotal)} %`.padStart(5);
    console.log(`${s.stage.padEnd(44)} wall ${String(s.wallMs).padStart(6)} ms  server CPU ${String(s.serverCpuMs).padStart(6)} ms (${share})  node CPU ${String(s.nodeCpuMs).padStart(5)} ms`);
  }
  const out = { bench: "schema-profile", tables, runs, cpus: cpus().length, loadAverage: loadavg(), summary, runsDetail: all };
  if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
