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
});
