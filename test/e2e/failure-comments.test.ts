import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { GL_COMMIT, GL_TAGS, GL_UPSTREAM, HOOK_SECRET, sendHook, tagPush } from "../helpers/gitlab-upstream.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { gitlabToOctoMap, githubToOctoAndAcmeMap } from "../helpers/maps.js";
import { waitFor } from "../helpers/wait-for.js";

const mapWith = githubToOctoAndAcmeMap;
const repos = (upstream: Partial<FakeRepo> = {}) => ({
  [UPSTREAM]: { ...upstreamRepo(), ...upstream },
  "octo-org/octo-repo": octoRepo(),
  "acme/app": acmeAppRepo(),
});
const MERGED_PR = { pulls: { [COMMIT]: [{ number: 7, merged: true }, { number: 8, merged: false }] } };
const startHarness = useHarness();

const runOf = async (h: Harness, name: string) => runIdOf(await runningCheck(h, name));
const finish = (h: Harness, repo: string, id: number, conclusion: string, deliveryId?: string) =>
  sendRun(h, { repo, id, conclusion }, deliveryId);

describe("the failure comment upstream", () => {
  it("goes once on the merged pull request, is edited as results change, and says when all pass", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos(MERGED_PR) });
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");
    const app = await runOf(h, "openci: acme/app");
    h.github.runJobs[octo] = [{ name: "unit tests", conclusion: "failure" }];

    const first = await finish(h, "octo-org/octo-repo", octo, "failure");
    const one = await waitFor("a comment", () => h.github.comments[0]?.body);
    await finish(h, "octo-org/octo-repo", octo, "failure", first.id); // a redelivery
    await finish(h, "octo-org/octo-repo", octo, "failure"); // the same result in a new delivery
    await finish(h, "acme/app", app, "cancelled");
    const two = await waitFor("the comment to list both", () => (h.github.comments[0]?.body.includes("acme/app") ? h.github.comments[0].body : undefined));
    await finish(h, "octo-org/octo-repo", octo, "success");
    await finish(h, "acme/app", app, "success");
    const passed = await waitFor("the comment to say all pass", () => (h.github.comments[0]?.body.includes("pass now") ? h.github.comments[0].body : undefined));
    await h.idle();

    expect(h.github.comments.map((c) => c.on)).toEqual(["pr-7"]);
    expect(one).toContain("<!-- openci-relay:failures:6113728f27ae82c7b1a177c8d03f9e96e0adf246 -->");
    expect(one).toContain("### OpenCI: 1 of 2 downstreams of `6113728` failing");
    expect(one).toContain(`| octo | failed | [run](https://github.com/octo-org/octo-repo/actions/runs/${octo}) | unit tests |`);
    expect(two).toContain("### OpenCI: 2 of 2 downstreams of `6113728` failing");
    expect(two).toContain("| acme/app | cancelled |");
    expect(passed).toContain("### OpenCI: all 2 downstreams of `6113728` pass now");
    expect(h.github.calls("issues/create-comment")).toHaveLength(1);
    // the app's slug (its bot user) is asked once per process, not once per upsert
    expect(h.github.calls("apps/get-authenticated")).toHaveLength(1);
  });

  it("goes on the commit when no pull request brought it in", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");

    await finish(h, "octo-org/octo-repo", octo, "failure");
    await waitFor("a comment", () => h.github.comments.length === 1);

    expect(h.github.comments[0]!.on).toBe(`commit-${COMMIT}`);
  });

  it.each([
    ["none", MERGED_PR],
    ["pull_request", {}],
  ])("is not written with report.comment: %s when there is no place for it", async (mode, upstream) => {
    const h = await startHarness({ map: mapWith(`\n    report: { comment: ${mode} }`), repos: repos(upstream) });
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");

    await finish(h, "octo-org/octo-repo", octo, "failure");
    await waitFor("octo's check to fail", () => downstreamChecks(h.github).some((c) => c.conclusion === "failure"));
    await h.idle();

    expect(h.github.comments).toEqual([]);
  });

  it("stays silent while nothing fails", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos(MERGED_PR) });
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");

    await finish(h, "octo-org/octo-repo", octo, "success");
    await waitFor("octo's check to pass", () => downstreamChecks(h.github).some((c) => c.conclusion === "success"));
    await h.idle();

    expect(h.github.comments).toEqual([]);
    expect(h.github.calls("repos/list-pull-requests-associated-with-commit")).toEqual([]);
  });
});

