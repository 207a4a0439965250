/**
 * The results path in-process against a real Redis: `processRun` (a downstream run's state → its
 * upstream check, the history, a cascade), `cascadeFrom`, `processPoll`, `processTimeout` and
 * `processReport` (the pushes to the upstream forge), with the forge held in memory
 * (test/helpers/memory-forge.ts). Written to kill the mutants of
 * src/workers/{run-result,cascade,timeout,poll,report}.ts that the end-to-end files leave alive
 * (`npm run test:mutation -- workers-results`, TESTING.md), as workers-trigger-mutants does for the
 * trigger path. The report worker's "sync" case (one check's push) is driven only through
 * `processReport` and asserted by what reaches the forge, so a rework of its lock and reads keeps it.
 */
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { Systems, type SystemDriver } from "../../src/forge/registry.js";
import type { RunStatus, TriggerResult } from "../../src/forge/roles.js";
import type { SystemKind } from "../../src/forge/kinds.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap, parseMapFiles } from "../../src/map/load.js";
import type { RunEvent, TriggerJob } from "../../src/queue/job-data.js";
import { checkKey } from "../../src/queue/job-ids.js";
import { KEY_PREFIX } from "../../src/queue/names.js";
import { targetOf } from "../../src/report/check-store.js";
import { CommitViews } from "../../src/report/commit-views.js";
import { checkName, queuedReport, runReport } from "../../src/report/check-text.js";
import { publishCheck } from "../../src/report/publish.js";
import type { Visibility } from "../../src/trust/visibility-store.js";
import { cascadeFrom } from "../../src/workers/cascade.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { processPoll } from "../../src/workers/poll.js";
import { processReport } from "../../src/workers/report.js";
import { processRun } from "../../src/workers/run-result.js";
import { processTimeout } from "../../src/workers/timeout.js";
import { httpError, MemoryForge } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { capturedLog, DEBUG, ERROR, INFO, ISO, type LogLine, SHA, triggerData, upstreamRef, useWorkerQueues, WARN, workerDeps, rejection } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

const JENKINS = "{ jenkins: { url: https://j.example.org, job: a, user_env: JU, token_env: JT } }";
const CI = "{ workflow: ci.yml, ref: main }";

/**
 * `up` (upco/lib) tags; `mid` depends on it, and `tail`, `tail2` and `jk2` (whose pipelines run on
 * Jenkins) cascade from `mid`, `flat` does not. `gl` lives on another GitLab instance, `jk` runs on
 * Jenkins, `ext` belongs to another owner (shown only while public), `lone` has no dependants.
 */
const MAP_TEXT = `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
  - { id: mid, foundation: f, github: upco/mid, trigger: ${CI}, depends_on: [{ project: up }] }
  - { id: tail, foundation: f, github: upco/tail, trigger: ${CI}, depends_on: [{ project: mid, cascade: true }] }
  - { id: flat, foundation: f, github: upco/flat, trigger: ${CI}, depends_on: [{ project: mid }] }
  - { id: tail2, foundation: f, github: upco/tail2, trigger: ${CI}, depends_on: [{ project: mid, cascade: true }] }
  - { id: jk2, foundation: f, github: upco/jk2, trigger: ${JENKINS.replace("job: a", "job: b").replace("JT", "JT2")}, depends_on: [{ project: mid, cascade: true }] }
  - { id: jk, foundation: f, github: upco/jk, trigger: ${JENKINS}, depends_on: [{ project: up }] }
  - { id: gl, foundation: f, gitlab: { host: gitlab.example.org, project: grp/gl }, trigger: { ref: main }, depends_on: [{ project: up }] }
  - { id: ext, foundation: f, github: other/ext, trigger: ${CI}, depends_on: [{ project: up }] }
  - { id: lone, foundation: f, github: upco/lone, trigger: ${CI}, depends_on: [{ project: up }] }
`;
const MAP = parseMap(MAP_TEXT);

/** `priv` is private in the reviewed map; `github:dec/app` declared that it cascades from `rev`, which depends on `priv`. */
const DECLARED_MAP = parseMapFiles([{ file: "m.yml", text: `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: priv, foundation: f, github: upco/priv, visibility: private }
  - { id: rev, foundation: f, github: upco/rev, trigger: ${CI}, depends_on: [{ project: priv }] }
` }], "m.yml", {}, [{
  file: "github:dec/app/.github/openci.yml", text: `trigger: ${CI}\ndepends_on: [{ project: rev, cascade: true }]\n`, location: { forge: "github", repo: "dec/app" },
}]).map;

let forge: MemoryForge;
let logs: LogLine[];
let log: Logger;
let map: DependencyMap;
let visibilities: Record<string, Visibility>;
let deps: WorkerDeps;

beforeEach(async () => {
  await redis().flushdb();
  forge = new MemoryForge();
  ({ log, lines: logs } = capturedLog());
  map = MAP;
  visibilities = {};
  deps = makeDeps();
});

/** The forge's side of each system: GitHub and GitLab play every role (GitLab's runs are polled), Jenkins runs pipelines; `without` leaves roles out. */
function systems(without: Partial<Record<"github" | "gitlab" | "jenkins", (keyof SystemDriver)[]>> = {}): Systems {
  const driver = (kind: "github" | "gitlab" | "jenkins", pollsRuns: boolean): SystemDriver => {
    const all: SystemDriver = kind === "jenkins"
      ? { runner: () => forge, pollsRuns, signsCheckHooks: false }
      : { source: () => forge, runner: () => forge, reporter: () => forge, pollsRuns, signsCheckHooks: kind === "github" };
    for (const role of without[kind] ?? []) delete (all as unknown as Record<string, unknown>)[role];
    return all;
  };
  return new Systems({ github: driver("github", false), gitlab: driver("gitlab", true), jenkins: driver("jenkins", false) }, () => map);
}

/** What the relay wires for its workers (src/roles/worker-role.ts), on this file's Redis; the forge is `forge`, a project's visibility on it `visibilities` (default public). */
function makeDeps(o: { systems?: Systems; limits?: WorkerDeps["limits"] | "none" } = {}): WorkerDeps {
  return workerDeps({ redis: redis(), queues: queues(), map: () => map, log, systems: o.systems ?? systems(), visibilityOf: (id) => visibilities[id] ?? "public", ...(o.limits ? { limits: o.limits } : {}) });
}


