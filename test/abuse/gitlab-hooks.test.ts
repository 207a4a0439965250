import { describe, expect, it } from "@jest/globals";
import { GL_TAGS, GL_UPSTREAM, HOOK_SECRET, sendHook, tagPush } from "../helpers/gitlab-upstream.js";
import { useHarness } from "../helpers/scenario.js";
import { jobCount } from "../helpers/queue-counts.js";
import { waitFor } from "../helpers/wait-for.js";

/** Finding 4 of issue 16: one shared GitLab secret spoke for every project, and what it said was believed. */
const OWN_SECRET = "group-lib-own-secret-value";
const map = (lib = `gitlab: ${GL_UPSTREAM}`) => `
projects:
  - id: gl/lib
    ${lib}
  - id: gl/tool
    gitlab: group/tool
    trigger: { ref: main }
    depends_on: [{ project: gl/lib }]
`;
const startHarness = useHarness();
const start = (lib?: string) => startHarness({
  map: map(lib), repos: {}, gitlabProjects: [GL_UPSTREAM, "group/tool"], gitlabTags: GL_TAGS(),
  env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET, LIB_HOOK_SECRET: OWN_SECRET },
});
const OWN = `gitlab: { project: ${GL_UPSTREAM}, webhook_secret_env: LIB_HOOK_SECRET }`;

describe("GitLab webhook secrets", () => {
  it("a project with its own secret refuses the shared one, and accepts its own", async () => {
    const h = await start(OWN);

    const shared = await sendHook(h, tagPush(h.gitlab!), HOOK_SECRET);
    await h.idle();
    const queuedAfterShared = await jobCount(h.redisUrl, "events");
    const own = await sendHook(h, tagPush(h.gitlab!), OWN_SECRET);

    expect([shared.status, own.status]).toEqual([401, 200]);
    expect(queuedAfterShared).toBe(0);
    await waitFor("the pipeline of group/tool", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
  });

  it("the shared secret still speaks for a project without its own", async () => {
    const h = await start();

    const res = await sendHook(h, tagPush(h.gitlab!), HOOK_SECRET);

    expect(res.status).toBe(200);
    await waitFor("the pipeline of group/tool", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
  });

  it("X-Gitlab-Instance cannot carry the shared secret to another host", async () => {
    const h = await start();
    const hook = tagPush(h.gitlab!);
    hook.headers["X-Gitlab-Instance"] = "https://gitlab.other.example";
    hook.body.project.web_url = `https://gitlab.other.example/${GL_UPSTREAM}`;

    const res = await sendHook(h, hook, HOOK_SECRET);
    await h.idle();

    expect(res.status).toBe(401);
    expect(await jobCount(h.redisUrl, "events")).toBe(0);
  });
});

describe("a Tag Push Hook is checked against GitLab before anything is triggered", () => {
  it("at a commit the tag is not on, dispatches nothing and says why in the log", async () => {
    const h = await start();
    const forged = tagPush(h.gitlab!);
    forged.body.after = forged.body.checkout_sha = "dddddddddddddddddddddddddddddddddddddddd";

    const res = await sendHook(h, forged, HOOK_SECRET);
    await waitFor("the refusal in the log", () => h.logs.some((l) => l.includes("tag cannot be resolved: nothing triggered")));
    await h.idle();

    expect(res.status).toBe(200);
    expect(h.gitlab!.pipelines).toEqual([]);
    expect(h.gitlab!.calls("get_tag")).toHaveLength(1);
    expect(h.logs.join("")).toContain("not at ddddddd as the delivery said");
  });

  it("of a tag that does not exist, dispatches nothing", async () => {
    const h = await start();
    const forged = tagPush(h.gitlab!);
    forged.body.ref = "refs/tags/v9.9.9";

    await sendHook(h, forged, HOOK_SECRET);
    await waitFor("the refusal in the log", () => h.logs.some((l) => l.includes("tag cannot be resolved: nothing triggered")));

    expect(h.gitlab!.pipelines).toEqual([]);
  });
});

describe("what a GitLab hook says of visibility", () => {
  it("a hook signed with the shared secret cannot make a private project public", async () => {
    const readToken = "read-token-0123456789abcdef";
    const h = await startHarness({
      map: map(), repos: {}, gitlabProjects: [GL_UPSTREAM, "group/tool"], gitlabTags: GL_TAGS(), gitlabVisibility: { [GL_UPSTREAM]: "private" },
      env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET, OPENCI_READ_TOKEN: readToken },
    });
    const hook = tagPush(h.gitlab!);
    hook.body.project.visibility_level = 20; // says public; GitLab says private

    await sendHook(h, hook, HOOK_SECRET);
    await waitFor("the pipeline of group/tool", () => h.gitlab!.pipelines.find((p) => p.project === "group/tool"));
    const release = `/api/v1/releases/${encodeURIComponent("gl/lib")}/v1.0.0`;
    const privately = await waitFor("the release recorded", async () => {
      const res = await fetch(`${h.url}${release}`, { headers: { authorization: `Bearer ${readToken}` } });
      return res.status === 200 ? res : undefined;
    });
    const publicly = await fetch(`${h.url}${release}`);

    expect(privately.status).toBe(200);
    expect(publicly.status).toBe(404);
    expect(h.gitlab!.calls("get_project").length).toBeGreaterThan(0);
  });
});
