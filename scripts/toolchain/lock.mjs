// A directory lock so concurrent `npm run toolchain` runs (parallel CI jobs on one machine)
// do not build into the same cache entry at once.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const POLL_MS = 2000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * Takes `<path>` as a lock (a directory holding the owner's pid), waiting while another live
 * process holds it and taking over from a dead one.
 * @param {string} path
 * @param {(msg: string) => void} say
 * @returns {Promise<() => void>} release function
 */
export async function acquireLock(path, say) {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, "pid"), String(process.pid));
      const release = () => rmSync(path, { recursive: true, force: true });
      process.once("exit", release);
      return () => {
        process.removeListener("exit", release);
        release();
      };
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(path, "pid"), "utf8"));
    } catch {
      // the owner is between mkdir and writing its pid, or just released
    }
    if (Number.isInteger(owner) && !alive(owner)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      say(`waiting for another toolchain run (pid ${owner}) holding ${path}`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
