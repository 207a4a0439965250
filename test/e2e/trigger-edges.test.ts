import { describe, expect, it } from "@jest/globals";
import type { TriggerJob } from "../../src/queue/job-data.js";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITHUB_MAP } from "../helpers/maps.js";
import { addJob, downstreamRecords, finishedJobs, jobData, settledJobs } from "../helpers/results-edges.js";

/**
 * The trigger path's edges that the tag-to-dispatch files do not reach: release-only edges, a tag
 * the forge cannot resolve, and the trigger worker's own checks of what it is asked to run (the map
 * as it is now decides, whatever queued the job).
 */
const startHarness = useHarness();
const repos = () => ({ [UPSTREAM]: upstreamRepo(), "acme/app": acmeAppRepo() });
const dispatches = (h: Harness) => h.github.calls("actions/create-workflow-dispatch");
const appCheck = (h: Harness) => downstreamChecks(h.github).find((c) => c.name === "openci: acme/app");

/** hello → acme/app, the edge written out (`edge` replaces its defaults). */
const mapWithEdge = (edge: string) => `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - id: hello
    foundation: f
    github: ${UPSTREAM}
  - id: acme/app
    foundation: f
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello, ${edge} }]
`;

/** The trigger job the relay queued for acme/app on the tag, as BullMQ keeps it. */
async function firstTrigger(h: Harness): Promise<TriggerJob> {
  await waitFor("acme/app's dispatch", () => dispatches(h).length === 1);
  const [job] = await waitFor("the trigger job done", async () => {
    const done = await finishedJobs(h.redisUrl, "trigger", "trigger");
    return done.length > 0 ? done : undefined;
  });
  return (await jobData<TriggerJob>(h.redisUrl, "trigger", job!.id))!;
}

/** Queues `data` as a trigger job of its own, as a stale or forged job would be; returns its id. */
async function queueTrigger(h: Harness, data: TriggerJob, id: string): Promise<string> {
  await addJob(h.redisUrl, "trigger", "trigger", data, { jobId: id, attempts: 3 });
  return id;
}

/** What the worker returned for (or why it failed) the job `id`, once it ran. */
async function outcomeOf(h: Harness, id: string) {
  await waitFor(`trigger job ${id} to run`, async () => (await finishedJobs(h.redisUrl, "trigger", "trigger")).some((j) => j.id === id));
  return (await finishedJobs(h.redisUrl, "trigger", "trigger")).find((j) => j.id === id)!;
}

describe("which tag events an edge takes", () => {
  it("an edge `on: [release]` is triggered by a published release, not by the tag's creation", async () => {
    const h = await startHarness({ map: mapWithEdge("on: [release]"), repos: repos() });

    await h.send("create.tag");
    await settledJobs(h.redisUrl, "events", "tag");
    await h.idle();
    expect(dispatches(h)).toHaveLength(0);

    await h.send("release.published", (p) => (p.release.tag_name = "simple-tag"));
    await waitFor("the release's dispatch", () => dispatches(h).length === 1);
    await h.idle();
    expect(dispatches(h)).toHaveLength(1);
    expect(dispatches(h)[0]!.body.inputs.openci_tag).toBe("simple-tag");
  });
});

describe("a tag the forge cannot resolve", () => {
  it("is given up at once when the tag does not exist (nothing triggered, the reason kept), and retried through a 5xx", async () => {
    const h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: repos() });

    await h.send("create.tag", (p) => (p.ref = "no-such-tag"));
    const [gone] = await settledJobs(h.redisUrl, "events", "tag");
    const [failed] = await finishedJobs(h.redisUrl, "events", "tag");

    expect(gone!.state).toBe("failed");
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toContain("no-such-tag");
    expect(dispatches(h)).toHaveLength(0);

    h.github.fail("git/get-ref", 502, { times: 1 });
    await h.send("create.tag");
    await waitFor("the dispatch after GitHub recovered", () => dispatches(h).length === 1, 15_000);
    expect(h.github.calls("git/get-ref").length).toBeGreaterThanOrEqual(3);
  });
});

