// Provides a Go toolchain for the builds, from the Go module proxy only.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { probe } from "./proc.mjs";
import { GO_TOOLCHAIN } from "./versions.mjs";

/** Oldest `go` that understands GOTOOLCHAIN and can switch itself to GO_TOOLCHAIN. */
const MIN_SWITCHING_GO = [1, 21];

/**
 * @typedef {{ go: string, env: NodeJS.ProcessEnv, version: string }} GoToolchain
 */

/**
 * Returns a `go` command and the environment every build uses: GOTOOLCHAIN pinned to
 * GO_TOOLCHAIN, GOWORK off, GOFLAGS forced to `-mod=readonly` (the committed go.sum files are
 * authoritative; a caller's `-mod=mod` must never rewrite them), and GOPROXY defaulting to
 * the public proxy.
 * @param {string} root toolchain cache root, for a downloaded Go when none is installed
 * @param {(msg: string) => void} say progress output
 * @returns {Promise<GoToolchain>}
 * @throws {Error} when neither an installed Go nor the module proxy can provide one.
 */
export async function ensureGo(root, say) {
  const env = {
    ...process.env,
    GOTOOLCHAIN: GO_TOOLCHAIN,
    GOWORK: "off",
    GOFLAGS: "-mod=readonly -buildvcs=false",
    GOPROXY: process.env.GOPROXY || "https://proxy.golang.org,direct",
    CGO_ENABLED: process.env.CGO_ENABLED ?? "0",
  };
  const installed = probe("go", ["env", "GOVERSION"], { env: { ...process.env, GOTOOLCHAIN: "local" } });
  if (installed && atLeast(installed, MIN_SWITCHING_GO)) {
    // The installed go switches to GO_TOOLCHAIN itself (downloading it from the proxy once).
    const version = probe("go", ["env", "GOVERSION"], { env, timeoutMs: 600_000 });
    if (!version) {
      throw new Error(
        `\`go\` (${installed}) could not switch to ${GO_TOOLCHAIN}; check that GOPROXY reaches the Go module proxy, or install ${GO_TOOLCHAIN}`,
      );
    }
    return { go: "go", env, version };
  }
  if (installed) say(`go ${installed} is too old to switch toolchains; fetching ${GO_TOOLCHAIN} from the module proxy`);
  const goroot = await downloadToolchain(root, env.GOPROXY, say);
  const go = join(goroot, "bin", "go");
  const version = probe(go, ["env", "GOVERSION"], { env: { ...env, GOTOOLCHAIN: "local" } });
  if (!version) throw new Error(`downloaded Go at ${goroot} does not run; delete that directory and retry`);
  return { go, env: { ...env, GOTOOLCHAIN: "local", GOROOT: goroot }, version };
}

function atLeast(goversion, [major, minor]) {
  const m = /^go(\d+)\.(\d+)/.exec(goversion);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** GOOS/GOARCH names of this machine. */
function goPlatform() {
  const os = { linux: "linux", darwin: "darwin", win32: "windows" }[process.platform];
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch];
  if (!os || !arch) throw new Error(`no Go toolchain for ${process.platform}/${process.arch}; install Go yourself`);
  return `${os}-${arch}`;
}

/**
 * Fetches golang.org/toolchain@v0.0.1-<GO_TOOLCHAIN>.<os>-<arch> (a full Go distribution
 * packaged as a module) from the proxy and unpacks it under <root>/go/.
 * @returns {Promise<string>} GOROOT
 */
async function downloadToolchain(root, goproxy, say) {
  const version = `v0.0.1-${GO_TOOLCHAIN}.${goPlatform()}`;
  const dest = join(root, "go", `${GO_TOOLCHAIN}.${goPlatform()}`);
  if (existsSync(join(dest, "bin", "go"))) return dest;
  const proxy = goproxy.split(/[,|]/).find((p) => p.startsWith("http")) ?? "https://proxy.golang.org";
  const url = `${proxy.replace(/\/$/, "")}/golang.org/toolchain/@v/${version}.zip`;
  say(`downloading ${url}`);
  const res = await globalThis.fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}; install ${GO_TOOLCHAIN} yourself`);
  mkdirSync(join(root, "go"), { recursive: true });
  const zip = `${dest}.zip`;
  const tmp = `${dest}.tmp`;
  writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
  rmSync(tmp, { recursive: true, force: true });
  unzip(zip, tmp);
  // The zip holds golang.org/toolchain@<version>/{bin,pkg,src,...}.
  rmSync(dest, { recursive: true, force: true });
  renameSync(join(tmp, `golang.org/toolchain@${version}`), dest);
  rmSync(tmp, { recursive: true, force: true });
  rmSync(zip, { force: true });
  // Module zips do not record file modes.
  for (const dir of [join(dest, "bin"), join(dest, "pkg", "tool", goPlatform().replace("-", "_"))]) {
    const r = spawnSync("find", [dir, "-type", "f", "-exec", "chmod", "0755", "{}", "+"]);
    if (r.status !== 0) chmodSync(join(dest, "bin", "go"), 0o755);
  }
  return dest;
}

function unzip(zip, dir) {
  let r = spawnSync("unzip", ["-q", "-o", zip, "-d", dir], { stdio: "inherit" });
  if (r.error) r = spawnSync("python3", ["-m", "zipfile", "-e", zip, dir], { stdio: "inherit" });
  if (r.error || r.status !== 0) throw new Error(`could not unpack ${zip}; install \`unzip\` (apt-get install unzip)`);
}
