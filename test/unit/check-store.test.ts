import { describe, expect, it } from "@jest/globals";
import type { StatusReport } from "../../src/forge/roles.js";
import { CheckStore } from "../../src/report/check-store.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const redis = useTestRedisClient();

const target = { forge: "github" as const, repo: "a/b", sha: "c".repeat(40), installationId: 1 };
const report = (status: StatusReport["status"], title: string = status): StatusReport => ({
  name: "openci: x", status, conclusion: status === "completed" ? "failure" : undefined, title, summary: "", detailsUrl: undefined, externalId: "r",
});

describe("CheckStore", () => {
  it("moves a check forward and never back", async () => {
    const store = new CheckStore(redis());

    const v1 = await store.advance("k1", target, report("queued"));
    const v2 = await store.advance("k1", target, report("completed"));
    const stale = await store.advance("k1", target, report("in_progress"));

    expect([v1, v2, stale]).toEqual([1, 2, 0]);
    expect((await store.get("k1"))?.report.status).toBe("completed");
  });

  it("ignores a repeat of the state it holds, but takes a new state of the same rank", async () => {
    const store = new CheckStore(redis());

    await store.advance("k2", target, report("in_progress", "first"));
    const repeat = await store.advance("k2", target, report("in_progress", "first"));
    const changed = await store.advance("k2", target, report("in_progress", "second"));

    expect(repeat).toBe(0);
    expect(changed).toBe(2);
  });

  it("remembers what was pushed and never lowers it", async () => {
    const store = new CheckStore(redis());
    await store.advance("k3", target, report("queued"));
    await store.advance("k3", target, report("in_progress"));

    await store.markPushed("k3", 2, "77");
    await store.markPushed("k3", 1, "77");

    expect(await store.get("k3")).toMatchObject({ version: 2, pushedVersion: 2, remoteId: "77", target });
  });

  it("takes the writer lock and reads the check in one step; a lock taken by another reads nothing", async () => {
    const store = new CheckStore(redis());
    await store.advance("k4", target, report("queued"));

    const first = await store.claim("k4", "{openci}:lock:check:sync-k4", "owner-1", 30_000);
    const second = await store.claim("k4", "{openci}:lock:check:sync-k4", "owner-2", 30_000);
    const none = await store.claim("absent", "{openci}:lock:check:sync-absent", "owner-3", 30_000);

    expect(first).toEqual({ held: true, read: await store.get("k4") });
    expect(first.held && first.read?.report.status).toBe("queued");
    expect(second).toEqual({ held: false });
    expect(none).toEqual({ held: true, read: undefined });
    expect(await redis().get("{openci}:lock:check:sync-k4")).toBe("owner-1");
    expect(await redis().pttl("{openci}:lock:check:sync-k4")).toBeGreaterThan(25_000);
  });

  it("gives the lock back with the write that marks the push, only its own owner's", async () => {
    const store = new CheckStore(redis());
    await store.advance("k5", target, report("queued"));
    await store.advance("k6", target, report("queued"));
    await redis().set("{openci}:lock:check:sync-k5", "me");
    await redis().set("{openci}:lock:check:sync-k6", "someone-else");

    await store.markPushed("k5", 1, "5", { key: "{openci}:lock:check:sync-k5", owner: "me" });
    await store.markPushed("k6", 1, "6", { key: "{openci}:lock:check:sync-k6", owner: "me" });

    expect(await redis().exists("{openci}:lock:check:sync-k5")).toBe(0);
    expect(await redis().get("{openci}:lock:check:sync-k6")).toBe("someone-else");
    expect(await store.get("k5")).toMatchObject({ pushedVersion: 1, remoteId: "5" });
    expect(await store.get("k6")).toMatchObject({ pushedVersion: 1, remoteId: "6" });
  });

  it("reads many checks in one round trip, in the order asked, none where there is none", async () => {
    const store = new CheckStore(redis());
    await store.advance("m1", target, report("queued"));
    await store.advance("m2", target, report("completed"));

    const many = await store.getMany(["m2", "absent", "m1"]);

    expect(many).toEqual([await store.get("m2"), undefined, await store.get("m1")]);
    expect(many.map((c) => c?.report.status)).toEqual(["completed", undefined, "queued"]);
    expect(await store.getMany([])).toEqual([]);
  });
});
