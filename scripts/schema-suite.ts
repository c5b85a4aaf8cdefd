// The external schema suite: `npm run suite:schema -- [--major 17] [--filter TEXT[,TEXT...]] [--json FILE] [--concurrency 2] [--no-build] [--bin PATH]`.
// Every old→new pair of test/schema-suite/corpus runs through `bin/setpoint schema apply` and
// `schema plan` against an embedded PostgreSQL server, with a second embedded server as --dev-url.
// --bin runs another checkout's bin/setpoint (built there), e.g. to compare with a release.
// See docs/schema-suite.md.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { scratchBaseDir, startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/embedded";
import { isSupportedMajor, type PostgresMajor } from "../sdk/postgres/versions";
import { pairsFor } from "../test/schema-suite/corpus";
import { binDriver, invalidSql, report, runSuite, silentDivergence, summarize } from "../test/schema-suite/runner";

// Settings of Setpoint's own embedded dev server (DEV_SERVER_PARAMETERS in sdk/schema/normalize.ts),
// repeated so this process never loads the engine: bin/setpoint is what is measured.
const DEV_PARAMETERS = { wal_level: "replica", max_wal_senders: 0, autovacuum: "off", max_locks_per_transaction: 1024 };

function options() {
  const { values } = parseArgs({
    options: {
      major: { type: "string", default: "17" },
      filter: { type: "string" },
      json: { type: "string" },
      concurrency: { type: "string", default: "2" },
      "no-build": { type: "boolean", default: false },
      bin: { type: "string" },
    },
  });
  const major = Number(values.major);
  if (!isSupportedMajor(major)) throw new Error(`--major must be a supported PostgreSQL major, got "${values.major}"`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a positive whole number, got "${values.concurrency}"`);
  return { major: major as PostgresMajor, filter: values.filter, json: values.json, concurrency, build: !values["no-build"] && !values.bin, bin: values.bin };
}

async function main(): Promise<void> {
  const opts = options();
  // Several filters separated by commas: a pair runs when its name contains any of them.
  const filters = opts.filter?.split(",").filter(Boolean) ?? [];
  const pairs = pairsFor(opts.major).filter((p) => filters.length === 0 || filters.some((f) => p.name.includes(f)));
  if (pairs.length === 0) throw new Error(`no pair matches --filter "${opts.filter}"`);
  const root = resolve(__dirname, "..");
  // bin/setpoint runs dist/: build it from the sources as they are now.
  if (opts.build) {
    try {
      execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
    } catch {
      // tsc still emits with type errors; the run measures whatever the sources compile to.
      console.error("schema-suite: the build reported errors (above); running with what it emitted");
    }
  }
  const scratch = scratchBaseDir();
  const servers: EmbeddedPostgres[] = [];
  // The normalization cache of this run only: a model cached by an older engine would hide its changes.
  const cache = mkdtempSync(join(tmpdir(), "setpoint-suite-cache-"));
  try {
    servers.push(await startEmbeddedPostgres({ major: opts.major, parameters: { autovacuum: "off", max_connections: 60 }, ...(scratch ? { baseDir: scratch } : {}) }));
    servers.push(await startEmbeddedPostgres({ major: opts.major, parameters: { ...DEV_PARAMETERS, max_connections: 60 }, ...(scratch ? { baseDir: scratch } : {}) }));
    const [target, dev] = servers as [EmbeddedPostgres, EmbeddedPostgres];
    console.error(`PostgreSQL ${target.version.split(" ")[1] ?? opts.major}: ${pairs.length} pair(s), concurrency ${opts.concurrency}`);
    // The corpus itself must be valid PostgreSQL: a mistake there is not the engine's failure.
    const invalid = await invalidSql(target.url(), pairs);
    if (invalid.length) throw new Error(`the corpus has invalid SQL:\n${invalid.map((b) => `  ${b.name} (${b.side}): ${b.error}`).join("\n")}`);
    const started = Date.now();
    const results = await runSuite(pairs, {
      targetUrl: target.url(),
      devUrl: dev.url(),
      cli: binDriver({ ...process.env, SETPOINT_CACHE_DIR: cache }, opts.bin ? resolve(opts.bin) : undefined),
      concurrency: opts.concurrency,
      onResult: (r, done, total) => console.error(`[${done}/${total}] ${r.converged ? "ok  " : "FAIL"} ${r.name} (${r.durationMs} ms)${r.converged ? "" : ` ${r.phase}: ${r.error ?? ""}`}`),
    });
    console.log(report(results));
    console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (opts.json) {
      const converged = results.filter((r) => r.converged).length;
      const doc = {
        version: 1,
        postgres: target.version,
        major: opts.major,
        at: new Date().toISOString(),
        filter: opts.filter ?? null,
        total: results.length,
        converged,
        percent: results.length ? Math.round((1000 * converged) / results.length) / 10 : 0,
        // The product's catalog-level check after apply (setpoint schema verify), per pair in `results[].verify`.
        catalogCheckPassed: results.filter((r) => r.verify !== undefined && r.verify.differences.length === 0).length,
        catalogCheckFailed: results.filter((r) => (r.verify?.differences.length ?? 0) > 0).length,
        silentDivergences: results.filter(silentDivergence).map((r) => r.name),
        kinds: summarize(results),
        failures: results.filter((r) => !r.converged),
        results,
      };
      writeFileSync(opts.json, JSON.stringify(doc, null, 2) + "\n");
      console.error(`wrote ${opts.json}`);
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop({ immediate: true })));
    rmSync(cache, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
