import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Side, TrafficSwitch } from "../../sdk/upgrade/traffic";

/**
 * The application's own configuration as the traffic switch: a file naming the side it connects
 * to (what a Kubernetes Secret switch does, without a cluster). Cannot pause. Every write replaces
 * the file whole (a temporary file in the same directory, renamed over it), so a reader in another
 * process sees the old side or the new one, never an empty or half-written file.
 */
export function fileTrafficSwitch(path: string, initial?: Side): TrafficSwitch & { side(): Side } {
  const write = (s: Side): void => {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, s);
    renameSync(tmp, path);
  };
  if (initial) write(initial);
  const side = (): Side => {
    try {
      return readFileSync(path, "utf8").trim() === "green" ? "green" : "blue";
    } catch {
      return "blue";
    }
  };
  return {
    kind: "app-config-file",
    canPause: false,
    side,
    current: () => Promise.resolve(side()),
    pause: () => Promise.resolve(),
    resume: () => Promise.resolve(),
    pointTo: (s) => {
      write(s);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

