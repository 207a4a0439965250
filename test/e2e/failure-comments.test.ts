import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { settle, waitFor } from "../helpers/wait-for.js";

const mapWith = (report = "") => `
projects:
  - id: hello
    github: ${UPSTREAM}${report}
  - id: octo
    github: octo-org/octo-repo
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: hello }]
  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;
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
    await settle(300);

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
    await settle(500);

    expect(h.github.comments).toEqual([]);
  });

  it("stays silent while nothing fails", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos(MERGED_PR) });
    await h.send("create.tag");
    const octo = await runOf(h, "openci: octo");

    await finish(h, "octo-org/octo-repo", octo, "success");
    await waitFor("octo's check to pass", () => downstreamChecks(h.github).some((c) => c.conclusion === "success"));
    await settle(500);

    expect(h.github.comments).toEqual([]);
    expect(h.github.calls("repos/list-pull-requests-associated-with-commit")).toEqual([]);
  });
});
