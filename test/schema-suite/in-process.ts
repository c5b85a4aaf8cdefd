import { main } from "../../sdk/cli/main";
import type { CliDriver } from "./runner";

/** Calls the CLI's `main()` in this process: the sources as they are, no build needed. */
export function inProcessDriver(): CliDriver {
  return async (args) => {
    let stdout = "";
    let stderr = "";
    const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  };
}
