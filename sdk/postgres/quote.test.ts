import { describe, expect, it } from "vitest";
import { dollarQuote, quoteIdent, quoteIdentIfNeeded, quoteLiteral, quoteNullableLiteral, quoteQualified, readableSql } from "./quote";

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

describe("dollarQuote", () => {
  it("picks a tag the body cannot end early", () => {
    expect(dollarQuote("SELECT 1")).toBe("$sp$SELECT 1$sp$");
    expect(dollarQuote("a $sp$ b")).toBe("$sp0$a $sp$ b$sp0$");
    // The body's tail and the closing tag must not form a tag either.
    expect(dollarQuote("x$sp")).toBe("$sp0$x$sp$sp0$");
    expect(() => dollarQuote("a\0")).toThrow(/NUL/);
  });
});

describe("readableSql", () => {
  it.each([
    ['ALTER TABLE "public"."books" DROP COLUMN "title"', "ALTER TABLE public.books DROP COLUMN title"],
    ['CREATE TABLE "public"."Order" ("user" text, "a""b" int)', 'CREATE TABLE public."Order" ("user" text, "a""b" int)'],
    [`COMMENT ON TABLE "public"."t" IS 'say "hi"'`, `COMMENT ON TABLE public.t IS 'say "hi"'`],
    [`SELECT E'it\\'s "x"', "y"`, `SELECT E'it\\'s "x"', y`],
    ['CREATE FUNCTION "f"() RETURNS text AS $body$ SELECT "x" $body$ LANGUAGE sql', 'CREATE FUNCTION f() RETURNS text AS $body$ SELECT "x" $body$ LANGUAGE sql'],
    ['SELECT 1 -- "keep"\nFROM "t"', 'SELECT 1 -- "keep"\nFROM t'],
  ])("%s", (input, expected) => expect(readableSql(input)).toBe(expected));
});
