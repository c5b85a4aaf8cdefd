import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { confValue, readParameters } from "./parameters";

const dir = mkdtempSync(join(tmpdir(), "setpoint-parameters-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the cluster's parameters for a new data directory", () => {
  it("quotes a value as ALTER SYSTEM writes it in postgresql.auto.conf, and refuses what a configuration line cannot carry", () => {
    expect(confValue("16MB")).toBe("'16MB'");
    expect(confValue("it's")).toBe("'it''s'");
    expect(confValue("a\\b")).toBe("'a\\\\b'");
    expect(() => confValue("a\nb")).toThrow(/line break/);
    expect(() => confValue("a\0b")).toThrow(/NUL/);
  });

  it("reads parameters.json in name order; none when the file is absent; a named error when it is not an object of strings", () => {
    const file = join(dir, "parameters.json");
    expect(readParameters(undefined)).toEqual([]);
    expect(readParameters(file)).toEqual([]);
    writeFileSync(file, JSON.stringify({ work_mem: "8MB", max_connections: "75" }));
    expect(readParameters(file)).toEqual([
      ["max_connections", "75"],
      ["work_mem", "8MB"],
    ]);
    for (const bad of ["{", "[]", JSON.stringify({ max_connections: 75 })]) {
      writeFileSync(file, bad);
      expect(() => readParameters(file)).toThrow(InputError);
    }
    writeFileSync(file, "{");
    expect(() => readParameters(file)).toThrow(/SETPOINT_PARAMETERS_SOURCE/);
  });
});
