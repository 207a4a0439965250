import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import type { Harness } from "../helpers/relay-harness.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";

/** The real check_suite example: a suite of app 29310 passed on ec26c3e…, the head of pull request #2. */
const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const mapWith = (pullRequests: string) => `
projects:
  - id: hello
    github: ${UPSTREAM}
${octoProject({ edge: pullRequests })}`;
const repos = (upstream: Partial<FakeRepo>) => ({
  [UPSTREAM]: { ...upstreamRepo(), ...upstream },
  "octo-org/octo-repo": octoRepo(),
});
const PR_2 = { pulls: { [HEAD]: [{ number: 2, merged: false }] }, suites: { [HEAD]: [{ appId: 29310, status: "completed", conclusion: "success" }] } };
const startHarness = useHarness();

const dispatches = (h: Harness) => h.github.calls("actions/create-workflow-dispatch");

describe("cross-project testing of pull requests", () => {
  it("tests an upstream pull request downstream once its checks pass, and reports back on its head", async () => {
    const h = await startHarness({ map: mapWith("pull_requests: true"), repos: repos(PR_2) });

    await h.send("check_suite.completed");
    const running = await runningCheck(h, "openci: octo", HEAD);
    await sendRun(h, { id: runIdOf(running), conclusion: "failure" });
    const done = await waitFor("octo's check on the head completed", () =>
      downstreamChecks(h.github).find((c) => c.head_sha === HEAD && c.status === "completed"));

    expect(dispatches(h)).toHaveLength(1);
    expect(dispatches(h)[0]!.body.inputs).toMatchObject({ openci_tag: "pull/2", openci_sha: HEAD });
    expect(done.conclusion).toBe("failure");
    expect(done.repo).toBe(UPSTREAM);
    await h.idle();
    expect(h.github.comments).toEqual([]);
  });

  it.each([
    ["the edge does not opt in", "", PR_2],
    ["another check suite is still running", "pull_requests: true",
      { ...PR_2, suites: { [HEAD]: [...PR_2.suites[HEAD], { appId: 15368, status: "in_progress", conclusion: null }] } }],
    ["the pull request comes from a fork", "pull_requests: true", { ...PR_2, pulls: { [HEAD]: [{ number: 2, merged: false, fork: true }] } }],
  ])("triggers nothing when %s", async (_why, option, upstream) => {
    const h = await startHarness({ map: mapWith(option), repos: repos(upstream) });

    await h.send("check_suite.completed");
    await h.idle();

    expect(dispatches(h)).toEqual([]);
  });

  it("tests a fork's pull request where the edge allows forks", async () => {
    const h = await startHarness({
      map: mapWith("pull_requests: { forks: true }"),
      repos: repos({ ...PR_2, pulls: { [HEAD]: [{ number: 2, merged: false, fork: true }] } }),
    });

    await h.send("check_suite.completed");
    await waitFor("the dispatch", () => dispatches(h).length === 1);

    expect(dispatches(h)[0]!.body.inputs.openci_tag).toBe("pull/2");
  });
});
