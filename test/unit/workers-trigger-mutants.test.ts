/**
 * The trigger path in-process against a real Redis: `fanOut` (a tag → the dependants it triggers),
 * `enqueueTriggers` (their jobs, checks and gates) and `processTrigger` (the map's consent, then the
 * forge), with the forge held in memory (test/helpers/memory-forge.ts). Written to kill the mutants
 * of src/workers/{trigger,enqueue-triggers,fan-out}.ts that the end-to-end files leave alive
 * (`npm run test:mutation -- workers-trigger`, TESTING.md) in milliseconds where those take seconds.
 */
import { beforeEach, describe, expect, it } from "@jest/globals";
import { UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "pino";
import { ForgeError } from "../../src/forge/errors.js";
import { Systems, type SystemDriver } from "../../src/forge/registry.js";
import type { Reporter, TriggerResult } from "../../src/forge/roles.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap, parseMapFiles } from "../../src/map/load.js";
import { tagToTrigger, triggers } from "../../src/metrics.js";
import type { TagEvent } from "../../src/events/tag-event.js";
import type { PollJob, TimeoutJob, TriggerJob } from "../../src/queue/job-data.js";
import { checkKey } from "../../src/queue/job-ids.js";
import { checkName } from "../../src/report/check-text.js";
import type { Visibility } from "../../src/trust/visibility-store.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { enqueueTriggers, type TriggerOrigin } from "../../src/workers/enqueue-triggers.js";
import { fanOut } from "../../src/workers/fan-out.js";
import { processTrigger } from "../../src/workers/trigger.js";
import { httpError, MemoryForge } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { capturedLog, ERROR, ISO, type LogLine, SHA, triggerData, upstreamRef, useWorkerQueues, WARN, workerDeps, rejection } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);


/**
 * `up` (upco/lib) and its dependants, one per kind of edge the trigger worker's consent tells apart.
 * `down` takes the defaults (tags and releases); the others say `on:` and filters of their own.
 */
const MAP_TEXT = `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
${[
    ["down", ""],
    ["tagonly", ", on: [tag]"],
    ["relonly", ", on: [release]"],
    ["relonly2", ", on: [release]"],
    ["v2tag", ", on: [tag], tags: \"v2.*\""],
    ["v2rel", ", on: [release], tags: \"v2.*\""],
    ["prs", ", on: [pull_request]"],
    ["slow", ", timeout: 3h"],
    ["gated", ", after_check: build"],
    ["gated2", ", after_check: build, timeout: 2h"],
  ].map(([id, edge]) => `  - { id: ${id}, foundation: f, github: upco/${id}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: up${edge} }] }`).join("\n")}
  - { id: mid, foundation: f, github: upco/mid, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: up, tags: "never-*" }] }
  - { id: tail, foundation: f, github: upco/tail, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid, cascade: true }] }
  - { id: flat, foundation: f, github: upco/flat, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mid }] }
  - { id: gl, foundation: f, gitlab: grp/gl, trigger: { ref: main }, depends_on: [{ project: up, tags: "never-*" }] }
`;
const MAP = parseMap(MAP_TEXT);

/** `priv` is private in the reviewed map; `github:dec/app` declared its own dependency on it. */
const DECLARED_MAP = parseMapFiles([{ file: "m.yml", text: `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: priv, foundation: f, github: upco/priv, visibility: private }
  - { id: reviewed, foundation: f, github: upco/reviewed, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: priv }] }
` }], "m.yml", {}, [{ file: "github:dec/app/.github/openci.yml", text: "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: priv }]\n", location: { forge: "github", repo: "dec/app" } }]).map;

let forge: MemoryForge;
let logs: LogLine[];
let log: Logger;
let map: DependencyMap;
let deps: WorkerDeps;

beforeEach(async () => {
  await redis().flushdb();
  forge = new MemoryForge();
  forge.tags = { "v1.0.0": SHA, "bad;tag": SHA };
  ({ log, lines: logs } = capturedLog());
  map = MAP;
  deps = makeDeps();
});