describe("the trigger worker runs only what the map allows now", () => {
  it("refuses a job for a downstream no longer in the map, for good, at its first attempt", async () => {
    const h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: repos() });
    await h.send("create.tag");
    const job = await firstTrigger(h);

    const id = await queueTrigger(h, { ...job, downstreamId: "gone/app", runId: `${job.runId}-gone`, checkName: "openci: gone/app" }, "stale-gone");
    const outcome = await outcomeOf(h, id);
    await h.idle();

    expect(outcome.state).toBe("failed");
    expect(outcome.attemptsMade).toBe(1);
    expect(outcome.failedReason).toContain("'gone/app' is no longer in the dependency map");
    expect(dispatches(h)).toHaveLength(1);
  });

  it.each([
    ["a pull request's head, along an edge that does not test pull requests", (j: TriggerJob): TriggerJob => ({ ...j, upstream: { ...j.upstream, tag: "pull/7" } }),
      "'acme/app' no longer tests pull requests of 'hello' in the dependency map.", true],
    ["a tag the edge's filter no longer matches", (j: TriggerJob): TriggerJob => ({ ...j, upstream: { ...j.upstream, tag: "nightly-1" } }),
      "the edge from 'hello' to 'acme/app' no longer matches nightly-1 in the dependency map.", true],
    ["a cascade along an edge that does not cascade", (j: TriggerJob): TriggerJob => ({ ...j, chain: { id: j.runId, path: ["hello", "acme/app"] } }),
      "'acme/app' no longer cascades from 'hello' in the dependency map.", true],
    ["a cascade from a project that left the map", (j: TriggerJob): TriggerJob => ({ ...j, upstream: { ...j.upstream, projectId: "gone" }, chain: { id: j.runId, path: ["gone", "hello", "acme/app"] } }),
      // a release of a project the map does not list has no page in the history API
      "'gone' or 'hello' is no longer in the dependency map.", false],
  ])("refuses %s: nothing dispatched, the reason on the job and in the history", async (_what, change, reason, listed) => {
    const h = await startHarness({ map: mapWithEdge("tags: \"simple-*\""), repos: repos() });
    await h.send("create.tag");
    const job = await firstTrigger(h);

    const forged = { ...change(job), runId: `${job.runId}-x`, checkName: "openci: acme/app" };
    const id = await queueTrigger(h, forged, "stale-refused");
    const outcome = await outcomeOf(h, id);
    await h.idle();

    expect(outcome.state).toBe("completed");
    expect(outcome.returnvalue).toEqual({ refused: reason });
    expect(dispatches(h)).toHaveLength(1);
    const records = await downstreamRecords(h, forged.upstream.projectId, forged.upstream.tag, "acme/app");
    expect(records.filter((r) => r.outcome === "refused").map((r) => r.reason)).toEqual(listed ? [reason] : []);
  });
});

describe("a trigger that fails for good", () => {
  it("keeps the forge's hint with its reason: in the history and on the failed job", async () => {
    // acme/app is public, but the app is not installed there.
    const h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: { [UPSTREAM]: upstreamRepo(), "acme/app": { ...acmeAppRepo(), installed: false } } });

    await h.send("create.tag");
    await waitFor("a completed check", () => (appCheck(h)?.status === "completed" ? appCheck(h) : undefined));
    const [job] = await finishedJobs(h.redisUrl, "trigger", "trigger");
    await h.idle();

    expect(job!.state).toBe("failed");
    expect(job!.failedReason).toMatch(/\. .*Install the app on acme\/app/);
    const failed = (await downstreamRecords(h, "hello", "simple-tag", "acme/app")).filter((r) => r.outcome === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0].reason).toMatch(/\. .*Install the app on acme\/app/);
    expect(failed[0].reason).toBe(job!.failedReason);
  });
});
