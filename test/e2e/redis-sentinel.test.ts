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
    const h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: repos(), redisUrl: sentinel.url });
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
    // A report job active on the old master at the failover stays active until its lock runs out
    // (OPENCI_JOB_LOCK_MS, 30 s) and a worker takes it again as stalled: the upstream check's write
    // is late, by design. The invariant is about dispatches and the history, which must be idle.
    await h.idle({ ignore: [{ queue: "report", why: "a report job caught by the failover waits out its lock (30 s)" }] });

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
