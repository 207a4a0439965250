import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import type { Harness } from "../helpers/relay-harness.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { octoProject } from "../helpers/maps.js";
import { dispatchesTo, finishedJobs, MAP_REFRESH, mapTaken, META, metadataRepo, pushMap } from "../helpers/results-edges.js";

/**
 * Where a cascade stops (src/workers/cascade.ts): a pull request's head, a project already in the
 * chain, the hop limit, a private project's self-declared dependant, OPENCI_MAX_TRIGGERS_PER_CHAIN.
 * The map loader refuses cycles and chains over the hop limit (src/map/check-graph.ts), also with
 * declarations, so "already in the chain" and "over the hop limit" happen only when the map changes
 * between a trigger and its run's result: here a new version of the metadata repository of maps.
 */
const startHarness = useHarness();
const ci = (installationId: number, more: Partial<FakeRepo> = {}): FakeRepo => ({ installationId, workflows: { "ci.yml": {} }, ...more });
const checkOf = (h: Harness, name: string) => downstreamChecks(h.github).find((c) => c.name === name);
const completed = (h: Harness, name: string) => waitFor(`${name} completed`, () => (checkOf(h, name)?.status === "completed" ? checkOf(h, name) : undefined));
/** The run the fake dispatch started in `repo` (for a downstream whose check the upstream does not show). */
const runIn = (h: Harness, repo: string) => waitFor(`a run in ${repo}`, () => h.github.dispatchedRuns.find((r) => r.repo === repo)?.runId);

const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

