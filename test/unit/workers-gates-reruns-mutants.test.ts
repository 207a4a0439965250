/**
 * The gates, re-runs and pull requests in-process against a real Redis: `openGate` and
 * `openGateFromHook` (an upstream check ended: the triggers waiting for it start or are skipped),
 * `processRerun` (a re-run asked from the checks tab, the API or the CLI: new relay run ids) and
 * `processPullHead` (an upstream pull request's head passed its checks: its dependants are tested),
 * with the upstream's forge held in memory (`UpstreamForge` below: what it answers about checks and
 * pull requests, every question kept). Written to kill the mutants of
 * src/workers/{gate,rerun,pull-requests}.ts (`npm run test:mutation -- workers-gates-reruns`,
 * TESTING.md) in milliseconds, where the end-to-end files (e2e/gates, reruns, pull-requests) take
 * seconds a test and see only what reaches the fake GitHub. Nothing here runs the trigger worker:
 * what these functions hand on is read where they leave it (the trigger queue, the gates, the
 * upstream checks, the history, the log lines an operator reads).
 */
import { beforeEach, describe, expect, it } from "@jest/globals";
import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { CheckEvent } from "../../src/events/check-event.js";
import type { RerunEvent } from "../../src/events/rerun-event.js";
import type { PullHeadEvent } from "../../src/events/pull-head-event.js";
import type { SystemKind } from "../../src/forge/kinds.js";
import { Systems, type At, type SystemDriver } from "../../src/forge/registry.js";
import type { CheckConclusion, Reporter, Runner, Source, StatusReport } from "../../src/forge/roles.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap, parseMapFiles } from "../../src/map/load.js";
import type { TriggerJob } from "../../src/queue/job-data.js";
import { checkKey, rerunJobId } from "../../src/queue/job-ids.js";
import type { Queues } from "../../src/queue/queues.js";
import { checkName } from "../../src/report/check-text.js";
import { publishCheck } from "../../src/report/publish.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { openGate, openGateFromHook } from "../../src/workers/gate.js";
import { processPullHead } from "../../src/workers/pull-requests.js";
import { processRerun } from "../../src/workers/rerun.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { capturedLog, DEBUG, INFO, ISO, type LogLine, SHA, triggerData, upstreamRef, useWorkerQueues, WARN, workerDeps, rejection } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

const CI = "{ workflow: ci.yml, ref: main }";
const OTHER_SHA = "fedcba9876543210fedcba9876543210fedcba98";

/**
 * `up` (upco/lib) and its dependants: `down`, `down2`, `down3` on tags; `gated`, `gated2` wait for
 * the upstream check `build`; `boxed` waits for `build` and then for the release's artifacts;
 * `prs` tests pull requests (not forks'), `forky` forks' too, `glp` (on GitLab) pull requests,
 * `gpr` pull requests once `build` passed.
 */
const MAP_TEXT = `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib, artifacts: ["pkg:npm/lib@{version}"] }
${[
    ["down", ""], ["down2", ""], ["down3", ""],
    ["gated", ", after_check: build"], ["gated2", ", after_check: build"], ["boxed", ", after_check: build, after_artifacts: true"],
    ["prs", ", on: [pull_request]"], ["forky", ", on: [pull_request], forks: true"], ["gpr", ", on: [pull_request], after_check: build"],
  ].map(([id, edge]) => `  - { id: ${id}, foundation: f, github: upco/${id}, trigger: ${CI}, depends_on: [{ project: up${edge} }] }`).join("\n")}
  - { id: glp, foundation: f, gitlab: grp/glp, trigger: { ref: main }, depends_on: [{ project: up, on: [pull_request] }] }
`;
const MAP = parseMap(MAP_TEXT);
/** The same map without `down` (a downstream that left the map). */
const WITHOUT_DOWN = parseMap(MAP_TEXT.replace(/\n {2}- \{ id: down, .*\n/, "\n"));
/** An upstream whose dependants test none of its pull requests. */
const TAGS_ONLY = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
  - { id: down, foundation: f, github: upco/down, trigger: ${CI}, depends_on: [{ project: up }] }
`);
/** `priv` is private in the reviewed map; `github:dec/app` declared that it tests priv's pull requests. */
const DECLARED_MAP = parseMapFiles([{ file: "m.yml", text: `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: priv, foundation: f, github: upco/priv, visibility: private }
  - { id: reviewed, foundation: f, github: upco/reviewed, trigger: ${CI}, depends_on: [{ project: priv, on: [pull_request] }] }
