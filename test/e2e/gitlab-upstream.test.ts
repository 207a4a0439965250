import { describe, expect, it } from "@jest/globals";
import { sendGitlabDelivery } from "../helpers/gitlab-deliveries.js";
import { jobCount } from "../helpers/queue-counts.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import {
  GL_COMMIT, GL_TAG, GL_TAGS, GL_UPSTREAM, HOOK_SECRET, sendHook, statesOf, tagPush, upstreamJobHook, upstreamJobOnGitlab, upstreamPipelineHook, upstreamPipelineOnGitlab, upstreamStatus,
} from "../helpers/gitlab-upstream.js";
import { sendRun } from "../helpers/runs.js";
import { octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";

const map = (edges: { octo?: string; tool?: string } = {}) => `
projects:
  - id: gl/lib
    gitlab: group/lib
${octoProject({ upstream: "gl/lib", edge: edges.octo })}  - id: gl/tool
    gitlab: group/tool
    trigger: { ref: main }
    depends_on: [{ project: gl/lib${edges.tool ?? ""} }]
`;
const startHarness = useHarness();
const RANK: Record<string, number> = { pending: 1, running: 2, success: 3, failed: 3, canceled: 3, skipped: 3 };
const forwardOnly = (states: string[]) => states.every((st, i) => i === 0 || RANK[st]! > RANK[states[i - 1]!]!);
const start = (o: { map?: string; env?: Record<string, string> } = {}) => startHarness({
  map: o.map ?? map(), repos: { "octo-org/octo-repo": octoRepo() }, gitlabProjects: [GL_UPSTREAM, "group/tool"], gitlabTags: GL_TAGS(),
  env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET, ...o.env },
});

