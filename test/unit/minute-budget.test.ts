import { describe, expect, it } from "@jest/globals";
import { ForgeLimits, PipelineBudget, WINDOW_MS, setForgeWindowForTests } from "../../src/forge/minute-budget.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const redis = useTestRedisClient();

describe("PipelineBudget", () => {
  const minute = 29_000_000 * 60_000; // the start of some minute

  it("allows N creations in any 60 s per project, then says how long until the oldest leaves the window", async () => {
    const a = new PipelineBudget(redis(), 3);
    const b = new PipelineBudget(redis(), 3); // another worker, same Redis

    const taken = [await a.take("group/tool", minute + 1_000), await b.take("group/tool", minute + 2_000), await a.take("group/tool", minute + 3_000)];
    const over = await b.take("group/tool", minute + 15_000);
    const otherProject = await a.take("group/other", minute + 15_000);
    const stillInWindow = await a.take("group/tool", minute + 61_500);
    const firstLeft = await a.take("group/tool", minute + 62_000);

    expect(taken).toEqual([undefined, undefined, undefined]);
    // the window is 60 s and one of margin (WINDOW_MS)
    expect(over).toBe(47_000);
    expect(otherProject).toBeUndefined();
    // a clock minute has passed, but not 60 s since the first creation: GitLab counts the window
    expect(stillInWindow).toBe(500);
    expect(firstLeft).toBeUndefined();
  });

  it("counts a refused creation against nothing, and 0 means no limit", async () => {
    const one = new PipelineBudget(redis(), 1);
    const at = minute + 5 * 60_000;

    await one.take("g/p", at);
    const refused = [await one.take("g/p", at), await one.take("g/p", at)];
    const unlimited = await Promise.all(Array.from({ length: 50 }, () => new PipelineBudget(redis(), 0).take("g/p", at)));

    expect(refused.every((ms) => ms === 61_000)).toBe(true);
    expect(unlimited.every((ms) => ms === undefined)).toBe(true);
  });
});

describe("ForgeLimits", () => {
  const minute = 29_100_000 * 60_000;

  it("counts any 60 s, not per clock minute: N spent at the end of one minute leave no room at the start of the next", async () => {
    const limits = new ForgeLimits(redis());
    const write = (at: number) => limits.take("github:3", [{ budget: "writes", perMinute: 2, cost: 1 }], at);

    const late = [await write(minute + 59_000), await write(minute + 59_500)];
    const nextMinute = await write(minute + 60_500);
    const afterWindow = await write(minute + 59_000 + WINDOW_MS);

    expect(late).toEqual([undefined, undefined]);
    expect(nextMinute).toEqual({ waitMs: WINDOW_MS - 1_500, why: "writes" });
    expect(afterWindow).toBeUndefined();
  });

  it("counts over a shortened window when a test asks (setForgeWindowForTests), keeping the second of margin", async () => {
    const limits = new ForgeLimits(redis());
    const write = (at: number) => limits.take("github:4", [{ budget: "writes", perMinute: 1, cost: 1 }], at);
    setForgeWindowForTests(2_000);
    try {
      const first = await write(minute);
      const held = await write(minute + 2_500);
      const free = await write(minute + 3_000);

      expect(first).toBeUndefined();
      expect(held).toEqual({ waitMs: 500, why: "writes" });
      expect(free).toBeUndefined();
    } finally {
      setForgeWindowForTests();
    }
  });

  it("spends several budgets all or nothing: a GitHub write takes 5 points and 1 write, a read 1 point", async () => {
    const limits = new ForgeLimits(redis());
    const write = (at: number) => limits.take("github:1", [{ budget: "points", perMinute: 12, cost: 5 }, { budget: "writes", perMinute: 3, cost: 1 }], at);
    const read = (at: number) => limits.take("github:1", [{ budget: "points", perMinute: 12, cost: 1 }], at);

    const twoWrites = [await write(minute + 1), await write(minute + 2)];
    const third = await write(minute + 30_000);
    const reads = [await read(minute + 30_001), await read(minute + 30_002)];
    const overPoints = await read(minute + 30_003);

    expect(twoWrites).toEqual([undefined, undefined]);
    expect(third).toEqual({ waitMs: 31_001, why: "points" });
    // the refused write spent nothing: both reads fit in the 2 points left
    expect(reads).toEqual([undefined, undefined]);
    expect(overPoints).toEqual({ waitMs: 30_998, why: "points" });
  });

  it("lets a request costing more than a whole budget through when nothing else is in the window, never blocking it for good", async () => {
    const limits = new ForgeLimits(redis());
    const spend = [{ budget: "points", perMinute: 3, cost: 5 }];

    const first = await limits.take("github:2", spend, minute);
    const second = await limits.take("github:2", spend, minute + 10);

    expect(first).toBeUndefined();
    expect(second?.why).toBe("points");
  });

  it("holds every request of a place the forge paused, for as long as asked; a shorter pause does not cut a longer one", async () => {
    const a = new ForgeLimits(redis());
    const b = new ForgeLimits(redis()); // another worker

    await a.pause("gitlab:gitlab.com:GITLAB_TOKEN", 5_000);
    await b.pause("gitlab:gitlab.com:GITLAB_TOKEN", 100);
    const held = await b.take("gitlab:gitlab.com:GITLAB_TOKEN", []);
    const other = await b.take("gitlab:gitlab.com:OTHER_TOKEN", []);

    expect(held?.why).toBe("paused");
    expect(held!.waitMs).toBeGreaterThan(4_000);
    expect(other).toBeUndefined();
  });
});
