import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITHUB_MAP } from "../helpers/maps.js";
import { skipBackoff } from "../helpers/backoff.js";
import { metric } from "../helpers/metrics.js";
import { getJson, releaseWhen } from "../helpers/history.js";
import { JOB_OPTIONS } from "../../src/queue/queues.js";

const MAP = GITHUB_TO_GITHUB_MAP;
const repos = (app: Partial<FakeRepo> = {}): Record<string, FakeRepo> => ({
  [UPSTREAM]: upstreamRepo(),
  "acme/app": { ...acmeAppRepo(), ...app },
});

const startHarness = useHarness();
let h: Harness | undefined;

const appCheck = () => downstreamChecks(h!.github).find((c) => c.name === "openci: acme/app");

describe("a trigger that cannot be made is reported upstream, not retried", () => {
  it("names the inputs a workflow must declare when GitHub rejects undeclared ones", async () => {
    h = await startHarness({ map: MAP, repos: repos({ workflows: { "ci.yml": { inputs: ["only_this"] } } }) });

    await h.send("create.tag");
    const check = await waitFor("a completed check", () => (appCheck()?.status === "completed" ? appCheck() : undefined));
    await h.idle();

    expect(check.conclusion).toBe("failure");
    expect(check.output.title).toBe("Could not trigger acme/app");
    expect(check.output.summary).toContain("Unexpected inputs provided");
    expect(check.output.summary).toContain("workflow_dispatch:\n    inputs:\n      openci_upstream:\n        type: string");
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
  });

  it("says the app must be installed when the downstream repository has no installation", async () => {
    // acme/app is public, but the app is not installed there.
    h = await startHarness({ map: MAP, repos: repos({ installed: false }) });

    await h.send("create.tag");
    const check = await waitFor("a completed check", () => (appCheck()?.status === "completed" ? appCheck() : undefined));

    expect(check.conclusion).toBe("failure");
    expect(check.output.summary).toContain("Install the app on acme/app");
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(0);
  });
});

describe("retries", () => {
  it("keeps the check queued through a 5xx and dispatches once GitHub recovers", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    h.github.fail("actions/create-workflow-dispatch", 502);

    await h.send("create.tag");
    const queued = await waitFor("a queued check", () => appCheck()?.status === "queued");
    const running = await waitFor("an in-progress check", () => appCheck()?.status === "in_progress", 15_000);

    expect(queued && running).toBe(true);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(2);
    expect(downstreamChecks(h.github)).toHaveLength(1);
  });

  it("says 'Could not trigger' once the last attempt has failed too, and only then", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    h.github.fail("actions/create-workflow-dispatch", 502, { times: 100 });
    const failedBefore = await metric(h.url, "openci_triggers_total", { outcome: "failed" });
    const triggeredBefore = await metric(h.url, "openci_triggers_total", { outcome: "triggered" });

    await h.send("create.tag");
    const failed = () => appCheck()?.status === "completed";
    const promoted = await skipBackoff(h.redisUrl, "trigger", "trigger", failed);
    await h.idle();

    // every attempt the queue allows (JOB_OPTIONS.trigger), no more, and the check only failed after the last
    const attempts = JOB_OPTIONS.trigger.attempts!;
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(attempts);
    expect(promoted).toBe(attempts - 1);
    const check = appCheck()!;
    expect(check.conclusion).toBe("failure");
    expect(check.output.title).toBe("Could not trigger acme/app");
    expect(check.output.summary).toContain("502");
    expect(downstreamChecks(h.github)).toHaveLength(1);
    expect(await metric(h.url, "openci_triggers_total", { outcome: "failed" })).toBe(failedBefore + 1);
    expect(await metric(h.url, "openci_triggers_total", { outcome: "triggered" })).toBe(triggeredBefore);
    // the history says why, in the trigger's own record
    const release = await releaseWhen(h, "hello", "simple-tag", { "acme/app": "error" });
    const records = await Promise.all(release.downstreams[0].records.map(async (cid: string) => (await getJson(h!, `/api/v1/records/${cid}`)).body));
    expect(records.map((r: any) => [r.record.kind, r.record.outcome])).toEqual([["trigger", "failed"]]);
    expect(records[0].record.reason).toContain("workflow_dispatch of ci.yml on acme/app@main: 502");
  });

  it("a lost dispatch response: the retry finds the run the first attempt started and dispatches nothing more", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    h.github.loseResponse("actions/create-workflow-dispatch");

    await h.send("create.tag");
    const running = await waitFor("an in-progress check", () => (appCheck()?.status === "in_progress" ? appCheck() : undefined), 15_000);
    await h.idle();

    const [dispatch] = h.github.calls("actions/create-workflow-dispatch");
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(h.github.calls("actions/list-workflow-runs")).toHaveLength(1);
    // the check links the run the lost dispatch started, found by the relay run id in its title
    const run = h.github.dispatchedRuns.find((r) => r.relayRunId === dispatch!.body.inputs.openci_run_id)!;
    expect(running.details_url).toMatch(new RegExp(`/actions/runs/${run.runId}$`));
  });

  it("a lost dispatch response where the runs cannot be listed: it dispatches again rather than never", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    h.github.loseResponse("actions/create-workflow-dispatch");
    h.github.fail("actions/list-workflow-runs", 404, { body: { message: "Not Found" } });

    await h.send("create.tag");
    await waitFor("an in-progress check", () => appCheck()?.status === "in_progress", 15_000);
    await h.idle();

    expect(h.github.calls("actions/list-workflow-runs")).toHaveLength(1);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(2);
    expect(downstreamChecks(h.github)).toHaveLength(1);
  });

  it("waits at least retry-after when rate limited", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    h.github.fail("actions/create-workflow-dispatch", 403, {
      body: { message: "You have exceeded a secondary rate limit" },
      headers: { "retry-after": "3" },
    });

    await h.send("create.tag");
    await waitFor("an in-progress check", () => appCheck()?.status === "in_progress", 15_000);

    const [first, second] = h.github.calls("actions/create-workflow-dispatch");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(3000);
  });

  it("retries without return_run_details where the server rejects it (older GitHub Enterprise)", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    h.github.supportsRunDetails = false;

    await h.send("create.tag");
    const check = await waitFor("an in-progress check", () => (appCheck()?.status === "in_progress" ? appCheck() : undefined));

    const calls = h.github.calls("actions/create-workflow-dispatch");
    expect(calls.map((c) => c.body.return_run_details)).toEqual([true, undefined]);
    expect(check.details_url).toMatch(/\/acme\/app\/actions\/workflows\/ci\.yml$/);
  });
});