/** The tag pushed; both downstreams triggered. Returns the GitHub run and the GitLab pipeline. */
async function tagged(h: Harness) {
  expect((await sendHook(h, tagPush(h.gitlab!))).status).toBe(200);
  const run = await waitFor("the GitHub dispatch", () => h.github.dispatchedRuns[0]);
  const pipeline = await waitFor("the GitLab pipeline", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
  return { run, pipeline };
}

describe("a tag on a GitLab project", () => {
  it("triggers a GitHub workflow and a GitLab pipeline, and shows both results on the GitLab commit as statuses", async () => {
    const h = await start();
    const { run, pipeline } = await tagged(h);

    await sendRun(h, { repo: "octo-org/octo-repo", id: run.runId, action: "in_progress", status: "in_progress", conclusion: null });
    pipeline.status = "running";
    await upstreamStatus(h, "openci: octo", "running");
    await upstreamStatus(h, "openci: gl/tool", "running");
    await sendRun(h, { repo: "octo-org/octo-repo", id: run.runId, conclusion: "success" });
    pipeline.jobs = [{ name: "unit", status: "failed" }, { name: "lint", status: "success" }];
    pipeline.status = "failed";
    const octo = await upstreamStatus(h, "openci: octo", "success");
    const tool = await upstreamStatus(h, "openci: gl/tool", "failed");
    const rollup = await upstreamStatus(h, "openci", "failed");
    const thread = await waitFor("the failure comment", () => h.gitlab!.threads.find((t) => t.notes[0]?.body.includes("gl/tool")));

    // each status only moves forward (a state the report worker found already overtaken is skipped)
    expect(statesOf(h, "openci: octo")).toEqual(expect.arrayContaining(["running", "success"]));
    expect(statesOf(h, "openci: gl/tool")).toEqual(expect.arrayContaining(["running", "failed"]));
    expect(forwardOnly(statesOf(h, "openci: octo")) && forwardOnly(statesOf(h, "openci: gl/tool"))).toBe(true);
    expect(octo).toMatchObject({ ref: GL_TAG, target_url: `https://github.com/octo-org/octo-repo/actions/runs/${run.runId}` });
    expect(tool.target_url).toBe(`${h.gitlab!.url}/group/tool/-/pipelines/${pipeline.id}`);
    expect(rollup.description).toMatch(/1 of 2/);
    expect(Object.fromEntries(pipeline.variables.map((v) => [v.key, v.value]))).toMatchObject({
      OPENCI_UPSTREAM: "gl/lib", OPENCI_UPSTREAM_REPO: GL_UPSTREAM, OPENCI_TAG: GL_TAG, OPENCI_SHA: GL_COMMIT,
    });
    const dispatch = h.github.calls("actions/create-workflow-dispatch")[0]!;
    expect(dispatch.body.inputs).toMatchObject({ openci_upstream: "gl/lib", openci_tag: GL_TAG, openci_sha: GL_COMMIT });
    // one comment, on the commit (no merge request brought it in), naming the failing job
    await h.idle();
    expect(h.gitlab!.threads).toHaveLength(1);
    expect(thread.sha).toBe(GL_COMMIT);
    expect(thread.notes[0]!.body).toContain("unit");
  });

  it("puts the failure comment on the merge request that brought the commit in, and edits it in place", async () => {
    const h = await start();
    h.gitlab!.mergeRequests.push({ project: GL_UPSTREAM, iid: 7, state: "merged", shas: [GL_COMMIT], notes: [] });
    const { run, pipeline } = await tagged(h);

    await sendRun(h, { repo: "octo-org/octo-repo", id: run.runId, conclusion: "failure" });
    const note = await waitFor("the comment", () => h.gitlab!.mergeRequests[0]!.notes[0]);
    expect(note.body).toContain("octo");
    pipeline.status = "failed";
    await waitFor("the comment naming both", () => note.body.includes("gl/tool") && note);

    expect(h.gitlab!.mergeRequests[0]!.notes).toHaveLength(1);
    expect(note.updated).toBeGreaterThanOrEqual(1);
    expect(h.gitlab!.threads).toHaveLength(0);
    expect(h.gitlab!.calls("update_merge_request_note").length).toBeGreaterThanOrEqual(1);
  });

  it("triggers each downstream once however often the tag is delivered", async () => {
    const h = await start();

    const first = await sendHook(h, tagPush(h.gitlab!));
    await sendGitlabDelivery(h.url, tagPush(h.gitlab!), { token: HOOK_SECRET, idempotencyKey: first.key }); // GitLab's retry
    await sendHook(h, tagPush(h.gitlab!)); // "Resend Request" without the key, or a second webhook
    await waitFor("the gl/tool status", () => h.gitlab!.status(GL_UPSTREAM, GL_COMMIT, "openci: gl/tool"));
    // group/tool's pipeline never ends here: the relay polls it every 150 ms for as long as the test lasts.
    await h.idle({ ignore: [{ queue: "trigger", name: "poll", why: "the pipeline stays pending", requests: ["get_pipeline"] }] });

    expect(h.gitlab!.pipelines).toHaveLength(1);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(h.gitlab!.statuses.filter((st) => st.name === "openci: gl/tool")).toHaveLength(1);
  });

  it("triggers nothing when the tag is deleted", async () => {
    const h = await start();

    const res = await sendHook(h, tagPush(h.gitlab!, { deleted: true }));
    await h.idle();

    expect(res.status).toBe(200);
    expect(await jobCount(h.redisUrl, "events")).toBe(0);
    expect(h.gitlab!.pipelines).toHaveLength(0);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(0);
  });

  it("waits for after_check: the tag's pipeline, by its own jobs (Pipeline Hook), or a named job (Job Hook)", async () => {
    const h = await start({ map: map({ tool: ", after_check: pipeline", octo: "after_check: package" }) });

    await sendHook(h, tagPush(h.gitlab!));
    await upstreamStatus(h, "openci: gl/tool", "pending");
    await upstreamStatus(h, "openci: octo", "pending");
    await h.idle();
    expect(h.gitlab!.pipelines).toHaveLength(0);
    expect(h.gitlab!.calls("list_project_pipelines")[0]!.params).toMatchObject({ sha: GL_COMMIT, ref: GL_TAG });
    expect(h.gitlab!.calls("list_commit_statuses")[0]!.params).toMatchObject({ sha: GL_COMMIT, ref: GL_TAG, name: "package" });

    await sendHook(h, upstreamPipelineHook(h.gitlab!, "success", { tag: false })); // main's pipeline: not the tag's
    await h.idle();
    expect(h.gitlab!.pipelines).toHaveLength(0);
    upstreamPipelineOnGitlab(h.gitlab!, "success");
    upstreamJobOnGitlab(h.gitlab!, "package", "failed");
    await sendHook(h, upstreamPipelineHook(h.gitlab!, "success"));
    await sendHook(h, upstreamJobHook(h.gitlab!, "package", "failed"));
    const pipeline = await waitFor("gl/tool triggered", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
    const skipped = await upstreamStatus(h, "openci: octo", "skipped");

    expect(pipeline.ref).toBe("main");
    expect(skipped.description).toMatch(/package/);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(0);
  });

  it("accepts a project's own webhook secret, named in the map, and refuses it for other projects", async () => {
    const ownSecret = "group-lib-own-secret";
    const h = await start({
      map: map().replace("gitlab: group/lib", "gitlab: { project: group/lib, webhook_secret_env: LIB_HOOK_SECRET }"),
      env: { LIB_HOOK_SECRET: ownSecret },
    });
    const other = tagPush(h.gitlab!);
    other.body.project.path_with_namespace = "group/tool";

    const refused = await sendHook(h, other, ownSecret);
    const accepted = await sendHook(h, tagPush(h.gitlab!), ownSecret);

    expect([refused.status, accepted.status]).toEqual([401, 200]);
    await waitFor("the GitLab pipeline", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
  });
});

describe("re-runs through the relay's API", () => {
  const ADMIN = "admin-token-of-at-least-16";
  const rerun = (h: Harness, body: unknown, token: string | null = ADMIN) => fetch(`${h.url}/api/v1/reruns`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

  it("retries a failed downstream GitLab pipeline in place and shows the new result upstream", async () => {
    const h = await start({ env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    const { pipeline } = await tagged(h);
    pipeline.status = "failed";
    await upstreamStatus(h, "openci: gl/tool", "failed");

    const res = await rerun(h, { upstream: "gl/lib", sha: GL_COMMIT, downstream: "gl/tool" });
    await waitFor("the retry", () => pipeline.retried === 1);
    await waitFor("a new status after the failed one", () => statesOf(h, "openci: gl/tool").at(-1) !== "failed");
    pipeline.status = "success";
    await upstreamStatus(h, "openci: gl/tool", "success");
    const states = statesOf(h, "openci: gl/tool");

    expect(res.status).toBe(202);
    expect(h.gitlab!.calls("retry_pipeline")).toHaveLength(1);
    expect(h.gitlab!.pipelines.filter((p) => p.project === "group/tool")).toHaveLength(1);
    // the failed status stays as it was; the re-run is a new status that moves forward to the new result
    expect(states.slice(states.indexOf("failed") + 1)).toEqual(expect.arrayContaining(["success"]));
    expect(forwardOnly(states.slice(states.indexOf("failed") + 1))).toBe(true);
    expect(h.gitlab!.statuses.filter((st) => st.name === "openci: gl/tool").map((st) => st.status)).toEqual(["failed", "success"]);
  });

  it("refuses without the admin token, and names what is unknown or not there to re-run", async () => {
    const h = await start({ env: { OPENCI_ADMIN_TOKEN: ADMIN } });

    const noToken = await rerun(h, { upstream: "gl/lib", sha: GL_COMMIT }, null);
    const unknown = await rerun(h, { upstream: "gl/lib", sha: GL_COMMIT, downstream: "nope" });
    const badSha = await rerun(h, { upstream: "gl/lib", sha: "abc" });
    const notTriggered = await rerun(h, { upstream: "gl/lib", sha: GL_COMMIT, downstream: "gl/tool" });
    const nothingAtAll = await rerun(h, { upstream: "gl/lib", sha: GL_COMMIT });

    expect(noToken.status).toBe(401);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toContain("'nope' does not depend on 'gl/lib'");
    expect(badSha.status).toBe(400);
    expect(JSON.stringify(await badSha.json())).toContain("sha must be a full 40-character commit SHA");
    expect([notTriggered.status, nothingAtAll.status]).toEqual([404, 404]);
    expect(((await notTriggered.json()) as { error: string }).error).toBe(`'gl/tool' was not triggered for group/lib@${GL_COMMIT}`);
    expect(await jobCount(h.redisUrl, "events")).toBe(0);
  });
});
