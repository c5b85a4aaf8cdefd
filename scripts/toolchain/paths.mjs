// Where the toolchain lives on disk, and how callers (tests, scripts) find it. Dependency
// free and side-effect free: importing it never builds anything.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

/**
 * Root of all toolchain caches: `$SETPOINT_TOOLCHAIN_DIR`, else
 * `$XDG_CACHE_HOME/setpoint/toolchain`, else `~/.cache/setpoint/toolchain`.
 * @returns {string}
 */
export function toolchainRoot() {
  if (process.env.SETPOINT_TOOLCHAIN_DIR) return process.env.SETPOINT_TOOLCHAIN_DIR;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cache, "setpoint", "toolchain");
}

/** Files whose content defines the toolchain: the pins and the Go wrapper modules. */
function keyInputs() {
  const files = [join(here, "versions.mjs")];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) files.push(p);
    }
  };
  walk(join(here, "go"));
  return files;
}

/**
 * Cache key of this checkout's toolchain: a hash of the pinned versions, the Go wrapper
 * modules (go.mod, go.sum, sources) and the platform. Two checkouts with the same pins share
 * a cache entry.
 * @returns {string}
 */
export function toolchainKey() {
  const h = createHash("sha256");
  h.update(`${process.platform}-${process.arch}\n`);
  for (const file of keyInputs()) {
    h.update(relative(here, file) + "\n");
    h.update(readFileSync(file));
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Directory of this checkout's toolchain: `<root>/<key>`.
 * @returns {string}
 */
export function toolchainDir() {
  return join(toolchainRoot(), toolchainKey());
}

/**
 * Path of the env.json that `npm run toolchain` writes (absolute paths of every binary).
 * @returns {string}
 */
export function envJsonPath() {
  return join(toolchainDir(), "env.json");
}

/**
 * Reads env.json, or returns undefined when the toolchain was not built for this checkout.
 * Binaries it names that no longer exist also yield undefined.
 * @returns {import("./paths.d.mts").ToolchainEnv | undefined}
 */
export function readToolchainEnv() {
  const file = envJsonPath();
  if (!existsSync(file)) return undefined;
  const env = JSON.parse(readFileSync(file, "utf8"));
  for (const tool of Object.values(env.tools)) {
    if (!existsSync(tool.path) || !statSync(tool.path).isFile()) return undefined;
  }
  return env;
}
