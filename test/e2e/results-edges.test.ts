import { describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { gitlabFixture, sendGitlabDelivery } from "../helpers/gitlab-deliveries.js";
import type { Ignored } from "../helpers/idle.js";
import type { Harness } from "../helpers/relay-harness.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITLAB_MAP, GITHUB_TO_OCTO_MAP, octoProject } from "../helpers/maps.js";
import {
  addJob, dispatchesTo, downstreamRecords, finishedJobs, jobOutcome, MAP_REFRESH, mapTaken, META, metadataRepo, promoteDelayed, pushMap, settledJobs,
} from "../helpers/results-edges.js";
import { KEY_PREFIX } from "../../src/queue/names.js";

/**
 * The edges of a downstream result's way back (src/workers/run-result.ts, poll.ts, timeout.ts): a
 * project gone from the map, listings that fail, runs found by title that do not fit their
 * trigger, polls that have nothing to do, timeouts that come after the result.
 */
const startHarness = useHarness();
const checkOf = (h: Harness, name: string, sha = COMMIT) => downstreamChecks(h.github).find((c) => c.name === name && c.head_sha === sha);
const completed = (h: Harness, name: string, sha = COMMIT) =>
  waitFor(`${name} completed`, () => (checkOf(h, name, sha)?.status === "completed" ? checkOf(h, name, sha) : undefined));
/** The relay's writes of check runs on the upstream (creates and updates). */
const checkWrites = (h: Harness) => h.github.calls("checks/create").length + h.github.calls("checks/update").length;
/** Polls are set 10 minutes off in these tests: each is let run by the test (promoteDelayed), never by the clock. */
const LATER_POLLS: Ignored = { queue: "trigger", name: "poll", why: "polling is set 10 minutes off: the test runs each poll itself" };
const FAR_POLLS = { OPENCI_POLL_INTERVAL_MS: "600000" };
const HOOK_SECRET = "gitlab-hook-secret";

describe("a run of a project that left the map", () => {
  it("is neither reported nor polled into a check: its webhook and its poll end without writing anything", async () => {
    const map = (dependants: string) => `version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: hello, foundation: f, github: ${UPSTREAM} }
${dependants}`;
    const both = `${octoProject({ fields: ["foundation: f"] })}  - { id: gl/tool, foundation: f, gitlab: group/tool, trigger: { ref: main }, depends_on: [{ project: hello }] }\n`;
    const h = await startHarness({
      map: "projects: []\n",
      repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), [META]: metadataRepo("a".repeat(40), map(both)) },
      gitlabProjects: ["group/tool"], env: { OPENCI_MAP_REPO: `${META}@main:maps/`, ...FAR_POLLS },
    });
    await mapTaken(h, "a".repeat(40));
    await h.send("create.tag");
    const octo = await runningCheck(h, "openci: octo");
    const tool = await runningCheck(h, "openci: gl/tool");
    const pipeline = h.gitlab!.pipelines[0]!;

    await pushMap(h, "c".repeat(40), map(""));
    await h.idle({ ignore: [MAP_REFRESH, LATER_POLLS] });
    const writes = checkWrites(h);
    await sendRun(h, { id: runIdOf(octo), conclusion: "success" });
    pipeline.status = "success";
    const polls = await promoteDelayed(h.redisUrl, "trigger", "poll");
    const settled = [...await settledJobs(h.redisUrl, "events", "run"), ...await settledJobs(h.redisUrl, "trigger", "poll")];

    expect(settled.map((j) => j.state)).toEqual(["completed", "completed"]);
    await h.idle({ ignore: [MAP_REFRESH, LATER_POLLS] });
    expect(polls).toEqual([`poll-${tool.external_id}-1`]);
    expect(await jobOutcome(h.redisUrl, "trigger", polls[0]!)).toMatchObject({ state: "completed", returnvalue: { done: true }, attemptsMade: 1 });
    // the poll read the pipeline from GITLAB_URL (where the record says it runs), and wrote nothing
    expect(h.gitlab!.calls("get_pipeline")).toHaveLength(1);
    const runs = await finishedJobs(h.redisUrl, "events", "run");
    expect(runs.map((r) => [r.state, r.returnvalue])).toEqual([["completed", { correlated: true }]]);
    expect(checkWrites(h)).toBe(writes);
    expect([checkOf(h, "openci: octo")?.status, checkOf(h, "openci: gl/tool")?.status]).toEqual(["in_progress", "in_progress"]);
  });
});

