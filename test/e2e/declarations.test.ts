import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

const MAP = `projects:\n  - id: hello\n    github: ${UPSTREAM}\n`;
const DECLARATION = "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello, tags: \"*\" }]\n";
const startHarness = useHarness();
const start = () => startHarness({
  map: MAP,
  repos: {
    [UPSTREAM]: upstreamRepo(),
    "acme/app": { installationId: 2, workflows: { "ci.yml": {} }, contents: { main: { sha: "a".repeat(40), files: { ".github/openci.yml": DECLARATION } } } },
  },
});
const dispatches = (h: Harness) => h.github.calls("actions/create-workflow-dispatch");

/** The real installation.created example, as the app installed on acme/app (installation 2). */
const installed = (h: Harness) => h.send("installation.created", (p) => {
  p.installation.id = 2;
  p.repositories = [{ ...p.repositories[0], full_name: "acme/app", name: "app" }];
});

/** The real push example, as a push to acme/app's default branch touching its declaration. */
const pushed = (h: Harness, sha: string, change: "modified" | "removed") => h.send("push.branch", (p) => {
  Object.assign(p, { ref: "refs/heads/main", after: sha });
  p.repository = { ...p.repository, full_name: "acme/app", default_branch: "main" };
  p.installation = { id: 2, node_id: "x" };
  p.commits = [{ ...p.commits?.[0], added: [], modified: [], removed: [], [change]: [".github/openci.yml"] }];
});

describe("a downstream's own declaration (.github/openci.yml)", () => {
  it("joins the map when the app is installed on the repository", async () => {
    const h = await start();
    await h.send("create.tag");
    await h.idle();
    expect(dispatches(h)).toHaveLength(0); // not in the map yet: nothing runs

    await installed(h);
    await waitFor("the declaration read", () => h.logs.some((l) => l.includes("declaration read")));
    await h.send("create.tag"); // the same tag again, a new delivery: now acme/app depends on it
    const dispatch = await waitFor("acme/app dispatched", () => dispatches(h)[0]);

    expect(dispatch.params).toMatchObject({ owner: "acme", repo: "app", workflow_id: "ci.yml" });
  });

  it("is read again when a push changes it: a broken version is refused on its commit, a removal leaves the map", async () => {
    const h = await start();
    h.github.repos[UPSTREAM]!.tags!.v3 = h.github.repos[UPSTREAM]!.tags!["simple-tag"]!;
    await installed(h);
    await waitFor("the declaration read", () => h.logs.some((l) => l.includes("declaration read")));

    const broken = "b".repeat(40);
    h.github.repos["acme/app"]!.contents!.main = { sha: broken, files: { ".github/openci.yml": "depends_on: [{ project: nobody }]\n" } };
    await pushed(h, broken, "modified");
    const refused = await waitFor("the verdict", () => h.github.checkRuns.find((c) => c.name === "openci: declaration" && c.head_sha === broken));
    await h.send("create.tag");
    await waitFor("acme/app still dispatched by the last good declaration", () => dispatches(h)[0]);

    const gone = "c".repeat(40);
    h.github.repos["acme/app"]!.contents!.main = { sha: gone, files: {} };
    await pushed(h, gone, "removed");
    await waitFor("the declaration removed", () => h.logs.some((l) => l.includes("declaration removed")));
    await h.send("create.tag", (p) => (p.ref = "v3"));
    await h.idle();

    expect(refused.conclusion).toBe("failure");
    expect(refused.output.summary).toContain("github:acme/app/.github/openci.yml:1:");
    expect(refused.output.summary).toContain("github:acme/app/.github/openci.yml:1:1: 'trigger' is required: add it");
    expect(dispatches(h)).toHaveLength(1);
  });
});