/** The forge's side of each system: GitHub and GitLab play every role (GitLab's runs are polled); `without` leaves roles out. */
function systems(without: Partial<Record<"github" | "gitlab", (keyof SystemDriver)[]>> = {}): Systems {
  const driver = (kind: "github" | "gitlab", pollsRuns: boolean): SystemDriver => {
    const all: SystemDriver = {
      source: () => forge, runner: () => forge, reporter: () => forge as unknown as Reporter, pollsRuns, signsCheckHooks: kind === "github",
    };
    for (const role of without[kind] ?? []) delete (all as unknown as Record<string, unknown>)[role];
    return all;
  };
  return new Systems({ github: driver("github", false), gitlab: driver("gitlab", true) }, () => map);
}

/** What the relay wires for its workers (src/roles/worker-role.ts), on this file's Redis; the forge is `forge`. */
function makeDeps(o: { forgeVisibility?: Record<string, Visibility>; systems?: Systems; limits?: WorkerDeps["limits"] | "none" } = {}): WorkerDeps {
  return workerDeps({ redis: redis(), queues: queues(), map: () => map, log, systems: o.systems ?? systems(), visibilityOf: (id) => o.forgeVisibility?.[id] ?? "public", ...(o.limits ? { limits: o.limits } : {}) });
}


/** The job as the trigger worker hands it over: its data and how many of its attempts were made. */
function job(data: TriggerJob, attemptsMade = 0, attempts = 10): Job {
  return { data, attemptsMade, opts: { attempts } } as unknown as Job;
}

const trigger = (data: TriggerJob, attemptsMade = 0, attempts = 10) => processTrigger(job(data, attemptsMade, attempts), deps, log);

/** Every history record of a kind, oldest first. */
async function history(kind: HistoryRecord["kind"]): Promise<HistoryRecord[]> {
  const store = new HistoryStore(redis());
  return (await store.records(await store.recent(kind, 100))).map((r) => r.record).reverse();
}

const triggerRecords = async () => (await history("trigger")) as Extract<HistoryRecord, { kind: "trigger" }>[];

/** The upstream check of a downstream, as the report worker would push it. */
async function checkOf(downstreamId: string, upstream = upstreamRef()) {
  return (await deps.checks.get(checkKey({ upstream, sha: upstream.sha, name: checkName(downstreamId) })))?.report;
}

async function triggersCounted(outcome: string): Promise<number> {
  return (await triggers.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

async function latenciesObserved(): Promise<number> {
  return (await tagToTrigger.get()).values.find((v) => v.metricName === "openci_tag_to_trigger_seconds_count")?.value ?? 0;
}

/** The trigger queue's jobs of one name (trigger, timeout, poll), with their data and options. */
async function queued<D = TriggerJob>(name: string): Promise<{ data: D; opts: { delay?: number | undefined } }[]> {
  return (await queues().trigger.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.name === name) as unknown as { data: D; opts: { delay?: number } }[];
}

const logged = (msg: string | RegExp) => logs.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));

