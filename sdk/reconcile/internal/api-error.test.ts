import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { apiStatusCode } from "./api-error";

describe("apiStatusCode", () => {
  it("reads the code of an ApiException", () => {
    expect(apiStatusCode(new ApiException(409, "Conflict", {}, {}))).toBe(409);
  });

  it("is undefined for errors without a numeric code", () => {
    expect(apiStatusCode(new Error("ECONNREFUSED"))).toBeUndefined();
    expect(apiStatusCode(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBeUndefined();
    expect(apiStatusCode(undefined)).toBeUndefined();
  });
});
