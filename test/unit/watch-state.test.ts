import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Redis } from "ioredis";
import { createRedis, waitForRedis } from "../../src/redis/connection.js";
import { WatchState } from "../../src/watch/watch-state.js";
import { recordFailure, WATCH_RETRY_MS } from "../../src/workers/watch-listing.js";
import { ForgeError } from "../../src/forge/errors.js";
import { createLogger } from "../../src/log.js";
import type { Project } from "../../src/map/graph.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";

describe("WatchState against a real Redis", () => {
  let server: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startTestRedis();
    redis = createRedis(server.url, "client");
    await waitForRedis(redis, server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.cleanup();
  });

  it("schedules a new upstream within its interval, claims it once when due, and forgets one no longer watched", async () => {
    await redis.flushall();
    const state = new WatchState(redis);
    const watched = [{ id: "nova", intervalMs: 1000 }, { id: "kolla", intervalMs: 60_000 }];

    const first = await state.claimDue(watched, 10_000, () => 0.5);
    const scheduled = await state.schedule();
    const due = await Promise.all([state.claimDue(watched, 10_500, () => 0.5), state.claimDue(watched, 10_500, () => 0.5)]);
    const next = await state.schedule();
    await state.claimDue([{ id: "nova", intervalMs: 1000 }], 10_600);

    expect(first).toEqual([]);
    expect(scheduled).toEqual(new Map([["nova", 10_500], ["kolla", 40_000]]));
    expect(due.flat()).toEqual(["nova"]);
    expect(next.get("nova")).toBe(11_500);
    expect([...(await state.schedule()).keys()]).toEqual(["nova"]);
  });

  it("claims early, to fill a batch, only upstreams due within the horizon and not yet claimed, at most the room left", async () => {
    await redis.flushall();
    const state = new WatchState(redis);
    const w = (id: string) => ({ id, intervalMs: 1000 });
    // first times: a at 10_000 + 100, b + 200, c + 300, d + 900 (random() is the fraction of the interval;
    // claimDue draws two numbers an upstream: its first time, then its jitter)
    const firsts = [0.1, 0.5, 0.2, 0.5, 0.3, 0.5, 0.9, 0.5];
    await state.claimDue([w("a"), w("b"), w("c"), w("d")], 10_000, () => firsts.shift()!);

    // at 10_150: a is due (claimed by claimDue); b and c are within a quarter interval (≤ 10_400), d is not
    const due = await state.claimDue([w("a"), w("b"), w("c"), w("d")], 10_150, () => 0.5);
    const oneRoom = await state.claimEarly([w("a"), w("b"), w("c"), w("d")], 1, 0.25, 10_150, () => 0.5);
    const more = await state.claimEarly([w("a"), w("b"), w("c"), w("d")], 5, 0.25, 10_150, () => 0.5);
    const schedule = await state.schedule();

    expect(due).toEqual(["a"]);
    expect(oneRoom).toEqual(["b"]);
    expect(more).toEqual(["c"]);
    // each claimed one is next due a whole interval (0.9 + 0.2 × 0.5 of it) after the claim; d is untouched
    expect(schedule).toEqual(new Map([["a", 11_150], ["b", 11_150], ["c", 11_150], ["d", 10_900]]));
    expect(await state.claimEarly([w("d")], 0, 0.25, 10_150)).toEqual([]);
  });

  it("brings an upstream's next poll forward after a passing failure, never back, and schedules none that is not watched", async () => {
    await redis.flushall();
    const state = new WatchState(redis);
    await state.claimDue([{ id: "nova", intervalMs: 1000 }, { id: "kolla", intervalMs: 1000 }], 10_000, () => 0.5);

    await state.dueBy("nova", 10_100);
    await state.dueBy("kolla", 99_000);
    await state.dueBy("gone", 10_100);

    expect(await state.schedule()).toEqual(new Map([["nova", 10_100], ["kolla", 10_500]]));
  });

  it("a look that failed for a passing reason is tried again within 30 s; a wrong address waits for its interval", async () => {
    await redis.flushall();
    const state = new WatchState(redis);
    const now = Date.now();
    const watched = [{ id: "nova", intervalMs: 3_600_000 }, { id: "kolla", intervalMs: 3_600_000 }];
    await state.claimDue(watched, now, () => 0.5);
    const project = (id: string) => ({ id, location: { forge: "git", url: `https://git.example.org/${id}`, repo: `https://git.example.org/${id}` } }) as unknown as Project;

    await recordFailure(project("nova"), new ForgeError("the host answered 503", "transient"), state, createLogger("silent"));
    await recordFailure(project("kolla"), new ForgeError("not a git repository", "config"), state, createLogger("silent"));
    const schedule = await state.schedule();

    expect(schedule.get("nova")).toBeLessThanOrEqual(Date.now() + WATCH_RETRY_MS);
    expect(schedule.get("kolla")).toBe(now + 1_800_000);
    expect((await state.state("nova")).lastError).toContain("503");
  });

  it("keeps the tags as last read: a baseline, then changes and deletions, and the ETag only when one was given", async () => {
    await redis.flushall();
    const state = new WatchState(redis);

    await state.takeBaseline("nova", [{ name: "v1", sha: "a".repeat(40) }, { name: "v2", sha: "b".repeat(40) }], '"e1"');
    await state.update("nova", { changed: [{ name: "v2", sha: "c".repeat(40) }, { name: "v3", sha: "c".repeat(40) }], deleted: ["v1"], etag: undefined });

    expect(await state.tags("nova")).toEqual(new Map([["v2", "c".repeat(40)], ["v3", "c".repeat(40)]]));
    expect(await state.state("nova")).toMatchObject({ baselineAt: expect.any(String), etag: undefined, lastNewTag: "v3", lastError: undefined });
    expect(await state.failed("nova", "boom")).toBe(true);
    expect(await state.failed("nova", "boom")).toBe(false);
    expect(await state.failed("nova", "other")).toBe(true);
  });
});
