import type { TestProject } from "vitest/node";
import { scratchBaseDir, startEmbeddedPostgres, type EmbeddedPostgres } from "../../sdk/postgres/embedded";
import { SUPPORTED_MAJORS, type PostgresMajor } from "../../sdk/postgres/versions";
import { ensureDebianPackage, onPath } from "./debian";
import { pgClientTools } from "./pg-client";
import { ensurePgBouncer } from "./pgbouncer";
import type { SharedServer } from "./postgres";

declare module "vitest" {
  export interface ProvidedContext {
    postgresServers: SharedServer[];
    /** Why PgBouncer is unavailable (the tests that need it skip), or null when it is available. */
    pgbouncerMissing: string | null;
  }
}

/** Majors to start: all supported, or a comma list in SETPOINT_TEST_MAJORS (e.g. "17" while iterating). */
function majorsToStart(): PostgresMajor[] {
  const wanted = process.env.SETPOINT_TEST_MAJORS;
  if (!wanted) return [...SUPPORTED_MAJORS];
  return SUPPORTED_MAJORS.filter((m) => wanted.split(",").map(Number).includes(m));
}

/** Starts one server per major for the whole run, and stops them all when it ends. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Before anything runs: install what the tests need when possible, else say in one line what is missing.
  const pgbouncer = ensurePgBouncer();
  if ("missing" in pgbouncer) console.log(`test setup: ${pgbouncer.missing}`);
  // The test API server's certificates are made with openssl; without it those tests fail, naming it.
  const openssl = ensureDebianPackage({
    tool: "openssl",
    package: "openssl",
    purpose: "the test Kubernetes API server's certificates",
    without: "the Kubernetes tests will fail",
    find: () => onPath("openssl"),
  });
  if ("missing" in openssl) console.log(`test setup: ${openssl.missing}`);
  // The real pg_dump whose output test/schema/pg-dump.test.ts plans from (ADR 0057).
  const pgDump = ensureDebianPackage({
    tool: "pg_dump",
    package: "postgresql-client",
    purpose: "the pg_dump round-trip tests",
    without: "test/schema/pg-dump.test.ts will fail",
    find: () => pgClientTools()?.pgDump,
  });
  if ("missing" in pgDump) console.log(`test setup: ${pgDump.missing}`);
  project.provide("pgbouncerMissing", "missing" in pgbouncer ? pgbouncer.missing : null);
  const started: EmbeddedPostgres[] = [];
  try {
    // Sequential starts keep the two cores free for the test workers' own startup.
    // Test data is scratch: tmpfs when available makes DDL-heavy tests several times faster.
    const baseDir = scratchBaseDir();
    for (const major of majorsToStart()) started.push(await startEmbeddedPostgres({ major, ...(baseDir ? { baseDir } : {}) }));
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
  project.provide(
    "postgresServers",
    started.map((s) => ({ major: s.major, host: s.host, port: s.port, version: s.version })),
  );
  return async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
}
