import { describe, expect, it } from "@jest/globals";
import { jobCount } from "../helpers/queue-counts.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { settle, waitFor } from "../helpers/wait-for.js";

const startHarness = useHarness();
const WRITE = /^(POST|PATCH|PUT|DELETE)$/;

describe("fault: a GitHub installation at its write budget", () => {
  it("invariant: no more than OPENCI_GITHUB_WRITES_PER_MINUTE content writes per installation in any minute, across two worker processes; the rest wait in the queue, holding no worker", async () => {
    const ids = ["d1", "d2", "d3"];
    const map = `projects:\n  - { id: hello, github: ${UPSTREAM} }\n${ids.map((d) => `  - { id: ${d}, github: acme/${d}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }\n`).join("")}`;
    const h = await startHarness({
      map, repos: { [UPSTREAM]: upstreamRepo(), ...Object.fromEntries(ids.map((d, i) => [`acme/${d}`, { installationId: 10 + i, workflows: { "ci.yml": {} } }])) },
      env: { OPENCI_GITHUB_WRITES_PER_MINUTE: "2" },
    });
    await h.launch({ OPENCI_GITHUB_WRITES_PER_MINUTE: "2", OPENCI_ROLE: "worker" });

    await h.send("create.tag");
    await waitFor("every downstream dispatched (their installations have budget)", () => h.github.calls("actions/create-workflow-dispatch").length === 3);
    await settle(2000);
    const upstreamWrites = h.github.requests.filter((r) => WRITE.test(r.method) && r.installationId === 1 && !r.path.endsWith("/access_tokens"));
    const perMinute = new Map<number, number>();
    for (const r of upstreamWrites) perMinute.set(Math.floor(r.at / 60_000), (perMinute.get(Math.floor(r.at / 60_000)) ?? 0) + 1);
    const waiting = await jobCount(h.redisUrl, "report", ["delayed", "waiting"]);

    expect([...perMinute.values()].every((n) => n <= 2)).toBe(true);
    expect(upstreamWrites.length).toBeLessThan(7);
    expect(waiting).toBeGreaterThan(0);
    expect(h.logs.some((l) => l.includes("github-writes over 2 a minute") && l.includes("rate limited: the job waits in the queue"))).toBe(true);
  });
});
