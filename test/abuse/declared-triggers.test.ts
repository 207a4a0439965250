import { describe, expect, it } from "@jest/globals";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Issue 16, finding 8 (history without bound): every trigger writes history records, and Redis
 * evicts nothing; a stranger's declarations may make the relay trigger (and record) only so much a
 * day. Edges of the reviewed map are not counted.
 */
const MAP = `projects:
  - { id: hello, github: ${UPSTREAM} }
  - id: listed
    github: listed/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;
const TAGS = ["v1", "v2", "v3"];
const startHarness = useHarness();

describe("triggers along self-declared edges", () => {
  it("stop for the day at the owner's quota, while reviewed edges go on", async () => {
    const upstream = upstreamRepo();
    for (const t of TAGS) upstream.tags![t] = { type: "commit", sha: COMMIT };
    const h = await startHarness({
      map: MAP, env: { OPENCI_MAX_DECLARED_TRIGGERS_PER_OWNER_PER_DAY: "2" },
      repos: {
        [UPSTREAM]: upstream,
        "listed/app": { installationId: 9, workflows: { "ci.yml": {} } },
        "acme/app": {
          installationId: 3, workflows: { "ci.yml": {} },
          contents: { main: { sha: "a".repeat(40), files: { ".github/openci.yml": "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello }]\n" } } },
        },
      },
    });
    await h.send("installation.created", (p) => {
      p.installation.id = 3;
      p.repositories = [{ ...p.repositories[0], full_name: "acme/app", name: "app", private: false }];
    });
    await waitFor("the declaration read", () => h.logs.some((l) => l.includes("declaration read")));
    const to = (repo: string) => h.github.calls("actions/create-workflow-dispatch").filter((c) => `${c.params.owner}/${c.params.repo}` === repo);

    for (const tag of TAGS) {
      await h.send("create.tag", (p) => (p.ref = tag));
      await h.send("push.tag", (p) => (p.ref = `refs/tags/${tag}`)); // the same tag's second delivery takes nothing more
    }
    await waitFor("listed/app dispatched for every tag", () => to("listed/app").length === TAGS.length);
    await waitFor("the third declared trigger refused", () => h.logs.some((l) => l.includes("self-declared triggers for today are spent")));
    await h.idle();

    expect(to("acme/app")).toHaveLength(2);
    expect(to("listed/app")).toHaveLength(3);
  });
});
