// `npm run bench:clone -- [--size-mb 1024] [--runs 3] [--major 15] [--json FILE]`
//
// Base-backup throughput of Setpoint's own client (sdk/instance/basebackup.ts, the BASE_BACKUP
// replication command) against PostgreSQL's `pg_basebackup` on the same server and data, both
// writing a plain data directory to local disk with the WAL fetched at the end (`-X fetch`), a fast
// checkpoint and no fsync of the result (`--no-sync`: the clone leaves the sync to the server's
// start, which syncs a data directory recovering from a backup). Runs are interleaved so that load
// on the machine falls on both alike; the machine's load average is recorded.
//
// pg_basebackup comes from Debian (`postgresql-client-<major>`, installed with apt-get when
// missing); Debian bookworm ships one major (15), and pg_basebackup refuses a newer server, so the
// bench runs on that major by default.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pgClient } from "../sdk/postgres/client";
import { cloneInstance } from "../sdk/instance/basebackup";
import { randomPassword, startEmbeddedPostgres } from "../sdk/postgres/embedded";
import { isSupportedMajor } from "../sdk/postgres/versions";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "size-mb": { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
    major: { type: "string", default: "15" },
    json: { type: "string" },
  },
});
const sizeMb = Number(values["size-mb"]);
const runs = Number(values.runs);
const majorArg = Number(values.major);
if (!Number.isFinite(sizeMb) || sizeMb <= 0 || !Number.isInteger(runs) || runs < 1 || !isSupportedMajor(majorArg)) {
  console.error("usage: bench:clone -- [--size-mb N>0] [--runs N>=1] [--major 14..18] [--json FILE]");
  process.exit(2);
}
const major = majorArg;

function pgBasebackup(): string {
  const path = `/usr/lib/postgresql/${major}/bin/pg_basebackup`;
  if (!existsSync(path)) {
    const r = spawnSync("sh", ["-c", `apt-get install -y --no-install-recommends postgresql-client-${major} >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y --no-install-recommends postgresql-client-${major} >/dev/null)`], { stdio: "inherit" });
    if (r.status !== 0 || !existsSync(path)) {
      console.error(`bench:clone needs pg_basebackup ${major} (Debian postgresql-client-${major}) as the reference; install it or pick --major with a Debian client`);
      process.exit(2);
    }
  }
  return path;
}

async function main(): Promise<void> {
  const reference = pgBasebackup();
  const password = randomPassword();
  console.log(`starting PostgreSQL ${major} and loading ${sizeMb} MB`);
  const server = await startEmbeddedPostgres({ major, password, parameters: { max_wal_size: "2GB" } });
  const work = mkdtempSync(join(tmpdir(), "setpoint-bench-backup-"));
  try {
    const c = pgClient({ connectionString: server.url() });
    await c.connect();
    // ~300 bytes per row on disk; rows of incompressible-looking text.
    const rows = Math.round((sizeMb * 1024 * 1024) / 300);
    await c.query("CREATE TABLE filler (id bigint, body text)");
    for (let done = 0; done < rows; done += 500_000) {
      await c.query("INSERT INTO filler SELECT g, repeat(md5(g::text), 7) FROM generate_series($1::bigint, $2::bigint) g", [done + 1, Math.min(rows, done + 500_000)]);
    }
    await c.query("CHECKPOINT");
    const size = Number((await c.query<{ s: string }>("SELECT sum(pg_database_size(oid))::bigint AS s FROM pg_database")).rows[0]!.s);
    await c.end();
    console.log(`cluster size ${(size / 1024 ** 2).toFixed(0)} MB`);

    const source = { host: "127.0.0.1", port: server.port, user: "postgres", password };
    const samples: { tool: "setpoint" | "pg_basebackup"; seconds: number; bytes: number }[] = [];
    for (let run = 0; run < runs; run++) {
      for (const tool of run % 2 === 0 ? (["setpoint", "pg_basebackup"] as const) : (["pg_basebackup", "setpoint"] as const)) {
        const target = join(work, `${tool}-${run}`);
        const t0 = process.hrtime.bigint();
        let bytes: number;
        if (tool === "setpoint") {
          bytes = (await cloneInstance({ source, pgdata: target, standby: false })).bytes;
        } else {
          const r = spawnSync(reference, ["-D", target, "-X", "fetch", "--checkpoint=fast", "--no-sync", "-Fp", "-d", `host=127.0.0.1 port=${server.port} user=postgres`], {
            env: { ...process.env, PGPASSWORD: password },
            encoding: "utf8",
          });
          if (r.status !== 0) throw new Error(`pg_basebackup failed: ${r.stderr}`);
          bytes = Number(spawnSync("du", ["-sb", target], { encoding: "utf8" }).stdout.split("\t")[0]);
        }
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        samples.push({ tool, seconds, bytes });
        console.log(`run ${run + 1} ${tool.padEnd(13)} ${seconds.toFixed(2)} s  ${(bytes / 1024 ** 2 / seconds).toFixed(0)} MB/s`);
        rmSync(target, { recursive: true, force: true });
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const mbps = (tool: string): number => median(samples.filter((s) => s.tool === tool).map((s) => s.bytes / 1024 ** 2 / s.seconds));
    const result = {
      bench: "backup",
      major,
      clusterBytes: size,
      runs,
      loadAverage: loadavg(),
      medianMBps: { setpoint: mbps("setpoint"), pg_basebackup: mbps("pg_basebackup") },
      ratio: mbps("setpoint") / mbps("pg_basebackup"),
      samples,
    };
    console.log(`median: setpoint ${result.medianMBps.setpoint.toFixed(0)} MB/s, pg_basebackup ${result.medianMBps.pg_basebackup.toFixed(0)} MB/s, ratio ${(result.ratio * 100).toFixed(0)} %`);
    console.log(JSON.stringify(result));
    if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
