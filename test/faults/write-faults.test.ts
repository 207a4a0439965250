import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, octoRepo } from "../helpers/upstream.js";
import { githubToOctoAndAcmeMap } from "../helpers/maps.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Faults on the relay's own writes upstream (check runs, the failure comment): GitHub acts and the
 * answer is lost (the connection cut), or GitHub fails with a 502 and does nothing. Either way the
 * job is retried, and the end state is the same as without the fault: one check run per name, one
 * comment, the last result shown.
 */
const MAP = githubToOctoAndAcmeMap();
const startHarness = useHarness();
const start = () => startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), "acme/app": acmeAppRepo() } });

type Fault = (h: Harness, operationId: string) => void;
const lost: Fault = (h, op) => h.github.loseResponse(op);
const failed: Fault = (h, op) => h.github.fail(op, 502);
const completed = (h: Harness, name: string) => h.github.checkRuns.find((c) => c.name === name && c.status === "completed");

describe("fault: a check-run write of the relay is lost or fails", () => {
  it.each([
    // a lost create: the retry finds the check run GitHub made (by app and external id) and edits it
    ["a lost response", "checks/create", lost, 3],
    ["a 502", "checks/create", failed, 4],
    ["a lost response", "checks/update", lost, 3],
    ["a 502", "checks/update", failed, 3],
  ])("invariant: %s on %s leaves exactly one check run per name, with the final result", async (_fault, op, inject, creates) => {
    const h = await start();
    inject(h, op);

    await h.send("create.tag");
    const octo = runIdOf(await runningCheck(h, "openci: octo"));
    const app = runIdOf(await runningCheck(h, "openci: acme/app"));
    await sendRun(h, { id: octo, conclusion: "success" });
    await sendRun(h, { repo: "acme/app", id: app, conclusion: "failure" });
    const rollup = await waitFor("the roll-up to complete", () => completed(h, "openci"), 20_000);
    await waitFor("both downstream checks to complete", () => completed(h, "openci: octo") && completed(h, "openci: acme/app"));
    await h.idle();

    expect(h.github.checkRuns.map((c) => c.name).sort()).toEqual(["openci", "openci: acme/app", "openci: octo"]);
    expect(h.github.checkRuns.map((c) => `${c.name}: ${c.conclusion}`).sort()).toEqual(["openci: acme/app: failure", "openci: failure", "openci: octo: success"]);
    expect(rollup.output.title).toBe("1 of 2 downstreams passed");
    expect(h.github.checkRuns.every((c) => c.head_sha === COMMIT)).toBe(true);
    expect(h.github.calls("checks/create")).toHaveLength(creates);
  });
});

describe("fault: a failure comment write of the relay is lost or fails", () => {
  it.each([
    // a lost create: the retry finds the comment GitHub wrote by its marker and edits it
    ["a lost response", "repos/create-commit-comment", lost, 1, 1],
    ["a 502", "repos/create-commit-comment", failed, 2, 1],
    ["a lost response", "repos/update-commit-comment", lost, 1, 2],
    ["a 502", "repos/update-commit-comment", failed, 1, 2],
  ])("invariant: %s on %s leaves exactly one comment, listing every failure", async (_fault, op, inject, creates, updates) => {
    const h = await start();
    inject(h, op);

    await h.send("create.tag");
    const octo = runIdOf(await runningCheck(h, "openci: octo"));
    const app = runIdOf(await runningCheck(h, "openci: acme/app"));
    await sendRun(h, { id: octo, conclusion: "failure" });
    await waitFor("the comment about octo", () => h.github.comments.some((c) => c.body.includes("1 of 2 downstreams")), 20_000);
    await sendRun(h, { repo: "acme/app", id: app, conclusion: "failure" });
    await waitFor("the comment about both", () => h.github.comments.some((c) => c.body.includes("2 of 2 downstreams")), 20_000);
    await h.idle();

    expect(h.github.comments.map((c) => c.on)).toEqual([`commit-${COMMIT}`]);
    expect(h.github.comments[0]!.body).toContain("### OpenCI: 2 of 2 downstreams of `6113728` failing");
    expect(h.github.comments[0]!.author.login).toBe(`${h.github.appSlug}[bot]`);
    expect(h.github.calls("repos/create-commit-comment")).toHaveLength(creates);
    expect(h.github.calls("repos/update-commit-comment")).toHaveLength(updates);
  });
});