describe("processTrigger: the map as it is now decides, whatever queued the job", () => {
  it.each([
    ["an edge `on: [tag]` for a tag", "tagonly", "v1.0.0"],
    ["an edge `on: [release]` for a tag (a release's tag: the job does not say which)", "relonly", "v1.0.0"],
    ["an edge `on: [pull_request]` for a pull request's head", "prs", "pull/3"],
  ])("runs %s", async (_what, downstream, tag) => {
    const data = triggerData(downstream, { upstream: upstreamRef({ tag }) });

    const result = await trigger(data);

    expect(result).toMatchObject({ kind: "workflow_dispatch", runId: expect.any(String) });
    expect(forge.calls.filter((c) => c.op === "triggerPipeline").map((c) => c.project)).toEqual([downstream]);
  });

  it.each([
    ["a tag the edge's filter does not match, though another edge of the same kind matches it", "v2tag", "v1.0.0",
      "the edge from 'up' to 'v2tag' no longer matches v1.0.0 in the dependency map."],
    ["a tag a release-only edge's filter does not match, though another release edge matches it", "v2rel", "v1.0.0",
      "the edge from 'up' to 'v2rel' no longer matches v1.0.0 in the dependency map."],
    ["a pull request's head, along an edge that does not test pull requests", "tagonly", "pull/3",
      "'tagonly' no longer tests pull requests of 'up' in the dependency map."],
    ["a downstream that does not depend on the upstream", "tail", "v1.0.0",
      "'tail' does not depend on 'up' in the dependency map (any more)."],
  ])("refuses %s: nothing triggered, the reason returned, recorded, shown and counted", async (_what, downstream, tag, reason) => {
    const data = triggerData(downstream, { upstream: upstreamRef({ tag }) });
    const refusedBefore = await triggersCounted("refused");

    const result = await trigger(data);

    expect(result).toEqual({ refused: reason });
    expect(forge.count("triggerPipeline")).toBe(0);
    expect((await triggerRecords()).map((r) => [r.downstream, r.outcome, r.reason])).toEqual([[downstream, "refused", reason]]);
    expect(await checkOf(downstream, data.upstream)).toMatchObject({ status: "completed", conclusion: "skipped" });
    expect((await checkOf(downstream, data.upstream))?.summary).toContain(reason);
    expect(await triggersCounted("refused")).toBe(refusedBefore + 1);
    expect(logged(`trigger refused: ${reason}`)).toEqual([expect.objectContaining({ level: WARN, downstream, upstream: "up" })]);
  });

  describe("a cascade (up → mid → …)", () => {
    const chained = (downstream: string, o: Partial<TriggerJob> = {}) =>
      triggerData(downstream, { chain: { id: "chain-1", path: ["up", "mid", downstream] }, ...o });

    it("runs along an edge that cascades, from the project before it in the chain", async () => {
      await trigger(chained("tail"));

      expect(forge.calls.filter((c) => c.op === "triggerPipeline").map((c) => c.project)).toEqual(["tail"]);
    });

    it("refuses an edge that does not cascade", async () => {
      const result = await trigger(chained("flat"));

      expect(result).toEqual({ refused: "'flat' no longer cascades from 'mid' in the dependency map." });
      expect(forge.count("triggerPipeline")).toBe(0);
    });

    it("refuses a chain whose tagging upstream left the map, though the last edge is still there", async () => {
      const data = chained("tail", { upstream: upstreamRef({ projectId: "gone" }), chain: { id: "chain-1", path: ["gone", "mid", "tail"] } });

      const result = await trigger(data);

      expect(result).toEqual({ refused: "'gone' or 'mid' is no longer in the dependency map." });
      expect(forge.count("triggerPipeline")).toBe(0);
    });
  });

  it("refuses a self-declared dependant of a private upstream (a private project triggers only reviewed edges)", async () => {
    map = DECLARED_MAP;
    deps = makeDeps();
    const data = triggerData("github:dec/app", { upstream: upstreamRef({ projectId: "priv", repo: "upco/priv" }) });
    expect(map.edge("priv", "github:dec/app")?.declared).toBe(true);

    const result = await trigger(data);

    expect(result).toEqual({
      refused: "'github:dec/app' only declared its dependency on 'priv', which is private (now): a private project triggers only edges of the reviewed map.",
    });
    expect(forge.count("triggerPipeline")).toBe(0);
  });

  it("fails for good, at its first attempt, a downstream gone from the map: the reason recorded and shown", async () => {
    const data = triggerData("ghost");

    const error = await rejection(trigger(data, 0, 10));

    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe("'ghost' is no longer in the dependency map");
    expect(forge.calls).toEqual([]);
    expect((await triggerRecords()).map((r) => [r.downstream, r.outcome, r.reason])).toEqual([["ghost", "failed", "'ghost' is no longer in the dependency map"]]);
  });
});

