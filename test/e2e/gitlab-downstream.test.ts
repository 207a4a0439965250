import { describe, expect, it } from "@jest/globals";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITLAB_MAP } from "../helpers/maps.js";
import { releaseWhen } from "../helpers/history.js";

const MAP = GITHUB_TO_GITLAB_MAP;
const startHarness = useHarness();

describe("a GitHub tag triggers a GitLab pipeline", () => {
  it("creates the pipeline with the relay's variables and shows its polled result upstream", async () => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"] });

    await h.send("create.tag");
    const pipeline = await waitFor("a pipeline", () => h.gitlab!.pipelines[0]);
    const running = await waitFor("the check in progress", () => downstreamChecks(h.github).find((c) => c.status === "in_progress"));
    pipeline.jobs = [{ name: "unit", status: "failed", artifacts: "junit.xml" }, { name: "lint", status: "success" }];
    pipeline.status = "failed";
    const done = await waitFor("the check completed", () => downstreamChecks(h.github).find((c) => c.status === "completed"));
    const release = await releaseWhen(h, "hello", "simple-tag", { "gl/tool": "failed" });

    expect(pipeline).toMatchObject({ project: "group/tool", ref: "main" });
    expect(Object.fromEntries(pipeline.variables.map((v) => [v.key, v.value]))).toMatchObject({
      OPENCI_UPSTREAM: "hello", OPENCI_TAG: "simple-tag", OPENCI_SHA: COMMIT, OPENCI_RUN: running.external_id,
    });
    expect(running.details_url).toBe(`${h.gitlab!.url}/group/tool/-/pipelines/${pipeline.id}`);
    expect(done.conclusion).toBe("failure");
    expect(done.output.summary).toContain("**Failing jobs:**\n- unit");
    expect(h.gitlab!.calls("create_pipeline")).toHaveLength(1);
    const comment = await waitFor("the failure comment", () => h.github.comments[0]);
    expect(comment).toMatchObject({ repo: UPSTREAM, on: `commit-${COMMIT}` });
    expect(comment.body).toContain("gl/tool");
    expect(h.github.comments).toHaveLength(1);
    expect(release.downstreams[0]).toMatchObject({
      failedJobs: ["unit"], url: `${h.gitlab!.url}/group/tool/-/pipelines/${pipeline.id}`,
      artifacts: [{ name: "unit/junit.xml", url: `${h.gitlab!.url}/group/tool/-/jobs/1/artifacts/download`, size: 1000 }],
    });
  });

  it("uses the pipeline trigger token the map names, with the same variables", async () => {
    const h = await startHarness({
      map: MAP.replace("trigger: { ref: main }", "trigger: { ref: main, token_env: TOOL_TRIGGER_TOKEN }"),
      repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"],
      gitlabTriggerTokens: { "group/tool": "glptt-tool-trigger" }, env: { TOOL_TRIGGER_TOKEN: "glptt-tool-trigger" },
    });

    await h.send("create.tag");
    const pipeline = await waitFor("a pipeline", () => h.gitlab!.pipelines[0]);
    await waitFor("the check in progress", () => downstreamChecks(h.github).find((c) => c.status === "in_progress"));

    expect(pipeline).toMatchObject({ source: "trigger", ref: "main" });
    expect(Object.fromEntries(pipeline.variables.map((v) => [v.key, v.value]))).toMatchObject({ OPENCI_UPSTREAM: "hello", OPENCI_SHA: COMMIT });
    expect(h.gitlab!.calls("trigger_pipeline")[0]!.headers["private-token"]).toBeUndefined();
    expect(h.gitlab!.calls("create_pipeline")).toHaveLength(0);
  });

  it("waits as long as GitLab's 429 Retry-After says, then creates the pipeline once", async () => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"] });
    h.gitlab!.failNext("create_pipeline", 429, { headers: { "retry-after": "1" }, body: { message: "429 Too Many Requests" } });

    await h.send("create.tag");
    await waitFor("a pipeline", () => h.gitlab!.pipelines[0]);
    const [limited, created] = h.gitlab!.calls("create_pipeline");

    expect(h.gitlab!.calls("create_pipeline")).toHaveLength(2);
    expect(created!.at - limited!.at).toBeGreaterThanOrEqual(1000);
    expect(h.gitlab!.pipelines).toHaveLength(1);
  });

  it("fails the upstream check with what to set when no GitLab token is configured", async () => {
    // GitLab answers (group/tool is public: anyone may read that), but the relay has no token for it.
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"], env: { GITLAB_TOKEN: "" } });

    await h.send("create.tag");
    const done = await waitFor("the check completed", () => downstreamChecks(h.github).find((c) => c.status === "completed"));

    expect(done.conclusion).toBe("failure");
    expect(done.output.summary).toContain("Set GITLAB_TOKEN to a token with the 'api' scope.");
  });
});
