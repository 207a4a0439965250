import { describe, expect, it } from "@jest/globals";
import { GL_COMMIT, GL_TAGS, GL_UPSTREAM, HOOK_SECRET, sendHook, tagPush } from "../helpers/gitlab-upstream.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_OCTO_MAP, octoProject } from "../helpers/maps.js";

/** Finding 7 of issue 16: the failure comment's marker is predictable; a comment carrying it may be anyone's. */
const MARKER = `<!-- openci-relay:failures:${COMMIT} -->`;
const GITHUB_MAP = GITHUB_TO_OCTO_MAP;
const startHarness = useHarness();

describe("a comment planted with the relay's marker", () => {
  it.each([
    ["on the merged pull request", { pulls: { [COMMIT]: [{ number: 7, merged: true }] } }, "pr-7", "issues/create-comment"],
    ["on the commit", {}, `commit-${COMMIT}`, "repos/create-commit-comment"],
  ])("%s is left alone; the relay writes its own", async (_where, upstream, on, createOp) => {
    const h = await startHarness({ map: GITHUB_MAP, repos: { [UPSTREAM]: { ...upstreamRepo(), ...upstream }, "octo-org/octo-repo": octoRepo() } });
    const planted = h.github.plantComment(UPSTREAM, on, `${MARKER}\nAll good here, [download the fix](https://evil.example)`);
    await h.send("create.tag");
    const octo = runIdOf(await runningCheck(h, "openci: octo"));

    await sendRun(h, { id: octo, conclusion: "failure" });
    const own = await waitFor("the relay's own comment", () => h.github.comments.find((c) => c.id !== planted.id));

    expect(planted.body).toContain("evil.example");
    expect(own).toMatchObject({ on, author: { type: "Bot", login: `${h.github.appSlug}[bot]` } });
    expect(own.body).toContain(MARKER);
    expect(h.github.calls(createOp)).toHaveLength(1);
    expect([...h.github.calls("issues/update-comment"), ...h.github.calls("repos/update-commit-comment")]).toEqual([]);
  });
});

describe("a GitLab note planted with the relay's marker", () => {
  it("is left alone on the merge request; the relay writes its own note", async () => {
    const map = `
projects:
  - id: gl/lib
    gitlab: ${GL_UPSTREAM}
${octoProject({ upstream: "gl/lib" })}`;
    const h = await startHarness({ map, repos: { "octo-org/octo-repo": octoRepo() }, gitlabProjects: [GL_UPSTREAM], gitlabTags: GL_TAGS(), env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET } });
    const planted = { id: 1, body: `<!-- openci-relay:failures:${GL_COMMIT} -->\nnothing to see`, updated: 0, author: { id: 99, username: "mallory" } };
    h.gitlab!.mergeRequests.push({ project: GL_UPSTREAM, iid: 7, state: "merged", shas: [GL_COMMIT], notes: [planted] });
    await sendHook(h, tagPush(h.gitlab!));
    const run = await waitFor("the GitHub dispatch", () => h.github.dispatchedRuns[0]);

    await sendRun(h, { id: run.runId, conclusion: "failure" });
    const own = await waitFor("the relay's own note", () => h.gitlab!.mergeRequests[0]!.notes.find((n) => n.id !== planted.id));

    expect(planted).toMatchObject({ updated: 0, body: expect.stringContaining("nothing to see") });
    expect(own.body).toContain(`<!-- openci-relay:failures:${GL_COMMIT} -->`);
    expect(h.gitlab!.calls("update_merge_request_note")).toEqual([]);
    expect(h.gitlab!.calls("get_current_user")).toHaveLength(1);
  });
});
