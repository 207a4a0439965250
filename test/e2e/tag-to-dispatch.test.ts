import { afterEach, describe, expect, it } from "@jest/globals";
import { startHarness, type Harness } from "../helpers/relay-harness.js";
import { settle, waitFor } from "../helpers/wait-for.js";

const UPSTREAM = "Codertocat/Hello-World";
const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const TAG_OBJECT = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on:
      - project: hello
        tags: "simple-*"
  - id: other/svc
    github: other/svc
    trigger: { event_type: upstream-release }
    depends_on:
      - project: hello
        tags: "*"
`;

const repos = () => ({
  [UPSTREAM]: { installationId: 1, tags: { "simple-tag": { type: "commit" as const, sha: COMMIT } } },
  "acme/app": { installationId: 2, workflows: { "ci.yml": {} } },
  "other/svc": { installationId: 3 },
});

let h: Harness | undefined;
afterEach(async () => {
  const problems = h?.github.problems ?? [];
  await h?.stop();
  h = undefined;
  expect(problems).toEqual([]);
});

describe("a tag on GitHub triggers its dependants", () => {
  it("dispatches each dependant once for the create + push pair and shows check runs upstream", async () => {
    h = await startHarness({ map: MAP, repos: repos() });

    const created = await h.send("create.tag");
    const pushed = await h.send("push.tag");

    expect([created.status, pushed.status]).toEqual([200, 200]);
    await waitFor("two in-progress check runs", () =>
      h!.github.checkRuns.filter((c) => c.status === "in_progress").length === 2);
    await settle();
    const dispatch = h.github.calls("actions/create-workflow-dispatch");
    expect(dispatch).toHaveLength(1);
    expect(dispatch[0]).toMatchObject({
      installationId: 2,
      params: { owner: "acme", repo: "app", workflow_id: "ci.yml" },
      body: {
        ref: "main",
        return_run_details: true,
        inputs: { openci_upstream: "hello", openci_upstream_repo: UPSTREAM, openci_tag: "simple-tag", openci_sha: COMMIT },
      },
    });
    const repoDispatch = h.github.calls("repos/create-dispatch-event");
    expect(repoDispatch).toHaveLength(1);
    expect(repoDispatch[0]).toMatchObject({
      installationId: 3,
      body: { event_type: "upstream-release", client_payload: { openci_tag: "simple-tag", openci_sha: COMMIT } },
    });
    expect(h.github.checkRuns.map((c) => [c.repo, c.head_sha, c.name]).sort()).toEqual([
      [UPSTREAM, COMMIT, "openci: acme/app"],
      [UPSTREAM, COMMIT, "openci: other/svc"],
    ]);
    const app = h.github.checkRuns.find((c) => c.name === "openci: acme/app")!;
    expect(app.details_url).toMatch(/\/acme\/app\/actions\/runs\/\d+$/);
    expect(app.external_id).toBe(dispatch[0]!.body.inputs.openci_run_id);
  });
});
