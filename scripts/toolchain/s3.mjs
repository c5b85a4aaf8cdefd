// The S3-compatible object store the backup tests and demo run against: SeaweedFS's `weed`,
// built from the Go module proxy at one pinned pseudo-version (the only one the proxy lists),
// in the downloaded module's own directory with its own go.mod and go.sum (no wrapper module).
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goBuild } from "./go-build.mjs";
import { probe, runCapture } from "./proc.mjs";
import { SEAWEEDFS_MODULE, SEAWEEDFS_VERSION } from "./versions.mjs";

/**
 * Builds `weed` into `binDir` when missing.
 * @param {import("./go.mjs").GoToolchain} toolchain
 * @param {string} binDir
 * @param {string} logDir
 * @returns {Promise<Record<string, number>>} seconds spent per built executable
 * @throws {Error} when the module cannot be downloaded or the build fails (naming the log).
 */
export async function buildS3(toolchain, binDir, logDir) {
  if (existsSync(join(binDir, "weed"))) return {};
  const started = Date.now();
  const spec = `${SEAWEEDFS_MODULE}@${SEAWEEDFS_VERSION}`;
  const dl = await runCapture(toolchain.go, ["mod", "download", "-json", spec], { env: toolchain.env, timeoutMs: 30 * 60_000, cwd: tmpdir() });
  let moduleDir;
  try {
    moduleDir = JSON.parse(dl.stdout).Dir;
  } catch {
    moduleDir = undefined;
  }
  if (dl.status !== 0 || !moduleDir) throw new Error(`go mod download ${spec} failed: ${(dl.stderr || dl.stdout || "").trim().slice(-2000)}`);
  await goBuild(toolchain, { dir: moduleDir, pkg: "./weed", output: join(binDir, "weed"), logFile: join(logDir, "weed.log") });
  // Counted from the download on: a cold module cache is most of the time.
  return { weed: (Date.now() - started) / 1000 };
}

/**
 * Version the built executable reports, e.g. { weed: "4.53" }.
 * @param {string} binDir
 * @returns {Record<string, string>}
 */
export function s3Versions(binDir) {
  const out = probe(join(binDir, "weed"), ["version"]) ?? "";
  // `version 30GB 4.53  linux amd64`: the volume size limit build flag, then the release.
  const version = /version\s+(?:\d+GB\s+)?(\d+\.\d+\S*)/.exec(out)?.[1];
  return { weed: version ?? SEAWEEDFS_VERSION };
}
