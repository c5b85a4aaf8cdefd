// Placing built executables where other programs look for them.
import { chmodSync, copyFileSync, existsSync, linkSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";

/**
 * Makes `to` the same executable as `from`: a hard link when both are on one filesystem
 * (instant, no extra disk), else a copy. `to` is replaced atomically; nothing is done when
 * it already is the same file.
 * @param {string} from
 * @param {string} to
 */
export function placeExecutable(from, to) {
  if (existsSync(to) && sameFile(from, to)) return;
  const tmp = `${to}.partial`;
  rmSync(tmp, { force: true });
  try {
    linkSync(from, tmp);
  } catch {
    copyFileSync(from, tmp);
    chmodSync(tmp, 0o755);
  }
  renameSync(tmp, to);
}

/**
 * Whether two paths hold the same executable (same inode, or equal content).
 * @param {string} a
 * @param {string} b
 * @returns {boolean}
 */
export function sameFile(a, b) {
  const [sa, sb] = [statSync(a), statSync(b)];
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  return sa.size === sb.size && readFileSync(a).equals(readFileSync(b));
}
