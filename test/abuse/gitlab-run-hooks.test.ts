import { describe, expect, it } from "@jest/globals";
import { gitlabFixture } from "../helpers/gitlab-deliveries.js";
import {
  GL_TAGS, GL_UPSTREAM, HOOK_SECRET, sendHook, tagPush, upstreamJobHook, upstreamJobOnGitlab, upstreamStatus,
} from "../helpers/gitlab-upstream.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import type { Ignored } from "../helpers/idle.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Finding 4 of issue 16, its second half: Pipeline and Job Hooks were believed as they came. A hook
 * is only as good as the secret that signed it, so the relay now matches a Pipeline Hook with the
 * instance of the project it triggered, and takes a run's or a gate's state from the API.
 */
const OTHER_HOST = "gitlab.other.example";
const OTHER_SECRET = "other-instance-secret-value";
const MAP = `
projects:
  - id: gl/lib
    gitlab: ${GL_UPSTREAM}
  - id: gl/tool
    gitlab: group/tool
    trigger: { ref: main }
    depends_on: [{ project: gl/lib }]
  - id: gl/package
    gitlab: group/package
    trigger: { ref: main }
    depends_on: [{ project: gl/lib, after_check: package }]
  - id: elsewhere/tool
    gitlab: { host: ${OTHER_HOST}, project: group/tool, token_env: OTHER_TOKEN, webhook_secret_env: OTHER_HOOK_SECRET }
`;
const startHarness = useHarness();
/** group/tool's pipeline stays unfinished on purpose, and its first poll is 10 minutes away (see start). */
const NEXT_POLL: Ignored = { queue: "trigger", name: "poll", why: "polling is set 10 minutes off: only a hook can bring a result" };
const start = () => startHarness({
  map: MAP, repos: {}, gitlabProjects: [GL_UPSTREAM, "group/tool", "group/package"], gitlabTags: GL_TAGS(),
  // polling far off: a result can only come by a hook
  env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET, OTHER_HOOK_SECRET: OTHER_SECRET, OTHER_TOKEN: "other-token", OPENCI_POLL_INTERVAL_MS: "600000" },
});

/** The documented Pipeline Hook example, about pipeline `id` of group/tool on `host` (the fake's own by default). */
function pipelineHook(h: Harness, id: number, status: string, host?: string) {
  const fixture = gitlabFixture("pipeline");
  Object.assign(fixture.body.object_attributes, { id, status, url: `${h.gitlab!.url}/group/tool/-/pipelines/${id}` });
  fixture.body.project.path_with_namespace = "group/tool";
  fixture.body.project.web_url = host ? `https://${host}/group/tool` : `${h.gitlab!.url}/group/tool`;
  if (host) fixture.headers["X-Gitlab-Instance"] = `https://${host}`;
  return fixture;
}

async function triggered(h: Harness) {
  expect((await sendHook(h, tagPush(h.gitlab!))).status).toBe(200);
  const pipeline = await waitFor("group/tool's pipeline", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
  await upstreamStatus(h, "openci: gl/tool", "running");
  return pipeline;
}

describe("GitLab Pipeline and Job Hooks", () => {
  it("a hook saying a pipeline passed changes nothing while GitLab says it is running", async () => {
    const h = await start();
    const pipeline = await triggered(h);
    pipeline.status = "running";

    const res = await sendHook(h, pipelineHook(h, pipeline.id, "success"));
    await waitFor("the hook worked on", () => h.gitlab!.calls("get_pipeline").length > 0);
    await h.idle({ ignore: [NEXT_POLL] });
    const during = h.gitlab!.status(GL_UPSTREAM, tagPush(h.gitlab!).body.checkout_sha, "openci: gl/tool")?.status;
    pipeline.status = "failed";
    await sendHook(h, pipelineHook(h, pipeline.id, "success"));
    const after = await upstreamStatus(h, "openci: gl/tool", "failed");

    expect(res.status).toBe(200);
    expect(during).toBe("running");
    expect(after.status).toBe("failed");
  });

  it("a hook from another instance about a pipeline of the same path is not taken for the triggered one", async () => {
    const h = await start();
    const pipeline = await triggered(h);
    pipeline.status = "success";

    const res = await sendHook(h, pipelineHook(h, pipeline.id, "success", OTHER_HOST), OTHER_SECRET);
    await waitFor("the hook worked on", () => h.logs.some((l) => l.includes("pipeline hook from another GitLab instance")));
    await h.idle({ ignore: [NEXT_POLL] });

    expect(res.status).toBe(200);
    expect(h.gitlab!.status(GL_UPSTREAM, tagPush(h.gitlab!).body.checkout_sha, "openci: gl/tool")?.status).toBe("running");
    expect(h.gitlab!.calls("get_pipeline")).toHaveLength(0);
  });

  it("a Job Hook saying a gate's job passed opens nothing while GitLab lists it failed", async () => {
    const h = await start();
    await triggered(h);
    await upstreamStatus(h, "openci: gl/package", "pending");
    upstreamJobOnGitlab(h.gitlab!, "package", "failed");

    await sendHook(h, upstreamJobHook(h.gitlab!, "package", "success"));
    const skipped = await upstreamStatus(h, "openci: gl/package", "skipped");
    await h.idle({ ignore: [NEXT_POLL] });

    expect(skipped.description).toMatch(/package/);
    expect(h.gitlab!.pipelines.filter((p) => p.project === "group/package")).toEqual([]);
  });
});
