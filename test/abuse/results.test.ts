import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { EXAMPLE_DOWNSTREAM, sendRun, type RunChange } from "../helpers/runs.js";
import { downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";

/**
 * Finding 1 of issue 16: where a dispatch returns no run id, a result is found by the relay run id
 * in a run's title; titles are anyone's to write (a pull request's title names its runs).
 */
const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
${octoProject()}  - id: svc
    github: other/svc
    trigger: { event_type: upstream-release }
    depends_on: [{ project: hello }]
`;
const startHarness = useHarness();
const start = async () => {
  const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo(), [EXAMPLE_DOWNSTREAM]: octoRepo(), "other/svc": { installationId: 3 } } });
  h.github.supportsRunDetails = false;
  return h;
};
const check = (h: Harness, name: string) => downstreamChecks(h.github).find((c) => c.name === name)!;
const inProgress = (h: Harness, name: string) => waitFor(`${name} in progress`, () => check(h, name)?.status === "in_progress");
/** The relay run id the dispatch to octo carried (its run-name puts it in the run's title). */
const octoRelayRunId = async (h: Harness): Promise<string> =>
  (await waitFor("the dispatch to octo", () => h.github.calls("actions/create-workflow-dispatch")[0])).body.inputs.openci_run_id;
const TEN_MINUTES_AGO = () => new Date(Date.now() - 10 * 60_000).toISOString();

describe("a stranger's run whose title carries the relay run id", () => {
  it.each<[string, (relayRunId: string) => RunChange]>([
    ["a pull request's run of another workflow", (id) => ({ id: 901, title: `fix: openci ${id}`, event: "pull_request", path: ".github/workflows/pr.yml" })],
    ["a run of the triggered workflow, but started by a pull request", (id) => ({ id: 902, title: `openci ${id}`, event: "pull_request" })],
    ["a run of the triggered workflow created before the trigger", (id) => ({ id: 903, title: `openci ${id}`, createdAt: TEN_MINUTES_AGO() })],
    ["a run of another repository", (id) => ({ id: 904, title: `openci ${id}`, repo: "stranger/fork" })],
  ])("does not change the upstream check: %s", async (_what, stranger) => {
    const h = await start();
    await h.send("create.tag");
    const relayRunId = await octoRelayRunId(h);
    await inProgress(h, "openci: octo");

    await sendRun(h, { ...stranger(relayRunId), conclusion: "failure" });
    await h.idle();

    expect(check(h, "openci: octo")).toMatchObject({ status: "in_progress", details_url: expect.not.stringMatching(/\/runs\/90\d$/) });
    expect(h.logs.join("")).toMatch(/does not fit its trigger|run not started by the relay/);
  });

  it("is ignored once the real run is bound: only that run reports for the trigger", async () => {
    const h = await start();
    await h.send("create.tag");
    const relayRunId = await octoRelayRunId(h);
    await inProgress(h, "openci: octo");

    await sendRun(h, { id: 556, title: `openci ${relayRunId}`, action: "in_progress", status: "in_progress", conclusion: null });
    await waitFor("the real run linked", () => check(h, "openci: octo").details_url?.endsWith("/runs/556"));
    await sendRun(h, { id: 557, title: `openci ${relayRunId}`, conclusion: "failure" });
    await h.idle();
    const afterCopy = { ...check(h, "openci: octo") };
    await sendRun(h, { id: 556, title: `openci ${relayRunId}`, conclusion: "success" });
    const done = await waitFor("octo completed", () => (check(h, "openci: octo").status === "completed" ? check(h, "openci: octo") : undefined));

    expect(afterCopy).toMatchObject({ status: "in_progress", details_url: expect.stringMatching(/\/runs\/556$/) });
    expect(done).toMatchObject({ conclusion: "success", details_url: expect.stringMatching(/\/runs\/556$/) });
    expect(h.logs.join("")).toContain("already bound to another run");
  });

  it("of a repository_dispatch downstream counts only from a run started by repository_dispatch", async () => {
    const h = await start();
    await h.send("create.tag");
    const dispatch = await waitFor("the dispatch to svc", () => h.github.calls("repos/create-dispatch-event")[0]);
    const relayRunId: string = dispatch.body.client_payload.openci_run_id;
    await inProgress(h, "openci: svc");

    await sendRun(h, { id: 701, repo: "other/svc", title: `openci ${relayRunId}`, event: "pull_request_target", conclusion: "failure" });
    await h.idle();
    const afterStranger = check(h, "openci: svc").status;
    await sendRun(h, { id: 702, repo: "other/svc", title: `openci ${relayRunId}`, event: "repository_dispatch", conclusion: "success" });
    const done = await waitFor("svc completed", () => (check(h, "openci: svc").status === "completed" ? check(h, "openci: svc") : undefined));

    expect(afterStranger).toBe("in_progress");
    expect(done).toMatchObject({ conclusion: "success", details_url: "https://github.com/other/svc/actions/runs/702" });
  });

  it("of CI reporting through checks counts only from a check run started after the trigger", async () => {
    const h = await start();
    await h.send("create.tag");
    const dispatch = await waitFor("the dispatch to svc", () => h.github.calls("repos/create-dispatch-event")[0]);
    const relayRunId: string = dispatch.body.client_payload.openci_run_id;
    await inProgress(h, "openci: svc");
    h.github.suiteRuns[51] = [{ name: "external-ci / build", external_id: relayRunId, title: "build", started_at: TEN_MINUTES_AGO() }];
    h.github.suiteRuns[52] = [{ name: "external-ci / build", external_id: relayRunId, title: "build" }];
    const suite = (id: number, conclusion: string) => h.send("check_suite.completed", (p) => {
      Object.assign(p.check_suite, { id, conclusion, app: { ...p.check_suite.app, id: 777, slug: "external-ci" }, created_at: TEN_MINUTES_AGO() });
      Object.assign(p.repository, { full_name: "other/svc", html_url: "https://github.com/other/svc" });
    });

    await suite(51, "failure");
    await h.idle();
    const afterOld = check(h, "openci: svc").status;
    await suite(52, "success");
    const done = await waitFor("svc completed", () => (check(h, "openci: svc").status === "completed" ? check(h, "openci: svc") : undefined));

    expect(afterOld).toBe("in_progress");
    expect(done.conclusion).toBe("success");
  });
});

describe("the public check summary", () => {
  it("no longer prints the relay run id a forger would put in a title", async () => {
    const h = await start();
    await h.send("create.tag");
    const relayRunId = await octoRelayRunId(h);
    await inProgress(h, "openci: octo");

    await sendRun(h, { id: 556, title: `openci ${relayRunId}`, conclusion: "success" });
    const done = await waitFor("octo completed", () => (check(h, "openci: octo").status === "completed" ? check(h, "openci: octo") : undefined));

    expect(done.conclusion).toBe("success");
    expect(downstreamChecks(h.github).map((c) => `${c.output.title} ${c.output.summary}`).join("\n")).not.toContain(relayRunId);
  });
});
