// What a CI run left on the host. `.ci/run` takes a snapshot before anything starts and checks
// against it at the end (also after an interrupt): every process that carries the run's marker
// ($SETPOINT_CI_RUN in its environment), and every network interface, iptables chain or rule,
// mount, network namespace, top-level cgroup and harness directory in the temporary directory
// that did not exist at the start. Dependency free: it runs even when `npm ci` failed.
//   node .ci/leftovers.mjs snapshot FILE
//   node .ci/leftovers.mjs check FILE [--wait SECONDS]   exit 1 and a list when anything is left
//   node .ci/leftovers.mjs stop FILE     SIGTERM, then SIGKILL, every process of the run (after an
//                                        interrupt), except the real-node harness's sweepers
// On a shared machine another job's real node may be running: whatever belongs to a live
// real-node run that is not this CI run's (its owner lacks the marker) is not counted; the harness
// runs one real node per machine at a time, so the host paths and kube-proxy's chains are its then.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MARKER = "SETPOINT_CI_RUN";
const TMP_PREFIXES = ["setpoint-realnode-", "setpoint-pg-", "setpoint-initdb-", "setpoint-s3-"];
/**
 * The schema engine's initdb templates (sdk/postgres/embedded.ts copyTemplate: `setpoint-initdb-<major>-<uid>`
 * in the scratch directory) are a cache kept across runs on purpose, like the toolchain's: not a
 * leftover, though a half-made one (`….tmp-XXXXXX`) is.
 */
const KEPT_CACHE = /^setpoint-initdb-\d+-\w+$/;
/** Host paths the real-node harness's components use (test/support/real-node/host.ts HOST_PATHS). */
const NODE_HOST_PATHS = ["/run/containerd", "/opt/containerd", "/var/lib/containerd", "/var/lib/cni", "/var/lib/kubelet", "/run/netns", "/var/run/netns"];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

function lines(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

function cgroupHierarchies() {
  try {
    return readdirSync("/sys/fs/cgroup").filter((h) => existsSync(join("/sys/fs/cgroup", h, "cgroup.procs")) || existsSync(join("/sys/fs/cgroup", h, "tasks")));
  } catch {
    return [];
  }
}

/** Everything a run could leave, as comparable strings. */
function hostState() {
  const items = [];
  for (const l of lines(run("ip", ["-o", "link", "show"]))) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(l)?.[1];
    const master = /\smaster\s+(\S+)/.exec(l)?.[1];
    if (name) items.push(`interface ${name}${master ? ` (on ${master})` : ""}`);
  }
  for (const cmd of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle", "raw"]) {
      // A built-in chain's ACCEPT policy is the kernel's default, listed as soon as the table is
      // first read (on a new machine, after this run installed iptables): not something a run left.
      for (const l of lines(run(cmd, ["-w", "-t", table, "-S"]))) if (!/^-P \S+ ACCEPT$/.test(l)) items.push(`${cmd} -t ${table} ${l}`);
    }
  }
  try {
    for (const l of lines(readFileSync("/proc/self/mountinfo", "utf8"))) items.push(`mount ${l.split(" ")[4]}`);
  } catch {
    // no procfs
  }
  for (const dir of ["/run/netns", "/var/run/netns"]) {
    try {
      for (const n of readdirSync(dir)) items.push(`netns ${dir}/${n}`);
    } catch {
      // none
    }
  }
  for (const h of cgroupHierarchies()) {
    try {
      for (const e of readdirSync(join("/sys/fs/cgroup", h), { withFileTypes: true })) if (e.isDirectory()) items.push(`cgroup ${h}/${e.name}`);
    } catch {
      // unreadable hierarchy
    }
  }
  for (const base of [tmpdir(), "/dev/shm"]) {
    try {
      for (const e of readdirSync(base)) if (TMP_PREFIXES.some((p) => e.startsWith(p)) && !KEPT_CACHE.test(e)) items.push(`directory ${join(base, e)}`);
    } catch {
      // none
    }
  }
  return [...new Set(items)];
}

function environOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  } catch {
    return undefined;
  }
}

function ancestors() {
  const pids = new Set();
  let pid = process.pid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    try {
      pid = Number(/^\d+ \(.*\) \S (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1] ?? 0);
    } catch {
      break;
    }
  }
  return pids;
}

/** Processes that carry this run's marker, except this checker and its ancestors (.ci/run itself). */
function markedProcesses(runId) {
  return markedPids(runId).map(({ pid, cmd }) => `process ${pid} ${cmd}`);
}

