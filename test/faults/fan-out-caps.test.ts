import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

const startHarness = useHarness();
const ci = (installationId: number): FakeRepo => ({ installationId, workflows: { "ci.yml": {} } });
const dispatchedTo = (h: Awaited<ReturnType<typeof startHarness>>) =>
  h.github.calls("actions/create-workflow-dispatch").map((c) => `${c.params.owner}/${c.params.repo}`).sort();

describe("fault: a map that fans out too far", () => {
  it("invariant: one tag triggers at most OPENCI_MAX_TRIGGERS_PER_EVENT dependants, the first in map order, and says which were left out", async () => {
    const ids = ["d1", "d2", "d3", "d4", "d5"];
    const map = `projects:\n  - { id: hello, github: ${UPSTREAM} }\n${ids.map((d) => `  - { id: ${d}, github: acme/${d}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }\n`).join("")}`;
    const h = await startHarness({
      map, repos: { [UPSTREAM]: upstreamRepo(), ...Object.fromEntries(ids.map((d, i) => [`acme/${d}`, ci(10 + i)])) },
      env: { OPENCI_MAX_TRIGGERS_PER_EVENT: "3" },
    });

    await h.send("create.tag");
    await waitFor("three dispatches", () => dispatchedTo(h).length === 3);
    await h.idle();

    expect(dispatchedTo(h)).toEqual(["acme/d1", "acme/d2", "acme/d3"]);
    expect(h.logs.some((l) => l.includes("fan-out cap") && l.includes('"left_out":["d4","d5"]'))).toBe(true);
  });

  it("invariant: one cascade chain triggers at most OPENCI_MAX_TRIGGERS_PER_CHAIN projects after the first hop", async () => {
    const map = `version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - { id: hello, foundation: lf, github: ${UPSTREAM} }
  - { id: mid, foundation: lf, github: acme/mid, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }
${["c1", "c2", "c3"].map((c) => `  - { id: ${c}, foundation: lf, github: acme/${c}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid, cascade: true }] }\n`).join("")}`;
    const h = await startHarness({
      map, repos: { [UPSTREAM]: upstreamRepo(), "acme/mid": ci(20), "acme/c1": ci(21), "acme/c2": ci(22), "acme/c3": ci(23) },
      env: { OPENCI_MAX_TRIGGERS_PER_CHAIN: "2" },
    });

    await h.send("create.tag");
    const mid = runIdOf(await runningCheck(h, "openci: mid"));
    await sendRun(h, { id: mid, repo: "acme/mid", conclusion: "success" });
    await waitFor("two cascaded dispatches", () => dispatchedTo(h).length === 3);
    await h.idle();

    expect(dispatchedTo(h)).toEqual(["acme/c1", "acme/c2", "acme/mid"]);
    expect(h.logs.some((l) => l.includes("OPENCI_MAX_TRIGGERS_PER_CHAIN") && l.includes('"left_out":["c3"]'))).toBe(true);
  });
});
