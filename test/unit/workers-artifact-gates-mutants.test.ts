/**
 * The two polled gates in-process against a real Redis: `startArtifactGates` and `processArtifactGate`
 * (an `after_artifacts` edge waits until its upstream release's artifacts are published) and
 * `scheduleGatePoll` / `processGatePoll` (an `after_check` gate on a check no hook reports, a Gerrit
 * project's Zuul pipeline), wired as src/relay.ts wires the workers (test/helpers/worker-deps.ts).
 * Written to kill the mutants of src/workers/{artifact-gate,gate-poll}.ts
 * (`npm run test:mutation -- workers-artifact-gates`, TESTING.md): the end-to-end files
 * (e2e/artifact-gates, e2e/zuul-gate) take seconds a test and skip the backoffs they would check.
 *
 * The stand-ins are the outside world's side only: the registries (`MemoryRegistry`, registered in
 * the real `ArtifactRegistries` by package type, answering as the `Artifacts` role documents) and the
 * upstream's CI (`MemoryChecks`, the `Checks` role); failures are planted as HTTP errors or
 * `ForgeError`s. The backoffs and deadlines are decided on the clock, so `Date` alone is frozen
 * (jest's fake timers with every timer left real): Redis, BullMQ and ioredis run on real time.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from "@jest/globals";
import type { Logger } from "pino";
import { ArtifactRegistries, type ArtifactPublication, type Artifacts } from "../../src/artifacts/artifacts.js";
import { artifactForTag, formatPurl, parseArtifact, PurlError, type ArtifactPurl } from "../../src/artifacts/purl.js";
import { ForgeError } from "../../src/forge/errors.js";
import { Systems, type SystemDriver } from "../../src/forge/registry.js";
import type { CheckConclusion, Checks, Reporter } from "../../src/forge/roles.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap } from "../../src/map/load.js";
import { artifactChecks } from "../../src/metrics.js";
import type { ArtifactGateJob, GatePollJob, TriggerJob } from "../../src/queue/job-data.js";
import { checkKey, gatePollJobId } from "../../src/queue/job-ids.js";
import { artifactsMissingReport } from "../../src/report/artifact-text.js";
import { checkName, queuedReport } from "../../src/report/check-text.js";
import { publishCheck } from "../../src/report/publish.js";
import { processArtifactGate, startArtifactGates } from "../../src/workers/artifact-gate.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { processGatePoll, scheduleGatePoll } from "../../src/workers/gate-poll.js";
import { httpError, MemoryForge } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { capturedLog, ERROR, INFO, type LogLine, SHA, triggerData, upstreamRef, useWorkerQueues, WARN, workerDeps } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

const CI = "{ workflow: ci.yml, ref: main }";
const PYPI = "pkg:pypi/hello-lib@{version}";
const NPM = "pkg:npm/hello@{version}";

/**
 * `up` (upco/lib) releases a PyPI package and an npm package. `both` waits for all of them (the
 * default timeout, 6h), `one` for the PyPI package only, up to 2h; `plain` waits for nothing, `chk`
 * for the upstream's check `build` (`after_check`).
 */
const MAP_TEXT = `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib, artifacts: ["${PYPI}", "${NPM}"] }
  - { id: both, foundation: f, github: upco/both, trigger: ${CI}, depends_on: [{ project: up, after_artifacts: true }] }
  - { id: one, foundation: f, github: upco/one, trigger: ${CI}, depends_on: [{ project: up, after_artifacts: ["${PYPI}"], timeout: 2h }] }
  - { id: plain, foundation: f, github: upco/plain, trigger: ${CI}, depends_on: [{ project: up }] }
  - { id: chk, foundation: f, github: upco/chk, trigger: ${CI}, depends_on: [{ project: up, after_check: build }] }
`;
const MAP = parseMap(MAP_TEXT);
/** The same map after `both` left it. */
const WITHOUT_BOTH = parseMap(MAP_TEXT.split("\n").filter((l) => !l.includes("id: both")).join("\n"));

