import { readFileSync, writeFileSync } from "node:fs";
import type { Side, TrafficSwitch } from "../../sdk/upgrade/traffic";

/**
 * The application's own configuration as the traffic switch: a file naming the side it connects
 * to (what a Kubernetes Secret switch does, without a cluster). Cannot pause.
 */
export function fileTrafficSwitch(path: string, initial?: Side): TrafficSwitch & { side(): Side } {
  if (initial) writeFileSync(path, initial);
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
      writeFileSync(path, s);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

