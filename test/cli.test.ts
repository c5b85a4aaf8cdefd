import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, it } from "vitest";

const root = resolve(__dirname, "..");

it("bin/setpoint --version prints the package version from a built checkout", () => {
  const { version } = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { version: string };
  const out = execFileSync(resolve(root, "bin/setpoint"), ["--version"], { encoding: "utf8" });
  expect(out).toBe(`${version}\n`);
});
