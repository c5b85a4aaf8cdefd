import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { describeConnection, redactUrl, toClientConfig } from "./connection";

describe("redactUrl", () => {
  it("hides the password and password-like parameters", () => {
    expect(redactUrl("postgres://app:hunter2@db:5432/app?sslpassword=x&sslmode=require")).toBe(
      "postgres://app:***@db:5432/app?sslpassword=***&sslmode=require",
    );
  });
  it("leaves URLs without a password alone", () => {
    expect(redactUrl("postgres://app@db/app")).toBe("postgres://app@db/app");
  });
  it("never echoes an unparseable URL, which may hold a password", () => {
    expect(redactUrl("not a url :hunter2")).toBe("(unparseable connection URL)");
  });
});

describe("describeConnection", () => {
  it("redacts discrete fields", () => {
    expect(describeConnection({ host: "db", user: "app", password: "hunter2", database: "app" })).toBe("postgres://app:***@db:5432/app");
  });
});

describe("toClientConfig", () => {
  it("rejects a non-postgres scheme naming the allowed ones", () => {
    expect(() => toClientConfig("mysql://x@y/z")).toThrow(InputError);
    expect(() => toClientConfig("mysql://x@y/z")).toThrow(/postgres:\/\/ or postgresql:\/\//);
  });
  it("rejects text that is not a URL", () => {
    expect(() => toClientConfig("db.example.com")).toThrow(/not a valid URL/);
  });
  it("maps discrete fields with defaults", () => {
    expect(toClientConfig({ host: "db", user: "u", database: "d" })).toMatchObject({ host: "db", port: 5432, user: "u", database: "d", connectionTimeoutMillis: 10000 });
  });
});
