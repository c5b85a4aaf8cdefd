import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, onTestFinished, test } from "vitest";
import { fileTrafficSwitch } from "../support/upgrade-switch";

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "setpoint-file-switch-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A writer in another process (test/fixtures/upgrade-child.ts) reads the side while the engine
// switches it: the file must be replaced whole, never truncated and rewritten in place, or that
// reader can see it empty.
test("the file traffic switch replaces its file whole: a reader of the old file keeps the old side, no temporary file is left", async () => {
  const path = join(tempDir(), "side");
  const sw = fileTrafficSwitch(path, "blue");
  const before = openSync(path, "r");
  try {
    await sw.pointTo("green");
    // An in-place write truncates the file the open descriptor reads; a rename leaves it whole.
    expect(readFileSync(before, "utf8")).toBe("blue");
  } finally {
    closeSync(before);
  }
  expect(readFileSync(path, "utf8")).toBe("green");
  expect(await sw.current()).toBe("green");
  expect(sw.side()).toBe("green");
  expect(readdirSync(join(path, ".."))).toEqual(["side"]);

  await sw.pointTo("blue");
  expect(sw.side()).toBe("blue");
  expect(readdirSync(join(path, ".."))).toEqual(["side"]);
});