/** What processTrigger saves once the forge started the run. */
async function triggered(data: TriggerJob, forgeKind: SystemKind, downstreamRepo: string, result: TriggerResult): Promise<void> {
  await deps.records.save({ trigger: data, forge: forgeKind, downstreamRepo, result, triggeredAt: new Date().toISOString() });
}

const runState = (state: RunStatus["state"], conclusion?: RunStatus["conclusion"]): RunStatus => ({
  state, conclusion, webUrl: "https://gitlab.example.org/grp/gl/-/pipelines/1", startedAt: ISO, updatedAt: ISO,
});

/** Every history record of a kind, oldest first. */
async function history(kind: HistoryRecord["kind"]): Promise<HistoryRecord[]> {
  const store = new HistoryStore(redis());
  return (await store.records(await store.recent(kind, 100))).map((r) => r.record).reverse();
}
const runRecords = async () => (await history("run")) as Extract<HistoryRecord, { kind: "run" }>[];

/** The upstream check of a downstream, as recorded for the report worker. */
async function checkOf(downstreamId: string, upstream = upstreamRef()) {
  return (await deps.checks.get(checkKey({ upstream, sha: upstream.sha, name: checkName(downstreamId) })))?.report;
}

/** The trigger queue's jobs of one name (trigger, timeout, poll), with their data. */
async function queued<D = TriggerJob>(name: string): Promise<D[]> {
  return (await queues().trigger.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.name === name).map((j) => j.data as D);
}
const cascadedTo = async () => (await queued("trigger")).map((t) => t.downstreamId).sort();

const logged = (msg: string | RegExp) => logs.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));

