import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: acme/gated
    github: acme/gated
    trigger: { workflow: ci.yml, ref: main }
    depends_on:
      - project: hello
        after_check: build
`;
const repos = () => ({ [UPSTREAM]: upstreamRepo(), "acme/gated": { installationId: 2, workflows: { "ci.yml": {} } } });
const startHarness = useHarness();

const gatedCheck = (h: Harness) => downstreamChecks(h.github).find((c) => c.name === "openci: acme/gated");
const dispatches = (h: Harness) => h.github.calls("actions/create-workflow-dispatch");
/** The real check_run.completed example, for the upstream check `build` on the tagged commit. */
const buildFinished = (h: Harness, conclusion: string) =>
  h.send("check_run.completed", (p) => {
    p.check_run.name = "build";
    p.check_run.head_sha = COMMIT;
    p.check_run.conclusion = conclusion;
  });

describe("after_check gates", () => {
  it("waits for the upstream check, then triggers once", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });

    await h.send("create.tag");
    const waitingTitle = (await waitFor("a waiting check", () => gatedCheck(h))).output.title;
    await h.idle();
    const dispatchedEarly = dispatches(h).length;
    await buildFinished(h, "success");
    await buildFinished(h, "success");
    await waitFor("the gated dispatch", () => dispatches(h).length === 1);
    await h.idle();

    expect(waitingTitle).toBe("Waiting for build: acme/gated");
    expect(dispatchedEarly).toBe(0);
    expect(dispatches(h)).toHaveLength(1);
    expect(gatedCheck(h)?.status).toBe("in_progress");
  });

  it("acts at once when the check already succeeded before the tag arrived", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    h.github.checkRuns.push({
      id: 1, repo: UPSTREAM, head_sha: COMMIT, name: "build", status: "completed", conclusion: "success",
      external_id: "", details_url: null, output: {}, app: { id: 15368 },
    });

    await h.send("create.tag");
    await waitFor("the gated dispatch", () => dispatches(h).length === 1);

    expect(h.github.calls("checks/list-for-ref").some((r) => r.query.check_name === "build")).toBe(true);
  });

  it("skips the downstream with the reason when the check fails", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await h.send("create.tag");
    await waitFor("a waiting check", () => gatedCheck(h));

    await buildFinished(h, "failure");
    const check = await waitFor("a skipped check", () => (gatedCheck(h)?.status === "completed" ? gatedCheck(h) : undefined));
    await h.idle();

    expect(check.conclusion).toBe("skipped");
    expect(check.output.summary).toContain("the upstream check `build` ended **failure**");
    expect(dispatches(h)).toHaveLength(0);
  });

  it("ignores checks with other names and on other commits", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await h.send("create.tag");
    await waitFor("a waiting check", () => gatedCheck(h));

    await h.send("check_run.completed");
    await h.send("check_run.completed", (p) => (p.check_run.name = "build"));
    await h.idle();

    expect(dispatches(h)).toHaveLength(0);
    expect(gatedCheck(h)?.status).toBe("queued");
  });
});
