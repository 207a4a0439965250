import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { KEY_PREFIX } from "../../src/queue/names.js";
import { getJson } from "../helpers/history.js";
import { GITHUB_TO_GITHUB_MAP } from "../helpers/maps.js";
import { startTestSentinel, type TestSentinel } from "../helpers/redis-sentinel.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

let sentinel: TestSentinel | undefined;
const startHarness = useHarness();
afterEach(async () => {
  await sentinel?.cleanup();
  sentinel = undefined;
});

const repos = () => ({
  [UPSTREAM]: { installationId: 1, tags: { "v1.0.0": { type: "commit" as const, sha: COMMIT }, "v1.1.0": { type: "commit" as const, sha: COMMIT } } },
  "acme/app": acmeAppRepo(),
});
const pushTag = (h: Harness, tag: string, id?: string) => h.send("push.tag", (p) => { p.ref = `refs/tags/${tag}`; p.after = COMMIT; }, id ? { id } : {});
const dispatchedTags = (h: Harness) => h.github.calls("actions/create-workflow-dispatch").map((c) => c.body.inputs.openci_tag);

describe("the relay through Redis Sentinel", () => {
  it("invariant: a tag dispatches its dependant once; after a failover the relay writes to the new master, keeps the history written before and dispatches the next tag once", async () => {
    sentinel = await startTestSentinel();
    // Jobs active on the old master at the failover are taken again as stalled once their lock runs
    // out: 5 s here instead of 30 s, so the test can wait for them and see they dispatch nothing more.
    const h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: repos(), redisUrl: sentinel.url, env: { OPENCI_JOB_LOCK_MS: "5000" } });
    const firstMaster = await sentinel.masterPort();

    const first = await pushTag(h, "v1.0.0");
    await waitFor("the first tag dispatched", () => dispatchedTags(h).length === 1);
    await waitFor("the first release in the history", async () => (await getJson(h, "/api/v1/releases/hello/v1.0.0")).status === 200);
    const newMaster = await sentinel.failover();
    // While the relay finds the new master it answers 503, and GitHub delivers again (same id).
    const id = randomUUID();
    const second = await waitFor("the next tag accepted", async () => {
      const sent = await pushTag(h, "v1.1.0", id);
      return sent.status === 200 ? sent : undefined;
    }, 30_000);
    await waitFor("the next tag dispatched", () => dispatchedTags(h).length === 2, 30_000);
    // Any job caught active by the failover (a trigger, a report) stays active until its lock runs
    // out and a worker takes it again: wait for all of them, then nothing may have dispatched twice.
    await h.idle({ timeoutMs: 45_000 });

    expect(newMaster).not.toBe(firstMaster);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(dispatchedTags(h)).toEqual(["v1.0.0", "v1.1.0"]);
    expect((await getJson(h, "/api/v1/releases/hello/v1.0.0")).status).toBe(200);
    expect((await getJson(h, "/api/v1/releases/hello/v1.1.0")).status).toBe(200);
    const promoted = new Redis(newMaster, "127.0.0.1");
    try {
      expect(await promoted.xlen(`${KEY_PREFIX}:hist:log`)).toBeGreaterThanOrEqual(2);
      expect((await promoted.info("replication")).includes("role:master")).toBe(true);
    } finally {
      promoted.disconnect();
    }
  }, 90_000);
});
