import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { ForgeLimits, setForgeWindowForTests } from "../../src/forge/minute-budget.js";
import { GITHUB_TO_GITLAB_MAP } from "../helpers/maps.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * The budgets on, end to end, in two relay processes. The forges' 60 s window is shortened to
 * WINDOW (setForgeWindowForTests; the budget keeps its one second of margin), so the bound over
 * several windows shows in seconds: at most N requests in ANY window, sliding, not per clock window.
 */
const WINDOW = 1000;
const COUNTED = WINDOW + 1000;
const startHarness = useHarness();
const WRITE = /^(POST|PATCH|PUT|DELETE)$/;

beforeEach(() => setForgeWindowForTests(WINDOW));
afterEach(() => setForgeWindowForTests());

/** The most requests at `at` found in any window of `ms` (each window starting at a request). */
const busiestWindow = (at: number[], ms: number) => Math.max(0, ...at.map((t) => at.filter((u) => u >= t && u < t + ms).length));

/**
 * The forge asks `place` to wait (as after a 429) until late in a clock window of the budget's
 * length, at least `minMs` from now: the requests held meanwhile then go out together, ~WINDOW
 * before that clock window ends. The worst case for a count per clock window, which would let N
 * through at the end of one window and N more at the start of the next.
 */
async function pauseUntilLateInAClockWindow(h: Harness, place: string, minMs: number): Promise<void> {
  const earliest = Date.now() + minMs;
  const end = earliest + ((COUNTED - WINDOW + 100 - (earliest % COUNTED) + COUNTED) % COUNTED);
  const redis = new Redis(h.redisUrl);
  try {
    await new ForgeLimits(redis).pause(place, end - Date.now());
  } finally {
    redis.disconnect();
  }
}

describe("fault: a GitHub installation at its write budget", () => {
  it("invariant: at most OPENCI_GITHUB_WRITES_PER_MINUTE content writes per installation in any window, across two worker processes that both write; the rest wait in the queue and nothing is lost", async () => {
    const ids = ["d1", "d2", "d3"];
    const map = `projects:\n  - { id: hello, github: ${UPSTREAM} }\n${ids.map((d) => `  - { id: ${d}, github: acme/${d}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }\n`).join("")}`;
    const budget = { OPENCI_GITHUB_WRITES_PER_MINUTE: "2" };
    const h = await startHarness({
      map, repos: { [UPSTREAM]: upstreamRepo(), ...Object.fromEntries(ids.map((d, i) => [`acme/${d}`, { installationId: 10 + i, workflows: { "ci.yml": {} } }])) },
      env: { ...budget, OPENCI_ROLE: "web" },
    });
    const upstreamWrites = () => h.github.requests.filter((r) => WRITE.test(r.method) && r.installationId === 1).map((r) => r.at);
    const first = await h.launch({ ...budget, OPENCI_ROLE: "worker" });

    await h.send("create.tag");
    // the first worker spends the window's budget, then hands over to a second one: what it spent must hold the second back
    await waitFor("the first worker's writes", () => upstreamWrites().length >= 2);
    await h.launch({ ...budget, OPENCI_ROLE: "worker" });
    await first.stop();
    const byFirst = upstreamWrites().length;
    await waitFor("every downstream's check and the roll-up in progress", () =>
      h.github.checkRuns.length === 4 && h.github.checkRuns.every((c) => c.status === "in_progress"), 30_000);
    await h.idle();
    const writes = upstreamWrites();

    expect(busiestWindow(writes, WINDOW)).toBeLessThanOrEqual(2);
    // both processes wrote, at least twice the budget in all (a check run each): the bound was met, not merely approached
    expect({ byFirst: byFirst >= 2, bySecond: writes.length - byFirst >= 1 }).toEqual({ byFirst: true, bySecond: true });
    expect(writes.length).toBeGreaterThanOrEqual(4);
    expect(h.github.checkRuns.map((c) => c.name).sort()).toEqual(["openci", "openci: d1", "openci: d2", "openci: d3"]);
    expect(h.logs.some((l) => l.includes("github-writes over 2 a minute") && l.includes("rate limited: the job waits in the queue"))).toBe(true);
  }, 40_000);
});

describe("fault: a GitLab project at its pipeline budget", () => {
  it("invariant: at most OPENCI_GITLAB_PIPELINES_PER_MINUTE (1) pipeline creations per project in any window, from two worker processes; the others wait and are created later", async () => {
    const h = await startHarness({
      map: GITHUB_TO_GITLAB_MAP,
      repos: { [UPSTREAM]: { ...upstreamRepo(), tags: { v1: { type: "commit", sha: COMMIT }, v2: { type: "commit", sha: COMMIT }, v3: { type: "commit", sha: COMMIT } } } },
      gitlabProjects: ["group/tool"],
      env: { OPENCI_GITLAB_PIPELINES_PER_MINUTE: "1" },
    });
    await h.launch({ OPENCI_ROLE: "worker" });

    await pauseUntilLateInAClockWindow(h, "gitlab-pipelines:/GITLAB_TOKEN/group/tool", 2500);
    for (const tag of ["v1", "v2", "v3"]) await h.send("push.tag", (p) => Object.assign(p, { ref: `refs/tags/${tag}`, after: COMMIT }));
    await waitFor("a pipeline for each tag", () => h.gitlab!.pipelines.length === 3, 30_000);
    const created = h.gitlab!.calls("create_pipeline").map((r) => r.at);

    expect(busiestWindow(created, WINDOW)).toBe(1);
    expect(created).toHaveLength(3);
    expect(h.logs.some((l) => l.includes("pipeline creations of group/tool over 1 a minute") && l.includes("rate limited: the job waits in the queue"))).toBe(true);
  }, 40_000);
});
