// What the real-node harness changes on the host, and how every change is undone: the pod
// bridge, the iptables chain that keeps pod traffic on this machine, kernel settings the node
// components write, mounts and cgroups under the harness's own names, and processes. Each run
// records what it did in `<run dir>/state.json` before doing it, so the next start (or
// `sweepRealNodes`) can undo a run that was killed outright.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isProcessAlive } from "../../../sdk/postgres/embedded";

/** Prefix of every run directory (under the temporary directory). */
export const RUN_PREFIX = "setpoint-realnode-";

/** Lock directory of the one real node a machine runs at a time (holds the owner's pid). */
export const NODE_LOCK = join(tmpdir(), "setpoint-realnode.lock");

/** Removes {@link NODE_LOCK} when the process holding it is gone. */
export function releaseAbandonedLock(): void {
  try {
    const holder = Number(readFileSync(join(NODE_LOCK, "pid"), "utf8"));
    if (Number.isInteger(holder) && holder > 0 && !isProcessAlive(holder)) rmSync(NODE_LOCK, { recursive: true, force: true });
  } catch {
    // no lock, or being created
  }
}

/** Kernel settings the node components may change; restored at teardown. */
export const SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/route_localnet",
  "net/bridge/bridge-nf-call-iptables",
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
];

/**
 * Paths the components create outside the run directory whatever they are configured with
 * (containerd's shim sockets and fifos in /run/containerd and its /opt plugin directory, the CNI
 * cache, the kubelet's log links, containerd's network namespaces, cgroups named after the CRI
 * namespace). Those absent before a run are removed by its teardown.
 */
export const HOST_PATHS = [
  "/run/containerd",
  "/opt/containerd",
  "/var/lib/containerd",
  "/var/lib/cni",
  "/var/log/containers",
  "/var/log/pods",
  "/run/netns",
  "/var/lib/kubelet",
  "/etc/kubernetes",
  "/usr/libexec/kubernetes",
  "/var/run/kubernetes",
];

/** The {@link HOST_PATHS} and the `k8s.io` cgroup of every hierarchy that do not exist now. */
export function absentHostPaths(): string[] {
  const candidates = [...HOST_PATHS, ...cgroupHierarchies().map((h) => join("/sys/fs/cgroup", h, "k8s.io"))];
  return candidates.filter((p) => !existsSync(p));
}

/** Everything a run changes on the host, written before it is changed. */
export interface RunState {
  ownerPid: number;
  /** Bridge the pods' veths attach to (created by the harness). */
  bridge: string;
  /** Pod network, e.g. 10.247.13.0/24. */
  podCidr: string;
  /** iptables chain jumped to from FORWARD. */
  chain: string;
  /** cgroup directory name under every v1 hierarchy (the kubelet's cgroupRoot). */
  cgroupRoot: string;
  /** sysctl values before the run (path under /proc/sys → value). */
  sysctls: Record<string, string>;
  /** Network namespaces in /run/netns before the run (those added later are the pods'). */
  netnsBefore: string[];
  /** Processes started by the run. */
  pids: number[];
  /** {@link absentHostPaths} before the run. */
  absentBefore: string[];
  /** iptables chains before the run, `<command>/<table>/<chain>` (those added later are the run's: kube-proxy's, the kubelet's). */
  chainsBefore: string[];
}

const IPTABLES = ["iptables", "ip6tables"];
const TABLES = ["filter", "nat", "mangle"];

/** Every user-defined chain now, as `<command>/<table>/<chain>`. */
export function iptablesChains(): string[] {
  const chains: string[] = [];
  for (const cmd of IPTABLES) {
    for (const table of TABLES) {
      const r = run(cmd, ["-w", "-t", table, "-S"]);
      if (r.status !== 0) continue;
      for (const line of r.out.split("\n")) if (line.startsWith("-N ")) chains.push(`${cmd}/${table}/${line.slice(3).trim()}`);
    }
  }
  return chains;
}

