import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { runIdOf, sendRun } from "../helpers/runs.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";

const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
${octoProject()}  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;
const repos = () => ({
  [UPSTREAM]: upstreamRepo(),
  "octo-org/octo-repo": octoRepo(),
  "acme/app": acmeAppRepo(),
});
const startHarness = useHarness();

const checksNamed = (h: Harness, name: string) => downstreamChecks(h.github).filter((c) => c.name === name);
const dispatchesTo = (h: Harness, repo: string) =>
  h.github.calls("actions/create-workflow-dispatch").filter((c) => `${c.params.owner}/${c.params.repo}` === repo);
const finish = (h: Harness, repo: string, id: number, conclusion: string) => sendRun(h, { repo, id, conclusion });

/** Both downstreams triggered; octo fails, acme/app passes. */
async function failOcto(h: Harness) {
  await h.send("create.tag");
  const octo = await waitFor("octo running", () => checksNamed(h, "openci: octo").find((c) => c.status === "in_progress"));
  const app = await waitFor("acme/app running", () => checksNamed(h, "openci: acme/app").find((c) => c.status === "in_progress"));
  await finish(h, "octo-org/octo-repo", runIdOf(octo), "failure");
  await finish(h, "acme/app", runIdOf(app), "success");
  await waitFor("a completed roll-up", () => h.github.checkRuns.find((c) => c.name === "openci" && c.status === "completed"));
  return { octo, app };
}

describe("re-runs from the upstream's checks tab", () => {
  it("'Re-run' on a downstream's check triggers it again as a new run with a new check", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const { octo } = await failOcto(h);
    const oldRunId = octo.external_id;

    await h.send("check_run.rerequested", (p) => {
      p.check_run.name = "openci: octo";
      p.check_run.head_sha = COMMIT;
      p.check_run.external_id = oldRunId;
      p.repository.full_name = UPSTREAM;
    });
    const fresh = await waitFor("a new octo check in progress", () => checksNamed(h, "openci: octo").find((c) => c.status === "in_progress"));
    await finish(h, "octo-org/octo-repo", runIdOf(octo), "failure"); // a late result of the old run
    await finish(h, "octo-org/octo-repo", runIdOf(fresh), "success");
    const rollup = await waitFor("the roll-up to pass", () => h.github.checkRuns.find((c) => c.name === "openci" && c.conclusion === "success"));

    const dispatches = dispatchesTo(h, "octo-org/octo-repo");
    expect(dispatches).toHaveLength(2);
    expect(dispatches[1]!.body.inputs.openci_run_id).not.toBe(oldRunId);
    expect(fresh.id).not.toBe(octo.id);
    expect(fresh.external_id).toBe(dispatches[1]!.body.inputs.openci_run_id);
    expect(fresh.conclusion).toBe("success");
    expect(rollup.output.title).toBe("2 of 2 downstreams passed");
    expect(dispatchesTo(h, "acme/app")).toHaveLength(1);
  });

  it("'Re-run failed' on the roll-up triggers only the downstreams that failed", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await failOcto(h);
    const rollup = h.github.checkRuns.find((c) => c.name === "openci")!;

    await h.send("check_run.requested_action", (p) => {
      p.check_run.name = "openci";
      p.check_run.head_sha = COMMIT;
      p.requested_action.identifier = "rerun-failed";
      p.repository.full_name = UPSTREAM;
    });
    await waitFor("octo dispatched again", () => dispatchesTo(h, "octo-org/octo-repo").length === 2);
    await h.idle();

    expect(h.github.calls("checks/update").some((c) => c.params.check_run_id === String(rollup.id) && c.body.actions?.[0]?.identifier === "rerun-failed")).toBe(true);
    expect(dispatchesTo(h, "acme/app")).toHaveLength(1);
  });

  it("ignores a re-run request naming a trigger of another commit", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const { octo } = await failOcto(h);

    await h.send("check_run.rerequested", (p) => {
      p.check_run.name = "openci: octo";
      p.check_run.head_sha = "c".repeat(40);
      p.check_run.external_id = octo.external_id;
      p.repository.full_name = UPSTREAM;
    });
    await h.idle();

    expect(dispatchesTo(h, "octo-org/octo-repo")).toHaveLength(1);
  });
});
