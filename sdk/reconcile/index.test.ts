import { describe, expect, it } from "vitest";
import { SetpointError } from "../errors";
import { isTerminalError, parseRequestKey, requestKey, TerminalError } from "./index";

describe("TerminalError", () => {
  it("is a SetpointError with a stable code and keeps its cause", () => {
    const cause = new Error("bad spec");
    const err = new TerminalError("spec.sql is empty", { cause });
    expect(err).toBeInstanceOf(SetpointError);
    expect(err.code).toBe("TERMINAL");
    expect(err.name).toBe("TerminalError");
    expect(err.cause).toBe(cause);
  });

  it("is recognised directly and through a cause chain, not by message", () => {
    expect(isTerminalError(new TerminalError("x"))).toBe(true);
    expect(isTerminalError(new Error("wrapped", { cause: new TerminalError("x") }))).toBe(true);
    expect(isTerminalError(new Error("TerminalError"))).toBe(false);
    expect(isTerminalError("TerminalError")).toBe(false);
    const loop = new Error("a");
    (loop as { cause?: unknown }).cause = loop;
    expect(isTerminalError(loop)).toBe(false);
  });
});

describe("request keys", () => {
  it("round-trip namespaced and cluster-scoped requests", () => {
    expect(requestKey({ namespace: "db", name: "app" })).toBe("db/app");
    expect(requestKey({ namespace: "", name: "cluster-wide" })).toBe("cluster-wide");
    expect(parseRequestKey("db/app")).toEqual({ namespace: "db", name: "app" });
    expect(parseRequestKey("cluster-wide")).toEqual({ namespace: "", name: "cluster-wide" });
  });
});