function markedPids(runId) {
  const mine = ancestors();
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || mine.has(Number(entry))) continue;
    const env = environOf(entry);
    if (!env?.includes(`${MARKER}=${runId}`)) continue;
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim().slice(0, 200);
    } catch {
      continue; // exited meanwhile
    }
    found.push({ pid: Number(entry), cmd });
  }
  return found;
}

/** Live real-node runs that are not this CI run's: what they own is theirs. */
function foreignRuns(runId) {
  const runs = [];
  for (const e of readdirSync(tmpdir())) {
    if (!e.startsWith("setpoint-realnode-") || e === "setpoint-realnode.lock") continue;
    let state;
    try {
      state = JSON.parse(readFileSync(join(tmpdir(), e, "state.json"), "utf8"));
    } catch {
      continue;
    }
    const env = environOf(state.ownerPid);
    if (env && !env.includes(`${MARKER}=${runId}`)) runs.push({ dir: join(tmpdir(), e), ...state });
  }
  return runs;
}

/** Cmdlines of live processes without this run's marker (another job's PostgreSQL servers). */
function foreignCommandLines(runId) {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const env = environOf(entry);
    if (!env || env.includes(`${MARKER}=${runId}`)) continue;
    try {
      out.push(readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " "));
    } catch {
      // exited
    }
  }
  return out;
}

function isForeign(item, runs, foreignCmds) {
  // A PostgreSQL harness directory that a process of another job is using is that job's.
  if (/^directory \S*setpoint-(pg|initdb|s3)-/.test(item)) {
    const dir = item.split(" ")[1] ?? "";
    if (foreignCmds.some((c) => c.includes(dir))) return true;
  }
  if (runs.length === 0) return false;
  for (const r of runs) {
    if (item.includes(r.dir) || item.includes(r.bridge) || item.includes(r.chain) || item.includes(r.cgroupRoot) || item.includes(r.podCidr)) return true;
  }
  // One real node per machine: while a foreign one runs, the node's shared names are its.
  if (/^(iptables|ip6tables) .*\b(KUBE-|CNI-)/.test(item)) return true;
  if (/^interface veth/.test(item)) return true;
  if (/^(netns|cgroup \S+\/k8s\.io$)/.test(item)) return true;
  if (/^(mount|directory) /.test(item) && NODE_HOST_PATHS.some((p) => item.split(" ")[1]?.startsWith(p))) return true;
  return false;
}

function leftovers(snapshot) {
  const before = new Set(snapshot.items);
  const runs = foreignRuns(snapshot.runId);
  const foreignCmds = foreignCommandLines(snapshot.runId);
  const added = hostState().filter((i) => !before.has(i) && !isForeign(i, runs, foreignCmds));
  return [...markedProcesses(snapshot.runId), ...added];
}

const [command, file, ...rest] = process.argv.slice(2);
if (command === "snapshot" && file) {
  const runId = process.env[MARKER];
  if (!runId) {
    console.error(`leftovers: ${MARKER} is not set; .ci/run exports it before taking the snapshot`);
    process.exit(2);
  }
  writeFileSync(file, JSON.stringify({ runId, items: hostState() }));
} else if (command === "check" && file) {
  const snapshot = JSON.parse(readFileSync(file, "utf8"));
  const waitIdx = rest.indexOf("--wait");
  const waitSeconds = waitIdx >= 0 ? Number(rest[waitIdx + 1]) : 0;
  // Watchdogs sweep a killed run right after its owner dies: give them a moment before judging.
  const deadline = Date.now() + waitSeconds * 1000;
  let found = leftovers(snapshot);
  while (found.length > 0 && Date.now() < deadline) {
    spawnSync("sleep", ["2"]);
    found = leftovers(snapshot);
  }
  if (found.length > 0) {
    console.error(`ci: LEFT BEHIND BY THIS RUN (${found.length}):`);
    for (const f of found) console.error(`ci:   ${f}`);
    process.exit(1);
  }
  console.error("ci: nothing of this run is left (processes, interfaces, iptables, mounts, network namespaces, cgroups, harness directories)");
} else if (command === "stop" && file) {
  const { runId } = JSON.parse(readFileSync(file, "utf8"));
  // The sweepers undo a killed real node once its owner is gone: they must outlive it.
  const targets = () => markedPids(runId).filter((p) => !p.cmd.includes("sweep-cli"));
  const signal = (sig) => {
    for (const { pid } of targets()) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  };
  signal("SIGTERM");
  for (let i = 0; i < 15 && targets().length > 0; i++) spawnSync("sleep", ["2"]);
  signal("SIGKILL");
} else {
  console.error("usage: node .ci/leftovers.mjs snapshot FILE | check FILE [--wait SECONDS] | stop FILE");
  process.exit(2);
}
