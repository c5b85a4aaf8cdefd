// CPU time of this Node process and of a PostgreSQL server (postmaster, its live children, and the
// children it has reaped), read from /proc. On a shared machine wall-clock numbers include time
// spent waiting for a CPU; CPU time does not, so the benchmark reports both.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Linux USER_HZ; /proc/<pid>/stat reports times in these ticks. */
const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ..."; comm may contain spaces, so split after the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/**
 * Server CPU milliseconds so far: the postmaster, its live children and the children it reaped. A
 * child reaped while /proc is being scanned would be missed (gone from /proc, not yet in the total
 * read before the scan) and its whole CPU time would then land in the next measurement, so the
 * scan is repeated until the reaped-children total is the same before and after it.
 */
function serverCpuMs(postmasterPid: number): number {
  // After the ')': [0]=state [1]=ppid ... [11]=utime [12]=stime [13]=cutime [14]=cstime.
  for (let attempt = 0; ; attempt++) {
    const own = statFields(postmasterPid);
    if (!own) return NaN;
    let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const f = statFields(Number(entry));
      if (f && Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
    }
    const after = statFields(postmasterPid);
    if (!after || (after[13] === own[13] && after[14] === own[14]) || attempt >= 20) return (ticks * 1000) / TICKS_PER_SECOND;
  }
}

/** PID of the postmaster of a data directory. */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

/** A CPU-time snapshot of this process and the servers. */
export interface CpuSnapshot {
  readonly nodeMs: number;
  readonly serverMs: number;
}

/** Takes a snapshot (Node: all threads of this process, including GC and libuv). */
export function cpuSnapshot(pids: number | readonly number[]): CpuSnapshot {
  const u = process.cpuUsage();
  const list = typeof pids === "number" ? [pids] : pids;
  return { nodeMs: (u.user + u.system) / 1000, serverMs: list.reduce((sum, pid) => sum + serverCpuMs(pid), 0) };
}

/** CPU used between two snapshots, in ms. */
export function cpuSince(before: CpuSnapshot, after: CpuSnapshot): { nodeMs: number; serverMs: number; totalMs: number } {
  const nodeMs = after.nodeMs - before.nodeMs;
  const serverMs = after.serverMs - before.serverMs;
  return { nodeMs, serverMs, totalMs: nodeMs + serverMs };
}