/** v1.0.0's artifacts, as the gate names them ({version}: the tag less its leading v). */
const PYPI_1 = "pkg:pypi/hello-lib@1.0.0";
const NPM_1 = "pkg:npm/hello@1.0.0";
const DIGESTS = {
  [PYPI_1]: [{ name: "hello_lib-1.0.0.tar.gz", digest: `sha256:${"a".repeat(64)}` }],
  [NPM_1]: [{ digest: `sha512-${"b".repeat(86)}==` }],
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Registries held in memory, one per package type, as the `Artifacts` role answers: published with
 * the registry's digests, missing (with what the registry said), or a thrown error. Every question kept.
 */
class MemoryRegistry implements Artifacts {
  readonly asked: string[] = [];
  answers: Record<string, ArtifactPublication | Error> = {};

  async published(purl: ArtifactPurl): Promise<ArtifactPublication> {
    const key = formatPurl(purl);
    this.asked.push(key);
    const answer = this.answers[key] ?? { published: false };
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** The upstream's CI as the gate reads it (a Zuul tenant): a check's state by repository, commit, name and ref. */
class MemoryChecks implements Checks {
  readonly asked: string[] = [];
  states: Record<string, { completed: boolean; conclusion: CheckConclusion | undefined } | Error> = {};

  async checkState(repo: string, sha: string, name: string, ref?: string) {
    const key = `${repo}@${sha}/${name}@${ref ?? ""}`;
    this.asked.push(key);
    const state = this.states[key];
    if (state instanceof Error) throw state;
    return state;
  }

  async checksPassed(): Promise<"passed"> {
    return "passed";
  }
}

const BUILD = `upco/lib@${SHA}/build@v1.0.0`;

let registry: MemoryRegistry;
let zuul: MemoryChecks;
let logs: LogLine[];
let log: Logger;
let map: DependencyMap;
let deps: WorkerDeps;
/** The frozen clock of every test. */
const now = Date.parse("2031-05-06T07:08:09.000Z");

beforeEach(async () => {
  await redis().flushdb();
  // Only Date: every timer, tick and microtask stays real, for Redis and BullMQ.
  jest.useFakeTimers({
    doNotFake: ["hrtime", "nextTick", "performance", "queueMicrotask", "requestAnimationFrame", "cancelAnimationFrame", "requestIdleCallback",
      "cancelIdleCallback", "setImmediate", "clearImmediate", "setInterval", "clearInterval", "setTimeout", "clearTimeout"],
  });
  jest.setSystemTime(now);
  registry = new MemoryRegistry();
  zuul = new MemoryChecks();
  ({ log, lines: logs } = capturedLog());
  map = MAP;
  const forge = new MemoryForge();
  const github: SystemDriver = { source: () => forge, runner: () => forge, reporter: () => forge as unknown as Reporter, checks: () => zuul, pollsRuns: false, signsCheckHooks: true };
  deps = {
    ...workerDeps({ redis: redis(), queues: queues(), map: () => map, log, systems: new Systems({ github }, () => map), visibilityOf: () => "public" }),
    artifacts: new ArtifactRegistries({ pypi: registry, npm: registry }),
  };
});
afterEach(() => {
  jest.useRealTimers();
});

const iso = (ms: number) => new Date(ms).toISOString();

/** Every history record of a kind, oldest first. */
async function history(kind: HistoryRecord["kind"]): Promise<HistoryRecord[]> {
  const store = new HistoryStore(redis());
  return (await store.records(await store.recent(kind, 100))).map((r) => r.record).reverse();
}
const gateRecords = async () => (await history("gate")) as Extract<HistoryRecord, { kind: "gate" }>[];

/** The upstream check of a downstream, as the report worker would push it. */
async function checkOf(downstreamId: string) {
  const up = upstreamRef();
  return (await deps.checks.get(checkKey({ upstream: up, sha: up.sha, name: checkName(downstreamId) })))?.report;
}

/** The trigger queue's jobs of one name (trigger, artifacts, gate-poll), with their ids, data and options. */
async function queued<D>(name: string): Promise<{ id: string; data: D; opts: { delay?: number | undefined } }[]> {
  return (await queues().trigger.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.name === name) as unknown as { id: string; data: D; opts: { delay?: number } }[];
}

/** A check's text as a person reads it: without the word joiners neutralise.ts puts after each `@` (no mention). */
const readable = (text: string | undefined) => text?.replaceAll("\u2060", "");

const logged = (msg: string) => logs.filter((l) => l.msg === msg);

async function checksCounted(type: string, outcome: string): Promise<number> {
  return (await artifactChecks.get()).values.find((v) => v.labels.type === type && v.labels.outcome === outcome)?.value ?? 0;
}
async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const type of ["pypi", "npm"]) for (const outcome of ["published", "missing", "error"]) out[`${type}/${outcome}`] = await checksCounted(type, outcome);
  return out;
}
/** How the counters moved since `before` (only those that did). */
async function countedSince(before: Record<string, number>): Promise<Record<string, number>> {
  const after = await counts();
  return Object.fromEntries(Object.entries(after).filter(([k, v]) => v !== before[k]).map(([k, v]) => [k, v - before[k]!]));
}

/** `both`'s gate as startArtifactGates queued it: its first look. */
async function bothGate(o: Partial<TriggerJob> = {}): Promise<{ t: TriggerJob; job: ArtifactGateJob }> {
  const t = triggerData("both", o);
  expect(await startArtifactGates(deps, [t], log)).toEqual([]);
  const [first] = await queued<ArtifactGateJob>("artifacts");
  return { t, job: first!.data };
}

const publishedAs = (purl: keyof typeof DIGESTS): ArtifactPublication => ({ published: true, digests: DIGESTS[purl] });

describe("startArtifactGates: which triggers wait for artifacts", () => {
  it("gates a tag's trigger along an after_artifacts edge only; the others are handed back in order, to trigger now", async () => {
    const plain = triggerData("plain");
    const gated = triggerData("both");
    const cascade = triggerData("both", { runId: "r-cascade", chain: { id: "r-chain", path: ["up", "plain", "both"] } });
    const pullRequest = triggerData("both", { runId: "r-pr", upstream: upstreamRef({ tag: "pull/3" }) });
    const change = triggerData("both", { runId: "r-change", upstream: upstreamRef({ tag: "refs/changes/45/12345/2" }) });
    const passed = triggerData("both", { runId: "r-passed", artifacts: [{ purl: PYPI_1, digests: DIGESTS[PYPI_1] }] });
    const gone = triggerData("gone");
    const checkGated = triggerData("chk");

    const rest = await startArtifactGates(deps, [plain, cascade, gated, pullRequest, change, passed, gone, checkGated], log);

    expect(rest).toEqual([plain, cascade, pullRequest, change, passed, gone, checkGated]);
    expect((await queued("artifacts")).map((j) => j.id)).toEqual([`artifacts-${gated.runId}-0`]);
    expect(registry.asked).toEqual([]);
  });

  it("takes a gate that names no artifact for no gate (synthetic: the loader refuses such a map, so the map is held in memory)", async () => {
    const real = MAP.edge("up", "both")!;
    map = Object.assign(Object.create(MAP) as DependencyMap, {
      edge: (upstreamId: string, downstreamId: string) => (downstreamId === "both" ? { ...real, after_artifacts: [] } : MAP.edge(upstreamId, downstreamId)),
    });
    const t = triggerData("both");

    expect(await startArtifactGates(deps, [t], log)).toEqual([t]);
    expect(await queued("artifacts")).toEqual([]);
    expect(await gateRecords()).toEqual([]);
  });

  it("shows the wait on the upstream check, records it, and queues the first look with the edge's deadline (6h by default)", async () => {
    const t = triggerData("both");

    expect(await startArtifactGates(deps, [t], log)).toEqual([]);

    const check = await checkOf("both");
    expect(check).toMatchObject({ status: "queued", title: "Waiting for artifacts: 0 of 2 published", externalId: t.runId });
    expect(readable(check?.summary)).toContain("looked for up to 6h (the edge's timeout)");
    expect(readable(check?.summary)).toContain(`- **missing**: \`${PYPI_1}\``);
    expect(readable(check?.summary)).toContain(`- **missing**: \`${NPM_1}\``);
    expect((await gateRecords()).map((r) => [r.downstream, r.run, r.check, r.decision, r.artifacts, r.reason])).toEqual([
      ["both", t.runId, "after_artifacts", "waiting", [{ purl: PYPI_1, published: false }, { purl: NPM_1, published: false }], undefined],
    ]);
    const jobs = await queued<ArtifactGateJob>("artifacts");
    expect(jobs.map((j) => [j.id, j.data, j.opts.delay ?? 0])).toEqual([
      [`artifacts-${t.runId}-0`, { trigger: t, artifacts: [PYPI_1, NPM_1], deadline: iso(now + 6 * HOUR), timeout: "6h", round: 0, seen: 0 }, 0],
    ]);
    expect(logged("artifact gate: waiting for the release's artifacts")).toEqual([
      expect.objectContaining({ level: INFO, downstream: "both", artifacts: [PYPI_1, NPM_1], timeout: "6h" }),
    ]);
    expect(await queued("trigger")).toEqual([]);
  });

  it("waits only for the artifacts the edge lists, up to the edge's own timeout", async () => {
    const t = triggerData("one");

    await startArtifactGates(deps, [t], log);

    expect(readable((await checkOf("one"))?.summary)).toContain("looked for up to 2h (the edge's timeout)");
    expect((await queued<ArtifactGateJob>("artifacts")).map((j) => j.data)).toEqual([
      { trigger: t, artifacts: [PYPI_1], deadline: iso(now + 2 * HOUR), timeout: "2h", round: 0, seen: 0 },
    ]);
  });

  it("is safe to repeat: the same first look and the same record", async () => {
    const t = triggerData("both");

    await startArtifactGates(deps, [t], log);
    await startArtifactGates(deps, [t], log);

    expect((await queued("artifacts")).map((j) => j.id)).toEqual([`artifacts-${t.runId}-0`]);
    expect((await gateRecords()).map((r) => r.decision)).toEqual(["waiting"]);
  });

  it("skips, at once and saying why, a dependant whose artifacts this tag cannot name (an npm version that is not semver); the next one still waits", async () => {
    const tag = "nightly";
    const upstream = upstreamRef({ tag });
    const both = triggerData("both", { upstream });
    const one = triggerData("one", { upstream });
    const plain = triggerData("plain", { upstream });
    // What purl.ts says about that tag and that artifact (not this worker's words).
    let named: PurlError | undefined;
    try {
      artifactForTag(parseArtifact(NPM), tag);
    } catch (err) {
      named = err as PurlError;
    }
    expect(named).toBeInstanceOf(PurlError);
    const reason = `the release's artifacts cannot be named: ${named!.message} (${named!.hint}).`;

    const rest = await startArtifactGates(deps, [both, one, plain], log);

    expect(rest).toEqual([plain]);
    expect((await gateRecords()).map((r) => [r.downstream, r.decision, r.conclusion, r.artifacts, r.reason])).toEqual([
      // the templates as the map writes them: this tag names no artifact
      ["both", "failed", "skipped", [{ purl: PYPI, published: false }, { purl: NPM, published: false }], reason],
      ["one", "waiting", undefined, [{ purl: "pkg:pypi/hello-lib@nightly", published: false }], undefined],
    ]);
    const check = await checkOf("both");
    expect(check).toMatchObject({ status: "completed", conclusion: "skipped", title: "Skipped: both (artifacts missing: 2 of 2)", externalId: both.runId });
    expect(readable(check?.summary)).toContain("Not triggered: the release's artifacts cannot be named:");
    expect((await queued("artifacts")).map((j) => j.id)).toEqual([`artifacts-${one.runId}-0`]);
    expect(logged("artifact gate: artifacts cannot be named for this tag, dependant skipped")).toEqual([
      expect.objectContaining({ level: WARN, downstream: "both", tag, reason }),
    ]);
  });
});

describe("processArtifactGate: one look at the registries", () => {
  it("while some are missing: asks each registry once, counts each answer, shows the new count, and looks again after 15 s", async () => {
    const { t, job } = await bothGate();
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    const before = await counts();

    const result = await processArtifactGate(job, deps, log);

    expect(result).toEqual({ decision: "waiting", published: 1 });
    expect(registry.asked).toEqual([PYPI_1, NPM_1]);
    expect(await countedSince(before)).toEqual({ "pypi/published": 1, "npm/missing": 1 });
    const check = await checkOf("both");
    expect(check).toMatchObject({ status: "queued", title: "Waiting for artifacts: 1 of 2 published" });
    expect(readable(check?.summary)).toContain(`- published: \`${PYPI_1}\``);
    expect(readable(check?.summary)).toContain(`- **missing**: \`${NPM_1}\``);
    expect((await queued<ArtifactGateJob>("artifacts")).filter((j) => j.id !== `artifacts-${t.runId}-0`).map((j) => [j.id, j.data, j.opts.delay])).toEqual([
      [`artifacts-${t.runId}-1`, { ...job, round: 1, seen: 1 }, 15_000],
    ]);
    expect(await queued("trigger")).toEqual([]);
    // Only the first look's waiting record: a look that changes nothing for good records nothing.
    expect((await gateRecords()).map((r) => r.decision)).toEqual(["waiting"]);
  });

  it("shows what the registry said of a missing artifact (yanked, …)", async () => {
    const { job } = await bothGate();
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    registry.answers[NPM_1] = { published: false, why: "deprecated: do not use" };

    await processArtifactGate(job, deps, log);

    expect(readable((await checkOf("both"))?.summary)).toContain(`- **missing**: \`${NPM_1}\` (deprecated: do not use)`);
  });

  it("rewrites the upstream check only when the count of published artifacts changed since the last look", async () => {
    const { job } = await bothGate();
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    await processArtifactGate(job, deps, log);
    const shown = await checkOf("both");
    // Next look: the same one published, the other one now "yanked": the same count, so the same check.
    registry.answers[NPM_1] = { published: false, why: "yanked" };

    const result = await processArtifactGate({ ...job, round: 1, seen: 1 }, deps, log);

    expect(result).toEqual({ decision: "waiting", published: 1 });
    expect(await checkOf("both")).toEqual(shown);
  });

  it.each([
    // [round, the deadline from now, the wait before the next look]
    ["doubles the wait each round", 2, 6 * HOUR, 60_000],
    ["never waits more than 5 minutes", 5, 6 * HOUR, 5 * MINUTE],
    ["never waits past the deadline", 3, 10_000, 10_000],
    ["looks once more just before the deadline", 0, 1, 1],
  ])("%s", async (_what, round, left, delay) => {
    const { t, job } = await bothGate();

    const result = await processArtifactGate({ ...job, round, deadline: iso(now + left) }, deps, log);

    expect(result).toEqual({ decision: "waiting", published: 0 });
    const next = (await queued<ArtifactGateJob>("artifacts")).find((j) => j.id === `artifacts-${t.runId}-${round + 1}`);
    expect([next?.data.round, next?.opts.delay]).toEqual([round + 1, delay]);
  });

  it.each([
    ["the first look: the tag → trigger latency is the relay's own", 0, true, 1],
    ["a later look: the wait for the registries is not counted as the relay's latency", 2, false, 3],
  ])("triggers once every artifact is published, with their digests, under the run id (%s)", async (_what, round, keepsReceivedAt, rounds) => {
    const receivedAt = iso(now - 5_000);
    const { t, job } = await bothGate({ receivedAt });
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    registry.answers[NPM_1] = publishedAs(NPM_1);
    const before = await counts();

    const result = await processArtifactGate({ ...job, round, seen: 1 }, deps, log);

    expect(result).toEqual({ decision: "passed", published: 2 });
    expect(await countedSince(before)).toEqual({ "pypi/published": 1, "npm/published": 1 });
    const { receivedAt: _dropped, ...withoutReceivedAt } = t;
    const artifacts = [{ purl: PYPI_1, digests: DIGESTS[PYPI_1] }, { purl: NPM_1, digests: DIGESTS[NPM_1] }];
    expect((await queued<TriggerJob>("trigger")).map((j) => [j.id, j.data])).toEqual([
      [t.runId, { ...(keepsReceivedAt ? t : withoutReceivedAt), artifacts }],
    ]);
    expect((await gateRecords()).map((r) => [r.decision, r.artifacts])).toEqual([
      ["waiting", [{ purl: PYPI_1, published: false }, { purl: NPM_1, published: false }]],
      ["passed", [{ purl: PYPI_1, published: true, digests: DIGESTS[PYPI_1] }, { purl: NPM_1, published: true, digests: DIGESTS[NPM_1] }]],
    ]);
    expect((await queued("artifacts")).map((j) => j.id)).toEqual([`artifacts-${t.runId}-0`]);
    expect(logged("artifact gate passed: trigger enqueued")).toEqual([
      expect.objectContaining({ level: INFO, downstream: "both", artifacts: [PYPI_1, NPM_1], rounds }),
    ]);
  });

  it("a registry that publishes with no digests: triggered with an empty list", async () => {
    const { t } = await bothGate();
    const job: ArtifactGateJob = { trigger: t, artifacts: [PYPI_1], deadline: iso(now + HOUR), timeout: "1h", round: 0, seen: 0 };
    registry.answers[PYPI_1] = { published: true, digests: [] };

    await processArtifactGate(job, deps, log);

    expect((await queued<TriggerJob>("trigger")).map((j) => j.data.artifacts)).toEqual([[{ purl: PYPI_1, digests: [] }]]);
  });

  it.each([
    ["one missing", [PYPI_1], 1, `${NPM_1} was not published within 6h (the edge's timeout).`, "Skipped: both (artifacts missing: 1 of 2)"],
    ["both missing", [], 0, `${PYPI_1}, ${NPM_1} were not published within 6h (the edge's timeout).`, "Skipped: both (artifacts missing: 2 of 2)"],
  ])("skips the dependant at the deadline, naming what is missing (%s)", async (_what, published, count, reason, title) => {
    const { t, job } = await bothGate();
    for (const purl of published) registry.answers[purl] = publishedAs(purl as keyof typeof DIGESTS);

    // The deadline is now, to the millisecond.
    const result = await processArtifactGate({ ...job, deadline: iso(now) }, deps, log);

    expect(result).toEqual({ decision: "failed", published: count });
    const check = await checkOf("both");
    expect(check).toMatchObject({ status: "completed", conclusion: "skipped", title, externalId: t.runId });
    expect(readable(check?.summary)).toContain(`Not triggered: ${reason.replace(/\)\.$/, "")}`);
    const failed = (await gateRecords()).filter((r) => r.decision === "failed");
    expect(failed.map((r) => [r.conclusion, r.reason, r.artifacts])).toEqual([
      ["skipped", reason, [PYPI_1, NPM_1].map((purl) => (published.includes(purl) ? { purl, published: true, digests: DIGESTS[purl as keyof typeof DIGESTS] } : { purl, published: false }))],
    ]);
    expect((await queued("artifacts")).map((j) => j.id)).toEqual([`artifacts-${t.runId}-0`]);
    expect(await queued("trigger")).toEqual([]);
    const missing = [PYPI_1, NPM_1].filter((p) => !published.includes(p));
    expect(logged("artifact gate failed: dependant skipped")).toEqual([expect.objectContaining({ level: WARN, downstream: "both", missing, reason })]);
  });

  it("skips at once when a registry cannot be asked at all (a 4xx): only a person can fix that", async () => {
    const { t, job } = await bothGate();
    registry.answers[NPM_1] = httpError(403, "Forbidden");
    const before = await counts();

    const result = await processArtifactGate(job, deps, log);

    const why = `checking ${NPM_1}: 403 Forbidden`;
    expect(result).toEqual({ decision: "failed", published: 0 });
    expect(await countedSince(before)).toEqual({ "pypi/missing": 1, "npm/error": 1 });
    expect((await gateRecords()).filter((r) => r.decision === "failed").map((r) => r.reason)).toEqual([`${NPM_1} cannot be checked: ${why}`]);
    const check = await checkOf("both");
    expect(check).toMatchObject({ status: "completed", conclusion: "skipped" });
    expect(readable(check?.summary)).toContain(`- **missing**: \`${NPM_1}\` (${why})`);
    expect((await queued("artifacts")).map((j) => j.id)).toEqual([`artifacts-${t.runId}-0`]);
    expect(logged("artifact gate: registry not answering, will look again")).toEqual([]);
  });

  it("names the first registry that cannot be asked, and each one's hint", async () => {
    const { job } = await bothGate();
    registry.answers[PYPI_1] = new ForgeError("PyPI refuses the relay", "config", { hint: "ask its admins" });
    registry.answers[NPM_1] = new ForgeError("npm wants a token", "config", { hint: "set NPM_TOKEN" });

    await processArtifactGate(job, deps, log);

    expect((await gateRecords()).filter((r) => r.decision === "failed").map((r) => r.reason)).toEqual([`${PYPI_1} cannot be checked: PyPI refuses the relay. ask its admins`]);
    const summary = readable((await checkOf("both"))?.summary);
    expect(summary).toContain(`- **missing**: \`${PYPI_1}\` (PyPI refuses the relay. ask its admins)`);
    expect(summary).toContain(`- **missing**: \`${NPM_1}\` (npm wants a token. set NPM_TOKEN)`);
  });

  it.each([
    ["a 5xx", httpError(502), `checking ${NPM_1}: 502 Bad Gateway`],
    ["a timeout with a hint, which does not apply to the next look", new ForgeError("npm: no answer in 10 s", "transient", { hint: "npm is slow" }), "npm: no answer in 10 s"],
  ])("only looks again later when a registry is not answering now (%s)", async (_what, error, message) => {
    const { t, job } = await bothGate();
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    registry.answers[NPM_1] = error;
    const before = await counts();

    const result = await processArtifactGate(job, deps, log);

    expect(result).toEqual({ decision: "waiting", published: 1 });
    expect(await countedSince(before)).toEqual({ "pypi/published": 1, "npm/error": 1 });
    expect(readable((await checkOf("both"))?.summary)).toContain(`- **missing**: \`${NPM_1}\` (not answered this time: ${message})`);
    expect((await queued("artifacts")).map((j) => j.id)).toContain(`artifacts-${t.runId}-1`);
    expect(logged("artifact gate: registry not answering, will look again")).toEqual([
      expect.objectContaining({ level: WARN, purl: NPM_1, err: expect.objectContaining({ message: expect.stringContaining(message) }) }),
    ]);
  });

  it("does nothing once this run's check has ended (skipped by an earlier look): the registries are not asked", async () => {
    const { t, job } = await bothGate();
    await publishCheck(deps, t, artifactsMissingReport(t.upstream, MAP.project("both"), "both", t.runId, [{ purl: NPM_1, published: false }], "gone"));
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    registry.answers[NPM_1] = publishedAs(NPM_1);

    const result = await processArtifactGate(job, deps, log);

    expect(result).toEqual({ decision: "failed", published: 0 });
    expect(registry.asked).toEqual([]);
    expect(await queued("trigger")).toEqual([]);
    expect((await gateRecords()).map((r) => r.decision)).toEqual(["waiting"]);
  });

  it.each([
    ["the check ended for another run of the downstream", async (t: TriggerJob) => {
      await publishCheck(deps, t, artifactsMissingReport(t.upstream, MAP.project("both"), "both", "another-run", [], "earlier"));
    }],
    ["the check is this run's, not ended", async (t: TriggerJob) => {
      await publishCheck(deps, t, queuedReport(t.upstream, MAP.project("both")!, t.runId));
    }],
    ["no check is stored", async () => {}],
  ])("goes on when %s", async (_what, before) => {
    const t = triggerData("both");
    await before(t);
    registry.answers[PYPI_1] = publishedAs(PYPI_1);
    registry.answers[NPM_1] = publishedAs(NPM_1);

    const result = await processArtifactGate({ trigger: t, artifacts: [PYPI_1, NPM_1], deadline: iso(now + HOUR), timeout: "1h", round: 0, seen: 0 }, deps, log);

    expect(result).toEqual({ decision: "passed", published: 2 });
    expect((await queued("trigger")).map((j) => j.id)).toEqual([t.runId]);
  });

  it("keeps looking for a downstream gone from the map, without writing its check (the trigger worker refuses it later)", async () => {
    const { t, job } = await bothGate();
    const shown = await checkOf("both");
    map = WITHOUT_BOTH;
    registry.answers[PYPI_1] = publishedAs(PYPI_1);

    const result = await processArtifactGate(job, deps, log);

    expect(result).toEqual({ decision: "waiting", published: 1 });
    expect(await checkOf("both")).toEqual(shown);
    expect((await queued("artifacts")).map((j) => j.id)).toContain(`artifacts-${t.runId}-1`);
  });
});

describe("scheduleGatePoll: when the gate looks at the upstream check again", () => {
  const poll = (o: Partial<GatePollJob> = {}): GatePollJob => ({
    forge: "github", repo: "upco/lib", sha: SHA, name: "build", ref: "v1.0.0", round: 0, deadline: iso(now + 6 * HOUR), ...o,
  });

  it.each([
    ["after 15 s at first", poll(), undefined, 15_000],
    ["twice as long each round", poll({ round: 2 }), undefined, 60_000],
    ["at most every 5 minutes", poll({ round: 6 }), undefined, 5 * MINUTE],
    ["never past the deadline", poll({ round: 3, deadline: iso(now + 7_000) }), undefined, 7_000],
    ["at once when the deadline has passed", poll({ deadline: iso(now - 1_000) }), undefined, 0],
    ["after the wait asked for", poll({ round: 4 }), 1_234, 1_234],
    ["after the wait asked for, but not past the deadline", poll({ deadline: iso(now + 500) }), 1_234, 500],
  ])("%s", async (_what, data, delayMs, delay) => {
    await scheduleGatePoll(deps, data, delayMs);

    expect((await queued<GatePollJob>("gate-poll")).map((j) => [j.id, j.data, j.opts.delay ?? 0])).toEqual([[gatePollJobId(data), data, delay]]);
  });
});

describe("processGatePoll: a look at an upstream check no hook reports", () => {
  const chk = () => triggerData("chk");
  const ORIGIN = { forge: "github" as const, repo: "upco/lib" };
  const poll = (o: Partial<GatePollJob> = {}): GatePollJob => ({
    forge: "github", repo: "upco/lib", sha: SHA, name: "build", ref: "v1.0.0", round: 0, deadline: iso(now + 6 * HOUR), ...o,
  });
  const waiting = () => deps.gates.peek(ORIGIN, SHA, "build");
  const nextLooks = async () => (await queued<GatePollJob>("gate-poll")).map((j) => [j.data.round, j.opts.delay ?? 0]);

  beforeEach(async () => {
    await deps.gates.wait(ORIGIN, SHA, "build", chk());
  });

  it("stops without asking when no trigger waits any more", async () => {
    await deps.gates.take(ORIGIN, SHA, "build");

    expect(await processGatePoll(poll(), deps, log)).toEqual({ done: true });
    expect(zuul.asked).toEqual([]);
    expect(await nextLooks()).toEqual([]);
  });

  it.each([
    ["still running", { completed: false, conclusion: undefined }],
    ["not started yet", undefined],
  ])("looks again later, twice as late, while the check is %s", async (_what, state) => {
    if (state) zuul.states[BUILD] = state;

    expect(await processGatePoll(poll(), deps, log)).toEqual({ done: false });
    expect(zuul.asked).toEqual([BUILD]);
    expect(await nextLooks()).toEqual([[1, 30_000]]);
    expect((await waiting()).map((t) => t.downstreamId)).toEqual(["chk"]);
  });

  it("opens the gate once the check succeeded: the trigger is queued, the gate taken, no look left", async () => {
    zuul.states[BUILD] = { completed: true, conclusion: "success" };

    expect(await processGatePoll(poll(), deps, log)).toEqual({ done: true });
    expect((await queued("trigger")).map((j) => j.id)).toEqual([chk().runId]);
    expect(await waiting()).toEqual([]);
    expect(await nextLooks()).toEqual([]);
    expect((await gateRecords()).map((r) => [r.downstream, r.check, r.decision, r.conclusion])).toEqual([["chk", "build", "passed", "success"]]);
  });

  it("skips the waiting dependant when the check ended without a conclusion (neutral)", async () => {
    zuul.states[BUILD] = { completed: true, conclusion: undefined };

    expect(await processGatePoll(poll(), deps, log)).toEqual({ done: true });
    expect(await queued("trigger")).toEqual([]);
    expect(await checkOf("chk")).toMatchObject({ status: "completed", conclusion: "skipped" });
    expect((await gateRecords()).map((r) => [r.downstream, r.decision, r.conclusion])).toEqual([["chk", "failed", "neutral"]]);
    expect(await nextLooks()).toEqual([]);
  });

  it("stops looking at the deadline (to the millisecond): the waiting dependant times out as any other", async () => {
    zuul.states[BUILD] = { completed: false, conclusion: undefined };

    expect(await processGatePoll(poll({ deadline: iso(now) }), deps, log)).toEqual({ done: true });
    expect(await nextLooks()).toEqual([]);
    expect((await waiting()).map((t) => t.downstreamId)).toEqual(["chk"]);
  });

  it("looks again later when the check cannot be read now (a 5xx), and says so", async () => {
    zuul.states[BUILD] = httpError(502);

    expect(await processGatePoll(poll({ round: 1 }), deps, log)).toEqual({ done: false });
    expect(await nextLooks()).toEqual([[2, 60_000]]);
    expect(logged("gate: cannot read the upstream check now; looking again later")).toEqual([
      expect.objectContaining({ level: WARN, repo: "upco/lib", gate: "build", err: "reading the upstream check build of upco/lib: 502 Bad Gateway" }),
    ]);
    expect(logged("gate: the upstream check cannot be read; the waiting downstreams will time out")).toEqual([]);
  });

  it("stops when the check cannot be read now and the deadline has passed", async () => {
    zuul.states[BUILD] = httpError(503);

    expect(await processGatePoll(poll({ deadline: iso(now - 1) }), deps, log)).toEqual({ done: true });
    expect(await nextLooks()).toEqual([]);
  });

  it.each([
    ["a 4xx", httpError(404), "reading the upstream check build of upco/lib: 404 Not Found", undefined],
    ["a wrong tenant, with the hint", new ForgeError("Zuul: no tenant openstack", "config", { hint: "check zuul.tenant in the map" }), "Zuul: no tenant openstack", "check zuul.tenant in the map"],
  ])("stops for good when the check can never be read (%s), and says so: the dependant times out", async (_what, error, message, hint) => {
    zuul.states[BUILD] = error;

    expect(await processGatePoll(poll(), deps, log)).toEqual({ done: true });
    expect(await nextLooks()).toEqual([]);
    expect((await waiting()).map((t) => t.downstreamId)).toEqual(["chk"]);
    const [line] = logged("gate: the upstream check cannot be read; the waiting downstreams will time out");
    expect(line).toMatchObject({ level: ERROR, repo: "upco/lib", gate: "build", err: message });
    expect(line?.hint).toBe(hint);
    expect(logged("gate: cannot read the upstream check now; looking again later")).toEqual([]);
  });
});
