import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

/** A downstream whose CI (not GitHub Actions) starts on repository_dispatch and reports through checks. */
const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: svc
    github: other/svc
    trigger: { event_type: upstream-release }
    depends_on: [{ project: hello }]
`;
const repos = () => ({ [UPSTREAM]: upstreamRepo(), "other/svc": { installationId: 3 } });
const startHarness = useHarness();

const svcCheck = (h: Harness) => downstreamChecks(h.github).find((c) => c.name === "openci: svc");

/** The real completed check suite example, changed only where this suite differs. */
const suiteCompleted = (h: Harness, id: number, conclusion: string, app = { id: 777, slug: "external-ci" }) =>
  h.send("check_suite.completed", (p) => {
    p.check_suite.id = id;
    p.check_suite.conclusion = conclusion;
    p.check_suite.app = { ...p.check_suite.app, ...app };
    p.repository.full_name = "other/svc";
    p.repository.html_url = "https://github.com/other/svc";
  });

describe("results of CI that reports through checks (check_suite)", () => {
  it("are matched through the relay run id in one of the suite's check runs", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await h.send("create.tag");
    const dispatch = await waitFor("the dispatch", () => h.github.calls("repos/create-dispatch-event")[0]);
    await waitFor("svc in progress", () => svcCheck(h)?.status === "in_progress");
    h.github.suiteRuns[41] = [{ name: "unrelated", external_id: "", title: "" }];
    h.github.suiteRuns[42] = [{ name: "external-ci / build", external_id: dispatch.body.client_payload.openci_run_id, title: "build" }];

    await suiteCompleted(h, 41, "success");
    await h.idle();
    const afterUnrelated = svcCheck(h)?.status;
    await suiteCompleted(h, 42, "failure");
    const check = await waitFor("svc completed", () => (svcCheck(h)?.status === "completed" ? svcCheck(h) : undefined));

    expect(afterUnrelated).toBe("in_progress");
    expect(check.conclusion).toBe("failure");
    expect(check.details_url).toBe("https://github.com/other/svc/commit/ec26c3e57ca3a959ca5aad62de7213c562f8c821/checks");
  });

  it("leaves GitHub Actions suites to workflow_run", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await h.send("create.tag");
    await waitFor("svc in progress", () => svcCheck(h)?.status === "in_progress");

    await suiteCompleted(h, 43, "failure", { id: 15368, slug: "github-actions" });
    await h.idle();

    expect(h.github.calls("checks/list-for-suite")).toEqual([]);
    expect(svcCheck(h)?.status).toBe("in_progress");
  });
});
