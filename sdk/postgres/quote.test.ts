import { describe, expect, it } from "vitest";
import { quoteDollar, quoteIdent, quoteIdentIfNeeded, quoteLiteral, quoteNullableLiteral, quoteQualified } from "./quote";

describe("quoteIdent", () => {
  it.each([
    ["users", '"users"'],
    ['we"ird', '"we""ird"'],
    ["Mixed Case", '"Mixed Case"'],
  ])("%s -> %s", (input, expected) => expect(quoteIdent(input)).toBe(expected));

  it("rejects empty names and NUL bytes", () => {
    expect(() => quoteIdent("")).toThrow(/empty/);
    expect(() => quoteIdent("a\0b")).toThrow(/NUL/);
  });
});

describe("quoteIdentIfNeeded", () => {
  it.each([
    ["users", "users"],
    ["user", '"user"'],
    ["Users", '"Users"'],
    ["a b", '"a b"'],
    ["_x1$", "_x1$"],
  ])("%s -> %s", (input, expected) => expect(quoteIdentIfNeeded(input)).toBe(expected));
});

describe("quoteLiteral", () => {
  it.each([
    ["plain", "'plain'"],
    ["it's", "'it''s'"],
    ["a\\b", "E'a\\\\b'"],
    ["it's a\\b", "E'it''s a\\\\b'"],
  ])("%s -> %s", (input, expected) => expect(quoteLiteral(input)).toBe(expected));

  it("renders null as NULL", () => expect(quoteNullableLiteral(null)).toBe("NULL"));
  it("rejects NUL bytes", () => expect(() => quoteLiteral("\0")).toThrow(/NUL/));
});

it("quoteQualified joins schema and name", () => {
  expect(quoteQualified("app", "t")).toBe('"app"."t"');
});

describe("quoteDollar", () => {
  it("dollar-quotes with a tag the body does not contain", () => {
    expect(quoteDollar("BEGIN NULL; END")).toBe("$sp$BEGIN NULL; END$sp$");
    expect(quoteDollar("x $sp$ y")).toBe("$sp0$x $sp$ y$sp0$");
    expect(quoteDollar("$sp$ $sp0$")).toBe("$sp1$$sp$ $sp0$$sp1$");
    expect(() => quoteDollar("a\0b")).toThrow(TypeError);
  });
});
