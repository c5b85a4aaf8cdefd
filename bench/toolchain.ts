// `npm run bench:toolchain -- [--only kube,node] [--jobs N] [--source DIR] [--keep] [--json FILE]`
//
// Cold and warm `npm run toolchain` as a fresh machine sees it, without touching this machine's
// caches: the Go module cache, Go build cache, GOPATH, the toolchain's cache root and PULUMI_HOME
// all point at new directories under the temporary directory (removed afterwards unless --keep).
// The cold build runs under `nice -n 10` (the machine may be shared); the load average is sampled
// every 15 s. Prints a table and writes JSON (default bench/results/toolchain.json).
// `--source DIR` runs another copy of scripts/toolchain (e.g. an older commit's, for a before/after).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { textTable } from "./support/stats";

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    jobs: { type: "string" },
    source: { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "string", default: join(__dirname, "results", "toolchain.json") },
  },
});
const source = resolve(values.source ?? join(__dirname, "..", "scripts", "toolchain"));
if (!existsSync(join(source, "index.mjs"))) {
  console.error(`bench:toolchain: ${source}/index.mjs does not exist; --source names a copy of scripts/toolchain`);
  process.exit(2);
}
if (values.jobs !== undefined && !/^[1-9]\d*$/.test(values.jobs)) {
  console.error("usage: bench:toolchain -- [--only GROUP,...] [--jobs N>=1] [--source DIR] [--keep] [--json FILE]");
  process.exit(2);
}

interface LoadSample {
  at: number;
  load1: number;
  load5: number;
  load15: number;
}

interface Stamp {
  group: string;
  buildSeconds: Record<string, number>;
}

/**
 * Runs `node index.mjs args` with `env` (under `nice -n 10` when `niced`), returning its wall time,
 * output and the CPU seconds (user + system) of the whole process tree, as bash's `times` reports
 * for its reaped children: a measure of the build's work that does not depend on the machine's load.
 */
function runToolchain(args: string[], env: NodeJS.ProcessEnv, niced: boolean): Promise<{ seconds: number; cpuSeconds: number; status: number | null; output: string }> {
  const started = process.hrtime.bigint();
  const run = `${niced ? "nice -n 10 " : ""}"$0" "$@"; rc=$?; echo "@@times"; times; exit $rc`;
  return new Promise((done) => {
    const child = spawn("bash", ["-c", run, process.execPath, join(source, "index.mjs"), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (d: Buffer): void => {
      output += d.toString();
      process.stderr.write(d);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("close", (status) => {
      // `times`: the shell's own user/system line, then its children's.
      const children = output.split("@@times").pop()?.trim().split("\n")[1] ?? "";
      const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
      done({ seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds: Math.round(cpuSeconds), status, output });
    });
  });
}

function sample(): LoadSample {
  const [load1, load5, load15] = loadavg() as [number, number, number];
  return { at: Date.now(), load1, load5, load15 };
}

function stamps(root: string): Stamp[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, "stamp.json")))
    .map((d) => JSON.parse(readFileSync(join(root, d, "stamp.json"), "utf8")) as Stamp);
}

function duBytes(dir: string): number {
  const r = spawnSync("du", ["-sb", dir], { encoding: "utf8" });
  return Number(r.stdout.split(/\s/)[0] ?? 0);
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "setpoint-toolchain-bench-"));
  const dirs = {
    GOMODCACHE: join(scratch, "gomodcache"),
    GOCACHE: join(scratch, "gocache"),
    GOPATH: join(scratch, "gopath"),
    SETPOINT_TOOLCHAIN_DIR: join(scratch, "toolchain"),
    PULUMI_HOME: join(scratch, "pulumi-home"),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, ...dirs };
  delete env.SETPOINT_TOOLCHAIN_JOBS;
  const args = [...(values.only ? [`--only=${values.only}`] : []), ...(values.jobs ? [`--jobs=${values.jobs}`] : [])];

  const load: LoadSample[] = [sample()];
  const timer = setInterval(() => load.push(sample()), 15_000);
  const cold = await runToolchain(args, env, true);
  clearInterval(timer);
  load.push(sample());
  const warm = cold.status === 0 ? await runToolchain(args, env, false) : undefined;

  const groups = stamps(dirs.SETPOINT_TOOLCHAIN_DIR);
  const result = {
    benchmark: "toolchain",
    date: new Date().toISOString(),
    source,
    args,
    cores: spawnSync("nproc", { encoding: "utf8" }).stdout.trim(),
    cold: { seconds: Math.round(cold.seconds), cpuSeconds: cold.cpuSeconds, ok: cold.status === 0 },
    warm: warm ? { seconds: Number(warm.seconds.toFixed(2)), ok: warm.status === 0 && /cached in/.test(warm.output) } : undefined,
    /** Seconds per `go build` as each group's stamp records them (overlapping when groups ran at once). */
    builds: Object.fromEntries(groups.map((s) => [s.group, s.buildSeconds])),
    load: {
      start: load[0],
      end: load[load.length - 1],
      meanLoad1: Number((load.reduce((a, s) => a + s.load1, 0) / load.length).toFixed(2)),
      maxLoad1: Math.max(...load.map((s) => s.load1)),
      samples: load.length,
    },
    diskBytes: { goModCache: duBytes(dirs.GOMODCACHE), goBuildCache: duBytes(dirs.GOCACHE), toolchain: duBytes(dirs.SETPOINT_TOOLCHAIN_DIR) },
  };

  console.log(
    textTable(
      ["measure", "value"],
      [
        ["cold (s)", result.cold.seconds + (result.cold.ok ? "" : " FAILED")],
        ["cold CPU, user+system (s)", String(result.cold.cpuSeconds)],
        ["warm (s)", result.warm ? String(result.warm.seconds) : "-"],
        ["load1 mean / max", `${result.load.meanLoad1} / ${result.load.maxLoad1}`],
        ...groups.flatMap((s) => Object.entries(s.buildSeconds).map(([b, sec]): [string, string] => [`  ${s.group}: ${b} (s)`, sec.toFixed(0)])),
      ],
    ),
  );
  mkdirSync(dirname(values.json!), { recursive: true });
  writeFileSync(values.json!, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`bench:toolchain: wrote ${values.json}`);

  if (values.keep) console.log(`bench:toolchain: kept ${scratch}`);
  else {
    // The module cache is read-only by design.
    spawnSync("chmod", ["-R", "u+w", scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
  if (!result.cold.ok) process.exitCode = 1;
}

void main();
