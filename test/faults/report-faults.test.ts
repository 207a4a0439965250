import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { runningCheck, sendRun } from "../helpers/runs.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_OCTO_MAP } from "../helpers/maps.js";
import { finishedJobs, promoteDelayed } from "../helpers/results-edges.js";

/**
 * Faults on the relay's writes of checks upstream (src/workers/report.ts): a write GitHub refuses
 * for good (a 403: the app lacks a permission) fails its job at once with what to do; a check whose
 * downstream turned private while its write was being retried is not written, nor is a roll-up
 * that would show nothing.
 */
const startHarness = useHarness();
const start = () => startHarness({ map: GITHUB_TO_OCTO_MAP, repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo() } });
const REPORT_JOBS = ["sync", "rollup", "comment"] as const;
const reportJobs = async (h: Harness) =>
  (await Promise.all(REPORT_JOBS.map(async (name) => (await finishedJobs(h.redisUrl, "report", name)).map((j) => ({ ...j, name }))))).flat();
const rollupCreates = (h: Harness) => h.github.calls("checks/create").filter((c) => c.body.name === "openci");

describe("fault: GitHub refuses a check write for good", () => {
  it("a 403 on creating a check fails that report job once, unretried, with the reason and what to do", async () => {
    const h = await start();
    h.github.fail("checks/create", 403, { body: { message: "Resource not accessible by integration" } });

    await h.send("create.tag");
    await runningCheck(h, "openci: octo");
    await h.idle();
    const failed = (await reportJobs(h)).filter((j) => j.state === "failed");

    expect(failed).toHaveLength(1);
    expect(failed[0]!.attemptsMade).toBe(1);
    // which write came first (octo's check or the roll-up) is the queue's choice
    expect(failed[0]!.failedReason).toMatch(new RegExp(
      "^creating check run '(openci|openci: octo)' on Codertocat/Hello-World: 403 Resource not accessible by integration\\. " +
      "Grant the GitHub App 'checks: write' on Codertocat/Hello-World\\.$",
    ));
    // the later versions of the same check and roll-up were written
    expect(h.github.checkRuns.map((c) => c.name).sort()).toEqual(["openci", "openci: octo"]);
  });
});

describe("fault: a downstream turns private while its check's write is retried", () => {
  it("the retried write and the roll-up show nothing of it, and no roll-up about nothing is created", async () => {
    const h = await start();
    // every check write fails for now: the check and the roll-up wait for their retries, never written
    h.github.fail("checks/create", 502, { times: 1000 });
    await h.send("create.tag");
    const runId = await waitFor("octo dispatched", () => h.github.dispatchedRuns.find((r) => r.repo === "octo-org/octo-repo")?.runId);
    await waitFor("octo's and the roll-up's writes tried", () => h.github.calls("checks/create").length >= 2 && rollupCreates(h).length >= 1);

    // the run's result says octo-org/octo-repo is private now: octo may not be shown on hello's commit
    await sendRun(h, { id: runId, conclusion: "success", private: true });
    await waitFor("the run's result worked on", async () => (await finishedJobs(h.redisUrl, "events", "run")).length === 1);
    const rollupsBefore = rollupCreates(h).length;
    const octoBefore = h.github.calls("checks/create").length - rollupsBefore;
    // the retries come now rather than after their backoff
    for (let round = 0; round < 3; round++) {
      await promoteDelayed(h.redisUrl, "report", "sync");
      await promoteDelayed(h.redisUrl, "report", "rollup");
      await promoteDelayed(h.redisUrl, "report", "comment");
      // quick here: nothing is left to write (a write that fails again would keep it busy)
      await h.idle({ timeoutMs: 8000 });
    }
    const jobs = await reportJobs(h);

    expect(h.github.checkRuns).toEqual([]);
    expect(rollupCreates(h)).toHaveLength(rollupsBefore);
    expect(h.github.calls("checks/create").length - rollupsBefore).toBe(octoBefore);
    expect(h.github.calls("checks/update")).toEqual([]);
    expect(jobs.every((j) => j.state === "completed")).toBe(true);
    const said = (name: string) => [...new Set(jobs.filter((j) => j.name === name).map((j) => j.returnvalue))];
    expect(said("sync")).toEqual(["not shown"]);
    expect(said("rollup")).toEqual(["nothing shown"]);
    // before, a comment had nothing to say (nothing failed); now it has no one to show
    expect(jobs.filter((j) => j.name === "comment").at(-1)?.returnvalue).toBe("nothing shown");
  });
});