` }], "m.yml", {}, [{
  file: "github:dec/app/.github/openci.yml", text: `trigger: ${CI}\ndepends_on: [{ project: priv, on: [pull_request] }]\n`, location: { forge: "github", repo: "dec/app" },
}]).map;

type CheckState = { completed: boolean; conclusion: CheckConclusion | undefined };

/**
 * The upstream's forge, held in memory: what it says of the checks on a commit (all passed, or not;
 * one check's state) and of the open pull requests with a head. Every question is kept, with the
 * place (`at`) the relay asked it of. The relay's writes to it go through the report queue, which no
 * test here runs: they are read from the check store.
 */
class UpstreamForge {
  readonly calls: { op: string; args: unknown[] }[] = [];
  readonly places: At[] = [];
  /** what `checksPassed` answers for any commit */
  checks: "passed" | "pending" | "failed" = "passed";
  /** what `checkState` answers, by check name (absent: no such check) */
  states: Record<string, CheckState> = {};
  /** the open pull requests whose head is the commit asked about */
  pulls: { number: number; fork: boolean }[] = [];

  async checksPassed(repo: string, sha: string): Promise<"passed" | "pending" | "failed"> {
    this.calls.push({ op: "checksPassed", args: [repo, sha] });
    return this.checks;
  }

  async checkState(repo: string, sha: string, name: string, ref?: string): Promise<CheckState | undefined> {
    this.calls.push({ op: "checkState", args: [repo, sha, name, ref] });
    return this.states[name];
  }

  async openPullRequests(repo: string, sha: string): Promise<{ number: number; fork: boolean }[]> {
    this.calls.push({ op: "openPullRequests", args: [repo, sha] });
    return this.pulls;
  }

  asked(op: string): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }
}

let forge: UpstreamForge;
let logs: LogLine[];
let log: Logger;
let map: DependencyMap;
let deps: WorkerDeps;

beforeEach(async () => {
  await redis().flushdb();
  forge = new UpstreamForge();
  ({ log, lines: logs } = capturedLog());
  map = MAP;
  deps = makeDeps();
});

/**
 * GitHub signs its check hooks, GitLab does not (its hooks' word is confirmed through the API);
 * both play every role, the forge's side being `forge`. `withoutRunner` leaves the runner out.
 */
function systems(withoutRunner: SystemKind[] = []): Systems {
  const driver = (kind: "github" | "gitlab"): SystemDriver => {
    const at = <R>(role: R) => (place: At): R => {
      forge.places.push(place);
      return role;
    };
    return {
      source: at(forge as unknown as Source), reporter: at(forge as unknown as Reporter),
      ...(withoutRunner.includes(kind) ? {} : { runner: at(forge as unknown as Runner) }),
      pollsRuns: kind === "gitlab", signsCheckHooks: kind === "github",
    };
  };
  return new Systems({ github: driver("github"), gitlab: driver("gitlab") }, () => map);
}

/** What the relay wires for its workers (src/relay.ts), on this file's Redis. */
function makeDeps(o: { systems?: Systems; queues?: Queues } = {}): WorkerDeps {
  return workerDeps({ redis: redis(), queues: o.queues ?? queues(), map: () => map, log, systems: o.systems ?? systems(), visibilityOf: () => "public" });
}

/** Every history record of a kind, oldest first. */
async function history<K extends HistoryRecord["kind"]>(kind: K): Promise<Extract<HistoryRecord, { kind: K }>[]> {
  const store = new HistoryStore(redis());
  return (await store.records(await store.recent(kind, 100))).map((r) => r.record).reverse() as Extract<HistoryRecord, { kind: K }>[];
}

/** The upstream check of a downstream, as recorded for the report worker. */
async function checkOf(downstreamId: string, upstream = upstreamRef()): Promise<StatusReport | undefined> {
  return (await deps.checks.get(checkKey({ upstream, sha: upstream.sha, name: checkName(downstreamId) })))?.report;
}

/** The trigger queue's jobs of one name (trigger, artifacts, …): their id and data. */
async function queued(name = "trigger"): Promise<{ id: string | undefined; data: TriggerJob }[]> {
  return (await queues().trigger.getJobs(["waiting", "delayed", "prioritized"]))
    .filter((j) => j.name === name).map((j) => ({ id: j.id, data: j.data as TriggerJob }));
}

const logged = (msg: string | RegExp) => logs.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));

describe("openGate: an upstream check ended, the triggers waiting for it start or are skipped", () => {
  const UPCO = { forge: "github", repo: "upco/lib" } as const;
  const build = (conclusion: CheckConclusion) => ({ ...UPCO, sha: SHA, name: "build", conclusion });
  /** `ids` wait for `build` on the upstream commit, as enqueueTriggers left them. */
  async function waitFor(...ids: string[]): Promise<TriggerJob[]> {
    const waiting = ids.map((id) => triggerData(id));
    for (const t of waiting) await deps.gates.wait(UPCO, SHA, "build", t);
    return waiting;
  }
  const stillWaiting = async () => (await deps.gates.peek(UPCO, SHA, "build")).map((t) => t.downstreamId).sort();
  const gateRecords = async () => (await history("gate")).map((r) => [r.downstream, r.check, r.decision, r.conclusion]).sort();

  it("hands each trigger waiting for a passing check out once, as a trigger job under its run id, and records the gate passed", async () => {
    const waiting = await waitFor("gated", "gated2");

    const result = await openGate(deps, build("success"), log);
    const again = await openGate(deps, build("success"), log);

    expect(result).toEqual({ released: 2, skipped: 0 });
    expect(again).toEqual({ released: 0, skipped: 0 });
    const jobs = await queued();
    expect(jobs.map((j) => j.id).sort()).toEqual(waiting.map((t) => t.runId).sort());
    expect(jobs.map((j) => j.data).sort((a, b) => a.downstreamId.localeCompare(b.downstreamId))).toEqual(waiting);
    expect(await stillWaiting()).toEqual([]);
    expect(await gateRecords()).toEqual([["gated", "build", "passed", "success"], ["gated2", "build", "passed", "success"]]);
    expect(logged("gate passed: triggers enqueued")).toEqual([expect.objectContaining({ level: INFO, repo: "upco/lib", sha: SHA, gate: "build" })]);
    expect((logged("gate passed: triggers enqueued")[0]!.downstreams as string[]).sort()).toEqual(["gated", "gated2"]);
    expect(logged(/^gate failed/)).toEqual([]);
  });

  it("sends a dependant whose edge also says after_artifacts on to its artifact gate, not to the forge", async () => {
    const [boxed] = await waitFor("boxed");

    const result = await openGate(deps, build("success"), log);

    expect(result).toEqual({ released: 1, skipped: 0 });
    expect(await queued("trigger")).toEqual([]);
    expect((await queued("artifacts")).map((j) => (j.data as unknown as { trigger: TriggerJob; artifacts: string[] }))).toEqual([
      expect.objectContaining({ trigger: boxed, artifacts: ["pkg:npm/lib@1.0.0"] }),
    ]);
  });

  it.each<[CheckConclusion, string]>([["failure", "failed"], ["cancelled", "cancelled"], ["timed_out", "timed out"]])(
    "skips each trigger waiting for a check that ended %s, saying why on its upstream check, and triggers nothing",
    async (conclusion, said) => {
      const waiting = await waitFor("gated", "gated2");

      const result = await openGate(deps, build(conclusion), log);

      expect(result).toEqual({ released: 0, skipped: 2 });
      expect(await queued()).toEqual([]);
      expect(await stillWaiting()).toEqual([]);
      for (const t of waiting) {
        const check = await checkOf(t.downstreamId);
        expect(check).toMatchObject({ status: "completed", conclusion: "skipped", title: `Skipped: ${t.downstreamId} (build ${said})`, externalId: t.runId });
        expect(check?.summary).toContain(`Not triggered: the upstream check \`build\` ended **${conclusion}** on this commit`);
        expect(check?.summary).toContain("**upco/" + t.downstreamId + "**");
      }
      expect(await gateRecords()).toEqual([["gated", "build", "failed", conclusion], ["gated2", "build", "failed", conclusion]]);
      expect(logged("gate failed: dependants skipped")).toEqual([expect.objectContaining({ level: INFO, repo: "upco/lib", sha: SHA, gate: "build", conclusion })]);
      expect(logged(/^gate passed/)).toEqual([]);
    },
  );

  it("skips, naming only the tag, a waiting dependant that left the map since", async () => {
    const [t] = await waitFor("down");
    map = WITHOUT_DOWN;

    const result = await openGate(deps, build("failure"), log);

    expect(result).toEqual({ released: 0, skipped: 1 });
    expect(await checkOf("down")).toMatchObject({ status: "completed", conclusion: "skipped", title: "Skipped: down (build failed)", externalId: t!.runId });
    expect((await checkOf("down"))?.summary).not.toContain("**upco/down**");
  });

  it("records, queues and says nothing where nothing waits for the check", async () => {
    const result = await openGate(deps, build("success"), log);
    const failed = await openGate(deps, build("failure"), log);

    expect(result).toEqual({ released: 0, skipped: 0 });
    expect(failed).toEqual({ released: 0, skipped: 0 });
    expect(await queued()).toEqual([]);
    expect(await history("gate")).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("puts every trigger back to wait when handing them out fails, and fails the job; its retry hands them out, the gate recorded once", async () => {
    // The trigger queue refuses the first write (Redis failing over, say): a fault planted in the queue, not in the gate.
    const outage = new Error("READONLY You can't write against a read only replica.");
    let refusals = 1;
    const failingQueue = new Proxy(queues().trigger, {
      get(target, prop, receiver) {
        if (prop === "addBulk") {
          return async (...args: Parameters<Queue["addBulk"]>) => {
            if (refusals-- > 0) throw outage;
            return target.addBulk(...(args as Parameters<typeof target.addBulk>));
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    deps = makeDeps({ queues: { ...queues(), trigger: failingQueue } });
    const waiting = await waitFor("gated", "gated2");

    const error = await rejection(openGate(deps, build("success"), log));

    expect(error).toBe(outage);
    expect(await stillWaiting()).toEqual(["gated", "gated2"]);
    expect(await queued()).toEqual([]);
    expect(logged(/^gate passed/)).toEqual([]);

    expect(await openGate(deps, build("success"), log)).toEqual({ released: 2, skipped: 0 });
    expect((await queued()).map((j) => j.id).sort()).toEqual(waiting.map((t) => t.runId).sort());
    expect(await gateRecords()).toEqual([["gated", "build", "passed", "success"], ["gated2", "build", "passed", "success"]]);
  });
});

describe("openGateFromHook: a hook says an upstream check ended", () => {
  const hook = (o: Partial<CheckEvent> = {}): CheckEvent => ({
    forge: "gitlab", repo: "grp/lib", sha: SHA, name: "build", conclusion: "success", ref: "v1.0.0", deliveryId: "d-9", ...o,
  });
  const GRP = { forge: "gitlab", repo: "grp/lib" } as const;
  const gitlabTrigger = (id: string) => triggerData(id, { upstream: upstreamRef({ forge: "gitlab", repo: "grp/lib" }) });

  it("takes GitHub's signed hook on its word: the API is not asked", async () => {
    const t = triggerData("gated");
    await deps.gates.wait({ forge: "github", repo: "upco/lib" }, SHA, "build", t);
    forge.states.build = { completed: false, conclusion: undefined };

    const result = await openGateFromHook(deps, hook({ forge: "github", repo: "upco/lib" }), log);

    expect(result).toEqual({ released: 1, skipped: 0 });
    expect(forge.asked("checkState")).toEqual([]);
    expect((await queued()).map((j) => j.data)).toEqual([t]);
  });

  it.each<[string, CheckState | undefined]>([
    ["still running", { completed: false, conclusion: undefined }],
    ["ended without a conclusion", { completed: true, conclusion: undefined }],
    ["unknown", undefined],
  ])("ignores an unsigned hook while the API says the check is %s, and says so: the triggers keep waiting", async (_what, state) => {
    const t = gitlabTrigger("gated");
    await deps.gates.wait(GRP, SHA, "build", t);
    if (state) forge.states.build = state;

    const result = await openGateFromHook(deps, hook(), log);

    expect(result).toEqual({ released: 0, skipped: 0 });
    expect(forge.asked("checkState")).toEqual([["grp/lib", SHA, "build", "v1.0.0"]]);
    expect((await deps.gates.peek(GRP, SHA, "build")).map((w) => w.runId)).toEqual([t.runId]);
    expect(await queued()).toEqual([]);
    expect(await history("gate")).toEqual([]);
    expect(logged("gitlab says the check has not ended: hook ignored")).toEqual([
      expect.objectContaining({ level: WARN, repo: "grp/lib", sha: SHA, gate: "build", said: "success", api: state ?? null }),
    ]);
  });

  it("takes the API's word over an unsigned hook's, and says they differ", async () => {
    const t = gitlabTrigger("gated");
    await deps.gates.wait(GRP, SHA, "build", t);
    forge.states.build = { completed: true, conclusion: "failure" };

    const result = await openGateFromHook(deps, hook({ conclusion: "success" }), log);

    expect(result).toEqual({ released: 0, skipped: 1 });
    expect(await queued()).toEqual([]);
    expect(await checkOf("gated", t.upstream)).toMatchObject({ status: "completed", conclusion: "skipped", title: "Skipped: gated (build failed)" });
    expect((await history("gate")).map((r) => [r.decision, r.conclusion])).toEqual([["failed", "failure"]]);
    expect(logged("the hook's result is not what gitlab's API says: the API's is taken")).toEqual([
      expect.objectContaining({ level: WARN, repo: "grp/lib", gate: "build", said: "success", api: "failure" }),
    ]);
  });

  it("opens the gate on an unsigned hook the API confirms, keeping the instance's host, and says nothing of a difference", async () => {
    const place = { forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib" } as const;
    const t = triggerData("gated", { upstream: upstreamRef({ forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib" }) });
    await deps.gates.wait(place, SHA, "build", t);
    forge.states.build = { completed: true, conclusion: "success" };

    const result = await openGateFromHook(deps, hook({ host: "gitlab.example.org" }), log);

    expect(result).toEqual({ released: 1, skipped: 0 });
    expect((await queued()).map((j) => j.data)).toEqual([t]);
    expect(forge.places).toEqual([expect.objectContaining({ forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib" })]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
  });
});

describe("processRerun: downstreams run again, as new runs", () => {
  const rerunEvent = (scope: RerunEvent["scope"], o: Partial<RerunEvent> = {}): RerunEvent => ({
    forge: "github", repo: "upco/lib", sha: SHA, scope, installationId: 7, deliveryId: "d-2", ...o,
  });
  const one = (runId: string, o: Partial<RerunEvent> = {}) => rerunEvent({ kind: "one", relayRunId: runId }, o);
  /** What processTrigger saves once the forge started the run: run 55. */
  async function triggered(t: TriggerJob): Promise<void> {
    await deps.records.save({ trigger: t, forge: "github", downstreamRepo: `upco/${t.downstreamId}`, result: { kind: "workflow_dispatch", runId: "55", webUrl: "https://forge.example/runs/55" }, triggeredAt: ISO });
  }
  /** A downstream's upstream check, completed with `conclusion`. */
  async function finished(t: TriggerJob, conclusion: CheckConclusion): Promise<void> {
    await publishCheck(deps, t, { name: t.checkName, status: "completed", conclusion, title: conclusion, summary: conclusion, detailsUrl: undefined, externalId: t.runId });
  }
  const REQUESTED = "re-run requested";
  const IGNORED = "re-run asked for a trigger this commit does not have: ignored";

  it("queues the triggered downstream again under a new run id and attempt, retrying the forge's run, and shows it queued", async () => {
    const t = triggerData("down", { receivedAt: ISO });
    await triggered(t);
    const before = Date.now();

    const result = await processRerun(one(t.runId), deps, log);

    const id = rerunJobId(t.runId, "d-2");
    expect(id).not.toBe(t.runId);
    expect(result).toEqual({ rerun: ["down"] });
    const jobs = await queued();
    expect(jobs.map((j) => j.id)).toEqual([id]);
    const { enqueuedAt, ...rest } = jobs[0]!.data;
    expect(rest).toEqual({ ...t, enqueuedAt: undefined, runId: id, attempt: 1, deliveryId: "d-2", retryOf: "55", rerunOf: t.runId });
    expect(Date.parse(enqueuedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(enqueuedAt)).toBeLessThanOrEqual(Date.now());
    expect(await checkOf("down")).toMatchObject({ status: "queued", title: "Queued: down", externalId: id });
    expect(logged(REQUESTED)).toEqual([expect.objectContaining({ level: INFO, repo: "upco/lib", sha: SHA, scope: "one", downstreams: ["down"] })]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
  });

  it("counts the attempt on from the run it re-runs", async () => {
    const t = triggerData("down", { attempt: 2 });
    await triggered(t);

    await processRerun(one(t.runId), deps, log);

    expect((await queued()).map((j) => j.data.attempt)).toEqual([3]);
  });

  it("re-runs a trigger still in the queue (no record yet) from its job, with no run to retry", async () => {
    const t = triggerData("down");
    await queues().trigger.add("trigger", t, { jobId: t.runId });

    const result = await processRerun(one(t.runId), deps, log);

    expect(result).toEqual({ rerun: ["down"] });
    const rerun = (await queued()).find((j) => j.id === rerunJobId(t.runId, "d-2"));
    expect(rerun?.data).toMatchObject({ downstreamId: "down", attempt: 1, rerunOf: t.runId });
    expect(rerun?.data).not.toHaveProperty("retryOf", expect.anything());
  });

  it("takes the repository's name in any case", async () => {
    const t = triggerData("down");
    await triggered(t);

    expect(await processRerun(one(t.runId, { repo: "UpCo/Lib" }), deps, log)).toEqual({ rerun: ["down"] });
  });

  it.each([
    ["a trigger the relay has no trace of", async () => triggerData("down")],
    ["a trigger of another repository", async () => {
      const t = triggerData("down", { upstream: upstreamRef({ repo: "upco/other" }) });
      await triggered(t);
      return t;
    }],
    ["a trigger of another commit", async () => {
      const t = triggerData("down", { upstream: upstreamRef({ sha: OTHER_SHA }) });
      await triggered(t);
      return t;
    }],
  ])("ignores, and says so, a re-run naming %s", async (_what, make) => {
    const t = await make();

    const result = await processRerun(one(t.runId), deps, log);

    expect(result).toEqual({ rerun: [] });
    expect(await queued()).toEqual([]);
    expect(await checkOf("down")).toBeUndefined();
    expect(logged(IGNORED)).toEqual([expect.objectContaining({ level: WARN, runId: t.runId })]);
    expect(logged(REQUESTED)).toEqual([expect.objectContaining({ downstreams: [] })]);
  });

  it("re-runs every failed downstream of the commit, leaving out one gone from the map since", async () => {
    const [down, down2, down3] = [triggerData("down"), triggerData("down2"), triggerData("down3")];
    for (const t of [down, down2, down3]) await triggered(t);
    await finished(down, "failure");
    await finished(down2, "timed_out");
    await finished(down3, "success");
    map = WITHOUT_DOWN;

    const result = await processRerun(rerunEvent({ kind: "failed" }), deps, log);

    expect(result).toEqual({ rerun: ["down2"] });
    expect((await queued()).map((j) => [j.data.downstreamId, j.data.rerunOf])).toEqual([["down2", down2.runId]]);
    expect(await checkOf("down")).toMatchObject({ status: "completed", externalId: down.runId });
    expect(logged(IGNORED)).toEqual([]);
    expect(logged(REQUESTED)).toEqual([expect.objectContaining({ scope: "failed", downstreams: ["down2"] })]);
  });

  it("says why there is nothing to re-run, and re-runs nothing", async () => {
    const result = await processRerun(rerunEvent({ kind: "downstream", downstreamId: "down" }), deps, log);

    expect(result).toEqual({ rerun: [] });
    expect(await queued()).toEqual([]);
    expect(logged("nothing to re-run")).toEqual([
      expect.objectContaining({ level: WARN, repo: "upco/lib", sha: SHA, reason: `'down' was not triggered for upco/lib@${SHA}` }),
    ]);
  });

  it("re-runs a finished downstream named by id, and warns of nothing", async () => {
    const t = triggerData("down");
    await triggered(t);
    await finished(t, "failure");

    const result = await processRerun(rerunEvent({ kind: "downstream", downstreamId: "down" }), deps, log);

    expect(result).toEqual({ rerun: ["down"] });
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
  });
});

describe("processPullHead: an upstream pull request's head passed its checks", () => {
  const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
  const pullHead = (o: Partial<PullHeadEvent> = {}): PullHeadEvent => ({ forge: "github", repo: "upco/lib", sha: HEAD, installationId: 7, deliveryId: "d-5", ...o });
  const ENQUEUED = "pull request triggers enqueued";
  const jobsByTag = async () => (await queued()).map((j) => `${j.data.upstream.tag} ${j.data.downstreamId}`).sort();
  const releases = async () => (await history("release")).map((r) => [r.project, r.forge, r.repo, r.tag, r.sha, r.source]);

  it("tests each open pull request with that head in the dependants whose edge says so; a fork's only where the edge takes forks", async () => {
    forge.pulls = [{ number: 2, fork: false }, { number: 3, fork: true }];

    const result = await processPullHead(pullHead(), deps, log);

    expect(result.triggered.slice(0, 4).sort()).toEqual(["forky", "glp", "gpr", "prs"]);
    expect(result.triggered.slice(4)).toEqual(["forky"]);
    expect(await jobsByTag()).toEqual(["pull/2 forky", "pull/2 glp", "pull/2 prs", "pull/3 forky"]);
    const first = (await queued()).find((j) => j.data.downstreamId === "prs")!.data;
    expect(first.upstream).toEqual({ projectId: "up", forge: "github", repo: "upco/lib", installationId: 7, tag: "pull/2", sha: HEAD });
    expect(first.deliveryId).toBe("d-5");
    expect((await deps.gates.peek({ forge: "github", repo: "upco/lib" }, HEAD, "build")).map((t) => [t.downstreamId, t.upstream.tag])).toEqual([["gpr", "pull/2"]]);
    expect(await checkOf("prs", upstreamRef({ tag: "pull/2", sha: HEAD }))).toMatchObject({ status: "queued" });
    expect(await releases()).toEqual([["up", "github", "upco/lib", "pull/2", HEAD, "pull_request"], ["up", "github", "upco/lib", "pull/3", HEAD, "pull_request"]]);
    expect(forge.asked("checksPassed")).toEqual([["upco/lib", HEAD]]);
    expect(forge.asked("openPullRequests")).toEqual([["upco/lib", HEAD]]);
    expect(forge.places.slice(0, 2)).toEqual([
      expect.objectContaining({ forge: "github", repo: "upco/lib", installationId: 7 }),
      expect.objectContaining({ forge: "github", repo: "upco/lib", installationId: 7 }),
    ]);
    const said = logged(ENQUEUED);
    expect(said).toEqual([
      expect.objectContaining({ level: INFO, repo: "upco/lib", pull: 2, fork: false, gated: ["gpr"] }),
      expect.objectContaining({ level: INFO, repo: "upco/lib", pull: 3, fork: true, downstreams: ["forky"], gated: [] }),
    ]);
    expect((said[0]!.downstreams as string[]).sort()).toEqual(["forky", "glp", "prs"]);
  });

  it("triggers nothing, and records no release, for a fork's pull request where no edge takes forks", async () => {
    map = parseMap(MAP_TEXT.replace(", forks: true", ""));
    forge.pulls = [{ number: 3, fork: true }];

    const result = await processPullHead(pullHead(), deps, log);

    expect(result).toEqual({ triggered: [] });
    expect(await queued()).toEqual([]);
    expect(await history("release")).toEqual([]);
    expect(logged(ENQUEUED)).toEqual([]);
  });

  it("asks the forge nothing for an upstream none of whose dependants tests pull requests, or a repository the map does not list", async () => {
    map = TAGS_ONLY;

    const tagsOnly = await processPullHead(pullHead(), deps, log);
    const unlisted = await processPullHead(pullHead({ repo: "someone/else" }), deps, log);

    expect(tagsOnly).toEqual({ triggered: [] });
    expect(unlisted).toEqual({ triggered: [] });
    expect(forge.calls).toEqual([]);
    expect(await queued()).toEqual([]);
  });

  it.each(["pending", "failed"] as const)("waits, listing no pull request, while the head's other checks are %s", async (checks) => {
    forge.checks = checks;
    forge.pulls = [{ number: 2, fork: false }];

    const result = await processPullHead(pullHead(), deps, log);

    expect(result).toEqual({ triggered: [] });
    expect(forge.asked("openPullRequests")).toEqual([]);
    expect(await queued()).toEqual([]);
    expect(logged("pull request head not ready: waiting for its other checks")).toEqual([
      expect.objectContaining({ level: DEBUG, repo: "upco/lib", sha: HEAD, checks }),
    ]);
  });

  it("triggers nothing where no open pull request has that head", async () => {
    const result = await processPullHead(pullHead(), deps, log);

    expect(result).toEqual({ triggered: [] });
    expect(forge.asked("openPullRequests")).toEqual([["upco/lib", HEAD]]);
    expect(await history("release")).toEqual([]);
  });

  it("leaves out a dependant on a system where nothing runs pipelines for the relay", async () => {
    deps = makeDeps({ systems: systems(["gitlab"]) });
    forge.pulls = [{ number: 2, fork: false }];

    const result = await processPullHead(pullHead(), deps, log);

    expect([...result.triggered].sort()).toEqual(["forky", "gpr", "prs"]);
    expect(await jobsByTag()).toEqual(["pull/2 forky", "pull/2 prs"]);
  });

  it("gives a private upstream's pull requests only to the dependants of the reviewed map", async () => {
    map = DECLARED_MAP;
    deps = makeDeps();
    expect(map.edge("priv", "github:dec/app")?.declared).toBe(true);
    forge.pulls = [{ number: 4, fork: false }];

    const result = await processPullHead(pullHead({ repo: "upco/priv" }), deps, log);

    expect(result).toEqual({ triggered: ["reviewed"] });
    expect(await jobsByTag()).toEqual(["pull/4 reviewed"]);
  });

  it("asks nothing of the forge where the only dependants that test pull requests run nowhere", async () => {
    map = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
  - { id: glp, foundation: f, gitlab: grp/glp, trigger: { ref: main }, depends_on: [{ project: up, on: [pull_request] }] }
`);
    deps = makeDeps({ systems: systems(["gitlab"]) });
    forge.pulls = [{ number: 2, fork: false }];

    expect(await processPullHead(pullHead(), deps, log)).toEqual({ triggered: [] });
    expect(forge.calls).toEqual([]);
  });
});
