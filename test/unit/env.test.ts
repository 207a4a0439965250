import { describe, expect, it } from "@jest/globals";
import { ConfigError, parseEnv } from "../../src/config/env.js";
import { appPrivateKey } from "../helpers/keys.js";

const valid = { APP_ID: "123", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s" };

function error(env: Record<string, string>, readFile?: (p: string) => string): string {
  try {
    parseEnv(env, readFile);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("accepted");
}

describe("parseEnv", () => {
  it("applies the documented defaults", () => {
    const c = parseEnv(valid);

    expect(c).toMatchObject({
      appId: "123", githubApiUrl: "https://api.github.com", port: 3000, host: undefined, logLevel: "info",
      redisUrl: undefined, mapPath: "openci-map.yml", role: "all", writeIntervalMs: 1000, reportSettleMs: 1000,
      gitlabUrl: "https://gitlab.com", gitlabToken: undefined, pollIntervalMs: 60_000,
      gitlabPipelinesPerMinute: 25, adminToken: undefined, readToken: undefined,
    });
  });

  it("builds the GitHub Enterprise API root as Probot does", () => {
    expect(parseEnv({ ...valid, GHE_HOST: "ghe.example.org:8443", GHE_PROTOCOL: "http" }).githubApiUrl).toBe("http://ghe.example.org:8443/api/v3");
  });

  it("reads the key from PRIVATE_KEY_PATH and unescapes \\n in PRIVATE_KEY", () => {
    const { PRIVATE_KEY: _pk, ...rest } = valid;
    const fromPath = parseEnv({ ...rest, PRIVATE_KEY_PATH: "/k.pem" }, (p) => (p === "/k.pem" ? appPrivateKey() : ""));
    const escaped = parseEnv({ ...valid, PRIVATE_KEY: appPrivateKey().replace(/\n/g, "\\n") });

    expect(fromPath.privateKey).toBe(appPrivateKey());
    expect(escaped.privateKey).toBe(appPrivateKey());
  });

  it.each([
    ["APP_ID", { APP_ID: "abc" }, "APP_ID must be the numeric GitHub App ID"],
    ["PORT", { PORT: "70000" }, "PORT must be between 0 and 65535"],
    ["OPENCI_ROLE", { OPENCI_ROLE: "both" }, "OPENCI_ROLE must be one of all, web, worker"],
    ["REDIS_URL", { REDIS_URL: "localhost:6379" }, "REDIS_URL must be redis://host:port, redis+cluster://host:port,host:port or redis+sentinel://"],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }, "LOG_LEVEL must be one of trace"],
    ["PRIVATE_KEY", { PRIVATE_KEY: "not a key" }, "PRIVATE_KEY does not look like a PEM private key"],
    ["GHE_PROTOCOL", { GHE_PROTOCOL: "ftp" }, "GHE_PROTOCOL must be https or http"],
    ["OPENCI_ADMIN_TOKEN", { OPENCI_ADMIN_TOKEN: "short" }, "OPENCI_ADMIN_TOKEN must be at least 16 characters"],
    ["OPENCI_READ_TOKEN", { OPENCI_READ_TOKEN: "short" }, "OPENCI_READ_TOKEN must be at least 16 characters"],
    ["OPENCI_GITLAB_PIPELINES_PER_MINUTE", { OPENCI_GITLAB_PIPELINES_PER_MINUTE: "-1" }, "OPENCI_GITLAB_PIPELINES_PER_MINUTE must be 0 (no limit) or more"],
    ["OPENCI_REPORT_SETTLE_MS", { OPENCI_REPORT_SETTLE_MS: "-1" }, "OPENCI_REPORT_SETTLE_MS must be 0 (write each state at once) or more"],
    ["OPENCI_REPORT_SETTLE_MS", { OPENCI_REPORT_SETTLE_MS: "3600000" }, "OPENCI_REPORT_SETTLE_MS must be at most 600000 (10 minutes)"],
    ["OPENCI_REPORT_SETTLE_MS", { OPENCI_REPORT_SETTLE_MS: "1s" }, "OPENCI_REPORT_SETTLE_MS must be a number of milliseconds"],
  ])("names %s when its value is bad", (_name, patch, expected) => {
    expect(error({ ...valid, ...patch })).toContain(expected);
  });

  it("lists every missing variable at once", () => {
    const message = error({});

    expect(message).toContain("APP_ID is required");
    expect(message).toContain("WEBHOOK_SECRET is required");
    expect(message).toContain("PRIVATE_KEY or PRIVATE_KEY_PATH is required");
    expect(message).toContain("See .env.example");
  });

  it("says when PRIVATE_KEY_PATH cannot be read", () => {
    const { PRIVATE_KEY: _pk, ...rest } = valid;

    expect(error({ ...rest, PRIVATE_KEY_PATH: "/nope.pem" }, () => { throw new Error("ENOENT"); })).toContain("PRIVATE_KEY_PATH cannot be read (ENOENT)");
  });
});
