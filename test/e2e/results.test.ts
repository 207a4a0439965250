import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";

/** The downstream of the real workflow_run examples: octo-org/octo-repo, .github/workflows/test.yml on master. */
const DOWNSTREAM = "octo-org/octo-repo";
const COMMIT_2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const mapWith = (extra = "") => `
projects:
  - id: hello
    github: ${UPSTREAM}
${octoProject({ edge: extra })}  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;
const repos = () => ({
  [UPSTREAM]: { ...upstreamRepo(), tags: { "simple-tag": { type: "commit" as const, sha: COMMIT }, v2: { type: "commit" as const, sha: COMMIT_2 } } },
  [DOWNSTREAM]: octoRepo(),
  "acme/app": acmeAppRepo(),
});
const startHarness = useHarness();

const octoCheck = (h: Harness, sha = COMMIT) => downstreamChecks(h.github).find((c) => c.name === "openci: octo" && c.head_sha === sha);
const rollup = (h: Harness) => h.github.checkRuns.find((c) => c.name === "openci");
const dispatchTo = (h: Harness, repo: string, sha = COMMIT) =>
  h.github.calls("actions/create-workflow-dispatch").find((c) => `${c.params.owner}/${c.params.repo}` === repo && c.body.inputs.openci_sha === sha);

/** Waits for `name`'s trigger on `sha` and returns the run id the (fake) dispatch returned. */
const triggered = async (h: Harness, sha = COMMIT, name = "openci: octo") => runIdOf(await runningCheck(h, name, sha));

describe("downstream results come back upstream", () => {
  it.each([
    ["success", "success", "Passed: octo"],
    ["failure", "failure", "Failed: octo (1 failing job)"],
    ["cancelled", "cancelled", "Cancelled: octo"],
    ["startup_failure", "failure", "Failed: octo (1 failing job)"],
  ])("a run that ends %s completes the upstream check as %s", async (runConclusion, checkConclusion, title) => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    await h.send("create.tag");
    const runId = await triggered(h);
    h.github.runJobs[runId] = [{ name: "unit tests", conclusion: "failure" }, { name: "lint", conclusion: "success" }];

    await sendRun(h, { id: runId, conclusion: runConclusion });
    const check = await waitFor("octo's check completed", () => (octoCheck(h)?.status === "completed" ? octoCheck(h) : undefined));

    expect(check.conclusion).toBe(checkConclusion);
    expect(check.output.title).toBe(title);
    expect(check.details_url).toBe("https://github.com/octo-org/octo-repo/actions/runs/" + runId);
    expect(check.output.summary).toContain(`| octo | [run ${runId}](https://github.com/octo-org/octo-repo/actions/runs/${runId}) |`);
    if (checkConclusion === "failure") expect(check.output.summary).toContain("**Failing jobs:**\n- unit tests");
    else expect(check.output.summary).not.toContain("Failing jobs");
  });

  it("keeps a completed check completed when an in_progress delivery arrives late", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    await h.send("create.tag");
    const runId = await triggered(h);

    await sendRun(h, { id: runId, conclusion: "success" });
    await waitFor("octo's check completed", () => octoCheck(h)?.status === "completed");
    await sendRun(h, { id: runId, action: "in_progress", status: "in_progress", conclusion: null });
    await h.idle();

    expect(octoCheck(h)).toMatchObject({ status: "completed", conclusion: "success" });
  });

  it("ignores runs the relay did not start", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    await h.send("create.tag");
    await triggered(h);

    await sendRun(h, { id: 987654, conclusion: "failure" });
    await h.idle();

    expect(octoCheck(h)?.status).toBe("in_progress");
  });

  it("never swaps the results of two concurrent triggers of one downstream", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    await h.send("create.tag");
    await h.send("create.tag", (p) => (p.ref = "v2"));
    const first = await triggered(h, COMMIT);
    const second = await triggered(h, COMMIT_2);

    await sendRun(h, { id: second, conclusion: "failure" });
    await sendRun(h, { id: first, conclusion: "success" });
    await waitFor("both completed", () => octoCheck(h, COMMIT)?.status === "completed" && octoCheck(h, COMMIT_2)?.status === "completed");

    expect(first).not.toBe(second);
    expect(octoCheck(h, COMMIT)?.conclusion).toBe("success");
    expect(octoCheck(h, COMMIT_2)?.conclusion).toBe("failure");
  });

  it("without a run id from the dispatch, correlates by the relay run id in the run's title, and only then", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    h.github.supportsRunDetails = false;
    await h.send("create.tag");
    const call = await waitFor("the dispatch to octo", () => dispatchTo(h, DOWNSTREAM));
    await waitFor("octo's check in progress", () => octoCheck(h)?.status === "in_progress");

    await sendRun(h, { id: 555, conclusion: "failure", title: "an unrelated manual run" });
    await h.idle();
    const beforeTitledRun = octoCheck(h)?.status;
    await sendRun(h, { id: 556, conclusion: "success", title: `openci ${call.body.inputs.openci_run_id}` });
    const check = await waitFor("octo's check completed", () => (octoCheck(h)?.status === "completed" ? octoCheck(h) : undefined));

    expect(beforeTitledRun).toBe("in_progress");
    expect(check.conclusion).toBe("success");
    expect(check.details_url).toBe("https://github.com/octo-org/octo-repo/actions/runs/556");
  });

  it("ends a downstream that never reports within its edge's timeout as timed_out", async () => {
    const h = await startHarness({ map: mapWith("timeout: 2s"), repos: repos() });

    await h.send("create.tag");
    const check = await waitFor("octo's check timed out", () => (octoCheck(h)?.status === "completed" ? octoCheck(h) : undefined), 10_000);

    expect(check.conclusion).toBe("timed_out");
    expect(check.output.summary).toContain("No result arrived from the downstream within 2s");
  });
});

describe("the roll-up check", () => {
  it("counts the downstreams that passed and lists them all", async () => {
    const h = await startHarness({ map: mapWith(), repos: repos() });
    await h.send("create.tag");
    const runId = await triggered(h);
    const running = await waitFor("a running roll-up", () => (rollup(h)?.output.title?.includes("still running") ? rollup(h)!.output.title : undefined));

    await sendRun(h, { id: runId, conclusion: "success" });
    await sendRun(h, { id: await triggered(h, COMMIT, "openci: acme/app"), conclusion: "failure", repo: "acme/app" });
    const done = await waitFor("a completed roll-up", () => (rollup(h)?.status === "completed" ? rollup(h) : undefined));

    expect(running).toMatch(/^0 of 2 downstreams passed, [12] still running$/);
    expect(done.conclusion).toBe("failure");
    expect(done.output.title).toBe("1 of 2 downstreams passed");
    expect(done.output.summary).toContain("| acme/app | failed |");
    expect(done.output.summary).toContain(`| octo | passed | [run](https://github.com/octo-org/octo-repo/actions/runs/${runId}) |`);
    expect(h.github.checkRuns.filter((c) => c.name === "openci")).toHaveLength(1);
  });
});
