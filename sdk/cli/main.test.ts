import { describe, expect, it } from "vitest";
import { main } from "./main";
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

  it("an unknown command names itself and exits 1", async () => {
    const c = capture();
    expect(await main(["frobnicate"], c.io)).toBe(1);
    expect(c.err.join("")).toContain('unknown command "frobnicate"');
  });
});
