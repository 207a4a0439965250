import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { runIdOf, sendRun } from "../helpers/runs.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";

/** hello tags → octo runs → (cascade) acme/app runs → (cascade) lib/c runs, each shown on hello's commit. */
const map = (limit = 5) => `
version: 2
settings: { cascade_hop_limit: ${limit} }
foundations: [{ id: f, name: F }]
projects:
  - { id: hello, foundation: f, github: ${UPSTREAM} }
${octoProject({ fields: ["foundation: f"] })}  - id: acme/app
    foundation: f
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: octo, tags: "never-matches", cascade: true }]
  - id: lib/c
    foundation: f
    github: lib/c
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: acme/app, cascade: true }, { project: octo, cascade: true }]
`;
const repos = () => ({
  [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), "acme/app": acmeAppRepo(),
  "lib/c": { installationId: 3, workflows: { "ci.yml": {} } },
});
const startHarness = useHarness();
const dispatchesTo = (h: Harness, repo: string) => h.github.calls("actions/create-workflow-dispatch").filter((c) => `${c.params.owner}/${c.params.repo}` === repo);
const running = (h: Harness, name: string) => waitFor(`${name} running`, () => downstreamChecks(h.github).find((c) => c.name === name && c.status === "in_progress"));

/** The tag; octo passes; acme/app (cascaded) passes; lib/c (cascaded) runs. */
async function passAlongTheChain(h: Harness) {
  await h.send("create.tag");
  const octo = await running(h, "openci: octo");
  await sendRun(h, { repo: "octo-org/octo-repo", id: runIdOf(octo), conclusion: "success" });
  const app = await running(h, "openci: acme/app");
  await sendRun(h, { repo: "acme/app", id: runIdOf(app), conclusion: "success" });
  await running(h, "openci: lib/c");
  return { octo, app };
}

describe("cascades", () => {
  it("trigger a passing downstream's cascading dependants with the tagging upstream's context, once each", async () => {
    const h = await startHarness({ map: map(), repos: repos() });

    const { octo, app } = await passAlongTheChain(h);
    await h.idle();

    const [toApp] = dispatchesTo(h, "acme/app");
    expect(toApp!.body.inputs).toMatchObject({ openci_upstream: "hello", openci_upstream_repo: UPSTREAM, openci_tag: "simple-tag", openci_sha: COMMIT });
    // reached from octo and from acme/app: triggered once
    expect(dispatchesTo(h, "lib/c")).toHaveLength(1);
    expect(app.head_sha).toBe(COMMIT);
    expect(h.logs.some((l) => l.includes("cascade: triggers enqueued") && l.includes(`"chain":"${octo.external_id}"`))).toBe(true);
  });

  it("does not cascade from a failed run", async () => {
    const failed = await startHarness({ map: map(), repos: repos() });
    await failed.send("create.tag");
    const octo = await running(failed, "openci: octo");
    await sendRun(failed, { repo: "octo-org/octo-repo", id: runIdOf(octo), conclusion: "failure" });
    await waitFor("octo failed", () => downstreamChecks(failed.github).find((c) => c.name === "openci: octo" && c.status === "completed"));
    await failed.idle();

    expect(dispatchesTo(failed, "acme/app")).toHaveLength(0);
    expect(dispatchesTo(failed, "lib/c")).toHaveLength(0);
  });

  it("runs a chain exactly as long as the hop limit (hello → octo → acme/app → lib/c: 3 of 3); longer maps are refused at load", async () => {
    const h = await startHarness({ map: map(3).replace("{ project: octo, cascade: true }", "{ project: octo }"), repos: repos() });

    await passAlongTheChain(h);

    expect(dispatchesTo(h, "lib/c")).toHaveLength(1);
  });
});
