import { describe, expect, it } from "@jest/globals";
import { parseEnv } from "../../src/config/env.js";
import { mapOptionsOf } from "../../src/map/map-options.js";
import { watchTickMs } from "../../src/workers/watch.js";
import { appPrivateKey } from "../helpers/keys.js";
import { configError } from "../helpers/config-error.js";

const valid = { APP_ID: "123", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s" };

const error = (env: Record<string, string>): string => configError({ ...valid, ...env });

describe("OPENCI_WATCH_INTERVAL_MS and OPENCI_WATCH_MIN_INTERVAL_MS", () => {
  it("default to 5 minutes and a 10 s floor, which the map's watch.interval is held to as well", () => {
    const c = parseEnv(valid);

    expect(c).toMatchObject({ watchIntervalMs: 300_000, minWatchIntervalMs: 10_000 });
    expect(mapOptionsOf(c).minWatchIntervalMs).toBe(10_000);
  });

  it("take any interval at or above the floor", () => {
    expect(parseEnv({ ...valid, OPENCI_WATCH_INTERVAL_MS: "10000" }).watchIntervalMs).toBe(10_000);
    expect(parseEnv({ ...valid, OPENCI_WATCH_INTERVAL_MS: "120000" }).watchIntervalMs).toBe(120_000);
  });

  it.each([
    [{ OPENCI_WATCH_INTERVAL_MS: "9999" }, "OPENCI_WATCH_INTERVAL_MS must be at least 10000 (10 s, OPENCI_WATCH_MIN_INTERVAL_MS)"],
    [{ OPENCI_WATCH_INTERVAL_MS: "0" }, "OPENCI_WATCH_INTERVAL_MS must be at least 10000"],
    [{ OPENCI_WATCH_INTERVAL_MS: "5m" }, "OPENCI_WATCH_INTERVAL_MS must be a number of milliseconds"],
    [{ OPENCI_WATCH_INTERVAL_MS: "1500.5" }, "OPENCI_WATCH_INTERVAL_MS must be a whole number of milliseconds"],
    [{ OPENCI_WATCH_MIN_INTERVAL_MS: "50" }, "OPENCI_WATCH_MIN_INTERVAL_MS must be at least 100"],
    [{ OPENCI_WATCH_MIN_INTERVAL_MS: "500", OPENCI_WATCH_INTERVAL_MS: "400" }, "OPENCI_WATCH_INTERVAL_MS must be at least 500 (0.5 s, OPENCI_WATCH_MIN_INTERVAL_MS)"],
  ])("refuse %j, saying why", (patch, expected) => {
    expect(error(patch)).toContain(expected);
  });

  it("go lower only when the floor is lowered (tests, a local git host)", () => {
    const c = parseEnv({ ...valid, OPENCI_WATCH_MIN_INTERVAL_MS: "200", OPENCI_WATCH_INTERVAL_MS: "300" });

    expect(c).toMatchObject({ watchIntervalMs: 300, minWatchIntervalMs: 200 });
  });

  it.each([[10_000, 5_000], [200, 100], [100, 100], [60_000, 5_000], [3_000, 1_500]])("a floor of %i ms ticks every %i ms", (floor, tick) => {
    expect(watchTickMs(floor)).toBe(tick);
  });
});

describe("OPENCI_WATCH_GITHUB_BATCH", () => {
  it("defaults to 140 repositories a GraphQL query and takes any number from 1 to 149", () => {
    expect(parseEnv(valid).watchGithubBatch).toBe(140);
    expect(parseEnv({ ...valid, OPENCI_WATCH_GITHUB_BATCH: "1" }).watchGithubBatch).toBe(1);
    expect(parseEnv({ ...valid, OPENCI_WATCH_GITHUB_BATCH: "149" }).watchGithubBatch).toBe(149);
  });

  it.each([
    [{ OPENCI_WATCH_GITHUB_BATCH: "150" }, "OPENCI_WATCH_GITHUB_BATCH must be at most 149: GitHub charges a query of 150 or more repositories 2 points"],
    [{ OPENCI_WATCH_GITHUB_BATCH: "0" }, "OPENCI_WATCH_GITHUB_BATCH must be at least 1"],
    [{ OPENCI_WATCH_GITHUB_BATCH: "fifty" }, "OPENCI_WATCH_GITHUB_BATCH must be a number of repositories"],
    [{ OPENCI_WATCH_GITHUB_BATCH: "12.5" }, "OPENCI_WATCH_GITHUB_BATCH must be a whole number"],
  ])("refuses %j, saying why", (patch, expected) => {
    expect(error(patch)).toContain(expected);
  });
});
