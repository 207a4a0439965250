import { describe, expect, it } from "@jest/globals";
import { classifyHttpError } from "../../src/forge/errors.js";

const http = (status: number, headers: Record<string, string> = {}, message = "m") => ({ status, message, response: { headers, data: { message } } });

describe("classifyHttpError", () => {
  it.each([
    [http(404), "config"],
    [http(422), "config"],
    [http(401), "config"],
    [http(403), "config"],
    [http(500), "transient"],
    [http(502), "transient"],
    [http(408), "transient"],
    [new Error("socket hang up"), "transient"],
    [http(429), "rate_limited"],
    [http(403, { "retry-after": "60" }), "rate_limited"],
    [http(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000" }), "rate_limited"],
  ])("%j is %s", (error, kind) => {
    expect(classifyHttpError(error, "calling").kind).toBe(kind);
  });

  it("takes the wait from retry-after, else from the rate-limit reset", () => {
    expect(classifyHttpError(http(429, { "retry-after": "7" }), "x").retryAfterMs).toBe(7000);
    expect(classifyHttpError(http(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "100" }), "x", 40_000).retryAfterMs).toBe(60_000);
  });

  it("reads GitLab's RateLimit-* headers as well (a 429 without Retry-After, or a 403 with the budget spent)", () => {
    const spent = { "ratelimit-remaining": "0", "ratelimit-reset": "100" };
    expect(classifyHttpError(http(429, spent), "x", 40_000).retryAfterMs).toBe(60_000);
    expect(classifyHttpError(http(403, spent), "x", 40_000).kind).toBe("rate_limited");
    expect(classifyHttpError(http(403, { "ratelimit-remaining": "5", "ratelimit-reset": "100" }), "x", 40_000).kind).toBe("config");
  });

  it("keeps GitHub's message for a person to read", () => {
    expect(classifyHttpError(http(422, {}, "Unexpected inputs provided: [\"a\"]"), "dispatching").message)
      .toBe("dispatching: 422 Unexpected inputs provided: [\"a\"]");
  });
});
