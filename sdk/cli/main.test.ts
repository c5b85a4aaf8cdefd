import { describe, expect, it } from "vitest";
import { HELP, SCHEMA_FLAGS, UPGRADE_RUN_FLAGS } from "./args";
import { main, USAGE } from "./main";
import { SCHEMA_FLAG_SPEC } from "./schema";
import { UPGRADE_FLAG_SPEC } from "./upgrade";
import { packageVersion } from "../version";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) }, out, err };
}

describe("setpoint CLI", () => {
  it("--version prints the package version", async () => {
    const c = capture();
    expect(await main(["--version"], c.io)).toBe(0);
    expect(c.out.join("")).toBe(`${packageVersion()}\n`);
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("--help prints usage and exits 0; no command prints usage and exits 1", async () => {
    const help = capture();
    expect(await main(["--help"], help.io)).toBe(0);
    expect(help.out.join("")).toContain("Usage: setpoint");
    const none = capture();
    expect(await main([], none.io)).toBe(1);
  });

  it("--help shows the same flag lists as the subcommands' help, naming every flag the parsers accept", () => {
    // One list feeds both: the usage cannot drift from `schema plan --help` or `upgrade run --help`.
    expect(USAGE).toContain(SCHEMA_FLAGS);
    expect(HELP["schema plan"]).toContain(SCHEMA_FLAGS);
    expect(HELP["schema apply"]).toContain(SCHEMA_FLAGS);
    expect(USAGE).toContain(UPGRADE_RUN_FLAGS);
    expect(HELP["upgrade run"]).toContain(UPGRADE_RUN_FLAGS);
    const flags = (spec: object) => Object.keys(spec).map((f) => `--${f}`);
    // Each flag as a whole word (--schema is not --schemas).
    const missing = (text: string, names: string[]) => names.filter((f) => !new RegExp(`${f}(?![\\w-])`).test(text));
    expect(missing(USAGE, flags(SCHEMA_FLAG_SPEC))).toEqual([]);
    expect(missing(USAGE, flags(UPGRADE_FLAG_SPEC))).toEqual([]);
    expect(missing(SCHEMA_FLAGS, flags(SCHEMA_FLAG_SPEC).filter((f) => !["--format", "--yes", "--out"].includes(f)))).toEqual([]);
  });

  it("an unknown command names itself and exits 1", async () => {
    const c = capture();
    expect(await main(["frobnicate"], c.io)).toBe(1);
    expect(c.err.join("")).toContain('unknown command "frobnicate"');
  });
});