const MARKER = `<!-- openci-relay:failures:${COMMIT} -->`;
const STALE = `${MARKER}\n### OpenCI: an earlier text`;
const updates = (h: Harness) => [...h.github.calls("issues/update-comment"), ...h.github.calls("repos/update-commit-comment")];
const creates = (h: Harness) => [...h.github.calls("issues/create-comment"), ...h.github.calls("repos/create-commit-comment")].map((r) => `${r.method} ${r.path}`);

describe("the failure comment found again by its marker", () => {
  it.each([
    ["the merged pull request", MERGED_PR, "pr-7"],
    ["the commit", {}, `commit-${COMMIT}`],
  ])("on %s: the relay's own earlier comment is edited, a stranger's with the same marker is left alone, none is added", async (_where, upstream, on) => {
    const h = await startHarness({ map: mapWith(), repos: repos(upstream) });
    const stranger = h.github.plantComment(UPSTREAM, on, `${MARKER}\nquoted by someone`);
    const own = h.github.plantOwnComment(UPSTREAM, on, STALE); // its id lost with an earlier Redis
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");

    await finish(h, "octo-org/octo-repo", octo, "failure");
    await waitFor("the relay's comment written", () => own.body !== STALE || creates(h).length > 0);

    expect(creates(h)).toEqual([]);
    expect(updates(h).map((r) => Number(r.params.comment_id))).toEqual([own.id]);
    expect(own.body).toContain("### OpenCI: 1 of 2 downstreams of `6113728` failing");
    expect(stranger.body).toBe(`${MARKER}\nquoted by someone`);
    expect(h.github.comments.map((c) => c.id)).toEqual([stranger.id, own.id]);
  });

  it.each([403, 404])("that the relay can no longer edit (%i) is replaced by a new one, written once", async (status) => {
    const h = await startHarness({ map: mapWith(), repos: repos(MERGED_PR) });
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");
    const app = await runOf(h, "openci: acme/app");
    await finish(h, "octo-org/octo-repo", octo, "failure");
    const first = await waitFor("the first comment", () => h.github.comments[0]);

    h.github.fail("issues/update-comment", status);
    await finish(h, "acme/app", app, "failure");
    const second = await waitFor("a comment listing both", () => h.github.comments.find((c) => c.body.includes("2 of 2 downstreams")));

    expect(second.id).not.toBe(first.id);
    expect(first.body).toContain("1 of 2 downstreams");
    expect(h.github.calls("issues/create-comment")).toHaveLength(2);
    expect(h.github.calls("issues/update-comment").map((r) => Number(r.params.comment_id))).toEqual([first.id]);
  });
});

describe("the failure note on GitLab found again by its marker", () => {
  const GL_MAP = gitlabToOctoMap(GL_UPSTREAM);
  const GL_MARKER = `<!-- openci-relay:failures:${GL_COMMIT} -->`;

  it("edits the relay's own earlier note on the merge request, leaves a stranger's alone, and adds none", async () => {
    const h = await startHarness({ map: GL_MAP, repos: { "octo-org/octo-repo": octoRepo() }, gitlabProjects: [GL_UPSTREAM], gitlabTags: GL_TAGS(), env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET } });
    const stranger = { id: 1, body: `${GL_MARKER}\nquoted`, updated: 0, author: { id: 99, username: "mallory" } };
    const own = { id: 2, body: `${GL_MARKER}\nan earlier text`, updated: 0 }; // written by the token's user
    h.gitlab!.mergeRequests.push({ project: GL_UPSTREAM, iid: 7, state: "merged", shas: [GL_COMMIT], notes: [stranger, own] });
    await sendHook(h, tagPush(h.gitlab!));
    const run = await waitFor("the GitHub dispatch", () => h.github.dispatchedRuns[0]);

    await sendRun(h, { id: run.runId, conclusion: "failure" });
    await waitFor("the relay's note written", () => own.updated > 0 || h.gitlab!.calls("create_merge_request_note").length > 0);

    expect(h.gitlab!.calls("create_merge_request_note").map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(h.gitlab!.calls("update_merge_request_note").map((r) => Number(r.params.note_id))).toEqual([own.id]);
    expect(own.body).toContain("failing");
    expect(stranger).toMatchObject({ updated: 0, body: `${GL_MARKER}\nquoted` });
  });
});