describe("a run whose listings fail", () => {
  it("still completes its check and its history when listing its failing jobs and its artifacts fails", async () => {
    const h = await startHarness({ map: GITHUB_TO_OCTO_MAP, repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo() } });
    await h.send("create.tag");
    const runId = runIdOf(await runningCheck(h, "openci: octo"));
    h.github.runJobs[runId] = [{ name: "unit tests", conclusion: "failure" }];
    h.github.runArtifacts[runId] = [{ name: "junit-report", size: 2048 }];
    h.github.fail("actions/list-jobs-for-workflow-run", 502, { times: 100 });
    h.github.fail("actions/list-workflow-run-artifacts", 502, { times: 100 });

    await sendRun(h, { id: runId, conclusion: "failure" });
    expect((await settledJobs(h.redisUrl, "events", "run")).map((j) => j.state)).toEqual(["completed"]);
    const check = await completed(h, "openci: octo");
    await h.idle();
    const records = await downstreamRecords(h, "hello", "simple-tag", "octo");

    expect(h.github.calls("actions/list-jobs-for-workflow-run").length).toBeGreaterThan(0);
    expect(h.github.calls("actions/list-workflow-run-artifacts").length).toBeGreaterThan(0);
    expect(check.conclusion).toBe("failure");
    expect(check.output.title).toBe("Failed: octo");
    expect(check.output.summary).not.toContain("Failing jobs");
    const run = records.find((r) => r.kind === "run" && r.state === "completed");
    expect(run).toMatchObject({ conclusion: "failure", failedJobs: [], artifacts: [], runId: String(runId) });
    expect(records.filter((r) => r.kind === "test-output")).toEqual([]);
    const [event] = await finishedJobs(h.redisUrl, "events", "run");
    expect(event).toMatchObject({ state: "completed", attemptsMade: 1 });
  });
});

describe("a run found by the relay run id in its title (no run id from the dispatch)", () => {
  it("counts only when it is a run of the triggered workflow, by file name or by workflow id", async () => {
    const h = await startHarness({
      map: `
projects:
  - id: hello
    github: ${UPSTREAM}
${octoProject()}  - id: acme/app
    github: acme/app
    trigger: { workflow: 4242, ref: main }
    depends_on: [{ project: hello }]
`,
      repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), "acme/app": { ...acmeAppRepo(), workflows: { "4242": {} } } },
    });
    h.github.supportsRunDetails = false;
    await h.send("create.tag");
    const relayRunOf = async (repo: string) => (await waitFor(`the dispatch to ${repo}`, () => dispatchesTo(h, repo)[0])).body.inputs.openci_run_id as string;
    const octoRun = await relayRunOf("octo-org/octo-repo");
    const appRun = await relayRunOf("acme/app");
    await waitFor("both checks in progress", () => checkOf(h, "openci: octo")?.status === "in_progress" && checkOf(h, "openci: acme/app")?.status === "in_progress");
    const titled = (relayRunId: string) => `openci ${relayRunId}`;

    // a run of another workflow file of octo (whatever its workflow id) naming octo's relay run id
    await sendTitled(h, { id: 701, repo: "octo-org/octo-repo", title: titled(octoRun), path: ".github/workflows/other.yml", workflowId: 77 });
    await h.idle();
    const afterOther = checkOf(h, "openci: octo")?.status;
    // acme/app's workflow is named by its id: the run's file name differs, its workflow id is the one
    await sendTitled(h, { id: 702, repo: "acme/app", title: titled(appRun), path: ".github/workflows/ci.yml", workflowId: 4242 });
    await sendTitled(h, { id: 703, repo: "octo-org/octo-repo", title: titled(octoRun), path: ".github/workflows/test.yml@refs/heads/master", workflowId: 78 });
    await h.idle();
    const octo = checkOf(h, "openci: octo");
    const app = checkOf(h, "openci: acme/app");

    expect(afterOther).toBe("in_progress");
    expect([octo?.status, app?.status]).toEqual(["completed", "completed"]);
    expect(octo?.details_url).toBe("https://github.com/octo-org/octo-repo/actions/runs/703");
    expect(app?.details_url).toBe("https://github.com/acme/app/actions/runs/702");
  });
});

/** A completed, passing workflow_run of `path` (workflow `workflowId`) titled `title`. */
function sendTitled(h: Harness, r: { id: number; repo: string; title: string; path: string; workflowId: number }) {
  return h.send("workflow_run.completed", (p) => {
    p.action = "completed";
    Object.assign(p.workflow_run, {
      id: r.id, status: "completed", conclusion: "success", html_url: `https://github.com/${r.repo}/actions/runs/${r.id}`, display_title: r.title,
      event: "workflow_dispatch", path: r.path, workflow_id: r.workflowId, created_at: new Date().toISOString(),
    });
    p.repository.full_name = r.repo;
  });
}

