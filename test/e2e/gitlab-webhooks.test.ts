import { describe, expect, it } from "@jest/globals";
import { gitlabFixture, sendGitlabDelivery } from "../helpers/gitlab-deliveries.js";
import { jobCount } from "../helpers/queue-counts.js";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITLAB_MAP } from "../helpers/maps.js";

const SECRET = "gitlab-hook-secret";
const MAP = GITHUB_TO_GITLAB_MAP;
const startHarness = useHarness();
/** Polling far off, so the result can only come by the Pipeline Hook. */
const start = () => startHarness({
  map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"],
  env: { GITLAB_WEBHOOK_SECRET: SECRET, OPENCI_POLL_INTERVAL_MS: "600000" },
});

/** The documented Pipeline Hook example, changed to be about this pipeline of group/tool on the fake GitLab. */
function pipelineHook(h: Harness, id: number, status: string) {
  const fixture = gitlabFixture("pipeline");
  fixture.body.object_attributes.id = id;
  fixture.body.object_attributes.status = status;
  fixture.body.object_attributes.url = `http://gitlab.test/group/tool/-/pipelines/${id}`;
  fixture.body.project.path_with_namespace = "group/tool";
  // the shared secret speaks only for GITLAB_URL's projects: the hook comes from that instance
  fixture.body.project.web_url = `${h.gitlab!.url}/group/tool`;
  return fixture;
}

async function triggered(h: Harness): Promise<number> {
  await waitFor("the check in progress", () => downstreamChecks(h.github).some((c) => c.status === "in_progress"));
  return h.gitlab!.pipelines[0]!.id;
}

describe("GitLab webhooks", () => {
  it("bring a downstream pipeline's result upstream through the Pipeline Hook", async () => {
    const h = await start();
    await h.send("create.tag");
    const id = await triggered(h);
    h.gitlab!.pipelines[0]!.status = "canceled"; // what GitLab says when the relay asks

    const res = await sendGitlabDelivery(h.url, pipelineHook(h, id, "canceled"), { token: SECRET });
    const done = await waitFor("the check completed", () => downstreamChecks(h.github).find((c) => c.status === "completed"));

    expect(res.status).toBe(200);
    expect(done.conclusion).toBe("cancelled");
    expect(done.details_url).toBe(`${h.gitlab!.url}/group/tool/-/pipelines/${id}`);
  });

  it.each([
    ["a wrong token", "not-the-secret"],
    ["a token of another length", "x"],
    ["no token", null],
  ])("refuses %s with 401 and enqueues nothing", async (_what, token) => {
    const h = await start();

    const res = await sendGitlabDelivery(h.url, pipelineHook(h, 1, "success"), { token });
    await h.idle();

    expect(res.status).toBe(401);
    expect(await jobCount(h.redisUrl, "events")).toBe(0);
  });

  it("counts a retried delivery (same Idempotency-Key) once", async () => {
    const h = await start();

    const first = await sendGitlabDelivery(h.url, pipelineHook(h, 5, "success"), { token: SECRET });
    const afterFirst = await jobCount(h.redisUrl, "events");
    const retry = await sendGitlabDelivery(h.url, pipelineHook(h, 5, "success"), { token: SECRET, idempotencyKey: first.key });

    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(afterFirst).toBe(1);
    expect(await jobCount(h.redisUrl, "events")).toBe(1);
  });

  it("answers 400 to a body that is not JSON", async () => {
    const h = await start();

    const res = await fetch(`${h.url}/api/gitlab/webhooks`, {
      method: "POST", headers: { "x-gitlab-token": SECRET, "x-gitlab-event": "Pipeline Hook" }, body: "{not json",
    });

    expect(res.status).toBe(400);
  });
});
