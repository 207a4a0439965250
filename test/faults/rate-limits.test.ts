import { describe, expect, it } from "@jest/globals";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { KEY_PREFIX, QUEUES } from "../../src/queue/names.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

const startHarness = useHarness();
const DOWNSTREAMS = [["d1", "v1"], ["d2", "v2"], ["d3", "v2"]] as const;
const MAP = `projects:\n  - { id: hello, github: ${UPSTREAM} }\n${DOWNSTREAMS.map(([d, tag]) =>
  `  - { id: ${d}, github: acme/${d}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello, tags: "${tag}" }] }\n`).join("")}`;
const repos = () => ({
  [UPSTREAM]: { installationId: 1, tags: { v1: { type: "commit" as const, sha: COMMIT }, v2: { type: "commit" as const, sha: COMMIT } } },
  // one installation for all three downstreams: what GitHub limits
  ...Object.fromEntries(DOWNSTREAMS.map(([d]) => [`acme/${d}`, { installationId: 10, workflows: { "ci.yml": {} } }])),
});
const pushTag = (h: Harness, tag: string) => h.send("push.tag", (p) => { p.ref = `refs/tags/${tag}`; p.after = COMMIT; });

/** Attempts of the trigger jobs (not their timeouts): what a rate limit must not spend. */
async function triggerAttempts(redisUrl: string): Promise<{ made: number; started: number }[]> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const q = new Queue(QUEUES.trigger, { connection, prefix: KEY_PREFIX });
  try {
    const jobs = await q.getJobs(["completed"]);
    return jobs.filter((j) => j.name !== "timeout" && j.name !== "poll").map((j) => ({ made: j.attemptsMade, started: j.attemptsStarted }));
  } finally {
    await q.close();
    connection.disconnect();
  }
}

describe("fault: GitHub rate-limits an installation (429 with retry-after)", () => {
  it("invariant: no request of that installation is sent before the pause ends, from any job; limited jobs wait in the queue without spending attempts; each downstream is triggered once", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    h.github.fail("actions/create-workflow-dispatch", 429, { headers: { "retry-after": "4" }, body: { message: "Too Many Requests" } });

    await pushTag(h, "v1");
    const limitedAt = await waitFor("the 429", () => h.github.calls("actions/create-workflow-dispatch")[0]?.at);
    // another tag for two more downstreams of the paused installation, while the pause lasts
    await new Promise((r) => setTimeout(r, 500));
    await pushTag(h, "v2");
    await waitFor("all three dispatched", () => h.github.dispatchedRuns.length === 3, 30_000);
    const sentDuringPause = h.github.requests.filter((r) => r.installationId === 10 && r.at > limitedAt && r.at < limitedAt + 4000 && !r.path.endsWith("/access_tokens"));
    const attempts = await waitFor("the trigger jobs completed", async () => {
      const a = await triggerAttempts(h.redisUrl);
      return a.length === 3 ? a : undefined;
    });
    const metrics = await (await fetch(`${h.url}/metrics`)).text();

    expect(sentDuringPause.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(h.github.dispatchedRuns.map((r) => r.repo).sort()).toEqual(["acme/d1", "acme/d2", "acme/d3"]);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(4);
    // each trigger ran to completion on its first counted attempt; the limited ones were started again
    expect(attempts.every((a) => a.made === 1)).toBe(true);
    expect(attempts.filter((a) => a.started > 1).length).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/openci_jobs_rate_limited_total\{queue="trigger"\} [1-9]/);
  }, 60_000);
});