/** Removes the chains that are not in `before`, with every rule that jumps to them. */
function removeNewChains(before: readonly string[]): void {
  const added = iptablesChains().filter((c) => !before.includes(c));
  for (const cmd of IPTABLES) {
    for (const table of TABLES) {
      const mine = new Set(added.filter((c) => c.startsWith(`${cmd}/${table}/`)).map((c) => c.split("/")[2]!));
      if (mine.size === 0) continue;
      for (const chain of mine) run(cmd, ["-w", "-t", table, "-F", chain]);
      // Jumps from the chains that stay, by rule number, last first.
      const listing = run(cmd, ["-w", "-t", table, "-S"]).out;
      const parents = new Set(listing.split("\n").filter((l) => l.startsWith("-P ") || l.startsWith("-N ")).map((l) => l.split(" ")[1]!));
      for (const parent of parents) {
        if (mine.has(parent)) continue;
        const rules = run(cmd, ["-w", "-t", table, "-L", parent, "--line-numbers", "-n"]).out.split("\n").slice(2);
        const numbers = rules.map((l) => l.trim().split(/\s+/)).filter((f) => mine.has(f[1] ?? "")).map((f) => Number(f[0]));
        for (const n of numbers.sort((a, b) => b - a)) run(cmd, ["-w", "-t", table, "-D", parent, String(n)]);
      }
      for (const chain of mine) run(cmd, ["-w", "-t", table, "-X", chain]);
    }
  }
}

/** Runs a command; returns its exit status and output (never throws for a non-zero exit). */
export function run(cmd: string, args: string[], input?: string): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, timeout: 120_000 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

