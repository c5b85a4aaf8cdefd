import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The version of the installed `setpoint` package, read from its package.json. */
export function packageVersion(): string {
  // Works from both the source tree (sdk/) and the build (dist/sdk/).
  for (const up of ["..", "../.."]) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "setpoint" && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return "0.0.0-unknown";
}