describe("polls", () => {
  it("a poll for a relay run id with no record, or with no downstream run id, ends at once and asks nothing", async () => {
    const h = await startHarness({ map: GITHUB_TO_OCTO_MAP, repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo() } });
    h.github.supportsRunDetails = false;
    await h.send("create.tag");
    const unbound = await waitFor("octo's check in progress", () => (checkOf(h, "openci: octo")?.status === "in_progress" ? checkOf(h, "openci: octo") : undefined));
    await h.idle();
    const requests = h.github.requests.length;

    const unknown = `trigger-${"0".repeat(32)}`;
    await addJob(h.redisUrl, "trigger", "poll", { relayRunId: unknown, round: 1 }, { jobId: `poll-${unknown}-1` });
    await addJob(h.redisUrl, "trigger", "poll", { relayRunId: unbound.external_id, round: 1 }, { jobId: `poll-${unbound.external_id}-1` });
    await h.idle();

    expect(await jobOutcome(h.redisUrl, "trigger", `poll-${unknown}-1`)).toMatchObject({ state: "completed", returnvalue: { done: true } });
    expect(await jobOutcome(h.redisUrl, "trigger", `poll-${unbound.external_id}-1`)).toMatchObject({ state: "completed", returnvalue: { done: true } });
    expect(h.github.requests.length).toBe(requests);
  });

  it("a poll reports a pipeline that ended, and one after a Pipeline Hook already completed the check asks GitLab nothing", async () => {
    const COMMIT_2 = "b".repeat(40);
    const h = await startHarness({
      map: GITHUB_TO_GITLAB_MAP,
      repos: { [UPSTREAM]: { ...upstreamRepo(), tags: { "simple-tag": { type: "commit", sha: COMMIT }, v2: { type: "commit", sha: COMMIT_2 } } } },
      gitlabProjects: ["group/tool"], env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET, ...FAR_POLLS },
    });
    await h.send("create.tag");
    await h.send("create.tag", (p) => (p.ref = "v2"));
    const hooked = await runningCheck(h, "openci: gl/tool", COMMIT);
    const polled = await runningCheck(h, "openci: gl/tool", COMMIT_2);
    const pipelineOf = (check: { details_url: string | null }) => h.gitlab!.pipelines.find((p) => check.details_url!.endsWith(`/pipelines/${p.id}`))!;
    pipelineOf(hooked).status = "success";
    pipelineOf(polled).status = "failed";

    // the first pipeline's hook completes its check before its poll
    const hook = gitlabFixture("pipeline");
    Object.assign(hook.body.object_attributes, { id: pipelineOf(hooked).id, status: "success", url: `${h.gitlab!.url}/group/tool/-/pipelines/${pipelineOf(hooked).id}` });
    hook.body.project.path_with_namespace = "group/tool";
    hook.body.project.web_url = `${h.gitlab!.url}/group/tool`;
    await sendGitlabDelivery(h.url, hook, { token: HOOK_SECRET });
    await completed(h, "openci: gl/tool", COMMIT);
    await h.idle({ ignore: [LATER_POLLS] });
    const readByHook = h.gitlab!.calls("get_pipeline").length;
    const polls = await promoteDelayed(h.redisUrl, "trigger", "poll");
    await h.idle({ ignore: [LATER_POLLS] });

    expect(polls.sort()).toEqual([`poll-${hooked.external_id}-1`, `poll-${polled.external_id}-1`].sort());
    expect(checkOf(h, "openci: gl/tool", COMMIT_2)).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(await jobOutcome(h.redisUrl, "trigger", `poll-${hooked.external_id}-1`)).toMatchObject({ state: "completed", returnvalue: { done: true } });
    expect(await jobOutcome(h.redisUrl, "trigger", `poll-${polled.external_id}-1`)).toMatchObject({ state: "completed", returnvalue: { done: true } });
    // one read by the hook, one by the second pipeline's poll: none by the first one's poll
    expect(readByHook).toBe(1);
    expect(h.gitlab!.calls("get_pipeline").map((c) => c.path)).toEqual([
      expect.stringContaining(`/pipelines/${pipelineOf(hooked).id}`), expect.stringContaining(`/pipelines/${pipelineOf(polled).id}`),
    ]);
  });
});

