import { describe, expect, it } from "@jest/globals";
import { PipelineBudget } from "../../src/forge/minute-budget.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const redis = useTestRedisClient();

describe("PipelineBudget", () => {
  const minute = 29_000_000 * 60_000; // the start of some minute

  it("allows N creations a minute per project, then says how long to wait for the next minute", async () => {
    const a = new PipelineBudget(redis(), 3);
    const b = new PipelineBudget(redis(), 3); // another worker, same Redis

    const taken = [await a.take("group/tool", minute + 1_000), await b.take("group/tool", minute + 2_000), await a.take("group/tool", minute + 3_000)];
    const over = await b.take("group/tool", minute + 15_000);
    const otherProject = await a.take("group/other", minute + 15_000);
    const nextMinute = await a.take("group/tool", minute + 60_000);

    expect(taken).toEqual([undefined, undefined, undefined]);
    expect(over).toBe(45_000);
    expect(otherProject).toBeUndefined();
    expect(nextMinute).toBeUndefined();
  });

  it("counts a refused creation against nothing, and 0 means no limit", async () => {
    const one = new PipelineBudget(redis(), 1);
    const at = minute + 5 * 60_000;

    await one.take("g/p", at);
    const refused = [await one.take("g/p", at), await one.take("g/p", at)];
    const unlimited = await Promise.all(Array.from({ length: 50 }, () => new PipelineBudget(redis(), 0).take("g/p", at)));

    expect(refused.every((ms) => ms === 60_000)).toBe(true);
    expect(unlimited.every((ms) => ms === undefined)).toBe(true);
  });
});
