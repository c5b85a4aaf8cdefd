// `npm run toolchain` after a failed cold build: a group whose build failed leaves no cache entry
// that looks complete (no stamp), the groups independent of it are built and cached, the groups
// after it are not started, and the next run builds only what is missing. The `go` here is a
// stand-in on PATH (a shell script that "builds" executables that print their version), so the
// test exercises the toolchain script's own bookkeeping without a real 40-minute build.
// Groups: kube (fails), node (after kube), s3 (independent).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const script = resolve(__dirname, "../../scripts/toolchain/index.mjs");

// Answers `go env GOVERSION`, and for `go build ... -o OUT pkgs...` writes an executable per
// package (or OUT itself for one package into a file) that prints a version line for its name.
// Fails every build run inside a directory named in $FAKE_GO_FAIL_IN (a wrapper module's name).
const FAKE_GO = `#!/bin/sh
if [ "$1" = env ]; then echo go1.26.8; exit 0; fi
if [ "$1" = mod ]; then mkdir -p "$FAKE_MODULE_DIR/weed"; printf '{"Dir": "%s"}\\n' "$FAKE_MODULE_DIR"; exit 0; fi
if [ "$1" != build ]; then echo "fake go: unexpected $*" >&2; exit 2; fi
case "$PWD" in *"/$FAKE_GO_FAIL_IN") echo "fake go: build failed in $PWD" >&2; exit 1;; esac
out=""; pkgs=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2;;
    -p|-ldflags) shift 2;;
    -*) shift;;
    build) shift;;
    *) pkgs="$pkgs $1"; shift;;
  esac
done
write() {
  printf '#!/bin/sh\\ncase "$(basename "$0")" in\\n  etcd) echo "etcd Version: 3.6.5";;\\n  coredns) echo "CoreDNS-1.12.4";;\\n  *) echo "Kubernetes v1.34.1";;\\nesac\\n' > "$1"
  chmod 755 "$1"
}
case "$out" in
  */) for p in $pkgs; do write "$out$(basename "$p")"; done;;
  *) write "$out";;
esac
`;

let scratch: string;
let env: NodeJS.ProcessEnv;

function toolchain(failIn = "", args = ["--only=kube,node,s3"]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [script, ...args], {
    env: { ...env, FAKE_GO_FAIL_IN: failIn },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function groupDir(group: string): string {
  const d = readdirSync(join(scratch, "toolchain")).find((e) => e.startsWith(`${group}-`));
  if (!d) throw new Error(`no ${group} entry in ${join(scratch, "toolchain")}`);
  return join(scratch, "toolchain", d);
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "setpoint-toolchain-test-"));
  const bin = join(scratch, "fake-bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "go"), FAKE_GO);
  chmodSync(join(bin, "go"), 0o755);
  env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    SETPOINT_TOOLCHAIN_DIR: join(scratch, "toolchain"),
    PULUMI_HOME: join(scratch, "pulumi-home"),
    SETPOINT_TOOLCHAIN_JOBS: "2",
    FAKE_MODULE_DIR: join(scratch, "seaweedfs-module"),
  };
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("npm run toolchain after a failed build", () => {
  it("leaves no stamp for the failed group, does not start the group after it, still builds the independent ones, and says what to do", () => {
    const r = toolchain("kube-apiserver");
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/building failed/);
    expect(r.output).toMatch(/kube: .*exited with 1; see .*kube-apiserver\+kube-controller-manager\.log/);
    expect(r.output).toMatch(/not built because of that: node/);
    expect(r.output).toMatch(/built and cached: s3 \(the next run builds only what failed\)/);
    expect(JSON.parse(readFileSync(join(groupDir("s3"), "stamp.json"), "utf8")).group).toBe("s3");
    const kube = groupDir("kube");
    expect(existsSync(join(kube, "stamp.json"))).toBe(false);
    // etcd (its own build, before the servers) is complete and kept; the failed build left nothing.
    expect(readdirSync(join(kube, "bin")).sort()).toEqual(["etcd"]);
    expect(readdirSync(join(scratch, "toolchain")).some((e) => e.startsWith("node-"))).toBe(false);
    expect(readdirSync(join(scratch, "toolchain")).some((e) => /^[0-9a-f]{16}$/.test(e) && existsSync(join(scratch, "toolchain", e, "env.json")))).toBe(false);
  });

  it("builds only what is missing on the next run, then is warm", () => {
    const etcd = join(groupDir("kube"), "bin", "etcd");
    const etcdBefore = readFileSync(etcd, "utf8");
    writeFileSync(etcd, `${etcdBefore}# kept\n`); // a rebuild would overwrite this marker

    const second = toolchain();
    expect(second.status).toBe(0);
    expect(second.output).toMatch(/building kube, node with/);
    expect(second.output).toMatch(/built kube \(kube-apiserver\+kube-controller-manager\)/);
    expect(second.output).toMatch(/built node \(kubelet\+kube-proxy\+kube-scheduler, pause, coredns\)/);
    expect(readFileSync(etcd, "utf8")).toMatch(/# kept/);
    const stamp = JSON.parse(readFileSync(join(groupDir("kube"), "stamp.json"), "utf8"));
    expect(stamp.versions).toEqual({ "kube-apiserver": "v1.34.1", "kube-controller-manager": "v1.34.1", etcd: "3.6.5" });
    expect(readdirSync(join(groupDir("node"), "bin")).sort()).toEqual(["coredns", "kube-proxy", "kube-scheduler", "kubelet", "pause"]);

    const third = toolchain("kube-apiserver"); // a build now would fail: nothing is built
    expect(third.status).toBe(0);
    expect(third.output).toMatch(/toolchain: cached in/);
    const envFile = third.output.match(/env: (\S+env\.json)/)?.[1];
    expect(envFile).toBeDefined();
    const tools = JSON.parse(readFileSync(envFile!, "utf8")).tools as Record<string, { path: string; version: string }>;
    expect(Object.keys(tools).sort()).toEqual(["coredns", "etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler", "kubelet", "pause", "weed"]);
    for (const t of Object.values(tools)) expect(existsSync(t.path)).toBe(true);
  });

  it("refuses a bad group count, naming the option and what it accepts", () => {
    for (const args of [["--jobs=0"], ["--jobs=two"]]) {
      const r = toolchain("", args);
      expect(r.status).toBe(1);
      expect(r.output).toMatch(/--jobs must be a positive integer/);
    }
    const r = spawnSync(process.execPath, [script, "--only=kube"], { env: { ...env, SETPOINT_TOOLCHAIN_JOBS: "-1", SETPOINT_TOOLCHAIN_DIR: join(scratch, "other") }, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toMatch(/SETPOINT_TOOLCHAIN_JOBS must be a positive integer, got "-1"/);
  });
});
