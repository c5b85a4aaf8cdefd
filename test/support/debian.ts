// What the tests need from Debian packages, made available before anything runs: an installed
// tool is used as is; else, when this process may (root, apt-get present), the package is installed
// (the package lists are refreshed when the first attempt fails); else one line says what is missing
// and the command that fixes it. Free of vitest imports, like the harnesses that use it.
import { spawnSync } from "node:child_process";

/** Outcome of {@link ensureDebianPackage}: the tool's path, or why it is missing (one line). */
export type ToolAvailability = { readonly path: string; readonly installed: boolean } | { readonly missing: string };

/** What to make available. */
export interface DebianTool {
  /** The tool, e.g. `pgbouncer`. */
  tool: string;
  /** The Debian package holding it. */
  package: string;
  /** Who needs it, for the progress and skip lines, e.g. `the upgrade tests' traffic switch`. */
  purpose: string;
  /** What happens without it, e.g. `the PgBouncer tests are skipped`. */
  without: string;
  /** Finds the installed tool. */
  find: () => string | undefined;
}

/** Options of {@link ensureDebianPackage}. */
export interface EnsureOptions {
  /** May it run `apt-get install`? @default true when this process is root and apt-get exists */
  canInstall?: boolean;
  /** Where its one line of progress goes. @default console.log */
  log?: (line: string) => void;
}

function aptGet(args: string[]): boolean {
  const r = spawnSync("apt-get", args, { stdio: "ignore", timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return r.status === 0;
}

/** Makes `what.tool` available (see the module comment). */
export function ensureDebianPackage(what: DebianTool, options: EnsureOptions = {}): ToolAvailability {
  const found = what.find();
  if (found) return { path: found, installed: false };
  const log = options.log ?? ((line: string) => console.log(line));
  const canInstall = options.canInstall ?? (process.getuid?.() === 0 && spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0);
  const fix = `apt-get install -y --no-install-recommends ${what.package}`;
  if (!canInstall) {
    return { missing: `${what.tool} is not installed and this setup cannot install it (needs root and apt-get); ${what.without}. Install it with: ${fix}` };
  }
  log(`test setup: ${what.tool} is not installed; installing the Debian package ${what.package} with apt-get (${what.purpose} needs it)`);
  const args = ["install", "-y", "--no-install-recommends", what.package];
  if (!aptGet(args) && aptGet(["update"])) aptGet(args);
  const after = what.find();
  if (after) return { path: after, installed: true };
  return { missing: `${what.tool} is not installed and \`${fix}\` failed here; ${what.without}. Install it and run the tests again` };
}

/** The path of `tool` on PATH, or undefined. */
export function onPath(tool: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}