describe("a timeout that comes after the result", () => {
  const timeoutOf = (relayRunId: string) => `timeout-${relayRunId}`;
  /** Lets the run timeout of `relayRunId` fire now (it is set 6 hours off). */
  const fire = async (h: Harness, relayRunId: string) => expect(await promoteDelayed(h.redisUrl, "trigger", "timeout", (id) => id === timeoutOf(relayRunId))).toHaveLength(1);
  const timedOutRuns = async (h: Harness, tag: string) =>
    (await downstreamRecords(h, "hello", tag, "octo")).filter((r) => r.kind === "run" && r.conclusion === "timed_out");

  it("changes nothing on a check its run already completed, and records no timeout", async () => {
    const h = await startHarness({ map: GITHUB_TO_OCTO_MAP, repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo() } });
    await h.send("create.tag");
    const running = await runningCheck(h, "openci: octo");
    await sendRun(h, { id: runIdOf(running), conclusion: "success" });
    await completed(h, "openci: octo");
    await h.idle();
    const writes = checkWrites(h);

    await fire(h, running.external_id);
    await h.idle();

    expect(checkOf(h, "openci: octo")).toMatchObject({ status: "completed", conclusion: "success" });
    expect(checkWrites(h)).toBe(writes);
    expect(await timedOutRuns(h, "simple-tag")).toEqual([]);
    expect(await jobOutcome(h.redisUrl, "trigger", timeoutOf(running.external_id))).toMatchObject({ state: "completed", returnvalue: { timedOut: false } });
  });

  it("records no timeout for a trigger whose check another trigger timed out (two tags on one commit)", async () => {
    const h = await startHarness({
      map: GITHUB_TO_OCTO_MAP,
      repos: { [UPSTREAM]: { ...upstreamRepo(), tags: { "simple-tag": { type: "commit", sha: COMMIT }, v2: { type: "commit", sha: COMMIT } } }, "octo-org/octo-repo": octoRepo() },
    });
    await h.send("create.tag");
    const first = await runningCheck(h, "openci: octo");
    await fire(h, first.external_id);
    await completed(h, "openci: octo");
    await h.send("create.tag", (p) => (p.ref = "v2"));
    const second = (await waitFor("octo dispatched for v2", () => dispatchesTo(h, "octo-org/octo-repo")[1])).body.inputs.openci_run_id as string;
    await h.idle();

    await fire(h, second);
    await h.idle();

    expect(checkOf(h, "openci: octo")).toMatchObject({ status: "completed", conclusion: "timed_out", external_id: first.external_id });
    expect((await timedOutRuns(h, "simple-tag")).length).toBe(1);
    expect(await timedOutRuns(h, "v2")).toEqual([]);
    expect(await jobOutcome(h.redisUrl, "trigger", timeoutOf(second))).toMatchObject({ state: "completed", returnvalue: { timedOut: false } });
  });

  it("a retry of the timeout job after it timed the check out records the timed_out run once, with the triggered run's forge and repository", async () => {
    const h = await startHarness({ map: GITHUB_TO_OCTO_MAP, repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo() } });
    await h.send("create.tag");
    const running = await runningCheck(h, "openci: octo");
    await h.idle();
    // What the relay knows of hello's visibility is over an hour old: recording the timeout asks
    // GitHub again, and GitHub fails once: the job fails after the check was timed out, and is retried.
    const redis = new Redis(h.redisUrl);
    const keys = (await redis.keys(`${KEY_PREFIX}*visibility*`)).filter((k) => k.toLowerCase().includes("codertocat/hello-world"));
    expect(keys).toHaveLength(1);
    await redis.set(keys[0]!, "public|1|payload");
    redis.disconnect();
    h.github.fail("repos/get", 502, { times: 1 });

    await fire(h, running.external_id);
    const timedOut = await completed(h, "openci: octo");
    await waitFor("the timeout job's retry scheduled", async () => (await jobOutcome(h.redisUrl, "trigger", timeoutOf(running.external_id)))?.state === "delayed");
    await fire(h, running.external_id);
    await h.idle();
    const records = await timedOutRuns(h, "simple-tag");

    expect(timedOut.conclusion).toBe("timed_out");
    expect(await jobOutcome(h.redisUrl, "trigger", timeoutOf(running.external_id))).toMatchObject({ state: "completed", attemptsMade: 2, returnvalue: { timedOut: false } });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ forge: "github", repo: "octo-org/octo-repo", runId: String(runIdOf(running)), source: "timeout", state: "completed" });
  });
});