describe("cascade edges", () => {
  it("a pull request head's passing run cascades nothing, and its failing one writes no failure comment", async () => {
    const h = await startHarness({
      map: `version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: hello, foundation: f, github: ${UPSTREAM} }
${octoProject({ fields: ["foundation: f"], edge: "on: [pull_request]" })}  - id: acme/app
    foundation: f
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello, on: [pull_request] }]
  - id: lib/c
    foundation: f
    github: lib/c
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: octo, cascade: true }]
`,
      repos: {
        [UPSTREAM]: { ...upstreamRepo(), pulls: { [HEAD]: [{ number: 2, merged: false }] }, suites: { [HEAD]: [{ appId: 29310, status: "completed", conclusion: "success" }] } },
        "octo-org/octo-repo": octoRepo(), "acme/app": ci(2), "lib/c": ci(3),
      },
    });

    await h.send("check_suite.completed");
    const octo = runIdOf(await runningCheck(h, "openci: octo", HEAD));
    const app = runIdOf(await runningCheck(h, "openci: acme/app", HEAD));
    await sendRun(h, { id: octo, conclusion: "success" });
    await sendRun(h, { id: app, repo: "acme/app", conclusion: "failure" });
    const passed = await completed(h, "openci: octo");
    const failed = await completed(h, "openci: acme/app");
    await h.idle();

    expect([passed.conclusion, failed.conclusion]).toEqual(["success", "failure"]);
    expect(dispatchesTo(h, "lib/c")).toEqual([]);
    expect(checkOf(h, "openci: lib/c")).toBeUndefined();
    expect(h.github.comments).toEqual([]);
    expect(h.github.calls("repos/create-commit-comment")).toEqual([]);
    expect(h.github.calls("issues/create-comment")).toEqual([]);
  });

  it("OPENCI_MAX_TRIGGERS_PER_CHAIN: the first dependants in map order run, the rest are left out, and a later hop with no room triggers nothing", async () => {
    const map = `version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - { id: hello, foundation: lf, github: ${UPSTREAM} }
  - { id: mid, foundation: lf, github: acme/mid, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }
${["c1", "c2", "c3"].map((c) => `  - { id: ${c}, foundation: lf, github: acme/${c}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid, cascade: true }] }\n`).join("")}  - { id: d1, foundation: lf, github: acme/d1, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: c1, cascade: true }] }
`;
    const h = await startHarness({
      map, repos: { [UPSTREAM]: upstreamRepo(), "acme/mid": ci(20), "acme/c1": ci(21), "acme/c2": ci(22), "acme/c3": ci(23), "acme/d1": ci(24) },
      env: { OPENCI_MAX_TRIGGERS_PER_CHAIN: "2" },
    });

    await h.send("create.tag");
    await sendRun(h, { id: runIdOf(await runningCheck(h, "openci: mid")), repo: "acme/mid", conclusion: "success" });
    await h.idle();

    expect(h.github.calls("actions/create-workflow-dispatch").map((c) => c.params.repo).sort()).toEqual(["c1", "c2", "mid"]);
    expect(checkOf(h, "openci: c1")?.status).toBe("in_progress");
    // c1 passes: its dependant d1 would be the chain's third project (c1 and c2 fill the cap of 2)
    await sendRun(h, { id: runIdOf(checkOf(h, "openci: c1")!), repo: "acme/c1", conclusion: "success" });
    await completed(h, "openci: c1");
    await h.idle();

    expect(dispatchesTo(h, "acme/c3")).toEqual([]);
    expect(dispatchesTo(h, "acme/d1")).toEqual([]);
    expect(downstreamChecks(h.github).map((c) => c.name).sort()).toEqual(["openci: c1", "openci: c2", "openci: mid"]);
  });

  it("OPENCI_MAX_TRIGGERS_PER_CHAIN counts each project once: a passing run delivered twice costs the chain nothing more, and a later hop still fits", async () => {
    const map = `version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - { id: hello, foundation: lf, github: ${UPSTREAM} }
  - { id: mid, foundation: lf, github: acme/mid, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }
${["c1", "c2"].map((c) => `  - { id: ${c}, foundation: lf, github: acme/${c}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid, cascade: true }] }\n`).join("")}  - { id: d1, foundation: lf, github: acme/d1, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: c1, cascade: true }] }
`;
    const h = await startHarness({
      map, repos: { [UPSTREAM]: upstreamRepo(), "acme/mid": ci(20), "acme/c1": ci(21), "acme/c2": ci(22), "acme/d1": ci(24) },
      env: { OPENCI_MAX_TRIGGERS_PER_CHAIN: "3" },
    });

    await h.send("create.tag");
    const mid = runIdOf(await runningCheck(h, "openci: mid"));
    // the same passing run, twice: a redelivered webhook
    await sendRun(h, { id: mid, repo: "acme/mid", conclusion: "success" }, "mid-passed-1");
    await h.idle();
    await sendRun(h, { id: mid, repo: "acme/mid", conclusion: "success" }, "mid-passed-2");
    await h.idle();
    expect(h.github.calls("actions/create-workflow-dispatch").map((c) => c.params.repo).sort()).toEqual(["c1", "c2", "mid"]);
    expect(h.logs.filter((l) => l.includes("OPENCI_MAX_TRIGGERS_PER_CHAIN"))).toEqual([]);
    // c1 passes: d1 is the chain's third project, within the cap of 3
    await sendRun(h, { id: runIdOf(await runningCheck(h, "openci: c1")), repo: "acme/c1", conclusion: "success" });
    await runningCheck(h, "openci: d1");
    await h.idle();

    expect(h.github.calls("actions/create-workflow-dispatch").map((c) => c.params.repo).sort()).toEqual(["c1", "c2", "d1", "mid"]);
    expect(h.logs.filter((l) => l.includes("OPENCI_MAX_TRIGGERS_PER_CHAIN"))).toEqual([]);
  });

  const mapV2 = (settings: string, projects: string) => `version: 2
${settings}foundations: [{ id: f, name: F }]
projects:
${projects}`;
  const HELLO = `  - { id: hello, foundation: f, github: ${UPSTREAM} }\n`;
  const MID = (edges: string) => `  - { id: mid, foundation: f, github: acme/mid, trigger: { workflow: ci.yml, ref: main }${edges} }\n`;
  const APP = `  - { id: app, foundation: f, github: acme/app, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid, cascade: true }] }\n`;
  const FIRST = "a".repeat(40);
  const SECOND = "c".repeat(40);
  /** hello tags, mid (hello's dependant) runs; then `next` replaces the map, and mid's run passes. */
  async function midPassesUnder(next: string, helloRepo: FakeRepo = upstreamRepo()) {
    const h = await startHarness({
      map: "projects: []\n",
      repos: { [UPSTREAM]: helloRepo, "acme/mid": ci(20), "acme/app": ci(21), [META]: metadataRepo(FIRST, mapV2("", `${HELLO}${MID(", depends_on: [{ project: hello }]")}`)) },
      env: { OPENCI_MAP_REPO: `${META}@main:maps/` },
    });
    await mapTaken(h, FIRST);
    await h.send("create.tag");
    const mid = runIdOf(await runningCheck(h, "openci: mid"));
    await pushMap(h, SECOND, next);
    await sendRun(h, { id: mid, repo: "acme/mid", conclusion: "success" });
    await completed(h, "openci: mid");
    await h.idle({ ignore: [MAP_REFRESH] });
    return h;
  }

  it("a project already in the chain is not triggered again by it, even when the map changed since (hello → mid, then hello depends on mid)", async () => {
    // mid no longer depends on hello; hello and app depend on mid: no cycle in the new map
    const next = mapV2("", `  - { id: hello, foundation: f, github: ${UPSTREAM}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid, cascade: true }] }\n${MID("")}${APP}`);
    const h = await midPassesUnder(next, { ...upstreamRepo(), workflows: { "ci.yml": {} } });

    expect(dispatchesTo(h, "acme/app")).toHaveLength(1); // the cascade ran
    expect(dispatchesTo(h, UPSTREAM)).toEqual([]);
    expect(checkOf(h, "openci: hello")).toBeUndefined();
  });

  it("a chain already at the hop limit stops, even when the map changed since (hello → mid, then a limit of 1 and app cascading from mid)", async () => {
    // in the new map mid is a root: mid → app is 1 hop, within the limit; the running chain hello → mid already has 1
    const next = mapV2("settings: { cascade_hop_limit: 1 }\n", `${HELLO}${MID("")}${APP}`);
    const h = await midPassesUnder(next);

    expect(dispatchesTo(h, "acme/app")).toEqual([]);
    expect(checkOf(h, "openci: app")).toBeUndefined();
  });

  it("a private project's self-declared dependant is not cascaded to; a public one's is", async () => {
    const declares = (upstream: string): Partial<FakeRepo> => ({
      contents: { main: { sha: "d".repeat(40), files: { ".github/openci.yml": `trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: ${upstream}, cascade: true }]\n` } } },
    });
    const h = await startHarness({
      map: `projects:
  - { id: hello, github: ${UPSTREAM} }
  - { id: secret, github: acme/secret, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }
  - { id: open, github: acme/open, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }
`,
      repos: {
        [UPSTREAM]: upstreamRepo(), "acme/secret": ci(20, { private: true }), "acme/open": ci(21),
        "dep/of-secret": ci(30, declares("secret")), "dep/of-open": ci(30, declares("open")),
      },
    });
    await h.send("installation.created", (p) => {
      p.installation.id = 30;
      p.repositories = ["dep/of-secret", "dep/of-open"].map((full_name) => ({ ...p.repositories[0], full_name, name: full_name.split("/")[1], private: false }));
    });
    await waitFor("both declarations read", () => h.logs.filter((l) => l.includes("declaration read") && l.includes('"taken":true')).length === 2);

    await h.send("create.tag");
    // acme/secret is private and another owner's: its check is not shown on hello's commit
    await sendRun(h, { id: await runIn(h, "acme/secret"), repo: "acme/secret", conclusion: "success", private: true });
    await sendRun(h, { id: runIdOf(await runningCheck(h, "openci: open")), repo: "acme/open", conclusion: "success" });
    await waitFor("dep/of-open dispatched", () => dispatchesTo(h, "dep/of-open")[0]);
    await h.idle();

    expect(dispatchesTo(h, "dep/of-secret")).toEqual([]);
    // nor queued: no trigger job for it at all
    const triggers = await finishedJobs(h.redisUrl, "trigger", "trigger");
    expect(triggers.map((j) => (j.data as { downstreamId: string }).downstreamId).sort()).toEqual(["github:dep/of-open", "open", "secret"]);
  });
});