/** Runs a command and throws with its output when it fails. */
export function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.out.trim().slice(-2000)}`);
  return r.out;
}

/** Current values of {@link SYSCTLS} that exist here. */
export function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SYSCTLS) {
    try {
      out[key] = readFileSync(join("/proc/sys", key), "utf8").trim();
    } catch {
      // not present on this kernel
    }
  }
  return out;
}

/** Writes the recorded values back (ignoring settings this sandbox does not let us write). */
export function restoreSysctls(values: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) {
    try {
      if (readFileSync(join("/proc/sys", key), "utf8").trim() !== value) writeFileSync(join("/proc/sys", key), value);
    } catch {
      // read-only here
    }
  }
}

/** Adds the chain that drops any forwarded pod traffic not both from and to the pod network. */
export function installForwardRule(chain: string, bridge: string, podCidr: string): void {
  must("iptables", ["-w", "-N", chain]);
  // Nothing from the pods leaves the pod network, nothing from elsewhere enters it.
  must("iptables", ["-w", "-A", chain, "-s", podCidr, "!", "-d", podCidr, "-j", "DROP"]);
  must("iptables", ["-w", "-A", chain, "!", "-s", podCidr, "-d", podCidr, "-j", "DROP"]);
  must("iptables", ["-w", "-A", chain, "-i", bridge, "!", "-o", bridge, "-j", "DROP"]);
  must("iptables", ["-w", "-I", "FORWARD", "1", "-j", chain]);
}

function removeForwardRule(chain: string): void {
  while (run("iptables", ["-w", "-D", "FORWARD", "-j", chain]).status === 0) {
    // every copy of the jump
  }
  run("iptables", ["-w", "-F", chain]);
  run("iptables", ["-w", "-X", chain]);
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  const points = lines.map((l) => l.split(" ")[4] ?? "").filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (lazily, so a busy mount never blocks teardown). */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const p of points) run("umount", ["-l", p]);
  }
}

/** Kills `pid` and waits briefly for it to go. */
function kill(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

/** Processes whose command line mentions `needle` (e.g. the run directory: shims, containers' parents). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // exited
    }
  }
  return pids;
}

/** Every process in the cgroup `name` of any v1 hierarchy (the pods' containers). */
function processesInCgroup(name: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    try {
      for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (p !== "") pids.add(Number(p));
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      // gone
    }
  };
  for (const h of cgroupHierarchies()) walk(join("/sys/fs/cgroup", h, name));
  return [...pids];
}

function cgroupHierarchies(): string[] {
  try {
    return readdirSync("/sys/fs/cgroup").filter((h) => statSync(join("/sys/fs/cgroup", h)).isDirectory());
  } catch {
    return [];
  }
}

/** Creates the cgroup `name` in every v1 hierarchy (the kubelet requires its cgroupRoot to exist). */
export function createCgroupRoot(name: string): void {
  for (const h of cgroupHierarchies()) run("mkdir", ["-p", join("/sys/fs/cgroup", h, name)]);
}

/** Removes a cgroup directory and its children, deepest first. */
function removeCgroupDir(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupDir(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // not there, or still busy (reported by the leftovers check)
  }
}

/** Removes the cgroup tree `name` from every hierarchy. */
function removeCgroupTree(name: string): void {
  for (const h of cgroupHierarchies()) removeCgroupDir(join("/sys/fs/cgroup", h, name));
}

/**
 * Undoes everything `state` records, in an order that works after a clean stop and after a
 * killed run alike: processes (the run's, the containers' and shims'), pod network namespaces,
 * mounts, the iptables chain and kube-proxy's rules, the bridge, cgroups, kernel settings, the
 * kubelet's log links and the run directory.
 * @param kubeProxy the kube-proxy binary, for `--cleanup` of its rules, when known.
 */
export function undoRun(dir: string, state: RunState, kubeProxy?: string): void {
  for (const pid of state.pids) kill(pid);
  for (let round = 0; round < 3; round++) {
    const left = [...processesMentioning(dir), ...processesInCgroup(state.cgroupRoot)].filter((p) => p !== process.pid);
    if (left.length === 0) break;
    for (const pid of left) kill(pid);
    spawnSync("sleep", ["0.5"]);
  }
  // Pod network namespaces: those containerd created during the run.
  const netnsDir = "/run/netns";
  if (existsSync(netnsDir)) {
    for (const ns of readdirSync(netnsDir)) {
      if (!ns.startsWith("cni-") || state.netnsBefore.includes(ns)) continue;
      run("umount", ["-l", join(netnsDir, ns)]);
      rmSync(join(netnsDir, ns), { force: true });
    }
  }
  unmountUnder(dir);
  if (kubeProxy !== undefined && existsSync(kubeProxy)) run(kubeProxy, ["--cleanup", "--proxy-mode=iptables"]);
  removeForwardRule(state.chain);
  // What kube-proxy's cleanup leaves (KUBE-FIREWALL, in both families) and anything else added.
  removeNewChains(state.chainsBefore ?? []);
  run("ip", ["link", "delete", state.bridge]);
  removeCgroupTree(state.cgroupRoot);
  for (const path of state.absentBefore ?? []) {
    if (!existsSync(path)) continue;
    if (path.startsWith("/sys/fs/cgroup/")) {
      removeCgroupDir(path);
    } else {
      unmountUnder(path);
      rmSync(path, { recursive: true, force: true });
    }
  }
  restoreSysctls(state.sysctls);
  // The kubelet links container logs into /var/log/containers; links into this run go.
  const links = "/var/log/containers";
  if (existsSync(links)) {
    for (const l of readdirSync(links)) {
      try {
        if (readlinkSync(join(links, l)).startsWith(dir)) rmSync(join(links, l), { force: true });
      } catch {
        // not a link
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Undoes every run whose owner process is gone (killed before its teardown). Returns how many.
 * @param kubeProxy the kube-proxy binary, for `--cleanup`.
 */
export function sweepRealNodes(kubeProxy?: string, base: string = tmpdir()): number {
  let swept = 0;
  releaseAbandonedLock();
  for (const entry of readdirSync(base)) {
    if (!entry.startsWith(RUN_PREFIX) || join(base, entry) === NODE_LOCK) continue;
    const dir = join(base, entry);
    let state: RunState;
    try {
      state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as RunState;
    } catch {
      // A run killed before it wrote its state changed nothing yet.
      if (Date.now() - statSync(dir).mtimeMs > 60_000) rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (isProcessAlive(state.ownerPid)) continue;
    undoRun(dir, state, kubeProxy);
    swept++;
  }
  return swept;
}

/** What a run left on the host (empty when teardown was complete), for the tests to assert. */
export function leftovers(dir: string, state: RunState): string[] {
  const found: string[] = [];
  if (existsSync(dir)) found.push(`directory ${dir}`);
  if (mountsUnder(dir).length > 0) found.push(`mounts under ${dir}`);
  const procs = processesMentioning(dir);
  if (procs.length > 0) found.push(`processes ${procs.join(" ")}`);
  if (run("ip", ["link", "show", state.bridge]).status === 0) found.push(`interface ${state.bridge}`);
  if (run("iptables", ["-w", "-S", state.chain]).status === 0) found.push(`iptables chain ${state.chain}`);
  for (const chain of iptablesChains()) if (!state.chainsBefore.includes(chain)) found.push(`iptables chain ${chain}`);
  for (const h of cgroupHierarchies()) if (existsSync(join("/sys/fs/cgroup", h, state.cgroupRoot))) found.push(`cgroup ${h}/${state.cgroupRoot}`);
  for (const path of state.absentBefore) if (existsSync(path)) found.push(`path ${path}`);
  const now = readSysctls();
  for (const [k, v] of Object.entries(state.sysctls)) if (now[k] !== undefined && now[k] !== v) found.push(`sysctl ${k}=${now[k]} (was ${v})`);
  return found;
}
