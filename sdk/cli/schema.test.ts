import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { parseSchemaScope } from "./schema";

describe("parseSchemaScope", () => {
  it("reads --schemas as a list and --all-schemas as the whole database", () => {
    expect(parseSchemaScope("app, billing", undefined)).toEqual({ schemas: ["app", "billing"] });
    expect(parseSchemaScope(undefined, true)).toEqual({ schemas: "all" });
    expect(parseSchemaScope(undefined, undefined)).toEqual({});
  });

  it("refuses both at once, and an empty name, naming the flag", () => {
    expect(() => parseSchemaScope("app", true)).toThrow(InputError);
    expect(() => parseSchemaScope("app", true)).toThrow("--schemas and --all-schemas cannot be combined");
    expect(() => parseSchemaScope("app,,x", undefined)).toThrow('--schemas "app,,x" names an empty schema');
  });
});
