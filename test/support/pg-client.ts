// PostgreSQL's client programs (pg_dump, psql) from Debian's postgresql-client, for the tests that
// plan from a real pg_dump's output. Free of vitest imports (the global setup uses it).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The newest pg_dump and psql installed (Debian's /usr/lib/postgresql/N, else PATH), and their major. */
export function pgClientTools(): { pgDump: string; psql: string; major: number } | null {
  const base = "/usr/lib/postgresql";
  const installed = existsSync(base)
    ? readdirSync(base)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(base, d, "bin", "pg_dump")) && existsSync(join(base, d, "bin", "psql")))
        .map(Number)
        .sort((a, b) => b - a)
    : [];
  if (installed.length > 0) return { pgDump: join(base, String(installed[0]), "bin", "pg_dump"), psql: join(base, String(installed[0]), "bin", "psql"), major: installed[0]! };
  try {
    const v = execFileSync("pg_dump", ["--version"], { encoding: "utf8" });
    const major = Number(/(\d+)(?:\.\d+)?/.exec(v)?.[1]);
    return Number.isInteger(major) ? { pgDump: "pg_dump", psql: "psql", major } : null;
  } catch {
    return null;
  }
}