describe("processTrigger: starting the pipeline", () => {
  it("records what the forge started, in the history and the check, and counts it", async () => {
    const triggered = await triggersCounted("triggered");

    const result = (await trigger(triggerData("down"))) as TriggerResult;

    expect((await triggerRecords()).map((r) => [r.outcome, r.pipeline])).toEqual([["triggered", { kind: "workflow_dispatch", id: result.runId, url: result.webUrl }]]);
    expect(await checkOf("down")).toMatchObject({ detailsUrl: result.webUrl });
    expect(await triggersCounted("triggered")).toBe(triggered + 1);
    expect(logged("downstream triggered")).toEqual([expect.objectContaining({ downstream: "down", downstreamRunId: result.runId })]);
  });

  it("observes the tag → trigger latency only for a first trigger that knows when its tag arrived", async () => {
    const before = await latenciesObserved();

    await trigger(triggerData("down"));
    await trigger(triggerData("tagonly", { attempt: 1, receivedAt: new Date().toISOString() }));
    const untimed = await latenciesObserved();
    await trigger(triggerData("relonly", { receivedAt: new Date().toISOString() }));

    expect(untimed).toBe(before);
    expect(await latenciesObserved()).toBe(before + 1);
  });

  it("never calls the forge again for a trigger already recorded: the recorded run is its result", async () => {
    const data = triggerData("down");
    const earlier: TriggerResult = { kind: "workflow_dispatch", runId: "41", webUrl: "https://forge.example/runs/41" };
    await deps.records.save({ trigger: data, forge: "github", downstreamRepo: "upco/down", result: earlier, triggeredAt: ISO });

    const result = await trigger(data);

    expect(result).toEqual(earlier);
    expect(forge.calls).toEqual([]);
    expect(logged("already triggered: not calling the forge again")).toEqual([expect.objectContaining({ downstream: "down" })]);
  });

  it("schedules the edge's timeout, and the default one when the edge went while the forge was asked", async () => {
    await trigger(triggerData("slow"));
    forge.duringTrigger = () => (map = parseMap(MAP_TEXT.replace(/\n {2}- \{ id: down, .*\n/, "\n")));
    await trigger(triggerData("down"));

    const timeouts = await queued<TimeoutJob>("timeout");
    expect(Object.fromEntries(timeouts.map((j) => [j.data.trigger.downstreamId, [j.data.timeout, j.opts.delay]]))).toEqual({
      slow: ["3h", 3 * 3600_000],
      down: ["6h", 6 * 3600_000],
    });
  });

  it("polls a run whose forge is polled only when the forge gave its id", async () => {
    await trigger(triggerData("gl", { upstream: upstreamRef({ tag: "never-1" }) }));
    forge.returnsRunId = false;
    await trigger(triggerData("gl", { upstream: upstreamRef({ tag: "never-2" }) }));

    const polls = await queued<PollJob>("poll");
    expect(polls.map((j) => j.data.relayRunId)).toEqual([triggerData("gl", { upstream: upstreamRef({ tag: "never-1" }) }).runId]);
  });
});

describe("processTrigger: when the forge fails", () => {
  it("a 4xx fails for good at once, with the forge's words and where it happened, recorded and shown", async () => {
    forge.fail("triggerPipeline", httpError(404, "Not Found"));
    const failed = await triggersCounted("failed");

    const error = await rejection(trigger(triggerData("down"), 0, 10));

    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe("triggering down: 404 Not Found");
    expect((await triggerRecords()).map((r) => [r.outcome, r.reason])).toEqual([["failed", "triggering down: 404 Not Found"]]);
    expect(await checkOf("down")).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(await triggersCounted("failed")).toBe(failed + 1);
    expect(logged("trigger failed for good")).toEqual([expect.objectContaining({ level: ERROR, err: expect.objectContaining({ message: expect.stringContaining("triggering down: 404 Not Found") }) })]);
  });

  it("keeps the forge's hint with the reason, in the history and on the failed job", async () => {
    forge.fail("triggerPipeline", new ForgeError("triggering down: 403 Forbidden", "config", { status: 403, hint: "Install the app on upco/down" }));

    const error = await rejection(trigger(triggerData("down")));

    expect(error.message).toBe("triggering down: 403 Forbidden. Install the app on upco/down");
    expect((await triggerRecords()).map((r) => r.reason)).toEqual(["triggering down: 403 Forbidden. Install the app on upco/down"]);
    expect(logged("trigger failed for good")).toEqual([expect.objectContaining({ hint: "Install the app on upco/down" })]);
  });

  it("a 5xx before the last attempt is retried: nothing recorded, nothing shown as failed", async () => {
    forge.fail("triggerPipeline", httpError(502));

    const error = await rejection(trigger(triggerData("down"), 0, 10));

    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect(error).toMatchObject({ kind: "transient", message: "triggering down: 502 Bad Gateway" });
    expect(await triggerRecords()).toEqual([]);
    expect(logged("trigger failed, will retry")).toEqual([expect.objectContaining({ level: WARN, attempt: 1, err: expect.objectContaining({ message: expect.stringContaining("triggering down: 502 Bad Gateway") }) })]);
  });

  it("a rate limit, even at the last attempt, waits in the queue: never 'failed'", async () => {
    forge.fail("triggerPipeline", httpError(429, "slow down"));
    const failed = await triggersCounted("failed");

    const error = await rejection(trigger(triggerData("down"), 0, 1));

    expect(error).toMatchObject({ kind: "rate_limited" });
    expect(await triggerRecords()).toEqual([]);
    expect(await triggersCounted("failed")).toBe(failed);
  });
});

describe("processTrigger: an earlier attempt that called the forge and recorded nothing", () => {
  const intended = async (data: TriggerJob, at: Date) => {
    await deps.records.intend(data.runId, at);
  };

  it("finds the run it started, by the forge's clock up to 5 minutes behind ours, and does not trigger again", async () => {
    const data = triggerData("down");
    const attemptAt = new Date(Date.now() - 1000);
    await intended(data, attemptAt);
    const started = forge.hold(data.runId, new Date(attemptAt.getTime() - 4 * 60_000));

    const result = await trigger(data);

    expect(result).toEqual(started);
    expect(forge.count("triggerPipeline")).toBe(0);
    expect(logged("an earlier attempt had started the downstream run: not triggering again")).toEqual([
      expect.objectContaining({ level: WARN, downstream: "down", downstreamRunId: started.runId }),
    ]);
  });

  it("triggers anew when the forge has no such run, and says nothing of one", async () => {
    const data = triggerData("down");
    await intended(data, new Date());

    await trigger(data);

    expect(forge.count("triggerPipeline")).toBe(1);
    expect(logged(/earlier attempt had started/)).toEqual([]);
  });

  it("triggers anew where the forge cannot be asked (a 4xx), and says so with the hint", async () => {
    const data = triggerData("down");
    await intended(data, new Date());
    forge.fail("findTriggered", new ForgeError("no API token", "config", { status: 401, hint: "set GITLAB_TOKEN" }));

    await trigger(data);

    expect(forge.count("triggerPipeline")).toBe(1);
    expect(logged("cannot tell whether an earlier attempt started the downstream run: triggering it")).toEqual([
      expect.objectContaining({ level: WARN, hint: "set GITLAB_TOKEN" }),
    ]);
  });

  it("retries later, triggering nothing, when the forge's list of runs fails (a 5xx)", async () => {
    const data = triggerData("down");
    await intended(data, new Date());
    forge.fail("findTriggered", httpError(502));

    const error = await rejection(trigger(data));

    expect(error).toMatchObject({ kind: "transient", message: "looking for the run an earlier attempt started in down: 502 Bad Gateway" });
    expect(forge.count("triggerPipeline")).toBe(0);
  });
});

describe("processTrigger: a re-run where the forge retries the run in place (GitLab)", () => {
  const rerun = () => triggerData("gl", { upstream: upstreamRef({ tag: "never-1" }), attempt: 1, retryOf: "77" });

  it("retries the run instead of triggering a new one", async () => {
    forge.retries = "in-place";

    const result = await trigger(rerun());

    expect(result).toEqual({ kind: "pipeline", runId: "77", webUrl: "https://forge.example/pipelines/77" });
    expect(forge.count("triggerPipeline")).toBe(0);
    expect(logged("downstream run retried in place")).toEqual([expect.objectContaining({ downstream: "gl", downstreamRunId: "77" })]);
  });

  it("triggers a new run where the forge does not retry, and does not say it retried", async () => {
    await trigger(rerun());

    expect(forge.calls.map((c) => c.op)).toEqual(["retryRun", "triggerPipeline"]);
    expect(logged("downstream run retried in place")).toEqual([]);
  });

  it("triggers a new run where the run cannot be retried (a 4xx), and says so", async () => {
    forge.fail("retryRun", httpError(403, "Forbidden"));

    await trigger(rerun());

    expect(forge.calls.map((c) => c.op)).toEqual(["retryRun", "triggerPipeline"]);
    expect(logged("the run cannot be retried: triggering a new one")).toEqual([
      expect.objectContaining({ level: WARN, err: expect.objectContaining({ message: expect.stringContaining("retrying run 77 of gl: 403 Forbidden") }) }),
    ]);
  });

  it("retries later, triggering nothing, when the retry fails (a 5xx)", async () => {
    forge.fail("retryRun", httpError(502));

    const error = await rejection(trigger(rerun()));

    expect(error).toMatchObject({ kind: "transient", message: "retrying run 77 of gl: 502 Bad Gateway" });
    expect(forge.count("triggerPipeline")).toBe(0);
  });
});

describe("enqueueTriggers", () => {
  const origin = (o: Partial<TriggerOrigin> = {}): TriggerOrigin => ({ forge: "github", repo: "upco/lib", ref: "v1.0.0", installationId: 7, deliveryId: "d-1", receivedAt: ISO, ...o });
  const work = (...ids: string[]) => ids.map((id) => ({ upstream: map.project("up")!, project: map.project(id)!, gate: map.edge("up", id)!.after_check }));

  it("hands back which dependants were queued now and which wait for a gate", async () => {
    const result = await enqueueTriggers(deps, origin(), SHA, work("down", "gated"), log);

    expect(result).toEqual({ now: ["down"], gated: ["gated"] });
  });

  it("keeps a GitLab upstream's instance host in its triggers", async () => {
    await enqueueTriggers(deps, origin({ forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib" }), SHA, work("down"), log);

    expect((await queued("trigger")).map((j) => j.data.upstream.host)).toEqual(["gitlab.example.org"]);
  });

  it("times the tag → trigger latency only for triggers no gate holds back", async () => {
    await enqueueTriggers(deps, origin(), SHA, work("down", "gated"), log);
    await enqueueTriggers(deps, origin({ ref: "v1.0.1", receivedAt: undefined }), SHA, work("down"), log);

    const waiting = await deps.gates.peek({ forge: "github", repo: "upco/lib" }, SHA, "build");
    expect(waiting.map((t) => [t.downstreamId, "receivedAt" in t])).toEqual([["gated", false]]);
    expect((await queued("trigger")).map((j) => [j.data.upstream.tag, j.data.receivedAt, "receivedAt" in j.data]).sort()).toEqual([
      ["v1.0.0", ISO, true],
      ["v1.0.1", undefined, false],
    ]);
  });

  it("skips a gated dependant at once when its gate already ended without a conclusion (neutral)", async () => {
    forge.checkStates[`${SHA}/build`] = { completed: true, conclusion: undefined };

    await enqueueTriggers(deps, origin(), SHA, work("gated"), log);

    expect(await checkOf("gated")).toMatchObject({ status: "completed", conclusion: "skipped", title: "Skipped: gated (build neutral)" });
    expect((await history("gate")).map((r) => [r.kind === "gate" && r.decision, r.kind === "gate" && r.conclusion])).toEqual([["waiting", undefined], ["failed", "neutral"]]);
  });
});

describe("fanOut", () => {
  const tagEvent = (o: Partial<TagEvent> = {}): TagEvent => ({
    forge: "github", repo: "upco/lib", tag: "v1.0.0", source: "create", installationId: 7, deliveryId: "d-1", receivedAt: ISO, ...o,
  });
  /** One upstream, `a` on every tag and `b` only on releases; `c` lives on GitLab. */
  const SMALL = `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
  - { id: a, foundation: f, github: upco/a, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: up, tags: "v*" }] }
  - { id: b, foundation: f, github: upco/b, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: up, on: [release], tags: "v*" }] }
  - { id: c, foundation: f, gitlab: grp/c, trigger: { ref: main }, depends_on: [{ project: up, tags: "gl-*" }] }
`;
  beforeEach(() => {
    map = parseMap(SMALL);
    deps = makeDeps();
    forge.tags["nothing-1"] = SHA;
    forge.tags["gl-1"] = SHA;
  });
  const triggerJobs = async () => (await queued("trigger")).map((j) => j.data.downstreamId).sort();

  it("does nothing for a repository the map does not list, and says so", async () => {
    const result = await fanOut(tagEvent({ repo: "someone/else" }), deps, log);

    expect(result).toEqual({ upstreams: 0, triggers: 0 });
    expect(forge.calls).toEqual([]);
    expect(logged("tag on a repository the map does not list")).toEqual([expect.objectContaining({ repo: "someone/else", tag: "v1.0.0" })]);
  });

  it("records a tag it will not pass on, with the commit, and says why", async () => {
    const result = await fanOut(tagEvent({ tag: "bad;tag" }), deps, log);

    expect(result).toEqual({ upstreams: 1, triggers: 0, sha: SHA });
    expect(await triggerJobs()).toEqual([]);
    expect(logged("tag recorded but not passed on: nothing triggered")).toEqual([
      expect.objectContaining({ level: WARN, repo: "upco/lib", tag: "bad;tag", sha: SHA, reason: expect.stringContaining("outside A-Z") }),
    ]);
  });

  it("does nothing for a tag no edge takes, and says so", async () => {
    const result = await fanOut(tagEvent({ tag: "nothing-1" }), deps, log);

    expect(result).toEqual({ upstreams: 1, triggers: 0 });
    expect(forge.count("resolveTag")).toBe(0);
    expect(logged("tag matched no dependant")).toEqual([expect.objectContaining({ repo: "upco/lib", tag: "nothing-1" })]);
  });

  it("passes a tag's creation to tag edges and a published release to release edges too", async () => {
    const created = await fanOut(tagEvent(), deps, log);
    expect(await triggerJobs()).toEqual(["a"]);

    await redis().flushdb();
    const released = await fanOut(tagEvent({ source: "release" }), deps, log);

    expect(await triggerJobs()).toEqual(["a", "b"]);
    expect(created).toEqual({ upstreams: 1, triggers: 1, sha: SHA });
    expect(released).toEqual({ upstreams: 1, triggers: 2, sha: SHA });
    expect(logged("triggers enqueued")).toEqual([
      expect.objectContaining({ repo: "upco/lib", tag: "v1.0.0", sha: SHA, downstreams: ["a"], gated: [] }),
      expect.objectContaining({ downstreams: ["a", "b"], gated: [] }),
    ]);
  });

  it("triggers the first dependants in map order up to OPENCI_MAX_TRIGGERS_PER_EVENT, and says which it left out", async () => {
    deps = makeDeps({ limits: { perEvent: 1, perChain: 5 } });
    await fanOut(tagEvent({ source: "release" }), deps, log);
    expect(await triggerJobs()).toEqual(["a"]);
    expect(logged(/^fan-out cap/)).toEqual([expect.objectContaining({ level: ERROR, matched: 2, cap: 1, left_out: ["b"] })]);

    logs.length = 0;
    await redis().flushdb();
    await fanOut(tagEvent(), deps, log);
    expect(await triggerJobs()).toEqual(["a"]);
    expect(logged(/^fan-out cap/)).toEqual([]);
  });

  it("has no cap when none is set", async () => {
    deps = makeDeps({ limits: "none" });

    await fanOut(tagEvent({ source: "release" }), deps, log);

    expect(await triggerJobs()).toEqual(["a", "b"]);
  });

  it("gives up at once on a tag the forge does not have (a 4xx), saying so; retries through a 5xx", async () => {
    const missing = await rejection(fanOut(tagEvent({ tag: "v9.9.9" }), deps, log));

    expect(missing).toBeInstanceOf(UnrecoverableError);
    expect(missing.message).toBe("resolving tag v9.9.9 of upco/lib: 404 Not Found");
    expect(logged("tag cannot be resolved: nothing triggered")).toEqual([
      expect.objectContaining({ level: ERROR, repo: "upco/lib", tag: "v9.9.9", err: expect.objectContaining({ message: expect.stringContaining("resolving tag v9.9.9 of upco/lib: 404 Not Found") }) }),
    ]);

    forge.fail("resolveTag", httpError(502));
    const outage = await rejection(fanOut(tagEvent(), deps, log));
    expect(outage).not.toBeInstanceOf(UnrecoverableError);
    expect(outage).toMatchObject({ kind: "transient" });
    expect(await triggerJobs()).toEqual([]);
  });

  it("leaves out, and says so, a dependant on a system where nothing runs pipelines for the relay", async () => {
    deps = makeDeps({ systems: systems({ gitlab: ["runner"] }) });

    const result = await fanOut(tagEvent({ tag: "gl-1" }), deps, log);

    expect(result).toEqual({ upstreams: 1, triggers: 0 });
    expect(logged("nothing runs pipelines on this system for the relay: dependant not triggered")).toEqual([
      expect.objectContaining({ level: WARN, upstream: "up", downstream: "c", system: "gitlab" }),
    ]);
  });

  it("leaves out, and says so, a private upstream's self-declared dependant", async () => {
    map = DECLARED_MAP;
    deps = makeDeps();

    await fanOut(tagEvent({ repo: "upco/priv" }), deps, log);

    expect(await triggerJobs()).toEqual(["reviewed"]);
    expect(logged(/self-declared dependant not triggered/)).toEqual([expect.objectContaining({ upstream: "priv", downstream: "github:dec/app" })]);
  });
});