describe("cascadeFrom: a downstream's passing run triggers its own dependants whose edge cascades", () => {
  /** `mid`'s trigger, as a cascade's first step (or later, with `chain`). */
  const fromMid = (o: Partial<TriggerJob> = {}) => triggerData("mid", o);
  const CAP_REACHED = "cascade stops: the chain reached OPENCI_MAX_TRIGGERS_PER_CHAIN";
  const ENQUEUED = "cascade: triggers enqueued";
  /** Where the chain "chain-1" keeps the downstream projects it triggered. */
  const CHAIN_KEY = "{openci}:chain-downstreams:chain-1";

  it("returns the dependants it queued: every cascading one, none of the others", async () => {
    const result = await cascadeFrom(fromMid(), deps, log);

    expect(result).toEqual(["tail", "tail2", "jk2"]);
    expect(await cascadedTo()).toEqual(["jk2", "tail", "tail2"]);
  });

  it("returns nothing, queues nothing and says nothing was enqueued, where no dependant cascades", async () => {
    const result = await cascadeFrom(triggerData("lone"), deps, log);

    expect(result).toEqual([]);
    expect(await cascadedTo()).toEqual([]);
    expect(logged(ENQUEUED)).toEqual([]);
  });

  it("returns nothing for a pull request's head", async () => {
    const result = await cascadeFrom(fromMid({ upstream: upstreamRef({ tag: "pull/3" }) }), deps, log);

    expect(result).toEqual([]);
    expect(await cascadedTo()).toEqual([]);
  });

  it("leaves out, and says so, a dependant on a system where nothing runs pipelines for the relay", async () => {
    deps = makeDeps({ systems: systems({ jenkins: ["runner"] }) });

    const result = await cascadeFrom(fromMid(), deps, log);

    expect(result).toEqual(["tail", "tail2"]);
    expect(await cascadedTo()).toEqual(["tail", "tail2"]);
    expect(logged("nothing runs pipelines on this system for the relay: not cascaded")).toEqual([
      expect.objectContaining({ level: WARN, chain: fromMid().runId, downstream: "jk2", system: "jenkins" }),
    ]);
  });

  it("stops, and says so, at a project already in the chain (a job queued before the map changed)", async () => {
    const path = ["up", "tail", "mid"];

    await cascadeFrom(fromMid({ chain: { id: "chain-1", path } }), deps, log);

    expect(await cascadedTo()).toEqual(["jk2", "tail2"]);
    expect(logged("cascade stops: the project is already in this chain")).toEqual([
      expect.objectContaining({ level: INFO, chain: "chain-1", path, downstream: "tail" }),
    ]);
  });

  it("stops, and says so, at the hop limit (a chain queued under a higher limit)", async () => {
    const path = ["up", "a", "b", "c", "d", "mid"];
    expect(path.length).toBeGreaterThan(map.cascadeHopLimit);

    const result = await cascadeFrom(fromMid({ chain: { id: "chain-1", path } }), deps, log);

    expect(result).toEqual([]);
    expect(await cascadedTo()).toEqual([]);
    expect(logged("cascade stops at the hop limit").map((l) => l.downstream)).toEqual(["tail", "tail2", "jk2"]);
    expect(logged("cascade stops at the hop limit")[0]).toEqual(expect.objectContaining({ level: WARN, chain: "chain-1", path, limit: map.cascadeHopLimit }));
  });

  it("does not cascade from a private upstream's chain to a self-declared dependant, and says so", async () => {
    map = DECLARED_MAP;
    deps = makeDeps();
    const data = triggerData("rev", { upstream: upstreamRef({ projectId: "priv", repo: "upco/priv" }) });
    expect(map.edge("rev", "github:dec/app")).toMatchObject({ declared: true, cascade: true });

    const result = await cascadeFrom(data, deps, log);

    expect(result).toEqual([]);
    expect(await cascadedTo()).toEqual([]);
    expect(logged("a private project cascades only along edges of the reviewed map: self-declared dependant not triggered")).toEqual([
      expect.objectContaining({ level: INFO, chain: data.runId, downstream: "github:dec/app" }),
    ]);
  });

  it("cascades without a cap when none is set", async () => {
    deps = makeDeps({ limits: "none" });

    expect(await cascadeFrom(fromMid(), deps, log)).toEqual(["tail", "tail2", "jk2"]);
  });

  it("queues the first dependants up to OPENCI_MAX_TRIGGERS_PER_CHAIN and says which it left out", async () => {
    deps = makeDeps({ limits: { perEvent: 100, perChain: 1 } });

    const result = await cascadeFrom(fromMid(), deps, log);

    expect(result).toEqual(["tail"]);
    expect(await cascadedTo()).toEqual(["tail"]);
    expect(logged(CAP_REACHED)).toEqual([expect.objectContaining({ level: ERROR, chain: fromMid().runId, cap: 1, left_out: ["tail2", "jk2"] })]);
  });

  it("queues them all, and says nothing of the cap, when they fill it exactly", async () => {
    deps = makeDeps({ limits: { perEvent: 100, perChain: 3 } });

    expect(await cascadeFrom(fromMid(), deps, log)).toEqual(["tail", "tail2", "jk2"]);
    expect(logs.filter((l) => l.level >= ERROR)).toEqual([]);
  });

  it("counts the chain's triggered projects for a week, across steps and worker processes, under its stored key", async () => {
    deps = makeDeps({ limits: { perEvent: 100, perChain: 5 } });

    await cascadeFrom(fromMid({ chain: { id: "chain-1", path: ["up", "mid"] } }), deps, log);

    expect((await redis().smembers(CHAIN_KEY)).sort()).toEqual(["jk2", "tail", "tail2"]);
    const ttl = await redis().ttl(CHAIN_KEY);
    expect(ttl).toBeGreaterThan(7 * 24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it("queues nothing once the chain's count (kept by another worker) is at the cap: says so, and not that it enqueued", async () => {
    deps = makeDeps({ limits: { perEvent: 100, perChain: 4 } });
    await redis().sadd(CHAIN_KEY, "p1", "p2", "p3", "p4");

    const result = await cascadeFrom(fromMid({ chain: { id: "chain-1", path: ["up", "mid"] } }), deps, log);

    expect(result).toEqual([]);
    expect(await cascadedTo()).toEqual([]);
    expect(logged(CAP_REACHED)).toEqual([expect.objectContaining({ left_out: ["tail", "tail2", "jk2"] })]);
    expect(logged(ENQUEUED)).toEqual([]);
    expect(await redis().scard(CHAIN_KEY)).toBe(4);
  });

  it("at the cap, still queues a dependant the chain already counted (a step retried after a crash between counting and queueing), and leaves out only the new ones", async () => {
    deps = makeDeps({ limits: { perEvent: 100, perChain: 4 } });
    await redis().sadd(CHAIN_KEY, "p1", "p2", "p3", "tail2");

    const result = await cascadeFrom(fromMid({ chain: { id: "chain-1", path: ["up", "mid"] } }), deps, log);

    expect(result).toEqual(["tail2"]);
    expect(await cascadedTo()).toEqual(["tail2"]);
    expect(logged(CAP_REACHED)).toEqual([expect.objectContaining({ level: ERROR, chain: "chain-1", cap: 4, left_out: ["tail", "jk2"] })]);
    expect(await redis().scard(CHAIN_KEY)).toBe(4);
  });

  /**
   * The cap counts distinct (chain, downstream project) triggers: a repeated report of one passing
   * run (a redelivered hook; a GitLab hook and a poll of the same pipeline; a retried job), a second
   * path to the same project, or two workers at the same step cost the chain nothing more, since the
   * trigger jobs are deduplicated by their ids anyway. `up` tags, `mid` runs; `a` and `b` cascade
   * from `mid`; `c` from both `a` and `b` (a diamond), `x` from `a`, `y` from `b`, `d` from `c`.
   */
  describe("counting each downstream project once per chain", () => {
    const DIAMOND = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
  - { id: mid, foundation: f, github: upco/mid, trigger: ${CI}, depends_on: [{ project: up }] }
  - { id: a, foundation: f, github: upco/a, trigger: ${CI}, depends_on: [{ project: mid, cascade: true }] }
  - { id: b, foundation: f, github: upco/b, trigger: ${CI}, depends_on: [{ project: mid, cascade: true }] }
  - { id: c, foundation: f, github: upco/c, trigger: ${CI}, depends_on: [{ project: a, cascade: true }, { project: b, cascade: true }] }
  - { id: x, foundation: f, github: upco/x, trigger: ${CI}, depends_on: [{ project: a, cascade: true }] }
  - { id: y, foundation: f, github: upco/y, trigger: ${CI}, depends_on: [{ project: b, cascade: true }] }
  - { id: d, foundation: f, github: upco/d, trigger: ${CI}, depends_on: [{ project: c, cascade: true }] }
`);
    const chainId = () => fromMid().runId;
    const chainKey = () => `{openci}:chain-downstreams:${chainId()}`;
    /** The trigger of a later step of mid's chain, reached along `path`. */
    const step = (...path: string[]) => triggerData(path[path.length - 1]!, { chain: { id: chainId(), path: ["up", "mid", ...path] } });
    const passed = (deliveryId: string): RunEvent => ({
      forge: "github", source: "workflow_run", repo: "upco/mid", runId: "901", title: "", state: "completed", conclusion: "success",
      webUrl: "https://github.com/upco/mid/actions/runs/901", deliveryId,
    });
    let others: Redis[] = [];
    /** The same deps on a connection of its own: another worker process. */
    const anotherWorker = () => {
      const other = redis().duplicate();
      others.push(other);
      return { ...deps, redis: other };
    };
    beforeEach(() => {
      map = DIAMOND;
      others = [];
    });
    afterEach(() => {
      for (const other of others) other.disconnect();
    });

    it("a passing run reported twice (a redelivered hook) costs nothing more: no false cap, and later steps keep their budget", async () => {
      deps = makeDeps({ limits: { perEvent: 100, perChain: 4 } });
      await triggered(fromMid(), "github", "upco/mid", { kind: "workflow_dispatch", runId: "901", webUrl: "https://github.com/upco/mid/actions/runs/901" });

      expect(await processRun(passed("w-1"), deps, log)).toEqual({ correlated: true });
      expect(await processRun(passed("w-2"), deps, log)).toEqual({ correlated: true });
      expect(await cascadedTo()).toEqual(["a", "b"]);
      expect(logged(ENQUEUED).map((l) => l.downstreams)).toEqual([["a", "b"], ["a", "b"]]);

      // a passes: c and x fill the cap of 4 exactly (a, b, c, x)
      expect(await cascadeFrom(step("a"), deps, log)).toEqual(["c", "x"]);
      expect(await cascadedTo()).toEqual(["a", "b", "c", "x"]);
      expect(logged(CAP_REACHED)).toEqual([]);
      expect(logs.filter((l) => l.level >= ERROR)).toEqual([]);
      expect((await redis().smembers(chainKey())).sort()).toEqual(["a", "b", "c", "x"]);
    });

    it("a project reached along two paths of the chain is counted once; the cap still stops a new one", async () => {
      deps = makeDeps({ limits: { perEvent: 100, perChain: 5 } });

      expect(await cascadeFrom(fromMid(), deps, log)).toEqual(["a", "b"]);
      expect(await cascadeFrom(step("a"), deps, log)).toEqual(["c", "x"]);
      // b passes: c again (its job is the same one) and y fill the cap of 5 (a, b, c, x, y)
      expect(await cascadeFrom(step("b"), deps, log)).toEqual(["c", "y"]);
      expect(logged(CAP_REACHED)).toEqual([]);
      expect(await cascadedTo()).toEqual(["a", "b", "c", "x", "y"]);

      // c passes: d would be the sixth
      expect(await cascadeFrom(step("a", "c"), deps, log)).toEqual([]);
      expect(logged(CAP_REACHED)).toEqual([expect.objectContaining({ level: ERROR, chain: chainId(), cap: 5, left_out: ["d"] })]);
      expect(await cascadedTo()).toEqual(["a", "b", "c", "x", "y"]);
      expect(await redis().scard(chainKey())).toBe(5);
    });

    it("two workers cascading the same passing run at once both queue its dependants, and neither reports the cap", async () => {
      deps = makeDeps({ limits: { perEvent: 100, perChain: 2 } });

      const results = await Promise.all([cascadeFrom(fromMid(), deps, log), cascadeFrom(fromMid(), anotherWorker(), log)]);

      expect(results).toEqual([["a", "b"], ["a", "b"]]);
      expect(await cascadedTo()).toEqual(["a", "b"]);
      expect(logged(CAP_REACHED)).toEqual([]);
      expect((await redis().smembers(chainKey())).sort()).toEqual(["a", "b"]);
    });

    it("two workers cascading two steps of one chain at once never exceed the cap in total, and leave out only what did not fit", async () => {
      deps = makeDeps({ limits: { perEvent: 100, perChain: 4 } });
      await cascadeFrom(fromMid(), deps, log);

      // a wants c and x, b wants c and y: room for two of c, x, y
      const [fromA, fromB] = await Promise.all([cascadeFrom(step("a"), deps, log), cascadeFrom(step("b"), anotherWorker(), log)]);

      const queuedNow = new Set([...fromA, ...fromB]);
      expect(queuedNow.size).toBe(2);
      expect(queuedNow.has("c")).toBe(true);
      expect(await cascadedTo()).toEqual(["a", "b", ...[...queuedNow].sort()]);
      expect(await redis().scard(chainKey())).toBe(4);
      const capped = logged(CAP_REACHED);
      expect(capped).toHaveLength(1);
      expect(capped[0]).toEqual(expect.objectContaining({ level: ERROR, chain: chainId(), cap: 4 }));
      expect(capped[0]!.left_out).toEqual([["x", "y"].find((p) => !queuedNow.has(p))]);
    });
  });
});

describe("processRun: which hooks and runs are taken", () => {
  it("ignores, and says so, a pipeline hook from the default GitLab instance for a project on another one", async () => {
    const data = triggerData("gl");
    await triggered(data, "gitlab", "grp/gl", { kind: "pipeline", runId: "55", webUrl: "https://gitlab.example.org/grp/gl/-/pipelines/55" });
    const hook: RunEvent = {
      forge: "gitlab", source: "pipeline_hook", repo: "grp/gl", runId: "55", title: "", state: "completed", conclusion: "success", webUrl: "", deliveryId: "h-1",
    };

    const result = await processRun(hook, deps, log);

    expect(result).toEqual({ correlated: false });
    expect(forge.count("runStatus")).toBe(0);
    expect(await checkOf("gl")).toBeUndefined();
    expect(logged("pipeline hook from another GitLab instance than the triggered project's: ignored")).toEqual([
      expect.objectContaining({ level: WARN, downstream: "gl", host: "(default)", expected: "gitlab.example.org" }),
    ]);
  });

  it("ignores, and says so, a Jenkins notification from another server than the triggered job's", async () => {
    const data = triggerData("jk");
    await triggered(data, "jenkins", "a", { kind: "build", runId: "queue:7", webUrl: "https://j.example.org/job/a/" });
    const notification: RunEvent = {
      forge: "jenkins", source: "notification", repo: "a", host: "https://other.example.org", runId: "queue:7", title: "",
      state: "completed", conclusion: "success", webUrl: "", deliveryId: "n-1",
    };

    const result = await processRun(notification, deps, log);

    expect(result).toEqual({ correlated: false });
    expect(forge.count("runStatus")).toBe(0);
    expect(await checkOf("jk")).toBeUndefined();
    expect(logged("Jenkins notification from another server than the triggered job's: ignored")).toEqual([
      expect.objectContaining({ level: WARN, downstream: "jk", host: "https://other.example.org", expected: "https://j.example.org" }),
    ]);
  });

  describe("a run found by the relay run id in its title (a trigger that got no run id back)", () => {
    const titled = (data: TriggerJob, workflow?: RunEvent["workflow"]): RunEvent => ({
      forge: "github", source: "workflow_run", repo: "upco/lone", runId: "900", title: `CI for ${data.runId}`, state: "completed", conclusion: "success",
      webUrl: "https://github.com/upco/lone/actions/runs/900", createdAt: new Date().toISOString(), deliveryId: "w-1", ...(workflow ? { workflow } : {}),
    });
    const MISFIT = "run names a relay run id but does not fit its trigger: ignored";

    it("is ignored when it names no workflow, and the log says why", async () => {
      const data = triggerData("lone");
      await triggered(data, "github", "upco/lone", { kind: "workflow_dispatch", runId: undefined, webUrl: "https://github.com/upco/lone/actions" });

      const result = await processRun(titled(data), deps, log);

      expect(result).toEqual({ correlated: false });
      expect(await checkOf("lone")).toBeUndefined();
      expect(logged(MISFIT)).toEqual([expect.objectContaining({ level: WARN, repo: "upco/lone", runId: "900", relayRunId: data.runId, reason: "no workflow named" })]);
    });

    it("is ignored when the map no longer says which workflow was triggered, and the log says so", async () => {
      const data = triggerData("lone");
      await triggered(data, "github", "upco/lone", { kind: "workflow_dispatch", runId: undefined, webUrl: "https://github.com/upco/lone/actions" });
      map = parseMap(MAP_TEXT.replace(/\n {2}- \{ id: lone, .*\n/, "\n"));

      const result = await processRun(titled(data, { path: ".github/workflows/ci.yml", id: 5, event: "workflow_dispatch" }), deps, log);

      expect(result).toEqual({ correlated: false });
      expect(logged(MISFIT)).toEqual([
        expect.objectContaining({ relayRunId: data.runId, reason: "a run of .github/workflows/ci.yml, not of the triggered workflow" }),
      ]);
    });
  });
});

describe("processPoll: a run no webhook reports", () => {
  const pipeline = (runId: string): TriggerResult => ({ kind: "pipeline", runId, webUrl: `https://gitlab.example.org/grp/gl/-/pipelines/${runId}` });

  it("reads a run whose check is not recorded, shows it, records it as polled, and looks again later", async () => {
    const data = triggerData("gl");
    await triggered(data, "gitlab", "grp/gl", pipeline("55"));
    forge.runStates["55"] = runState("in_progress");

    const result = await processPoll({ relayRunId: data.runId, round: 1 }, deps, log);

    expect(result).toEqual({ done: false });
    expect(await checkOf("gl")).toMatchObject({ status: "in_progress", externalId: data.runId });
    expect((await runRecords()).map((r) => [r.downstream, r.runId, r.state, r.source])).toEqual([["gl", "55", "in_progress", "poll"]]);
    expect(await queued("poll")).toEqual([{ relayRunId: data.runId, round: 2 }]);
  });

  it("goes on reading its own run when the shared check was completed by another trigger's run (two tags, one commit)", async () => {
    const first = triggerData("gl");
    const second = triggerData("gl", { upstream: upstreamRef({ tag: "v1.0.0-final" }) });
    await triggered(first, "gitlab", "grp/gl", pipeline("55"));
    await triggered(second, "gitlab", "grp/gl", pipeline("56"));
    forge.runStates["55"] = runState("completed", "success");
    forge.runStates["56"] = runState("in_progress");
    expect(await processPoll({ relayRunId: first.runId, round: 1 }, deps, log)).toEqual({ done: true });
    expect(await checkOf("gl", second.upstream)).toMatchObject({ status: "completed", externalId: first.runId });

    const result = await processPoll({ relayRunId: second.runId, round: 1 }, deps, log);

    expect(result).toEqual({ done: false });
    expect(forge.calls.filter((c) => c.op === "runStatus").map((c) => c.runId)).toEqual(["55", "56"]);
    expect((await runRecords()).map((r) => [r.run, r.state])).toEqual([[first.runId, "completed"], [second.runId, "in_progress"]]);
  });
});

describe("processTimeout", () => {
  it("records a GitHub downstream's timed-out run even when its trigger record is gone", async () => {
    const data = triggerData("lone");

    const result = await processTimeout({ trigger: data, timeout: "6h" }, deps, log);

    expect(result).toEqual({ timedOut: true });
    expect(await checkOf("lone")).toMatchObject({ status: "completed", conclusion: "timed_out" });
    expect((await runRecords()).map((r) => [r.downstream, r.forge, r.state, r.conclusion, r.source])).toEqual([["lone", "github", "completed", "timed_out", "timeout"]]);
  });
});

describe("processReport", () => {
  /** The job as the report worker hands it over: its name and data (and the BullMQ call the check lock may make). */
  const job = (name: string, key: string): Job => ({ name, data: { checkKey: key }, moveToDelayed: async () => undefined }) as unknown as Job;
  const report = (name: string, key: string) => processReport(job(name, key), undefined, deps, log);
  const commitKey = () => CommitViews.keyFor(targetOf(upstreamRef()));
  const checkKeyOf = (data: TriggerJob) => checkKey({ upstream: data.upstream, sha: SHA, name: data.checkName });
  const queuedCheck = async (downstreamId: string) => {
    const data = triggerData(downstreamId);
    await publishCheck(deps, data, queuedReport(data.upstream, map.project(downstreamId)!, data.runId));
    return data;
  };
  const finished = async (downstreamId: string, conclusion: "success" | "failure") => {
    const data = triggerData(downstreamId);
    const run = { runId: "77", webUrl: "https://github.com/x/actions/runs/77", state: "completed" as const, conclusion, startedAt: ISO, updatedAt: ISO, failedJobs: ["build"] };
    await publishCheck(deps, data, runReport(data.upstream, map.project(downstreamId)!, data.runId, run));
    return data;
  };

  describe("a push that fails for the last time, with a settle time (pushes join later states)", () => {
    const SETTLE = 40;
    /** Takes the sync push of `key` from the report queue as a worker would (its delay past), leaving the views' pushes done. */
    const takeSync = async (worker: Worker, key: string): Promise<{ job: Job; token: string }> => {
      await new Promise((r) => setTimeout(r, SETTLE * 3));
      for (let n = 0; n < 5; n++) {
        const token = `t${n}`;
        const next = (await worker.getNextJob(token)) as Job | undefined;
        if (!next) break;
        if (next.name === "sync" && next.data.checkKey === key) return { job: next, token };
        await next.moveToCompleted("not this test's", token, false);
      }
      throw new Error(`no sync push of ${key} to take`);
    };
    const pendingSyncs = async () => (await queues().report.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.name === "sync").map((j) => `${j.id} v${j.data.version}`);

    it.each([
      ["the last attempt, a later state joined it: that state gets a push of its own", 9, true, ["report-KEY-2 v2"], 1],
      ["an attempt with retries left: nothing more (its own retry will write the latest)", 3, true, ["report-KEY-1 v1"], 0],
      ["the last attempt, nothing joined it: nothing more", 9, false, [], 0],
    ] as const)("%s", async (_what, attemptsMade, joined, expected, carried) => {
      const settled = { ...deps, reportSettleMs: SETTLE };
      const data = triggerData("mid");
      const key = checkKeyOf(data);
      await publishCheck(settled, data, queuedReport(data.upstream, map.project("mid")!, data.runId));
      const connection = redis().duplicate({ maxRetriesPerRequest: null });
      // the relay's retry delay ("forge" backoff, workers/start.ts) stood in for by a minute
      const worker = new Worker("report", null, { connection, prefix: KEY_PREFIX, autorun: false, settings: { backoffStrategy: () => 60_000 } });
      try {
        const { job, token } = await takeSync(worker, key);
        if (joined) await publishCheck(settled, data, { ...queuedReport(data.upstream, map.project("mid")!, data.runId), status: "in_progress", title: "dispatched" });
        forge.fail("reportStatus", httpError(502));
        job.attemptsMade = attemptsMade;

        const error = await rejection(processReport(job, token, settled, log));
        await job.moveToFailed(error, token, false);

        expect(error.message).toMatch(/502/);
        expect(await pendingSyncs()).toEqual(expected.map((e) => e.replace("KEY", key)));
        expect(logged("upstream push failed for good: its latest state is queued to be written on its own")).toHaveLength(carried);
      } finally {
        await worker.close();
        connection.disconnect();
      }
    });
  });

  describe("a downstream's own check (sync)", () => {
    it("writes a check once: again with nothing new, it writes nothing and says it is current", async () => {
      const data = await queuedCheck("mid");

      const first = await report("sync", checkKeyOf(data));
      const again = await report("sync", checkKeyOf(data));

      expect(forge.statuses.map((s) => [s.report.name, s.report.status, s.remoteId])).toEqual([["openci: mid", "queued", undefined]]);
      expect(first).toBe(forge.statuses[0]!.id);
      expect(again).toBe("current");
    });

    it("writes nothing, and says it is current, for a check not recorded (expired)", async () => {
      const result = await report("sync", checkKeyOf(triggerData("mid")));

      expect(result).toBe("current");
      expect(forge.statuses).toEqual([]);
    });
  });

  describe("the commit's roll-up", () => {
    it("is written once: again with nothing new, it writes nothing and says it is current", async () => {
      await queuedCheck("mid");

      const first = await report("rollup", commitKey());
      const again = await report("rollup", commitKey());

      expect(forge.statuses.map((s) => [s.report.name, s.report.title])).toEqual([["openci", "0 of 1 downstreams passed, 1 still running"]]);
      expect(first).toBe(forge.statuses[0]!.id);
      expect(again).toBe("current");
    });

    it("writes nothing, and says it is current, for a commit that has none", async () => {
      expect(await report("rollup", commitKey())).toBe("current");
      expect(forge.statuses).toEqual([]);
    });

    it("is rewritten without a downstream that turned private since it was shown", async () => {
      const data = await queuedCheck("ext");
      await report("rollup", commitKey());
      expect(forge.statuses[0]!.report.summary).toContain("ext");
      visibilities.ext = "private";
      await finished("ext", "success");

      await report("rollup", commitKey());

      expect(forge.statuses.map((s) => [s.remoteId, s.report.title])).toEqual([
        [undefined, "0 of 1 downstreams passed, 1 still running"],
        [forge.statuses[0]!.id, "No downstream is shown on this commit"],
      ]);
      expect(forge.statuses[1]!.report.summary).not.toContain("ext");
      expect(await deps.checks.get(checkKeyOf(data))).toMatchObject({ report: { status: "completed" } });
    });

    it("shows a check an older relay recorded, from before checks said what they are about (30 days after an upgrade)", async () => {
      // The hash as the relay wrote it before e5a4924 ("who may be shown is decided again at every push"): no `about` field.
      const old = triggerData("tail");
      const target = targetOf(old.upstream);
      await redis().hset(`{openci}:check:${checkKeyOf(old)}`, {
        order: "1", target: JSON.stringify(target), report: JSON.stringify(queuedReport(old.upstream, map.project("tail")!, old.runId)), version: "1",
      });
      await deps.views.enroll(target, [checkKeyOf(old)]);
      await queuedCheck("mid");

      await report("rollup", commitKey());

      expect(forge.statuses.map((s) => s.report.title)).toEqual(["0 of 2 downstreams passed, 2 still running"]);
      expect(forge.statuses[0]!.report.summary).toContain("tail");
    });

    it("fails, to be retried, with what it was writing when the forge fails (a 5xx)", async () => {
      await queuedCheck("mid");
      forge.fail("reportStatus", httpError(502));

      const error = await rejection(report("rollup", commitKey()));

      expect(error).toMatchObject({ kind: "transient", message: "updating the upstream check: 502 Bad Gateway" });
    });
  });

  describe("the commit's failure comment", () => {
    it("fails, to be retried, with what it was writing when the forge fails (a 5xx)", async () => {
      await finished("mid", "failure");
      forge.fail("upsertComment", httpError(502));

      const error = await rejection(report("comment", commitKey()));

      expect(error).toMatchObject({ kind: "transient", message: "updating the upstream comment: 502 Bad Gateway" });
    });

    it("is written, where the upstream's map entry says (auto by default), when a downstream fails", async () => {
      await finished("mid", "failure");

      await report("comment", commitKey());

      expect(forge.comments.map((c) => [c.mode, c.body.includes("1 of 1 downstream")])).toEqual([["auto", true]]);
    });
  });
});

describe("processRun: what it reports, and what it says when it does not", () => {
  const MISFIT = "run names a relay run id but does not fit its trigger: ignored";
  const CI_RUN = { path: ".github/workflows/ci.yml", id: 5, event: "workflow_dispatch" };
  /** A GitHub Actions run in `upco/lone` (run 900 unless told). */
  const run = (o: Partial<RunEvent> = {}): RunEvent => ({
    forge: "github", source: "workflow_run", repo: "upco/lone", runId: "900", title: "", state: "completed", conclusion: "success",
    webUrl: "https://github.com/upco/lone/actions/runs/900", createdAt: new Date().toISOString(), deliveryId: "w-1", ...o,
  });
  const titled = (data: TriggerJob, o: Partial<RunEvent> = {}) => run({ title: `CI for ${data.runId}`, workflow: CI_RUN, ...o });
  const noRunId = (kind: TriggerResult["kind"] = "workflow_dispatch"): TriggerResult => ({ kind, runId: undefined, webUrl: "https://github.com/upco/lone/actions" });
  const dispatched = (runId: string): TriggerResult => ({ kind: "workflow_dispatch", runId, webUrl: `https://github.com/upco/lone/actions/runs/${runId}` });

  it("answers not correlated, and says so at debug level, for a run the relay did not start", async () => {
    const result = await processRun(run({ title: "CI on main" }), deps, log);

    expect(result).toEqual({ correlated: false });
    expect(logged("run not started by the relay")).toEqual([expect.objectContaining({ level: DEBUG, repo: "upco/lone", runId: "900" })]);
  });

  it("answers not correlated for a run naming a relay run id whose trigger is not recorded (expired)", async () => {
    const data = triggerData("lone");

    const result = await processRun(titled(data), deps, log);

    expect(result).toEqual({ correlated: false });
    expect(logged("run not started by the relay")).toHaveLength(1);
  });

  it("reports a run it started, says so, and answers correlated", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", dispatched("900"));

    const result = await processRun(run(), deps, log);

    expect(result).toEqual({ correlated: true });
    expect(await checkOf("lone")).toMatchObject({ status: "completed", conclusion: "success" });
    expect(logged("downstream run reported upstream")).toEqual([
      expect.objectContaining({ level: INFO, downstream: "lone", runId: "900", state: "completed", conclusion: "success" }),
    ]);
  });

  it("reports nothing, and says so, for a run of a project no longer in the map", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", dispatched("900"));
    map = parseMap(MAP_TEXT.replace(/\n {2}- \{ id: lone, .*\n/, "\n"));

    const result = await processRun(run(), deps, log);

    expect(result).toEqual({ correlated: true });
    expect(await checkOf("lone")).toBeUndefined();
    expect(logged("run of a project no longer in the map: not reported")).toEqual([expect.objectContaining({ level: WARN, downstream: "lone" })]);
  });

  it("reports a failed run when its failing jobs and artifacts cannot be listed, and says which could not", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", dispatched("900"));
    forge.fail("failedJobs", httpError(502));
    forge.fail("runArtifacts", httpError(502));

    const result = await processRun(run({ conclusion: "failure" }), deps, log);

    expect(result).toEqual({ correlated: true });
    expect(await checkOf("lone")).toMatchObject({ status: "completed", conclusion: "failure" });
    expect((await runRecords()).map((r) => [r.conclusion, r.failedJobs, r.artifacts])).toEqual([["failure", [], []]]);
    expect(logged("could not list the failing jobs")).toEqual([expect.objectContaining({ level: WARN, err: expect.objectContaining({ message: "Bad Gateway" }) })]);
    expect(logged("could not list the run's artifacts")).toEqual([expect.objectContaining({ level: WARN, err: expect.objectContaining({ message: "Bad Gateway" }) })]);
  });

  it("says a hook came from another instance than the default one, for a project on GITLAB_URL's instance", async () => {
    map = parseMap(`${MAP_TEXT}  - { id: gld, foundation: f, gitlab: grp/gld, trigger: { ref: main }, depends_on: [{ project: up }] }\n`);
    const data = triggerData("gld");
    await triggered(data, "gitlab", "grp/gld", { kind: "pipeline", runId: "55", webUrl: "https://gitlab.com/grp/gld/-/pipelines/55" });
    const hook: RunEvent = {
      forge: "gitlab", source: "pipeline_hook", repo: "grp/gld", host: "gitlab.other.org", runId: "55", title: "", state: "completed", conclusion: "success",
      webUrl: "", deliveryId: "h-1",
    };

    expect(await processRun(hook, deps, log)).toEqual({ correlated: false });
    expect(forge.count("runStatus")).toBe(0);
    expect(logged("pipeline hook from another GitLab instance than the triggered project's: ignored")).toEqual([
      expect.objectContaining({ level: WARN, downstream: "gld", host: "gitlab.other.org", expected: "(default)" }),
    ]);
  });

  it("takes a Jenkins notification from the job's server however its URL is written (case, trailing slashes)", async () => {
    const data = triggerData("jk");
    await triggered(data, "jenkins", "a", { kind: "build", runId: "queue:7", webUrl: "https://j.example.org/job/a/" });
    forge.runStates["queue:7"] = runState("completed", "success");
    const notification: RunEvent = {
      forge: "jenkins", source: "notification", repo: "a", host: "https://J.Example.org//", runId: "queue:7", title: "",
      state: "completed", conclusion: "success", webUrl: "", deliveryId: "n-1",
    };

    const result = await processRun(notification, deps, log);

    expect(result).toEqual({ correlated: true });
    expect(forge.calls.filter((c) => c.op === "runStatus").map((c) => c.runId)).toEqual(["queue:7"]);
    expect(await checkOf("jk")).toMatchObject({ status: "completed", conclusion: "success" });
  });

  it("ignores, and says why, a check suite whose check run naming the relay run id started before the trigger", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", noRunId());
    forge.suiteChecks["9"] = [{ label: `openci ${data.runId}`, startedAt: new Date(Date.now() - 10 * 60_000) }];

    const result = await processRun(run({ source: "check_suite", runId: "suite-9" }), deps, log);

    expect(result).toEqual({ correlated: false });
    expect(await checkOf("lone")).toBeUndefined();
    expect(logged(MISFIT)).toEqual([expect.objectContaining({
      level: WARN, repo: "upco/lone", runId: "suite-9", relayRunId: data.runId, reason: "its check run naming the relay run id started before the trigger",
    })]);
  });

  it("takes a run the forge dated exactly the allowed clock skew (2 min) before the trigger", async () => {
    const data = triggerData("lone");
    await deps.records.save({ trigger: data, forge: "github", downstreamRepo: "upco/lone", result: noRunId(), triggeredAt: "2030-01-01T00:02:00.000Z" });

    const result = await processRun(titled(data, { createdAt: "2030-01-01T00:00:00.000Z" }), deps, log);

    expect(result).toEqual({ correlated: true });
    expect(await checkOf("lone")).toMatchObject({ status: "completed", conclusion: "success" });
  });

  it("ignores, and says why, an undated run found by its title", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", noRunId());
    const { createdAt: _, ...undated } = titled(data);

    expect(await processRun(undated, deps, log)).toEqual({ correlated: false });
    expect(logged(MISFIT)).toEqual([expect.objectContaining({ relayRunId: data.runId, reason: "created before the trigger (or undated)" })]);
  });

  it("does not take a run found by its title for a trigger recorded on another system", async () => {
    const data = triggerData("lone");
    await triggered(data, "gitlab", "upco/lone", { kind: "pipeline", runId: undefined, webUrl: "https://gitlab.example.org/upco/lone/-/pipelines" });

    expect(await processRun(titled(data), deps, log)).toEqual({ correlated: false });
    expect(await checkOf("lone")).toBeUndefined();
  });

  it("does not take a run found by its title for a trigger that got its run id back", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", dispatched("55"));

    expect(await processRun(titled(data), deps, log)).toEqual({ correlated: false });
    expect(await checkOf("lone")).toBeUndefined();
    expect(await deps.records.byDownstreamRun("github", "upco/lone", "900")).toBeUndefined();
  });

  it("binds a trigger to the first run naming it; a second run naming it is ignored, and the log says so", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", noRunId());

    expect(await processRun(titled(data), deps, log)).toEqual({ correlated: true });
    const second = await processRun(titled(data, { runId: "901", webUrl: "https://github.com/upco/lone/actions/runs/901" }), deps, log);

    expect(second).toEqual({ correlated: false });
    expect(logged("run names a relay run id already bound to another run: ignored")).toEqual([
      expect.objectContaining({ level: WARN, repo: "upco/lone", runId: "901", relayRunId: data.runId }),
    ]);
  });

  it("ignores, and says why, a run started by another event than the dispatch", async () => {
    const byRepositoryDispatch = triggerData("lone");
    await triggered(byRepositoryDispatch, "github", "upco/lone", noRunId("repository_dispatch"));
    const byWorkflowDispatch = triggerData("lone", { upstream: upstreamRef({ tag: "v2.0.0" }) });
    await triggered(byWorkflowDispatch, "github", "upco/lone", noRunId());

    expect(await processRun(titled(byRepositoryDispatch, { workflow: { ...CI_RUN, event: "push" } }), deps, log)).toEqual({ correlated: false });
    expect(await processRun(titled(byWorkflowDispatch, { runId: "901", workflow: { ...CI_RUN, event: "push" } }), deps, log)).toEqual({ correlated: false });

    expect(logged(MISFIT).map((l) => [l.relayRunId, l.reason])).toEqual([
      [byRepositoryDispatch.runId, "started by push, not repository_dispatch"],
      [byWorkflowDispatch.runId, "started by push, not workflow_dispatch"],
    ]);
  });

  it("ignores, and says why, a run of another workflow than the triggered one", async () => {
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", noRunId());

    const result = await processRun(titled(data, { workflow: { path: ".github/workflows/other.yml", id: 6, event: "workflow_dispatch" } }), deps, log);

    expect(result).toEqual({ correlated: false });
    expect(await checkOf("lone")).toBeUndefined();
    expect(logged(MISFIT)).toEqual([expect.objectContaining({ relayRunId: data.runId, reason: "a run of .github/workflows/other.yml, not of ci.yml" })]);
  });

  it("takes no run for a trigger whose workflow the map no longer names, even one whose workflow path names no file", async () => {
    // A synthetic path (GitHub always sends a file): with no workflow wanted, only the `wanted !== ""` guard refuses it.
    const data = triggerData("lone");
    await triggered(data, "github", "upco/lone", noRunId());
    map = parseMap(MAP_TEXT.replace(/\n {2}- \{ id: lone, .*\n/, "\n"));

    const result = await processRun(titled(data, { workflow: { path: ".github/workflows/", event: "workflow_dispatch" } }), deps, log);

    expect(result).toEqual({ correlated: false });
    expect(await deps.records.byDownstreamRun("github", "upco/lone", "900")).toBeUndefined();
    expect(logged(MISFIT)).toEqual([expect.objectContaining({ relayRunId: data.runId, reason: "a run of .github/workflows/, not of the triggered workflow" })]);
  });
});

