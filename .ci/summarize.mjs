// Prints the closing line "N passed, M failed" from vitest's JSON report and exits non-zero on
// any failure, on zero tests, on a failed npm test (lint or type-check), or on leftover servers.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";

const [reportPath, statusArg, startedArg] = process.argv.slice(2);
const status = Number(statusArg);
let passed = 0;
let failed = 0;
let skipped = 0;

if (existsSync(reportPath)) {
  const report = JSON.parse(readFileSync(reportPath, "utf8"));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A test file that fails to load has no tests but is still a failure.
  for (const file of report.testResults ?? []) {
    if (file.status === "failed" && (file.assertionResults ?? []).length === 0) failed++;
  }
} else {
  console.error("ci: no test report was written (npm ci, build, lint or type-check failed before the tests ran)");
}

const problems = [];
if (status !== 0 && failed === 0) {
  problems.push(`npm test exited with ${status}`);
  failed++;
}
if (passed === 0) problems.push("no test passed");

// The PostgreSQL harness must leave nothing behind. Only what this run created counts: servers
// that were already there when it started, or that belong to another job on a shared machine
// (a process without this run's SETPOINT_CI_RUN marker uses them), are not its leftovers.
const preexisting = new Set((process.env.SETPOINT_CI_PREEXISTING ?? "").split(/\s+/).filter(Boolean));
const runMarker = process.env.SETPOINT_CI_RUN ? `SETPOINT_CI_RUN=${process.env.SETPOINT_CI_RUN}` : undefined;
/** Whether process `pid` belongs to this run (always, when no marker is set). */
function ofThisRun(pid) {
  if (!runMarker) return true;
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(runMarker);
  } catch {
    return false;
  }
}
let serverLines = [];
try {
  serverLines = execFileSync("pgrep", ["-a", "-f", "setpoint-pg-"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
} catch {
  // pgrep exits 1 when nothing matches
}
const foreignLines = serverLines.filter((line) => !ofThisRun(Number(line.split(" ")[0])));
const leftovers = [tmpdir(), "/dev/shm"]
  .flatMap((dir) => {
    try {
      return readdirSync(dir).filter((d) => d.startsWith("setpoint-pg-"));
    } catch {
      return [];
    }
  })
  .filter((d) => !preexisting.has(d) && !foreignLines.some((line) => line.includes(`/${d}/`)));
const processes = serverLines
  .filter((line) => !foreignLines.includes(line) && ![...preexisting].some((d) => line.includes(`/${d}/`)))
  .join("\n");
if (leftovers.length > 0 || processes) {
  problems.push(`PostgreSQL servers left behind: ${[...leftovers, processes].filter(Boolean).join(", ")}`);
  failed++;
}

const seconds = Math.round(Date.now() / 1000 - Number(startedArg));
for (const p of problems) console.error(`ci: ${p}`);
console.error(`ci: took ${seconds} s`);
// Skipped tests (a major-specific case on the other majors) are said on their own line: the last
// line is exactly "N passed, M failed".
if (skipped) console.error(`ci: ${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