describe("processTimeout: what it records and says", () => {
  it("times out a GitLab run with its trigger record: the history names the system, repository, run and link, and the log says so", async () => {
    const data = triggerData("gl");
    await triggered(data, "gitlab", "grp/gl", { kind: "pipeline", runId: "55", webUrl: "https://gitlab.example.org/grp/gl/-/pipelines/55" });
    const running = { runId: "55", webUrl: "https://gitlab.example.org/grp/gl/-/pipelines/55", state: "in_progress" as const, startedAt: ISO, updatedAt: ISO, failedJobs: [] };
    await publishCheck(deps, data, runReport(data.upstream, map.project("gl")!, data.runId, running));
    const detailsUrl = (await checkOf("gl"))!.detailsUrl;
    expect(detailsUrl).toBeDefined();

    const result = await processTimeout({ trigger: data, timeout: "6h" }, deps, log);

    expect(result).toEqual({ timedOut: true });
    expect((await runRecords()).map((r) => [r.downstream, r.forge, r.repo, r.runId, r.conclusion, r.url])).toEqual([["gl", "gitlab", "grp/gl", "55", "timed_out", detailsUrl]]);
    expect(logged("downstream did not report in time")).toEqual([expect.objectContaining({ level: WARN, downstream: "gl", timeout: "6h" })]);
  });

  it("does nothing, says nothing and records nothing for an older attempt's timeout once a re-run owns the check", async () => {
    const rerun = triggerData("lone", { attempt: 1 });
    await publishCheck(deps, rerun, queuedReport(rerun.upstream, map.project("lone")!, rerun.runId));

    const result = await processTimeout({ trigger: triggerData("lone"), timeout: "6h" }, deps, log);

    expect(result).toEqual({ timedOut: false });
    expect(await checkOf("lone")).toMatchObject({ status: "queued" });
    expect(await runRecords()).toEqual([]);
    expect(logged("downstream did not report in time")).toEqual([]);
  });
});

describe("processReport: a write only a person can fix", () => {
  const commitKey = () => CommitViews.keyFor(targetOf(upstreamRef()));

  it("fails the job once, unretried, with the forge's refusal, and logs it", async () => {
    const data = triggerData("mid");
    await publishCheck(deps, data, queuedReport(data.upstream, map.project("mid")!, data.runId));
    forge.fail("reportStatus", httpError(403, "Resource not accessible by integration"));

    const error = await rejection(processReport({ name: "rollup", data: { checkKey: commitKey() }, moveToDelayed: async () => undefined } as unknown as Job, undefined, deps, log));

    // A 403 from the reporter carries no hint here (reporters attach theirs); the job fails with the classified message.
    expect(error.name).toBe("UnrecoverableError");
    expect(error.message).toBe("updating the upstream check: 403 Resource not accessible by integration");
    expect(logged("upstream report cannot be written")).toEqual([expect.objectContaining({
      level: ERROR, err: expect.objectContaining({ type: "ForgeError", kind: "config", message: expect.stringMatching(/^updating the upstream check: 403 Resource not accessible by integration/) }),
    })]);
  });
});
